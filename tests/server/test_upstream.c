/* tests/server/test_upstream.c - an upstream Cincinnati service relayed.
 *
 * The upstream is a real second cincy started in-process over the fixture
 * graph-data (server_fixture.h): per arch 4.1.0 -> 4.1.1, 4.1.0 -> 4.2.0,
 * 4.1.1 -> 4.2.1, 4.2.0 -> 4.2.1, the pair 4.1.1 -> 4.2.0 conditional
 * (TestRisk), 4.1.0 -> 4.2.1 blocked. Bodies a cincy never serves (bad JSON,
 * 404, 503, two payloads for one version) come from a tiny libmicrohttpd
 * server below. */
#include <stdatomic.h>

#include <microhttpd.h>

#include "policy/policy.h"
#include "server_fixture.h"

#define GRAPH_PATH "/api/upgrades_info/v1/graph"

static const char *const fixture_channels[] = {"stable-4.1", "stable-4.2"};
static const char *const fixture_arches[] = {"amd64", "arm64", "multi"};

static void setup(void)
{
    start(1, NULL, 0);
}

static void teardown(void)
{
    stop();
}

/* A config for the fixture upstream's two channels and three arches. */
static ingest_upstream_config fixture_config(char *url, size_t size)
{
    ingest_upstream_config cfg = {0};

    snprintf(url, size, "%s%s", graph_base, GRAPH_PATH);
    cfg.url = url;
    cfg.channels = fixture_channels;
    cfg.nchannels = 2;
    cfg.arches = fixture_arches;
    cfg.narches = 3;
    cfg.timeout_seconds = 10;
    return cfg;
}

static ingest_upstream *new_upstream(const ingest_upstream_config *cfg)
{
    ingest_upstream *up = NULL;
    cincy_error err;

    cr_assert_eq(ingest_upstream_new(&up, cfg, &err), 0, "%s", err.msg);
    return up;
}

/* Fetches and asserts the result changed; returns the merged graph. */
static ingest_upstream_graph *fetch_changed(ingest_upstream *up, ingest_upstream_stats *st)
{
    ingest_upstream_graph *g = (ingest_upstream_graph *)1; /* never written on success */
    cincy_error err;
    int changed = -1;

    cr_assert_eq(ingest_upstream_fetch(&g, &changed, up, st, &err), 0, "%s", err.msg);
    cr_assert_eq(changed, 1);
    cr_assert_not_null(g);
    return g;
}

/* The body the upstream serves for channel/arch, as a client asking for JSON. */
static char *upstream_body(const char *channel, const char *arch)
{
    const char *const headers[] = {"Accept: application/json", NULL};
    char url[512];
    stest_resp r;
    char *body;

    TEST_SNPRINTF(url, "%s%s?channel=%s&arch=%s", graph_base, GRAPH_PATH, channel, arch);
    r = stest_request("GET", url, headers);
    cr_assert_eq(r.status, 200, "%s: %ld", url, r.status);
    body = strdup(r.body.data);
    stest_resp_free(&r);
    return body;
}

/* What cincy serves for channel/arch from full: the server's own steps. */
static char *served_body(const graph_snapshot *full, const char *channel, const char *arch)
{
    graph_snapshot *view = NULL;
    cincy_error err;
    char *json = NULL;
    size_t len;

    cr_assert_eq(policy_filter(&view, full, channel, arch, &err), 0, "%s", err.msg);
    cr_assert_eq(graph_snapshot_to_json(&json, &len, view, GRAPH_JSON_V1), 0);
    graph_snapshot_unref(view);
    return json;
}

static graph_snapshot *build(const ingest_upstream_graph *g, const ingest_graph_data *gd)
{
    graph_snapshot *snap = NULL;
    cincy_error err;

    cr_assert_eq(policy_build_upstream(&snap, g, gd, NULL, &err), 0, "%s", err.msg);
    return snap;
}

