/* tests/server/test_http.c - both listeners in-process, over real HTTP:
 * graph answers, routes, CORS, startup, reloads, metrics, the web page.
 * The fixture (server_fixture.h) starts a server over a tiny graph-data and
 * talks to it with libcurl. Criterion runs each test in its own process, so
 * the published snapshot never leaks between tests.
 */
#include <unistd.h>

#include "server/server_internal.h"
#include "server_fixture.h"

TestSuite(server_http, .fini = stop, .timeout = 120);

Test(server_http, graph_for_channel_and_arch)
{
    json_t *g, *ce, *risk;
    char versions[256], *edges;

    start(1, NULL, 0);
    g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.2", CT_VND);
    cr_assert_eq(json_integer_value(json_object_get(g, "version")), 1);
    node_versions(versions, sizeof(versions), g);
    cr_assert_str_eq(versions, "4.1.0 4.1.1 4.2.0 4.2.1");
    edges = json_dumps(json_object_get(g, "edges"), JSON_COMPACT);
    cr_assert_str_eq(edges, "[[0,1],[0,2],[1,3],[2,3]]");
    free(edges);
    cr_assert_eq(json_array_size(json_object_get(g, "conditionalEdges")), 1);
    ce = json_array_get(json_object_get(g, "conditionalEdges"), 0);
    edges = json_dumps(json_object_get(ce, "edges"), JSON_COMPACT);
    cr_assert_str_eq(edges, "[{\"from\":\"4.1.1\",\"to\":\"4.2.0\"}]");
    free(edges);
    risk = json_array_get(json_object_get(ce, "risks"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(risk, "name")), "TestRisk");
    cr_assert_str_eq(json_string_value(json_object_get(risk, "url")),
                     "https://example.invalid/risk");
    /* the per-request filter drops the arch key and the +arch suffix */
    cr_assert_null(
        json_object_get(json_object_get(json_array_get(json_object_get(g, "nodes"), 0), "metadata"),
                        "io.openshift.upgrades.graph.release.arch"));
    json_decref(g);

    g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.1&arch=arm64", CT_VND);
    node_versions(versions, sizeof(versions), g);
    cr_assert_str_eq(versions, "4.1.0 4.1.1");
    edges = json_dumps(json_object_get(g, "edges"), JSON_COMPACT);
    cr_assert_str_eq(edges, "[[0,1]]");
    free(edges);
    cr_assert_eq(json_array_size(json_object_get(g, "conditionalEdges")), 0);
    json_decref(g);
}

Test(server_http, legacy_route_and_default_arch_give_the_same_bytes)
{
    const char *paths[] = {
        "/api/upgrades_info/graph?channel=stable-4.2",
        "/api/upgrades_info/v1/graph?channel=stable-4.2&arch=amd64",
        "/api/upgrades_info/v1/graph?arch=amd64&channel=stable-4.2&version=4.1.0&id=x",
        "/api/upgrades_info/v1/graph?channel=fast-4.2&channel=stable-4.2", /* last wins */
    };
    stest_resp first;

    start(1, NULL, 0);
    first = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.2", NULL);
    cr_assert_eq(first.status, 200);
    cr_assert_gt(first.body.len, 100);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        stest_resp r = req("GET", graph_base, paths[i], NULL);
        cr_assert_eq(r.status, 200, "%s", paths[i]);
        cr_assert_str_eq(r.body.data, first.body.data, "%s", paths[i]);
        stest_resp_free(&r);
    }
    stest_resp_free(&first);
}

Test(server_http, accept_negotiation)
{
    static const struct {
        const char *accept; /* NULL: no header */
        long status;
        const char *type;
    } cases[] = {
        {NULL, 200, CT_VND},
        {"Accept: application/json", 200, "application/json"},
        {"Accept: " CT_VND, 200, CT_VND},
        {"Accept: */*", 200, "application/json"},
        {"Accept: *", 200, "application/json"},
        {"Accept: application/*", 200, "application/json"},
        {"Accept: application/json, text/plain", 406, "application/json"},
        {"Accept: application/json;q=0.9", 406, "application/json"},
        {"Accept: text/html", 406, "application/json"},
        {"Accept: Application/JSON", 406, "application/json"},
    };

    start(1, NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *h[] = {cases[i].accept, NULL};
        stest_resp r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.1",
                           cases[i].accept ? h : NULL);
        char type[128];
        cr_assert_eq(r.status, cases[i].status, "case %zu", i);
        cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)), cases[i].type,
                         "case %zu", i);
        if (r.status == 406)
            cr_assert_str_eq(r.body.data, "{\"kind\":\"invalid_content_type\","
                                          "\"value\":\"invalid Content-Type requested\"}");
        stest_resp_free(&r);
    }
}

