/* tests/ingest/test_registry.c - the registry scrape against a real
 * docker-registry (tests/registry/registry_fixture.h): release images of
 * several arches and formats, lists, signatures, bad images, pagination, the
 * cache, faults (down, 5xx, timeouts, damaged blobs), and auth/TLS modes. */
#include <stdatomic.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <microhttpd.h>

#include "ingest/ingest.h"
#include "ingest/registry_internal.h" /* reg_tags_page_size */
#include "ingest/ingest_test_util.h"
#include "registry/registry_fixture.h"

#define REPO "ocp/release"

static char workdir[256];
static treg *reg;

static void setup_plain(void)
{
    test_tmpdir(workdir, sizeof(workdir));
    cr_assert_eq(treg_start(&reg, workdir, NULL), 0, "registry did not start");
}

static void teardown(void)
{
    treg_stop(reg);
    reg = NULL;
    test_rm_rf(workdir);
}

/* cfg for location/REPO (buf holds the repository string). */
static void config_for(ingest_registry_config *cfg, char *buf, size_t size, const char *location)
{
    memset(cfg, 0, sizeof(*cfg));
    cr_assert(snprintf(buf, size, "%s/%s", location, REPO) < (int)size);
    cfg->repository = buf;
    cfg->concurrency = 4;
    cfg->timeout_seconds = 10;
}

static ingest_releases *scrape_ok(const ingest_registry_config *cfg, ingest_scrape_stats *st)
{
    ingest_releases *rs = NULL;
    cincy_error err = {0};
    int rc = ingest_registry_scrape(&rs, cfg, st, &err);
    cr_assert_eq(rc, 0, "scrape failed: %s", test_fmt(&err));
    cr_assert_not_null(rs);
    return rs;
}

static void push_release(const char *tag, const char *arch, const char *version,
                         const char *previous, int oci, char digest[72])
{
    cr_assert_eq(treg_push_release(reg, REPO, tag, arch, version, previous, oci, digest), 0,
                 "push %s failed", tag);
}

/* The record for version/arch, or a failed test. */
static const ingest_release *find(const ingest_releases *rs, const char *version, const char *arch)
{
    for (size_t i = 0; i < rs->count; i++)
        if (strcmp(rs->items[i].version, version) == 0 && strcmp(rs->items[i].arch, arch) == 0)
            return &rs->items[i];
    cr_assert_fail("no release %s %s among %zu", version, arch, rs->count);
    return NULL;
}

static void assert_record(const ingest_release *r, const char *digest, const char *tag)
{
    char want[512];
    snprintf(want, sizeof(want), "%s/%s@%s", treg_host(reg), REPO, digest);
    cr_assert_str_eq(r->payload, want);
    cr_assert_str_eq(r->manifestref, digest);
    snprintf(want, sizeof(want), "registry %s/%s:%s", treg_host(reg), REPO, tag);
    cr_assert_str_eq(r->source, want);
}

static char *read_stderr(void)
{
    FILE *f = cr_get_redirected_stderr();
    size_t cap = 1 << 16, n;
    char *buf = calloc(1, cap);
    cr_assert_not_null(buf);
    fflush(stderr);
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    return buf;
}

TestSuite(registry_scrape, .init = setup_plain, .fini = teardown, .timeout = 60);

