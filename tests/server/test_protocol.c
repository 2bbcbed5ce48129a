/* tests/server/test_protocol.c - the HTTP protocol point by point, over real
 * HTTP against the in-process fixture (server_fixture.h). Each test names the
 * checklist point of spec §1.11 (or the section) it covers; the serve-fast
 * points (ETag, 304, gzip, one render per body) follow. docs/protocol.md is
 * the table these tests hold cincy to.
 */
#include <pthread.h>
#include <zlib.h>

#include "server_fixture.h"

#define V1 "/api/upgrades_info/v1/graph"
#define LEGACY "/api/upgrades_info/graph"
#define CORS_VARY "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
#define GRAPH_VARY CORS_VARY ", Accept-Encoding"
#define EMPTY_GRAPH "{\"version\":1,\"nodes\":[],\"edges\":[],\"conditionalEdges\":[]}"
#define MISSING_CHANNEL                                                                            \
    "{\"kind\":\"missing_params\",\"value\":\"mandatory client parameters missing: channel\"}"
#define CHANNEL_REGEX_JSON "'^[0-9a-z\\\\-\\\\.]+$'"

TestSuite(server_protocol, .fini = stop, .timeout = 120);

static stest_resp get(const char *path, const char *h1, const char *h2)
{
    const char *headers[] = {h1, h2, NULL};
    return req("GET", graph_base, path, h1 ? headers : NULL);
}

static void assert_header(const stest_resp *r, const char *name, const char *want)
{
    char buf[512];
    const char *got = stest_header(r, name, buf, sizeof(buf));

    if (!want)
        cr_assert_null(got, "%s: unexpected value %s", name, got);
    else
        cr_assert_str_eq(got ? got : "(absent)", want, "header %s", name);
}

/* The value of a metric line "name value" on the status port, or -1. */
static long metric(const char *name)
{
    stest_resp r = req("GET", status_base, "/metrics", NULL);
    char line[256];
    const char *p;
    long v = -1;

    snprintf(line, sizeof(line), "\n%s ", name);
    if ((p = strstr(r.body.data, line)) != NULL)
        v = strtol(p + strlen(line), NULL, 10);
    stest_resp_free(&r);
    return v;
}

/* The gzip bytes of r inflated into a new NUL-terminated string. */
static char *gunzip(const stest_buf *in, size_t *out_len)
{
    size_t cap = in->len * 20 + 64;
    char *out = malloc(cap + 1);
    z_stream z;

    cr_assert_not_null(out);
    memset(&z, 0, sizeof(z));
    cr_assert_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END, "not a complete gzip stream");
    *out_len = z.total_out;
    out[*out_len] = '\0';
    inflateEnd(&z);
    return out;
}

/* ---------------------------------------------------------------------------
 * §1.11 checklist */