Test(server_http, parameter_errors)
{
    stest_resp r;

    start(1, NULL, 0);
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"missing_params\","
                "\"value\":\"mandatory client parameters missing: channel\"}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph?arch=amd64&chanel=stable-4.1", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"missing_params\","
                "\"value\":\"mandatory client parameters missing: channel\"}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: "
                "channel '' does not match regex '^[0-9a-z\\\\-\\\\.]+$'\"}");
    r = req("GET", graph_base, "/api/upgrades_info/graph?channel=Stable-4.1", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: "
                "channel 'Stable-4.1' does not match regex '^[0-9a-z\\\\-\\\\.]+$'\"}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.1&arch=AMD64", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: "
                "arch 'AMD64' does not match regex '^[0-9a-z]+$'\"}");
    /* a quote in the echoed value stays valid JSON */
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=%22x", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: "
                "channel '\\\"x' does not match regex '^[0-9a-z\\\\-\\\\.]+$'\"}");
}

Test(server_http, unknown_channel_or_arch_is_an_empty_graph)
{
    const char *paths[] = {"/api/upgrades_info/v1/graph?channel=stable-9.9",
                           "/api/upgrades_info/v1/graph?channel=stable-4.2&arch=riscv64"};

    start(1, NULL, 0);
    for (size_t i = 0; i < 2; i++) {
        json_t *g = get_graph(paths[i], CT_VND);
        char *text = json_dumps(g, JSON_COMPACT);
        cr_assert_str_eq(text, "{\"version\":1,\"nodes\":[],\"edges\":[],\"conditionalEdges\":[]}");
        free(text);
        json_decref(g);
    }
}

Test(server_http, routes_and_methods)
{
    stest_resp r;
    char allow[64];

    start(1, NULL, 0);
    r = req("GET", graph_base, "/nope", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph/?channel=stable-4.1", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/v1/graph?channel=stable-4.1", NULL); /* prefix required */
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/", NULL); /* no web directory configured */
    assert_body(&r, 404, "");
    r = req("POST", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.1", NULL);
    cr_assert_str_eq(stest_header(&r, "Allow", allow, sizeof(allow)), "GET");
    assert_body(&r, 405, "");
    r = req("HEAD", graph_base, "/api/upgrades_info/graph?channel=stable-4.1", NULL);
    cr_assert_eq(r.status, 405, "HEAD is refused like the reference does");
    stest_resp_free(&r);
    r = req("DELETE", graph_base, "/api/upgrades_info/graph", NULL);
    assert_body(&r, 405, "");
    /* still serving after all of that */
    r = req("GET", graph_base, "/api/upgrades_info/graph?channel=stable-4.1", NULL);
    cr_assert_eq(r.status, 200);
    stest_resp_free(&r);
}

Test(server_http, cors)
{
    const char *with_origin[] = {"Origin: https://console.example", NULL};
    const char *preflight[] = {"Origin: https://console.example",
                               "Access-Control-Request-Method: GET", NULL};
    const char *bad_method[] = {"Origin: https://console.example",
                                "Access-Control-Request-Method: POST", NULL};
    const char *with_headers[] = {"Origin: https://console.example",
                                  "Access-Control-Request-Method: GET",
                                  "Access-Control-Request-Headers: x-foo", NULL};
    const char *path = "/api/upgrades_info/v1/graph?channel=stable-4.1";
    char buf[256];
    stest_resp r;

    start(1, NULL, 0);
    r = req("GET", graph_base, path, with_origin);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(stest_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)),
                     "https://console.example");
    /* a graph body also varies by encoding (gzip variant) */
    cr_assert_str_eq(
        stest_header(&r, "Vary", buf, sizeof(buf)),
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Accept-Encoding");
    stest_resp_free(&r);

    r = req("GET", graph_base, path, NULL); /* no Origin: Vary but no echo */
    cr_assert_null(stest_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)));
    cr_assert_not_null(stest_header(&r, "Vary", buf, sizeof(buf)));
    stest_resp_free(&r);

    r = req("OPTIONS", graph_base, path, preflight);
    cr_assert_str_eq(stest_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)),
                     "https://console.example");
    cr_assert_str_eq(stest_header(&r, "Access-Control-Allow-Methods", buf, sizeof(buf)),
                     "GET, HEAD");
    assert_body(&r, 200, "");
    r = req("OPTIONS", graph_base, path, bad_method);
    assert_body(&r, 400, "Requested method is not allowed.");
    r = req("OPTIONS", graph_base, path, with_headers);
    assert_body(&r, 400, "One or more request headers are not allowed.");
    r = req("OPTIONS", graph_base, path, with_origin); /* not a preflight: routed normally */
    assert_body(&r, 405, "");
}

