/* tests/graph/test_builder.c - the mutable graph: nodes, metadata, edges, risks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph.h"

static graph_builder *new_builder(void)
{
    graph_builder *b = NULL;

    cr_assert_eq(graph_builder_new(&b), CINCY_OK);
    cr_assert_not_null(b);
    return b;
}

static size_t add(graph_builder *b, const char *version, const char *payload)
{
    size_t idx = 12345;
    cincy_error err;

    cr_assert_eq(graph_builder_add_node(b, version, payload, &idx, &err), CINCY_OK, "%s: %s",
                 version, err.msg);
    return idx;
}

Test(graph_builder, nodes_are_deduplicated_by_exact_string)
{
    graph_builder *b = new_builder();
    size_t a = add(b, "4.14.1", "quay.io/x@sha256:1");
    size_t a2 = add(b, "4.14.1", "quay.io/x@sha256:1");
    size_t a3 = add(b, "4.14.1", NULL); /* a reference without payload */
    size_t c = add(b, "4.14.1+amd64", "quay.io/x@sha256:2");
    size_t found = 999;

    cr_assert_eq(a, 0);
    cr_assert_eq(a2, 0);
    cr_assert_eq(a3, 0);
    cr_assert_eq(c, 1);
    cr_assert_eq(graph_builder_node_count(b), 2);
    cr_assert_str_eq(graph_builder_node_payload(b, a), "quay.io/x@sha256:1");
    cr_assert_eq(graph_builder_find(b, "4.14.1+amd64", &found), CINCY_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(graph_builder_find(b, "4.14.2", &found), CINCY_ENOTFOUND);
    cr_assert_eq(graph_builder_find(b, " 4.14.1", &found), CINCY_ENOTFOUND);
    cr_assert_eq(found, 1);
    graph_builder_free(b);
}

Test(graph_builder, two_payloads_for_one_version_is_an_error)
{
    graph_builder *b = new_builder();
    cincy_error err;
    size_t idx = 77;

    add(b, "4.14.1", "quay.io/x@sha256:aaa");
    cincy_error_clear(&err);
    cr_assert_eq(graph_builder_add_node(b, "4.14.1", "quay.io/x@sha256:bbb", &idx, &err),
                 CINCY_EINVALID);
    cr_assert_str_eq(
        err.msg, "version 4.14.1 has two payloads: quay.io/x@sha256:aaa and quay.io/x@sha256:bbb");
    cr_assert_eq(idx, 77);
    cr_assert_str_eq(graph_builder_node_payload(b, 0), "quay.io/x@sha256:aaa");
    graph_builder_free(b);
}

Test(graph_builder, placeholder_gets_its_payload_later)
{
    graph_builder *b = new_builder();
    size_t p = add(b, "4.14.0", NULL);

    cr_assert_null(graph_builder_node_payload(b, p));
    cr_assert_eq(add(b, "4.14.0", "quay.io/x@sha256:0"), p);
    cr_assert_str_eq(graph_builder_node_payload(b, p), "quay.io/x@sha256:0");
    cr_assert_str_eq(graph_builder_node_version(b, p), "4.14.0");
    graph_builder_free(b);
}

Test(graph_builder, metadata_keeps_insertion_order)
{
    graph_builder *b = new_builder();
    size_t n = add(b, "4.14.1", "p");
    const char *k, *v;

    cr_assert_eq(graph_builder_meta_set(b, n, "url", "https://a"), 0);
    cr_assert_eq(graph_builder_meta_set(b, n, "channels", "stable-4.14"), 0);
    cr_assert_eq(graph_builder_meta_append(b, n, "remove_regex", "4[.]13", "|"),
                 0); /* absent: set */
    cr_assert_eq(graph_builder_meta_append(b, n, "remove_regex", ".*", "|"), 0);
    cr_assert_eq(graph_builder_meta_set(b, n, "url", "https://b"), 0); /* replaced in place */
    cr_assert_eq(graph_builder_meta_count(b, n), 3);
    graph_builder_meta_at(b, n, 0, &k, &v);
    cr_assert_str_eq(k, "url");
    cr_assert_str_eq(v, "https://b");
    graph_builder_meta_at(b, n, 2, &k, &v);
    cr_assert_str_eq(k, "remove_regex");
    cr_assert_str_eq(v, "4[.]13|.*");

    graph_builder_meta_remove(b, n, "url");
    graph_builder_meta_remove(b, n, "absent");
    cr_assert_eq(graph_builder_meta_count(b, n), 2);
    graph_builder_meta_at(b, n, 0, &k, &v);
    cr_assert_str_eq(k, "channels");
    cr_assert_null(graph_builder_meta_get(b, n, "url"));
    cr_assert_str_eq(graph_builder_meta_get(b, n, "channels"), "stable-4.14");
    graph_builder_free(b);
}

