/* tests/graph/test_json.c - Cincinnati JSON: exact bytes, flavours, escaping. */
#include <criterion/criterion.h>
#include <jansson.h>
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

static graph_snapshot *freeze(graph_builder *b)
{
    graph_snapshot *s = NULL;
    cincy_error err;

    cr_assert_eq(graph_builder_freeze(&s, b, &err), CINCY_OK, "%s", err.msg);
    return s;
}

static char *to_json(const graph_snapshot *s, graph_json_flavor flavor)
{
    char *out = NULL;
    size_t len = 0;

    cr_assert_eq(graph_snapshot_to_json(&out, &len, s, flavor), CINCY_OK);
    cr_assert_eq(len, strlen(out));
    return out;
}

/* The §1.5 example, small: three nodes, two edges, one conditional pair. */
static graph_snapshot *small_graph(void)
{
    graph_builder *b = NULL;
    graph_rule promql = {GRAPH_RULE_PROMQL, "max(up)"};
    graph_rule always = {GRAPH_RULE_ALWAYS, NULL};
    graph_risk r1 = {"https://example.invalid/kb/1", "ExampleRisk", "Text for humans.", &promql, 1};
    graph_risk r2 = {"https://example.invalid/kb/2", "OtherRisk", "More text.", &always, 1};
    size_t a, c, d;

    cr_assert_eq(graph_builder_new(&b), 0);
    d = add(b, "4.14.3", "quay.io/r@sha256:3333");
    a = add(b, "4.14.1", "quay.io/r@sha256:1111");
    c = add(b, "4.14.2", "quay.io/r@sha256:2222");
    cr_assert_eq(graph_builder_meta_set(b, a, "io.openshift.upgrades.graph.release.channels",
                                        "candidate-4.14,stable-4.14"),
                 0);
    cr_assert_eq(graph_builder_meta_set(b, a, "url", "https://access.redhat.com/errata/1"), 0);
    cr_assert_eq(graph_builder_add_edge(b, a, c), 0);
    cr_assert_eq(graph_builder_add_edge(b, c, d), 0);
    cr_assert_eq(graph_builder_add_edge(b, a, d), 0);
    cr_assert_eq(graph_builder_add_risk(b, a, d, &r1), 0);
    cr_assert_eq(graph_builder_add_risk(b, a, d, &r2), 0);
    return freeze(b);
}

static const char small_nodes_edges[] =
    "{\"version\":1,\"nodes\":["
    "{\"version\":\"4.14.1\",\"payload\":\"quay.io/r@sha256:1111\",\"metadata\":{"
    "\"io.openshift.upgrades.graph.release.channels\":\"candidate-4.14,stable-4.14\","
    "\"url\":\"https://access.redhat.com/errata/1\"}},"
    "{\"version\":\"4.14.2\",\"payload\":\"quay.io/r@sha256:2222\",\"metadata\":{}},"
    "{\"version\":\"4.14.3\",\"payload\":\"quay.io/r@sha256:3333\",\"metadata\":{}}],"
    "\"edges\":[[0,1],[1,2]]";

Test(graph_json, small_graph_exact_bytes)
{
    graph_snapshot *s = small_graph();
    char *json = to_json(s, GRAPH_JSON_V1);
    const char *want_cond =
        ",\"conditionalEdges\":[{\"edges\":[{\"from\":\"4.14.1\",\"to\":\"4.14.3\"}],"
        "\"risks\":["
        "{\"url\":\"https://example.invalid/kb/1\",\"name\":\"ExampleRisk\","
        "\"message\":\"Text for humans.\","
        "\"matchingRules\":[{\"type\":\"PromQL\",\"promql\":{\"promql\":\"max(up)\"}}]},"
        "{\"url\":\"https://example.invalid/kb/2\",\"name\":\"OtherRisk\","
        "\"message\":\"More text.\",\"matchingRules\":[{\"type\":\"Always\"}]}]}]}";
    char want[4096];

    snprintf(want, sizeof(want), "%s%s", small_nodes_edges, want_cond);
    cr_assert_str_eq(json, want);
    free(json);
    graph_snapshot_unref(s);
}

Test(graph_json, legacy_has_no_conditional_edges)
{
    graph_snapshot *s = small_graph();
    char *json = to_json(s, GRAPH_JSON_LEGACY);
    char want[4096];

    snprintf(want, sizeof(want), "%s}", small_nodes_edges);
    cr_assert_str_eq(json, want);
    cr_assert_null(strstr(json, "conditionalEdges"));
    free(json);
    graph_snapshot_unref(s);
}