Test(registry_scrape, single_arch_releases_of_several_arches)
{
    char d1[72], d2[72], d3[72], d4[72], d5[72], repo[512];
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    push_release("4.16.1-x86_64", "amd64", "4.16.1", "", 0, d1);
    push_release("4.16.1-aarch64", "arm64", "4.16.1", "", 0, d2);
    push_release("4.16.1-ppc64le", "ppc64le", "4.16.1", "", 0, d3);
    push_release("4.16.1-s390x", "s390x", "4.16.1", "", 0, d4);
    push_release("4.16.2-x86_64", "amd64", "4.16.2", "4.16.1", 0, d5);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, &st);

    cr_assert_eq(rs->count, 5);
    /* sorted by version, then arch */
    cr_assert_str_eq(rs->items[0].arch, "amd64");
    cr_assert_str_eq(rs->items[1].arch, "arm64");
    cr_assert_str_eq(rs->items[2].arch, "ppc64le");
    cr_assert_str_eq(rs->items[3].arch, "s390x");
    cr_assert_str_eq(rs->items[4].version, "4.16.2");
    assert_record(find(rs, "4.16.1", "amd64"), d1, "4.16.1-x86_64");
    assert_record(find(rs, "4.16.1", "arm64"), d2, "4.16.1-aarch64");
    assert_record(find(rs, "4.16.1", "ppc64le"), d3, "4.16.1-ppc64le");
    assert_record(find(rs, "4.16.1", "s390x"), d4, "4.16.1-s390x");
    assert_record(&rs->items[4], d5, "4.16.2-x86_64");
    cr_assert_eq(rs->items[4].nprevious, 1);
    cr_assert_str_eq(rs->items[4].previous[0], "4.16.1");
    cr_assert_eq(st.tags, 5);
    cr_assert_eq(st.releases, 5);
    cr_assert_eq(st.skipped + st.rejected, 0);
    cr_assert_eq(st.manifests_fetched, 5);
    cr_assert_geq(st.blobs_fetched, 10); /* a config and at least one layer each */
    ingest_releases_free(rs);
}

Test(registry_scrape, manifest_list_is_multi_and_shards_are_skipped)
{
    char amd[72], arm[72], idx[72], one[72], solo[72], repo[512];
    const char *digests[2], *arches[2] = {"amd64", "arm64"};
    char *meta = treg_release_metadata("4.17.0", "", "multi");
    treg_file f = {"release-manifests/release-metadata", meta, 0};
    treg_image img = {.arch = "amd64", .files = &f, .nfiles = 1, .filler_layers = 1};
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    /* the per-arch shards are tagged too, as in quay's ocp-release */
    cr_assert_eq(treg_push_image(reg, REPO, "4.17.0-multi-x86_64", &img, amd), 0);
    img.arch = "arm64";
    cr_assert_eq(treg_push_image(reg, REPO, "4.17.0-multi-aarch64", &img, arm), 0);
    digests[0] = amd;
    digests[1] = arm;
    cr_assert_eq(treg_push_index(reg, REPO, "4.17.0-multi", digests, arches, 2, 0, idx), 0);
    /* a list of one entry takes that entry's arch */
    push_release(NULL, "s390x", "4.17.1", "", 0, solo);
    digests[0] = solo;
    arches[0] = "s390x";
    cr_assert_eq(treg_push_index(reg, REPO, "4.17.1-s390x", digests, arches, 1, 0, one), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, &st);

    cr_assert_eq(rs->count, 2);
    cr_assert_str_eq(rs->items[0].version, "4.17.0");
    cr_assert_str_eq(rs->items[0].arch, "multi");
    assert_record(&rs->items[0], idx, "4.17.0-multi");
    cr_assert_str_eq(rs->items[1].arch, "s390x");
    assert_record(&rs->items[1], one, "4.17.1-s390x");
    cr_assert_eq(st.skipped, 2, "the two shards: %zu", st.skipped);
    free(meta);
    ingest_releases_free(rs);
}

Test(registry_scrape, oci_manifests_and_index)
{
    char a[72], b[72], idx[72], repo[512];
    const char *digests[2], *arches[2] = {"amd64", "arm64"};
    ingest_registry_config cfg;
    ingest_releases *rs;

    push_release("4.18.0-x86_64", "amd64", "4.18.0", "", 1, a);
    push_release(NULL, "arm64", "4.18.0", "", 1, b);
    digests[0] = a;
    digests[1] = b;
    cr_assert_eq(treg_push_index(reg, REPO, "4.18.0-multi", digests, arches, 2, 1, idx), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, NULL);

    cr_assert_eq(rs->count, 2);
    assert_record(find(rs, "4.18.0", "amd64"), a, "4.18.0-x86_64");
    assert_record(find(rs, "4.18.0", "multi"), idx, "4.18.0-multi");
    ingest_releases_free(rs);
}

