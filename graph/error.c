/* graph/error.c - the cincy_error contract shared by every module.
 * Errors are written into a caller-owned struct and never allocate, so the
 * out-of-memory path can report itself. */
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"

int cincy_error_set(cincy_error *err, int code, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    err->code = code;
    snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
    err->line = line;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

const char *cincy_error_format(const cincy_error *err, char *buf, size_t size)
{
    if (!err) {
        snprintf(buf, size, "unknown error");
    } else if (err->file[0] && err->line > 0) {
        snprintf(buf, size, "%s:%d: %s", err->file, err->line, err->msg);
    } else if (err->file[0]) {
        snprintf(buf, size, "%s: %s", err->file, err->msg);
    } else {
        snprintf(buf, size, "%s", err->msg[0] ? err->msg : "unknown error");
    }
    return buf;
}

void cincy_error_clear(cincy_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}
