/* tests/graph/test_snapshot.c - freezing a builder, snapshot order, publish. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static size_t add(graph_builder *b, const char *version, const char *payload)
{
    size_t idx = 12345;
    cincy_error err;

    cr_assert_eq(graph_builder_add_node(b, version, payload, &idx, &err), CINCY_OK, "%s: %s",
                 version, err.msg);
    return idx;
}

static void edge(graph_builder *b, size_t from, size_t to)
{
    cr_assert_eq(graph_builder_add_edge(b, from, to), CINCY_OK);
}

static graph_snapshot *freeze(graph_builder *b)
{
    graph_snapshot *s = NULL;
    cincy_error err;

    cincy_error_clear(&err);
    cr_assert_eq(graph_builder_freeze(&s, b, &err), CINCY_OK, "%s", err.msg);
    cr_assert_not_null(s);
    return s;
}

static const char *ver(const graph_snapshot *s, size_t i)
{
    return graph_snapshot_node_version(s, i);
}

static graph_builder *new_builder(void)
{
    graph_builder *b = NULL;

    cr_assert_eq(graph_builder_new(&b), CINCY_OK);
    return b;
}

Test(graph_snapshot, nodes_sorted_by_semver_then_string)
{
    graph_builder *b = new_builder();
    graph_snapshot *s;
    size_t idx = 99;

    add(b, "4.10.0", "p");
    add(b, "4.9.0", "p");
    add(b, "4.15.0", "p");
    add(b, "4.15.0-rc.0", "p");
    add(b, "4.13.2+s390x", "p");
    add(b, "4.13.2+amd64", "p");
    add(b, "not-a-version", "p");
    s = freeze(b);
    cr_assert_eq(graph_snapshot_node_count(s), 7);
    cr_assert_str_eq(ver(s, 0), "4.9.0");
    cr_assert_str_eq(ver(s, 1), "4.10.0");
    cr_assert_str_eq(ver(s, 2), "4.13.2+amd64");
    cr_assert_str_eq(ver(s, 3), "4.13.2+s390x");
    cr_assert_str_eq(ver(s, 4), "4.15.0-rc.0");
    cr_assert_str_eq(ver(s, 5), "4.15.0");
    cr_assert_str_eq(ver(s, 6), "not-a-version");

    cr_assert_eq(graph_snapshot_find(s, "4.15.0-rc.0", &idx), CINCY_OK);
    cr_assert_eq(idx, 4);
    cr_assert_eq(graph_snapshot_find(s, "4.9.0", &idx), CINCY_OK);
    cr_assert_eq(idx, 0);
    cr_assert_eq(graph_snapshot_find(s, "not-a-version", &idx), CINCY_OK);
    cr_assert_eq(idx, 6);
    cr_assert_eq(graph_snapshot_find(s, "4.13.2", &idx), CINCY_ENOTFOUND);
    cr_assert_eq(graph_snapshot_find(s, "", &idx), CINCY_ENOTFOUND);
    cr_assert_eq(idx, 6);
    graph_snapshot_unref(s);
}

Test(graph_snapshot, edges_sorted_and_metadata_kept)
{
    graph_builder *b = new_builder();
    size_t c = add(b, "4.1.2", "p2"), a = add(b, "4.1.0", "p0"), m = add(b, "4.1.1", "p1");
    graph_snapshot *s;
    const graph_edge *e;
    const char *k, *v;

    edge(b, m, c);
    edge(b, a, c);
    edge(b, a, m);
    cr_assert_eq(graph_builder_meta_set(b, a, "url", "https://x"), 0);
    cr_assert_eq(
        graph_builder_meta_set(b, a, "io.openshift.upgrades.graph.release.channels", "stable-4.1"),
        0);
    s = freeze(b);
    cr_assert_eq(graph_snapshot_edge_count(s), 3);
    e = graph_snapshot_edges(s);
    cr_assert_eq(e[0].from, 0);
    cr_assert_eq(e[0].to, 1);
    cr_assert_eq(e[1].from, 0);
    cr_assert_eq(e[1].to, 2);
    cr_assert_eq(e[2].from, 1);
    cr_assert_eq(e[2].to, 2);
    cr_assert_str_eq(graph_snapshot_node_payload(s, 0), "p0");
    cr_assert_eq(graph_snapshot_meta_count(s, 0), 2);
    graph_snapshot_meta_at(s, 0, 1, &k, &v);
    cr_assert_str_eq(k, "io.openshift.upgrades.graph.release.channels");
    cr_assert_str_eq(v, "stable-4.1");
    cr_assert_str_eq(graph_snapshot_meta_get(s, 0, "url"), "https://x");
    cr_assert_null(graph_snapshot_meta_get(s, 1, "url"));
    cr_assert_eq(graph_snapshot_cond_count(s), 0);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 0);
    graph_snapshot_unref(s);
}

Test(graph_snapshot, placeholders_dropped_with_edges_and_risks)
{
    graph_builder *b = new_builder();
    size_t a = add(b, "4.1.0", "p0"), ph = add(b, "4.0.9", NULL), c = add(b, "4.1.1", "p1");
    graph_rule rule = {GRAPH_RULE_ALWAYS, NULL};
    graph_risk risk = {"u", "n", "m", &rule, 1};
    graph_snapshot *s;

    edge(b, ph, a);
    edge(b, ph, c);
    edge(b, a, c);
    cr_assert_eq(graph_builder_add_risk(b, ph, c, &risk), 0);
    s = freeze(b);
    cr_assert_eq(graph_snapshot_node_count(s), 2);
    cr_assert_str_eq(ver(s, 0), "4.1.0");
    cr_assert_str_eq(ver(s, 1), "4.1.1");
    cr_assert_eq(graph_snapshot_edge_count(s), 1);
    cr_assert_eq(graph_snapshot_edges(s)[0].from, 0);
    cr_assert_eq(graph_snapshot_edges(s)[0].to, 1);
    cr_assert_eq(graph_snapshot_cond_count(s), 0);
    graph_snapshot_unref(s);
}

static graph_risk make_risk(const char *name, graph_rule *rule)
{
    graph_risk r = {"https://example.invalid/kb", (char *)name, "text", rule, 1};
    return r;
}

Test(graph_snapshot, conditional_pairs_leave_edges_and_group_by_risk_list)
{
    graph_builder *b = new_builder();
    size_t n[5];
    graph_rule always = {GRAPH_RULE_ALWAYS, NULL};
    graph_rule promql = {GRAPH_RULE_PROMQL, "max(up)"};
    graph_risk r1 = make_risk("R1", &promql), r2 = make_risk("R2", &always);
    graph_snapshot *s;
    const graph_cond_group *g;
    char v[16];

    for (int i = 4; i >= 0; i--) {
        snprintf(v, sizeof(v), "4.2.%d", i);
        n[i] = add(b, v, "p");
    }
    for (int i = 0; i < 5; i++) {
        for (int j = i + 1; j < 5; j++)
            edge(b, n[i], n[j]);
    }
    /* Group {R1, R2}: 3->4 and 0->4 (added out of order). Group {R1}: 1->4.
     * Group {R2, R1} differs by order: 2->4. 1->3 has its risks cleared. */
    cr_assert_eq(graph_builder_add_risk(b, n[3], n[4], &r1), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[3], n[4], &r2), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[1], n[4], &r1), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[2], n[4], &r2), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[2], n[4], &r1), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[0], n[4], &r1), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[0], n[4], &r2), 0);
    cr_assert_eq(graph_builder_add_risk(b, n[1], n[3], &r1), 0);
    graph_builder_clear_risks(b, n[1], n[3]);
    s = freeze(b);

    cr_assert_eq(graph_snapshot_edge_count(s), 10 - 4); /* x->4 are conditional only */
    for (size_t i = 0; i < graph_snapshot_edge_count(s); i++)
        cr_assert_neq(graph_snapshot_edges(s)[i].to, 4);
    cr_assert_eq(graph_snapshot_cond_count(s), 3);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 4);

    g = graph_snapshot_cond_group(s, 0); /* first pair 0->4 */
    cr_assert_eq(g->nedges, 2);
    cr_assert_eq(g->edges[0].from, 0);
    cr_assert_eq(g->edges[0].to, 4);
    cr_assert_eq(g->edges[1].from, 3);
    cr_assert_eq(g->nrisks, 2);
    cr_assert_str_eq(g->risks[0].name, "R1");
    cr_assert_str_eq(g->risks[0].rules[0].promql, "max(up)");
    cr_assert_str_eq(g->risks[1].name, "R2");

    g = graph_snapshot_cond_group(s, 1); /* 1->4 */
    cr_assert_eq(g->nedges, 1);
    cr_assert_eq(g->edges[0].from, 1);
    cr_assert_eq(g->nrisks, 1);
    cr_assert_str_eq(g->risks[0].name, "R1");

    g = graph_snapshot_cond_group(s, 2); /* 2->4, risks in the other order */
    cr_assert_eq(g->nedges, 1);
    cr_assert_eq(g->edges[0].from, 2);
    cr_assert_eq(g->nrisks, 2);
    cr_assert_str_eq(g->risks[0].name, "R2");
    graph_snapshot_unref(s);
}

