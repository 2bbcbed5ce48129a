/* tests/fuzz/targets/fuzz_upstream.c - an upstream Cincinnati graph body as
 * the relay reads it (upstream_body_parse), merged, built in relay mode and
 * served for the fetched channel/arch.
 *
 * Invariants: a body that parses merges and builds (a relay of one body
 * cannot have two payloads per version; a cycle is the only build failure);
 * the served view holds only versions the body listed, and only edges the
 * body served; and serving is a fixed point: the served JSON, fetched again
 * as an upstream body, serves byte for byte the same JSON.
 */
#include "fuzz/targets/fuzz_world.h"
#include "ingest/upstream_internal.h"

static const upstream_pair_id pair_id = {"fuzz-ch", "amd64",
                                         "http://upstream.invalid/graph?channel=fuzz-ch&arch=amd64"};

static int body_has_version(const upstream_body *b, const char *v)
{
    for (size_t i = 0; i < b->nnodes; i++)
        if (strcmp(b->nodes[i].version, v) == 0)
            return 1;
    return 0;
}

static int body_has_edge(const upstream_body *b, const char *from, const char *to)
{
    for (size_t i = 0; i < b->nedges; i++)
        if (strcmp(b->nodes[b->edges[i].from].version, from) == 0 &&
            strcmp(b->nodes[b->edges[i].to].version, to) == 0)
            return 1;
    return 0;
}

/* Body -> merged graph -> relay build -> view -> JSON. Returns 0 and the
 * JSON in *out, or the build's error (a cycle). */
static int serve(char **out, size_t *len, const upstream_body *body)
{
    const upstream_body *bodies[1] = {body};
    ingest_upstream_graph *g = NULL;
    graph_snapshot *full = NULL, *view = NULL;
    cincy_error err;
    int rc;

    FUZZ_CHECK(upstream_merge(&g, bodies, &pair_id, 1, &err) == 0);
    rc = policy_build_upstream(&full, g, NULL, NULL, &err);
    if (rc == 0) {
        fuzz_check_structure(full);
        FUZZ_CHECK(policy_filter(&view, full, pair_id.channel, pair_id.arch, &err) == 0);
        fuzz_check_structure(view);
        FUZZ_CHECK(graph_snapshot_to_json(out, len, view, GRAPH_JSON_V1) == 0);
        for (size_t i = 0; i < graph_snapshot_node_count(view); i++)
            FUZZ_CHECK(body_has_version(body, graph_snapshot_node_version(view, i)));
        for (size_t i = 0; i < graph_snapshot_edge_count(view); i++) {
            const graph_edge *e = &graph_snapshot_edges(view)[i];
            FUZZ_CHECK(body_has_edge(body, graph_snapshot_node_version(view, e->from),
                                     graph_snapshot_node_version(view, e->to)));
        }
    } else {
        FUZZ_CHECK(err.msg[0] && strstr(err.msg, "cycle"));
    }
    graph_snapshot_unref(view);
    graph_snapshot_unref(full);
    ingest_upstream_graph_free(g);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    upstream_body body = {0}, again = {0};
    char *json = NULL, *json2 = NULL;
    size_t len = 0, len2 = 0;
    cincy_error err;

    fuzz_quiet();
    if (upstream_body_parse(&body, (const char *)data, size, &pair_id, &err) < 0) {
        FUZZ_CHECK(err.code != CINCY_OK && err.msg[0]);
        return 0;
    }
    if (serve(&json, &len, &body) == 0) {
        FUZZ_CHECK(upstream_body_parse(&again, json, len, &pair_id, &err) == 0);
        FUZZ_CHECK(serve(&json2, &len2, &again) == 0);
        FUZZ_CHECK(len == len2 && memcmp(json, json2, len) == 0);
        upstream_body_clear(&again);
    }
    free(json);
    free(json2);
    upstream_body_clear(&body);
    return 0;
}
