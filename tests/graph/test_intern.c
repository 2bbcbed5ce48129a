/* tests/graph/test_intern.c - what the builder stores once: risks (by
 * graph_risk_equal, whatever pointer they arrive through), risk lists (pairs
 * with equal lists share a group), metadata keys; and the pair hash under
 * heavy delete-and-reinsert churn. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static graph_builder *new_builder(void)
{
    graph_builder *b = NULL;

    cr_assert_eq(graph_builder_new(&b), CINCY_OK);
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

/* Nodes "5.0.0" .. "5.0.<n-1>" at indices 0..n-1. */
static void add_chain(graph_builder *b, size_t n)
{
    char v[32];

    for (size_t i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "5.0.%zu", i);
        cr_assert_eq(add(b, v, "p"), i);
    }
}

static graph_snapshot *freeze(graph_builder *b)
{
    graph_snapshot *s = NULL;
    cincy_error err;

    cincy_error_clear(&err);
    cr_assert_eq(graph_builder_freeze(&s, b, &err), CINCY_OK, "%s", err.msg);
    return s;
}

/* A risk whose every string is a fresh allocation, as a YAML parser makes. */
static graph_risk *fresh_risk(const char *name, const char *message, const char *promql)
{
    graph_risk *r = calloc(1, sizeof(*r));

    cr_assert_not_null(r);
    r->url = strdup("https://example.invalid/kb");
    r->name = strdup(name);
    r->message = strdup(message);
    r->rules = calloc(1, sizeof(*r->rules));
    r->nrules = 1;
    r->rules[0].type = promql ? GRAPH_RULE_PROMQL : GRAPH_RULE_ALWAYS;
    r->rules[0].promql = promql ? strdup(promql) : NULL;
    return r;
}

static void free_risk(graph_risk *r)
{
    graph_risk_clear(r);
    free(r);
}

Test(graph_intern, same_risk_from_many_pointers_is_one_group)
{
    enum { N = 300 };
    graph_builder *b = new_builder();
    graph_snapshot *s;
    const graph_cond_group *g;

    add_chain(b, N + 1);
    for (size_t i = 0; i < N; i++) {
        graph_risk *r1 = fresh_risk("A", "first", "max(up)");
        graph_risk *r2 = fresh_risk("B", "second", NULL);
        cr_assert_eq(graph_builder_add_risk(b, i, N, r1), 0);
        cr_assert_eq(graph_builder_add_risk(b, i, N, r2), 0);
        free_risk(r1); /* the builder keeps its own copy */
        free_risk(r2);
    }
    s = freeze(b);
    cr_assert_eq(graph_snapshot_cond_count(s), 1);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), N);
    g = graph_snapshot_cond_group(s, 0);
    cr_assert_eq(g->nedges, N);
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(g->edges[i].from, i);
        cr_assert_eq(g->edges[i].to, N);
    }
    cr_assert_eq(g->nrisks, 2);
    cr_assert_str_eq(g->risks[0].name, "A");
    cr_assert_str_eq(g->risks[0].message, "first");
    cr_assert_eq(g->risks[0].rules[0].type, GRAPH_RULE_PROMQL);
    cr_assert_str_eq(g->risks[0].rules[0].promql, "max(up)");
    cr_assert_str_eq(g->risks[1].name, "B");
    cr_assert_eq(g->risks[1].rules[0].type, GRAPH_RULE_ALWAYS);
    cr_assert_null(g->risks[1].rules[0].promql);
    graph_snapshot_unref(s);
}

/* Two groups carrying the same risk share one copy of its text. */
Test(graph_intern, groups_share_one_copy_of_a_risk)
{
    graph_builder *b = new_builder();
    graph_risk *a = fresh_risk("A", "m", NULL), *c = fresh_risk("C", "m", NULL);
    graph_snapshot *s;
    const graph_cond_group *g0, *g1;

    add_chain(b, 3);
    cr_assert_eq(graph_builder_add_risk(b, 0, 2, a), 0); /* {A} */
    cr_assert_eq(graph_builder_add_risk(b, 1, 2, c), 0); /* {C, A} */
    cr_assert_eq(graph_builder_add_risk(b, 1, 2, a), 0);
    s = freeze(b);
    free_risk(a);
    free_risk(c);
    cr_assert_eq(graph_snapshot_cond_count(s), 2);
    g0 = graph_snapshot_cond_group(s, 0);
    g1 = graph_snapshot_cond_group(s, 1);
    cr_assert_eq(g0->nrisks, 1);
    cr_assert_eq(g1->nrisks, 2);
    cr_assert_str_eq(g1->risks[0].name, "C");
    cr_assert_str_eq(g1->risks[1].name, "A");
    cr_assert_eq(g0->risks[0].name, g1->risks[1].name); /* the same bytes, not a copy */
    cr_assert_eq(g0->risks[0].rules, g1->risks[1].rules);
    graph_snapshot_unref(s);
}

