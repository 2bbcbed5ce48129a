/* tests/server/test_registry_serve.c - the server over release images in a
 * real registry (Debian's docker-registry, tests/registry/registry_fixture.h):
 * sources.releases.registry with the fixture's graph-data; the served graph
 * carries the images' digest pull specs; a registry that is down at start
 * leaves the server up but not ready until it comes back; a new image pushed
 * is served after a refresh; and a graph-data image source. */
#include <time.h>
#include <unistd.h>

#include "registry/registry_fixture.h"
#include "server/server_internal.h"
#include "server_fixture.h"

#define REG_WAIT_MS 60000

static treg *reg;

static void reg_stop(void)
{
    stop();
    treg_stop(reg);
    reg = NULL;
    test_rm_rf(tmp);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Starts the registry under tmp/registry. */
static void start_registry(void)
{
    char dir[512];

    TEST_SNPRINTF(dir, "%s/registry", tmp);
    cr_assert_eq(treg_start(&reg, dir, NULL), 0, "registry did not start");
}

/* Pushes release version (previous: comma list) for arch as rel:<version>-<arch>. */
static void push(const char *version, const char *previous, const char *arch, char digest[72])
{
    char tag[64];

    TEST_SNPRINTF(tag, "%s-%s", version, arch);
    cr_assert_eq(treg_push_release(reg, "ocp/release", tag, arch, version, previous, 0, digest), 0,
                 "push %s", tag);
}

/* A server reading releases from the registry's ocp/release and graph-data
 * from tmp/graph-data (the fixture's), or from image when given. */
static void start_registry_server(const char *image)
{
    server_config cfg;
    cincy_error err;
    char path[600];

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.poll_seconds = 3600;
    cr_assert_not_null(cfg.release_registries.items = calloc(1, sizeof(char *)));
    TEST_SNPRINTF(path, "%s/ocp/release", treg_location(reg));
    cfg.release_registries.items[0] = strdup(path);
    cfg.release_registries.n = 1;
    cfg.registry_timeout = 5;
    if (image) {
        cfg.graph_data_kind = SERVER_GRAPH_DATA_IMAGE;
        cfg.graph_data_location = strdup(image);
    } else {
        TEST_SNPRINTF(path, "%s/graph-data", tmp);
        cfg.graph_data_dir = strdup(path);
    }
    TEST_SNPRINTF(path, "%s/state", tmp);
    cfg.state_dir = strdup(path);
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_refresh_start(srv, &err), 0, "%s", err.msg);
}

static long readiness(void)
{
    stest_resp r = req("GET", status_base, "/readiness", NULL);
    long code = r.status;

    stest_resp_free(&r);
    return code;
}

static json_t *get_status(void)
{
    stest_resp r = req("GET", status_base, "/status", NULL);
    json_error_t jerr;
    json_t *j;

    cr_assert_eq(r.status, 200);
    cr_assert_not_null(j = json_loads(r.body.data, 0, &jerr), "%s", jerr.text);
    stest_resp_free(&r);
    return j;
}

/* The /status entry of the registry source. */
static json_t *registry_entry(json_t *st)
{
    json_t *srcs = json_object_get(st, "sources"), *e;
    size_t i;

    json_array_foreach(srcs, i, e) if (!strcmp(json_string_value(json_object_get(e, "type")),
                                               "registry")) return e;
    cr_assert_fail("no registry entry in /status");
    return NULL;
}

/* Waits until the stable-4.2 amd64 graph lists want (space-separated). */
static void wait_versions_amd64(const char *want)
{
    char got[256] = "";

    for (int ms = 0; ms < REG_WAIT_MS; ms += 100) {
        stest_resp r =
            req("GET", graph_base, "/api/upgrades_info/v1/graph?channel=stable-4.2", NULL);
        json_t *g = r.status == 200 ? json_loads(r.body.data, 0, NULL) : NULL;

        stest_resp_free(&r);
        got[0] = '\0';
        if (g)
            node_versions(got, sizeof(got), g);
        json_decref(g);
        if (!strcmp(got, want))
            return;
        sleep_ms(100);
    }
    cr_assert_fail("stable-4.2 versions '%s', want '%s'", got, want);
}