/* §1.11 "Both /graph and /v1/graph under the prefix" */
Test(server_protocol, both_routes_identical_bytes_under_the_prefix)
{
    stest_resp a, b, r;

    start(1, "/custom/prefix", 0);
    a = get("/custom/prefix/v1/graph?channel=stable-4.2", NULL, NULL);
    b = get("/custom/prefix/graph?channel=stable-4.2", NULL, NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_eq(b.status, 200);
    cr_assert_gt(a.body.len, 100);
    cr_assert_eq(a.body.len, b.body.len);
    cr_assert(!memcmp(a.body.data, b.body.data, a.body.len));
    stest_resp_free(&a);
    stest_resp_free(&b);
    /* not under the prefix, or the default prefix: unknown paths, 404 empty */
    r = get("/v1/graph?channel=stable-4.2", NULL, NULL);
    assert_header(&r, "Vary", CORS_VARY);
    assert_body(&r, 404, "");
    r = get(V1 "?channel=stable-4.2", NULL, NULL);
    assert_body(&r, 404, "");
    r = get("/custom/prefix/v2/graph?channel=stable-4.2", NULL, NULL);
    assert_body(&r, 404, "");
    r = req("POST", graph_base, "/nope", NULL); /* unknown path: 404 whatever the method */
    assert_body(&r, 404, "");
}

/* §1.11 "GET only": 405, Allow: GET, empty body, on every route */
Test(server_protocol, get_only_405_with_allow)
{
    const char *paths[] = {V1 "?channel=stable-4.2", LEGACY "?channel=stable-4.2",
                           "/api/upgrades_info/v1/openapi", "/api/upgrades_info/openapi"};
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"};

    start(1, NULL, 0);
    for (size_t i = 0; i < 4; i++) {
        for (size_t m = 0; m < 6; m++) {
            stest_resp r = req(methods[m], graph_base, paths[i], NULL);
            cr_assert_eq(r.status, 405, "%s %s: %ld", methods[m], paths[i], r.status);
            assert_header(&r, "Allow", "GET");
            assert_header(&r, "Vary", CORS_VARY);
            cr_assert_str_eq(r.body.data, "");
            stest_resp_free(&r);
        }
    }
}

/* §1.11 "Accept table of §1.4 reproduced exactly, including 406 for q-values and lists" */
Test(server_protocol, accept_table_every_row)
{
    static const struct {
        const char *accept; /* NULL: no header */
        long status;
        const char *type;
    } rows[] = {
        {NULL, 200, "application/vnd.redhat.cincinnati.v1+json"},
        {"Accept: application/json", 200, "application/json"},
        {"Accept: application/vnd.redhat.cincinnati.v1+json", 200,
         "application/vnd.redhat.cincinnati.v1+json"},
        {"Accept: *", 200, "application/json"},
        {"Accept: */*", 200, "application/json"},
        {"Accept: application/*", 200, "application/json"},
        {"Accept: application/json, text/plain", 406, "application/json"},
        {"Accept: application/json;q=0.9", 406, "application/json"},
        {"Accept: text/html,application/xhtml+xml,*/*;q=0.8", 406, "application/json"},
        {"Accept: Application/JSON", 406, "application/json"},
        {"Accept: application/vnd.redhat.cincinnati.v1+json;q=1", 406, "application/json"},
        {"Accept;", 406, "application/json"}, /* present but empty */
    };
    stest_resp first;

    start(1, NULL, 0);
    first = get(V1 "?channel=stable-4.1", NULL, NULL);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        stest_resp r = get(V1 "?channel=stable-4.1", rows[i].accept, NULL);
        cr_assert_eq(r.status, rows[i].status, "row %zu: %ld", i, r.status);
        assert_header(&r, "Content-Type", rows[i].type);
        if (r.status == 406)
            cr_assert_str_eq(r.body.data, "{\"kind\":\"invalid_content_type\","
                                          "\"value\":\"invalid Content-Type requested\"}");
        else
            cr_assert_str_eq(r.body.data, first.body.data, "row %zu: same bytes", i);
        stest_resp_free(&r);
    }
    stest_resp_free(&first);
}

/* §1.4 "only the first Accept header line is considered" */
Test(server_protocol, accept_first_header_line_counts)
{
    stest_resp r;

    start(1, NULL, 0);
    r = get(V1 "?channel=stable-4.1", "Accept: application/json", "Accept: text/html");
    cr_assert_eq(r.status, 200);
    assert_header(&r, "Content-Type", "application/json");
    stest_resp_free(&r);
    r = get(V1 "?channel=stable-4.1", "Accept: text/html", "Accept: application/json");
    cr_assert_eq(r.status, 406);
    stest_resp_free(&r);
}

/* §1.11 "Missing channel → 400 missing_params" (key presence only, case-sensitive) */
Test(server_protocol, missing_channel_is_missing_params)
{
    const char *paths[] = {V1,
                           V1 "?",
                           V1 "?arch=amd64",
                           V1 "?Channel=stable-4.1",
                           V1 "?channels=stable-4.1",
                           LEGACY "?version=4.1.0&id=x"};

    start(1, NULL, 0);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        stest_resp r = get(paths[i], NULL, NULL);
        assert_header(&r, "Content-Type", "application/json");
        assert_header(&r, "Vary", CORS_VARY);
        assert_body(&r, 400, MISSING_CHANNEL);
    }
}

