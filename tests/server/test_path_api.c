/* tests/server/test_path_api.c - GET P/v1/path on the fixture graph, and the
 * `cincy path` command over the same data (docs/path.md).
 *
 * The fixture (server_fixture.h) in stable-4.2: 4.1.0 -> 4.1.1, 4.1.0 -> 4.2.0,
 * 4.1.1 -> 4.2.0 (conditional, TestRisk), 4.2.0 -> 4.2.1, 4.1.1 -> 4.2.1;
 * 4.1.0 -> 4.2.1 is removed by the pure block.
 */

#include "server_fixture.h"
#include "test_cli.h"

#define PATH_API "/api/upgrades_info/v1/path"

TestSuite(server_path, .fini = stop);

/* GETs query on P/v1/path, asserts status and Content-Type, returns the JSON. */
static json_t *get_path(const char *query, long status)
{
    char path[512], type[128];
    stest_resp r;
    json_error_t jerr;
    json_t *j;

    TEST_SNPRINTF(path, PATH_API "?%s", query);
    r = req("GET", graph_base, path, NULL);
    cr_assert_eq(r.status, status, "%s: status %ld body %s", query, r.status, r.body.data);
    cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)), "application/json");
    j = json_loads(r.body.data, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", query, jerr.text);
    stest_resp_free(&r);
    return j;
}

/* "4.1.0>4.2.0 4.2.0>4.2.1", with "?" after a conditional hop's target. */
static void hop_list(char *out, size_t size, json_t *j)
{
    json_t *hops = json_object_get(j, "hops"), *h;
    size_t i, pos = 0;

    out[0] = '\0';
    json_array_foreach(hops, i, h)
    {
        pos += (size_t)snprintf(out + pos, size - pos, "%s%s>%s%s", i ? " " : "",
                                json_string_value(json_object_get(h, "from")),
                                json_string_value(json_object_get(h, "to")),
                                json_is_true(json_object_get(h, "conditional")) ? "?" : "");
        cr_assert_not_null(strstr(json_string_value(json_object_get(h, "payload")), "@sha256:"));
    }
    cr_assert_eq(json_integer_value(json_object_get(j, "hopCount")), (json_int_t)i);
}

static void assert_hops(const char *query, const char *want)
{
    json_t *j = get_path(query, 200);
    char hops[512];

    hop_list(hops, sizeof(hops), j);
    cr_assert_str_eq(hops, want, "%s", query);
    cr_assert_null(json_object_get(j, "error"));
    json_decref(j);
}

static void assert_reason(const char *query, long status, const char *reason)
{
    json_t *j = get_path(query, status);
    const char *got = json_string_value(json_object_get(json_object_get(j, "error"), "reason"));

    cr_assert_str_eq(got ? got : "(none)", reason, "%s", query);
    cr_assert_str_neq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                      "");
    cr_assert_eq(json_array_size(json_object_get(j, "hops")), 0);
    json_decref(j);
}

Test(server_path, z_stream_and_minor_paths)
{
    json_t *j;

    start(1, NULL, 0);
    assert_hops("channel=stable-4.2&from=4.2.0&to=4.2.1", "4.2.0>4.2.1");
    /* the pure block removes 4.1.0 -> 4.2.1: two hops, newest first hop */
    assert_hops("channel=stable-4.2&from=4.1.0&to=4.2.1", "4.1.0>4.2.0 4.2.0>4.2.1");
    /* "4.2" is the newest 4.2.z */
    assert_hops("channel=stable-4.2&arch=amd64&from=4.1.1&to=4.2&mode=standard", "4.1.1>4.2.1");
    assert_hops("channel=stable-4.2&from=4.2.1&to=latest", "");
    j = get_path("channel=stable-4.2&from=4.1.0&to=4.2", 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "to")), "4.2.1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "riskPolicy")), "avoid");
    cr_assert_str_eq(json_string_value(json_object_get(j, "mode")), "standard");
    cr_assert_str_eq(json_string_value(json_object_get(j, "arch")), "amd64");
    cr_assert_eq(json_array_size(json_object_get(j, "risks")), 0);
    json_decref(j);
}

