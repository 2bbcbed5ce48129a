/* tests/server/test_limits.c - limits for abusive clients (limits: in the
 * config, docs/security.md): connections in total and per client address,
 * header size, slow and idle connections, bodies on graph routes, garbage.
 *
 * The abusive clients speak raw TCP. They bind to 127.0.0.2 (Linux routes all
 * of 127/8 to lo), so the per-client limit they run into never touches the
 * well-behaved client on 127.0.0.1 whose answers are timed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_fixture.h"

#define GRAPH_PATH "/api/upgrades_info/v1/graph?channel=stable-4.2"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts the fixture server with its graph loaded and the given limits (0:
 * the default). */
static void start_limited(unsigned max_conn, unsigned per_client, unsigned header_bytes,
                          unsigned idle_s, unsigned request_s)
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
    TEST_SNPRINTF(path, "%s/graph-data", tmp);
    cfg.graph_data_dir = strdup(path);
    TEST_SNPRINTF(path, "%s/releases", tmp);
    cfg.releases_dir = strdup(path);
    if (max_conn)
        cfg.max_connections = max_conn;
    if (per_client)
        cfg.max_connections_per_client = per_client;
    if (header_bytes)
        cfg.max_header_bytes = header_bytes;
    if (idle_s)
        cfg.idle_timeout = idle_s;
    if (request_s)
        cfg.request_timeout = request_s;
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
}

/* A TCP connection from source address src to the graph port. */
static int dial_from(const char *src)
{
    struct sockaddr_in a = {0}, b = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    a.sin_family = AF_INET;
    cr_assert_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", src,
                 strerror(errno));
    b.sin_family = AF_INET;
    b.sin_port = htons((uint16_t)server_graph_port(srv));
    inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&b, sizeof(b)), 0, "connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

        if (n <= 0)
            return; /* the server may close early: the answer says why */
        data += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes or timeout_s passes; returns the bytes (a
 * new string) and sets *closed when the server closed the connection. */
static char *read_until_close(int fd, double timeout_s, int *closed)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    double end = now_s() + timeout_s;
    struct pollfd p = {fd, POLLIN, 0};

    cr_assert_not_null(buf);
    *closed = 0;
    while (now_s() < end) {
        ssize_t n;

        if (poll(&p, 1, 100) <= 0)
            continue;
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            *closed = 1;
            break;
        }
        len += (size_t)n;
        if (len + 1 == cap)
            cr_assert_not_null(buf = realloc(buf, cap *= 2));
    }
    buf[len] = '\0';
    return buf;
}

/* Sends raw bytes on a new connection from 127.0.0.2; returns the answer. */
static char *raw_exchange(const char *data, size_t len)
{
    int fd = dial_from("127.0.0.2"), closed;
    char *answer;

    send_all(fd, data, len);
    answer = read_until_close(fd, 5, &closed);
    close(fd);
    return answer;
}

/* A normal graph request from 127.0.0.1 answers 200, in under max_s. */
static void assert_graph_answers(double max_s)
{
    double t0 = now_s();
    stest_resp r = req("GET", graph_base, GRAPH_PATH, NULL);
    double took = now_s() - t0;

    cr_assert_eq(r.status, 200, "graph request answered %ld", r.status);
    cr_assert(strstr(r.body.data, "\"4.2.1\"") != NULL);
    cr_assert_lt(took, max_s, "graph request took %.2f s", took);
    stest_resp_free(&r);
}

static void assert_status_line(const char *answer, const char *code)
{
    char want[64];

    snprintf(want, sizeof(want), "HTTP/1.1 %s", code);
    cr_assert(!strncmp(answer, want, strlen(want)), "expected %s, got: %.200s", want, answer);
}

TestSuite(server_limits, .fini = stop, .timeout = 120);

