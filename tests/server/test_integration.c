/* tests/server/test_integration.c - the real `cincy serve` on the bundled data.
 *
 * Starts the built binary on OpenShift's real graph-data (config/graph-data)
 * and the demo release records generated from it, waits for readiness, then
 * speaks HTTP to it like a cluster would. Expectations come from the data
 * files, not from cincy: the node count of stable-4.16 is the number of
 * distinct versions its channel file lists (the demo data has a release for
 * every channel version), and the edges below were checked by hand against
 * blocked-edges/:
 *   - 4.16.0 -> 4.16.1 is a plain edge: the only 4.16.1 entries match 4.15 sources;
 *   - 4.15.20 -> 4.16.1 is conditional: 4.16.1-ServiceAccountContentionSecretCreation
 *     and 4.16.1-OldBootImagesMissingOSReleaseRHELVersion both match 4[.]15[.].*;
 *   - nothing enters 4.9.38 in stable-4.10: blocked-edges/4.9.38.yaml is a pure
 *     block from .*, while 4.9.36 -> 4.9.37 (not blocked) is there.
 */
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <yaml.h>

#include "server_test_util.h"

#define SRC CINCY_SOURCE_DIR
#define READY_TIMEOUT_S 180 /* a full load under ASan on a busy 2-core box takes ~10-30 s */

extern char **environ;

static pid_t child = -1;
static char itmp[256];
static char gbase[128], sbase[128];
static int passed;

static void stop_child(void)
{
    char path[512], *log;

    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    if (!itmp[0])
        return;
    if (!passed) {
        snprintf(path, sizeof(path), "%s/cincy.log", itmp);
        if ((log = test_slurp(path)) != NULL) {
            fprintf(stderr, "--- cincy log ---\n%s--- end of cincy log ---\n", log);
            free(log);
        }
    }
    test_rm_rf(itmp);
}

/* Distinct entries of "versions:" in a channel file, counted with libyaml. */
static size_t channel_version_count(const char *path)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_node_t *root, *seq = NULL;
    size_t count = 0;

    cr_assert_not_null(f, "%s", path);
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    cr_assert(yaml_parser_load(&p, &doc), "%s does not parse", path);
    root = yaml_document_get_root_node(&doc);
    for (yaml_node_pair_t *kv = root->data.mapping.pairs.start; kv < root->data.mapping.pairs.top;
         kv++) {
        yaml_node_t *k = yaml_document_get_node(&doc, kv->key);
        if (!strcmp((char *)k->data.scalar.value, "versions"))
            seq = yaml_document_get_node(&doc, kv->value);
    }
    cr_assert_not_null(seq);
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
        const char *v = (char *)yaml_document_get_node(&doc, *i)->data.scalar.value;
        int dup = 0;
        for (yaml_node_item_t *j = seq->data.sequence.items.start; j < i; j++)
            dup |= !strcmp(v, (char *)yaml_document_get_node(&doc, *j)->data.scalar.value);
        count += !dup;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    fclose(f);
    return count;
}