/* Views are cached per graph generation: after a reload that drops 4.2.1
 * from the channel, the same queries see the new graph. */
Test(server_path, a_reload_is_seen_by_the_next_query)
{
    cincy_error err;

    start(1, NULL, 0);
    assert_hops("channel=stable-4.2&from=4.2.0&to=4.2.1", "4.2.0>4.2.1");
    assert_hops("channel=stable-4.2&from=4.1.0&to=4.2", "4.1.0>4.2.0 4.2.0>4.2.1");
    write_graph_data("4.1.0, 4.1.1, 4.2.0");
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
    assert_reason("channel=stable-4.2&from=4.2.0&to=4.2.1", 404, "to_unknown");
    assert_hops("channel=stable-4.2&from=4.1.0&to=4.2", "4.1.0>4.2.0");
}

Test(server_path, risky_edge_avoided_then_accepted)
{
    json_t *j, *blocking, *b, *risks;

    start(1, NULL, 0);
    /* avoid: 4.1.1 -> 4.2.0 exists only as the conditional edge */
    j = get_path("channel=stable-4.2&from=4.1.1&to=4.2.0", 404);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "reason")),
                     "no_path");
    blocking = json_object_get(j, "blocking");
    cr_assert_eq(json_array_size(blocking), 2);
    b = json_array_get(blocking, 0);
    cr_assert_str_eq(json_string_value(json_object_get(b, "from")), "4.1.1");
    cr_assert_str_eq(json_string_value(json_object_get(b, "to")), "4.2.0");
    risks = json_object_get(b, "risks");
    cr_assert_eq(json_array_size(risks), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(risks, 0), "name")),
                     "TestRisk");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(risks, 0), "url")),
                     "https://example.invalid/risk");
    b = json_array_get(blocking, 1); /* the risk's removal label on the target */
    cr_assert_str_eq(json_string_value(json_object_get(b, "to")), "4.2.0");
    cr_assert_str_eq(json_string_value(json_object_get(b, "label")),
                     "io.openshift.upgrades.graph.previous.remove_regex");
    cr_assert_str_eq(json_string_value(json_object_get(b, "fromRegex")), "^4[.]1[.]1[+].*$");
    json_decref(j);

    assert_hops("channel=stable-4.2&from=4.1.1&to=4.2.0&risks=accept", "4.1.1>4.2.0?");
    j = get_path("channel=stable-4.2&from=4.1.1&to=4.2.0&risks=accept", 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "riskPolicy")), "accept");
    risks = json_object_get(j, "risks");
    cr_assert_eq(json_array_size(risks), 1, "TestRisk listed once");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(risks, 0), "name")),
                     "TestRisk");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(risks, 0), "message")),
                     "Clusters may fail.");
    risks = json_object_get(json_array_get(json_object_get(j, "hops"), 0), "risks");
    cr_assert_str_eq(json_string_value(json_array_get(risks, 0)), "TestRisk");
    json_decref(j);
}

Test(server_path, refusals_and_errors)
{
    stest_resp r;

    start(1, NULL, 0);
    assert_reason("channel=stable-4.2&from=4.2.1&to=4.1.0", 400, "from_newer_than_to");
    assert_reason("channel=stable-4.2&from=4.x&to=4.2.1", 400, "invalid_version");
    assert_reason("channel=stable-4.2&to=4.2.1", 400, "invalid_version");
    assert_reason("channel=stable-4.2&from=4.1.0&to=4.2.1&mode=eus", 400, "mode_mismatch");
    assert_reason("channel=stable-4.2&from=4.0.9&to=4.2.1", 404, "from_unknown");
    assert_reason("channel=stable-4.1&from=4.1.0&to=4.2.1", 404, "to_unknown");
    r = req("GET", graph_base, PATH_API "?channel=stable-4.2&from=4.1.0&to=4.2.1&risks=maybe",
            NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: risks "
                "'maybe' is not avoid or accept\"}");
    r = req("GET", graph_base, PATH_API "?channel=stable-4.2&from=4.1.0&to=4.2.1&mode=fast", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: mode "
                "'fast' is not standard, eus or ibu\"}");
    r = req("GET", graph_base, PATH_API "?from=4.1.0&to=4.2.1", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"missing_params\",\"value\":\"mandatory client parameters missing: "
                "channel\"}");
    r = req("GET", graph_base, PATH_API "?channel=Stable&from=4.1.0&to=4.2.1", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: channel "
                "'Stable' does not match regex '^[0-9a-z\\\\-\\\\.]+$'\"}");
    r = req("POST", graph_base, PATH_API "?channel=stable-4.2&from=4.1.0&to=4.2.1", NULL);
    assert_body(&r, 405, "");
}