Test(server_http, before_the_first_load)
{
    stest_resp r;

    start(0, NULL, 0);
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 503, "no graph loaded yet\n");
    r = req("GET", status_base, "/liveness", NULL);
    assert_body(&r, 200, "ok\n");
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.1", NULL);
    assert_body(&r, 503, "{\"kind\":\"service_unavailable\",\"value\":\"no graph loaded yet\"}");
    /* client errors are still client errors */
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph", NULL);
    cr_assert_eq(r.status, 400);
    stest_resp_free(&r);

    cr_assert_eq(server_reload(srv, NULL), 0);
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 200, "ok\n");
}

Test(server_http, reload_replaces_cached_bodies)
{
    char versions[256];
    cincy_error err;
    json_t *g;

    start(1, NULL, 0);
    g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.2", CT_VND);
    node_versions(versions, sizeof(versions), g);
    cr_assert_str_eq(versions, "4.1.0 4.1.1 4.2.0 4.2.1");
    json_decref(g);

    write_graph_data("4.1.1, 4.2.0"); /* stable-4.2 shrinks; same releases */
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
    g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.2", CT_VND);
    node_versions(versions, sizeof(versions), g);
    cr_assert_str_eq(versions, "4.1.1 4.2.0", "the cached body of the old graph was served");
    json_decref(g);
}

Test(server_http, failed_reload_keeps_the_graph)
{
    stest_resp before, after, m;
    char path[512];
    cincy_error err;

    start(1, NULL, 0);
    before = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.2", NULL);
    cr_assert_eq(before.status, 200);
    TEST_SNPRINTF(path, "%s/graph-data/version", tmp);
    unlink(path);
    cincy_error_clear(&err);
    cr_assert_eq(server_reload(srv, &err), CINCY_EINVALID);
    cr_assert(strstr(err.file, "version") || strstr(err.msg, "version"), "%s: %s", err.file,
              err.msg);
    after = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.2", NULL);
    cr_assert_eq(after.status, 200);
    cr_assert_str_eq(after.body.data, before.body.data);
    m = req("GET", status_base, "/metrics", NULL);
    assert_has_line(m.body.data, "cincy_graph_loads_total 1");
    assert_has_line(m.body.data, "cincy_graph_load_errors_total 1");
    assert_has_line(m.body.data, "cincy_graph_nodes 20");
    stest_resp_free(&m);
    m = req("GET", status_base, "/readiness", NULL);
    assert_body(&m, 200, "ok\n");
    stest_resp_free(&before);
    stest_resp_free(&after);
}

