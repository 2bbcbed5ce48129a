/* tests/policy/test_filter.c - the per-request channel and arch filter (§2.9, §2.10, Q9). */
#include "policy_test_util.h"

/* Two arches of 4.14.0 -> 4.14.1 -> 4.14.2 (+ 4.14.0 -> 4.14.2), a multi
 * 4.14.1, a risk on 4.14.0 -> 4.14.2, and channels:
 *   stable-4.14: 4.14.0 4.14.1   fast-4.14: all three
 */
static graph_snapshot *fixture(void)
{
    static const char *const arches[] = {"amd64", "arm64"};
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();

    for (size_t i = 0; i < 2; i++) {
        tu_release(rs, "4.14.0", arches[i], NULL, NULL, "url=https://errata.invalid/0");
        tu_release(rs, "4.14.1", arches[i], "4.14.0", NULL, NULL);
        tu_release(rs, "4.14.2", arches[i], "4.14.0 4.14.1", NULL, NULL);
    }
    tu_release(rs, "4.14.1", "multi", NULL, NULL, "release.openshift.io/architecture=multi");
    tu_channel(gd, "fast-4.14", "4.14.0 4.14.1 4.14.2");
    tu_channel(gd, "stable-4.14", "4.14.0 4.14.1");
    tu_risk(gd, "blocked-edges/4.14.2-R.yaml", "4.14.2", "4[.]14[.]0", "R");
    return tu_build(rs, gd);
}

static graph_snapshot *filter(const graph_snapshot *full, const char *channel, const char *arch)
{
    graph_snapshot *out = NULL;
    cincy_error e;

    cr_assert_eq(policy_filter(&out, full, channel, arch, &e), 0, "%s", tu_fmt(&e));
    cr_assert_not_null(out);
    return out;
}

Test(policy_filter, keeps_channel_and_arch_and_strips_the_arch)
{
    graph_snapshot *full = fixture();
    graph_snapshot *s = filter(full, "fast-4.14", "amd64");
    const graph_cond_group *g;
    size_t n;
    const char *k, *v;

    cr_assert_eq(graph_snapshot_node_count(s), 3);
    cr_assert_str_eq(graph_snapshot_node_version(s, 0), "4.14.0");
    cr_assert_str_eq(graph_snapshot_node_version(s, 1), "4.14.1");
    cr_assert_str_eq(graph_snapshot_node_version(s, 2), "4.14.2");
    cr_assert_str_eq(graph_snapshot_node_payload(s, 0), "quay.io/test/release@sha256:amd64-4.14.0");
    cr_assert(tu_edge(s, "4.14.0", "4.14.1"));
    cr_assert(tu_edge(s, "4.14.1", "4.14.2"));
    cr_assert_eq(graph_snapshot_edge_count(s), 2);
    g = tu_cond(s, "4.14.0", "4.14.2");
    cr_assert_not_null(g);
    cr_assert_eq(g->nrisks, 1);
    cr_assert_str_eq(g->risks[0].name, "R");
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 1);

    /* metadata in order, without release.arch */
    n = tu_node(s, "4.14.0");
    cr_assert_eq(graph_snapshot_meta_count(s, n), 3);
    graph_snapshot_meta_at(s, n, 0, &k, &v);
    cr_assert_str_eq(k, "url");
    graph_snapshot_meta_at(s, n, 1, &k, &v);
    cr_assert_str_eq(k, POLICY_KEY_MANIFESTREF);
    graph_snapshot_meta_at(s, n, 2, &k, &v);
    cr_assert_str_eq(k, POLICY_KEY_CHANNELS);
    cr_assert_str_eq(v, "fast-4.14,stable-4.14");
    cr_assert_null(graph_snapshot_meta_get(s, n, POLICY_KEY_ARCH));
    /* the full graph is untouched */
    cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", POLICY_KEY_ARCH), "amd64");
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}

Test(policy_filter, conditional_edges_only_between_surviving_nodes)
{
    graph_snapshot *full = fixture();
    graph_snapshot *s = filter(full, "stable-4.14", "arm64");

    /* 4.14.2 is not in stable: its risky pair goes with it */
    cr_assert_eq(graph_snapshot_node_count(s), 2);
    cr_assert(tu_edge(s, "4.14.0", "4.14.1"));
    cr_assert_eq(graph_snapshot_edge_count(s), 1);
    cr_assert_eq(graph_snapshot_cond_count(s), 0);
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}

Test(policy_filter, multi_arch)
{
    graph_snapshot *full = fixture();
    graph_snapshot *s = filter(full, "stable-4.14", "multi");

    cr_assert_eq(graph_snapshot_node_count(s), 1);
    cr_assert_str_eq(graph_snapshot_node_version(s, 0), "4.14.1");
    cr_assert_str_eq(graph_snapshot_meta_get(s, 0, "release.openshift.io/architecture"), "multi");
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}

Test(policy_filter, unknown_channel_or_arch_gives_an_empty_graph)
{
    graph_snapshot *full = fixture();
    const char *cases[][2] = {
        {"stable-4.99", "amd64"},
        {"stable-4.14", "s390x"},
        {"stable", "amd64"},     /* a prefix is not a member */
        {"stable-4.14", "md"},   /* Q9: no substring matching, not even for CEs */
        {"fast-4.14", "4"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        graph_snapshot *s = filter(full, cases[i][0], cases[i][1]);
        cr_assert_eq(graph_snapshot_node_count(s), 0, "%s/%s", cases[i][0], cases[i][1]);
        cr_assert_eq(graph_snapshot_edge_count(s), 0);
        cr_assert_eq(graph_snapshot_cond_count(s), 0);
        graph_snapshot_unref(s);
    }
    graph_snapshot_unref(full);
}

Test(policy_filter, list_entries_are_trimmed_and_other_build_parts_kept)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full, *s;

    /* a channels key from release metadata, with spaces; no channel files */
    tu_release(rs, "4.14.0", "amd64", NULL, NULL,
               "io.openshift.upgrades.graph.release.channels=candidate-4.14, fast-4.14 ");
    full = tu_build(rs, gd);
    s = filter(full, "fast-4.14", "amd64");
    cr_assert_eq(graph_snapshot_node_count(s), 1);
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}

Test(policy_filter, validators)
{
    cr_assert(policy_channel_valid("stable-4.16"));
    cr_assert(policy_channel_valid("a.b-c9"));
    cr_assert(policy_channel_valid("-"));
    cr_assert_not(policy_channel_valid(""));
    cr_assert_not(policy_channel_valid("Stable-4.16"));
    cr_assert_not(policy_channel_valid("stable 4.16"));
    cr_assert_not(policy_channel_valid("stable_4.16"));
    cr_assert_not(policy_channel_valid("stable-4.16\n"));
    cr_assert_not(policy_channel_valid("st\xc3\xa4ble"));

    cr_assert(policy_arch_valid("amd64"));
    cr_assert(policy_arch_valid("ppc64le"));
    cr_assert(policy_arch_valid("4"));
    cr_assert_not(policy_arch_valid(""));
    cr_assert_not(policy_arch_valid("x86-64"));
    cr_assert_not(policy_arch_valid("AMD64"));
    cr_assert_not(policy_arch_valid("arm.64"));
}