static void expect_cycle(graph_builder *b, const char *msg)
{
    graph_snapshot *s = (graph_snapshot *)0x1;
    cincy_error err;

    cincy_error_clear(&err);
    cr_assert_eq(graph_builder_freeze(&s, b, &err), CINCY_EINVALID);
    cr_assert_eq(err.code, CINCY_EINVALID);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_eq(s, (graph_snapshot *)0x1); /* *out untouched; builder freed (ASan) */
}

Test(graph_snapshot, cycle_names_versions)
{
    graph_builder *b = new_builder();
    size_t a = add(b, "4.1.1", "p1"), c = add(b, "4.1.0", "p0");

    add(b, "4.0.0", "p");
    edge(b, a, c);
    edge(b, c, a);
    expect_cycle(b, "cycle in update graph: 4.1.0 -> 4.1.1 -> 4.1.0");
}

Test(graph_snapshot, cycle_through_conditional_pair_and_downstream_nodes)
{
    graph_builder *b = new_builder();
    size_t x = add(b, "1.0.0", "p"), y = add(b, "2.0.0", "p"), z = add(b, "3.0.0", "p");
    size_t sink = add(b, "0.1.0", "p");
    graph_rule rule = {GRAPH_RULE_ALWAYS, NULL};
    graph_risk risk = make_risk("R", &rule);

    edge(b, sink, x); /* the search starts at 0.1.0, outside the cycle */
    edge(b, x, y);
    edge(b, y, z);
    cr_assert_eq(graph_builder_add_risk(b, z, x, &risk), 0);
    expect_cycle(b, "cycle in update graph: 1.0.0 -> 2.0.0 -> 3.0.0 -> 1.0.0");
}