Test(registry_scrape, metadata_in_a_lower_layer_and_dot_slash_paths)
{
    char d[72], repo[512];
    char *meta = treg_release_metadata("4.19.0", "", NULL);
    treg_file f = {"./release-manifests/release-metadata", meta, 0};
    treg_image img = {
        .arch = "arm64", .files = &f, .nfiles = 1, .filler_layers = 2, .top_layer_first = 1};
    ingest_registry_config cfg;
    ingest_releases *rs;

    cr_assert_eq(treg_push_image(reg, REPO, "4.19.0", &img, d), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 1);
    assert_record(find(rs, "4.19.0", "arm64"), d, "4.19.0");
    free(meta);
    ingest_releases_free(rs);
}

/* A layer much larger than the stream's buffer: the transfer is paused and
 * resumed many times, the document after the big file is still found and
 * the whole layer is hashed. */
Test(registry_scrape, large_layer_is_streamed)
{
    size_t big = 6u << 20;
    char d[72], repo[512], *noise = malloc(big);
    char *meta = treg_release_metadata("4.20.0", "", NULL);
    unsigned x = 12345;
    treg_file files[2] = {{"usr/share/noise.bin", noise, big},
                          {"release-manifests/release-metadata", meta, 0}};
    treg_image img = {.arch = "amd64", .files = files, .nfiles = 2};
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    cr_assert_not_null(noise);
    for (size_t i = 0; i < big; i++) { /* incompressible, so the gzip layer stays big */
        x = x * 1103515245u + 12345u;
        noise[i] = (char)(x >> 23);
    }
    cr_assert_eq(treg_push_image(reg, REPO, "4.20.0", &img, d), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, &st);
    cr_assert_eq(rs->count, 1);
    assert_record(&rs->items[0], d, "4.20.0");
    cr_assert_gt(st.bytes_fetched, (unsigned long long)big, "the whole layer was read");
    free(noise);
    free(meta);
    ingest_releases_free(rs);
}

Test(registry_scrape, signatures_and_images_without_metadata_are_skipped)
{
    char d[72], other[72], repo[512];
    treg_file f = {"etc/motd", "hello\n", 0};
    treg_image img = {.arch = "amd64", .files = &f, .nfiles = 1};
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    cr_assert_eq(treg_push_signature(reg, REPO, d), 0);
    cr_assert_eq(treg_push_image(reg, REPO, "tools", &img, other), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, &st);

    cr_assert_eq(rs->count, 1);
    assert_record(&rs->items[0], d, "4.16.0");
    cr_assert_eq(st.tags, 3);
    cr_assert_eq(st.skipped, 2);
    cr_assert_eq(st.rejected, 0);
    cr_assert_eq(st.manifests_fetched, 2, "a signature tag is not even fetched");
    ingest_releases_free(rs);
}

Test(registry_scrape, invalid_metadata_rejects_only_that_image)
{
    char d[72], bad[72], repo[512], *log;
    treg_file f = {"release-manifests/release-metadata",
                   "{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.x\"}", 0};
    treg_image img = {.arch = "amd64", .files = &f, .nfiles = 1};
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    cr_redirect_stderr(); /* the registry, started before, keeps the real stderr */
    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    cr_assert_eq(treg_push_image(reg, REPO, "broken", &img, bad), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, &st);

    cr_assert_eq(rs->count, 1);
    cr_assert_str_eq(rs->items[0].version, "4.16.0");
    cr_assert_eq(st.rejected, 1);
    log = read_stderr();
    cr_assert(strstr(log, "tag=broken"), "%s", log);
    cr_assert(strstr(log, bad), "the log names the digest: %s", log);
    cr_assert(strstr(log, "'4.x' is not a valid version"), "%s", log);
    free(log);
    ingest_releases_free(rs);
}

/* Debian's docker-registry (distribution 2.8) ignores n and last and sends
 * every tag at once, so pagination is checked against a small server that
 * pages like quay and distribution 3 do: n per page, Link to the next. Its
 * manifests are all missing, which the scrape logs and skips. */
static const char *const paged_tags[] = {"4.16.0", "4.16.1", "4.16.2", "4.16.3",
                                         "4.16.4", "4.16.5", "4.16.6"};
static atomic_int paged_requests;