/* Every field graph_risk_equal compares keeps risks apart, so each pair
 * below is its own group; but a NULL url and an empty one are the same risk
 * (both serialise as ""), so the last two pairs share a group. */
Test(graph_intern, risks_differing_in_any_field_stay_distinct)
{
    graph_rule always = {GRAPH_RULE_ALWAYS, NULL}, q1 = {GRAPH_RULE_PROMQL, "q1"},
               q2 = {GRAPH_RULE_PROMQL, "q2"},
               two[2] = {{GRAPH_RULE_ALWAYS, NULL}, {GRAPH_RULE_PROMQL, "q1"}};
    graph_risk risks[] = {
        {"u", "Same", "message one", &q1, 1},
        {"u", "Same", "message two", &q1, 1},     /* message */
        {"u", "Same", "message one", &q2, 1},     /* query */
        {"u", "Same", "message one", &always, 1}, /* rule type */
        {"u", "Same", "message one", two, 2},     /* rule count */
        {"v", "Same", "message one", &q1, 1},     /* url */
        {"u", "Other", "message one", &q1, 1},    /* name */
    };
    graph_risk empty_url = {NULL, "E", "m", &always, 1}, blank_url = {"", "E", "m", &always, 1};
    size_t nr = sizeof(risks) / sizeof(risks[0]);
    graph_builder *b = new_builder();
    graph_snapshot *s;

    add_chain(b, nr + 3);
    for (size_t i = 0; i < nr; i++)
        cr_assert_eq(graph_builder_add_risk(b, i, nr + 2, &risks[i]), 0);
    cr_assert_eq(graph_builder_add_risk(b, nr, nr + 2, &empty_url), 0);
    cr_assert_eq(graph_builder_add_risk(b, nr + 1, nr + 2, &blank_url), 0);
    s = freeze(b);
    cr_assert_eq(graph_snapshot_cond_count(s), nr + 1);
    for (size_t i = 0; i < nr; i++) {
        const graph_cond_group *g = graph_snapshot_cond_group(s, i);
        cr_assert_eq(g->nedges, 1, "group %zu", i);
        cr_assert_eq(g->edges[0].from, i);
        cr_assert_eq(g->nrisks, 1);
        cr_assert(graph_risk_equal(&g->risks[0], &risks[i]), "group %zu", i);
    }
    cr_assert_str_eq(graph_snapshot_cond_group(s, 1)->risks[0].message, "message two");
    cr_assert_eq(graph_snapshot_cond_group(s, nr)->nedges, 2); /* NULL url == "" url */
    graph_snapshot_unref(s);
}

/* The builder remembers recent risk pointers; a caller refilling one struct
 * (and one buffer) between calls must still get distinct risks. */
Test(graph_intern, reused_struct_with_new_content_is_a_new_risk)
{
    graph_builder *b = new_builder();
    char name[16], message[16];
    graph_rule rule = {GRAPH_RULE_ALWAYS, NULL};
    graph_risk r = {"u", name, message, &rule, 1};
    graph_snapshot *s;

    add_chain(b, 5);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "R%d", i % 2); /* same pointer, R0 R1 R0 R1 */
        snprintf(message, sizeof(message), "m%d", i % 2);
        cr_assert_eq(graph_builder_add_risk(b, (size_t)i, 4, &r), 0);
    }
    snprintf(message, sizeof(message), "m9"); /* only the message changes */
    cr_assert_eq(graph_builder_add_risk(b, 3, 4, &r), 0);
    s = freeze(b);
    /* 0->4 {R0/m0} and 2->4; 1->4 {R1/m1}; 3->4 {R1/m1, R1/m9} */
    cr_assert_eq(graph_snapshot_cond_count(s), 3);
    cr_assert_eq(graph_snapshot_cond_group(s, 0)->nedges, 2);
    cr_assert_eq(graph_snapshot_cond_group(s, 0)->edges[1].from, 2);
    cr_assert_str_eq(graph_snapshot_cond_group(s, 0)->risks[0].name, "R0");
    cr_assert_str_eq(graph_snapshot_cond_group(s, 1)->risks[0].message, "m1");
    cr_assert_eq(graph_snapshot_cond_group(s, 2)->nrisks, 2);
    cr_assert_str_eq(graph_snapshot_cond_group(s, 2)->risks[0].message, "m1");
    cr_assert_str_eq(graph_snapshot_cond_group(s, 2)->risks[1].message, "m9");
    graph_snapshot_unref(s);
}