/* Every fetched pair: cincy's answer is the upstream's, byte for byte (both
 * order nodes, edges and groups as docs/graph-order.md says). */
static void assert_relay_equals_upstream(const graph_snapshot *snap)
{
    for (size_t c = 0; c < 2; c++) {
        for (size_t a = 0; a < 3; a++) {
            char *want = upstream_body(fixture_channels[c], fixture_arches[a]);
            char *got = served_body(snap, fixture_channels[c], fixture_arches[a]);
            cr_assert_str_eq(got, want, "channel %s arch %s", fixture_channels[c],
                             fixture_arches[a]);
            free(want);
            free(got);
        }
    }
}

/* "from>to:Risk,Risk;..." from a response's conditionalEdges. */
static void cond_summary(char *out, size_t size, const char *json)
{
    json_t *root = json_loads(json, 0, NULL), *groups, *g;
    size_t pos = 0, i, k, r;

    cr_assert_not_null(root);
    out[0] = '\0';
    groups = json_object_get(root, "conditionalEdges");
    json_array_foreach(groups, i, g)
    {
        json_t *e, *risk;
        json_array_foreach(json_object_get(g, "edges"), k, e)
        {
            pos += (size_t)snprintf(out + pos, size - pos, "%s%s>%s:", pos ? ";" : "",
                                    json_string_value(json_object_get(e, "from")),
                                    json_string_value(json_object_get(e, "to")));
            json_array_foreach(json_object_get(g, "risks"), r, risk)
            {
                pos += (size_t)snprintf(out + pos, size - pos, "%s%s", r ? "," : "",
                                        json_string_value(json_object_get(risk, "name")));
            }
        }
    }
    json_decref(root);
}

/* "[[0,1],[2,3]]" from a response's edges. */
static void edges_text(char *out, size_t size, const char *json)
{
    json_t *root = json_loads(json, 0, NULL);
    char *dumped;

    cr_assert_not_null(root);
    dumped = json_dumps(json_object_get(root, "edges"), JSON_COMPACT);
    snprintf(out, size, "%s", dumped);
    free(dumped);
    json_decref(root);
}

static void versions_of(char *out, size_t size, const char *json)
{
    json_t *root = json_loads(json, 0, NULL);

    cr_assert_not_null(root);
    node_versions(out, size, root);
    json_decref(root);
}

TestSuite(upstream_relay, .init = setup, .fini = teardown, .timeout = 60);

Test(upstream_relay, relayed_graph_equals_upstream_for_every_pair)
{
    char url[256], text[512];
    ingest_upstream_config cfg = fixture_config(url, sizeof(url));
    ingest_upstream *up = new_upstream(&cfg);
    ingest_upstream_stats st;
    ingest_upstream_graph *g = fetch_changed(up, &st);
    graph_snapshot *snap = build(g, NULL);
    char *body;

    cr_assert_eq(st.requests, 6);
    cr_assert_eq(st.changed, 6);
    cr_assert_eq(st.not_modified, 0);
    /* 4 versions x 3 arches, each once although stable-4.2 and stable-4.1 share 4.1.x */
    cr_assert_eq(g->releases.count, 12);
    cr_assert_eq(g->nconds, 3); /* 4.1.1 -> 4.2.0 per arch */
    for (size_t i = 0; i < g->releases.count; i++) {
        const ingest_release *r = &g->releases.items[i];
        if (strcmp(r->version, "4.1.0") == 0)
            cr_assert_str_eq(g->seen_in[i], "stable-4.1,stable-4.2", "%s", r->arch);
        else if (strcmp(r->version, "4.2.0") == 0)
            cr_assert_str_eq(g->seen_in[i], "stable-4.2");
        cr_assert_not_null(r->manifestref);
        cr_assert(strstr(r->payload, r->manifestref) != NULL, "%s", r->payload);
    }
    assert_relay_equals_upstream(snap);

    /* The comparison has something to compare: the risk and the block. */
    body = served_body(snap, "stable-4.2", "amd64");
    cond_summary(text, sizeof(text), body);
    cr_assert_str_eq(text, "4.1.1>4.2.0:TestRisk");
    edges_text(text, sizeof(text), body);
    cr_assert_str_eq(text, "[[0,1],[0,2],[1,3],[2,3]]");
    free(body);
    /* A channel nobody fetched, an arch nobody fetched: empty. */
    body = served_body(snap, "stable-4.2", "s390x");
    versions_of(text, sizeof(text), body);
    cr_assert_str_eq(text, "");
    free(body);

    graph_snapshot_unref(snap);
    ingest_upstream_graph_free(g);
    ingest_upstream_free(up);
}

