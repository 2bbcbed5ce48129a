/* tests/policy/test_blocks.c - pure blocks (§2.5) and conditional risks (§2.6). */
#include "policy_test_util.h"

#define REMOVE_REGEX "io.openshift.upgrades.graph.previous.remove_regex"

/* 4.14.0 -> 4.14.1 -> 4.14.2 and 4.14.0 -> 4.14.2, for each arch listed. */
static ingest_releases *chain(const char *const *arches, size_t n)
{
    ingest_releases *rs = tu_releases();

    for (size_t i = 0; i < n; i++) {
        tu_release(rs, "4.13.5", arches[i], NULL, NULL, NULL);
        tu_release(rs, "4.14.0", arches[i], "4.13.5", NULL, NULL);
        tu_release(rs, "4.14.1", arches[i], "4.13.5 4.14.0", NULL, NULL);
        tu_release(rs, "4.14.2", arches[i], "4.14.0 4.14.1", NULL, NULL);
    }
    return rs;
}

static const char *const two_arches[] = {"amd64", "arm64"};

Test(policy_blocks, pure_block_applies_to_every_arch)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    /* unanchored: "14[.]0" matches "4.14.0+amd64" */
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", "14[.]0");
    s = tu_build(chain(two_arches, 2), gd);

    cr_assert_not(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_not(tu_edge(s, "4.14.0+arm64", "4.14.1+arm64"));
    cr_assert(tu_edge(s, "4.13.5+amd64", "4.14.1+amd64"));
    cr_assert(tu_edge(s, "4.13.5+arm64", "4.14.1+arm64"));
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.2+amd64"));
    cr_assert_eq(graph_snapshot_edge_count(s), 2 * 4);
    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", REMOVE_REGEX), "14[.]0");
    cr_assert_str_eq(tu_meta(s, "4.14.1+arm64", REMOVE_REGEX), "14[.]0");
    cr_assert_null(tu_meta(s, "4.14.2+arm64", REMOVE_REGEX));
    graph_snapshot_unref(s);
}

Test(policy_blocks, pure_block_with_build_hits_only_that_arch)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_block(gd, "blocked-edges/4.14.1+arm64.yaml", "4.14.1+arm64", ".*");
    s = tu_build(chain(two_arches, 2), gd);

    cr_assert_eq(tu_in_degree(s, "4.14.1+arm64"), 0);
    cr_assert_eq(tu_in_degree(s, "4.14.1+amd64"), 2);
    cr_assert_null(tu_meta(s, "4.14.1+amd64", REMOVE_REGEX));
    cr_assert_str_eq(tu_meta(s, "4.14.1+arm64", REMOVE_REGEX), ".*");
    graph_snapshot_unref(s);
}

Test(policy_blocks, pure_block_legacy_s390x_prerelease)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_release(rs, "4.2.10-s390x", "s390x", NULL, NULL, NULL);
    tu_release(rs, "4.2.11-s390x", "s390x", "4.2.10-s390x", NULL, NULL);
    /* the same odd name on another arch is not covered by the special case */
    tu_release(rs, "4.2.10-s390x", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.2.11-s390x", "amd64", "4.2.10-s390x", NULL, NULL);
    tu_block(gd, "blocked-edges/4.2.11-s390x.yaml", "4.2.11-s390x", ".*");
    s = tu_build(rs, gd);

    cr_assert_not(tu_edge(s, "4.2.10-s390x+s390x", "4.2.11-s390x+s390x"));
    cr_assert(tu_edge(s, "4.2.10-s390x+amd64", "4.2.11-s390x+amd64"));
    cr_assert_null(tu_meta(s, "4.2.11-s390x+amd64", REMOVE_REGEX));
    graph_snapshot_unref(s);
}

Test(policy_blocks, later_pure_block_overwrites_earlier_one)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    static const char *const amd64[] = {"amd64"};

    /* quirk Q7: both target 4.14.1; the second file's regex replaces the first */
    tu_block(gd, "blocked-edges/4.14.1-a.yaml", "4.14.1", "4[.]14[.]0");
    tu_block(gd, "blocked-edges/4.14.1-b.yaml", "4.14.1", "4[.]13[.].*");
    s = tu_build(chain(amd64, 1), gd);

    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", REMOVE_REGEX), "4[.]13[.].*");
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_not(tu_edge(s, "4.13.5+amd64", "4.14.1+amd64"));
    graph_snapshot_unref(s);
}

Test(policy_blocks, risk_turns_existing_edges_conditional)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    const graph_cond_group *g;
    static const char *const amd64[] = {"amd64"};

    tu_risk(gd, "blocked-edges/4.14.1-Bad.yaml", "4.14.1", "4[.]13[.].*", "Bad");
    s = tu_build(chain(amd64, 1), gd);

    cr_assert_not(tu_edge(s, "4.13.5+amd64", "4.14.1+amd64"));
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_eq(graph_snapshot_cond_count(s), 1);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 1);
    g = tu_cond(s, "4.13.5+amd64", "4.14.1+amd64");
    cr_assert_not_null(g);
    cr_assert_eq(g->nrisks, 1);
    cr_assert_str_eq(g->risks[0].name, "Bad");
    cr_assert_str_eq(g->risks[0].url, "https://example.invalid/Bad");
    cr_assert_eq(g->risks[0].nrules, 1);
    cr_assert_eq(g->risks[0].rules[0].type, GRAPH_RULE_ALWAYS);
    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", REMOVE_REGEX), "4[.]13[.].*");
    graph_snapshot_unref(s);
}

