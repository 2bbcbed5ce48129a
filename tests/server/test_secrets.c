/* tests/server/test_secrets.c - registry credentials never reach the log (at
 * debug), /metrics, /status or an error answer: an authenticated scrape
 * (basic and token modes of tests/registry/registry_fixture.h) through the
 * server, then every output is searched for the password and the base64
 * user:password string. */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry_fixture.h"
#include "server/server_internal.h"
#include "server_fixture.h"

#define PASSWORD "s3cret"            /* the fixture's */
#define BASIC_B64 "Y2luY3k6czNjcmV0" /* base64("cincy:s3cret") */

static treg *reg;

static void sec_stop(void)
{
    stop();
    treg_stop(reg);
    reg = NULL;
}

static void assert_clean(const char *what, const char *text)
{
    cr_assert(!strstr(text, PASSWORD), "%s shows the password:\n%s", what, text);
    cr_assert(!strstr(text, BASIC_B64), "%s shows the basic credentials:\n%s", what, text);
    cr_assert(!strstr(text, "Authorization:"), "%s shows an Authorization header", what);
}

static void scrape_and_grep(const treg_options *opt)
{
    char dir[512], path[600], log[512], logdir[256], d[72], *text;
    server_config cfg;
    cincy_error err;
    int fd, saved;
    const char *paths[] = {"/metrics", "/status", "/nope"};
    time_t end;

    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    TEST_SNPRINTF(dir, "%s/registry", tmp);
    cr_assert_eq(treg_start(&reg, dir, opt), 0, "registry did not start");
    cr_assert_eq(treg_push_release(reg, "ocp/release", "4.1.0-amd64", "amd64", "4.1.0", "", 0, d),
                 0);
    test_tmpdir(logdir, sizeof(logdir)); /* stop() removes tmp */
    TEST_SNPRINTF(log, "%s/cincy.log", logdir);
    cr_assert_geq(fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
    saved = dup(2);
    dup2(fd, 2); /* cincy_log writes to fd 2 */
    close(fd);
    cincy_log_set_level(CINCY_LOG_DEBUG);
    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = cfg.status_port = 0;
    cfg.threads = 2;
    cr_assert_not_null(cfg.release_registries.items = calloc(1, sizeof(char *)));
    TEST_SNPRINTF(path, "%s/ocp/release", treg_location(reg));
    cfg.release_registries.items[0] = strdup(path);
    cfg.release_registries.n = 1;
    cfg.registry_auth_file = strdup(treg_auth_file(reg));
    TEST_SNPRINTF(path, "%s/graph-data", tmp);
    cfg.graph_data_dir = strdup(path);
    TEST_SNPRINTF(path, "%s/state", tmp);
    cfg.state_dir = strdup(path);
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_refresh_start(srv, &err), 0, "%s", err.msg);
    for (end = time(NULL) + 60; time(NULL) < end;) {
        stest_resp r = req("GET", status_base, "/readiness", NULL);
        long code = r.status;

        stest_resp_free(&r);
        if (code == 200)
            break;
        usleep(100000);
    }
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        stest_resp r = req("GET", status_base, paths[i], NULL);

        assert_clean(paths[i], r.body.data);
        stest_resp_free(&r);
    }
    {
        stest_resp r = req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=%ff", NULL);

        cr_assert_eq(r.status, 400);
        assert_clean("an error answer", r.body.data);
        stest_resp_free(&r);
    }
    stop(); /* before reading the log: everything is written */
    srv = NULL;
    dup2(saved, 2);
    close(saved);
    cr_assert_not_null(text = test_slurp(log));
    cr_assert(strstr(text, "level=debug"), "no debug lines were logged");
    cr_assert(strstr(text, "graph loaded"), "the scrape did not load:\n%s", text);
    assert_clean("the log", text);
    free(text);
    test_rm_rf(logdir);
}

TestSuite(server_secrets, .fini = sec_stop, .timeout = 180);

Test(server_secrets, basic_auth_scrape_leaks_nothing)
{
    treg_options opt = {.basic_auth = 1};

    scrape_and_grep(&opt);
}

Test(server_secrets, token_auth_scrape_leaks_nothing)
{
    treg_options opt = {.token_auth = 1};

    scrape_and_grep(&opt);
}
