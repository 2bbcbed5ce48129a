/* tests/policy/policy_test_util.h - hand-built release records and graph-data.
 *
 * Policy tests describe their input in C rather than through ingest's
 * parsers, so each test shows exactly the records a rule sees. The structs
 * are allocated the way ingest allocates them, so ingest_releases_free and
 * ingest_graph_data_free release them. Everything is static: all test files
 * link into one binary.
 */
#ifndef CINCY_POLICY_TEST_UTIL_H
#define CINCY_POLICY_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ingest/ingest.h"
#include "policy/policy.h"

static inline char *tu_dup(const char *s)
{
    char *d = s ? strdup(s) : NULL;
    cr_assert(!s || d, "out of memory");
    return d;
}

static inline void *tu_grow(void *p, size_t n, size_t elem)
{
    void *q = realloc(p, (n ? n : 1) * elem);
    cr_assert_not_null(q, "out of memory");
    return q;
}

/* Splits a space-separated list ("4.14.0 4.14.1") into a new string array. */
static inline char **tu_words(const char *list, size_t *n)
{
    char **out = NULL, *copy = tu_dup(list ? list : ""), *save = NULL;

    *n = 0;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        out = tu_grow(out, *n + 1, sizeof(*out));
        out[(*n)++] = tu_dup(w);
    }
    free(copy);
    return out;
}