/* The payload served for version in stable-4.2 (amd64). */
static char *payload_of(const char *version)
{
    json_t *g = get_graph("/api/upgrades_info/v1/graph?channel=stable-4.2", CT_VND), *n;
    char *out = NULL;
    size_t i;

    json_array_foreach(json_object_get(g, "nodes"), i, n)
    {
        if (!strcmp(json_string_value(json_object_get(n, "version")), version))
            out = strdup(json_string_value(json_object_get(n, "payload")));
    }
    json_decref(g);
    cr_assert_not_null(out, "%s not served", version);
    return out;
}

Test(server_registry, releases_come_from_the_registry, .fini = reg_stop, .timeout = 120)
{
    char d410[72], d411[72], d420[72], d421[72], arm[72], want[256], *payload;
    json_t *st, *e;

    cincy_log_set_level(CINCY_LOG_ERROR);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    start_registry();
    push("4.1.0", "", "amd64", d410);
    push("4.1.1", "4.1.0", "amd64", d411);
    push("4.2.0", "4.1.0,4.1.1", "amd64", d420);
    push("4.2.0", "4.1.0,4.1.1", "arm64", arm);
    cr_assert_eq(treg_push_signature(reg, "ocp/release", d420), 0);
    start_registry_server(NULL);
    wait_versions_amd64("4.1.0 4.1.1 4.2.0");

    /* The payload is the image's digest pull spec, without any scheme. */
    payload = payload_of("4.2.0");
    TEST_SNPRINTF(want, "%s/ocp/release@%s", treg_host(reg), d420);
    cr_assert_str_eq(payload, want);
    free(payload);
    st = get_status();
    e = registry_entry(st);
    cr_assert(json_is_null(json_object_get(e, "last_error")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(e, "last_scrape"), "releases")),
                 4);
    json_decref(st);

    /* A new image: served after the next refresh, from the cache for the rest. */
    push("4.2.1", "4.2.0,4.1.1", "amd64", d421);
    server_refresh_trigger(srv);
    wait_versions_amd64("4.1.0 4.1.1 4.2.0 4.2.1");
    st = get_status();
    e = json_object_get(registry_entry(st), "last_scrape");
    cr_assert_eq(json_integer_value(json_object_get(e, "releases")), 5);
    /* one new image: its config and its top layer; the other four from the cache */
    cr_assert_eq(json_integer_value(json_object_get(e, "cache_hits")), 4);
    cr_assert_leq(json_integer_value(json_object_get(e, "blobs_fetched")), 2);
    json_decref(st);
}

Test(server_registry, registry_down_at_start_then_up, .fini = reg_stop, .timeout = 120)
{
    char d410[72], d411[72];
    json_t *st;
    const char *e;

    cincy_log_set_level(CINCY_LOG_ERROR);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0, 4.2.1");
    start_registry();
    push("4.1.0", "", "amd64", d410);
    push("4.1.1", "4.1.0", "amd64", d411);
    cr_assert_eq(treg_pause(reg), 0);
    start_registry_server(NULL);
    /* Up, answering, not ready, saying why. */
    for (int ms = 0;; ms += 100) {
        st = get_status();
        e = json_string_value(json_object_get(registry_entry(st), "last_error"));
        if (e)
            break;
        json_decref(st);
        cr_assert_lt(ms, REG_WAIT_MS, "no registry error in /status");
        sleep_ms(100);
    }
    cr_assert(strstr(e, treg_host(reg)), "error does not name the registry: %s", e);
    cr_assert(json_is_false(json_object_get(st, "ready")));
    json_decref(st);
    cr_assert_eq(readiness(), 503);
    cr_assert_eq(treg_resume(reg), 0);
    server_refresh_trigger(srv);
    wait_versions_amd64("4.1.0 4.1.1");
    cr_assert_eq(readiness(), 200);
}

