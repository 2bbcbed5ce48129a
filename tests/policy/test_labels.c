/* tests/policy/test_labels.c - edge labels in node metadata (§2.8). */
#include "policy_test_util.h"

#define L_PREV_ADD "io.openshift.upgrades.graph.previous.add="
#define L_NEXT_ADD "io.openshift.upgrades.graph.next.add="
#define L_PREV_REMOVE "io.openshift.upgrades.graph.previous.remove="
#define L_PREV_REMOVE_REGEX "io.openshift.upgrades.graph.previous.remove_regex="
#define L_NEXT_REMOVE "io.openshift.upgrades.graph.next.remove="

/* 4.14.0 .. 4.14.3 on amd64 and arm64, with no edges except what meta
 * (applied to the amd64 node of `at`) and the arm64 copies ask for. */
static ingest_releases *four(const char *at, const char *meta)
{
    static const char *const versions[] = {"4.14.0", "4.14.1", "4.14.2", "4.14.3"};
    ingest_releases *rs = tu_releases();

    for (size_t i = 0; i < 4; i++) {
        const char *prev = i == 0 ? NULL : i == 1 ? "4.14.0" : i == 2 ? "4.14.0 4.14.1" : "4.14.0 4.14.1 4.14.2";
        tu_release(rs, versions[i], "amd64", prev, NULL,
                   strcmp(versions[i], at) == 0 ? meta : NULL);
        tu_release(rs, versions[i], "arm64", prev, NULL, NULL);
    }
    return rs;
}

Test(policy_labels, previous_add_and_next_add)
{
    ingest_releases *rs = tu_releases();
    graph_snapshot *s;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", NULL, NULL, L_PREV_ADD " 4.14.0 , 4.13.0");
    tu_release(rs, "4.14.2", "amd64", NULL, NULL, L_NEXT_ADD "4.14.3+arm64");
    tu_release(rs, "4.14.3", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.0", "arm64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "arm64", NULL, NULL, NULL);
    s = tu_build(rs, tu_graph_data());

    /* items trimmed, unknown 4.13.0 ignored, build forced to the node's arch */
    cr_assert_eq(graph_snapshot_edge_count(s), 2);
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert(tu_edge(s, "4.14.2+amd64", "4.14.3+amd64"));
    /* labels stay in the metadata */
    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", "io.openshift.upgrades.graph.previous.add"),
                     " 4.14.0 , 4.13.0");
    graph_snapshot_unref(s);
}

Test(policy_labels, previous_remove_csv)
{
    graph_snapshot *s = tu_build(four("4.14.3", L_PREV_REMOVE "4.14.0, 4.14.2 ,4.99.0"),
                                 tu_graph_data());

    cr_assert_not(tu_edge(s, "4.14.0+amd64", "4.14.3+amd64"));
    cr_assert_not(tu_edge(s, "4.14.2+amd64", "4.14.3+amd64"));
    cr_assert(tu_edge(s, "4.14.1+amd64", "4.14.3+amd64"));
    cr_assert_eq(tu_in_degree(s, "4.14.3+arm64"), 3);
    cr_assert_eq(graph_snapshot_edge_count(s), 2 * 6 - 2);
    graph_snapshot_unref(s);
}

Test(policy_labels, previous_remove_star_removes_all_incoming)
{
    graph_snapshot *s = tu_build(four("4.14.2", L_PREV_REMOVE " * "), tu_graph_data());

    cr_assert_eq(tu_in_degree(s, "4.14.2+amd64"), 0);
    cr_assert(tu_edge(s, "4.14.2+amd64", "4.14.3+amd64"));
    cr_assert_eq(tu_in_degree(s, "4.14.2+arm64"), 2);
    graph_snapshot_unref(s);
}