Test(graph_json, empty_promql_query_omits_promql_object)
{
    graph_builder *b = NULL;
    graph_rule rules[2] = {{GRAPH_RULE_PROMQL, ""}, {GRAPH_RULE_PROMQL, NULL}};
    graph_risk r = {"u", "n", "m", rules, 2};
    graph_snapshot *s;
    char *json;

    cr_assert_eq(graph_builder_new(&b), 0);
    add(b, "1.0.0", "p");
    add(b, "1.0.1", "p");
    cr_assert_eq(graph_builder_add_edge(b, 0, 1), 0);
    cr_assert_eq(graph_builder_add_risk(b, 0, 1, &r), 0);
    s = freeze(b);
    json = to_json(s, GRAPH_JSON_V1);
    cr_assert(strstr(json, "\"matchingRules\":[{\"type\":\"PromQL\"},{\"type\":\"PromQL\"}]") !=
                  NULL,
              "%s", json);
    cr_assert_null(strstr(json, "\"promql\":"));
    cr_assert(strstr(json, "\"edges\":[],") != NULL, "%s", json); /* conditional only */
    free(json);
    graph_snapshot_unref(s);
}

Test(graph_json, escaping_round_trips_through_jansson)
{
    static const char nasty[] = "q\"uote back\\slash nl\n cr\r tab\t bs\b ff\f "
                                "ctl\x01\x1f del\x7f utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 /";
    graph_builder *b = NULL;
    graph_snapshot *s;
    json_error_t jerr;
    json_t *root, *node;
    char *json;

    cr_assert_eq(graph_builder_new(&b), 0);
    add(b, "1.0.0", nasty);
    cr_assert_eq(graph_builder_meta_set(b, 0, nasty, "v"), 0);
    s = freeze(b);
    json = to_json(s, GRAPH_JSON_V1);
    cr_assert(strstr(json, "\\u0001\\u001f") != NULL, "%s", json);
    cr_assert(strstr(json, "\\n cr\\r tab\\t bs\\b ff\\f") != NULL, "%s", json);
    root = json_loads(json, 0, &jerr);
    cr_assert_not_null(root, "%s at %d: %s", jerr.text, jerr.position, json);
    node = json_array_get(json_object_get(root, "nodes"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(node, "payload")), nasty);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(node, "metadata"), nasty)),
                     "v");
    json_decref(root);
    free(json);
    graph_snapshot_unref(s);
}

Test(graph_json, invalid_utf8_becomes_replacement_character)
{
    graph_builder *b = NULL;
    graph_snapshot *s;
    json_t *root;
    char *json;

    cr_assert_eq(graph_builder_new(&b), 0);
    /* stray continuation, truncated 3-byte sequence, overlong '/', surrogate */
    add(b, "1.0.0", "a\x80 b\xe2\x82 c\xc0\xaf d\xed\xa0\x80 e");
    s = freeze(b);
    json = to_json(s, GRAPH_JSON_V1);
    root = json_loads(json, 0, NULL);
    cr_assert_not_null(root, "%s", json);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(root, "nodes"), 0), "payload")),
                     "a\xef\xbf\xbd b\xef\xbf\xbd\xef\xbf\xbd c\xef\xbf\xbd\xef\xbf\xbd "
                     "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd e");
    json_decref(root);
    free(json);
    graph_snapshot_unref(s);
}

/* A 50,000-edge channel: the output parses and has every edge. */
Test(graph_json, large_graph_parses)
{
    enum { N = 400 };
    graph_builder *b = NULL;
    graph_snapshot *s;
    json_t *root;
    char v[32], *json;

    cr_assert_eq(graph_builder_new(&b), 0);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "4.%d.%d", i / 100, i % 100);
        add(b, v, "quay.io/openshift-release-dev/ocp-release@sha256:0123456789abcdef");
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N && j <= i + 130; j++)
            cr_assert_eq(graph_builder_add_edge(b, i, j), 0);
    }
    s = freeze(b);
    json = to_json(s, GRAPH_JSON_V1);
    root = json_loads(json, 0, NULL);
    cr_assert_not_null(root);
    cr_assert_eq(json_array_size(json_object_get(root, "edges")), graph_snapshot_edge_count(s));
    cr_assert_gt(graph_snapshot_edge_count(s), 40000);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(root, "nodes"), N - 1), "version")),
                     "4.3.99");
    json_decref(root);
    free(json);
    graph_snapshot_unref(s);
}