Test(upstream_relay, second_fetch_is_all_not_modified)
{
    char url[256], line[160];
    ingest_upstream_config cfg = fixture_config(url, sizeof(url));
    ingest_upstream *up = new_upstream(&cfg);
    ingest_upstream_stats st;
    ingest_upstream_graph *g = fetch_changed(up, &st), *again = (ingest_upstream_graph *)1;
    graph_snapshot *a, *b;
    cincy_error err;
    int changed = -1;
    stest_resp m;

    cr_assert_eq(ingest_upstream_fetch(&again, &changed, up, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(changed, 0);
    cr_assert_null(again);
    cr_assert_eq(st.requests, 6);
    cr_assert_eq(st.not_modified, 6);
    cr_assert_eq(st.changed, 0);
    cr_assert_eq(st.bytes, 0);
    /* The upstream saw it the same way: six 304s after six 200s. */
    m = req("GET", status_base, "/metrics", NULL);
    TEST_SNPRINTF(
        line, "cincy_http_requests_total{listener=\"graph\",path=\"/v1/graph\",code=\"304\"} 6");
    assert_has_line(m.body.data, line);
    TEST_SNPRINTF(
        line, "cincy_http_requests_total{listener=\"graph\",path=\"/v1/graph\",code=\"200\"} 6");
    assert_has_line(m.body.data, line);
    stest_resp_free(&m);

    /* The held bodies still give the same graph, without a request. */
    cr_assert_eq(ingest_upstream_current(&again, up, &err), 0, "%s", err.msg);
    a = build(g, NULL);
    b = build(again, NULL);
    for (size_t c = 0; c < 2; c++) {
        char *x = served_body(a, fixture_channels[c], "arm64");
        char *y = served_body(b, fixture_channels[c], "arm64");
        cr_assert_str_eq(x, y);
        free(x);
        free(y);
    }
    graph_snapshot_unref(a);
    graph_snapshot_unref(b);
    ingest_upstream_graph_free(again);
    ingest_upstream_graph_free(g);
    ingest_upstream_free(up);
}

Test(upstream_relay, fetch_after_upstream_change_sees_it)
{
    char url[256], text[256];
    ingest_upstream_config cfg = fixture_config(url, sizeof(url));
    ingest_upstream *up = new_upstream(&cfg);
    ingest_upstream_stats st;
    ingest_upstream_graph *g = fetch_changed(up, &st);
    graph_snapshot *snap;
    cincy_error err;
    char *body;

    ingest_upstream_graph_free(g);
    write_graph_data("4.1.0, 4.1.1, 4.2.0"); /* 4.2.1 leaves stable-4.2 */
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);

    g = fetch_changed(up, &st);
    cr_assert_eq(st.changed, 3, "stable-4.2, three arches");
    cr_assert_eq(st.not_modified, 3, "stable-4.1 renders the same bytes, so the same ETag");
    snap = build(g, NULL);
    assert_relay_equals_upstream(snap);
    body = served_body(snap, "stable-4.2", "multi");
    versions_of(text, sizeof(text), body);
    cr_assert_str_eq(text, "4.1.0 4.1.1 4.2.0");
    free(body);
    graph_snapshot_unref(snap);
    ingest_upstream_graph_free(g);
    ingest_upstream_free(up);
}

/* Local graph-data over the upstream: a new channel, a block, a risk of its
 * own, and a copy of upstream's TestRisk (which must not be listed twice). */
static ingest_graph_data *write_local_graph_data(void)
{
    char dir[512];
    ingest_graph_data *gd = NULL;
    cincy_error err;

    TEST_SNPRINTF(dir, "%s/local-gd", tmp);
    test_write(dir, "version", "1.1.0\n");
    test_write(dir, "raw/metadata.json", "{}\n");
    test_write(dir, "channels/stable-4.2.yaml",
               "name: stable-4.2\nversions: [4.1.0, 4.1.1, 4.2.0, 4.2.1]\n");
    test_write(dir, "channels/local-4.2.yaml", "name: local-4.2\nversions: [4.1.1, 4.2.0]\n");
    test_write(dir, "blocked-edges/4.2.1-block.yaml", "to: 4.2.1\nfrom: ^4[.]1[.]1[+]\n");
    test_write(dir, "blocked-edges/4.2.0-LocalRisk.yaml",
               "to: 4.2.0\nfrom: ^4[.]1[.]\nurl: https://example.invalid/local\n"
               "name: LocalRisk\nmessage: Ours.\nmatchingRules:\n- type: Always\n");
    test_write(dir, "blocked-edges/4.2.0-TestRisk.yaml", risk_yaml);
    cr_assert_eq(ingest_graph_data_load_dir(&gd, dir, &err), 0, "%s", err.msg);
    return gd;
}

Test(upstream_relay, local_graph_data_on_top)
{
    char url[256], text[512];
    ingest_upstream_config cfg = fixture_config(url, sizeof(url));
    ingest_upstream *up = new_upstream(&cfg);
    ingest_upstream_graph *g = fetch_changed(up, NULL);
    ingest_graph_data *gd = write_local_graph_data();
    graph_snapshot *snap = build(g, gd);
    json_t *root, *node;
    char *body;

    body = served_body(snap, "stable-4.2", "amd64");
    versions_of(text, sizeof(text), body);
    cr_assert_str_eq(text, "4.1.0 4.1.1 4.2.0 4.2.1");
    /* 4.1.1 -> 4.2.1 blocked here, 4.1.0 -> 4.2.1 blocked upstream */
    edges_text(text, sizeof(text), body);
    cr_assert_str_eq(text, "[[0,1],[2,3]]");
    /* upstream's risk first, ours after; our TestRisk copy not repeated */
    cond_summary(text, sizeof(text), body);
    cr_assert_str_eq(text, "4.1.0>4.2.0:LocalRisk;4.1.1>4.2.0:TestRisk,LocalRisk");
    root = json_loads(body, 0, NULL);
    node = json_array_get(json_object_get(root, "nodes"), 2);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(node, "metadata"), POLICY_KEY_CHANNELS)),
        "local-4.2,stable-4.2");
    json_decref(root);
    free(body);

    body = served_body(snap, "local-4.2", "arm64"); /* a channel upstream has not */
    versions_of(text, sizeof(text), body);
    cr_assert_str_eq(text, "4.1.1 4.2.0");
    cond_summary(text, sizeof(text), body);
    cr_assert_str_eq(text, "4.1.1>4.2.0:TestRisk,LocalRisk");
    free(body);

    body = served_body(snap, "stable-4.1", "amd64"); /* no local channel file: gone */
    versions_of(text, sizeof(text), body);
    cr_assert_str_eq(text, "");
    free(body);

    graph_snapshot_unref(snap);
    ingest_graph_data_free(gd);
    ingest_upstream_graph_free(g);
    ingest_upstream_free(up);
}