Test(server_registry, graph_data_from_an_image, .fini = reg_stop, .timeout = 120)
{
    char d410[72], d411[72], d420[72], gd_digest[72], image[600], dir[512];
    json_t *st, *src;

    cincy_log_set_level(CINCY_LOG_ERROR);
    test_tmpdir(tmp, sizeof(tmp));
    write_graph_data("4.1.0, 4.1.1, 4.2.0");
    start_registry();
    push("4.1.0", "", "amd64", d410);
    push("4.1.1", "4.1.0", "amd64", d411);
    push("4.2.0", "4.1.0,4.1.1", "amd64", d420);
    TEST_SNPRINTF(dir, "%s/graph-data", tmp);
    cr_assert_eq(treg_push_graph_data(reg, "openshift/graph-data", "latest", dir, gd_digest), 0);
    TEST_SNPRINTF(image, "%s/openshift/graph-data:latest", treg_location(reg));
    start_registry_server(image);
    wait_versions_amd64("4.1.0 4.1.1 4.2.0");
    /* /status names the revision just after the graph is published: poll. */
    for (int ms = 0;; ms += 50) {
        const char *rev;
        int done;

        st = get_status();
        src = json_array_get(json_object_get(st, "sources"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(src, "type")), "image");
        rev = json_string_value(json_object_get(src, "serving_revision"));
        done = rev && !strcmp(rev, gd_digest);
        json_decref(st);
        if (done)
            break;
        cr_assert_lt(ms, REG_WAIT_MS, "serving_revision is not %s", gd_digest);
        sleep_ms(50);
    }

    /* A new graph-data image under the same tag: the channel change is served. */
    write_graph_data("4.1.1, 4.2.0");
    cr_assert_eq(treg_push_graph_data(reg, "openshift/graph-data", "latest", dir, gd_digest), 0);
    server_refresh_trigger(srv);
    wait_versions_amd64("4.1.1 4.2.0");
}

Test(server_registry, config_keys)
{
    static const char text[] = "registry:\n"
                               "  auth_file: secrets/pull-secret.json\n"
                               "  ca_file: /etc/pki/mirror-ca.pem\n"
                               "  insecure: false\n"
                               "  immutable_tags: true\n"
                               "  concurrency: 16\n"
                               "  timeout_seconds: 30\n"
                               "sources:\n"
                               "  releases:\n"
                               "    registry:\n"
                               "    - mirror.example.com:5000/ocp/release\n"
                               "    - quay.io/openshift-release-dev/ocp-release\n"
                               "  graph_data:\n"
                               "    image: mirror.example.com:5000/openshift/graph-data:latest\n";
    server_config cfg, copy;
    cincy_error err;

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cr_assert_eq(cfg.registry_concurrency, 8);
    cr_assert_eq(cfg.registry_timeout, 60);
    cr_assert_eq(server_config_parse(&cfg, text, strlen(text), "t.yaml", "/base", &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(cfg.registry_auth_file, "/base/secrets/pull-secret.json");
    cr_assert_str_eq(cfg.registry_ca_file, "/etc/pki/mirror-ca.pem");
    cr_assert_eq(cfg.registry_insecure, 0);
    cr_assert_eq(cfg.registry_immutable_tags, 1);
    cr_assert_eq(cfg.registry_concurrency, 16);
    cr_assert_eq(cfg.registry_timeout, 30);
    cr_assert_eq(cfg.release_registries.n, 2);
    cr_assert_str_eq(cfg.release_registries.items[1], "quay.io/openshift-release-dev/ocp-release");
    cr_assert_eq(cfg.graph_data_kind, SERVER_GRAPH_DATA_IMAGE);
    cr_assert_str_eq(cfg.graph_data_location,
                     "mirror.example.com:5000/openshift/graph-data:latest");
    cr_assert_eq(server_config_copy(&copy, &cfg), 0);
    cr_assert_str_eq(copy.release_registries.items[0], "mirror.example.com:5000/ocp/release");
    server_config_clear(&copy);
    server_config_clear(&cfg);

    assert_config_error("sources:\n  releases:\n    registry: [a.example.com/r, '']\n",
                        "t.yaml:3: field 'sources.releases.registry[1]': expected a non-empty "
                        "value");
    assert_config_error("sources:\n  graph_data:\n    image: graph-data:latest\n",
                        "t.yaml:3: field 'sources.graph_data.image': expected an image reference "
                        "host[:port]/repository:tag or host[:port]/repository@sha256:<64 hex>, "
                        "got 'graph-data:latest'");
    assert_config_error("registry:\n  concurrency: 0\n",
                        "t.yaml:2: field 'registry.concurrency': expected an integer from 1 to "
                        "64, got '0'");
    assert_config_error("sources:\n  graph_data:\n    directory: x\n    image: a.io/b:c\n",
                        "t.yaml:4: field 'sources.graph_data.image': give only one of directory, "
                        "git, tarball or image ('directory' is given too)");
}
