/* tests/server/test_web_api.c - what the web page asks besides the graph:
 * P/v1/channels (pickers) and P/v1/blocked (edges graph-data removed), on
 * the fixture graph (server_fixture.h: stable-4.1, stable-4.2, five arches,
 * the pure block 4.1.0 -> 4.2.1 in blocked-edges/4.2.1-pure.yaml).
 */
#include "server_fixture.h"

TestSuite(server_webapi, .fini = stop, .timeout = 120);

#define ARCHES "[\"amd64\",\"arm64\",\"multi\",\"ppc64le\",\"s390x\"]"

Test(server_webapi, channels_lists_channels_arches_and_default)
{
    char etag[128], hdr[256], inm[200];
    const char *cond[] = {inm, NULL};
    stest_resp r;

    start(1, NULL, 0);
    r = req("GET", graph_base, "/api/upgrades_info/v1/channels", NULL);
    cr_assert_str_eq(stest_header(&r, "Content-Type", hdr, sizeof(hdr)), "application/json");
    cr_assert_not_null(stest_header(&r, "ETag", etag, sizeof(etag)));
    assert_body(&r, 200,
                "{\"channels\":[{\"name\":\"stable-4.1\",\"arches\":" ARCHES "},"
                "{\"name\":\"stable-4.2\",\"arches\":" ARCHES "}],"
                "\"arches\":" ARCHES ",\"default_channel\":\"stable-4.2\"}");
    TEST_SNPRINTF(inm, "If-None-Match: %s", etag);
    r = req("GET", graph_base, "/api/upgrades_info/v1/channels", cond);
    assert_body(&r, 304, "");
    r = req("HEAD", graph_base, "/api/upgrades_info/v1/channels", NULL);
    assert_body(&r, 200, "");
    r = req("DELETE", graph_base, "/api/upgrades_info/v1/channels", NULL);
    cr_assert_str_eq(stest_header(&r, "Allow", hdr, sizeof(hdr)), "GET, HEAD");
    assert_body(&r, 405, "");
}

Test(server_webapi, channels_and_blocked_before_the_first_load)
{
    stest_resp r;

    start(0, NULL, 0);
    r = req("GET", graph_base, "/api/upgrades_info/v1/channels", NULL);
    assert_body(&r, 503, "{\"kind\":\"service_unavailable\",\"value\":\"no graph loaded yet\"}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=stable-4.2", NULL);
    assert_body(&r, 503, "{\"kind\":\"service_unavailable\",\"value\":\"no graph loaded yet\"}");
}

Test(server_webapi, cors_on_channels)
{
    const char *origin[] = {"Origin: https://example.invalid", NULL};
    char hdr[256];
    stest_resp r;

    start(1, NULL, 0);
    r = req("GET", graph_base, "/api/upgrades_info/v1/channels", origin);
    cr_assert_str_eq(stest_header(&r, "Access-Control-Allow-Origin", hdr, sizeof(hdr)),
                     "https://example.invalid");
    cr_assert_eq(r.status, 200);
    stest_resp_free(&r);
}

Test(server_webapi, blocked_lists_the_pure_block)
{
    stest_resp r;

    start(1, NULL, 0);
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=stable-4.2", NULL);
    assert_body(&r, 200,
                "{\"channel\":\"stable-4.2\",\"arch\":\"amd64\",\"edges\":[{\"from\":\"4.1.0\","
                "\"to\":\"4.2.1\",\"file\":\"blocked-edges/4.2.1-pure.yaml\","
                "\"from_regex\":\"4[.]1[.]0[+]\",\"reason\":null}]}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=stable-4.2&arch=s390x", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\"from\":\"4.1.0\",\"to\":\"4.2.1\""), "%s", r.body.data);
    stest_resp_free(&r);
    /* 4.2.1 is not in stable-4.1, so neither is the removed edge */
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=stable-4.1", NULL);
    assert_body(&r, 200, "{\"channel\":\"stable-4.1\",\"arch\":\"amd64\",\"edges\":[]}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=nope-9.9&arch=x", NULL);
    assert_body(&r, 200, "{\"channel\":\"nope-9.9\",\"arch\":\"x\",\"edges\":[]}");
}

Test(server_webapi, blocked_parameter_errors)
{
    char hdr[64];
    stest_resp r;

    start(1, NULL, 0);
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"missing_params\",\"value\":\"mandatory client parameters missing: "
                "channel\"}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=Stable", NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: channel "
                "'Stable' does not match regex '^[0-9a-z\\\\-\\\\.]+$'\"}");
    r = req("GET", graph_base, "/api/upgrades_info/v1/blocked?channel=stable-4.2&arch=x86_64",
            NULL);
    assert_body(&r, 400,
                "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: arch "
                "'x86_64' does not match regex '^[0-9a-z]+$'\"}");
    r = req("POST", graph_base, "/api/upgrades_info/v1/blocked?channel=stable-4.2", NULL);
    cr_assert_str_eq(stest_header(&r, "Allow", hdr, sizeof(hdr)), "GET, HEAD");
    assert_body(&r, 405, "");
}

/* The removed edge is not served: the graph of the same view lacks it. */
Test(server_webapi, blocked_edges_are_not_in_the_graph)
{
    json_t *g;
    char *edges;

    start(1, NULL, 0);
    g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.2", CT_VND);
    edges = json_dumps(json_object_get(g, "edges"), JSON_COMPACT);
    /* nodes 4.1.0 4.1.1 4.2.0 4.2.1: 4.1.0 -> 4.2.1 would be [0,3] */
    cr_assert_null(strstr(edges, "[0,3]"), "%s", edges);
    free(edges);
    json_decref(g);
}

Test(server_webapi, routes_follow_the_prefix)
{
    stest_resp r;

    start(1, "/x", 0);
    r = req("GET", graph_base, "/x/v1/channels", NULL);
    cr_assert_eq(r.status, 200);
    stest_resp_free(&r);
    r = req("GET", graph_base, "/api/upgrades_info/v1/channels", NULL);
    cr_assert_eq(r.status, 404);
    stest_resp_free(&r);
}