static enum MHD_Result paged_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **state)
{
    const char *n_arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
    const char *last = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "last");
    size_t n = n_arg ? (size_t)atoi(n_arg) : 100, first = 0, i, total = 7;
    char body[1024], link[256];
    size_t len = 0;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int more;

    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)state;
    if (strcmp(url, "/v2/" REPO "/tags/list") != 0) {
        resp = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    atomic_fetch_add(&paged_requests, 1);
    while (last && first < total && strcmp(paged_tags[first], last) <= 0)
        first++;
    len += (size_t)snprintf(body, sizeof(body), "{\"name\":\"" REPO "\",\"tags\":[");
    for (i = first; i < total && i < first + n; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"%s\"", i > first ? "," : "",
                                paged_tags[i]);
    more = i < total;
    len += (size_t)snprintf(body + len, sizeof(body) - len, "]}");
    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (more) {
        snprintf(link, sizeof(link), "</v2/" REPO "/tags/list?last=%s&n=%zu>; rel=\"next\"",
                 paged_tags[i - 1], n);
        MHD_add_response_header(resp, "Link", link);
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

Test(registry_scrape, tag_list_is_paginated)
{
    char repo[512], location[64];
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                            paged_handler, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info;

    cr_assert_not_null(d);
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(location, sizeof(location), "http://127.0.0.1:%u", (unsigned)info->port);
    reg_tags_page_size = 3;
    config_for(&cfg, repo, sizeof(repo), location);
    rs = scrape_ok(&cfg, &st);
    cr_assert_eq(st.tags, 7, "every page was read: %zu tags", st.tags);
    cr_assert_eq(atomic_load(&paged_requests), 3, "7 tags in pages of 3: %d requests",
                 atomic_load(&paged_requests));
    cr_assert_eq(st.skipped, 7, "no manifests behind the tags");
    cr_assert_eq(rs->count, 0);
    ingest_releases_free(rs);
    MHD_stop_daemon(d);
}

Test(registry_scrape, warm_rescrape_fetches_no_blobs)
{
    char d[72], repo[512], cache[300];
    ingest_registry_config cfg;
    ingest_scrape_stats cold, warm;
    ingest_releases *a, *b;

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    push_release("4.16.1", "arm64", "4.16.1", "4.16.0", 1, d);
    push_release("4.16.2", "amd64", "4.16.2", "", 0, d);
    TEST_SNPRINTF(cache, "%s/cache", workdir);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cfg.cache_dir = cache;
    a = scrape_ok(&cfg, &cold);
    b = scrape_ok(&cfg, &warm);

    cr_assert_gt(cold.blobs_fetched, 0);
    cr_assert_eq(cold.cache_hits, 0);
    cr_assert_eq(warm.blobs_fetched, 0);
    cr_assert_eq(warm.cache_hits, 3);
    cr_assert_eq(warm.manifests_fetched, 3);
    cr_assert_eq(b->count, a->count);
    for (size_t i = 0; i < a->count; i++) {
        cr_assert_str_eq(b->items[i].payload, a->items[i].payload);
        cr_assert_str_eq(b->items[i].arch, a->items[i].arch);
        cr_assert_str_eq(b->items[i].version, a->items[i].version);
        cr_assert_eq(b->items[i].nprevious, a->items[i].nprevious);
    }
    TEST_SNPRINTF(cache, "%s/cache/manifests", workdir);
    cr_assert_eq(test_count_files(cache), 3, "one entry per manifest digest");
    ingest_releases_free(a);
    ingest_releases_free(b);
}

/* trust_tags: a tag seen before is not asked again (no request at all), a new
 * tag is; and the price: a tag moved to another image goes unnoticed. */
Test(registry_scrape, trusting_tags_asks_only_for_new_ones)
{
    char d0[72], d1[72], moved[72], d2[72], repo[512], cache[300];
    ingest_registry_config cfg;
    ingest_scrape_stats cold, warm, third;
    ingest_releases *a, *b, *c;

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d0);
    push_release("4.16.1", "amd64", "4.16.1", "4.16.0", 0, d1);
    TEST_SNPRINTF(cache, "%s/cache", workdir);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cfg.cache_dir = cache;
    cfg.trust_tags = 1;
    a = scrape_ok(&cfg, &cold);
    cr_assert_eq(cold.manifests_fetched, 2);
    cr_assert_eq(a->count, 2);

    /* 4.16.1's tag moved to an image that says 4.16.1 has no previous. */
    push_release("4.16.1", "amd64", "4.16.1", "", 1, moved);
    cr_assert_str_neq(moved, d1);
    b = scrape_ok(&cfg, &warm);
    cr_assert_eq(warm.manifests_fetched, 0);
    cr_assert_eq(warm.blobs_fetched, 0);
    cr_assert_eq(warm.cache_hits, 2);
    cr_assert_eq(b->count, 2);
    cr_assert(strstr(b->items[1].payload, d1), "%s", b->items[1].payload);

    /* A new tag is asked for, and only it. */
    push_release("4.16.2", "amd64", "4.16.2", "4.16.1", 0, d2);
    c = scrape_ok(&cfg, &third);
    cr_assert_eq(third.manifests_fetched, 1);
    cr_assert_eq(third.cache_hits, 2);
    cr_assert_eq(c->count, 3);
    cr_assert_str_eq(c->items[2].version, "4.16.2");

    /* Without trust, the moved tag is seen. */
    cfg.trust_tags = 0;
    ingest_releases_free(c);
    c = scrape_ok(&cfg, &third);
    cr_assert_eq(third.manifests_fetched, 3);
    cr_assert(strstr(c->items[1].payload, moved), "%s", c->items[1].payload);
    ingest_releases_free(a);
    ingest_releases_free(b);
    ingest_releases_free(c);
}

Test(registry_scrape, registry_down_fails_naming_the_registry)
{
    char repo[512];
    ingest_registry_config cfg;
    ingest_releases *rs = NULL;
    cincy_error err = {0};

    cr_assert_eq(treg_pause(reg), 0);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cfg.retries = 1;
    cr_assert_lt(ingest_registry_scrape(&rs, &cfg, NULL, &err), 0);
    cr_assert_null(rs);
    cr_assert(strstr(err.msg, treg_host(reg)), "%s", err.msg);
    cr_assert(strstr(err.msg, "tags/list"), "%s", err.msg);
}

Test(registry_scrape, server_error_that_recovers_is_retried)
{
    char d[72], repo[512];
    treg_fault rules[] = {
        {.match = "GET /v2/" REPO "/manifests/",
         .kind = TREG_FAULT_STATUS,
         .status = 503,
         .times = 1},
        {.match = "GET /v2/" REPO "/blobs/", .kind = TREG_FAULT_STATUS, .status = 500, .times = 1},
    };
    treg_proxy *px = NULL;
    ingest_registry_config cfg;
    ingest_releases *rs;

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    cr_assert_eq(treg_proxy_start(&px, reg, rules, 2), 0);
    config_for(&cfg, repo, sizeof(repo), treg_proxy_location(px));
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 1);
    cr_assert_str_eq(rs->items[0].manifestref, d);
    cr_assert_eq(treg_proxy_count(px, "/manifests/"), 2, "one 503, then the retry");
    treg_proxy_stop(px);
    ingest_releases_free(rs);
}