Test(server_http, metrics)
{
    const char *v1 = "/api/upgrades_info/v1/graph?channel=stable-4.2";
    stest_resp r;
    char type[128];

    start(1, NULL, 0);
    for (int i = 0; i < 2; i++) {
        r = req("GET", graph_base, v1, NULL);
        cr_assert_eq(r.status, 200);
        stest_resp_free(&r);
    }
    r = req("GET", graph_base, "/api/upgrades_info/graph?channel=stable-4.2", NULL);
    stest_resp_free(&r);
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph", NULL);
    stest_resp_free(&r);
    r = req("GET", graph_base, "/some/random/path", NULL);
    stest_resp_free(&r);
    r = req("GET", status_base, "/liveness", NULL);
    stest_resp_free(&r);

    r = req("GET", status_base, "/metrics", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)),
                     "text/plain; version=0.0.4; charset=utf-8");
    assert_has_line(r.body.data, "# TYPE cincy_http_requests_total counter");
    assert_has_line(
        r.body.data,
        "cincy_http_requests_total{listener=\"graph\",path=\"/v1/graph\",code=\"200\"} 2");
    assert_has_line(
        r.body.data,
        "cincy_http_requests_total{listener=\"graph\",path=\"/v1/graph\",code=\"400\"} 1");
    assert_has_line(r.body.data,
                    "cincy_http_requests_total{listener=\"graph\",path=\"/graph\",code=\"200\"} 1");
    assert_has_line(r.body.data,
                    "cincy_http_requests_total{listener=\"graph\",path=\"other\",code=\"404\"} 1");
    assert_has_line(
        r.body.data,
        "cincy_http_requests_total{listener=\"status\",path=\"/liveness\",code=\"200\"} 1");
    cr_assert_null(strstr(r.body.data, "random"), "raw URLs never become labels");
    assert_has_line(r.body.data, "cincy_graph_nodes 20");
    assert_has_line(r.body.data, "cincy_graph_edges 20");
    assert_has_line(r.body.data, "cincy_graph_conditional_edges 5");
    assert_has_line(r.body.data, "cincy_graph_releases 20");
    assert_has_line(r.body.data, "cincy_graph_channels 2");
    assert_has_line(r.body.data, "cincy_graph_loads_total 1");
    assert_has_line(r.body.data, "cincy_graph_load_errors_total 0");
    assert_has_line(r.body.data, "cincy_response_cache_hits_total 2");
    assert_has_line(r.body.data, "cincy_response_cache_misses_total 1");
    assert_has_line(r.body.data, "cincy_response_cache_entries 1");
    cr_assert_not_null(strstr(r.body.data, "\ncincy_build_info{version=\"0.1.0\",commit=\""));
    cr_assert_null(strstr(r.body.data, "cincy_graph_last_load_timestamp_seconds 0.000\n"),
                   "a load happened");
    stest_resp_free(&r);
}

Test(server_http, status_routes)
{
    stest_resp r;
    char allow[64];

    start(1, NULL, 0);
    r = req("GET", status_base, "/liveness", NULL);
    assert_body(&r, 200, "ok\n");
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 200, "ok\n");
    r = req("GET", status_base, "/api/upgrades_info/liveness", NULL);
    assert_body(&r, 404, "");
    r = req("GET", status_base, "/api/upgrades_info/v1/graph?channel=stable-4.1", NULL);
    assert_body(&r, 404, "");
    r = req("POST", status_base, "/metrics", NULL);
    cr_assert_str_eq(stest_header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
    assert_body(&r, 405, "");
}

Test(server_http, web_directory)
{
    stest_resp r;
    char type[128];

    start(1, NULL, 1);
    r = req("GET", graph_base, "/", NULL);
    cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)),
                     "text/html; charset=utf-8");
    assert_body(&r, 200, "<h1>cincy</h1>\n");
    r = req("GET", graph_base, "/index.html", NULL);
    assert_body(&r, 200, "<h1>cincy</h1>\n");
    r = req("GET", graph_base, "/js/app.js", NULL);
    cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)),
                     "text/javascript; charset=utf-8");
    assert_body(&r, 200, "console.log(1);\n");
    r = req("GET", graph_base, "/../outside.txt", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/js/../../outside.txt", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/%2e%2e/outside.txt", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/.secret", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/js", NULL); /* a directory */
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/missing.html", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "//etc/passwd", NULL); /* absolute path */
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/%2fetc%2fpasswd", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/js/%2e%2e/%2e%2e/outside.txt", NULL);
    assert_body(&r, 404, "");
    r = req("POST", graph_base, "/", NULL);
    assert_body(&r, 405, "");
    /* the graph routes are not shadowed by the page */
    r = req("GET", graph_base, "/api/upgrades_info/graph?channel=stable-4.1", NULL);
    cr_assert_eq(r.status, 200);
    stest_resp_free(&r);
}

/* The page is the set of files read at start: nothing written later is
 * served, however it is named, and a symlink leading outside is not read. */