/* §1.11 "bad channel/arch → 400 invalid_params", values echoed as decoded */
Test(server_protocol, bad_channel_or_arch_is_invalid_params)
{
    static const struct {
        const char *query;
        const char *value; /* the JSON of the echoed part, between the quotes */
    } rows[] = {
        {"channel=", "channel ''"},
        {"channel", "channel ''"}, /* a bare key is present, and empty */
        {"channel=Stable-4.1", "channel 'Stable-4.1'"},
        {"channel=stable_4.1", "channel 'stable_4.1'"},
        {"channel=stable+4.1", "channel 'stable 4.1'"},   /* '+' decodes to a space */
        {"channel=stable%2F4.1", "channel 'stable/4.1'"}, /* percent-decoded */
        {"channel=a%00b", "channel 'a\\u0000b'"},         /* NUL does not cut the value */
        {"channel=a%FFb", "channel 'a�b'"},               /* invalid UTF-8: U+FFFD */
        {"channel=%22x", "channel '\\\"x'"},
        {"channel=stable-4.1&arch=", "arch ''"},
        {"channel=stable-4.1&arch=AMD64", "arch 'AMD64'"},
        {"channel=stable-4.1&arch=x86_64", "arch 'x86_64'"},
        {"channel=stable-4.1&arch=amd64%00", "arch 'amd64\\u0000'"},
        {"channel=BAD&arch=BAD", "channel 'BAD'"}, /* channel is checked first */
    };

    start(1, NULL, 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256], want[512];
        int arch = !strncmp(rows[i].value, "arch", 4);
        stest_resp r;
        snprintf(path, sizeof(path), V1 "?%s", rows[i].query);
        snprintf(want, sizeof(want),
                 "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: %s does "
                 "not match regex %s\"}",
                 rows[i].value, arch ? "'^[0-9a-z]+$'" : CHANNEL_REGEX_JSON);
        r = get(path, NULL, NULL);
        cr_assert_eq(r.status, 400, "%s: %ld", rows[i].query, r.status);
        cr_assert_str_eq(r.body.data, want, "%s", rows[i].query);
        stest_resp_free(&r);
    }
}

/* §1.11 "arch absent ≡ arch=amd64" */
Test(server_protocol, arch_defaults_to_amd64)
{
    stest_resp none, amd64, arm64;

    start(1, NULL, 0);
    none = get(V1 "?channel=stable-4.2", NULL, NULL);
    amd64 = get(V1 "?channel=stable-4.2&arch=amd64", NULL, NULL);
    arm64 = get(V1 "?channel=stable-4.2&arch=arm64", NULL, NULL);
    cr_assert_eq(none.status, 200);
    cr_assert_str_eq(none.body.data, amd64.body.data);
    cr_assert_str_neq(arm64.body.data, amd64.body.data, "payload digests differ by arch");
    stest_resp_free(&none);
    stest_resp_free(&amd64);
    stest_resp_free(&arm64);
}

/* §1.11 "unknown channel/arch → 200 empty graph" */
Test(server_protocol, unknown_channel_or_arch_is_200_empty)
{
    const char *paths[] = {V1 "?channel=stable-9.9", V1 "?channel=stable-4.2&arch=riscv64",
                           LEGACY "?channel=nope&arch=s390x", V1 "?channel=4&arch=4"};

    start(1, NULL, 0);
    for (size_t i = 0; i < 4; i++) {
        stest_resp r = get(paths[i], NULL, NULL);
        assert_body(&r, 200, EMPTY_GRAPH);
    }
}

/* §1.11 "version/id/unknown params never change the response nor cause errors";
 * duplicates: the last value wins (Q20); keys are percent-decoded */
Test(server_protocol, ignored_and_duplicate_params)
{
    const char *same[] = {
        V1 "?channel=stable-4.2&version=4.1.0",
        V1 "?channel=stable-4.2&id=01234567-89ab-cdef-0123-456789abcdef",
        V1 "?arch=amd64&channel=stable-4.2&id=x&version=not-semver",
        V1 "?channel=stable-4.2&foo=bar&=x&&flag",
        V1 "?channel=stable-4.1&channel=stable-4.2",
        V1 "?channel=BAD&channel=stable-4.2",
        V1 "?arch=BAD&channel=stable-4.2&arch=amd64",
        V1 "?chan%6Eel=stable-4.2",
        V1 "?channel=stable%2D4.2",
    };
    stest_resp base, r;

    start(1, NULL, 0);
    base = get(V1 "?channel=stable-4.2", NULL, NULL);
    cr_assert_eq(base.status, 200);
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        r = get(same[i], NULL, NULL);
        cr_assert_eq(r.status, 200, "%s: %ld %s", same[i], r.status, r.body.data);
        cr_assert_str_eq(r.body.data, base.body.data, "%s", same[i]);
        stest_resp_free(&r);
    }
    r = get(V1 "?channel=stable-4.2&channel=BAD", NULL, NULL); /* last wins, both ways */
    cr_assert_eq(r.status, 400);
    stest_resp_free(&r);
    stest_resp_free(&base);
}