Test(registry_scrape, server_error_that_persists_fails_the_scrape)
{
    char d[72], repo[512];
    treg_fault rule = {.match = "/blobs/", .kind = TREG_FAULT_STATUS, .status = 503};
    treg_proxy *px = NULL;
    ingest_registry_config cfg;
    ingest_releases *rs = NULL;
    cincy_error err = {0};

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    cr_assert_eq(treg_proxy_start(&px, reg, &rule, 1), 0);
    config_for(&cfg, repo, sizeof(repo), treg_proxy_location(px));
    cfg.retries = 2;
    cr_assert_lt(ingest_registry_scrape(&rs, &cfg, NULL, &err), 0);
    cr_assert_null(rs);
    cr_assert(strstr(err.msg, "503"), "%s", err.msg);
    cr_assert(strstr(err.msg, "after 3 attempts"), "%s", err.msg);
    cr_assert_eq(treg_proxy_count(px, "/blobs/"), 3);
    treg_proxy_stop(px);
}

Test(registry_scrape, a_timeout_is_retried)
{
    char d[72], repo[512];
    treg_fault rule = {
        .match = "/manifests/", .kind = TREG_FAULT_DELAY, .delay_ms = 2500, .times = 1};
    treg_proxy *px = NULL;
    ingest_registry_config cfg;
    ingest_releases *rs;

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    cr_assert_eq(treg_proxy_start(&px, reg, &rule, 1), 0);
    config_for(&cfg, repo, sizeof(repo), treg_proxy_location(px));
    cfg.timeout_seconds = 1;
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 1);
    cr_assert_str_eq(rs->items[0].manifestref, d);
    treg_proxy_stop(px);
    ingest_releases_free(rs);
}

