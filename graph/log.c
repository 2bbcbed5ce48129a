/* graph/log.c - leveled logfmt lines on stderr.
 * Each line is formatted into one buffer and written with a single write(2),
 * so lines from concurrent threads never interleave. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graph/graph.h"

#define LOG_LINE_MAX 4096 /* a longer message is cut; logs must not allocate */

static atomic_int min_level = CINCY_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cincy_log_set_level(cincy_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int cincy_log_level_parse(cincy_log_level *out, const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (cincy_log_level)i;
            return CINCY_OK;
        }
    }
    if (strcmp(name, "warning") == 0) {
        *out = CINCY_LOG_WARN;
        return CINCY_OK;
    }
    return CINCY_EINVALID;
}

/* Appends text quoted for logfmt: backslash and quote escaped, control
 * characters (a newline in a YAML error, say) shown as spaces. */
static size_t append_quoted(char *buf, size_t pos, size_t cap, const char *s, size_t n)
{
    if (pos < cap)
        buf[pos++] = '"';
    for (size_t i = 0; i < n && pos + 2 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else {
            buf[pos++] = c < 0x20 ? ' ' : (char)c;
        }
    }
    if (pos < cap)
        buf[pos++] = '"';
    return pos;
}

void cincy_log(cincy_log_level level, const char *component, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    size_t pos;
    const char *extra;
    size_t msglen;

    if ((int)level < atomic_load(&min_level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pos = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos, ".%03ldZ level=%s component=%s msg=",
                            ts.tv_nsec / 1000000, level_names[level], component);
    extra = strchr(msg, '\t');
    msglen = extra ? (size_t)(extra - msg) : strlen(msg);
    pos = append_quoted(line, pos, sizeof(line) - 2, msg, msglen);
    if (extra) {
        size_t n = strlen(extra + 1);
        if (pos + n + 2 < sizeof(line)) {
            line[pos++] = ' ';
            memcpy(line + pos, extra + 1, n);
            pos += n;
        }
    }
    line[pos++] = '\n';
    (void)!write(STDERR_FILENO, line, pos);
}
