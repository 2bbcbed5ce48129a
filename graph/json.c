/* graph/json.c - Cincinnati JSON for a snapshot, built and dumped with jansson.
 *
 * Why jansson and not a hand-written writer: it gives one well-tested string
 * escaper, and it is the same library that parses our inputs, so what it
 * accepts there it writes back here. Building a json_t tree costs more than
 * appending bytes (a 43,000-edge channel: 14 ms instead of 3.7 ms, -O2, and
 * about twice the peak memory), but the server renders a response once per
 * (snapshot, channel, arch) and caches it, so that cost is paid once per
 * publish, not per request.
 *
 * Every string comes from a parser that rejected invalid UTF-8 (jansson,
 * libyaml). One that is still invalid is refused with CINCY_EINVALID rather
 * than written out as JSON no client could parse.
 *
 * Ownership: each container is attached to its parent as soon as it is made
 * and then filled through a borrowed pointer, so on any failure freeing the
 * root frees everything built so far. */
#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

/* Field order is part of the output (the reference's order, byte-exact
 * tests); jansson keeps object keys in insertion order from 2.8 on. */
#if JANSSON_VERSION_HEX < 0x020800
#error "graph/json.c needs jansson >= 2.8 (object keys kept in insertion order)"
#endif

/* jansson returns NULL both for invalid UTF-8 and for out of memory. Tell
 * the two apart, on the failure path only: if an unchecked copy of s can be
 * made while a checked one cannot, the bytes are at fault. */
static int string_error(const char *s, size_t len)
{
    json_t *checked = json_stringn(s, len);
    json_t *raw = checked ? NULL : json_stringn_nocheck(s, len);
    int error = raw ? CINCY_EINVALID : CINCY_ERROR;

    json_decref(checked);
    json_decref(raw);
    return error;
}

/* A new string value for s; NULL is written as "" (graph_risk_equal treats
 * the two as equal for that reason). */
static int string_new(json_t **out, const char *s)
{
    size_t len;

    s = s ? s : "";
    len = strlen(s);
    if (!(*out = json_stringn(s, len)))
        return string_error(s, len);
    return CINCY_OK;
}

/* obj[key] = v, taking over v (jansson frees it if the set fails). key may
 * come from the input (metadata), so it too can be invalid UTF-8. */
static int set_new(json_t *obj, const char *key, json_t *v)
{
    assert(key);
    if (json_object_set_new(obj, key, v) == 0)
        return CINCY_OK;
    return v ? string_error(key, strlen(key)) : CINCY_ERROR;
}

static int set_string(json_t *obj, const char *key, const char *s)
{
    json_t *v;
    int error;

    if ((error = string_new(&v, s)) < 0)
        return error;
    return set_new(obj, key, v);
}

/* Attach a new empty container to obj[key] or to the end of arr and return
 * it borrowed (the parent owns it), or NULL when out of memory. */
static json_t *set_container(json_t *obj, const char *key, json_t *child)
{
    return json_object_set_new(obj, key, child) == 0 ? child : NULL;
}

static json_t *append_container(json_t *arr, json_t *child)
{
    return json_array_append_new(arr, child) == 0 ? child : NULL;
}

static int add_node(json_t *nodes, const graph_snapshot *s, size_t i)
{
    size_t nmeta = graph_snapshot_meta_count(s, i);
    json_t *node, *meta, *v;
    int error;

    if (!(node = append_container(nodes, json_object())))
        return CINCY_ERROR;
    if ((error = set_string(node, "version", graph_snapshot_node_version(s, i))) < 0 ||
        (error = set_string(node, "payload", graph_snapshot_node_payload(s, i))) < 0)
        return error;
    if (!(meta = set_container(node, "metadata", json_object())))
        return CINCY_ERROR;
    for (size_t k = 0; k < nmeta; k++) {
        const char *key, *value;

        graph_snapshot_meta_at(s, i, k, &key, &value);
        if ((error = string_new(&v, value)) < 0 || (error = set_new(meta, key, v)) < 0)
            return error;
    }
    return CINCY_OK;
}

static int add_edges(json_t *root, const graph_snapshot *s)
{
    const graph_edge *e = graph_snapshot_edges(s);
    size_t n = graph_snapshot_edge_count(s);
    json_t *edges, *pair;

    if (!(edges = set_container(root, "edges", json_array())))
        return CINCY_ERROR;
    for (size_t i = 0; i < n; i++) {
        /* append_new also fails (and frees nothing it does not own) when
         * json_integer returned NULL, so one check covers both. */
        if (!(pair = append_container(edges, json_array())) ||
            json_array_append_new(pair, json_integer(e[i].from)) < 0 ||
            json_array_append_new(pair, json_integer(e[i].to)) < 0)
            return CINCY_ERROR;
    }
    return CINCY_OK;
}

/* The reference omits the promql object when the query is empty (§1.5). */
static int add_rule(json_t *rules, const graph_rule *r)
{
    json_t *rule, *promql;

    if (!(rule = append_container(rules, json_object())))
        return CINCY_ERROR;
    if (r->type == GRAPH_RULE_ALWAYS)
        return set_string(rule, "type", "Always");
    if (set_string(rule, "type", "PromQL") < 0)
        return CINCY_ERROR;
    if (!r->promql || !r->promql[0])
        return CINCY_OK;
    if (!(promql = set_container(rule, "promql", json_object())))
        return CINCY_ERROR;
    return set_string(promql, "promql", r->promql);
}