/* Splits "k=v;k2=v2" into parallel key/value arrays (values may hold ','). */
static inline void tu_pairs(const char *spec, char ***keys, char ***values, size_t *n)
{
    char *copy = tu_dup(spec ? spec : ""), *save = NULL;

    *keys = *values = NULL;
    *n = 0;
    for (char *kv = strtok_r(copy, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        cr_assert_not_null(eq, "bad pair spec '%s'", kv);
        *eq = '\0';
        *keys = tu_grow(*keys, *n + 1, sizeof(**keys));
        *values = tu_grow(*values, *n + 1, sizeof(**values));
        (*keys)[*n] = tu_dup(kv);
        (*values)[*n] = tu_dup(eq + 1);
        (*n)++;
    }
    free(copy);
}

static inline ingest_releases *tu_releases(void)
{
    ingest_releases *rs = calloc(1, sizeof(*rs));
    cr_assert_not_null(rs);
    return rs;
}

/* Adds a release with an explicit payload. prev/next are space-separated
 * versions, meta is "k=v;k=v" (may be NULL). Returns the record for tweaks. */
static inline ingest_release *tu_release_p(ingest_releases *rs, const char *version,
                                           const char *arch, const char *payload,
                                           const char *prev, const char *next, const char *meta)
{
    ingest_release *r;
    char buf[256];

    rs->items = tu_grow(rs->items, rs->count + 1, sizeof(*rs->items));
    r = &rs->items[rs->count++];
    memset(r, 0, sizeof(*r));
    r->version = tu_dup(version);
    r->arch = tu_dup(arch);
    r->payload = tu_dup(payload);
    snprintf(buf, sizeof(buf), "sha256:%s-%s", arch ? arch : "none", version);
    r->manifestref = tu_dup(buf);
    r->previous = tu_words(prev, &r->nprevious);
    r->next = tu_words(next, &r->nnext);
    tu_pairs(meta, &r->meta_keys, &r->meta_values, &r->nmeta);
    snprintf(buf, sizeof(buf), "releases/%s/%s", arch ? arch : "none", version);
    r->source = tu_dup(buf);
    return r;
}

/* Same, payload "quay.io/test/release@sha256:<arch>-<version>". */
static inline ingest_release *tu_release(ingest_releases *rs, const char *version, const char *arch,
                                         const char *prev, const char *next, const char *meta)
{
    char payload[256];
    snprintf(payload, sizeof(payload), "quay.io/test/release@sha256:%s-%s", arch ? arch : "none",
             version);
    return tu_release_p(rs, version, arch, payload, prev, next, meta);
}

static inline ingest_graph_data *tu_graph_data(void)
{
    ingest_graph_data *gd = calloc(1, sizeof(*gd));
    cr_assert_not_null(gd);
    gd->schema_version = tu_dup("1.1.0");
    gd->root = tu_dup("test-graph-data");
    return gd;
}

/* Channel files are kept sorted by file name by ingest; tests add them in
 * that order. */
static inline void tu_channel(ingest_graph_data *gd, const char *name, const char *versions)
{
    ingest_channel *c;
    char file[256];

    gd->channels = tu_grow(gd->channels, gd->nchannels + 1, sizeof(*gd->channels));
    c = &gd->channels[gd->nchannels++];
    memset(c, 0, sizeof(*c));
    c->name = tu_dup(name);
    c->versions = tu_words(versions, &c->nversions);
    snprintf(file, sizeof(file), "channels/%s.yaml", name);
    c->file = tu_dup(file);
}

static inline ingest_block *tu_add_block(ingest_graph_data *gd, const char *file, const char *to,
                                         const char *from)
{
    ingest_block *b;

    gd->blocks = tu_grow(gd->blocks, gd->nblocks + 1, sizeof(*gd->blocks));
    b = &gd->blocks[gd->nblocks++];
    memset(b, 0, sizeof(*b));
    b->to = tu_dup(to);
    b->from = tu_dup(from);
    b->file = tu_dup(file);
    return b;
}

/* A pure block: only `to` and `from`. */
static inline void tu_block(ingest_graph_data *gd, const char *file, const char *to,
                            const char *from)
{
    tu_add_block(gd, file, to, from);
}

/* A conditional risk named name with one Always rule. */
static inline void tu_risk(ingest_graph_data *gd, const char *file, const char *to,
                           const char *from, const char *name)
{
    ingest_block *b = tu_add_block(gd, file, to, from);
    char buf[256];

    b->is_risk = 1;
    snprintf(buf, sizeof(buf), "https://example.invalid/%s", name);
    b->risk.url = tu_dup(buf);
    b->risk.name = tu_dup(name);
    snprintf(buf, sizeof(buf), "%s hurts.", name);
    b->risk.message = tu_dup(buf);
    b->risk.rules = calloc(1, sizeof(*b->risk.rules));
    cr_assert_not_null(b->risk.rules);
    b->risk.rules[0].type = GRAPH_RULE_ALWAYS;
    b->risk.nrules = 1;
}

static inline void tu_raw(ingest_graph_data *gd, const char *version, const char *pairs)
{
    ingest_raw_meta *m;

    gd->raw = tu_grow(gd->raw, gd->nraw + 1, sizeof(*gd->raw));
    m = &gd->raw[gd->nraw++];
    memset(m, 0, sizeof(*m));
    m->version = tu_dup(version);
    tu_pairs(pairs, &m->keys, &m->values, &m->n);
}

static inline const char *tu_fmt(const cincy_error *e)
{
    static char buf[1024]; /* Criterion runs each test in its own process */
    return cincy_error_format(e, buf, sizeof(buf));
}

/* Builds, failing the test on error, and frees the inputs. */
static inline graph_snapshot *tu_build(ingest_releases *rs, ingest_graph_data *gd)
{
    graph_snapshot *s = NULL;
    policy_stats st;
    cincy_error e;

    cr_assert_eq(policy_build(&s, rs, gd, &st, &e), 0, "policy_build: %s", tu_fmt(&e));
    cr_assert_not_null(s);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    return s;
}

/* Expects policy_build to fail with code; frees the inputs; returns the error. */
static inline cincy_error tu_build_fails(ingest_releases *rs, ingest_graph_data *gd, int code)
{
    graph_snapshot *s = (graph_snapshot *)0x1; /* must stay untouched */
    cincy_error e;

    cincy_error_clear(&e);
    cr_assert_eq(policy_build(&s, rs, gd, NULL, &e), code, "expected %d, got: %s", code,
                 tu_fmt(&e));
    cr_assert_eq(s, (graph_snapshot *)0x1, "*out written on failure");
    cr_assert_eq(e.code, code);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    return e;
}

static inline size_t tu_node(const graph_snapshot *s, const char *version)
{
    size_t i = (size_t)-1;
    cr_assert_eq(graph_snapshot_find(s, version, &i), 0, "no node %s", version);
    return i;
}

static inline int tu_has_node(const graph_snapshot *s, const char *version)
{
    size_t i;
    return graph_snapshot_find(s, version, &i) == 0;
}

static inline const char *tu_meta(const graph_snapshot *s, const char *version, const char *key)
{
    return graph_snapshot_meta_get(s, tu_node(s, version), key);
}

/* 1 when from -> to is an unconditional edge (both must be nodes). */
static inline int tu_edge(const graph_snapshot *s, const char *from, const char *to)
{
    size_t f = tu_node(s, from), t = tu_node(s, to);
    const graph_edge *e = graph_snapshot_edges(s);

    for (size_t i = 0; i < graph_snapshot_edge_count(s); i++) {
        if (e[i].from == f && e[i].to == t)
            return 1;
    }
    return 0;
}

/* The conditional group holding from -> to, or NULL. */
static inline const graph_cond_group *tu_cond(const graph_snapshot *s, const char *from,
                                              const char *to)
{
    size_t f = tu_node(s, from), t = tu_node(s, to);

    for (size_t g = 0; g < graph_snapshot_cond_count(s); g++) {
        const graph_cond_group *grp = graph_snapshot_cond_group(s, g);
        for (size_t i = 0; i < grp->nedges; i++) {
            if (grp->edges[i].from == f && grp->edges[i].to == t)
                return grp;
        }
    }
    return NULL;
}

/* Number of edges into version. */
static inline size_t tu_in_degree(const graph_snapshot *s, const char *version)
{
    size_t t = tu_node(s, version), n = 0;
    const graph_edge *e = graph_snapshot_edges(s);

    for (size_t i = 0; i < graph_snapshot_edge_count(s); i++)
        n += e[i].to == t;
    return n;
}

#endif
