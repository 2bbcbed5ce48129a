/* tests/server/test_refresh.c - the background refresh thread over a
 * directory source (poll_seconds 1): a changed channel is served within
 * seconds, a fatally broken push keeps the old graph byte for byte and shows
 * in /status, POST /refresh and its token, a source missing at startup, and
 * the new config keys; and a git source over a copy of the bundled
 * graph-data repository. */
#include <time.h>
#include <unistd.h>

#include "server_fixture.h"

#define WAIT_MS                                                                                    \
    90000 /* the full demo data takes ~15 s to load under ASan on a busy 2-core machine */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Like the fixture's start(), but runs the refresh thread instead of a
 * synchronous load. graph_data names a directory under tmp. lenient sets
 * sources.skip_invalid_files and sources.allow_channel_removal. */
static void start_refresh_with(const char *token, const char *graph_data, int lenient)
{
    server_config cfg;
    cincy_error err;
    char path[512];

    cincy_log_set_level(CINCY_LOG_WARN);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    write_releases();
    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.poll_seconds = 1;
    cfg.skip_invalid_files = lenient;
    cfg.allow_channel_removal = lenient;
    if (token)
        cfg.refresh_token = strdup(token);
    TEST_SNPRINTF(path, "%s/%s", tmp, graph_data);
    cfg.graph_data_dir = strdup(path);
    TEST_SNPRINTF(path, "%s/releases", tmp);
    cfg.releases_dir = strdup(path);
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_refresh_start(srv, &err), 0, "%s", err.msg);
}

static void start_refresh(const char *token, const char *graph_data)
{
    start_refresh_with(token, graph_data, 0);
}

static long status_of(const char *method, const char *base, const char *path,
                      const char *const *headers)
{
    stest_resp r = req(method, base, path, headers);
    long code = r.status;

    stest_resp_free(&r);
    return code;
}

static void wait_ready(void)
{
    for (int ms = 0; ms < WAIT_MS; ms += 100) {
        if (status_of("GET", status_base, "/readiness", NULL) == 200)
            return;
        sleep_ms(100);
    }
    cr_assert_fail("not ready after %d ms", WAIT_MS);
}

static json_t *get_status(void)
{
    stest_resp r = req("GET", status_base, "/status", NULL);
    json_error_t jerr;
    json_t *j;

    cr_assert_eq(r.status, 200, "status %ld", r.status);
    j = json_loads(r.body.data, 0, &jerr);
    cr_assert_not_null(j, "%s", jerr.text);
    stest_resp_free(&r);
    return j;
}

/* The graph-data source entry of /status. */
static const char *gd_field(json_t *st, const char *key)
{
    json_t *src = json_array_get(json_object_get(st, "sources"), 0);

    cr_assert_str_eq(json_string_value(json_object_get(src, "name")), "graph-data");
    return json_string_value(json_object_get(src, key));
}

/* Waits until /status shows a graph-data last_error containing want. */
static void wait_error(const char *want)
{
    for (int ms = 0; ms < WAIT_MS; ms += 100) {
        json_t *st = get_status();
        const char *e = gd_field(st, "last_error");
        int hit = e && strstr(e, want);

        json_decref(st);
        if (hit)
            return;
        sleep_ms(100);
    }
    cr_assert_fail("no last_error with '%s' after %d ms", want, WAIT_MS);
}

static char *graph_body(void)
{
    stest_resp r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.2", NULL);
    char *body;

    cr_assert_eq(r.status, 200, "status %ld body %s", r.status, r.body.data);
    body = strdup(r.body.data);
    stest_resp_free(&r);
    return body;
}

/* Waits until the stable-4.2 graph's node versions are want. */
static void wait_versions(const char *want)
{
    char got[256] = "";

    for (int ms = 0; ms < WAIT_MS; ms += 100) {
        json_t *g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.2", CT_VND);

        node_versions(got, sizeof(got), g);
        json_decref(g);
        if (!strcmp(got, want))
            return;
        sleep_ms(100);
    }
    cr_assert_fail("versions '%s', want '%s'", got, want);
}

Test(server_refresh, channel_change_is_served, .fini = stop)
{
    start_refresh(NULL, "graph-data");
    wait_ready();
    wait_versions("4.1.0 4.1.1 4.2.0 4.2.1");
    write_graph_data("4.1.0, 4.1.1, 4.2.0");
    wait_versions("4.1.0 4.1.1 4.2.0");
}