/* Lists are ordered and may repeat a risk; a prefix of a list is its own
 * list; clearing a pair and adding again starts from the empty list. */
Test(graph_intern, risk_lists_keep_order_repeats_and_prefixes)
{
    graph_builder *b = new_builder();
    graph_rule rule = {GRAPH_RULE_ALWAYS, NULL};
    graph_risk r1 = {"u", "R1", "m", &rule, 1}, r2 = {"u", "R2", "m", &rule, 1};
    const graph_risk *lists[][3] = {
        {&r1, &r2, NULL},  /* 0->5 */
        {&r1, NULL, NULL}, /* 1->5: a prefix of 0's */
        {&r1, &r2, &r1},   /* 2->5: repeats R1 */
        {&r2, &r1, NULL},  /* 3->5: 0's risks reversed */
    };
    const char *want[][3] = {{"R1", "R2"}, {"R1"}, {"R1", "R2", "R1"}, {"R2", "R1"}};
    size_t want_n[] = {2, 1, 3, 2};
    graph_snapshot *s;

    add_chain(b, 6);
    for (size_t p = 0; p < 4; p++) {
        for (size_t k = 0; k < 3 && lists[p][k]; k++)
            cr_assert_eq(graph_builder_add_risk(b, p, 5, lists[p][k]), 0);
    }
    cr_assert_eq(graph_builder_add_risk(b, 4, 5, &r2), 0); /* 4->5: {R2}, then {R1} */
    graph_builder_clear_risks(b, 4, 5);
    cr_assert_eq(graph_builder_add_risk(b, 4, 5, &r1), 0);
    s = freeze(b);
    cr_assert_eq(graph_snapshot_cond_count(s), 4);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), 5);
    for (size_t p = 0; p < 4; p++) {
        const graph_cond_group *g = graph_snapshot_cond_group(s, p);
        cr_assert_eq(g->edges[0].from, p);
        cr_assert_eq(g->nrisks, want_n[p], "group %zu", p);
        for (size_t k = 0; k < want_n[p]; k++)
            cr_assert_str_eq(g->risks[k].name, want[p][k], "group %zu risk %zu", p, k);
    }
    cr_assert_eq(graph_snapshot_cond_group(s, 1)->nedges, 2); /* 1->5 and 4->5: {R1} */
    cr_assert_eq(graph_snapshot_cond_group(s, 1)->edges[1].from, 4);
    graph_snapshot_unref(s);
}

/* Risks whose pairs all vanish (cleared, or on a dropped placeholder) do
 * not reach the snapshot; ASan checks each is freed exactly once. */
Test(graph_intern, unused_risks_are_released)
{
    graph_builder *b = new_builder();
    graph_risk *kept = fresh_risk("Kept", "m", NULL), *cleared = fresh_risk("Cleared", "m", NULL),
               *dropped = fresh_risk("Dropped", "m", "q");
    size_t a = add(b, "4.1.0", "p0"), c = add(b, "4.1.1", "p1"), ph = add(b, "4.0.0", NULL);
    graph_snapshot *s;

    cr_assert_eq(graph_builder_add_risk(b, a, c, cleared), 0);
    graph_builder_clear_risks(b, a, c);
    cr_assert_eq(graph_builder_add_risk(b, ph, c, dropped), 0);
    cr_assert_eq(graph_builder_add_risk(b, a, c, kept), 0);
    s = freeze(b);
    free_risk(kept);
    free_risk(cleared);
    free_risk(dropped);
    cr_assert_eq(graph_snapshot_cond_count(s), 1);
    cr_assert_eq(graph_snapshot_cond_group(s, 0)->nrisks, 1);
    cr_assert_str_eq(graph_snapshot_cond_group(s, 0)->risks[0].name, "Kept");
    graph_snapshot_unref(s);
}

/* Many risks and long interleaved lists: the risk pool's hash and the list
 * trie grow many times, and groups still come out by first pair. */
