/* tests/fuzz/targets/fuzz_world.h - a small fixed world for harnesses whose
 * parser feeds the graph: graph-data (two channels, one pure block, one risk)
 * and the demo release records made from it (4.1.0, 4.1.1, 4.2.0, 4.2.1 for
 * five arches), loaded once per process. A harness swaps one fuzzed part in,
 * builds the full graph with policy_build, and fuzz_check_snapshot checks
 * what would be served: serialisable (so every string a parser let in is
 * valid UTF-8), indices in range, and every channel view consistent.
 */
#ifndef CINCY_FUZZ_WORLD_H
#define CINCY_FUZZ_WORLD_H

#include <jansson.h>

#include "fuzz/targets/fuzz_util.h"
#include "ingest/ingest.h"
#include "policy/policy.h"

static const char *const fuzz_world_risk = "to: 4.2.0\n"
                                           "from: ^4[.]1[.]1[+].*$\n"
                                           "url: https://example.invalid/risk\n"
                                           "name: TestRisk\n"
                                           "message: Clusters may fail.\n"
                                           "matchingRules:\n"
                                           "- type: Always\n";

typedef struct fuzz_world {
    char gd_dir[512];
    char rel_dir[512];
    ingest_graph_data *gd;
    ingest_releases *releases;
} fuzz_world;

static fuzz_world fuzz_w;

/* Writes the fixed graph-data under dir (version text given). */
static inline void fuzz_world_write_gd(const char *dir, const char *version)
{
    fuzz_write_str(dir, "version", version);
    fuzz_write_str(dir, "channels/stable-4.1.yaml", "name: stable-4.1\nversions: [4.1.0, 4.1.1]\n");
    fuzz_write_str(dir, "channels/stable-4.2.yaml",
                   "name: stable-4.2\nversions: [4.1.0, 4.1.1, 4.2.0, 4.2.1]\n");
    fuzz_write_str(dir, "blocked-edges/4.2.1-pure.yaml", "to: 4.2.1\nfrom: 4[.]1[.]0[+]\n");
    fuzz_write_str(dir, "blocked-edges/4.2.0-TestRisk.yaml", fuzz_world_risk);
    fuzz_write_str(dir, "raw/metadata.json", "{}\n");
}

static inline fuzz_world *fuzz_world_get(void)
{
    cincy_error err;
    size_t n = 0;

    if (fuzz_w.gd)
        return &fuzz_w;
    fuzz_quiet();
    snprintf(fuzz_w.gd_dir, sizeof(fuzz_w.gd_dir), "%s/world-gd", fuzz_tmpdir());
    snprintf(fuzz_w.rel_dir, sizeof(fuzz_w.rel_dir), "%s/world-releases", fuzz_tmpdir());
    fuzz_world_write_gd(fuzz_w.gd_dir, "1.1.0\n");
    FUZZ_SETUP(ingest_graph_data_load_dir(&fuzz_w.gd, fuzz_w.gd_dir, &err) == 0);
    FUZZ_SETUP(ingest_demo_write(fuzz_w.gd, fuzz_w.rel_dir, &n, &err) == 0);
    FUZZ_SETUP(ingest_releases_load_dir(&fuzz_w.releases, fuzz_w.rel_dir, &err) == 0);
    FUZZ_SETUP(fuzz_w.releases->count == 20);
    return &fuzz_w;
}

/* Serialises s and checks the document against the snapshot: the counts,
 * index ranges and node versions. Returns the number of nodes. */
static inline size_t fuzz_check_json(const graph_snapshot *s, graph_json_flavor flavor)
{
    char *text = NULL;
    size_t len = 0, n = graph_snapshot_node_count(s);
    json_t *doc, *nodes, *edges, *v;
    json_error_t jerr;
    size_t i;

    /* EINVALID would mean a parser let a string through that is not UTF-8. */
    FUZZ_CHECK(graph_snapshot_to_json(&text, &len, s, flavor) == 0);
    FUZZ_CHECK(strlen(text) == len);
    doc = json_loadb(text, len, 0, &jerr);
    FUZZ_CHECK(doc != NULL);
    nodes = json_object_get(doc, "nodes");
    edges = json_object_get(doc, "edges");
    FUZZ_CHECK(json_array_size(nodes) == n);
    FUZZ_CHECK(json_array_size(edges) == graph_snapshot_edge_count(s));
    json_array_foreach(nodes, i, v)
    {
        const char *ver = json_string_value(json_object_get(v, "version"));
        FUZZ_CHECK(ver && strcmp(ver, graph_snapshot_node_version(s, i)) == 0);
    }
    json_array_foreach(edges, i, v)
    {
        json_int_t a = json_integer_value(json_array_get(v, 0));
        json_int_t b = json_integer_value(json_array_get(v, 1));
        FUZZ_CHECK(json_array_size(v) == 2 && a >= 0 && b >= 0 && (size_t)a < n && (size_t)b < n);
        FUZZ_CHECK(a != b);
    }
    FUZZ_CHECK((flavor == GRAPH_JSON_LEGACY) == (json_object_get(doc, "conditionalEdges") == NULL));
    json_decref(doc);
    free(text);
    return n;
}

/* Structural checks of a snapshot: sorted edges in range, conditional pairs
 * in range and never also unconditional, find() agreeing with the order. */
static inline void fuzz_check_structure(const graph_snapshot *s)
{
    size_t n = graph_snapshot_node_count(s), ne = graph_snapshot_edge_count(s);
    const graph_edge *e = graph_snapshot_edges(s);

    for (size_t i = 0; i < n; i++) {
        size_t at = (size_t)-1;
        FUZZ_CHECK(graph_snapshot_find(s, graph_snapshot_node_version(s, i), &at) == 0 && at == i);
    }
    for (size_t i = 0; i < ne; i++) {
        FUZZ_CHECK(e[i].from < n && e[i].to < n);
        if (i > 0)
            FUZZ_CHECK(e[i - 1].from < e[i].from ||
                       (e[i - 1].from == e[i].from && e[i - 1].to < e[i].to));
    }
    for (size_t g = 0; g < graph_snapshot_cond_count(s); g++) {
        const graph_cond_group *cg = graph_snapshot_cond_group(s, g);
        FUZZ_CHECK(cg->nedges > 0 && cg->nrisks > 0);
        for (size_t k = 0; k < cg->nedges; k++) {
            FUZZ_CHECK(cg->edges[k].from < n && cg->edges[k].to < n);
            for (size_t i = 0; i < ne; i++)
                FUZZ_CHECK(e[i].from != cg->edges[k].from || e[i].to != cg->edges[k].to);
        }
    }
}

/* Checks the full graph and its view for every (channel of gd, arch). */
static inline void fuzz_check_snapshot(const graph_snapshot *full, const ingest_graph_data *gd)
{
    static const char *const arches[] = {"amd64", "arm64", "multi"};
    cincy_error err;

    fuzz_check_structure(full);
    fuzz_check_json(full, GRAPH_JSON_V1);
    for (size_t c = 0; gd && c < gd->nchannels; c++)
        for (size_t a = 0; a < sizeof(arches) / sizeof(*arches); a++) {
            graph_snapshot *view = NULL;
            FUZZ_CHECK(policy_filter(&view, full, gd->channels[c].name, arches[a], &err) == 0);
            FUZZ_CHECK(graph_snapshot_node_count(view) <= graph_snapshot_node_count(full));
            fuzz_check_structure(view);
            fuzz_check_json(view, GRAPH_JSON_V1);
            fuzz_check_json(view, GRAPH_JSON_LEGACY);
            graph_snapshot_unref(view);
        }
}

#endif