/* ---------------------------------------------------------------------------
 * Failures: a tiny server answering by channel. */

#define GOOD_NODES                                                                                 \
    "[{\"version\":\"4.1.0\",\"payload\":\"example.invalid/r@sha256:aa\",\"metadata\":{}},"        \
    "{\"version\":\"4.1.1\",\"payload\":\"example.invalid/r@sha256:bb\",\"metadata\":{}}]"

static const struct canned {
    const char *channel;
    unsigned status;
    const char *body;
} canned_bodies[] = {
    {"good", 200,
     "{\"version\":1,\"nodes\":" GOOD_NODES ",\"edges\":[[0,1]],"
     "\"conditionalEdges\":[]}"},
    {"bad-payload", 200,
     "{\"version\":1,\"nodes\":[{\"version\":\"4.1.0\",\"payload\":\"x@sha256:aa\","
     "\"metadata\":{}},{\"version\":\"4.1.1\",\"payload\":7,\"metadata\":{}}],"
     "\"edges\":[],\"conditionalEdges\":[]}"},
    {"bad-edge", 200, "{\"version\":1,\"nodes\":" GOOD_NODES ",\"edges\":[[0,5]]}"},
    {"bad-rule", 200,
     "{\"version\":1,\"nodes\":" GOOD_NODES ",\"edges\":[],\"conditionalEdges\":[{\"edges\":"
     "[{\"from\":\"4.1.0\",\"to\":\"4.1.1\"}],\"risks\":[{\"url\":\"https://x.invalid\","
     "\"name\":\"R\",\"message\":\"m\",\"matchingRules\":[{\"type\":\"Sometimes\"}]}]}]}"},
    {"bad-version", 200,
     "{\"version\":1,\"nodes\":[{\"version\":\"4.1.0+amd64\",\"payload\":\"x@sha256:aa\","
     "\"metadata\":{}}],\"edges\":[]}"},
    {"not-json", 200, "<html>maintenance</html>"},
    {"conflict", 200,
     "{\"version\":1,\"nodes\":[{\"version\":\"4.1.0\",\"payload\":\"example.invalid/r@sha256:cc\","
     "\"metadata\":{}}],\"edges\":[]}"},
    {"dangling", 200,
     "{\"version\":1,\"nodes\":" GOOD_NODES ",\"edges\":[],\"conditionalEdges\":[{\"edges\":"
     "[{\"from\":\"4.1.0\",\"to\":\"9.9.9\"},{\"from\":\"4.1.0\",\"to\":\"4.1.1\"}],"
     "\"risks\":[{\"url\":\"https://x.invalid\",\"name\":\"R\",\"message\":\"m\","
     "\"matchingRules\":[{\"type\":\"PromQL\",\"promql\":{\"promql\":\"up\"}}]}]}]}"},
    {"unavailable", 503, "{\"kind\":\"failed_upstream_fetch\",\"value\":\"down\"}"},
};