/* §1.11 "Response JSON shape of §1.5, version: 1, conditionalEdges always present" */
Test(server_protocol, response_shape)
{
    const char *top[] = {"version", "nodes", "edges", "conditionalEdges"};
    const char *node_keys[] = {"version", "payload", "metadata"};
    json_t *g, *v;
    const char *key;
    size_t i, k;

    start(1, NULL, 0);
    g = get_graph(V1 "?channel=stable-4.2", "application/vnd.redhat.cincinnati.v1+json");
    k = 0;
    json_object_foreach(g, key, v)
    { /* the reference's field order */
        cr_assert_lt(k, 4);
        cr_assert_str_eq(key, top[k++]);
    }
    cr_assert_eq(k, 4);
    cr_assert_eq(json_integer_value(json_object_get(g, "version")), 1);
    json_array_foreach(json_object_get(g, "nodes"), i, v)
    {
        json_t *m, *val;
        k = 0;
        json_object_foreach(v, key, m)
        {
            cr_assert_lt(k, 3);
            cr_assert_str_eq(key, node_keys[k++]);
        }
        cr_assert_eq(k, 3);
        cr_assert_null(strchr(json_string_value(json_object_get(v, "version")), '+'));
        json_object_foreach(json_object_get(v, "metadata"), key, val)
            cr_assert(json_is_string(val), "metadata %s is not a string", key);
    }
    json_array_foreach(json_object_get(g, "edges"), i, v)
    {
        cr_assert_eq(json_array_size(v), 2);
        cr_assert_lt(json_integer_value(json_array_get(v, 0)), 4);
        cr_assert_lt(json_integer_value(json_array_get(v, 1)), 4);
    }
    cr_assert_eq(json_array_size(json_object_get(g, "conditionalEdges")), 1);
    json_decref(g);
    /* an empty answer still has every key */
    g = get_graph(V1 "?channel=none", "application/vnd.redhat.cincinnati.v1+json");
    cr_assert(json_is_array(json_object_get(g, "conditionalEdges")));
    json_decref(g);
}

/* §1.11 "Error JSON {kind,value} with the status table of §1.6" */
Test(server_protocol, error_json_kind_and_value)
{
    static const struct {
        const char *path;
        const char *accept;
        long status;
        const char *kind;
    } rows[] = {
        {V1 "?channel=stable-4.1", "Accept: text/html", 406, "invalid_content_type"},
        {V1, NULL, 400, "missing_params"},
        {V1 "?channel=X", NULL, 400, "invalid_params"},
        {V1 "?channel=x&arch=X", NULL, 400, "invalid_params"},
    };

    start(1, NULL, 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *origin = "Origin: https://a.example";
        stest_resp r = get(rows[i].path, rows[i].accept ? rows[i].accept : origin,
                           rows[i].accept ? origin : NULL);
        json_error_t jerr;
        json_t *j = json_loads(r.body.data, 0, &jerr);
        cr_assert_eq(r.status, rows[i].status, "row %zu", i);
        assert_header(&r, "Content-Type", "application/json");
        assert_header(&r, "Vary", CORS_VARY);
        assert_header(&r, "Access-Control-Allow-Origin", "https://a.example");
        assert_header(&r, "ETag", NULL); /* errors are neither cached nor tagged */
        cr_assert_not_null(j, "%s", jerr.text);
        cr_assert_eq(json_object_size(j), 2);
        cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), rows[i].kind);
        cr_assert_gt(strlen(json_string_value(json_object_get(j, "value"))), 0);
        json_decref(j);
        stest_resp_free(&r);
    }
    cr_assert_eq(metric("cincy_response_renders_total"), 0, "errors render no graph");
}

/* §1.11 "Liveness/readiness semantics; readiness only after the first good graph" */
Test(server_protocol, liveness_and_readiness)
{
    stest_resp r;
    char path[512];

    start(0, NULL, 0);
    r = req("GET", status_base, "/liveness", NULL);
    assert_body(&r, 200, "ok\n");
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 503, "no graph loaded yet\n");
    /* cincy's knowing difference: 503, not the reference's 500 */
    r = get(V1 "?channel=stable-4.1", NULL, NULL);
    assert_body(&r, 503, "{\"kind\":\"service_unavailable\",\"value\":\"no graph loaded yet\"}");
    TEST_SNPRINTF(path, "%s/graph-data/version", tmp);
    unlink(path);
    cr_assert_lt(server_reload(srv, NULL), 0);
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 503, "no graph loaded yet\n");
    test_write(tmp, "graph-data/version", "1.1.0\n");
    cr_assert_eq(server_reload(srv, NULL), 0);
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 200, "ok\n");
    unlink(path); /* a later failure keeps it ready (Q19) */
    cr_assert_lt(server_reload(srv, NULL), 0);
    r = req("GET", status_base, "/readiness", NULL);
    assert_body(&r, 200, "ok\n");
    r = req("GET", status_base, "/liveness", NULL);
    assert_body(&r, 200, "ok\n");
}