Test(registry_scrape, a_transfer_cut_short_is_retried)
{
    char d[72], repo[512], layers[8][72];
    size_t n = 0;
    treg_fault rules[2] = {
        {.match = "GET /v2/" REPO "/blobs/", .kind = TREG_FAULT_TRUNCATE, .times = 1},
        {.kind = TREG_FAULT_TRUNCATE, .times = 1},
    };
    treg_proxy *px = NULL;
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    cr_assert_eq(treg_manifest_layers(reg, REPO, d, layers, 8, &n), 0);
    rules[1].match = layers[n - 1]; /* the first blob (config), then the top layer */
    cr_assert_eq(treg_proxy_start(&px, reg, rules, 2), 0);
    config_for(&cfg, repo, sizeof(repo), treg_proxy_location(px));
    rs = scrape_ok(&cfg, &st);
    cr_assert_eq(rs->count, 1);
    cr_assert_str_eq(rs->items[0].manifestref, d);
    cr_assert_eq(st.rejected, 0);
    cr_assert_eq(treg_proxy_count(px, "/blobs/"), st.blobs_fetched + 2,
                 "two cut transfers, each tried again: %zu requests for %zu blobs",
                 treg_proxy_count(px, "/blobs/"), st.blobs_fetched);
    treg_proxy_stop(px);
    ingest_releases_free(rs);
}

/* Damages the top layer of the image at digest. */
static void damage_top_layer(const char *digest, int truncate)
{
    char layers[8][72];
    size_t n = 0;
    cr_assert_eq(treg_manifest_layers(reg, REPO, digest, layers, 8, &n), 0);
    cr_assert_gt(n, 0);
    cr_assert_eq(treg_damage_blob(reg, layers[n - 1], truncate), 0);
}

static void assert_damaged_rejected(int truncate)
{
    char good[72], bad[72], repo[512], *log;
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs;

    cr_redirect_stderr(); /* the registry, started before, keeps the real stderr */
    push_release("4.16.0", "amd64", "4.16.0", "", 0, good);
    push_release("4.16.1", "amd64", "4.16.1", "", 0, bad);
    damage_top_layer(bad, truncate);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    rs = scrape_ok(&cfg, &st);
    cr_assert_eq(rs->count, 1);
    cr_assert_str_eq(rs->items[0].manifestref, good);
    cr_assert_eq(st.rejected, 1);
    log = read_stderr();
    cr_assert(strstr(log, "rejecting release image"), "%s", log);
    cr_assert(strstr(log, "tag=4.16.1"), "%s", log);
    cr_assert(strstr(log, "digest mismatch"), "%s", log);
    free(log);
    ingest_releases_free(rs);
}

Test(registry_scrape, truncated_blob_rejects_that_release)
{
    assert_damaged_rejected(1);
}

Test(registry_scrape, damaged_blob_rejects_that_release)
{
    assert_damaged_rejected(0);
}

Test(registry_scrape, deterministic_order_with_many_workers)
{
    char d[72], tag[32], repo[512];
    const char *arches[] = {"s390x", "amd64", "arm64"};
    const char *sorted[] = {"amd64", "arm64", "s390x"};
    ingest_registry_config cfg;
    ingest_releases *rs;

    for (int i = 0; i < 9; i++) {
        snprintf(tag, sizeof(tag), "4.%d.0-%s", 10 - i / 3, arches[i % 3]);
        char version[16];
        snprintf(version, sizeof(version), "4.%d.0", 10 - i / 3);
        push_release(tag, arches[i % 3], version, "", i % 2, d);
    }
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cfg.concurrency = 8;
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 9);
    for (size_t i = 0; i < 9; i++) {
        char want[16];
        snprintf(want, sizeof(want), "4.%zu.0", 8 + i / 3);
        cr_assert_str_eq(rs->items[i].version, want);
        cr_assert_str_eq(rs->items[i].arch, sorted[i % 3]);
    }
    ingest_releases_free(rs);
}

