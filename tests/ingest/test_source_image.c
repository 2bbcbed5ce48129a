/* tests/ingest/test_source_image.c - the graph-data image source against a
 * real docker-registry: first fetch, unchanged digest, a new push to the same
 * tag, a pinned digest, an image without graph-data, a damaged layer, and
 * a two-layer image with overrides and OCI whiteouts (pushed here with the
 * registry API, as the fixture builds single-layer graph-data images). */
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "ingest/ingest.h"
#include "ingest/ingest_test_util.h"
#include "registry/registry_fixture.h"

static char workdir[256];
static treg *reg;

static void setup(void)
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

TestSuite(registry_source, .init = setup, .fini = teardown, .timeout = 60);

/* A graph-data tree under workdir/name with version v, pushed as gd:tag. */
static void push_tree(const char *name, const char *version, const char *tag, char digest[72])
{
    char dir[512];
    TEST_SNPRINTF(dir, "%s/%s", workdir, name);
    test_graph_data_skeleton(dir, version);
    cr_assert_eq(treg_push_graph_data(reg, "ocp/graph-data", tag, dir, digest), 0);
}

static ingest_source *new_source(const char *ref)
{
    char location[512], cache[300];
    ingest_source_config cfg = {0};
    ingest_source *src = NULL;
    cincy_error err;

    TEST_SNPRINTF(location, "%s/ocp/graph-data%s", treg_location(reg), ref);
    TEST_SNPRINTF(cache, "%s/cache", workdir);
    cfg.kind = INGEST_SOURCE_IMAGE;
    cfg.location = location;
    cfg.cache_dir = cache;
    cr_assert_eq(ingest_source_new(&src, &cfg, &err), 0, "%s", test_fmt(&err));
    return src;
}

static char *slurp_in(const char *dir, const char *rel)
{
    char path[1024];
    TEST_SNPRINTF(path, "%s/%s", dir, rel);
    return test_slurp(path);
}

Test(registry_source, fetch_unchanged_then_new_digest)
{
    char d1[72], d2[72];
    char *rev = NULL, *dir = NULL, *rev2 = NULL, *dir2 = NULL, *text;
    int changed = -1;
    cincy_error err;
    ingest_source *src;

    push_tree("v1", "1.0.0\n", "latest", d1);
    src = new_source(":latest");
    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0, "%s",
                 test_fmt(&err));
    cr_assert_eq(changed, 1);
    cr_assert_str_eq(rev, d1, "the revision is the manifest digest");
    text = slurp_in(dir, "version");
    cr_assert_str_eq(text, "1.0.0\n");
    free(text);
    text = slurp_in(dir, "channels/stable-4.16.yaml");
    cr_assert(strstr(text, "stable-4.16"));
    free(text);
    cr_assert_eq(test_count_files(dir), 4);

    changed = -1;
    cr_assert_eq(ingest_source_fetch(src, rev, &rev2, &dir2, &changed, &err), 0, "%s",
                 test_fmt(&err));
    cr_assert_eq(changed, 0);
    cr_assert_null(rev2);

    push_tree("v2", "1.1.0\n", "latest", d2);
    cr_assert_str_neq(d1, d2);
    cr_assert_eq(ingest_source_fetch(src, rev, &rev2, &dir2, &changed, &err), 0, "%s",
                 test_fmt(&err));
    cr_assert_eq(changed, 1);
    cr_assert_str_eq(rev2, d2);
    text = slurp_in(dir2, "version");
    cr_assert_str_eq(text, "1.1.0\n");
    free(text);
    {
        struct stat st;
        cr_assert_neq(stat(dir, &st), 0, "the previous tree is removed");
    }
    free(rev);
    free(dir);
    free(rev2);
    free(dir2);
    ingest_source_free(src);
}

Test(registry_source, pinned_digest)
{
    char d1[72], d2[72], ref[80];
    char *rev = NULL, *dir = NULL, *text;
    int changed = -1;
    cincy_error err;
    ingest_source *src;

    push_tree("v1", "1.0.0\n", "latest", d1);
    push_tree("v2", "1.1.0\n", "latest", d2);
    TEST_SNPRINTF(ref, "@%s", d1);
    src = new_source(ref);
    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0, "%s",
                 test_fmt(&err));
    cr_assert_str_eq(rev, d1);
    text = slurp_in(dir, "version");
    cr_assert_str_eq(text, "1.0.0\n", "the old image, not the tag's");
    free(text);
    free(rev);
    free(dir);
    ingest_source_free(src);
}