static atomic_uint canned_requests;

static enum MHD_Result canned_reply(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **con_cls)
{
    const char *channel = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "channel");
    const char *body = "{\"kind\":\"not_found\",\"value\":\"no such channel\"}";
    unsigned status = 404;
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)cls, (void)url, (void)method, (void)version, (void)upload, (void)upload_size,
        (void)con_cls;
    atomic_fetch_add(&canned_requests, 1);
    for (size_t i = 0; channel && i < sizeof(canned_bodies) / sizeof(canned_bodies[0]); i++) {
        if (strcmp(canned_bodies[i].channel, channel) == 0) {
            status = canned_bodies[i].status;
            body = canned_bodies[i].body;
        }
    }
    r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json"); /* and no ETag */
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *canned;
static char canned_url[128];

static void canned_start(void)
{
    int port = stest_free_port();

    cincy_log_set_level(CINCY_LOG_ERROR);
    canned = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
                              canned_reply, NULL, MHD_OPTION_END);
    cr_assert_not_null(canned);
    snprintf(canned_url, sizeof(canned_url), "http://127.0.0.1:%d/v1/graph", port);
}

static void canned_stop(void)
{
    MHD_stop_daemon(canned);
}

/* Fetches the given channels (arch amd64) and expects failure with code;
 * err receives the message. */