static int add_risk(json_t *risks, const graph_risk *r)
{
    json_t *risk, *rules;
    int error;

    if (!(risk = append_container(risks, json_object())))
        return CINCY_ERROR;
    if ((error = set_string(risk, "url", r->url)) < 0 ||
        (error = set_string(risk, "name", r->name)) < 0 ||
        (error = set_string(risk, "message", r->message)) < 0)
        return error;
    if (!(rules = set_container(risk, "matchingRules", json_array())))
        return CINCY_ERROR;
    for (size_t i = 0; i < r->nrules; i++) {
        if ((error = add_rule(rules, &r->rules[i])) < 0)
            return error;
    }
    return CINCY_OK;
}

static int add_group(json_t *groups, const graph_snapshot *s, const graph_cond_group *g)
{
    json_t *group, *edges, *risks, *edge;
    int error;

    if (!(group = append_container(groups, json_object())) ||
        !(edges = set_container(group, "edges", json_array())))
        return CINCY_ERROR;
    for (size_t i = 0; i < g->nedges; i++) {
        const char *from = graph_snapshot_node_version(s, g->edges[i].from);
        const char *to = graph_snapshot_node_version(s, g->edges[i].to);

        if (!(edge = append_container(edges, json_object())))
            return CINCY_ERROR;
        if ((error = set_string(edge, "from", from)) < 0 ||
            (error = set_string(edge, "to", to)) < 0)
            return error;
    }
    if (!(risks = set_container(group, "risks", json_array())))
        return CINCY_ERROR;
    for (size_t i = 0; i < g->nrisks; i++) {
        if ((error = add_risk(risks, &g->risks[i])) < 0)
            return error;
    }
    return CINCY_OK;
}

/* Fills root in the reference's field order. */
static int build_document(json_t *root, const graph_snapshot *s, graph_json_flavor flavor)
{
    json_t *nodes, *groups;
    int error;

    if (set_new(root, "version", json_integer(1)) < 0 ||
        !(nodes = set_container(root, "nodes", json_array())))
        return CINCY_ERROR;
    for (size_t i = 0; i < graph_snapshot_node_count(s); i++) {
        if ((error = add_node(nodes, s, i)) < 0)
            return error;
    }
    if ((error = add_edges(root, s)) < 0)
        return error;
    if (flavor == GRAPH_JSON_LEGACY)
        return CINCY_OK;
    if (!(groups = set_container(root, "conditionalEdges", json_array())))
        return CINCY_ERROR;
    for (size_t i = 0; i < graph_snapshot_cond_count(s); i++) {
        if ((error = add_group(groups, s, graph_snapshot_cond_group(s, i))) < 0)
            return error;
    }
    return CINCY_OK;
}

/* The dump target: json_dump_callback appends here, so the text is written
 * once into the buffer we hand out (json_dumps would copy it again). */
typedef struct dump_buf {
    char *p;
    size_t len, cap; /* cap > len once anything is reserved: room for the NUL */
    int failed;      /* an append failed: the text has a hole, whatever jansson says */
} dump_buf;

static int dump_reserve(dump_buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 4096;
    char *q;

    if (b->len + extra < b->cap)
        return 0;
    while (cap <= b->len + extra)
        cap *= 2;
    if (!(q = realloc(b->p, cap)))
        return -1;
    b->p = q;
    b->cap = cap;
    return 0;
}

static int dump_append(const char *data, size_t size, void *arg)
{
    dump_buf *b = arg;

    /* jansson 2.14 ignores the result of some callbacks (dump_string's
     * opening quote), so a failed append would leave a hole in otherwise
     * "successful" output (tests/oom): remember the failure, refuse the rest. */
    if (b->failed || dump_reserve(b, size) < 0) {
        b->failed = 1;
        return -1;
    }
    memcpy(b->p + b->len, data, size);
    b->len += size;
    return 0;
}

int graph_snapshot_to_json(char **out, size_t *out_len, const graph_snapshot *s,
                           graph_json_flavor flavor)
{
    json_t *root = json_object();
    dump_buf b = {NULL, 0, 0, 0};
    int error = CINCY_ERROR;

    assert(out && s);
    if (!root)
        goto cleanup;
    if ((error = build_document(root, s, flavor)) < 0)
        goto cleanup;
    /* ~300 bytes a node and ~10 an edge: one early reservation saves most
     * of the doubling copies for a big channel. */
    error = CINCY_ERROR;
    if (dump_reserve(&b, graph_snapshot_node_count(s) * 300 +
                             graph_snapshot_edge_count(s) * 10 + 64) < 0 ||
        json_dump_callback(root, dump_append, &b, JSON_COMPACT) < 0 || b.failed ||
        dump_reserve(&b, 1) < 0)
        goto cleanup;
    b.p[b.len] = '\0';
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    b.p = NULL;
    error = CINCY_OK;
cleanup:
    free(b.p);
    json_decref(root);
    return error;
}