Test(graph_intern, many_distinct_risks_and_lists)
{
    enum { NR = 200, NP = 400 };
    graph_builder *b = new_builder();
    graph_rule rule = {GRAPH_RULE_PROMQL, "q"};
    graph_risk r[NR];
    char names[NR][8];
    graph_snapshot *s;

    for (size_t i = 0; i < NR; i++) {
        snprintf(names[i], sizeof(names[i]), "R%zu", i);
        r[i] = (graph_risk){"u", names[i], "m", &rule, 1};
    }
    add_chain(b, NP + 1);
    /* pair p carries risks 0..(p % 50) in order: 50 distinct lists, each
     * on 8 pairs; pairs p and p+50 share a group. */
    for (size_t p = 0; p < NP; p++) {
        for (size_t k = 0; k <= p % 50; k++)
            cr_assert_eq(graph_builder_add_risk(b, p, NP, &r[(k * 7) % NR]), 0);
    }
    s = freeze(b);
    cr_assert_eq(graph_snapshot_cond_count(s), 50);
    cr_assert_eq(graph_snapshot_cond_edge_count(s), NP);
    for (size_t gi = 0; gi < 50; gi++) {
        const graph_cond_group *g = graph_snapshot_cond_group(s, gi);
        cr_assert_eq(g->nedges, NP / 50);
        cr_assert_eq(g->edges[0].from, gi);
        cr_assert_eq(g->edges[NP / 50 - 1].from, gi + NP - 50);
        cr_assert_eq(g->nrisks, gi + 1);
        for (size_t k = 0; k <= gi; k++)
            cr_assert_str_eq(g->risks[k].name, names[(k * 7) % NR]);
    }
    graph_snapshot_unref(s);
}

/* Metadata keys are pooled: equal keys on different nodes are one string,
 * and a key first set on a node that freeze drops stays valid for the
 * nodes that keep it. */
Test(graph_intern, metadata_keys_are_shared_and_outlive_dropped_nodes)
{
    graph_builder *b = new_builder();
    size_t ph = add(b, "4.0.0", NULL), a = add(b, "4.1.0", "p0"), c = add(b, "4.1.1", "p1");
    const char *ka, *kc, *v;
    graph_snapshot *s;
    char key[16];

    cr_assert_eq(graph_builder_meta_set(b, ph, "first.key", "x"), 0);
    snprintf(key, sizeof(key), "first.key"); /* a different pointer, same text */
    cr_assert_eq(graph_builder_meta_set(b, a, key, "va"), 0);
    cr_assert_eq(graph_builder_meta_set(b, c, "first.key", "vc"), 0);
    cr_assert_eq(graph_builder_meta_append(b, c, "other", "1", ","), 0);
    graph_builder_meta_at(b, a, 0, &ka, &v);
    graph_builder_meta_at(b, c, 0, &kc, &v);
    cr_assert_eq(ka, kc);
    cr_assert_neq(ka, (const char *)key);
    graph_builder_meta_remove(b, c, "first.key"); /* the pooled key stays for a */
    cr_assert_eq(graph_builder_meta_set(b, c, "first.key", "vc2"), 0);
    s = freeze(b);
    cr_assert_eq(graph_snapshot_node_count(s), 2);
    cr_assert_str_eq(graph_snapshot_meta_get(s, 0, "first.key"), "va");
    cr_assert_str_eq(graph_snapshot_meta_get(s, 1, "first.key"), "vc2");
    graph_snapshot_meta_at(s, 1, 0, &kc, &v);
    cr_assert_str_eq(kc, "other");
    cr_assert_str_eq(v, "1");
    graph_snapshot_meta_at(s, 0, 0, &ka, &v);
    graph_snapshot_meta_at(s, 1, 1, &kc, &v);
    cr_assert_eq(ka, kc);
    graph_snapshot_unref(s);
}

/* Add and remove edges in a rolling window so the live count stays small
 * while deleted marks pile up: the pair hash must rebuild in place (not
 * grow without bound, not lose keys). */
Test(graph_intern, pair_hash_survives_delete_churn)
{
    enum { N = 200, WINDOW = 20 };
    graph_builder *b = new_builder();
    size_t n;

    add_chain(b, N);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++) {
            if (j != i)
                cr_assert_eq(graph_builder_add_edge(b, i, j), 0);
        }
        if (i >= WINDOW) {
            for (size_t j = 0; j < N; j++) {
                if (j != i - WINDOW)
                    graph_builder_remove_edge(b, i - WINDOW, j);
            }
        }
    }
    for (size_t i = 0; i < N; i++) {
        graph_builder_outgoing(b, i, &n);
        cr_assert_eq(n, i + WINDOW >= N ? (size_t)N - 1 : 0, "node %zu", i);
        for (size_t j = 0; j < N; j += 37)
            cr_assert_eq(graph_builder_has_edge(b, i, j), i + WINDOW >= N && j != i, "%zu->%zu", i,
                         j);
    }
    graph_builder_free(b);
}