static void fetch_fails(const char *const *channels, size_t n, int code, cincy_error *err)
{
    ingest_upstream_config cfg = {0};
    ingest_upstream *up;
    ingest_upstream_graph *g = (ingest_upstream_graph *)1;
    int changed = -1;

    cfg.url = canned_url;
    cfg.channels = channels;
    cfg.nchannels = n;
    up = new_upstream(&cfg);
    cr_assert_eq(ingest_upstream_fetch(&g, &changed, up, NULL, err), code, "%s", err->msg);
    cr_assert_eq(changed, -1, "outputs untouched on failure");
    cr_assert_eq(g, (ingest_upstream_graph *)1);
    ingest_upstream_free(up);
}

static void assert_contains(const char *text, const char *part)
{
    cr_assert(strstr(text, part) != NULL, "'%s' not in '%s'", part, text);
}

TestSuite(upstream_errors, .init = canned_start, .fini = canned_stop, .timeout = 60);

Test(upstream_errors, malformed_bodies_name_request_and_json_path)
{
    static const struct {
        const char *channel, *part;
    } cases[] = {
        {"bad-payload", ": nodes[1].payload: expected a string, got an integer"},
        {"bad-edge", ": edges[0][1]: node index 5 out of range (2 nodes)"},
        {"bad-rule",
         ": conditionalEdges[0].risks[0].matchingRules[0].type: 'Sometimes' is not Always or "
         "PromQL"},
        {"bad-version", ": nodes[0].version: '4.1.0+amd64' is not a canonical version"},
        {"not-json", ": invalid JSON at line 1 column 1"},
    };
    cincy_error err;
    char want[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *ch[] = {"good", cases[i].channel};
        fetch_fails(ch, 2, CINCY_EINVALID, &err);
        TEST_SNPRINTF(want, "upstream %s?channel=%s&arch=amd64%s", canned_url, cases[i].channel,
                      cases[i].part);
        assert_contains(err.msg, want);
    }
}

Test(upstream_errors, http_failures_name_request_and_status)
{
    const char *missing[] = {"good", "nope"}, *down[] = {"unavailable"};
    cincy_error err;
    char want[256];

    fetch_fails(missing, 2, CINCY_ENOTFOUND, &err);
    TEST_SNPRINTF(want,
                  "upstream %s?channel=nope&arch=amd64: HTTP/1.1 404 Not Found (is channel 'nope' "
                  "served for arch 'amd64'?)",
                  canned_url);
    cr_assert_str_eq(err.msg, want);

    fetch_fails(down, 1, CINCY_ERROR, &err);
    TEST_SNPRINTF(want,
                  "upstream %s?channel=unavailable&arch=amd64: HTTP/1.1 503 Service "
                  "Unavailable",
                  canned_url);
    cr_assert_str_eq(err.msg, want);
}

Test(upstream_errors, upstream_down_names_request)
{
    const char *ch[] = {"good"};
    ingest_upstream_config cfg = {0};
    ingest_upstream *up;
    ingest_upstream_graph *g = NULL;
    cincy_error err;
    char url[128], want[256];
    int changed = -1;

    TEST_SNPRINTF(url, "http://127.0.0.1:%d/v1/graph", stest_free_port());
    cfg.url = url;
    cfg.channels = ch;
    cfg.nchannels = 1;
    up = new_upstream(&cfg);
    cr_assert_eq(ingest_upstream_fetch(&g, &changed, up, NULL, &err), CINCY_ERROR);
    TEST_SNPRINTF(want, "upstream %s?channel=good&arch=amd64: ", url);
    assert_contains(err.msg, want);
    assert_contains(err.msg, "onnect"); /* "Failed to connect ... Connection refused" */
    cr_assert_eq(ingest_upstream_current(&g, up, &err), CINCY_ENOTFOUND);
    ingest_upstream_free(up);
}