Test(policy_labels, previous_remove_regex_label)
{
    graph_snapshot *s =
        tu_build(four("4.14.3", L_PREV_REMOVE_REGEX "^4[.]14[.][01][+]"), tu_graph_data());

    cr_assert_eq(tu_in_degree(s, "4.14.3+amd64"), 1);
    cr_assert(tu_edge(s, "4.14.2+amd64", "4.14.3+amd64"));
    cr_assert_eq(tu_in_degree(s, "4.14.3+arm64"), 3);
    graph_snapshot_unref(s);
}

Test(policy_labels, next_remove_csv)
{
    graph_snapshot *s = tu_build(four("4.14.0", L_NEXT_REMOVE "4.14.1,4.14.3"), tu_graph_data());

    cr_assert_not(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    cr_assert_not(tu_edge(s, "4.14.0+amd64", "4.14.3+amd64"));
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.2+amd64"));
    cr_assert(tu_edge(s, "4.14.0+arm64", "4.14.1+arm64"));
    graph_snapshot_unref(s);
}

Test(policy_labels, next_remove_has_no_wildcard)
{
    cincy_error e;

    /* quirk Q15: "*" is read as a version, which it is not */
    e = tu_build_fails(four("4.14.0", L_NEXT_REMOVE "*"), tu_graph_data(), CINCY_EINVALID);
    cr_assert_str_eq(e.msg, "node 4.14.0+amd64: label io.openshift.upgrades.graph.next.remove: "
                            "item '*' is not a valid version");
}

Test(policy_labels, removes_beat_adds)
{
    ingest_releases *rs = tu_releases();
    graph_snapshot *s;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, L_NEXT_ADD "4.14.2");
    tu_release(rs, "4.14.1", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.2", "amd64", NULL, NULL,
               L_PREV_ADD "4.14.1;" L_PREV_REMOVE "4.14.1,4.14.0");
    s = tu_build(rs, tu_graph_data());
    cr_assert_eq(graph_snapshot_edge_count(s), 0);
    graph_snapshot_unref(s);
}

Test(policy_labels, invalid_version_in_label_fails_naming_it)
{
    cincy_error e;

    e = tu_build_fails(four("4.14.2", L_PREV_ADD "4.14.0,4.14.x"), tu_graph_data(),
                       CINCY_EINVALID);
    cr_assert_str_eq(e.msg, "node 4.14.2+amd64: label io.openshift.upgrades.graph.previous.add: "
                            "item '4.14.x' is not a valid version");
}

Test(policy_labels, invalid_remove_regex_fails_naming_node_and_regex)
{
    cincy_error e;

    e = tu_build_fails(four("4.14.2", L_PREV_REMOVE_REGEX "4[.14"), tu_graph_data(),
                       CINCY_EINVALID);
    cr_assert(strncmp(e.msg,
                      "node 4.14.2+amd64: label "
                      "io.openshift.upgrades.graph.previous.remove_regex: invalid regex '4[.14': ",
                      strlen("node 4.14.2+amd64: label "
                             "io.openshift.upgrades.graph.previous.remove_regex: invalid regex "
                             "'4[.14': ")) == 0,
              "%s", e.msg);
}

Test(policy_labels, label_add_closing_a_cycle_fails)
{
    cincy_error e;

    e = tu_build_fails(four("4.14.0", L_PREV_ADD "4.14.3"), tu_graph_data(), CINCY_EINVALID);
    cr_assert(strstr(e.msg, "cycle in update graph") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "+amd64") != NULL, "%s", e.msg);
}

Test(policy_labels, node_without_arch_uses_items_verbatim)
{
    ingest_releases *rs = tu_releases();
    graph_snapshot *s;

    /* no arch: versions have no build and items are looked up as written */
    tu_release(rs, "1.0.0", NULL, NULL, NULL, NULL);
    tu_release(rs, "1.0.1", NULL, NULL, NULL, L_PREV_ADD "1.0.0,not a version");
    s = tu_build(rs, tu_graph_data());
    cr_assert(tu_edge(s, "1.0.0", "1.0.1"));
    cr_assert_null(tu_meta(s, "1.0.1", POLICY_KEY_ARCH));
    graph_snapshot_unref(s);
}
