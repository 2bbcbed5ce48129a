/* tests/policy/test_releases.c - nodes and edges from release records (§2.10, §3.3, §3.5, §3.6),
 * and raw/metadata.json (§2.7). */
#include "policy_test_util.h"

Test(policy_releases, node_version_takes_arch_as_build)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    size_t n;
    const char *k, *v;

    tu_release(rs, "4.14.1", "amd64", NULL, NULL, "url=https://errata.invalid/1");
    tu_release(rs, "4.2.10-s390x", "s390x", NULL, NULL, NULL);
    tu_release(rs, "4.14.1+weird.build", "arm64", NULL, NULL, NULL); /* build replaced */
    s = tu_build(rs, gd);

    cr_assert_eq(graph_snapshot_node_count(s), 3);
    cr_assert(tu_has_node(s, "4.14.1+amd64"));
    cr_assert(tu_has_node(s, "4.2.10-s390x+s390x"));
    cr_assert(tu_has_node(s, "4.14.1+arm64"));
    cr_assert_not(tu_has_node(s, "4.14.1"));

    n = tu_node(s, "4.14.1+amd64");
    cr_assert_str_eq(graph_snapshot_node_payload(s, n), "quay.io/test/release@sha256:amd64-4.14.1");
    /* metadata: release metadata in file order, then manifestref, then arch */
    cr_assert_eq(graph_snapshot_meta_count(s, n), 3);
    graph_snapshot_meta_at(s, n, 0, &k, &v);
    cr_assert_str_eq(k, "url");
    cr_assert_str_eq(v, "https://errata.invalid/1");
    graph_snapshot_meta_at(s, n, 1, &k, &v);
    cr_assert_str_eq(k, POLICY_KEY_MANIFESTREF);
    cr_assert_str_eq(v, "sha256:amd64-4.14.1");
    graph_snapshot_meta_at(s, n, 2, &k, &v);
    cr_assert_str_eq(k, POLICY_KEY_ARCH);
    cr_assert_str_eq(v, "amd64");
    graph_snapshot_unref(s);
}

Test(policy_releases, multi_shard_is_skipped)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    /* the per-arch image of a multi release says architecture=multi */
    tu_release(rs, "4.15.0", "amd64", NULL, NULL, "release.openshift.io/architecture=multi");
    tu_release(rs, "4.15.0", "multi", NULL, NULL, "release.openshift.io/architecture=multi");
    /* and it may not even be listed as an edge source */
    tu_release(rs, "4.15.1", "amd64", "4.15.0", NULL, NULL);
    s = tu_build(rs, gd);

    cr_assert_eq(graph_snapshot_node_count(s), 2);
    cr_assert(tu_has_node(s, "4.15.0+multi"));
    cr_assert(tu_has_node(s, "4.15.1+amd64"));
    cr_assert_not(tu_has_node(s, "4.15.0+amd64"));
    cr_assert_eq(graph_snapshot_edge_count(s), 0);
    cr_assert_str_eq(tu_meta(s, "4.15.0+multi", "release.openshift.io/architecture"), "multi");
    graph_snapshot_unref(s);
}

Test(policy_releases, previous_and_next_take_the_node_arch)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_release(rs, "4.14.0", "amd64", NULL, "4.14.2", NULL);
    tu_release(rs, "4.14.1", "amd64", "4.14.0 4.13.99", NULL, NULL); /* 4.13.99: no such release */
    tu_release(rs, "4.14.2", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.0", "arm64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "arm64", "4.14.0+amd64", NULL, NULL); /* build forced to arm64 */
    s = tu_build(rs, gd);

    cr_assert_eq(graph_snapshot_node_count(s), 5, "no placeholder for 4.13.99");
    cr_assert_eq(graph_snapshot_edge_count(s), 3);
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.2+amd64"));
    cr_assert(tu_edge(s, "4.14.0+arm64", "4.14.1+arm64"));
    graph_snapshot_unref(s);
}

Test(policy_releases, same_version_same_payload_is_one_node)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", "4.14.0", NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", NULL, NULL, NULL); /* a second tag, same digest */
    s = tu_build(rs, gd);
    cr_assert_eq(graph_snapshot_node_count(s), 2);
    cr_assert_eq(graph_snapshot_edge_count(s), 1);
    graph_snapshot_unref(s);
}