Test(registry_source, image_without_graph_data_fails)
{
    char d[72];
    char *rev = NULL, *dir = NULL;
    int changed = -1;
    cincy_error err = {0};
    ingest_source *src;

    cr_assert_eq(treg_push_release(reg, "ocp/graph-data", "latest", "amd64", "4.16.0", "", 0, d),
                 0);
    src = new_source(":latest");
    cr_assert_lt(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0);
    cr_assert(strstr(err.msg, "holds no var/lib/cincinnati-graph-data/"), "%s", err.msg);
    cr_assert_eq(changed, -1, "outputs untouched");
    cr_assert_null(rev);
    cr_assert_null(dir);
    ingest_source_free(src);
}

Test(registry_source, damaged_layer_fails_and_keeps_nothing)
{
    char d[72], layers[4][72], trees[300];
    size_t n = 0;
    char *rev = NULL, *dir = NULL;
    int changed = -1;
    cincy_error err = {0};
    ingest_source *src;

    push_tree("v1", "1.0.0\n", "latest", d);
    cr_assert_eq(treg_manifest_layers(reg, "ocp/graph-data", d, layers, 4, &n), 0);
    cr_assert_eq(treg_damage_blob(reg, layers[n - 1], 0), 0);
    src = new_source(":latest");
    cr_assert_lt(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0);
    cr_assert(strstr(err.msg, "digest mismatch") || strstr(err.msg, layers[n - 1]), "%s", err.msg);
    TEST_SNPRINTF(trees, "%s/cache/trees", workdir);
    cr_assert_eq(test_count_files(trees), 0, "no half-extracted tree is left");
    ingest_source_free(src);
}

Test(registry_source, unsafe_paths_and_links_are_refused)
{
    char d[72], outside[300];
    treg_file files[] = {
        {"var/lib/cincinnati-graph-data/version", "1.0.0\n", 0},
        {"var/lib/cincinnati-graph-data/channels/../../../../../escaped", "x", 0},
    };
    treg_image img = {.arch = "amd64", .files = files, .nfiles = 2};
    char *rev = NULL, *dir = NULL;
    int changed = -1;
    cincy_error err = {0};
    ingest_source *src;
    struct stat st;

    cr_assert_eq(treg_push_image(reg, "ocp/graph-data", "latest", &img, d), 0);
    src = new_source(":latest");
    cr_assert_lt(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0);
    cr_assert(strstr(err.msg, "unsafe path"), "%s", err.msg);
    TEST_SNPRINTF(outside, "%s/escaped", workdir);
    cr_assert_neq(stat(outside, &st), 0, "nothing was written outside the tree");
    cr_assert_null(dir);
    ingest_source_free(src);
}

Test(registry_source, leading_dot_slash_and_unread_files)
{
    char d[72];
    treg_file files[] = {
        {"./var/lib/cincinnati-graph-data/version", "1.2.0\n", 0},
        {"./var/lib/cincinnati-graph-data/channels/a.yaml", "name: a\nversions: []\n", 0},
        {"./var/lib/cincinnati-graph-data/README.md", "not read by the server", 0},
        {"./etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0},
    };
    treg_image img = {.arch = "amd64", .files = files, .nfiles = 4, .filler_layers = 1};
    char *rev = NULL, *dir = NULL, *text;
    int changed = -1;
    cincy_error err = {0};
    ingest_source *src;

    cr_assert_eq(treg_push_image(reg, "ocp/graph-data", "v1", &img, d), 0);
    src = new_source(":v1");
    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0, "%s",
                 test_fmt(&err));
    text = slurp_in(dir, "version");
    cr_assert_str_eq(text, "1.2.0\n");
    free(text);
    cr_assert_eq(test_count_files(dir), 2, "version and channels/a.yaml only");
    free(rev);
    free(dir);
    ingest_source_free(src);
}

Test(registry_source, missing_tag_is_not_found)
{
    char *rev = NULL, *dir = NULL;
    int changed = -1;
    cincy_error err = {0};
    ingest_source *src = new_source(":nope");

    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), CINCY_ENOTFOUND);
    cr_assert(strstr(err.msg, "not found"), "%s", err.msg);
    ingest_source_free(src);
}

/* ------------------------------------------------------------------------
 * A hand-made two-layer image
 */

typedef struct raw_file {
    const char *path;
    const char *data;
} raw_file;

/* A gzip tar of files in memory; returns its length. */
static size_t make_layer(char *buf, size_t cap, const raw_file *files, size_t n)
{
    struct archive *a = archive_write_new();
    size_t used = 0;

    cr_assert_not_null(a);
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    cr_assert_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, files[i].path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)strlen(files[i].data));
        cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
        archive_write_data(a, files[i].data, strlen(files[i].data));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return used;
}