Test(policy_blocks, risk_without_an_edge_creates_nothing)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    static const char *const amd64[] = {"amd64"};

    /* 4.13.5 -> 4.14.2 was never an edge: a risk never creates a path */
    tu_risk(gd, "blocked-edges/4.14.2-Bad.yaml", "4.14.2", "4[.]13[.]5", "Bad");
    s = tu_build(chain(amd64, 1), gd);
    cr_assert_eq(graph_snapshot_cond_count(s), 0);
    cr_assert_eq(graph_snapshot_edge_count(s), 5);
    graph_snapshot_unref(s);
}

Test(policy_blocks, two_risks_on_one_edge_make_one_group_in_file_order)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    const graph_cond_group *g;

    tu_risk(gd, "blocked-edges/4.14.2-A.yaml", "4.14.2", "4[.]14[.]1", "Zeta");
    tu_risk(gd, "blocked-edges/4.14.2-B.yaml", "4.14.2", ".*", "Alpha");
    s = tu_build(chain(two_arches, 2), gd);

    /* (4.14.1 -> 4.14.2) has both risks; (4.14.0 -> 4.14.2) only Alpha */
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 4);
    cr_assert_eq(graph_snapshot_cond_count(s), 2);
    g = tu_cond(s, "4.14.1+arm64", "4.14.2+arm64");
    cr_assert_not_null(g);
    cr_assert_eq(g->nrisks, 2);
    cr_assert_str_eq(g->risks[0].name, "Zeta");
    cr_assert_str_eq(g->risks[1].name, "Alpha");
    cr_assert_eq(g, tu_cond(s, "4.14.1+amd64", "4.14.2+amd64"));
    g = tu_cond(s, "4.14.0+amd64", "4.14.2+amd64");
    cr_assert_not_null(g);
    cr_assert_eq(g->nrisks, 1);
    cr_assert_str_eq(g->risks[0].name, "Alpha");
    cr_assert_eq(tu_in_degree(s, "4.14.2+amd64"), 0);
    cr_assert_str_eq(tu_meta(s, "4.14.2+amd64", REMOVE_REGEX), "4[.]14[.]1|.*");
    graph_snapshot_unref(s);
}

Test(policy_blocks, blocked_and_risky_edge_ends_conditional)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    const graph_cond_group *g;
    static const char *const amd64[] = {"amd64"};

    /* quirk Q8: risks are resolved before removals */
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", ".*");
    tu_risk(gd, "blocked-edges/4.14.1-R.yaml", "4.14.1", "4[.]14[.]0", "R");
    s = tu_build(chain(amd64, 1), gd);

    cr_assert_eq(tu_in_degree(s, "4.14.1+amd64"), 0);
    g = tu_cond(s, "4.14.0+amd64", "4.14.1+amd64");
    cr_assert_not_null(g);
    cr_assert_str_eq(g->risks[0].name, "R");
    cr_assert_null(tu_cond(s, "4.13.5+amd64", "4.14.1+amd64"));
    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", REMOVE_REGEX), ".*|4[.]14[.]0");
    graph_snapshot_unref(s);
}

Test(policy_blocks, risk_regex_selects_sources_per_arch)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    /* the regex sees "+arch": only the amd64 edge is risky, arm64 stays plain */
    tu_risk(gd, "blocked-edges/4.14.1-R.yaml", "4.14.1", "^4[.]14[.]0[+]amd64$", "R");
    s = tu_build(chain(two_arches, 2), gd);

    cr_assert_not_null(tu_cond(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_not(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_null(tu_cond(s, "4.14.0+arm64", "4.14.1+arm64"));
    cr_assert(tu_edge(s, "4.14.0+arm64", "4.14.1+arm64"));
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 1);
    graph_snapshot_unref(s);
}

Test(policy_blocks, risk_with_build_marks_every_arch_but_resolves_one)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    /* §2.6: the remove_regex expansion ignores the build, the pair lookup
     * does not; so arm64 loses its edge without getting a conditional one. */
    tu_risk(gd, "blocked-edges/4.14.1+amd64-R.yaml", "4.14.1+amd64", "4[.]14[.]0", "R");
    s = tu_build(chain(two_arches, 2), gd);

    cr_assert_not_null(tu_cond(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_null(tu_cond(s, "4.14.0+arm64", "4.14.1+arm64"));
    cr_assert_not(tu_edge(s, "4.14.0+arm64", "4.14.1+arm64"));
    cr_assert_str_eq(tu_meta(s, "4.14.1+arm64", REMOVE_REGEX), "4[.]14[.]0");
    graph_snapshot_unref(s);
}

Test(policy_blocks, invalid_risk_regex_fails_naming_file)
{
    ingest_graph_data *gd = tu_graph_data();
    cincy_error e;
    static const char *const amd64[] = {"amd64"};

    /* ingest drops such files; a hand-built record must still fail cleanly */
    tu_risk(gd, "blocked-edges/4.14.1-R.yaml", "4.14.1", "4[.14", "R");
    e = tu_build_fails(chain(amd64, 1), gd, CINCY_EINVALID);
    cr_assert_str_eq(e.file, "blocked-edges/4.14.1-R.yaml");
    cr_assert(strstr(e.msg, "invalid regex '4[.14'") != NULL, "%s", e.msg);
}
