/* tests/server/test_relay_serve.c - sources.upstream through the server: a
 * cincy process (the built binary over the fixture's data) is the upstream;
 * an in-process server relays its channels and must answer each relayed
 * channel/arch with the upstream's own bytes, answer channels it did not
 * fetch with an empty graph, show the upstream in /status, and, when the
 * upstream goes away, keep serving what it had. (The upstream must be
 * another process: the served snapshot is one per process.) */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "server_fixture.h"

static server *relay;
static char relay_graph[128], relay_status[128];
static pid_t upstream_pid;

static void stop_upstream(void)
{
    if (upstream_pid > 0) {
        kill(upstream_pid, SIGTERM);
        waitpid(upstream_pid, NULL, 0);
        upstream_pid = 0;
    }
}

static void relay_stop(void)
{
    server_stop(relay);
    relay = NULL;
    stop_upstream();
    test_rm_rf(tmp);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static char *body_of(const char *base, const char *path)
{
    stest_resp r = req("GET", base, path, NULL);
    char *b;

    cr_assert_eq(r.status, 200, "%s%s: %ld %s", base, path, r.status, r.body.data);
    cr_assert_not_null(b = strdup(r.body.data));
    stest_resp_free(&r);
    return b;
}

/* Runs the cincy binary over the fixture's data on free ports; graph_base
 * names it once it is ready. */
static void start_upstream(void)
{
    char gd[512], rel[512], gport[16], sport[16], url[128];
    int gp = stest_free_port(), sp = stest_free_port();

    cincy_log_set_level(CINCY_LOG_ERROR);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    write_releases();
    TEST_SNPRINTF(gd, "%s/graph-data", tmp);
    TEST_SNPRINTF(rel, "%s/releases", tmp);
    TEST_SNPRINTF(gport, "%d", gp);
    TEST_SNPRINTF(sport, "%d", sp);
    upstream_pid = fork();
    cr_assert_geq(upstream_pid, 0);
    if (upstream_pid == 0) {
        execl(CINCY_BINARY, "cincy", "serve", "--graph-data", gd, "--releases", rel, "--graph-port",
              gport, "--status-port", sport, "--log-level", "error", (char *)NULL);
        _exit(127);
    }
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", gp);
    TEST_SNPRINTF(url, "http://127.0.0.1:%d/readiness", sp);
    for (int ms = 0;; ms += 100) {
        stest_resp r = stest_get(url);
        long code = r.status;

        stest_resp_free(&r);
        if (code == 200)
            break;
        cr_assert_lt(ms, 60000, "upstream cincy not ready");
        sleep_ms(100);
    }
}

static void start_relay(void)
{
    server_config cfg;
    cincy_error err;
    char url[256];

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.poll_seconds = 3600;
    TEST_SNPRINTF(url, "%s/api/upgrades_info/v1/graph", graph_base);
    cfg.upstream_url = strdup(url);
    cfg.upstream_channels.items = calloc(2, sizeof(char *));
    cfg.upstream_channels.items[0] = strdup("stable-4.1");
    cfg.upstream_channels.items[1] = strdup("stable-4.2");
    cfg.upstream_channels.n = 2;
    cfg.upstream_arches.items = calloc(2, sizeof(char *));
    cfg.upstream_arches.items[0] = strdup("amd64");
    cfg.upstream_arches.items[1] = strdup("s390x");
    cfg.upstream_arches.n = 2;
    cr_assert_eq(server_start(&relay, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(relay_graph, sizeof(relay_graph), "http://127.0.0.1:%d", server_graph_port(relay));
    snprintf(relay_status, sizeof(relay_status), "http://127.0.0.1:%d", server_status_port(relay));
    cr_assert_eq(server_refresh_start(relay, &err), 0, "%s", err.msg);
    for (int ms = 0;; ms += 100) {
        stest_resp r = req("GET", relay_status, "/readiness", NULL);
        long code = r.status;

        stest_resp_free(&r);
        if (code == 200)
            break;
        cr_assert_lt(ms, 60000, "relay not ready");
        sleep_ms(100);
    }
}

Test(server_relay, relayed_channels_answer_like_the_upstream, .fini = relay_stop, .timeout = 120)
{
    static const char *const paths[] = {
        "/api/upgrades_info/v1/graph?channel=stable-4.1",
        "/api/upgrades_info/v1/graph?channel=stable-4.2",
        "/api/upgrades_info/v1/graph?channel=stable-4.2&arch=s390x",
    };
    stest_resp r;
    json_t *st, *e;

    start_upstream();
    start_relay();
    for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
        char *want = body_of(graph_base, paths[i]), *got = body_of(relay_graph, paths[i]);

        cr_assert_str_eq(got, want, "%s differs", paths[i]);
        cr_assert(strstr(got, "TestRisk") || i != 1, "the conditional edge was not relayed");
        free(want);
        free(got);
    }
    r = req("GET", relay_status, "/status", NULL);
    cr_assert_not_null(st = json_loads(r.body.data, 0, NULL));
    stest_resp_free(&r);
    e = json_array_get(json_object_get(st, "sources"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "cincinnati");
    cr_assert(json_is_null(json_object_get(e, "last_error")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(e, "last_fetch"), "requests")),
                 4, "%s", json_dumps(e, 0));
    json_decref(st);

    /* A channel the relay did not fetch: empty, though nodes name it. */
    {
        char *g = body_of(relay_graph, "/api/upgrades_info/v1/graph?channel=fast-4.2");
        json_t *j = json_loads(g, 0, NULL);

        cr_assert_eq(json_array_size(json_object_get(j, "nodes")), 0, "%s", g);
        json_decref(j);
        free(g);
    }
    /* ... and so is a path in it, while one in a relayed channel is found. */
    r = req("GET", relay_graph, "/api/upgrades_info/v1/path?channel=fast-4.2&from=4.1.0&to=4.2.0",
            NULL);
    cr_assert_eq(r.status, 404, "%ld %s", r.status, r.body.data);
    cr_assert(strstr(r.body.data, "from_unknown"), "%s", r.body.data);
    stest_resp_free(&r);
    r = req("GET", relay_graph, "/api/upgrades_info/v1/path?channel=stable-4.2&from=4.1.0&to=4.2.0",
            NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body.data);
    stest_resp_free(&r);

    /* The upstream gone: the relay keeps its graph and says why in /status. */
    stop_upstream();
    server_refresh_trigger(relay);
    for (int ms = 0;; ms += 100) {
        const char *err;

        r = req("GET", relay_status, "/status", NULL);
        st = json_loads(r.body.data, 0, NULL);
        stest_resp_free(&r);
        err = json_string_value(
            json_object_get(json_array_get(json_object_get(st, "sources"), 1), "last_error"));
        if (err) {
            cr_assert(strstr(err, "stable-4.1"), "%s", err);
            json_decref(st);
            break;
        }
        json_decref(st);
        cr_assert_lt(ms, 60000, "no upstream error in /status");
        sleep_ms(100);
    }
    free(body_of(relay_graph, paths[1]));
}