Test(upstream_errors, two_payloads_for_one_version_fail_the_merge)
{
    const char *ch[] = {"good", "conflict"};
    cincy_error err;

    fetch_fails(ch, 2, CINCY_EINVALID, &err);
    assert_contains(err.msg, "version 4.1.0 arch amd64 has two payloads: "
                             "example.invalid/r@sha256:aa (from ");
    assert_contains(err.msg, "channel=good&arch=amd64) and example.invalid/r@sha256:cc (from ");
}

/* Without an ETag the bytes decide: the same body again is "unchanged". A
 * failed fetch keeps the held state: the next one compares with it. */
Test(upstream_errors, same_bytes_without_etag_are_unchanged)
{
    const char *ch[] = {"good", "dangling"};
    ingest_upstream_config cfg = {0};
    ingest_upstream *up;
    ingest_upstream_graph *g = NULL;
    ingest_upstream_stats st;
    cincy_error err;
    int changed = -1;

    cfg.url = canned_url;
    cfg.channels = ch;
    cfg.nchannels = 2;
    up = new_upstream(&cfg);
    cr_assert_eq(ingest_upstream_fetch(&g, &changed, up, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(changed, 1);
    cr_assert_eq(g->releases.count, 2);
    cr_assert_str_eq(g->seen_in[0], "good,dangling");
    cr_assert_eq(g->releases.items[1].nprevious, 1);
    cr_assert_str_eq(g->releases.items[1].previous[0], "4.1.0");
    /* the pair naming 9.9.9 was skipped, its sibling kept with its PromQL rule */
    cr_assert_eq(g->nconds, 1);
    cr_assert_str_eq(g->conds[0].to, "4.1.1");
    cr_assert_eq(g->conds[0].to_release, 1);
    cr_assert_str_eq(g->conds[0].risks[0].rules[0].promql, "up");
    ingest_upstream_graph_free(g);
    g = (ingest_upstream_graph *)1;

    cr_assert_eq(ingest_upstream_fetch(&g, &changed, up, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(changed, 0);
    cr_assert_null(g);
    cr_assert_eq(st.same_body, 2);
    cr_assert_eq(st.not_modified, 0);
    ingest_upstream_free(up);
}

Test(upstream_errors, bad_config_names_the_field)
{
    const char *ok[] = {"stable-4.2"}, *bad[] = {"Stable 4.2"}, *twice[] = {"a", "b", "a"};
    const char *arch[] = {"x86_64"};
    ingest_upstream_config cfg = {0};
    ingest_upstream *up = NULL;
    cincy_error err;

    cfg.url = "ftp://example.invalid/graph";
    cfg.channels = ok;
    cfg.nchannels = 1;
    cr_assert_eq(ingest_upstream_new(&up, &cfg, &err), CINCY_EINVALID);
    cr_assert_str_eq(err.msg, "upstream: url: 'ftp://example.invalid/graph' is not an http(s) "
                              "URL without a fragment");
    cfg.url = "https://example.invalid/graph";
    cfg.channels = bad;
    cr_assert_eq(ingest_upstream_new(&up, &cfg, &err), CINCY_EINVALID);
    cr_assert_str_eq(err.msg, "upstream: channels[0]: 'Stable 4.2' is not a valid name");
    cfg.channels = twice;
    cfg.nchannels = 3;
    cr_assert_eq(ingest_upstream_new(&up, &cfg, &err), CINCY_EINVALID);
    cr_assert_str_eq(err.msg, "upstream: channels[2]: 'a' repeats channels[0]");
    cfg.channels = ok;
    cfg.nchannels = 1;
    cfg.arches = arch;
    cfg.narches = 1;
    cr_assert_eq(ingest_upstream_new(&up, &cfg, &err), CINCY_EINVALID);
    cr_assert_str_eq(err.msg, "upstream: arches[0]: 'x86_64' is not a valid name");
    cr_assert_null(up);
    cr_assert_eq(atomic_load(&canned_requests), 0);
}