Test(server_refresh, broken_push_keeps_old_graph, .fini = stop)
{
    char dir[512], *before, *after;
    json_t *st;

    start_refresh(NULL, "graph-data");
    wait_ready();
    wait_versions("4.1.0 4.1.1 4.2.0 4.2.1");
    before = graph_body();
    TEST_SNPRINTF(dir, "%s/graph-data", tmp);
    test_write(dir, "version", "2.0.0\n");
    wait_error("version");
    after = graph_body();
    cr_assert_str_eq(after, before);
    cr_assert_eq(status_of("GET", status_base, "/readiness", NULL), 200);
    st = get_status();
    cr_assert(json_is_true(json_object_get(st, "ready")));
    cr_assert_not_null(gd_field(st, "last_error_revision"));
    cr_assert_str_eq(gd_field(st, "last_error_revision"), gd_field(st, "revision"));
    json_decref(st);
    free(before);
    free(after);

    /* fixing it (with a channel change) recovers */
    test_write(dir, "version", "1.1.0\n");
    write_graph_data("4.1.0, 4.1.1, 4.2.0");
    wait_versions("4.1.0 4.1.1 4.2.0");
}

/* Strict by default: a bad channel file or a deleted channel keeps the old
 * graph (tests/server/test_refresh_walk.c does it over git). With both
 * switches on, the reference's behaviour: the bad file is skipped and the
 * deleted channel goes. */
Test(server_refresh, lenient_switches_accept_bad_files_and_removals, .fini = stop)
{
    char dir[512];
    json_t *g;

    start_refresh_with(NULL, "graph-data", 1);
    wait_ready();
    wait_versions("4.1.0 4.1.1 4.2.0 4.2.1");
    TEST_SNPRINTF(dir, "%s/graph-data", tmp);
    test_write(dir, "blocked-edges/broken.yaml", "to: [\n");
    test_write(dir, "channels/stable-4.2.yaml", "name: stable-4.2\nversions: [4.1.0, 4.2.0]\n");
    wait_versions("4.1.0 4.2.0"); /* the broken file skipped, the change served */
    cr_assert_eq(unlink(strcat(dir, "/channels/stable-4.1.yaml")), 0);
    for (int ms = 0;; ms += 100) {
        size_t n;

        g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.1", CT_VND);
        n = json_array_size(json_object_get(g, "nodes"));
        json_decref(g);
        if (n == 0)
            break;
        cr_assert_lt(ms, WAIT_MS, "stable-4.1 still served");
        sleep_ms(100);
    }
}

Test(server_refresh, trigger_token, .fini = stop)
{
    const char *const none[] = {NULL};
    const char *const wrong[] = {"Authorization: Bearer nope", NULL};
    const char *const basic[] = {"Authorization: Basic s3cret", NULL};
    const char *const right[] = {"Authorization: Bearer s3cret", NULL};
    stest_resp r;

    start_refresh("s3cret", "graph-data");
    cr_assert_eq(status_of("POST", status_base, "/refresh", none), 401);
    cr_assert_eq(status_of("POST", status_base, "/refresh", wrong), 401);
    cr_assert_eq(status_of("POST", status_base, "/refresh", basic), 401);
    cr_assert_eq(status_of("GET", status_base, "/refresh", right), 405);
    r = req("POST", status_base, "/refresh", right);
    assert_body(&r, 202, "{\"status\":\"refresh scheduled\"}\n");
}

Test(server_refresh, trigger_without_token, .fini = stop)
{
    stest_resp r;
    char *m;

    start_refresh(NULL, "graph-data");
    wait_ready();
    r = req("POST", status_base, "/refresh", NULL);
    assert_body(&r, 202, "{\"status\":\"refresh scheduled\"}\n");
    r = req("GET", status_base, "/metrics", NULL);
    cr_assert_eq(r.status, 200);
    m = r.body.data;
    cr_assert_not_null(
        strstr(m, "cincy_source_refreshes_total{source=\"graph-data\",result=\"changed\"} "));
    cr_assert_not_null(strstr(m, "cincy_source_revision_info{source=\"graph-data\",revision=\""));
    stest_resp_free(&r);
}