Test(server_http, web_directory_is_a_fixed_set)
{
    char web[512], target[512], link[512];
    stest_resp r;

    start(1, NULL, 1);
    TEST_SNPRINTF(web, "%s/web", tmp);
    test_write(web, "late.html", "<p>late</p>\n");
    r = req("GET", graph_base, "/late.html", NULL);
    assert_body(&r, 404, "");
    test_write(web, "index.html", "<h1>changed</h1>\n");
    r = req("GET", graph_base, "/", NULL);
    assert_body(&r, 200, "<h1>cincy</h1>\n"); /* the bytes read at start */
    stop();

    /* a symlink to a file outside is skipped at start; one inside is served */
    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(web, "%s/w", tmp);
    test_write(web, "index.html", "<h1>x</h1>\n");
    test_write(tmp, "outside.txt", "outside\n");
    TEST_SNPRINTF(target, "%s/outside.txt", tmp);
    TEST_SNPRINTF(link, "%s/out.txt", web);
    cr_assert_eq(symlink(target, link), 0);
    TEST_SNPRINTF(link, "%s/in.html", web);
    cr_assert_eq(symlink("index.html", link), 0);
    {
        char big[4096];
        server_web *w = NULL;
        const server_web_file *f;

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        test_write(web, "m/app.mjs", big);
        test_write(web, "m/app.mjs.map", big);
        test_write(web, "m/font.woff2", big);
        cr_assert_eq(server_web_load(&w, web, NULL), 0);
        f = server_web_find(w, "/m/app.mjs");
        cr_assert_str_eq(f->type, "text/javascript; charset=utf-8");
        cr_assert_not_null(f->body->gz); /* text: gzip variant made */
        cr_assert_str_eq(server_web_find(w, "/m/app.mjs.map")->type, "application/json");
        f = server_web_find(w, "/m/font.woff2");
        cr_assert_str_eq(f->type, "font/woff2");
        cr_assert_null(f->body->gz); /* binary: never compressed again */
        cr_assert_eq(w->bytes, 3 * (sizeof(big) - 1) + strlen("<h1>x</h1>\n") * 2);
        cr_assert_null(server_web_find(w, "/out.txt"));
        cr_assert_not_null(server_web_find(w, "/in.html"));
        cr_assert_not_null(server_web_find(w, "/"));
        cr_assert_null(server_web_find(w, "/index.html/"));
        cr_assert_eq(w->n, 5);
        server_web_free(w);
    }
}

Test(server_http, web_etag_gzip_and_cache_control)
{
    const char *gz[] = {"Accept-Encoding: gzip", NULL};
    char etag[128], hdr[256], inm[200], type[128];
    const char *cond[] = {inm, NULL};
    stest_resp r;

    start(1, NULL, 1);
    r = req("GET", graph_base, "/", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(stest_header(&r, "ETag", etag, sizeof(etag)));
    cr_assert_str_eq(stest_header(&r, "Cache-Control", hdr, sizeof(hdr)), "no-cache");
    stest_resp_free(&r);
    TEST_SNPRINTF(inm, "If-None-Match: %s", etag);
    r = req("GET", graph_base, "/index.html", cond);
    cr_assert_str_eq(stest_header(&r, "ETag", hdr, sizeof(hdr)), etag);
    assert_body(&r, 304, "");
    r = req("GET", graph_base, "/js/app.js", NULL);
    cr_assert_str_eq(stest_header(&r, "Cache-Control", hdr, sizeof(hdr)), "public, max-age=300");
    cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)),
                     "text/javascript; charset=utf-8");
    assert_body(&r, 200, "console.log(1);\n");
    /* a 15-byte page does not shrink: no gzip variant, identity bytes */
    r = req("GET", graph_base, "/", gz);
    cr_assert_null(stest_header(&r, "Content-Encoding", hdr, sizeof(hdr)));
    assert_body(&r, 200, "<h1>cincy</h1>\n");
    r = req("HEAD", graph_base, "/js/app.js", NULL);
    assert_body(&r, 200, "");
    r = req("DELETE", graph_base, "/js/app.js", NULL);
    cr_assert_str_eq(stest_header(&r, "Allow", hdr, sizeof(hdr)), "GET, HEAD");
    assert_body(&r, 405, "");
}

Test(server_http, empty_prefix)
{
    stest_resp r;

    start(1, "", 0);
    r = req("GET", graph_base, "/v1/graph?channel=stable-4.1", NULL);
    cr_assert_eq(r.status, 200);
    stest_resp_free(&r);
    r = req("GET", graph_base, "/graph?channel=stable-4.1", NULL);
    cr_assert_eq(r.status, 200);
    stest_resp_free(&r);
    r = req("GET", graph_base, "//graph?channel=stable-4.1", NULL);
    assert_body(&r, 404, "");
    r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.1", NULL);
    assert_body(&r, 404, "");
}

Test(server_http, start_fails_on_a_taken_port)
{
    server_config cfg;
    server *second = NULL;
    cincy_error err;

    start(0, NULL, 0);
    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = server_graph_port(srv);
    cfg.status_port = 0;
    cr_assert_lt(server_start(&second, &cfg, &err), 0);
    cr_assert_null(second);
    cr_assert(strstr(err.msg, "cannot listen on graph port 127.0.0.1:") == err.msg, "%s", err.msg);
    server_config_clear(&cfg);
}
