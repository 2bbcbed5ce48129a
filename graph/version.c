/* graph/version.c - semantic versions: parsing, precedence and formatting.
 * Follows SemVer 2.0 as the reference's semver 0.11 crate reads it: exactly
 * three numeric parts without leading zeros, optional -prerelease and +build,
 * surrounding whitespace tolerated, no "v" prefix. Build metadata never
 * affects precedence. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

/* Longest version text an error message quotes; a hostile file can carry a
 * megabyte "version", and the message must stay one readable line. */
#define VERSION_QUOTE_MAX 80

static int is_ident_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static int is_all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return 1;
}

static int version_error(cincy_error *err, const char *s, const char *why)
{
    size_t n = strlen(s);

    if (n > VERSION_QUOTE_MAX)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "'%.*s...' is not a valid version: %s",
                               VERSION_QUOTE_MAX, s, why);
    return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "'%s' is not a valid version: %s", s, why);
}

/* Reads one numeric part at *p: digits, no leading zero, at most UINT64_MAX.
 * Advances *p past it. Returns 0 or -1. */
static int parse_number(uint64_t *out, const char **p, const char *end)
{
    const char *s = *p;
    uint64_t v = 0;

    if (s == end || *s < '0' || *s > '9')
        return -1;
    if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')
        return -1; /* leading zero */
    while (s < end && *s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1; /* overflow */
        v = v * 10 + d;
        s++;
    }
    *out = v;
    *p = s;
    return 0;
}

/* Checks dot-separated identifiers in [s, end): non-empty, [0-9A-Za-z-];
 * when numeric_rule, numeric identifiers must not have leading zeros. */
static int valid_identifiers(const char *s, const char *end, int numeric_rule)
{
    if (s == end)
        return 0;
    while (s <= end) {
        const char *dot = s;
        while (dot < end && *dot != '.')
            dot++;
        size_t n = (size_t)(dot - s);
        if (n == 0)
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (!is_ident_char(s[i]))
                return 0;
        }
        if (numeric_rule && n > 1 && s[0] == '0' && is_all_digits(s, n))
            return 0;
        s = dot + 1;
    }
    return 1;
}

static char *dup_range(const char *s, const char *end)
{
    size_t n = (size_t)(end - s);
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

int graph_version_parse(graph_version *out, const char *s, cincy_error *err)
{
    static const char *const part_names[3] = {"major part", "minor part", "patch part"};
    const char *p = s, *end = s + strlen(s);
    const char *pre = NULL, *pre_end = NULL, *build = NULL;
    uint64_t parts[3];
    graph_version v;

    memset(out, 0, sizeof(*out));
    memset(&v, 0, sizeof(v));
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (p == end)
        return version_error(err, s, "empty");

    for (int i = 0; i < 3; i++) {
        if (parse_number(&parts[i], &p, end) < 0)
            return version_error(err, s, part_names[i]);
        if (i < 2) {
            if (p == end || *p != '.')
                return version_error(err, s, part_names[i + 1]);
            p++;
        }
    }
    if (p < end && *p == '-') {
        pre = ++p;
        while (p < end && *p != '+')
            p++;
        pre_end = p;
        if (!valid_identifiers(pre, pre_end, 1))
            return version_error(err, s, "pre-release");
    }
    if (p < end && *p == '+') {
        build = ++p;
        if (!valid_identifiers(build, end, 0))
            return version_error(err, s, "build metadata");
        p = end;
    }
    if (p != end)
        return version_error(err, s, "unexpected character after patch part");

    v.major = parts[0];
    v.minor = parts[1];
    v.patch = parts[2];
    if ((pre && !(v.pre = dup_range(pre, pre_end))) ||
        (build && !(v.build = dup_range(build, end)))) {
        graph_version_clear(&v);
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    *out = v;
    return CINCY_OK;
}

void graph_version_clear(graph_version *v)
{
    if (!v)
        return;
    free(v->pre);
    free(v->build);
    memset(v, 0, sizeof(*v));
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* Compares one pre-release identifier pair per SemVer 2 §11.4: numeric ones
 * numerically (they carry no leading zeros, so length then bytes), numeric
 * before alphanumeric, alphanumeric ones by ASCII. */
static int cmp_identifier(const char *a, size_t an, const char *b, size_t bn)
{
    int anum = is_all_digits(a, an), bnum = is_all_digits(b, bn);
    int c;

    if (anum && bnum) {
        if (an != bn)
            return an < bn ? -1 : 1;
        c = memcmp(a, b, an);
        return c < 0 ? -1 : c > 0;
    }
    if (anum != bnum)
        return anum ? -1 : 1;
    c = memcmp(a, b, an < bn ? an : bn);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

static int cmp_prerelease(const char *a, const char *b)
{
    if (!a || !b)
        return a ? -1 : (b ? 1 : 0); /* a pre-release sorts before its release */
    for (;;) {
        size_t an = strcspn(a, "."), bn = strcspn(b, ".");
        int c = cmp_identifier(a, an, b, bn);
        if (c != 0)
            return c;
        a += an;
        b += bn;
        if (!*a || !*b)
            return *a ? 1 : (*b ? -1 : 0); /* the shorter set sorts first */
        a++;
        b++;
    }
}

int graph_version_cmp(const graph_version *a, const graph_version *b)
{
    int c;

    if ((c = cmp_u64(a->major, b->major)) != 0 || (c = cmp_u64(a->minor, b->minor)) != 0 ||
        (c = cmp_u64(a->patch, b->patch)) != 0)
        return c;
    return cmp_prerelease(a->pre, b->pre);
}

int graph_version_cmp_str(const char *a, const char *b)
{
    graph_version va, vb;
    int oka = graph_version_parse(&va, a, NULL) == CINCY_OK;
    int okb = graph_version_parse(&vb, b, NULL) == CINCY_OK;
    int c = 0;

    if (oka && okb)
        c = graph_version_cmp(&va, &vb);
    else if (oka != okb)
        c = oka ? -1 : 1; /* unparseable strings sort after all valid ones */
    graph_version_clear(&va);
    graph_version_clear(&vb);
    if (c != 0)
        return c;
    c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

char *graph_version_format(const graph_version *v)
{
    int n = snprintf(NULL, 0, "%llu.%llu.%llu%s%s%s%s", (unsigned long long)v->major,
                     (unsigned long long)v->minor, (unsigned long long)v->patch, v->pre ? "-" : "",
                     v->pre ? v->pre : "", v->build ? "+" : "", v->build ? v->build : "");
    char *s;

    if (n < 0 || !(s = malloc((size_t)n + 1)))
        return NULL;
    snprintf(s, (size_t)n + 1, "%llu.%llu.%llu%s%s%s%s", (unsigned long long)v->major,
             (unsigned long long)v->minor, (unsigned long long)v->patch, v->pre ? "-" : "",
             v->pre ? v->pre : "", v->build ? "+" : "", v->build ? v->build : "");
    return s;
}
