/* ingest/check_report.c - a graph-data check report: order, text, JSON.
 *
 * The text form is meant for people and editors: one "file:line: message"
 * a finding, the form compilers use, so editors can jump to it; errors read
 * exactly like the loader's "skipping ..." log lines. The JSON form is for
 * scripts (CI jobs of people who keep their own graph-data). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ingest_internal.h"

static int finding_cmp(const ingest_check_finding *a, const ingest_check_finding *b)
{
    int d = strcmp(a->file, b->file);

    if (d)
        return d;
    return (a->line > b->line) - (a->line < b->line);
}

/* Insertion sort: stable, so findings on one line keep the order they were
 * found in (field order in the file), and reports have a few hundred
 * findings at most. */
void ingest_check_report_sort(ingest_check_report *r)
{
    for (size_t i = 1; i < r->count; i++) {
        ingest_check_finding f = r->findings[i];
        size_t j = i;

        for (; j > 0 && finding_cmp(&r->findings[j - 1], &f) > 0; j--)
            r->findings[j] = r->findings[j - 1];
        r->findings[j] = f;
    }
}

void ingest_check_report_free(ingest_check_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++) {
        free(r->findings[i].file);
        free(r->findings[i].field);
        free(r->findings[i].message);
    }
    free(r->findings);
    free(r->dir);
    free(r);
}

/* ---------------------------------------------------------------------------
 * Text
 */

typedef struct text_buf {
    char *s;
    size_t len, cap;
    int oom;
} text_buf;

static void append(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(text_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

char *ingest_check_report_text(const ingest_check_report *r)
{
    text_buf b = {0};

    if (!(b.s = malloc(256)))
        return NULL;
    b.cap = 256;
    b.s[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        const ingest_check_finding *f = &r->findings[i];
        const char *sev = f->severity == INGEST_CHECK_WARNING ? "warning: " : "";

        if (f->line > 0)
            append(&b, "%s:%d: %s%s\n", f->file, f->line, sev, f->message);
        else
            append(&b, "%s: %s%s\n", f->file, sev, f->message);
    }
    append(&b, "%zu %s, %zu %s in %s\n", r->errors, plural(r->errors, "error", "errors"),
           r->warnings, plural(r->warnings, "warning", "warnings"), r->dir);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---------------------------------------------------------------------------
 * JSON
 */

/* Messages quote file contents, which need not be UTF-8; jansson refuses
 * such strings, so those are written with every non-ASCII byte as '?'. */
static json_t *string_value(const char *s)
{
    json_t *v = json_string(s);
    char *copy;

    if (v || !s)
        return v;
    if (!(copy = strdup(s)))
        return NULL;
    for (unsigned char *p = (unsigned char *)copy; *p; p++) {
        if (*p >= 0x80)
            *p = '?';
    }
    v = json_string(copy);
    free(copy);
    return v;
}

static json_t *finding_json(const ingest_check_finding *f)
{
    json_t *o = json_object();

    if (!o ||
        json_object_set_new(o, "severity",
                            json_string(f->severity == INGEST_CHECK_ERROR ? "error" : "warning")) ||
        json_object_set_new(o, "file", string_value(f->file)) ||
        json_object_set_new(o, "line", json_integer(f->line)) ||
        json_object_set_new(o, "field", f->field ? string_value(f->field) : json_null()) ||
        json_object_set_new(o, "message", string_value(f->message))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *ingest_check_report_json(const ingest_check_report *r)
{
    json_t *root = json_object(), *list = json_array();
    char *s = NULL, *out = NULL;
    size_t n;

    if (!root || !list)
        goto cleanup;
    for (size_t i = 0; i < r->count; i++) {
        if (json_array_append_new(list, finding_json(&r->findings[i])) < 0)
            goto cleanup;
    }
    if (json_object_set_new(root, "errors", json_integer((json_int_t)r->errors)) ||
        json_object_set_new(root, "warnings", json_integer((json_int_t)r->warnings)) ||
        json_object_set(root, "findings", list) ||
        !(s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        goto cleanup;
    n = strlen(s);
    if ((out = malloc(n + 2))) {
        memcpy(out, s, n);
        out[n] = '\n';
        out[n + 1] = '\0';
    }

cleanup:
    free(s);
    json_decref(list);
    json_decref(root);
    return out;
}