Test(server_refresh, source_missing_at_startup, .fini = stop)
{
    json_t *st;

    start_refresh(NULL, "no-such-dir");
    wait_error("no-such-dir");
    cr_assert_eq(status_of("GET", status_base, "/liveness", NULL), 200);
    cr_assert_eq(status_of("GET", status_base, "/readiness", NULL), 503);
    st = get_status();
    cr_assert(json_is_false(json_object_get(st, "ready")));
    cr_assert(json_is_null(json_object_get(json_object_get(st, "graph"), "built_at")));
    cr_assert_null(gd_field(st, "last_success"));
    cr_assert_str_eq(gd_field(st, "type"), "directory");
    json_decref(st);
}

Test(server_refresh, config_keys)
{
    static const char text[] = "sources:\n  poll_seconds: 7\n  allow_channel_removal: true\n"
                               "  skip_invalid_files: True\nstatus:\n  refresh_token: abc\n";
    server_config cfg;
    cincy_error err;

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cr_assert_eq(cfg.poll_seconds, 300);
    cr_assert_null(cfg.refresh_token);
    cr_assert_eq(cfg.allow_channel_removal, 0);
    cr_assert_eq(cfg.skip_invalid_files, 0);
    cr_assert_eq(server_config_parse(&cfg, text, strlen(text), "t.yaml", "/base", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cfg.poll_seconds, 7);
    cr_assert_str_eq(cfg.refresh_token, "abc");
    cr_assert_eq(cfg.allow_channel_removal, 1);
    cr_assert_eq(cfg.skip_invalid_files, 1);
    server_config_clear(&cfg);
    assert_config_error("sources:\n  allow_channel_removal: yes\n",
                        "t.yaml:2: field 'sources.allow_channel_removal': expected true or false, "
                        "got 'yes'");
    assert_config_error("sources:\n  poll_seconds: 0\n",
                        "t.yaml:2: field 'sources.poll_seconds': expected whole seconds from 1 "
                        "to 86400, got '0'");
    assert_config_error("status:\n  refresh_token: ''\n",
                        "t.yaml:2: field 'status.refresh_token': a value is required");
}

/* A git source: a copy of tests/data/graph-data.git (57 real snapshots) on
 * branch master, over the demo release records. The fetch lands under
 * <state_dir>/sources/graph-data and /status names the master commit. */
#define GD_MASTER "b12fcda4577b3921728dec71476a7d51ea9b5bd6"

Test(server_refresh, git_source_serves_master, .fini = stop)
{
    server_config cfg;
    cincy_error err;
    char remote[512], cmd[1200], path[600];
    struct stat st;
    json_t *st_doc, *src;

    cincy_log_set_level(CINCY_LOG_WARN);
    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(remote, "%s/remote.git", tmp);
    TEST_SNPRINTF(cmd,
                  "cp -R '%s/tests/data/graph-data.git' '%s' && mkdir -p '%s/refs/heads' "
                  "'%s/refs/tags'",
                  CINCY_SOURCE_DIR, remote, remote, remote);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.graph_data_kind = SERVER_GRAPH_DATA_GIT;
    cfg.graph_data_location = strdup(remote);
    cfg.graph_data_reference = strdup("master");
    cfg.releases_dir = strdup(CINCY_DEMO_RELEASES);
    TEST_SNPRINTF(path, "%s/state/nested", tmp);
    cfg.state_dir = strdup(path);
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_refresh_start(srv, &err), 0, "%s", err.msg);
    wait_ready();

    st_doc = get_status();
    src = json_array_get(json_object_get(st_doc, "sources"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(src, "type")), "git");
    cr_assert_str_eq(json_string_value(json_object_get(src, "location")), remote);
    cr_assert_str_eq(json_string_value(json_object_get(src, "reference")), "master");
    cr_assert_str_eq(json_string_value(json_object_get(src, "revision")), GD_MASTER);
    cr_assert(json_is_null(json_object_get(src, "last_error")));
    cr_assert_gt(json_integer_value(json_object_get(json_object_get(st_doc, "graph"), "nodes")), 0);
    json_decref(st_doc);
    TEST_SNPRINTF(path, "%s/state/nested/sources/graph-data/repo.git", tmp);
    cr_assert_eq(stat(path, &st), 0, "no %s", path);
    cr_assert(S_ISDIR(st.st_mode));
}