Test(policy_releases, same_version_two_payloads_fails_naming_both)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    cincy_error e;

    tu_release_p(rs, "4.14.1", "amd64", "quay.io/a/r@sha256:aaaa", NULL, NULL, NULL);
    tu_release_p(rs, "4.14.1", "amd64", "quay.io/a/r@sha256:bbbb", NULL, NULL, NULL);
    rs->items[1].source[strlen(rs->items[1].source) - 1] = '9'; /* "releases/amd64/4.14.9" */
    e = tu_build_fails(rs, gd, CINCY_EINVALID);
    cr_assert_str_eq(e.file, "releases/amd64/4.14.9");
    cr_assert_str_eq(e.msg,
                     "version 4.14.1+amd64 has two payloads: quay.io/a/r@sha256:aaaa (from "
                     "releases/amd64/4.14.1) and quay.io/a/r@sha256:bbbb");
}

Test(policy_releases, bad_release_version_fails_naming_source)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    cincy_error e;

    tu_release(rs, "4.14", "amd64", NULL, NULL, NULL);
    e = tu_build_fails(rs, gd, CINCY_EINVALID);
    cr_assert_str_eq(tu_fmt(&e), "releases/amd64/4.14: release version '4.14' is not semver");
}

Test(policy_releases, cycle_fails_the_build)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    cincy_error e;

    tu_release(rs, "4.1.0", "amd64", "4.1.1", NULL, NULL);
    tu_release(rs, "4.1.1", "amd64", "4.1.0", NULL, NULL);
    e = tu_build_fails(rs, gd, CINCY_EINVALID);
    cr_assert(strstr(e.msg, "cycle") != NULL, "%s", e.msg);
}

Test(policy_releases, raw_metadata_appends_to_every_arch)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    const char *add = "io.openshift.upgrades.graph.previous.add";

    tu_release(rs, "4.1.0-rc.4", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.1.0-rc.9", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.1.0", "amd64", NULL, NULL, "io.openshift.upgrades.graph.previous.add=4.1.0-rc.4");
    tu_release(rs, "4.1.0-rc.9", "arm64", NULL, NULL, NULL);
    tu_release(rs, "4.1.0", "arm64", NULL, NULL, NULL);
    tu_raw(gd, "4.1.0", "io.openshift.upgrades.graph.previous.add=4.1.0-rc.9;x=y");
    tu_raw(gd, "4.1.0-rc.9", "x=z");
    tu_raw(gd, "not-a-version", "x=ignored");
    s = tu_build(rs, gd);

    cr_assert_str_eq(tu_meta(s, "4.1.0+amd64", add), "4.1.0-rc.4,4.1.0-rc.9");
    cr_assert_str_eq(tu_meta(s, "4.1.0+arm64", add), "4.1.0-rc.9");
    cr_assert_str_eq(tu_meta(s, "4.1.0+amd64", "x"), "y");
    cr_assert_str_eq(tu_meta(s, "4.1.0-rc.9+arm64", "x"), "z");
    cr_assert_null(tu_meta(s, "4.1.0-rc.4+amd64", "x"));
    /* and the label then adds the edges, per arch */
    cr_assert_eq(graph_snapshot_edge_count(s), 3);
    cr_assert(tu_edge(s, "4.1.0-rc.4+amd64", "4.1.0+amd64"));
    cr_assert(tu_edge(s, "4.1.0-rc.9+amd64", "4.1.0+amd64"));
    cr_assert(tu_edge(s, "4.1.0-rc.9+arm64", "4.1.0+arm64"));
    graph_snapshot_unref(s);
}

Test(policy_releases, stats_are_filled)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s = NULL;
    policy_stats st;
    cincy_error e;

    memset(&st, 0xff, sizeof(st));
    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", "4.14.0", NULL, NULL);
    tu_release(rs, "4.14.2", "amd64", "4.14.0 4.14.1", NULL, NULL);
    tu_channel(gd, "stable-4.14", "4.14.0 4.14.1 4.14.2");
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", "nothing");
    tu_risk(gd, "blocked-edges/4.14.2-R.yaml", "4.14.2", "4[.]14[.]0", "R");
    cr_assert_eq(policy_build(&s, rs, gd, &st, &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(st.releases, 3);
    cr_assert_eq(st.nodes, 3);
    cr_assert_eq(st.edges, 2);
    cr_assert_eq(st.cond_edges, 1);
    cr_assert_eq(st.channels, 1);
    cr_assert_eq(st.blocks, 2);
    graph_snapshot_unref(s);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
}
