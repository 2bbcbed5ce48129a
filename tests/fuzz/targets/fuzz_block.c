/* tests/fuzz/targets/fuzz_block.c - a blocked-edges file (ingest_block_parse),
 * then the graph built with it.
 *
 * Invariants: an accepted file has a semver `to` and a `from`; a risk has a
 * usable url, a name, a message and at least one rule, each PromQL rule with
 * its query. The graph built with the block added must build (the parser
 * accepted the regex), serialise, and differ from the graph without any
 * block only as blocks can: the same nodes; every unconditional edge one of
 * the baseline's; every conditional pair a baseline edge. (Not the graph
 * with the fixed blocks: a pure block on the same target overwrites the
 * fixed one, a documented quirk of the reference, spec §2.5.)
 */
#include "fuzz/targets/fuzz_world.h"
#include "ingest/ingest_internal.h"

static graph_snapshot *baseline;

static int has_pair(const graph_snapshot *s, const char *from, const char *to, int cond)
{
    size_t f, t;

    if (graph_snapshot_find(s, from, &f) < 0 || graph_snapshot_find(s, to, &t) < 0)
        return 0;
    if (!cond) {
        const graph_edge *e = graph_snapshot_edges(s);
        for (size_t i = 0; i < graph_snapshot_edge_count(s); i++)
            if (e[i].from == f && e[i].to == t)
                return 1;
        return 0;
    }
    for (size_t g = 0; g < graph_snapshot_cond_count(s); g++) {
        const graph_cond_group *cg = graph_snapshot_cond_group(s, g);
        for (size_t k = 0; k < cg->nedges; k++)
            if (cg->edges[k].from == f && cg->edges[k].to == t)
                return 1;
    }
    return 0;
}

static void check_against_baseline(const graph_snapshot *s)
{
    const graph_edge *e = graph_snapshot_edges(s);

    FUZZ_CHECK(graph_snapshot_node_count(s) == graph_snapshot_node_count(baseline));
    for (size_t i = 0; i < graph_snapshot_edge_count(s); i++)
        FUZZ_CHECK(has_pair(baseline, graph_snapshot_node_version(s, e[i].from),
                            graph_snapshot_node_version(s, e[i].to), 0));
    for (size_t g = 0; g < graph_snapshot_cond_count(s); g++) {
        const graph_cond_group *cg = graph_snapshot_cond_group(s, g);
        for (size_t k = 0; k < cg->nedges; k++) {
            const char *f = graph_snapshot_node_version(s, cg->edges[k].from);
            const char *t = graph_snapshot_node_version(s, cg->edges[k].to);
            FUZZ_CHECK(has_pair(baseline, f, t, 0) || has_pair(baseline, f, t, 1));
        }
    }
}

static void check_fields(const ingest_block *b)
{
    graph_version v;

    FUZZ_CHECK(b->to && b->from && strcmp(b->file, "blocked-edges/fuzz.yaml") == 0);
    FUZZ_CHECK(graph_version_parse(&v, b->to, NULL) == 0);
    graph_version_clear(&v);
    if (!b->is_risk)
        return;
    FUZZ_CHECK(b->risk.url && ingest_risk_url_valid(b->risk.url));
    FUZZ_CHECK(b->risk.name && b->risk.name[0] && b->risk.message && b->risk.message[0]);
    FUZZ_CHECK(b->risk.nrules > 0);
    for (size_t i = 0; i < b->risk.nrules; i++)
        FUZZ_CHECK((b->risk.rules[i].type == GRAPH_RULE_PROMQL) ==
                   (b->risk.rules[i].promql != NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_world *w = fuzz_world_get();
    ingest_graph_data gd = *w->gd;
    ingest_block b, *blocks;
    graph_snapshot *full = NULL;
    cincy_error err;

    if (!baseline) {
        /* Without any block: a pure block overwrites an earlier one on the
         * same target (spec §2.5 quirk), so the fixed blocks may come back. */
        ingest_graph_data none = *w->gd;
        none.nblocks = 0;
        FUZZ_SETUP(policy_build(&baseline, w->releases, &none, NULL, &err) == 0);
    }
    if (ingest_block_parse(&b, (const char *)data, size, "blocked-edges/fuzz.yaml", &err) < 0) {
        FUZZ_CHECK(err.code == CINCY_EINVALID || err.code == CINCY_ETOOBIG);
        FUZZ_CHECK(strcmp(err.file, "blocked-edges/fuzz.yaml") == 0 && err.msg[0]);
        return 0;
    }
    check_fields(&b);
    blocks = calloc(gd.nblocks + 1, sizeof(*blocks));
    FUZZ_SETUP(blocks != NULL);
    memcpy(blocks, gd.blocks, gd.nblocks * sizeof(*blocks));
    blocks[gd.nblocks] = b; /* borrowed */
    gd.blocks = blocks;
    gd.nblocks++;
    FUZZ_CHECK(policy_build(&full, w->releases, &gd, NULL, &err) == 0);
    fuzz_check_snapshot(full, &gd);
    check_against_baseline(full);
    graph_snapshot_unref(full);
    free(blocks);
    ingest_block_clear(&b);
    return 0;
}