Test(server_path, no_graph_yet_is_503)
{
    stest_resp r;

    start(0, NULL, 0);
    r = req("GET", graph_base, PATH_API "?channel=stable-4.2&from=4.1.0&to=4.2.1", NULL);
    assert_body(&r, 503, "{\"kind\":\"service_unavailable\",\"value\":\"no graph loaded yet\"}");
}

/* ---------------------------------------------------------------------------
 * cincy path */

/* Fixture data without a server; the paths of the two directories. */
static void cli_data(char *gd, size_t gd_size, char *rel, size_t rel_size)
{
    cincy_log_set_level(CINCY_LOG_WARN);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    write_releases();
    snprintf(gd, gd_size, "%s/graph-data", tmp);
    snprintf(rel, rel_size, "%s/releases", tmp);
}

/* The line of text that starts with prefix, up to the newline. */
static void line_starting(char *out, size_t size, const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix), *end;

    cr_assert_not_null(p, "no line starting %s in:\n%s", prefix, text);
    end = strchr(p, '\n');
    snprintf(out, size, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
}

Test(server_path, cli_table_from_local_data)
{
    char gd[512], rel[512], line[512];
    const char *args[] = {"path",      "--from",     "4.1.1",   "--to",   "4.2.0",
                          "--channel", "stable-4.2", "--risks", "accept", "--data",
                          gd,          "--releases", rel,       NULL};
    cli_result r;

    cli_data(gd, sizeof(gd), rel, sizeof(rel));
    r = cli_run(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "");
    line_starting(line, sizeof(line), r.out, "4.1.1 -> 4.2.0 in");
    cr_assert_str_eq(line, "4.1.1 -> 4.2.0 in stable-4.2 (amd64), mode standard, risks accept: "
                           "1 hop");
    line_starting(line, sizeof(line), r.out, "  4.1.1 -> 4.2.0  [conditional: TestRisk]  ");
    cr_assert_not_null(strstr(line, "@sha256:"), "%s", line);
    assert_has_line(r.out, "risks:");
    assert_has_line(r.out, "  TestRisk  https://example.invalid/risk");
    assert_has_line(r.out, "    Clusters may fail.");
    cli_free(&r);

    args[8] = "avoid"; /* the same query with risks avoided: no path, exit 1 */
    r = cli_run(args);
    cr_assert_eq(r.code, 1, "%s", r.out);
    cr_assert_str_eq(r.out, "");
    cr_assert(strstr(r.err, "cincy: no ") && strstr(r.err, "(no_path)\n"), "%s", r.err);
    assert_has_line(r.err, "blocking:");
    assert_has_line(r.err, "  4.1.1 -> 4.2.0: risks TestRisk");
    assert_has_line(r.err, "    TestRisk  https://example.invalid/risk");
    assert_has_line(r.err, "  -> 4.2.0: io.openshift.upgrades.graph.previous.remove_regex "
                           "^4[.]1[.]1[+].*$");
    cli_free(&r);
}