static void spawn_cincy(const char *config, int gport, int sport)
{
    char log[512], g[16], s[16];
    posix_spawn_file_actions_t fa;
    char *argv[] = {CINCY_BINARY,    "serve", "--config", (char *)config, "--graph-port", g,
                    "--status-port", s,       NULL};

    snprintf(g, sizeof(g), "%d", gport);
    snprintf(s, sizeof(s), "%d", sport);
    TEST_SNPRINTF(log, "%s/cincy.log", itmp);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    cr_assert_eq(posix_spawn(&child, CINCY_BINARY, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

static void assert_child_alive(void)
{
    int status;

    cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "cincy exited early (status %d)", status);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls url until it answers want (or the deadline passes). */
static void wait_for_status(const char *url, long want, int timeout_s)
{
    time_t deadline = time(NULL) + timeout_s;
    long last = -1;

    while (time(NULL) < deadline) {
        stest_resp r = stest_get(url);
        last = r.status;
        stest_resp_free(&r);
        if (last == want)
            return;
        assert_child_alive();
        sleep_ms(250);
    }
    cr_assert_fail("%s still answers %ld after %d s", url, last, timeout_s);
}

/* Polls /metrics until it holds the exact line. */
static void wait_for_metric(const char *line, int timeout_s)
{
    char url[256];
    time_t deadline = time(NULL) + timeout_s;

    snprintf(url, sizeof(url), "%s/metrics", sbase);
    while (time(NULL) < deadline) {
        stest_resp r = stest_get(url);
        int found = r.status == 200 && strstr(r.body.data, line) != NULL;
        stest_resp_free(&r);
        if (found)
            return;
        assert_child_alive();
        sleep_ms(250);
    }
    cr_assert_fail("metrics never showed '%s'", line);
}

static stest_resp iget(const char *base, const char *path, const char *const *headers)
{
    char url[1024];

    snprintf(url, sizeof(url), "%s%s", base, path);
    return stest_request("GET", url, headers);
}

static json_t *get_json(const char *path)
{
    stest_resp r = iget(gbase, path, NULL);
    json_error_t jerr;
    json_t *j;

    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body.data);
    j = json_loads(r.body.data, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", path, jerr.text);
    stest_resp_free(&r);
    return j;
}

static long node_index(json_t *g, const char *version)
{
    json_t *nodes = json_object_get(g, "nodes");

    for (size_t i = 0; i < json_array_size(nodes); i++) {
        json_t *n = json_array_get(nodes, i);
        if (!strcmp(json_string_value(json_object_get(n, "version")), version))
            return (long)i;
    }
    return -1;
}

static int has_edge(json_t *g, const char *from, const char *to)
{
    json_t *edges = json_object_get(g, "edges");
    long a = node_index(g, from), b = node_index(g, to);

    for (size_t i = 0; i < json_array_size(edges); i++) {
        json_t *e = json_array_get(edges, i);
        if (json_integer_value(json_array_get(e, 0)) == a &&
            json_integer_value(json_array_get(e, 1)) == b)
            return 1;
    }
    return 0;
}

static int incoming_edges(json_t *g, const char *to)
{
    json_t *edges = json_object_get(g, "edges");
    long b = node_index(g, to);
    int n = 0;

    for (size_t i = 0; i < json_array_size(edges); i++)
        n += json_integer_value(json_array_get(json_array_get(edges, i), 1)) == b;
    return n;
}

/* Risk names of every conditional group holding the pair (from, to),
 * comma-joined in response order; "" when the pair is not conditional. */
static void risks_of(char *out, size_t size, json_t *g, const char *from, const char *to)
{
    json_t *groups = json_object_get(g, "conditionalEdges");
    size_t pos = 0;

    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(groups); i++) {
        json_t *edges = json_object_get(json_array_get(groups, i), "edges");
        json_t *risks = json_object_get(json_array_get(groups, i), "risks");
        for (size_t j = 0; j < json_array_size(edges); j++) {
            json_t *e = json_array_get(edges, j);
            if (strcmp(json_string_value(json_object_get(e, "from")), from) ||
                strcmp(json_string_value(json_object_get(e, "to")), to))
                continue;
            for (size_t k = 0; k < json_array_size(risks); k++)
                pos += (size_t)snprintf(
                    out + pos, size - pos, "%s%s", pos ? "," : "",
                    json_string_value(json_object_get(json_array_get(risks, k), "name")));
        }
    }
}

/* Conditional pairs whose target is to. */
static int conditional_into(json_t *g, const char *to)
{
    json_t *groups = json_object_get(g, "conditionalEdges");
    int n = 0;

    for (size_t i = 0; i < json_array_size(groups); i++) {
        json_t *edges = json_object_get(json_array_get(groups, i), "edges");
        for (size_t j = 0; j < json_array_size(edges); j++)
            n += !strcmp(json_string_value(json_object_get(json_array_get(edges, j), "to")), to);
    }
    return n;
}

static void assert_response(const char *path, const char *const *headers, long status,
                            const char *body)
{
    stest_resp r = iget(gbase, path, headers);

    cr_assert_eq(r.status, status, "%s: %ld %s", path, r.status, r.body.data);
    if (body)
        cr_assert_str_eq(r.body.data, body, "%s", path);
    stest_resp_free(&r);
}

Test(server_integration, serve_real_graph_data, .fini = stop_child, .timeout = 600)
{
    char config[512], gd_link[512], empty[512], url[256], names[1024];
    int gport = stest_free_port(), sport = stest_free_port(), status;
    size_t want_nodes = channel_version_count(SRC "/config/graph-data/channels/stable-4.16.yaml");
    const char *html[] = {"Accept: text/html", NULL};
    stest_resp r, before, after;
    json_t *g, *legacy;

    cr_assert_gt(want_nodes, 100, "the bundled stable-4.16 lists %zu versions", want_nodes);
    test_tmpdir(itmp, sizeof(itmp));
    /* graph-data through a symlink, so the test can break it for a reload */
    TEST_SNPRINTF(gd_link, "%s/gd", itmp);
    cr_assert_eq(symlink(SRC "/config/graph-data", gd_link), 0);
    test_write(itmp, "cincy.yaml",
                "log_level: info\n"
                "graph:\n  port: 1\n  threads: 2\n"
                "sources:\n"
                "  releases:\n    directory: " CINCY_DEMO_RELEASES "\n"
                "  graph_data:\n    directory: gd\n"
                "web:\n  directory: " SRC "/web\n");
    TEST_SNPRINTF(config, "%s/cincy.yaml", itmp);
    while (sport == gport)
        sport = stest_free_port();
    snprintf(gbase, sizeof(gbase), "http://127.0.0.1:%d", gport);
    snprintf(sbase, sizeof(sbase), "http://127.0.0.1:%d", sport);
    spawn_cincy(config, gport, sport); /* the --graph-port override beats "port: 1" */

    snprintf(url, sizeof(url), "%s/liveness", sbase);
    wait_for_status(url, 200, 60);
    snprintf(url, sizeof(url), "%s/readiness", sbase);
    wait_for_status(url, 200, READY_TIMEOUT_S);

    /* the channel graph: node count from the channel file, edges by hand */
    g = get_json("/api/upgrades_info/v1/graph?channel=stable-4.16");
    cr_assert_eq(json_array_size(json_object_get(g, "nodes")), want_nodes);
    cr_assert_geq(node_index(g, "4.16.0"), 0);
    cr_assert(has_edge(g, "4.16.0", "4.16.1"));
    cr_assert_not(has_edge(g, "4.15.20", "4.16.1"), "a risky edge is only conditional");
    risks_of(names, sizeof(names), g, "4.15.20", "4.16.1");
    cr_assert(strstr(names, "ServiceAccountContentionSecretCreation") != NULL, "risks: '%s'",
              names);
    cr_assert(strstr(names, "OldBootImagesMissingOSReleaseRHELVersion") != NULL, "risks: '%s'",
              names);
    legacy = get_json("/api/upgrades_info/graph?channel=stable-4.16");
    cr_assert(json_equal(g, legacy), "/graph and /v1/graph differ");
    json_decref(legacy);
    json_decref(g);

    g = get_json("/api/upgrades_info/v1/graph?channel=stable-4.10");
    cr_assert_geq(node_index(g, "4.9.38"), 0);
    cr_assert(has_edge(g, "4.9.36", "4.9.37"));
    cr_assert_eq(incoming_edges(g, "4.9.38"), 0, "pure block 4.9.38.yaml from .*");
    cr_assert_eq(conditional_into(g, "4.9.38"), 0);
    json_decref(g);

    g = get_json("/api/upgrades_info/v1/graph?channel=stable-4.16&arch=arm64");
    cr_assert_eq(json_array_size(json_object_get(g, "nodes")), want_nodes);
    json_decref(g);

    /* errors, then proof it still serves */
    assert_response("/api/upgrades_info/v1/graph", NULL, 400,
                    "{\"kind\":\"missing_params\","
                    "\"value\":\"mandatory client parameters missing: channel\"}");
    assert_response("/api/upgrades_info/v1/graph?channel=stable-4.16&arch=AMD64", NULL, 400,
                    "{\"kind\":\"invalid_params\",\"value\":\"invalid client parameters: "
                    "arch 'AMD64' does not match regex '^[0-9a-z]+$'\"}");
    assert_response("/api/upgrades_info/v1/graph?channel=stable-9.99", NULL, 200,
                    "{\"version\":1,\"nodes\":[],\"edges\":[],\"conditionalEdges\":[]}");
    assert_response("/api/upgrades_info/v1/graph?channel=stable-4.16", html, 406, NULL);
    assert_response("/no/such/path", NULL, 404, "");
    r = stest_request("POST", gbase, NULL); /* the web page is GET/HEAD only */
    cr_assert_eq(r.status, 405);
    stest_resp_free(&r);
    snprintf(url, sizeof(url), "%s/api/upgrades_info/v1/graph?channel=stable-4.16", gbase);
    r = stest_request("POST", url, NULL);
    cr_assert_eq(r.status, 405);
    stest_resp_free(&r);
    r = iget(gbase, "/", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "cincy") != NULL);
    stest_resp_free(&r);

    r = iget(sbase, "/metrics", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\ncincy_graph_nodes ") != NULL);
    cr_assert(strstr(r.body.data, "\ncincy_graph_loads_total 1\n") != NULL);
    cr_assert(strstr(r.body.data, "\ncincy_http_requests_total{listener=\"graph\","
                                  "path=\"/v1/graph\",code=\"200\"} 4\n") != NULL,
              "%s", r.body.data);
    cr_assert(strstr(r.body.data, "\ncincy_http_requests_total{listener=\"graph\","
                                  "path=\"/v1/graph\",code=\"406\"} 1\n") != NULL);
    stest_resp_free(&r);

    /* a reload that fails keeps yesterday's graph byte for byte */
    before = iget(gbase, "/api/upgrades_info/v1/graph?channel=stable-4.16", NULL);
    cr_assert_eq(before.status, 200);
    TEST_SNPRINTF(empty, "%s/empty", itmp);
    cr_assert_eq(mkdir(empty, 0755), 0);
    cr_assert_eq(unlink(gd_link), 0);
    cr_assert_eq(symlink(empty, gd_link), 0);
    cr_assert_eq(kill(child, SIGHUP), 0);
    wait_for_metric("\ncincy_graph_load_errors_total 1\n", READY_TIMEOUT_S);
    after = iget(gbase, "/api/upgrades_info/v1/graph?channel=stable-4.16", NULL);
    cr_assert_eq(after.status, 200);
    cr_assert_eq(after.body.len, before.body.len);
    cr_assert_str_eq(after.body.data, before.body.data);
    stest_resp_free(&before);
    stest_resp_free(&after);

    /* SIGTERM: a clean exit, and under ASan a leak-free one */
    cr_assert_eq(kill(child, SIGTERM), 0);
    cr_assert_eq(waitpid(child, &status, 0), child);
    child = -1;
    cr_assert(WIFEXITED(status), "cincy died by signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0);
    passed = 1;
}
