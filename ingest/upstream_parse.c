/* ingest/upstream_parse.c - one upstream graph body, parsed strictly.
 *
 * The body is what a Cincinnati policy engine serves for one channel and
 * arch (spec §1.5). Strict means: every field the protocol defines has its
 * type checked and every version its syntax, so a body a CVO would reject
 * (ResponseInvalid, §4.2) is refused here with the request and the JSON path
 * named, rather than relayed to clusters. Unknown keys are ignored, as the
 * CVO ignores them, so a newer upstream that adds fields keeps working. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/upstream_internal.h"

#define KEY_MANIFESTREF "io.openshift.upgrades.graph.release.manifestref"
#define KEY_RELEASE_ARCH "release.openshift.io/architecture"
#define PATH_MAX_LEN 192

/* Sets "upstream <request>: <path>: <what>" and returns CINCY_EINVALID. */
__attribute__((format(printf, 4, 5))) static int bad(cincy_error *err, const upstream_pair_id *id,
                                                     const char *path, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "upstream %s: %s: %s", id->request, path,
                           what);
}

/* out = base followed by the formatted rest, cut to PATH_MAX_LEN. */
__attribute__((format(printf, 3, 4))) static void subpath(char *out, const char *base,
                                                          const char *fmt, ...)
{
    size_t n = strlen(base);
    va_list ap;

    if (n >= PATH_MAX_LEN)
        n = PATH_MAX_LEN - 1;
    memmove(out, base, n);
    va_start(ap, fmt);
    vsnprintf(out + n, PATH_MAX_LEN - n, fmt, ap);
    va_end(ap);
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* The string at j, which must be a JSON string without NUL bytes (C strings
 * could not carry it to the client unchanged). */
static int get_string(const char **out, const json_t *j, const upstream_pair_id *id,
                      const char *path, cincy_error *err)
{
    if (!j)
        return bad(err, id, path, "missing");
    if (!json_is_string(j))
        return bad(err, id, path, "expected a string, got %s", type_name(j));
    if (strlen(json_string_value(j)) != json_string_length(j))
        return bad(err, id, path, "contains a NUL byte");
    *out = json_string_value(j);
    return CINCY_OK;
}

static int get_typed(const json_t *j, int want_array, const upstream_pair_id *id, const char *path,
                     cincy_error *err)
{
    if (!j)
        return bad(err, id, path, "missing");
    if (want_array ? !json_is_array(j) : !json_is_object(j))
        return bad(err, id, path, "expected %s, got %s", want_array ? "an array" : "an object",
                   type_name(j));
    return CINCY_OK;
}

static int dup_into(char **slot, const char *s, cincy_error *err)
{
    if (!(*slot = strdup(s)))
        return ingest_oom(err);
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Nodes */

/* A served version is what the arch filter left: canonical semver without
 * build metadata (the filter strips the "+arch" that was the only build). */
static int check_version(const char *v, const upstream_pair_id *id, const char *path,
                         cincy_error *err)
{
    graph_version parsed;
    char *canonical;
    int same;

    if (graph_version_parse(&parsed, v, NULL) < 0)
        return bad(err, id, path, "'%.*s' is not a valid version", INGEST_QUOTE_MAX, v);
    canonical = graph_version_format(&parsed);
    same = canonical && strcmp(canonical, v) == 0 && !parsed.build;
    graph_version_clear(&parsed);
    free(canonical);
    if (!same)
        return bad(err, id, path, "'%.*s' is not a canonical version without build metadata",
                   INGEST_QUOTE_MAX, v);
    return CINCY_OK;
}

static int parse_metadata(ingest_release *r, const json_t *meta, const upstream_pair_id *id,
                          const char *node_path, cincy_error *err)
{
    ingest_strv keys = {0}, values = {0};
    char path[PATH_MAX_LEN];
    const char *key, *value;
    json_t *v;
    int error = CINCY_OK;

    subpath(path, node_path, ".metadata");
    if ((error = get_typed(meta, 0, id, path, err)) < 0)
        return error;
    json_object_foreach((json_t *)meta, key, v)
    {
        subpath(path, node_path, ".metadata.%.*s", INGEST_QUOTE_MAX, key);
        if ((error = get_string(&value, v, id, path, err)) < 0)
            goto cleanup;
        if (ingest_strv_push(&keys, key) < 0 || ingest_strv_push(&values, value) < 0) {
            error = ingest_oom(err);
            goto cleanup;
        }
    }
    ingest_strv_take(&keys, &r->meta_keys, &r->nmeta);
    ingest_strv_take(&values, &r->meta_values, &r->nmeta);
cleanup:
    ingest_strv_clear(&keys);
    ingest_strv_clear(&values);
    return error;
}

static const char *meta_get(const ingest_release *r, const char *key)
{
    for (size_t i = 0; i < r->nmeta; i++) {
        if (strcmp(r->meta_keys[i], key) == 0)
            return r->meta_values[i];
    }
    return NULL;
}

/* manifestref: the served key, else the payload's digest. */
static int set_manifestref(ingest_release *r, cincy_error *err)
{
    const char *ref = meta_get(r, KEY_MANIFESTREF);
    const char *at = strrchr(r->payload, '@');

    if (!ref && at && strncmp(at + 1, "sha256:", 7) == 0)
        ref = at + 1;
    return ref ? dup_into(&r->manifestref, ref, err) : CINCY_OK;
}

static int parse_node(ingest_release *r, const json_t *n, size_t i, const upstream_pair_id *id,
                      cincy_error *err)
{
    char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    const char *version, *payload, *multi;
    int error;

    snprintf(path, sizeof(path), "nodes[%zu]", i);
    if ((error = get_typed(n, 0, id, path, err)) < 0)
        return error;
    subpath(sub, path, ".version");
    if ((error = get_string(&version, json_object_get(n, "version"), id, sub, err)) < 0 ||
        (error = check_version(version, id, sub, err)) < 0)
        return error;
    subpath(sub, path, ".payload");
    if ((error = get_string(&payload, json_object_get(n, "payload"), id, sub, err)) < 0)
        return error;
    if (!payload[0])
        return bad(err, id, sub, "empty");
    if ((error = parse_metadata(r, json_object_get(n, "metadata"), id, path, err)) < 0)
        return error;
    /* A multi node served for another arch would be taken for a shard of a
     * multi release (spec §3.3) and dropped: refuse the contradiction. */
    multi = meta_get(r, KEY_RELEASE_ARCH);
    if (multi && strcmp(multi, "multi") == 0 && strcmp(id->arch, "multi") != 0) {
        subpath(sub, path, ".metadata.%s", KEY_RELEASE_ARCH);
        return bad(err, id, sub, "'multi' in a graph for arch %s", id->arch);
    }
    if ((error = dup_into(&r->version, version, err)) < 0 ||
        (error = dup_into(&r->payload, payload, err)) < 0 ||
        (error = dup_into(&r->arch, id->arch, err)) < 0 ||
        (error = dup_into(&r->source, id->request, err)) < 0)
        return error;
    return set_manifestref(r, err);
}

/* A node's version and index, sorted by version for duplicate checks and
 * lookups (an array of these needs no qsort context). */
typedef struct version_index {
    const char *version;
    size_t node;
} version_index;

static int cmp_version_index(const void *a, const void *b)
{
    const version_index *x = a, *y = b;
    int c = strcmp(x->version, y->version);
    return c ? c : (x->node > y->node) - (x->node < y->node);
}

/* Fails on a repeated version, naming the later node. */
static int index_versions(version_index **out, const upstream_body *b, const upstream_pair_id *id,
                          cincy_error *err)
{
    version_index *idx = malloc((b->nnodes ? b->nnodes : 1) * sizeof(*idx));
    char path[PATH_MAX_LEN];

    if (!idx)
        return ingest_oom(err);
    for (size_t i = 0; i < b->nnodes; i++) {
        idx[i].version = b->nodes[i].version;
        idx[i].node = i;
    }
    qsort(idx, b->nnodes, sizeof(*idx), cmp_version_index);
    for (size_t i = 1; i < b->nnodes; i++) {
        if (strcmp(idx[i].version, idx[i - 1].version) == 0) {
            size_t first = idx[i - 1].node, second = idx[i].node;
            free(idx);
            snprintf(path, sizeof(path), "nodes[%zu].version", second);
            return bad(err, id, path, "'%s' repeats nodes[%zu]", b->nodes[second].version, first);
        }
    }
    *out = idx;
    return CINCY_OK;
}

static int find_version(size_t *out, const upstream_body *b, const version_index *idx,
                        const char *v)
{
    size_t lo = 0, hi = b->nnodes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(idx[mid].version, v);
        if (c == 0) {
            *out = idx[mid].node;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int parse_nodes(upstream_body *b, const json_t *nodes, const upstream_pair_id *id,
                       cincy_error *err)
{
    size_t n = json_array_size(nodes);
    int error;

    if ((error = get_typed(nodes, 1, id, "nodes", err)) < 0)
        return error;
    if (n && !(b->nodes = calloc(n, sizeof(*b->nodes))))
        return ingest_oom(err);
    for (size_t i = 0; i < n; i++) {
        b->nnodes++; /* counted first: a half-parsed node is freed with the rest */
        if ((error = parse_node(&b->nodes[i], json_array_get(nodes, i), i, id, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Edges */

static int parse_index(size_t *out, const json_t *j, size_t nnodes, const upstream_pair_id *id,
                       const char *path, cincy_error *err)
{
    json_int_t v;

    if (!json_is_integer(j))
        return bad(err, id, path, "expected a node index, got %s", type_name(j));
    v = json_integer_value(j);
    if (v < 0 || (unsigned long long)v >= nnodes)
        return bad(err, id, path, "node index %lld out of range (%zu nodes)", (long long)v, nnodes);
    *out = (size_t)v;
    return CINCY_OK;
}

static int parse_edges(upstream_body *b, const json_t *edges, const upstream_pair_id *id,
                       cincy_error *err)
{
    size_t n = json_array_size(edges);
    char path[PATH_MAX_LEN];
    int error;

    if ((error = get_typed(edges, 1, id, "edges", err)) < 0)
        return error;
    if (n && !(b->edges = calloc(n, sizeof(*b->edges))))
        return ingest_oom(err);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(edges, i);
        upstream_edge *out = &b->edges[i];

        snprintf(path, sizeof(path), "edges[%zu]", i);
        if (!json_is_array(e) || json_array_size(e) != 2)
            return bad(err, id, path, "expected [from, to], got %s", type_name(e));
        snprintf(path, sizeof(path), "edges[%zu][0]", i);
        if ((error = parse_index(&out->from, json_array_get(e, 0), b->nnodes, id, path, err)) < 0)
            return error;
        snprintf(path, sizeof(path), "edges[%zu][1]", i);
        if ((error = parse_index(&out->to, json_array_get(e, 1), b->nnodes, id, path, err)) < 0)
            return error;
        b->nedges++;
    }
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Conditional edges */

static int parse_rule(graph_rule *out, const json_t *j, const upstream_pair_id *id,
                      const char *path, cincy_error *err)
{
    char sub[PATH_MAX_LEN];
    const char *type, *query;
    const json_t *promql;
    int error;

    if ((error = get_typed(j, 0, id, path, err)) < 0)
        return error;
    subpath(sub, path, ".type");
    if ((error = get_string(&type, json_object_get(j, "type"), id, sub, err)) < 0)
        return error;
    promql = json_object_get(j, "promql");
    if (strcmp(type, "Always") == 0) {
        /* The CVO drops an Always rule carrying promql; we could not say so. */
        out->type = GRAPH_RULE_ALWAYS;
        if (promql) {
            subpath(sub, path, ".promql");
            return bad(err, id, sub, "not allowed for type Always");
        }
        return CINCY_OK;
    }
    if (strcmp(type, "PromQL") != 0)
        return bad(err, id, sub, "'%.*s' is not Always or PromQL", INGEST_QUOTE_MAX, type);
    out->type = GRAPH_RULE_PROMQL;
    if (!promql)
        return CINCY_OK; /* the reference omits it for an empty query */
    subpath(sub, path, ".promql");
    if ((error = get_typed(promql, 0, id, sub, err)) < 0)
        return error;
    subpath(sub, path, ".promql.promql");
    if ((error = get_string(&query, json_object_get(promql, "promql"), id, sub, err)) < 0)
        return error;
    return query[0] ? dup_into(&out->promql, query, err) : CINCY_OK;
}

static int parse_risk(graph_risk *out, const json_t *j, const upstream_pair_id *id,
                      const char *path, cincy_error *err)
{
    static const char *const fields[3] = {"url", "name", "message"};
    char sub[PATH_MAX_LEN];
    char **slots[3] = {&out->url, &out->name, &out->message};
    const json_t *rules;
    const char *s;
    int error;

    if ((error = get_typed(j, 0, id, path, err)) < 0)
        return error;
    for (int f = 0; f < 3; f++) {
        subpath(sub, path, ".%s", fields[f]);
        if ((error = get_string(&s, json_object_get(j, fields[f]), id, sub, err)) < 0 ||
            (error = dup_into(slots[f], s, err)) < 0)
            return error;
    }
    subpath(sub, path, ".matchingRules");
    rules = json_object_get(j, "matchingRules");
    if ((error = get_typed(rules, 1, id, sub, err)) < 0)
        return error;
    if (json_array_size(rules) &&
        !(out->rules = calloc(json_array_size(rules), sizeof(*out->rules))))
        return ingest_oom(err);
    for (size_t r = 0; r < json_array_size(rules); r++) {
        subpath(sub, path, ".matchingRules[%zu]", r);
        if ((error = parse_rule(&out->rules[r], json_array_get(rules, r), id, sub, err)) < 0)
            return error;
        out->nrules++;
    }
    return CINCY_OK;
}

void upstream_risks_clear(ingest_upstream_risks *l)
{
    for (size_t i = 0; l && i < l->n; i++)
        graph_risk_clear(&l->items[i]);
    if (l) {
        free(l->items);
        memset(l, 0, sizeof(*l));
    }
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
    size_t ncap = *cap ? *cap : 16;
    void *grown;

    if (need <= *cap)
        return CINCY_OK;
    while (ncap < need)
        ncap *= 2;
    if (!(grown = realloc(*items, ncap * size)))
        return CINCY_ERROR;
    *items = grown;
    *cap = ncap;
    return CINCY_OK;
}

/* The group's risks become b->lists[b->nlists]. */
static int parse_risks(upstream_body *b, size_t *cap, const json_t *j, const upstream_pair_id *id,
                       const char *group_path, cincy_error *err)
{
    char path[PATH_MAX_LEN];
    ingest_upstream_risks *l;
    size_t n = json_array_size(j);
    int error;

    subpath(path, group_path, ".risks");
    if ((error = get_typed(j, 1, id, path, err)) < 0)
        return error;
    if (n == 0)
        return bad(err, id, path, "empty: a conditional update needs a risk");
    if (grow((void **)&b->lists, cap, b->nlists + 1, sizeof(*b->lists)) < 0)
        return ingest_oom(err);
    l = &b->lists[b->nlists++]; /* counted now: a half-parsed list is freed with the rest */
    memset(l, 0, sizeof(*l));
    if (!(l->items = calloc(n, sizeof(*l->items))))
        return ingest_oom(err);
    l->n = n; /* calloc'd: clearing the unparsed ones is safe */
    for (size_t r = 0; r < n; r++) {
        subpath(path, group_path, ".risks[%zu]", r);
        if ((error = parse_risk(&l->items[r], json_array_get(j, r), id, path, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* One pair {from, to} of the group whose risks are list: both must be
 * versions; a version absent from the response (quirk Q9 of the reference)
 * is skipped, not fatal. */
static int parse_cond_edge(upstream_body *b, size_t *cap, const version_index *idx, const json_t *e,
                           size_t list, const upstream_pair_id *id, const char *path,
                           cincy_error *err)
{
    char sub[PATH_MAX_LEN];
    const char *from, *to;
    size_t fi, ti;
    int error;

    if ((error = get_typed(e, 0, id, path, err)) < 0)
        return error;
    subpath(sub, path, ".from");
    if ((error = get_string(&from, json_object_get(e, "from"), id, sub, err)) < 0)
        return error;
    subpath(sub, path, ".to");
    if ((error = get_string(&to, json_object_get(e, "to"), id, sub, err)) < 0)
        return error;
    if (!find_version(&fi, b, idx, from) || !find_version(&ti, b, idx, to)) {
        cincy_log(CINCY_LOG_WARN, "ingest",
                  "skipping conditional edge to or from a version not in nodes\t"
                  "request=%s path=%s from=%.*s to=%.*s",
                  id->request, path, INGEST_QUOTE_MAX, from, INGEST_QUOTE_MAX, to);
        return CINCY_OK;
    }
    if (grow((void **)&b->conds, cap, b->nconds + 1, sizeof(*b->conds)) < 0)
        return ingest_oom(err);
    b->conds[b->nconds++] = (upstream_cond){fi, ti, list};
    return CINCY_OK;
}

static int parse_cond_group(upstream_body *b, size_t caps[2], const version_index *idx,
                            const json_t *g, size_t gi, const upstream_pair_id *id,
                            cincy_error *err)
{
    char path[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    const json_t *edges;
    int error;

    snprintf(path, sizeof(path), "conditionalEdges[%zu]", gi);
    if ((error = get_typed(g, 0, id, path, err)) < 0)
        return error;
    subpath(sub, path, ".edges");
    edges = json_object_get(g, "edges");
    if ((error = get_typed(edges, 1, id, sub, err)) < 0 ||
        (error = parse_risks(b, &caps[0], json_object_get(g, "risks"), id, path, err)) < 0)
        return error;
    for (size_t e = 0; e < json_array_size(edges); e++) {
        subpath(sub, path, ".edges[%zu]", e);
        if ((error = parse_cond_edge(b, &caps[1], idx, json_array_get(edges, e), b->nlists - 1, id,
                                     sub, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* conditionalEdges may be absent: the legacy flavour has none. */
static int parse_conds(upstream_body *b, const json_t *conds, const upstream_pair_id *id,
                       cincy_error *err)
{
    version_index *idx = NULL;
    size_t caps[2] = {0, 0}; /* of lists, conds */
    int error;

    if ((error = index_versions(&idx, b, id, err)) < 0)
        return error;
    if (conds && (error = get_typed(conds, 1, id, "conditionalEdges", err)) == CINCY_OK) {
        for (size_t g = 0; g < json_array_size(conds) && error == CINCY_OK; g++)
            error = parse_cond_group(b, caps, idx, json_array_get(conds, g), g, id, err);
    }
    free(idx);
    return error;
}

/* ---------------------------------------------------------------------------
 * Body */

static int check_top(const json_t *root, const upstream_pair_id *id, cincy_error *err)
{
    const json_t *version = json_object_get(root, "version");

    if (!json_is_object(root))
        return bad(err, id, "$", "expected an object, got %s", type_name(root));
    /* 1 is the only defined version; absent is what a graph-builder serves. */
    if (version && !(json_is_integer(version) && json_integer_value(version) == 1))
        return bad(err, id, "version", "expected 1");
    return CINCY_OK;
}

int upstream_body_parse(upstream_body *out, const char *text, size_t len,
                        const upstream_pair_id *id, cincy_error *err)
{
    upstream_body b = {0};
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int error;

    if (!root)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "upstream %s: invalid JSON at line %d column %d: %s", id->request,
                               jerr.line, jerr.column, jerr.text);
    if ((error = check_top(root, id, err)) < 0 ||
        (error = parse_nodes(&b, json_object_get(root, "nodes"), id, err)) < 0 ||
        (error = parse_edges(&b, json_object_get(root, "edges"), id, err)) < 0 ||
        (error = parse_conds(&b, json_object_get(root, "conditionalEdges"), id, err)) < 0)
        goto cleanup;
    *out = b;
    memset(&b, 0, sizeof(b)); /* the caller owns it now */
cleanup:
    upstream_body_clear(&b);
    json_decref(root);
    return error;
}

void upstream_body_clear(upstream_body *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nnodes; i++)
        ingest_release_clear(&b->nodes[i]);
    free(b->nodes);
    free(b->edges);
    for (size_t i = 0; i < b->nlists; i++)
        upstream_risks_clear(&b->lists[i]);
    free(b->lists);
    free(b->conds);
    memset(b, 0, sizeof(b[0]));
}