Test(server_path, cli_json_is_the_api_answer)
{
    char gd[512], rel[512], path[256];
    const char *args[] = {"path",       "--json",    "--from",     "4.1.0",  "--to",
                          "4.2",        "--channel", "stable-4.2", "--data", gd,
                          "--releases", rel,         NULL};
    cli_result r;
    stest_resp api;

    start(1, NULL, 0); /* same fixture data as the server's */
    snprintf(gd, sizeof(gd), "%s/graph-data", tmp);
    snprintf(rel, sizeof(rel), "%s/releases", tmp);
    r = cli_run(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    TEST_SNPRINTF(path, PATH_API "?channel=stable-4.2&from=4.1.0&to=4.2");
    api = req("GET", graph_base, path, NULL);
    cr_assert_eq(api.status, 200);
    cr_assert_eq(strlen(r.out), strlen(api.body.data) + 1);
    cr_assert_eq(strncmp(r.out, api.body.data, strlen(api.body.data)), 0, "%s\n%s", r.out,
                 api.body.data);
    stest_resp_free(&api);
    cli_free(&r);

    /* --server asks the running server and prints the same bytes */
    args[8] = "--server";
    args[9] = graph_base;
    args[10] = NULL;
    r = cli_run(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    api = req("GET", graph_base, path, NULL);
    cr_assert_eq(strncmp(r.out, api.body.data, strlen(api.body.data)), 0, "%s", r.out);
    stest_resp_free(&api);
    cli_free(&r);
}

Test(server_path, cli_usage_errors_exit_2)
{
    const char *missing[] = {"path", "--from", "4.1.0", "--server", "http://127.0.0.1:1", NULL};
    const char *no_releases[] = {"path",      "--from",     "4.1.0",  "--to",         "4.2.1",
                                 "--channel", "stable-4.2", "--data", "/nonexistent", NULL};
    const char *bad_mode[] = {"path",       "--from", "4.1.0", "--to",     "4.2.1",    "--channel",
                              "stable-4.2", "--mode", "fast",  "--server", "http://x", NULL};
    cli_result r;

    test_tmpdir(tmp, sizeof(tmp));
    r = cli_run(missing);
    cr_assert_eq(r.code, 2);
    cr_assert_not_null(strstr(r.err, "cincy: path needs --from VERSION, --to VERSION and "
                                     "--channel NAME\n"),
                       "%s", r.err);
    cli_free(&r);
    r = cli_run(no_releases);
    cr_assert_eq(r.code, 2);
    cr_assert_not_null(strstr(r.err, "cincy: path --data DIR needs --releases DIR\n"), "%s", r.err);
    cli_free(&r);
    r = cli_run(bad_mode);
    cr_assert_eq(r.code, 2);
    cr_assert_not_null(strstr(r.err, "cincy: --mode: expected standard, eus or ibu, got 'fast'\n"),
                       "%s", r.err);
    cli_free(&r);
}

Test(server_path, plan_adds_the_estimate)
{
    json_t *j, *plan;
    char hops[512];
    stest_resp r;

    start(1, NULL, 0);
    j = get_path("channel=stable-4.2&from=4.1.0&to=4.2.1&workers=6&max_unavailable=2", 200);
    hop_list(hops, sizeof(hops), j);
    cr_assert_str_eq(hops, "4.1.0>4.2.0 4.2.0>4.2.1");
    json_decref(j);
    /* the same query on /v1/plan: the path's fields plus "plan" */
    r = req("GET", graph_base,
            "/api/upgrades_info/v1/plan?channel=stable-4.2&from=4.1.0&to=4.2.1&workers=6"
            "&max_unavailable=2&control_plane=3",
            NULL);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    j = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(j);
    hop_list(hops, sizeof(hops), j);
    cr_assert_str_eq(hops, "4.1.0>4.2.0 4.2.0>4.2.1");
    plan = json_object_get(j, "plan");
    cr_assert(json_is_object(plan), "%s", r.body.data);
    json_decref(j);
    stest_resp_free(&r);
    /* a refusal reads as on /v1/path */
    r = req("GET", graph_base, "/api/upgrades_info/v1/plan?channel=stable-4.2&from=4.1.1&to=4.2.0",
            NULL);
    cr_assert_eq(r.status, 404, "%s", r.body.data);
    cr_assert_not_null(strstr(r.body.data, "\"reason\":\"no_path\""), "%s", r.body.data);
    cr_assert_null(strstr(r.body.data, "\"plan\""), "%s", r.body.data);
    stest_resp_free(&r);
    r = req("GET", graph_base,
            "/api/upgrades_info/v1/plan?channel=stable-4.2&from=4.1.0&to=4.2.1&workers=-1", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: workers "
                "'-1' is not a non-negative integer\"}");
    r = req("POST", graph_base, "/api/upgrades_info/v1/plan?channel=stable-4.2", NULL);
    assert_body(&r, 405, "");
}
