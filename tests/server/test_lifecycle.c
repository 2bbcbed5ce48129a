/* tests/server/test_lifecycle.c - the real `cincy serve` process and its
 * signals: SIGTERM drains within shutdown_grace_seconds and exits 0 (also in
 * the middle of a load), SIGHUP re-reads the config file and refuses a bad
 * one while the old graph keeps serving.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_fixture.h"

#define SRC CINCY_SOURCE_DIR
#define GRAPH_PATH "/api/upgrades_info/v1/graph?channel=stable-4.2"

extern char **environ;

static pid_t child = -1;
static int gport, sport;
static char log_path[512], cfg_path[512];

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish(void)
{
    char *log;

    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
        if ((log = test_slurp(log_path)) != NULL) { /* a test failed: show why */
            fprintf(stderr, "--- cincy log ---\n%s--- end ---\n", log);
            free(log);
        }
    }
    stop();
}

static void spawn_serve(void)
{
    char g[16], s[16];
    posix_spawn_file_actions_t fa;
    char *argv[] = {CINCY_BINARY,    "serve", "--config", cfg_path, "--graph-port", g,
                    "--status-port", s,       NULL};

    gport = stest_free_port();
    sport = stest_free_port();
    snprintf(g, sizeof(g), "%d", gport);
    snprintf(s, sizeof(s), "%d", sport);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", gport);
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", sport);
    TEST_SNPRINTF(log_path, "%s/cincy.log", tmp);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    cr_assert_eq(posix_spawn(&child, CINCY_BINARY, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

static void write_config(const char *text)
{
    test_write(tmp, "cincy.yaml", text);
    TEST_SNPRINTF(cfg_path, "%s/cincy.yaml", tmp);
}

/* Polls base+path until it answers want, for up to timeout_s. */
static void wait_status(const char *base, const char *path, long want, double timeout_s)
{
    double end = now_s() + timeout_s;
    long last = -1;

    while (now_s() < end) {
        stest_resp r = req("GET", base, path, NULL);

        last = r.status;
        stest_resp_free(&r);
        if (last == want)
            return;
        usleep(100000);
    }
    cr_assert_fail("%s%s answered %ld, not %ld, within %.0f s", base, path, last, want, timeout_s);
}

static int log_has(const char *text)
{
    char *log = test_slurp(log_path);
    int has = log && strstr(log, text) != NULL;

    free(log);
    return has;
}

static void wait_log(const char *text, double timeout_s)
{
    double end = now_s() + timeout_s;

    while (now_s() < end && !log_has(text))
        usleep(100000);
    cr_assert(log_has(text), "the log never said '%s'", text);
}

/* Waits for the child to exit; returns its exit code (-1: killed by a signal)
 * and the seconds it took. */
static int wait_exit(double timeout_s, double *took)
{
    double t0 = now_s();
    int status;

    while (now_s() - t0 < timeout_s) {
        pid_t p = waitpid(child, &status, WNOHANG);

        if (p == child) {
            child = -1;
            *took = now_s() - t0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(50000);
    }
    cr_assert_fail("cincy did not exit within %.0f s", timeout_s);
    return -1;
}

TestSuite(server_lifecycle, .fini = finish, .timeout = 300);

/* A client reads a big answer slowly while SIGTERM arrives: readiness turns
 * 503 at once, the answer completes, and the process exits 0. */
Test(server_lifecycle, sigterm_lets_a_slow_reader_finish_and_exits_0)
{
    struct sockaddr_in a = {0};
    int fd, rcvbuf = 4096, code;
    size_t got = 0, want;
    char buf[8192], *hdr_end = NULL, text[1024];
    double took;

    test_tmpdir(tmp, sizeof(tmp));
    snprintf(text, sizeof(text),
             "shutdown_grace_seconds: 30\n"
             "sources:\n  graph_data: {directory: %s/config/graph-data}\n"
             "  releases: {directory: %s}\n",
             SRC, CINCY_DEMO_RELEASES);
    write_config(text);
    spawn_serve();
    wait_status(status_base, "/readiness", 200, 240); /* the real data: a slow load under ASan */

    fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* keeps it in flight */
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)gport);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(text, sizeof(text),
             "GET /api/upgrades_info/v1/graph?channel=candidate-4.18 HTTP/1.1\r\n"
             "Host: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq(send(fd, text, strlen(text), 0), (ssize_t)strlen(text));
    usleep(300000);
    cr_assert_eq(kill(child, SIGTERM), 0);
    wait_status(status_base, "/readiness", 503, 5);
    {
        stest_resp r = req("GET", status_base, "/readiness", NULL);

        cr_assert_str_eq(r.body.data, "shutting down\n");
        stest_resp_free(&r);
    }
    /* read slowly: 8 KiB every 20 ms */
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        char *cl;

        if (n <= 0)
            break;
        if (!hdr_end) {
            buf[n < (ssize_t)sizeof(buf) ? n : n - 1] = '\0';
            cr_assert(!strncmp(buf, "HTTP/1.1 200", 12), "%.100s", buf);
            cr_assert_not_null(cl = strstr(buf, "Content-Length: "));
            want = strtoul(cl + 16, NULL, 10);
            cr_assert_not_null(hdr_end = strstr(buf, "\r\n\r\n"));
            got = (size_t)n - (size_t)(hdr_end + 4 - buf);
        } else {
            got += (size_t)n;
        }
        usleep(20000);
    }
    close(fd);
    cr_assert_not_null(hdr_end, "no answer");
    cr_assert_eq(got, want, "the answer was cut at %zu of %zu bytes", got, want);
    code = wait_exit(30, &took);
    cr_assert_eq(code, 0);
    cr_assert(!log_has("grace period over"));
}

/* A graph-data tarball whose server never answers keeps the first load busy;
 * SIGTERM still ends the process within the grace period, with exit 0. */
Test(server_lifecycle, sigterm_during_a_load_exits_0_within_the_grace)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int hang = socket(AF_INET, SOCK_STREAM, 0), code;
    char text[1024];
    double took;

    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(bind(hang, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(hang, 8), 0); /* accepted by the kernel, never answered */
    cr_assert_eq(getsockname(hang, (struct sockaddr *)&a, &len), 0);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    write_releases();
    snprintf(text, sizeof(text),
             "shutdown_grace_seconds: 2\n"
             "state_dir: %s/state\n"
             "sources:\n  graph_data: {tarball: 'http://127.0.0.1:%d/graph-data.tar.gz'}\n"
             "  releases: {directory: %s/releases}\n",
             tmp, ntohs(a.sin_port), tmp);
    write_config(text);
    spawn_serve();
    wait_status(status_base, "/liveness", 200, 60);
    wait_status(status_base, "/readiness", 503, 5); /* still loading */
    usleep(500000);
    cr_assert_eq(kill(child, SIGTERM), 0);
    code = wait_exit(30, &took);
    cr_assert_eq(code, 0);
    cr_assert_lt(took, 6, "took %.1f s with a 2 s grace period", took);
    cr_assert(log_has("exiting without waiting"));
    close(hang);
}

static void write_graph_data_b(void)
{
    char dir[512];

    TEST_SNPRINTF(dir, "%s/graph-data-b", tmp);
    test_write(dir, "version", "1.1.0\n");
    test_write(dir, "channels/stable-4.1.yaml", "name: stable-4.1\nversions: [4.1.0, 4.1.1]\n");
    test_write(dir, "channels/stable-4.2.yaml",
               "name: stable-4.2\nversions: [4.1.0, 4.1.1, 4.2.0]\n");
    test_write(dir, "blocked-edges/4.2.1-pure.yaml", "to: 4.2.1\nfrom: 4[.]1[.]0[+]\n");
    test_write(dir, "raw/metadata.json", "{}\n");
}

static int graph_has(const char *version)
{
    stest_resp r = req("GET", graph_base, GRAPH_PATH, NULL);
    char quoted[64];
    int has;

    cr_assert_eq(r.status, 200);
    snprintf(quoted, sizeof(quoted), "\"%s\"", version);
    has = strstr(r.body.data, quoted) != NULL;
    stest_resp_free(&r);
    return has;
}

Test(server_lifecycle, sighup_applies_a_new_config_and_refuses_a_bad_one)
{
    char text[1024];
    double end, took;

    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    write_releases();
    write_graph_data_b();
    snprintf(text, sizeof(text),
             "log_level: info\n"
             "sources:\n  graph_data: {directory: graph-data}\n"
             "  releases: {directory: releases}\n");
    write_config(text);
    spawn_serve();
    wait_status(status_base, "/readiness", 200, 60);
    cr_assert(graph_has("4.2.1"));

    /* a valid new config: another graph-data directory, debug logging, and a
     * restart-only change that is logged and kept */
    snprintf(text, sizeof(text),
             "log_level: debug\n"
             "graph: {threads: 3}\n"
             "sources:\n  graph_data: {directory: graph-data-b}\n"
             "  releases: {directory: releases}\n");
    write_config(text);
    cr_assert_eq(kill(child, SIGHUP), 0);
    end = now_s() + 30;
    while (now_s() < end && graph_has("4.2.1"))
        usleep(100000);
    cr_assert(!graph_has("4.2.1"), "the new graph-data directory is not served");
    cr_assert(graph_has("4.2.0"));
    wait_log("config reloaded", 5);
    wait_log("needs a restart, the old value stays\" key=graph.threads", 5);
    wait_log("level=debug component=http", 5); /* the access log of debug */

    /* a broken config: refused with file, line and key; the graph stays */
    write_config("log_level: info\nlimits:\n  max_connections: lots\n");
    cr_assert_eq(kill(child, SIGHUP), 0);
    wait_log("config reload refused, the running configuration stays", 10);
    snprintf(text, sizeof(text), "%s:3: field 'limits.max_connections'", cfg_path);
    wait_log(text, 1);
    cr_assert(!graph_has("4.2.1"));
    cr_assert(graph_has("4.2.0"));
    wait_status(status_base, "/readiness", 200, 1);
    cr_assert_eq(kill(child, SIGTERM), 0);
    cr_assert_eq(wait_exit(30, &took), 0);
}
