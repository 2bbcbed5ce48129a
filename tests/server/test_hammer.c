/* tests/server/test_hammer.c - readers never see a half-built graph.
 *
 * Several client threads fetch the same graph URL back to back while the
 * refresh thread moves the graph-data source through K revisions, several
 * times over. Revision i lists i + 2 versions in stable-4.2, so every
 * revision has its own body. Each response must be a 200 whose bytes are
 * exactly one revision's complete body: a response built from a snapshot
 * being swapped in (or freed under the reader) would differ or crash ASan.
 *
 * The graph-data path is a symlink `current -> rev-<i>`; switching is a
 * rename() of a fresh symlink over it, which is atomic, so every load reads
 * one whole revision and any mix seen by a client is the server's fault, not
 * the test's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "server_fixture.h"

#define K 8             /* revisions */
#define CLIENTS 4       /* hammering threads */
#define CYCLES 5        /* passes through all K revisions while hammering */
#define WAIT_MS 15000   /* one revision to be served: generous for ASan on 2 cores */
#define BUDGET_MS 15000 /* hammer phase: later cycles are skipped past this */
#define GRAPH_PATH "/api/upgrades_info/v1/graph?channel=stable-4.2&arch=amd64"

typedef struct client {
    pthread_t thread;
    int started;
    long requests;
    long seen[K];    /* responses equal to each revision's body */
    long failures;   /* anything else */
    char first[512]; /* what the first failure was */
} client;

static char *expected[K];
static size_t expected_len[K];
static client clients[CLIENTS];
static atomic_int stopping;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "4.2.0, 4.2.1, ..., 4.2.<n-1>" */
static void version_list(char *out, size_t size, int n)
{
    size_t pos = 0;

    out[0] = '\0';
    for (int v = 0; v < n; v++)
        pos += (size_t)snprintf(out + pos, size - pos, "%s4.2.%d", v ? ", " : "", v);
}

/* A complete graph-data tree at <tmp>/<name> whose stable-4.2 lists n versions. */
static void write_revision(const char *name, int n)
{
    char dir[512], list[256], text[512];

    TEST_SNPRINTF(dir, "%s/%s", tmp, name);
    version_list(list, sizeof(list), n);
    TEST_SNPRINTF(text, "name: stable-4.2\nversions: [%s]\n", list);
    test_write(dir, "version", "1.1.0\n");
    test_write(dir, "channels/stable-4.2.yaml", text);
    test_write(dir, "blocked-edges/4.2.1-pure.yaml", "to: 4.2.1\nfrom: 4[.]2[.]0[+]\n");
    test_write(dir, "raw/metadata.json", "{}\n");
}

/* Points <tmp>/current at rev-<i> in one atomic step. */
static void switch_to(int i)
{
    char target[32], next[512], current[512];

    snprintf(target, sizeof(target), "rev-%d", i);
    TEST_SNPRINTF(next, "%s/next", tmp);
    TEST_SNPRINTF(current, "%s/current", tmp);
    unlink(next);
    cr_assert_eq(symlink(target, next), 0, "symlink %s: %s", next, strerror(errno));
    cr_assert_eq(rename(next, current), 0, "rename %s: %s", next, strerror(errno));
}

/* K revisions, release records covering the largest, and a server whose
 * refresh thread watches <tmp>/current (at rev-0). */
static void start_hammer(void)
{
    server_config cfg;
    ingest_graph_data *gd = NULL;
    cincy_error err;
    char path[512], rel[512];
    size_t n = 0;

    cincy_log_set_level(CINCY_LOG_WARN);
    test_tmpdir(tmp, sizeof(tmp));
    for (int i = 0; i < K; i++) {
        char name[32];
        snprintf(name, sizeof(name), "rev-%d", i);
        write_revision(name, i + 2);
    }
    TEST_SNPRINTF(path, "%s/rev-%d", tmp, K - 1);
    TEST_SNPRINTF(rel, "%s/releases", tmp);
    cr_assert_eq(ingest_graph_data_load_dir(&gd, path, &err), 0, "%s", err.msg);
    cr_assert_eq(ingest_demo_write(gd, rel, &n, &err), 0, "%s", err.msg);
    ingest_graph_data_free(gd);
    switch_to(0);

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.poll_seconds = 1;
    TEST_SNPRINTF(path, "%s/current", tmp);
    cfg.graph_data_dir = strdup(path);
    cfg.releases_dir = strdup(rel);
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_refresh_start(srv, &err), 0, "%s", err.msg);
}

/* Stops and joins the clients before the server goes, also when an assert
 * in the test body failed while they ran. */
static void stop_hammer(void)
{
    atomic_store(&stopping, 1);
    for (int t = 0; t < CLIENTS; t++) {
        if (clients[t].started)
            pthread_join(clients[t].thread, NULL);
        clients[t].started = 0;
    }
    for (int i = 0; i < K; i++) {
        free(expected[i]);
        expected[i] = NULL;
    }
    stop();
    curl_global_cleanup();
}

/* The body of GRAPH_PATH now, asked for as the clients do (NULL while not
 * ready). */
static char *fetch_body(void)
{
    static const char *const accept[] = {"Accept: application/json", NULL};
    stest_resp r = req("GET", graph_base, GRAPH_PATH, accept);
    char *body = NULL;

    if (r.status == 200)
        body = strdup(r.body.data);
    else
        cr_assert_eq(r.status, 503, "status %ld body %s", r.status, r.body.data);
    stest_resp_free(&r);
    return body;
}

