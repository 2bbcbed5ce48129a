/* tests/server/server_fixture.h - the in-process server fixture the HTTP
 * test files share: a tiny graph-data (two channels, one pure block, one
 * risk), release records generated from it with the demo writer, a server on
 * free ports and helpers to talk to it. Everything is static: each test file
 * gets its own copy, and Criterion runs each test in its own process.
 *
 * The fixture graph for one arch, worked out by hand from the demo rules
 * (previous = lower versions of the minor + previous-minor versions listed in
 * a channel of this minor):
 *   4.1.0 -> 4.1.1, 4.1.0 -> 4.2.0, 4.1.1 -> 4.2.0, 4.2.0 -> 4.2.1,
 *   4.1.0 -> 4.2.1 (removed by the pure block), 4.1.1 -> 4.2.1
 * and the risk makes 4.1.1 -> 4.2.0 conditional. stable-4.2 holds all four
 * versions, stable-4.1 the two 4.1 ones. Five arches: 20 nodes, 20 edges,
 * 5 conditional pairs in the full graph.
 */
#ifndef CINCY_SERVER_FIXTURE_H
#define CINCY_SERVER_FIXTURE_H

#include <criterion/criterion.h>
#include <jansson.h>

#include "ingest/ingest.h"
#include "server/server.h"
#include "server_test_util.h"

#define CT_VND "application/vnd.redhat.cincinnati.v1+json"

static server *srv;
static char tmp[256];
static char graph_base[128];  /* http://127.0.0.1:<graph port> */
static char status_base[128]; /* http://127.0.0.1:<status port> */

static const char *const risk_yaml = "to: 4.2.0\n"
                                     "from: ^4[.]1[.]1[+].*$\n"
                                     "url: https://example.invalid/risk\n"
                                     "name: TestRisk\n"
                                     "message: Clusters may fail.\n"
                                     "matchingRules:\n"
                                     "- type: Always\n";

static inline void write_graph_data(const char *stable_42_versions)
{
    char dir[512], text[256];

    TEST_SNPRINTF(dir, "%s/graph-data", tmp);
    test_write(dir, "version", "1.1.0\n");
    test_write(dir, "channels/stable-4.1.yaml", "name: stable-4.1\nversions: [4.1.0, 4.1.1]\n");
    TEST_SNPRINTF(text, "name: stable-4.2\nversions: [%s]\n", stable_42_versions);
    test_write(dir, "channels/stable-4.2.yaml", text);
    test_write(dir, "blocked-edges/4.2.1-pure.yaml", "to: 4.2.1\nfrom: 4[.]1[.]0[+]\n");
    test_write(dir, "blocked-edges/4.2.0-TestRisk.yaml", risk_yaml);
    test_write(dir, "raw/metadata.json", "{}\n");
}

static inline void write_releases(void)
{
    char gd_dir[512], rel_dir[512];
    ingest_graph_data *gd = NULL;
    cincy_error err;
    size_t n = 0;

    TEST_SNPRINTF(gd_dir, "%s/graph-data", tmp);
    TEST_SNPRINTF(rel_dir, "%s/releases", tmp);
    test_rm_rf(rel_dir);
    cr_assert_eq(ingest_graph_data_load_dir(&gd, gd_dir, &err), 0, "%s", err.msg);
    cr_assert_eq(ingest_demo_write(gd, rel_dir, &n, &err), 0, "%s", err.msg);
    ingest_graph_data_free(gd);
}

/* Starts a server over fresh fixture data; loads it when load is set.
 * prefix NULL keeps the default. */
static inline void start(int load, const char *prefix, int with_web)
{
    server_config cfg;
    cincy_error err;
    char path[512];

    cincy_log_set_level(CINCY_LOG_WARN); /* keep test output to what matters */
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    write_releases();
    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    TEST_SNPRINTF(path, "%s/graph-data", tmp);
    cfg.graph_data_dir = strdup(path);
    TEST_SNPRINTF(path, "%s/releases", tmp);
    cfg.releases_dir = strdup(path);
    if (with_web) {
        TEST_SNPRINTF(path, "%s/web", tmp);
        cfg.web_dir = strdup(path);
        test_write(path, "index.html", "<h1>cincy</h1>\n");
        test_write(path, "js/app.js", "console.log(1);\n");
        test_write(path, ".secret", "no\n");
        test_write(tmp, "outside.txt", "outside\n");
    }
    if (prefix) {
        free(cfg.path_prefix);
        cfg.path_prefix = strdup(prefix);
    }
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    cr_assert_gt(server_graph_port(srv), 0);
    cr_assert_gt(server_status_port(srv), 0);
    cr_assert_neq(server_graph_port(srv), server_status_port(srv));
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    if (load)
        cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
}

static inline void stop(void)
{
    server_stop(srv);
    srv = NULL;
    if (tmp[0])
        test_rm_rf(tmp);
}

static inline stest_resp req(const char *method, const char *base, const char *path,
                             const char *const *headers)
{
    char url[1024];

    snprintf(url, sizeof(url), "%s%s", base, path);
    return stest_request(method, url, headers);
}

/* GETs a graph path, asserts 200 and the content type, returns parsed JSON. */
static inline json_t *get_graph(const char *path, const char *want_type)
{
    stest_resp r = req("GET", graph_base, path, NULL);
    char type[128];
    json_error_t jerr;
    json_t *j;

    cr_assert_eq(r.status, 200, "%s: status %ld body %s", path, r.status, r.body.data);
    cr_assert_str_eq(stest_header(&r, "Content-Type", type, sizeof(type)), want_type);
    j = json_loads(r.body.data, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", path, jerr.text);
    stest_resp_free(&r);
    return j;
}

/* "4.1.0 4.1.1 ..." from nodes[].version */
static inline void node_versions(char *out, size_t size, json_t *g)
{
    json_t *nodes = json_object_get(g, "nodes");
    size_t pos = 0;

    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *n = json_array_get(nodes, i);
        pos += (size_t)snprintf(out + pos, size - pos, "%s%s", i ? " " : "",
                                json_string_value(json_object_get(n, "version")));
    }
}

static inline void assert_body(stest_resp *r, long status, const char *body)
{
    cr_assert_eq(r->status, status, "status %ld body %s", r->status, r->body.data);
    cr_assert_str_eq(r->body.data, body);
    stest_resp_free(r);
}

/* server_config_parse of text (as "t.yaml" in /base) fails with exactly msg. */
static inline void assert_config_error(const char *text, const char *msg)
{
    server_config cfg;
    cincy_error err;
    char buf[512];

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cr_assert_eq(server_config_parse(&cfg, text, strlen(text), "t.yaml", "/base", &err),
                 CINCY_EINVALID, "accepted: %s", text);
    cr_assert_str_eq(cincy_error_format(&err, buf, sizeof(buf)), msg);
    server_config_clear(&cfg);
}

static inline void assert_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    }
    cr_assert_fail("line not found: %s\n--- in ---\n%s", line, text);
}

#endif
