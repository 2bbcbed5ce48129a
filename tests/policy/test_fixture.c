/* tests/policy/test_fixture.c - ingest -> policy -> JSON over a small on-disk fixture.
 *
 * tests/data/policy/small holds graph-data and release directories that
 * exercise every stage once, read through ingest's real loaders:
 *   - 4.16.1 has three images: amd64, multi, and the amd64 shard of the multi
 *     release (architecture=multi in its metadata), which must be skipped;
 *   - blocked-edges/4.16.2.yaml is a pure block removing 4.16.0 -> 4.16.2;
 *   - blocked-edges/4.16.1-Risky.yaml makes 4.15.9 -> 4.16.1 conditional;
 *   - raw/metadata.json adds 4.15.9 -> 4.16.3; 4.16.3's own previous.remove
 *     label drops 4.16.1 -> 4.16.3;
 *   - 4.16.3 is only in fast-4.16.
 */
#include "policy_test_util.h"

#define SMALL CINCY_SOURCE_DIR "/tests/data/policy/small"
#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
             c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static graph_snapshot *load_small(void)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    cincy_error e;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, SMALL "/graph-data", &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(ingest_releases_load_dir(&rs, SMALL "/releases", &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(rs->count, 9);
    return tu_build(rs, gd);
}

Test(policy_fixture, full_graph)
{
    graph_snapshot *s = load_small();

    cr_assert_eq(graph_snapshot_node_count(s), 8);
    cr_assert_str_eq(graph_snapshot_node_payload(s, tu_node(s, "4.16.1+amd64")),
                     "quay.io/test/ocp@" D("3"));
    cr_assert_str_eq(tu_meta(s, "4.16.1+multi", POLICY_KEY_MANIFESTREF), D("8"));
    cr_assert(tu_edge(s, "4.15.9+amd64", "4.16.3+amd64"));
    cr_assert(tu_edge(s, "4.16.2+amd64", "4.16.3+amd64"));
    cr_assert_not(tu_edge(s, "4.16.1+amd64", "4.16.3+amd64"));
    cr_assert_eq(tu_in_degree(s, "4.16.3+amd64"), 2);
    cr_assert(tu_edge(s, "4.16.0+arm64", "4.16.1+arm64"));
    cr_assert_str_eq(tu_meta(s, "4.16.3+amd64", POLICY_KEY_CHANNELS), "fast-4.16");
    cr_assert_str_eq(tu_meta(s, "4.16.1+multi", POLICY_KEY_CHANNELS), "fast-4.16,stable-4.16");
    cr_assert_eq(graph_snapshot_edge_count(s), 6);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 1);
    graph_snapshot_unref(s);
}

Test(policy_fixture, stable_amd64_json)
{
    graph_snapshot *full = load_small(), *s = NULL;
    char *json = NULL;
    size_t len = 0;
    cincy_error e;
    static const char expected[] =
        "{\"version\":1,\"nodes\":["
        "{\"version\":\"4.15.9\",\"payload\":\"quay.io/test/ocp@" D("1") "\",\"metadata\":{"
        "\"url\":\"https://errata.invalid/4.15.9\","
        "\"io.openshift.upgrades.graph.release.manifestref\":\"" D("1") "\","
        "\"io.openshift.upgrades.graph.release.channels\":\"fast-4.16,stable-4.16\"}},"
        "{\"version\":\"4.16.0\",\"payload\":\"quay.io/test/ocp@" D("2") "\",\"metadata\":{"
        "\"io.openshift.upgrades.graph.release.manifestref\":\"" D("2") "\","
        "\"io.openshift.upgrades.graph.release.channels\":\"fast-4.16,stable-4.16\"}},"
        "{\"version\":\"4.16.1\",\"payload\":\"quay.io/test/ocp@" D("3") "\",\"metadata\":{"
        "\"io.openshift.upgrades.graph.release.manifestref\":\"" D("3") "\","
        "\"io.openshift.upgrades.graph.previous.remove_regex\":\"4[.]15[.].*\","
        "\"io.openshift.upgrades.graph.release.channels\":\"fast-4.16,stable-4.16\"}},"
        "{\"version\":\"4.16.2\",\"payload\":\"quay.io/test/ocp@" D("4") "\",\"metadata\":{"
        "\"io.openshift.upgrades.graph.release.manifestref\":\"" D("4") "\","
        "\"io.openshift.upgrades.graph.previous.remove_regex\":\"4[.]16[.]0\","
        "\"io.openshift.upgrades.graph.release.channels\":\"fast-4.16,stable-4.16\"}}],"
        "\"edges\":[[0,1],[1,2],[2,3]],"
        "\"conditionalEdges\":[{\"edges\":[{\"from\":\"4.15.9\",\"to\":\"4.16.1\"}],"
        "\"risks\":[{\"url\":\"https://example.invalid/risky\",\"name\":\"Risky\","
        "\"message\":\"Updating from 4.15 may hurt.\",\"matchingRules\":[{\"type\":\"PromQL\","
        "\"promql\":{\"promql\":\"max(cluster_infrastructure_provider{type=\\\"None\\\"})\"}}]}]}]}";

    cr_assert_eq(policy_filter(&s, full, "stable-4.16", "amd64", &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(graph_snapshot_to_json(&json, &len, s, GRAPH_JSON_V1), 0);
    cr_assert_str_eq(json, expected);
    cr_assert_eq(len, strlen(expected));
    free(json);
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}