/* Waits until the served body is not `unlike` (NULL: any 200) and returns it. */
static char *wait_body_change(const char *unlike)
{
    for (int ms = 0; ms < WAIT_MS; ms += 20) {
        char *b = fetch_body();
        if (b && (!unlike || strcmp(b, unlike) != 0))
            return b;
        free(b);
        sleep_ms(20);
    }
    cr_assert_fail("graph body unchanged after %d ms", WAIT_MS);
    return NULL;
}

/* Waits until revision i's body is served. */
static void wait_revision(int i)
{
    for (int ms = 0; ms < WAIT_MS; ms += 20) {
        char *b = fetch_body();
        int hit = b && strcmp(b, expected[i]) == 0;
        free(b);
        if (hit)
            return;
        sleep_ms(20);
    }
    cr_assert_fail("revision %d not served after %d ms", i, WAIT_MS);
}

/* Revision i's body: JSON with exactly the versions 4.2.0 .. 4.2.<i+1>. */
static void check_revision_body(int i, const char *body)
{
    json_error_t jerr;
    json_t *g = json_loads(body, 0, &jerr), *nodes;
    char want[32];

    cr_assert_not_null(g, "revision %d: %s", i, jerr.text);
    nodes = json_object_get(g, "nodes");
    cr_assert_eq(json_array_size(nodes), (size_t)(i + 2), "revision %d: %zu nodes", i,
                 json_array_size(nodes));
    for (int v = 0; v < i + 2; v++) {
        int found = 0;
        snprintf(want, sizeof(want), "4.2.%d", v);
        for (size_t k = 0; k < json_array_size(nodes); k++) {
            const char *got =
                json_string_value(json_object_get(json_array_get(nodes, k), "version"));
            found |= got && !strcmp(got, want);
        }
        cr_assert(found, "revision %d: no node %s", i, want);
    }
    json_decref(g);
}

/* Which revision body equals b (len bytes), or -1. */
static int match_revision(const char *b, size_t len)
{
    for (int i = 0; i < K; i++)
        if (len == expected_len[i] && !memcmp(b, expected[i], len))
            return i;
    return -1;
}

/* Client thread: GETs GRAPH_PATH on one keep-alive handle until stopped.
 * No Criterion asserts here (they may only run on the test's own thread):
 * failures are counted and the first is described for the main thread. */
static void *hammer(void *arg)
{
    client *c = arg;
    char url[256];
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    stest_buf body = {NULL, 0};

    snprintf(url, sizeof(url), "%s%s", graph_base, GRAPH_PATH);
    if (!h || !hdrs) {
        c->failures++;
        snprintf(c->first, sizeof(c->first), "curl setup failed");
        goto cleanup;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stest_collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    while (!atomic_load(&stopping)) {
        long status = -1;
        CURLcode rc;
        json_error_t jerr;
        json_t *j;
        int idx;

        body.len = 0;
        rc = curl_easy_perform(h);
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        c->requests++;
        j = status == 200 && body.data ? json_loadb(body.data, body.len, 0, &jerr) : NULL;
        idx = j ? match_revision(body.data, body.len) : -1;
        json_decref(j);
        if (idx >= 0) {
            c->seen[idx]++;
            continue;
        }
        if (c->failures++ == 0)
            snprintf(c->first, sizeof(c->first), "request %ld: curl %d status %ld body %.300s",
                     c->requests, (int)rc, status, body.data && body.len ? body.data : "");
    }
cleanup:
    free(body.data);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return NULL;
}

Test(server_hammer, readers_see_whole_snapshots, .fini = stop_hammer, .timeout = 120)
{
    long total = 0, deadline;
    int cycles = 0;

    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK); /* before any thread */
    start_hammer();

    /* Warm-up, no clients: record each revision's body as the server sends it
     * (Accept: application/json to match the clients). */
    for (int i = 0; i < K; i++) {
        if (i > 0) {
            switch_to(i);
            server_refresh_trigger(srv);
        }
        expected[i] = wait_body_change(i ? expected[i - 1] : NULL);
        expected_len[i] = strlen(expected[i]);
        check_revision_body(i, expected[i]);
        for (int p = 0; p < i; p++)
            cr_assert_str_neq(expected[i], expected[p], "revisions %d and %d alike", p, i);
    }

    for (int t = 0; t < CLIENTS; t++) {
        cr_assert_eq(pthread_create(&clients[t].thread, NULL, hammer, &clients[t]), 0);
        clients[t].started = 1;
    }
    deadline = now_ms() + BUDGET_MS;
    for (cycles = 0; cycles < CYCLES && (cycles == 0 || now_ms() < deadline); cycles++) {
        for (int i = 0; i < K; i++) {
            switch_to(i);
            server_refresh_trigger(srv);
            wait_revision(i);
            sleep_ms(50); /* let the clients read this revision for a while */
        }
    }
    atomic_store(&stopping, 1);

    for (int t = 0; t < CLIENTS; t++) {
        client *c = &clients[t];
        int distinct = 0;

        pthread_join(c->thread, NULL);
        c->started = 0;
        for (int i = 0; i < K; i++)
            distinct += c->seen[i] > 0;
        cr_assert_eq(c->failures, 0,
                     "client %d: %ld of %ld responses not a whole revision; "
                     "first: %s",
                     t, c->failures, c->requests, c->first);
        cr_assert_geq(distinct, 2, "client %d saw %d distinct bodies in %ld requests", t, distinct,
                      c->requests);
        cr_log_info("client %d: %ld requests, %d distinct bodies", t, c->requests, distinct);
        total += c->requests;
    }
    cr_log_info("hammer: %d cycles, %ld requests", cycles, total);
    cr_assert_geq(total, 200, "only %ld requests", total);
}