Test(registry_scrape, releases_merge_moves_records)
{
    ingest_releases *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    cincy_error err;

    cr_assert(a && b);
    b->items = calloc(2, sizeof(*b->items));
    b->count = 2;
    b->items[0].version = strdup("4.1.0");
    b->items[1].version = strdup("4.2.0");
    cr_assert_eq(ingest_releases_merge(a, b, &err), 0);
    cr_assert_eq(a->count, 2);
    cr_assert_eq(b->count, 0);
    cr_assert_null(b->items);
    cr_assert_str_eq(a->items[1].version, "4.2.0");
    ingest_releases_free(a);
    ingest_releases_free(b);
}

/* ------------------------------------------------------------------------
 * Auth and TLS
 */

static void start_with(const treg_options *opt)
{
    test_tmpdir(workdir, sizeof(workdir));
    cr_assert_eq(treg_start(&reg, workdir, opt), 0, "registry did not start");
}

TestSuite(registry_scrape_auth, .fini = teardown, .timeout = 60);

Test(registry_scrape_auth, basic_auth_with_and_without_credentials)
{
    treg_options opt = {.basic_auth = 1};
    char d[72], repo[512];
    ingest_registry_config cfg;
    ingest_releases *rs = NULL;
    cincy_error err = {0};

    start_with(&opt);
    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cr_assert_lt(ingest_registry_scrape(&rs, &cfg, NULL, &err), 0);
    cr_assert(strstr(err.msg, "401"), "%s", err.msg);
    cfg.auth_file = treg_auth_file(reg);
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 1);
    assert_record(&rs->items[0], d, "4.16.0");
    ingest_releases_free(rs);
}

Test(registry_scrape_auth, tls_needs_the_ca)
{
    treg_options opt = {.tls = 1};
    char d[72], repo[512];
    ingest_registry_config cfg;
    ingest_releases *rs = NULL;
    cincy_error err = {0};

    start_with(&opt);
    push_release("4.16.0", "amd64", "4.16.0", "", 0, d);
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cr_assert_lt(ingest_registry_scrape(&rs, &cfg, NULL, &err), 0, "an unknown CA must fail");
    cr_assert(strstr(err.msg, "certificate") || strstr(err.msg, "SSL"), "%s", err.msg);
    cfg.ca_file = treg_ca_file(reg);
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 1);
    assert_record(&rs->items[0], d, "4.16.0");
    ingest_releases_free(rs);
    cfg.ca_file = NULL;
    cfg.insecure = 1;
    rs = scrape_ok(&cfg, NULL);
    cr_assert_eq(rs->count, 1);
    ingest_releases_free(rs);
}

Test(registry_scrape_auth, bearer_tokens)
{
    treg_options opt = {.token_auth = 1};
    char d[72], tag[16], repo[512];
    ingest_registry_config cfg;
    ingest_scrape_stats st;
    ingest_releases *rs = NULL;
    cincy_error err = {0};

    start_with(&opt);
    cr_redirect_stderr();
    cincy_log_set_level(CINCY_LOG_DEBUG);
    for (int i = 0; i < 4; i++) {
        snprintf(tag, sizeof(tag), "4.16.%d", i);
        push_release(tag, "amd64", tag, "", 0, d);
    }
    config_for(&cfg, repo, sizeof(repo), treg_location(reg));
    cr_assert_lt(ingest_registry_scrape(&rs, &cfg, NULL, &err), 0, "no credentials: refused");
    cr_assert(strstr(err.msg, "token") || strstr(err.msg, "401"), "%s", err.msg);
    cfg.auth_file = treg_auth_file(reg);
    rs = scrape_ok(&cfg, &st);
    cr_assert_eq(rs->count, 4);
    cr_assert_str_eq(rs->items[3].manifestref, d);
    cr_assert_eq(st.releases, 4);
    /* 4 manifests and 8 blobs, all with the one token of the first 401
     * (the refused attempt without credentials asked the realm in vain) */
    {
        char *log = read_stderr(), *p = log;
        int tokens = 0;
        while ((p = strstr(p, "registry token obtained")) != NULL) {
            tokens++;
            p++;
        }
        cr_assert_eq(tokens, 1, "%s", log);
        free(log);
    }
    ingest_releases_free(rs);
}
