/* tests/graph/test_json.c - Cincinnati JSON: exact bytes, flavours, escaping,
 * refusal of invalid UTF-8, and failure of each allocation in turn. */
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
    /* jansson writes \uXXXX escapes with upper-case hex digits */
    cr_assert(strstr(json, "ctl\\u0001\\u001F del\x7f") != NULL, "%s", json);
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

/* One snapshot per place an input string lands in the output: node payload,
 * metadata key and value, risk text, PromQL query. */
static graph_snapshot *graph_with_bad_string(int where)
{
    static const char bad[] = "a\x80 b"; /* stray continuation byte */
    graph_builder *b = NULL;
    graph_rule rule = {GRAPH_RULE_PROMQL, where == 4 ? (char *)bad : "max(up)"};
    graph_risk risk = {"u", "n", where == 3 ? (char *)bad : "m", &rule, 1};

    cr_assert_eq(graph_builder_new(&b), 0);
    add(b, "1.0.0", where == 0 ? bad : "p");
    add(b, "1.0.1", "p");
    cr_assert_eq(graph_builder_meta_set(b, 0, where == 1 ? bad : "k", where == 2 ? bad : "v"), 0);
    cr_assert_eq(graph_builder_add_risk(b, 0, 1, &risk), 0);
    return freeze(b);
}

/* Our parsers never let invalid UTF-8 through; if it gets here anyway the
 * writer refuses it instead of writing JSON that clients cannot parse. */
Test(graph_json, invalid_utf8_is_refused)
{
    static const char *const where[] = {"payload", "metadata key", "metadata value",
                                        "risk message", "promql"};

    for (int i = 0; i < 5; i++) {
        graph_snapshot *s = graph_with_bad_string(i);
        char *json = (char *)"untouched";
        size_t len = 777;

        cr_assert_eq(graph_snapshot_to_json(&json, &len, s, GRAPH_JSON_V1), CINCY_EINVALID, "%s",
                     where[i]);
        cr_assert_str_eq(json, "untouched", "%s", where[i]);
        cr_assert_eq(len, 777, "%s", where[i]);
        graph_snapshot_unref(s);
    }
}

/* The legacy flavour never writes the risks, so a bad risk string is not its
 * concern. */
Test(graph_json, legacy_ignores_bad_risk_text)
{
    graph_snapshot *s = graph_with_bad_string(3);
    char *json = to_json(s, GRAPH_JSON_LEGACY);

    cr_assert_str_eq(json, "{\"version\":1,\"nodes\":["
                           "{\"version\":\"1.0.0\",\"payload\":\"p\",\"metadata\":{\"k\":\"v\"}},"
                           "{\"version\":\"1.0.1\",\"payload\":\"p\",\"metadata\":{}}],"
                           "\"edges\":[]}");
    free(json);
    graph_snapshot_unref(s);
}

/* graph_risk_equal counts a NULL field equal to "", so both must be written
 * the same way. */
Test(graph_json, null_risk_fields_are_empty_strings)
{
    graph_builder *b = NULL;
    graph_risk r = {NULL, NULL, NULL, NULL, 0};
    graph_snapshot *s;
    char *json;

    cr_assert_eq(graph_builder_new(&b), 0);
    add(b, "1.0.0", "p");
    add(b, "1.0.1", "p");
    cr_assert_eq(graph_builder_add_risk(b, 0, 1, &r), 0);
    s = freeze(b);
    json = to_json(s, GRAPH_JSON_V1);
    cr_assert(strstr(json, ",\"conditionalEdges\":[{\"edges\":[{\"from\":\"1.0.0\",\"to\":\"1.0.1\"}],"
                           "\"risks\":[{\"url\":\"\",\"name\":\"\",\"message\":\"\","
                           "\"matchingRules\":[]}]}]}") != NULL,
              "%s", json);
    free(json);
    graph_snapshot_unref(s);
}

/* jansson's allocator, failing every call after the first chaos_budget. */
static long chaos_budget;

static void *chaos_malloc(size_t size)
{
    if (chaos_budget-- <= 0)
        return NULL;
    return malloc(size);
}

/* Fail jansson's N-th allocation for N = 0, 1, ... until the call succeeds:
 * each failure must be CINCY_ERROR (out of memory is not bad input), leave
 * the outputs alone, and leak nothing (LeakSanitizer checks that). */
Test(graph_json, each_allocation_failure_is_clean)
{
    graph_snapshot *s = small_graph();
    char *good = to_json(s, GRAPH_JSON_V1);
    json_malloc_t old_malloc;
    json_free_t old_free;
    long n;

    json_get_alloc_funcs(&old_malloc, &old_free);
    json_set_alloc_funcs(chaos_malloc, free);
    for (n = 0; n < 100000; n++) {
        char *json = (char *)"untouched";
        size_t len = 777;
        int error;

        chaos_budget = n;
        error = graph_snapshot_to_json(&json, &len, s, GRAPH_JSON_V1);
        if (error == CINCY_OK) {
            cr_assert_str_eq(json, good);
            cr_assert_eq(len, strlen(good));
            free(json);
            break;
        }
        cr_assert_eq(error, CINCY_ERROR, "allocation %ld", n);
        cr_assert_str_eq(json, "untouched", "allocation %ld", n);
        cr_assert_eq(len, 777, "allocation %ld", n);
    }
    json_set_alloc_funcs(old_malloc, old_free);
    cr_assert_gt(n, 50, "only %ld allocations: the allocator was not used", n);
    cr_assert_lt(n, 100000);
    free(good);
    graph_snapshot_unref(s);
}

/* A big channel (43,285 edges): the output parses and has every edge. */
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