static void sha256_of(char out[72], const void *data, size_t len)
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(data, len, d, &dl, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (int i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", d[i]);
}

static size_t keep_location(char *line, size_t size, size_t n, void *ud)
{
    char *loc = ud;
    size_t len = size * n;
    if (len > 10 && strncasecmp(line, "location: ", 10) == 0) {
        size_t l = len - 10;
        while (l && (line[10 + l - 1] == '\r' || line[10 + l - 1] == '\n'))
            l--;
        snprintf(loc, 1024, "%.*s", (int)l, line + 10);
    }
    return len;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
    (void)ptr, (void)ud;
    return size * n;
}

/* One request to the registry; returns the status. */
static long raw_request(const char *method, const char *url, const void *body, size_t len,
                        const char *ctype, char *location)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char hdr[256];
    long status = 0;

    cr_assert_not_null(c);
    snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
    h = curl_slist_append(h, hdr);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_location);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, location);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void raw_push_blob(const char *repo, const void *data, size_t len, char digest[72])
{
    char url[1200], location[1024] = "";
    sha256_of(digest, data, len);
    TEST_SNPRINTF(url, "%s/v2/%s/blobs/uploads/", treg_location(reg), repo);
    cr_assert_eq(raw_request("POST", url, NULL, 0, "application/octet-stream", location), 202);
    if (location[0] == '/')
        TEST_SNPRINTF(url, "%s%s%sdigest=%s", treg_location(reg), location,
                      strchr(location, '?') ? "&" : "?", digest);
    else
        TEST_SNPRINTF(url, "%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", digest);
    cr_assert_eq(raw_request("PUT", url, data, len, "application/octet-stream", location), 201);
}

Test(registry_source, later_layers_override_and_whiteouts_delete)
{
    static const char *repo = "ocp/graph-data";
    static const raw_file lower[] = {
        {"var/lib/cincinnati-graph-data/version", "1.0.0\n"},
        {"var/lib/cincinnati-graph-data/channels/a.yaml", "name: a\nversions: []\n"},
        {"var/lib/cincinnati-graph-data/channels/b.yaml", "name: b\nversions: []\n"},
        {"var/lib/cincinnati-graph-data/blocked-edges/x.yaml", "to: 4.1.0\nfrom: .*\n"},
        {"var/lib/cincinnati-graph-data/raw/metadata.json", "{}"},
    };
    static const raw_file upper[] = {
        {"./var/lib/cincinnati-graph-data/version", "2.0.0\n"},
        {"var/lib/cincinnati-graph-data/channels/.wh.a.yaml", ""},
        {"var/lib/cincinnati-graph-data/blocked-edges/.wh..wh..opq", ""},
        {"var/lib/cincinnati-graph-data/blocked-edges/y.yaml", "to: 4.2.0\nfrom: .*\n"},
    };
    static char l1[8192], l2[8192];
    size_t n1 = make_layer(l1, sizeof(l1), lower, 5), n2 = make_layer(l2, sizeof(l2), upper, 4);
    const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    char cd[72], d1[72], d2[72], md[72], manifest[2048], url[1200], loc[1024];
    char *rev = NULL, *dir = NULL, *text;
    int changed = -1;
    cincy_error err = {0};
    ingest_source *src;

    raw_push_blob(repo, config, strlen(config), cd);
    raw_push_blob(repo, l1, n1, d1);
    raw_push_blob(repo, l2, n2, d2);
    snprintf(manifest, sizeof(manifest),
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
             "\"digest\":\"%s\",\"size\":%zu},\"layers\":["
             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
             "\"size\":%zu},"
             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
             "\"size\":%zu}]}",
             cd, strlen(config), d1, n1, d2, n2);
    sha256_of(md, manifest, strlen(manifest));
    TEST_SNPRINTF(url, "%s/v2/%s/manifests/layered", treg_location(reg), repo);
    cr_assert_eq(raw_request("PUT", url, manifest, strlen(manifest),
                             "application/vnd.oci.image.manifest.v1+json", loc),
                 201);

    src = new_source(":layered");
    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err), 0, "%s",
                 test_fmt(&err));
    cr_assert_str_eq(rev, md);
    text = slurp_in(dir, "version");
    cr_assert_str_eq(text, "2.0.0\n", "the upper layer's file wins");
    free(text);
    text = slurp_in(dir, "blocked-edges/y.yaml");
    cr_assert_str_eq(text, "to: 4.2.0\nfrom: .*\n");
    free(text);
    /* a.yaml whited out, x.yaml hidden by the opaque directory */
    cr_assert_eq(test_count_files(dir), 4,
                 "version, channels/b.yaml, blocked-edges/y.yaml, "
                 "raw/metadata.json");
    {
        char p[1024];
        struct stat st;
        TEST_SNPRINTF(p, "%s/channels/a.yaml", dir);
        cr_assert_neq(stat(p, &st), 0);
        TEST_SNPRINTF(p, "%s/blocked-edges/x.yaml", dir);
        cr_assert_neq(stat(p, &st), 0);
        TEST_SNPRINTF(p, "%s/channels/b.yaml", dir);
        cr_assert_eq(stat(p, &st), 0);
    }
    free(rev);
    free(dir);
    ingest_source_free(src);
}
