/* graph/json.c - Cincinnati JSON for a snapshot.
 * Hand-written rather than built with jansson: a large channel is 50,000
 * edges, and building a json_t tree per element only to dump it costs more
 * than the request. The writer appends to one growable buffer; strings are
 * escaped per RFC 8259 and any invalid UTF-8 becomes U+FFFD, so the output
 * always parses (clients and jansson reject invalid UTF-8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

typedef struct jbuf {
    char *p;
    size_t len, cap;
    int failed; /* an allocation failed; later appends are no-ops */
} jbuf;

static void jb_reserve(jbuf *b, size_t extra)
{
    size_t cap;
    char *q;

    if (b->failed || b->len + extra < b->cap)
        return;
    cap = b->cap ? b->cap : 4096;
    while (cap <= b->len + extra)
        cap *= 2;
    if (!(q = realloc(b->p, cap))) {
        b->failed = 1;
        return;
    }
    b->p = q;
    b->cap = cap;
}

static void jb_put(jbuf *b, const char *s, size_t n)
{
    jb_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void jb_lit(jbuf *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

static void jb_uint(jbuf *b, unsigned long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu", v);

    jb_put(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. Rejects
 * overlong forms, surrogates and code points past U+10FFFF as RFC 3629 does. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Appends s as a JSON string; NULL is written as "". Runs of plain bytes
 * are copied in one go. */
static void jb_str(jbuf *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    const unsigned char *run = s;

    jb_put(b, "\"", 1);
    while (*s) {
        size_t n = utf8_seq(s);
        char esc[8];
        size_t elen = 0;

        if (n > 1) {
            s += n;
            continue;
        }
        if (n == 1 && *s >= 0x20 && *s != '"' && *s != '\\') {
            s++;
            continue;
        }
        jb_put(b, (const char *)run, (size_t)(s - run));
        if (n == 0) {
            jb_lit(b, "\\ufffd");
        } else {
            esc[elen++] = '\\';
            switch (*s) {
            case '"':
                esc[elen++] = '"';
                break;
            case '\\':
                esc[elen++] = '\\';
                break;
            case '\b':
                esc[elen++] = 'b';
                break;
            case '\f':
                esc[elen++] = 'f';
                break;
            case '\n':
                esc[elen++] = 'n';
                break;
            case '\r':
                esc[elen++] = 'r';
                break;
            case '\t':
                esc[elen++] = 't';
                break;
            default:
                memcpy(esc + elen, "u00", 3);
                elen += 3;
                esc[elen++] = hex[*s >> 4];
                esc[elen++] = hex[*s & 0xf];
            }
            jb_put(b, esc, elen);
        }
        run = ++s; /* an invalid sequence is replaced one byte at a time */
    }
    jb_put(b, (const char *)run, (size_t)(s - run));
    jb_put(b, "\"", 1);
}

static void write_node(jbuf *b, const graph_snapshot *s, size_t i)
{
    size_t nmeta = graph_snapshot_meta_count(s, i);

    jb_lit(b, "{\"version\":");
    jb_str(b, graph_snapshot_node_version(s, i));
    jb_lit(b, ",\"payload\":");
    jb_str(b, graph_snapshot_node_payload(s, i));
    jb_lit(b, ",\"metadata\":{");
    for (size_t k = 0; k < nmeta; k++) {
        const char *key, *value;
        graph_snapshot_meta_at(s, i, k, &key, &value);
        if (k)
            jb_put(b, ",", 1);
        jb_str(b, key);
        jb_put(b, ":", 1);
        jb_str(b, value);
    }
    jb_lit(b, "}}");
}

static void write_edges(jbuf *b, const graph_snapshot *s)
{
    const graph_edge *e = graph_snapshot_edges(s);
    size_t n = graph_snapshot_edge_count(s);

    jb_lit(b, "\"edges\":[");
    for (size_t i = 0; i < n; i++) {
        jb_lit(b, i ? ",[" : "[");
        jb_uint(b, e[i].from);
        jb_put(b, ",", 1);
        jb_uint(b, e[i].to);
        jb_put(b, "]", 1);
    }
    jb_put(b, "]", 1);
}

/* The reference omits the promql object when the query is empty (§1.5). */
static void write_rule(jbuf *b, const graph_rule *r)
{
    if (r->type == GRAPH_RULE_ALWAYS) {
        jb_lit(b, "{\"type\":\"Always\"}");
        return;
    }
    jb_lit(b, "{\"type\":\"PromQL\"");
    if (r->promql && r->promql[0]) {
        jb_lit(b, ",\"promql\":{\"promql\":");
        jb_str(b, r->promql);
        jb_put(b, "}", 1);
    }
    jb_put(b, "}", 1);
}

static void write_risk(jbuf *b, const graph_risk *r)
{
    jb_lit(b, "{\"url\":");
    jb_str(b, r->url);
    jb_lit(b, ",\"name\":");
    jb_str(b, r->name);
    jb_lit(b, ",\"message\":");
    jb_str(b, r->message);
    jb_lit(b, ",\"matchingRules\":[");
    for (size_t i = 0; i < r->nrules; i++) {
        if (i)
            jb_put(b, ",", 1);
        write_rule(b, &r->rules[i]);
    }
    jb_lit(b, "]}");
}

static void write_group(jbuf *b, const graph_snapshot *s, const graph_cond_group *g)
{
    jb_lit(b, "{\"edges\":[");
    for (size_t i = 0; i < g->nedges; i++) {
        jb_lit(b, i ? ",{\"from\":" : "{\"from\":");
        jb_str(b, graph_snapshot_node_version(s, g->edges[i].from));
        jb_lit(b, ",\"to\":");
        jb_str(b, graph_snapshot_node_version(s, g->edges[i].to));
        jb_put(b, "}", 1);
    }
    jb_lit(b, "],\"risks\":[");
    for (size_t i = 0; i < g->nrisks; i++) {
        if (i)
            jb_put(b, ",", 1);
        write_risk(b, &g->risks[i]);
    }
    jb_lit(b, "]}");
}

int graph_snapshot_to_json(char **out, size_t *out_len, const graph_snapshot *s,
                           graph_json_flavor flavor)
{
    jbuf b = {NULL, 0, 0, 0};
    size_t n = graph_snapshot_node_count(s);

    /* ~300 bytes a node and ~10 an edge: one early reservation saves most
     * of the doubling copies for a big channel. */
    jb_reserve(&b, n * 300 + graph_snapshot_edge_count(s) * 10 + 64);
    jb_lit(&b, "{\"version\":1,\"nodes\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            jb_put(&b, ",", 1);
        write_node(&b, s, i);
    }
    jb_lit(&b, "],");
    write_edges(&b, s);
    if (flavor != GRAPH_JSON_LEGACY) {
        jb_lit(&b, ",\"conditionalEdges\":[");
        for (size_t i = 0; i < graph_snapshot_cond_count(s); i++) {
            if (i)
                jb_put(&b, ",", 1);
            write_group(&b, s, graph_snapshot_cond_group(s, i));
        }
        jb_put(&b, "]", 1);
    }
    jb_put(&b, "}", 2); /* with the NUL terminator */
    if (b.failed) {
        free(b.p);
        return CINCY_ERROR;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len - 1;
    return CINCY_OK;
}