/* ---------------------------------------------------------------------------
 * §1.8.1 OpenAPI */

static json_t *get_openapi(const char *path, const char *accept)
{
    stest_resp r = get(path, accept, NULL);
    json_error_t jerr;
    json_t *j;

    cr_assert_eq(r.status, 200, "%s: %ld", path, r.status);
    assert_header(&r, "Content-Type", "text/plain; charset=utf-8");
    assert_header(&r, "Vary", CORS_VARY);
    j = json_loads(r.body.data, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", path, jerr.text);
    stest_resp_free(&r);
    return j;
}

/* 1 when the parameter list holds a required query parameter named name */
static int has_required_param(json_t *params, const char *name)
{
    size_t i;
    json_t *p;

    json_array_foreach(params, i, p)
    {
        const char *pname = json_string_value(json_object_get(p, "name"));
        const char *in = json_string_value(json_object_get(p, "in"));
        if (pname && in && !strcmp(pname, name) && !strcmp(in, "query") &&
            json_is_true(json_object_get(p, "required")))
            return 1;
    }
    return 0;
}

Test(server_protocol, openapi_document)
{
    json_t *doc, *v1doc, *paths, *legacy, *v1, *schemas, *rule;
    const char *key;
    char *a, *b;
    json_t *item;
    size_t n = 0;

    start(1, NULL, 0);
    /* no Accept check: a browser's Accept still gets the document */
    doc = get_openapi("/api/upgrades_info/openapi", "Accept: text/html");
    v1doc = get_openapi("/api/upgrades_info/v1/openapi", NULL);
    a = json_dumps(doc, JSON_COMPACT);
    b = json_dumps(v1doc, JSON_COMPACT);
    cr_assert_str_eq(a, b, "both endpoints serve one document");
    free(a);
    free(b);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    paths = json_object_get(doc, "paths");
    json_object_foreach(paths, key, item)
    {
        cr_assert(!strcmp(key, "/api/upgrades_info/graph") ||
                      !strcmp(key, "/api/upgrades_info/v1/graph") ||
                      !strcmp(key, "/api/upgrades_info/v1/path") ||
                      !strcmp(key, "/api/upgrades_info/v1/plan") ||
                      !strcmp(key, "/api/upgrades_info/v1/channels") ||
                      !strcmp(key, "/api/upgrades_info/v1/blocked"),
                  "path %s", key);
        n++;
    }
    cr_assert_eq(n, 6);
    legacy = json_object_get(paths, "/api/upgrades_info/graph");
    v1 = json_object_get(paths, "/api/upgrades_info/v1/graph");
    /* the mandatory channel goes on the /graph path item only (quirk Q4) */
    cr_assert(has_required_param(json_object_get(legacy, "parameters"), "channel"));
    cr_assert_null(json_object_get(v1, "parameters"));
    cr_assert_not(
        has_required_param(json_object_get(json_object_get(v1, "get"), "parameters"), "channel"));
    item = json_object_get(json_object_get(doc, "components"), "parameters");
    item = json_object_get(json_object_get(item, "arch"), "schema");
    cr_assert_str_eq(json_string_value(json_object_get(item, "default")), "amd64");
    for (const char **code = (const char *[]){"200", "400", "406", "500", NULL}; *code; code++)
        cr_assert_not_null(
            json_object_get(json_object_get(json_object_get(v1, "get"), "responses"), *code),
            "response %s", *code);
    schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    for (const char **s =
             (const char *[]){"Graph", "Node", "Edge", "ConditionalEdges", "GraphError", NULL};
         *s; s++)
        cr_assert_not_null(json_object_get(schemas, *s), "schema %s", *s);
    rule = json_object_get(schemas, "ConditionalEdges");
    for (const char **k =
             (const char *[]){"properties", "risks", "items", "properties", "matchingRules",
                              "items", "properties", "type", "enum", NULL};
         *k; k++)
        rule = json_object_get(rule, *k);
    a = json_dumps(rule, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_not_null(a);
    cr_assert_str_eq(a, "[\"Always\",\"PromQL\"]");
    free(a);
    json_decref(doc);
    json_decref(v1doc);
}

/* §1.8.1 "Every path key is rewritten as P + path", here with no prefix */
Test(server_protocol, openapi_with_empty_prefix)
{
    json_t *doc, *paths;

    start(1, "", 0);
    doc = get_openapi("/openapi", NULL);
    paths = json_object_get(doc, "paths");
    cr_assert_eq(json_object_size(paths), 6);
    cr_assert(has_required_param(json_object_get(json_object_get(paths, "/graph"), "parameters"),
                                 "channel"));
    cr_assert_not_null(json_object_get(paths, "/v1/graph"));
    json_decref(doc);
}

/* ---------------------------------------------------------------------------
 * §1.7 CORS */

Test(server_protocol, cors_vary_everywhere_and_origin_echoed)
{
    const char *origin = "Origin: https://console.example";
    const char *paths[] = {V1 "?channel=stable-4.1", V1, V1 "?channel=X", "/nope",
                           "/api/upgrades_info/openapi"};
    stest_resp r;

    start(1, NULL, 0);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        r = get(paths[i], origin, NULL);
        assert_header(&r, "Access-Control-Allow-Origin", "https://console.example");
        assert_header(&r, "Vary", i == 0 ? GRAPH_VARY : CORS_VARY);
        stest_resp_free(&r);
        r = get(paths[i], NULL, NULL);
        assert_header(&r, "Access-Control-Allow-Origin", NULL);
        assert_header(&r, "Vary", i == 0 ? GRAPH_VARY : CORS_VARY);
        stest_resp_free(&r);
    }
    r = req("POST", graph_base, V1, (const char *[]){origin, NULL});
    cr_assert_eq(r.status, 405);
    assert_header(&r, "Access-Control-Allow-Origin", "https://console.example");
    stest_resp_free(&r);
}

Test(server_protocol, cors_preflight)
{
    static const struct {
        const char *acrm;
        const char *acrh; /* NULL: not sent */
        long status;
        const char *body;
    } rows[] = {
        {"GET", NULL, 200, ""},
        {"HEAD", NULL, 200, ""},
        {"POST", NULL, 400, "Requested method is not allowed."},
        {"get", NULL, 400, "Requested method is not allowed."}, /* methods are case-sensitive */
        {"G(T", NULL, 400, "Request header `Access-Control-Request-Method` has an invalid value."},
        {"GET", "x-foo", 400, "One or more request headers are not allowed."},
        {"GET", "accept, content-type", 400, "One or more request headers are not allowed."},
        {"GET", "x-foo,,y", 400,
         "Request header `Access-Control-Request-Headers` has an invalid value."},
    };
    /* the CORS layer answers before routing: any path, known or not */
    const char *paths[] = {V1 "?channel=stable-4.1", "/nope"};

    start(1, NULL, 0);
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
            char acrm[128], acrh[128];
            const char *h[] = {"Origin: https://console.example", acrm, rows[i].acrh ? acrh : NULL,
                               NULL};
            stest_resp r;
            snprintf(acrm, sizeof(acrm), "Access-Control-Request-Method: %s", rows[i].acrm);
            snprintf(acrh, sizeof(acrh), "Access-Control-Request-Headers: %s",
                     rows[i].acrh ? rows[i].acrh : "");
            r = req("OPTIONS", graph_base, paths[p], h);
            assert_header(&r, "Vary", CORS_VARY);
            if (rows[i].status == 200) {
                assert_header(&r, "Access-Control-Allow-Origin", "https://console.example");
                assert_header(&r, "Access-Control-Allow-Methods", "GET, HEAD");
            } else {
                assert_header(&r, "Access-Control-Allow-Origin", NULL);
                assert_header(&r, "Access-Control-Allow-Methods", NULL);
            }
            cr_assert_eq(r.status, rows[i].status, "%s row %zu: %ld", paths[p], i, r.status);
            cr_assert_str_eq(r.body.data, rows[i].body, "%s row %zu", paths[p], i);
            stest_resp_free(&r);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Serve fast: ETag and 304, gzip, one render per body */

Test(server_protocol, etag_stable_and_if_none_match)
{
    char etag[128], inm[256], clen[32];
    stest_resp a, b, r;

    start(1, NULL, 0);
    a = get(V1 "?channel=stable-4.2", NULL, NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_not_null(stest_header(&a, "ETag", etag, sizeof(etag)));
    cr_assert_eq(strlen(etag), 34, "a strong tag of 32 hex digits: %s", etag);
    cr_assert_eq(etag[0], '"');
    assert_header(&a, "Cache-Control", "no-cache");
    snprintf(clen, sizeof(clen), "%zu", a.body.len);
    /* same bytes, same tag: another request, the legacy route, another Accept */
    b = get(LEGACY "?channel=stable-4.2&version=4.1.0", "Accept: application/json", NULL);
    assert_header(&b, "ETag", etag);
    stest_resp_free(&b);
    b = get(V1 "?channel=stable-4.1", NULL, NULL);
    cr_assert_str_neq(stest_header(&b, "ETag", inm, sizeof(inm)), etag);
    stest_resp_free(&b);

    /* a match: 304, the tag, no body; weak form, lists and "*" match too */
    const char *matching[] = {"%s", "W/%s", "\"nope\", %s", "*"};
    for (size_t i = 0; i < 4; i++) {
        char h[300];
        snprintf(inm, sizeof(inm), matching[i], etag);
        snprintf(h, sizeof(h), "If-None-Match: %s", inm);
        r = get(V1 "?channel=stable-4.2", h, "Origin: https://a.example");
        cr_assert_eq(r.status, 304, "%s: %ld", inm, r.status);
        assert_header(&r, "ETag", etag);
        assert_header(&r, "Cache-Control", "no-cache");
        assert_header(&r, "Vary", GRAPH_VARY);
        assert_header(&r, "Access-Control-Allow-Origin", "https://a.example");
        /* at most one Content-Length: two make browsers refuse the 304 */
        {
            const char *cl = strstr(r.head.data, "\r\nContent-Length:");
            cr_assert(!cl || !strstr(cl + 2, "\r\nContent-Length:"), "%s", r.head.data);
        }
        assert_header(&r, "Content-Type", NULL);
        cr_assert_eq(r.body.len, 0);
        stest_resp_free(&r);
    }
    /* no match: the full body */
    r = get(V1 "?channel=stable-4.2", "If-None-Match: \"0123\"", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, a.body.data);
    stest_resp_free(&r);
    /* a channel name too long to cache is rendered per request: same rules */
    {
        char path[384], h[300], tag[128];
        memset(inm, 'x', 80);
        inm[80] = '\0';
        snprintf(path, sizeof(path), V1 "?channel=%s", inm);
        r = get(path, NULL, NULL);
        assert_header(&r, "Content-Length", "57"); /* EMPTY_GRAPH */
        cr_assert_not_null(stest_header(&r, "ETag", tag, sizeof(tag)));
        stest_resp_free(&r);
        snprintf(h, sizeof(h), "If-None-Match: %s", tag);
        r = get(path, h, NULL);
        cr_assert_eq(r.status, 304);
        assert_header(&r, "ETag", tag); /* ASan: the uncached body outlives its use */
        stest_resp_free(&r);
    }
    /* a 304 never hides an error */
    r = get(V1 "?channel=X", "If-None-Match: *", NULL);
    cr_assert_eq(r.status, 400);
    stest_resp_free(&r);
    stest_resp_free(&a);
}

/* The tag is a hash of the bytes: a reload with the same data keeps it, a
 * reload that changes the channel's graph changes it. */
Test(server_protocol, etag_follows_bytes_across_reloads)
{
    char before[128], after[128], h[200];
    cincy_error err;
    stest_resp r;

    start(1, NULL, 0);
    r = get(V1 "?channel=stable-4.2", NULL, NULL);
    cr_assert_not_null(stest_header(&r, "ETag", before, sizeof(before)));
    stest_resp_free(&r);
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
    snprintf(h, sizeof(h), "If-None-Match: %s", before);
    r = get(V1 "?channel=stable-4.2", h, NULL);
    cr_assert_eq(r.status, 304, "an identical reload keeps the tag");
    stest_resp_free(&r);
    write_graph_data("4.1.1, 4.2.0");
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
    r = get(V1 "?channel=stable-4.2", h, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(stest_header(&r, "ETag", after, sizeof(after)));
    cr_assert_str_neq(after, before);
    stest_resp_free(&r);
}

Test(server_protocol, gzip_variant)
{
    static const struct {
        const char *accept_encoding;
        int gzip;
    } rows[] = {
        {"Accept-Encoding: gzip", 1},     {"Accept-Encoding: gzip, deflate, br", 1},
        {"Accept-Encoding: *", 1},        {"Accept-Encoding: deflate, gzip;q=0.5", 1},
        {"Accept-Encoding: gzip;q=0", 0}, {"Accept-Encoding: *;q=0", 0},
        {"Accept-Encoding: identity", 0}, {"Accept-Encoding: br", 0},
    };
    char etag[128], etag_gz[128], h[200];
    stest_resp id, r;

    start(1, NULL, 0);
    id = get(V1 "?channel=stable-4.2", NULL, NULL);
    cr_assert_eq(id.status, 200);
    assert_header(&id, "Content-Encoding", NULL);
    stest_header(&id, "ETag", etag, sizeof(etag));
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        r = get(V1 "?channel=stable-4.2", rows[i].accept_encoding, NULL);
        cr_assert_eq(r.status, 200);
        assert_header(&r, "Vary", GRAPH_VARY);
        assert_header(&r, "Content-Type", "application/vnd.redhat.cincinnati.v1+json");
        if (rows[i].gzip) {
            size_t n;
            char *plain = gunzip(&r.body, &n);
            assert_header(&r, "Content-Encoding", "gzip");
            cr_assert_lt(r.body.len, id.body.len);
            cr_assert_eq(n, id.body.len, "%s", rows[i].accept_encoding);
            cr_assert(!memcmp(plain, id.body.data, n), "gzip inflates to the identity bytes");
            free(plain);
            cr_assert_not_null(stest_header(&r, "ETag", etag_gz, sizeof(etag_gz)));
            cr_assert_str_neq(etag_gz, etag, "each encoding has its own tag");
        } else {
            assert_header(&r, "Content-Encoding", NULL);
            assert_header(&r, "ETag", etag);
            cr_assert_str_eq(r.body.data, id.body.data, "%s", rows[i].accept_encoding);
        }
        stest_resp_free(&r);
    }
    /* conditional requests compare with the variant being chosen */
    snprintf(h, sizeof(h), "If-None-Match: %s", etag_gz);
    r = get(V1 "?channel=stable-4.2", "Accept-Encoding: gzip", h);
    cr_assert_eq(r.status, 304);
    assert_header(&r, "ETag", etag_gz);
    stest_resp_free(&r);
    r = get(V1 "?channel=stable-4.2", h, NULL);
    cr_assert_eq(r.status, 200, "the identity bytes are another representation");
    stest_resp_free(&r);
    /* a body gzip cannot shrink is sent as is */
    r = get(V1 "?channel=none", "Accept-Encoding: gzip", NULL);
    assert_header(&r, "Content-Encoding", NULL);
    assert_body(&r, 200, EMPTY_GRAPH);
    stest_resp_free(&id);
    cr_assert_eq(metric("cincy_response_renders_total"), 2, "one render per (channel, arch)");
}

typedef struct client_job {
    const char *url;
    pthread_barrier_t *start;
    stest_resp resp;
} client_job;

static void *client_thread(void *arg)
{
    client_job *j = arg;

    pthread_barrier_wait(j->start);
    j->resp = stest_request("GET", j->url, NULL);
    return NULL;
}

/* Concurrent first requests for one body render it once and get the same bytes. */
Test(server_protocol, concurrent_first_requests_render_once)
{
    enum { N = 8 };
    char url[256];
    pthread_barrier_t barrier;
    pthread_t th[N];
    client_job jobs[N];

    start(1, NULL, 0);
    snprintf(url, sizeof(url), "%s" V1 "?channel=stable-4.2&arch=arm64", graph_base);
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        jobs[i] = (client_job){url, &barrier, {-1, {NULL, 0}, {NULL, 0}}};
        cr_assert_eq(pthread_create(&th[i], NULL, client_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(jobs[i].resp.status, 200, "client %d", i);
        cr_assert_gt(jobs[i].resp.body.len, 100);
        cr_assert_str_eq(jobs[i].resp.body.data, jobs[0].resp.body.data, "client %d", i);
    }
    for (int i = 0; i < N; i++)
        stest_resp_free(&jobs[i].resp);
    pthread_barrier_destroy(&barrier);
    cr_assert_eq(metric("cincy_response_renders_total"), 1);
    cr_assert_eq(metric("cincy_response_cache_misses_total"), 1);
    cr_assert_eq(metric("cincy_response_cache_hits_total"), N - 1);
    cr_assert_eq(metric("cincy_response_cache_entries"), 1);
}

/* Keep-alive: a second request on one client reuses the connection (MHD
 * would close it had the answer been queued before the request was whole). */
static void assert_connection_reused(const char *url)
{
    long connects = -1;
    stest_buf body = {NULL, 0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Accept:");

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stest_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        cr_assert_eq(connects, i == 0 ? 1 : 0, "request %d opened %ld connections", i, connects);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(body.data);
}

Test(server_protocol, keep_alive)
{
    char url[256];

    start(1, NULL, 0);
    snprintf(url, sizeof(url), "%s" V1 "?channel=stable-4.2", graph_base);
    assert_connection_reused(url);
}

/* Prometheus scrapes and kubelet probes reuse their connection too. */
Test(server_protocol, keep_alive_status_port)
{
    char url[256];

    start(1, NULL, 0);
    snprintf(url, sizeof(url), "%s/metrics", status_base);
    assert_connection_reused(url);
}