Test(server_limits, body_on_a_graph_route_is_refused_with_413)
{
    static const char rq[] = "GET " GRAPH_PATH " HTTP/1.1\r\nHost: x\r\n"
                             "Content-Length: 5\r\n\r\nhello";
    char *answer;

    start_limited(0, 0, 0, 0, 0);
    answer = raw_exchange(rq, sizeof(rq) - 1);
    assert_status_line(answer, "413");
    cr_assert(strstr(answer, "request body not accepted") != NULL, "%s", answer);
    free(answer);
    answer = raw_exchange("GET " GRAPH_PATH " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                          strlen("GET " GRAPH_PATH " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                 "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    assert_status_line(answer, "413");
    free(answer);
    assert_graph_answers(2);
}

Test(server_limits, per_client_connections_are_capped_and_others_still_served)
{
    int fds[8], extra, closed;
    char *answer;

    start_limited(0, 8, 0, 0, 0);
    for (int i = 0; i < 8; i++)
        fds[i] = dial_from("127.0.0.2");
    usleep(200000);                 /* the server has accepted them */
    extra = dial_from("127.0.0.2"); /* the kernel accepts; MHD closes it at once */
    send_all(extra, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    answer = read_until_close(extra, 5, &closed);
    cr_assert(closed, "the 9th connection from one address was not closed");
    cr_assert_str_eq(answer, "", "the 9th connection was answered: %s", answer);
    free(answer);
    close(extra);
    assert_graph_answers(2); /* another address is not affected */
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}

Test(server_limits, total_connections_are_capped)
{
    int fds[16], answered = 0;

    /* Past the limit MHD stops accepting (the connection waits in the kernel's
     * backlog) or closes what it accepted: either way it gets no answer. */
    start_limited(8, 1000, 0, 0, 0);
    for (int i = 0; i < 16; i++) {
        char *answer;
        int closed;

        fds[i] = dial_from("127.0.0.2");
        send_all(fds[i], "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", 28);
        answer = read_until_close(fds[i], 0.5, &closed);
        answered += !strncmp(answer, "HTTP/1.1 404", 12);
        free(answer);
    }
    cr_assert_leq(answered, 8, "%d of 16 connections were answered with a limit of 8", answered);
    cr_assert_geq(answered, 4, "only %d connections were answered", answered);
    for (int i = 0; i < 16; i++)
        close(fds[i]);
    usleep(300000);
    assert_graph_answers(2); /* slots come back once clients leave */
}

Test(server_limits, oversized_headers_and_url_get_4xx)
{
    enum { BIG = 20000 };
    char *rq = malloc(BIG + 200), *pad = malloc(BIG + 1), *answer;

    cr_assert(rq && pad);
    memset(pad, 'a', BIG);
    pad[BIG] = '\0';
    start_limited(0, 0, 8192, 0, 0);
    /* headers under the limit are fine */
    snprintf(rq, BIG + 200,
             "GET " GRAPH_PATH " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: %.*s\r\n\r\n",
             6000, pad);
    answer = raw_exchange(rq, strlen(rq));
    assert_status_line(answer, "200");
    free(answer);
    /* a header over it: 431 */
    snprintf(rq, BIG + 200, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
    answer = raw_exchange(rq, strlen(rq));
    assert_status_line(answer, "431");
    free(answer);
    /* a URL over it: 414 */
    snprintf(rq, BIG + 200, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", pad);
    answer = raw_exchange(rq, strlen(rq));
    assert_status_line(answer, "414");
    free(answer);
    free(pad);
    free(rq);
    assert_graph_answers(2);
}

Test(server_limits, garbage_and_bad_queries_get_4xx_and_the_service_stays_up)
{
    static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    static const struct {
        const char *query;
        const char *code;
        const char *names; /* what the body must name, or NULL */
    } bad[] = {
        {"channel=%ff%fe%fd", "400", "channel"},      /* invalid UTF-8 */
        {"channel=%zz", "400", "channel"},            /* a bad escape */
        {"channel=stable-4.2&arch=%", "400", "arch"}, /* a cut-off escape */
        {"channel=%00", "400", "channel"},            /* NUL */
    };
    char rq[512], *answer;

    start_limited(0, 0, 0, 0, 0);
    answer = raw_exchange(garbage, sizeof(garbage) - 1);
    assert_status_line(answer, "400");
    free(answer);
    assert_graph_answers(2);
    answer = raw_exchange("garbage garbage\r\n\r\n", 19);
    assert_status_line(answer, "400");
    free(answer);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(rq, sizeof(rq),
                 "GET /api/upgrades_info/v1/graph?%s HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 bad[i].query);
        answer = raw_exchange(rq, strlen(rq));
        assert_status_line(answer, bad[i].code);
        if (bad[i].names)
            cr_assert(strstr(strstr(answer, "\r\n\r\n"), bad[i].names) != NULL,
                      "%s: the body does not name %s: %s", bad[i].query, bad[i].names, answer);
        free(answer);
        assert_graph_answers(2);
    }
}

Test(server_limits, slow_headers_are_dropped_after_the_request_timeout)
{
    int fd, closed = 0;
    double t0, took;
    const char *rq = "GET " GRAPH_PATH " HTTP/1.1\r\nHost: x\r\n";

    start_limited(0, 0, 0, 30, 2);
    fd = dial_from("127.0.0.2");
    t0 = now_s();
    /* one byte every 300 ms resets any inactivity timer, never completes */
    for (size_t i = 0; i < strlen(rq) && !closed && now_s() - t0 < 10; i++) {
        char *answer;

        send_all(fd, rq + i, 1);
        answer = read_until_close(fd, 0.3, &closed);
        free(answer);
    }
    took = now_s() - t0;
    cr_assert(closed, "a slowloris client kept its connection for %.1f s", took);
    cr_assert_geq(took, 1.5, "dropped after %.1f s, before the 2 s timeout", took);
    cr_assert_lt(took, 5, "dropped after %.1f s", took);
    close(fd);
    assert_graph_answers(2);
}

Test(server_limits, idle_connections_are_closed_after_the_idle_timeout)
{
    static const char rq[] = "GET " GRAPH_PATH " HTTP/1.1\r\nHost: x\r\n\r\n";
    int fd, closed;
    double t0;
    char *answer;

    start_limited(0, 0, 0, 2, 1);
    fd = dial_from("127.0.0.2");
    send_all(fd, rq, sizeof(rq) - 1);
    t0 = now_s();
    answer = read_until_close(fd, 10, &closed); /* the answer, then the close */
    cr_assert(closed, "an idle keep-alive connection stayed open");
    cr_assert(!strncmp(answer, "HTTP/1.1 200", 12), "%.100s", answer);
    cr_assert_geq(now_s() - t0, 1.5);
    cr_assert_lt(now_s() - t0, 6);
    free(answer);
    close(fd);
}

Test(server_limits, hundreds_of_idle_and_slow_clients_do_not_wedge_the_server, .timeout = 180)
{
    enum { N = 400 };
    int fds[N];

    start_limited(0, 0, 0, 0, 0); /* the defaults */
    for (int i = 0; i < N; i++) {
        fds[i] = dial_from(i % 2 ? "127.0.0.2" : "127.0.0.3");
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i += 2) /* half are slow: one byte a second */
            send(fds[i], &"GET / HTTP/1.1\r\n"[round], 1, MSG_NOSIGNAL);
        assert_graph_answers(2);
        sleep(1);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    assert_graph_answers(2);
}

Test(server_limits, config_keys_defaults_and_errors)
{
    static const char yaml[] = "limits:\n  max_connections: 500\n  max_connections_per_client: 9\n"
                               "  max_header_bytes: 4096\n  idle_timeout_seconds: 7\n"
                               "  request_timeout_seconds: 3\nshutdown_grace_seconds: 11\n";
    static const char bad[] = "limits:\n  max_header_bytes: 100\n";
    server_config cfg;
    cincy_error err;
    char msg[512];

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cr_assert_eq(cfg.max_connections, 1000);
    cr_assert_eq(cfg.max_connections_per_client, 64);
    cr_assert_eq(cfg.max_header_bytes, 8192);
    cr_assert_eq(cfg.idle_timeout, 30);
    cr_assert_eq(cfg.request_timeout, 10);
    cr_assert_eq(cfg.shutdown_grace, 20);
    cr_assert_eq(server_config_parse(&cfg, yaml, strlen(yaml), "t.yaml", "/", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cfg.max_connections, 500);
    cr_assert_eq(cfg.max_connections_per_client, 9);
    cr_assert_eq(cfg.max_header_bytes, 4096);
    cr_assert_eq(cfg.idle_timeout, 7);
    cr_assert_eq(cfg.request_timeout, 3);
    cr_assert_eq(cfg.shutdown_grace, 11);
    cr_assert_eq(server_config_parse(&cfg, bad, strlen(bad), "t.yaml", "/", &err), CINCY_EINVALID);
    cr_assert_str_eq(cincy_error_format(&err, msg, sizeof(msg)),
                     "t.yaml:2: field 'limits.max_header_bytes': expected bytes from 1024 to "
                     "1048576, got '100'");
    server_config_clear(&cfg);
}
