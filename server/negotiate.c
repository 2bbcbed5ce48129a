/* server/negotiate.c - reading the request headers and query values a graph
 * answer depends on: Accept (the reference's exact-string table),
 * Accept-Encoding (gzip or not), If-None-Match (304 or not), and the lossy
 * UTF-8 decoding the reference applies to query values before echoing them.
 * Pure functions of their arguments, so tests call them directly.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_internal.h"

#define CT_JSON "application/json"
#define CT_CINCINNATI "application/vnd.redhat.cincinnati.v1+json"

/* Spec §1.4: no parsing of lists, parameters or q-values; the whole value is
 * compared byte for byte, so "Application/JSON" and "application/json;q=1"
 * are 406 like at the reference. */
const char *server_negotiate_type(const char *accept)
{
    if (!accept || !strcmp(accept, CT_CINCINNATI))
        return CT_CINCINNATI;
    if (!strcmp(accept, CT_JSON) || !strcmp(accept, "*/*") || !strcmp(accept, "*") ||
        !strcmp(accept, "application/*"))
        return CT_JSON;
    return NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]. Returns 1 when q
 * (len bytes) is a valid qvalue above zero; a malformed one counts as zero, so
 * a value we cannot read never turns gzip on. */
static int qvalue_positive(const char *q, size_t len)
{
    size_t i;
    int nonzero = 0;

    if (len == 0 || (q[0] != '0' && q[0] != '1'))
        return 0;
    if (len > 1 && (q[1] != '.' || len > 5))
        return 0;
    for (i = 2; i < len; i++) {
        if (q[i] < '0' || q[i] > '9' || (q[0] == '1' && q[i] != '0'))
            return 0;
        nonzero |= q[i] != '0';
    }
    return q[0] == '1' || nonzero;
}

/* Splits one Accept-Encoding element [s, end) into its coding and whether
 * its q allows it. */
static void read_coding(const char *s, const char *end, const char **coding, size_t *coding_len,
                        int *allowed)
{
    const char *p = s;

    while (p < end && *p != ';' && !is_ows(*p))
        p++;
    *coding = s;
    *coding_len = (size_t)(p - s);
    *allowed = 1;
    while (p < end) { /* parameters: ;q=0.5 (others are not defined; skip them) */
        const char *param, *pend;
        while (p < end && (is_ows(*p) || *p == ';'))
            p++;
        param = p;
        while (p < end && *p != ';')
            p++;
        pend = p;
        while (pend > param && is_ows(pend[-1]))
            pend--;
        if (pend - param >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
            *allowed = qvalue_positive(param + 2, (size_t)(pend - param - 2));
    }
}

int server_accepts_gzip(const char *accept_encoding)
{
    int named = -1, star = -1; /* -1: not listed; else whether q > 0 */
    const char *p = accept_encoding;

    if (!p)
        return 0;
    while (*p) {
        const char *start, *end, *coding;
        size_t len;
        int allowed;
        while (*p == ',' || is_ows(*p))
            p++;
        start = p;
        while (*p && *p != ',')
            p++;
        end = p;
        if (start == end)
            continue;
        read_coding(start, end, &coding, &len, &allowed);
        if ((len == 4 && !strncasecmp(coding, "gzip", 4)) ||
            (len == 6 && !strncasecmp(coding, "x-gzip", 6)))
            named = named == 1 ? 1 : allowed;
        else if (len == 1 && coding[0] == '*')
            star = allowed;
    }
    return named >= 0 ? named : star == 1;
}

int server_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match;
    size_t elen = strlen(etag);

    if (!p)
        return 0;
    while (is_ows(*p))
        p++;
    if (p[0] == '*') {
        const char *q = p + 1;
        while (is_ows(*q))
            q++;
        return *q == '\0';
    }
    while (*p) {
        const char *tag;
        while (*p == ',' || is_ows(*p))
            p++;
        if (!*p)
            break;
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison: W/"x" matches "x" */
        if (*p != '"')
            return 0; /* malformed: the header is ignored */
        tag = p++;
        while (*p && *p != '"')
            p++;
        if (*p != '"')
            return 0;
        p++;
        if ((size_t)(p - tag) == elen && !memcmp(tag, etag, elen))
            return 1;
    }
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0 with
 * *bad set to the length of the maximal ill-formed subpart (at least 1) that
 * one U+FFFD replaces (Unicode §3.9, as from_utf8_lossy). */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3;
    else {
        *bad = 1;
        return 0;
    }
    if (c == 0xE0)
        lo = 0xA0; /* overlong */
    else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    else if (c == 0xF0)
        lo = 0x90; /* overlong */
    else if (c == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    for (i = 1; i <= need; i++) {
        unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xBF;
        if (i >= n || s[i] < min || s[i] > max) {
            *bad = i;
            return 0;
        }
    }
    return need + 1;
}

char *server_utf8_lossy(const char *in, size_t len, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)in;
    char *out = malloc(len * 3 + 1); /* each bad byte grows to at most 3 */
    size_t pos = 0, i = 0;

    if (!out)
        return NULL;
    while (i < len) {
        size_t bad = 0, ok = utf8_sequence(s + i, len - i, &bad);
        if (ok) {
            memcpy(out + pos, s + i, ok);
            pos += ok;
            i += ok;
        } else {
            memcpy(out + pos, "\xEF\xBF\xBD", 3);
            pos += 3;
            i += bad;
        }
    }
    out[pos] = '\0';
    *out_len = pos;
    return out;
}