Test(graph_snapshot, self_loop_is_a_cycle)
{
    graph_builder *b = new_builder();
    size_t a = add(b, "4.1.0", "p");

    edge(b, a, a);
    expect_cycle(b, "cycle in update graph: 4.1.0 -> 4.1.0");
}

/* 30,000 versions in one chain: a recursive search would be 30,000 frames. */
Test(graph_snapshot, deep_chain_freezes)
{
    enum { N = 30000 };
    graph_builder *b = new_builder();
    graph_snapshot *s;
    char v[32];

    for (size_t i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "1.0.%zu", i);
        add(b, v, "p");
        if (i)
            edge(b, i - 1, i);
    }
    s = freeze(b);
    cr_assert_eq(graph_snapshot_node_count(s), N);
    cr_assert_eq(graph_snapshot_edge_count(s), N - 1);
    cr_assert_str_eq(ver(s, N - 1), "1.0.29999");
    cr_assert_eq(graph_snapshot_edges(s)[N - 2].from, N - 2);
    graph_snapshot_unref(s);
}

Test(graph_snapshot, empty_builder_freezes)
{
    graph_snapshot *s = freeze(new_builder());
    char *json = NULL;
    size_t idx;

    cr_assert_eq(graph_snapshot_node_count(s), 0);
    cr_assert_eq(graph_snapshot_find(s, "1.0.0", &idx), CINCY_ENOTFOUND);
    cr_assert_eq(graph_snapshot_to_json(&json, NULL, s, GRAPH_JSON_V1), 0);
    cr_assert_str_eq(json, "{\"version\":1,\"nodes\":[],\"edges\":[],\"conditionalEdges\":[]}");
    free(json);
    graph_snapshot_unref(s);
}

static graph_snapshot *chain(int n)
{
    graph_builder *b = new_builder();
    char v[32];

    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "4.14.%d", i);
        add(b, v, "p");
        if (i)
            edge(b, (size_t)i - 1, (size_t)i);
    }
    return freeze(b);
}

Test(graph_snapshot, reader_keeps_old_graph_after_publish)
{
    uint64_t gen0 = graph_snapshot_generation();
    graph_snapshot *held, *now;

    graph_snapshot_publish(chain(42));
    cr_assert_eq(graph_snapshot_generation(), gen0 + 1);
    held = graph_snapshot_current();
    cr_assert_not_null(held);

    graph_snapshot_publish(chain(7));
    cr_assert_eq(graph_snapshot_generation(), gen0 + 2);
    /* The old graph is still whole for its reader; ASan sees any use after free. */
    cr_assert_eq(graph_snapshot_node_count(held), 42);
    cr_assert_eq(graph_snapshot_edge_count(held), 41);
    cr_assert_str_eq(ver(held, 41), "4.14.41");
    now = graph_snapshot_current();
    cr_assert_eq(graph_snapshot_node_count(now), 7);
    cr_assert_neq(now, held);
    graph_snapshot_unref(held);
    graph_snapshot_unref(now);

    /* A ref is the same object, and survives one unref. */
    now = graph_snapshot_current();
    cr_assert_eq(graph_snapshot_ref(now), now);
    graph_snapshot_unref(now);
    cr_assert_eq(graph_snapshot_node_count(now), 7);
    graph_snapshot_unref(now);
    graph_snapshot_ref(NULL);
    graph_snapshot_unref(NULL);

    graph_snapshot_publish(NULL); /* release the global so LeakSanitizer sees nothing */
    cr_assert_eq(graph_snapshot_generation(), gen0 + 3);
}