Test(graph_builder, edges_are_deduplicated_and_removable)
{
    graph_builder *b = new_builder();
    size_t a = add(b, "4.1.0", "p0"), c = add(b, "4.1.1", "p1"), d = add(b, "4.1.2", "p2");
    const size_t *adj;
    size_t n;

    cr_assert_eq(graph_builder_add_edge(b, a, c), 0);
    cr_assert_eq(graph_builder_add_edge(b, a, d), 0);
    cr_assert_eq(graph_builder_add_edge(b, c, d), 0);
    cr_assert_eq(graph_builder_add_edge(b, a, c), 0); /* duplicate: no-op */
    cr_assert(graph_builder_has_edge(b, a, c));
    cr_assert(!graph_builder_has_edge(b, c, a));

    adj = graph_builder_outgoing(b, a, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(adj[0], c);
    cr_assert_eq(adj[1], d);
    adj = graph_builder_incoming(b, d, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(adj[0], a);
    cr_assert_eq(adj[1], c);

    graph_builder_remove_edge(b, a, d);
    graph_builder_remove_edge(b, a, d); /* absent: no-op */
    cr_assert(!graph_builder_has_edge(b, a, d));
    adj = graph_builder_incoming(b, d, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(adj[0], c);
    graph_builder_outgoing(b, a, &n);
    cr_assert_eq(n, 1);

    cr_assert_eq(graph_builder_add_edge(b, a, d), 0); /* re-adding after removal works */
    cr_assert(graph_builder_has_edge(b, a, d));
    graph_builder_outgoing(b, a, &n);
    cr_assert_eq(n, 2);
    graph_builder_free(b);
}

/* Enough edges to grow the pair hash many times and to reuse deleted slots. */
Test(graph_builder, many_edges_stay_consistent)
{
    enum { N = 600, FAN = 150 };
    graph_builder *b = new_builder();
    char v[32];
    size_t total = 0, n;

    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "1.%d.0", i);
        cr_assert_eq(add(b, v, "p"), (size_t)i);
    }
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            for (size_t j = i + 1; j < N && j <= i + FAN; j++)
                cr_assert_eq(graph_builder_add_edge(b, i, j), 0);
        }
    }
    for (size_t i = 0; i < N; i++) {
        graph_builder_outgoing(b, i, &n);
        total += n;
    }
    cr_assert_eq(total, (size_t)FAN * (N - FAN) + (size_t)FAN * (FAN - 1) / 2);
    /* Remove every edge of odd length, then check membership exhaustively. */
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N && j <= i + FAN; j += 2)
            graph_builder_remove_edge(b, i, j);
    }
    for (size_t i = 0; i < N; i += 7) {
        for (size_t j = 0; j < N; j++) {
            int want = j > i && j <= i + FAN && (j - i) % 2 == 0;
            cr_assert_eq(graph_builder_has_edge(b, i, j), want, "%zu->%zu", i, j);
        }
    }
    graph_builder_incoming(b, N - 1, &n);
    cr_assert_eq(n, FAN / 2);
    graph_builder_free(b);
}

Test(graph_builder, risks_attach_to_pairs_and_clear)
{
    graph_builder *b = new_builder();
    size_t a = add(b, "4.1.0", "p0"), c = add(b, "4.1.1", "p1");
    graph_rule rule = {GRAPH_RULE_PROMQL, "max(up)"};
    graph_risk risk = {"https://u", "R", "m", &rule, 1};

    /* A risk on a pair that is not an edge is accepted (policy decides). */
    cr_assert_eq(graph_builder_add_risk(b, a, c, &risk), 0);
    cr_assert_eq(graph_builder_add_risk(b, a, c, &risk), 0);
    graph_builder_clear_risks(b, a, c);
    graph_builder_clear_risks(b, c, a); /* none: no-op */
    cr_assert_eq(graph_builder_add_risk(b, a, c, &risk), 0);
    graph_builder_free(b); /* ASan: the copies are released */
}

Test(graph_builder, free_accepts_null)
{
    graph_builder_free(NULL);
    graph_risk_clear(NULL);
}

Test(graph_builder, risk_copy_is_deep_and_equal)
{
    graph_rule rules[2] = {{GRAPH_RULE_ALWAYS, NULL}, {GRAPH_RULE_PROMQL, "q"}};
    graph_risk src = {"u", "n", "m", rules, 2}, copy;

    cr_assert_eq(graph_risk_copy(&copy, &src), 0);
    cr_assert_neq(copy.rules, src.rules);
    cr_assert_neq(copy.url, src.url);
    cr_assert(graph_risk_equal(&copy, &src));
    copy.rules[1].promql[0] = 'Q';
    cr_assert(!graph_risk_equal(&copy, &src));
    copy.rules[1].promql[0] = 'q';
    copy.nrules = 1;
    cr_assert(!graph_risk_equal(&copy, &src));
    copy.nrules = 2;
    graph_risk_clear(&copy);
    cr_assert_null(copy.rules);
    cr_assert_eq(copy.nrules, 0);
}
