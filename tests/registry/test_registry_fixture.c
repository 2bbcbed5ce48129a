/* tests/registry/test_registry_fixture.c - proves the registry fixture makes
 * real, valid images: skopeo (an independent client) inspects and copies
 * what it pushed, auth and TLS behave like a real registry's, and the fault
 * proxy and blob damage do what registry client tests rely on. */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "registry/registry_fixture.h"
#include "test_fs.h"

/* ---- helpers ------------------------------------------------------------ */

/* Runs argv, returns its exit status; *out (if given) gets stdout. */
static int run_capture(char *const argv[], char **out)
{
    int fds[2], status = -1;
    pid_t pid;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t n;

    cr_assert_not_null(buf);
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fds[1], 1);
        dup2(null, 2);
        close(fds[0]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
    }
    buf[len] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* skopeo inspect [extra...] docker://ref; returns the parsed JSON (NULL on
 * failure, with the exit status in *status). */
static json_t *skopeo_inspect(const char *ref, const char *a1, const char *a2, int *status)
{
    char url[512], *out = NULL;
    char *argv[8];
    int i = 0, rc;
    json_t *j;

    TEST_SNPRINTF(url, "docker://%s", ref);
    argv[i++] = "skopeo";
    argv[i++] = "inspect";
    if (a1)
        argv[i++] = (char *)a1;
    if (a2)
        argv[i++] = (char *)a2;
    argv[i++] = url;
    argv[i] = NULL;
    rc = run_capture(argv, &out);
    if (status)
        *status = rc;
    j = rc == 0 ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

typedef struct resp {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    char www_auth[512];
    double content_length;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    r->body = realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = size * n;
    if (len > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0) {
        size_t v = len - 18 < sizeof(r->www_auth) - 1 ? len - 18 : sizeof(r->www_auth) - 1;
        memcpy(r->www_auth, p + 18, v);
        r->www_auth[v] = '\0';
        r->www_auth[strcspn(r->www_auth, "\r\n")] = '\0';
    }
    return len;
}

/* One request; ca, userpwd, header may be NULL. */
static resp http(const char *method, const char *url, const char *ca, const char *userpwd,
                 const char *header)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    resp r;
    curl_off_t cl = -1;

    memset(&r, 0, sizeof(r));
    cr_assert_not_null(h);
    hdrs = curl_slist_append(hdrs, "Accept: application/vnd.docker.distribution.manifest.v2+json, "
                                   "application/vnd.oci.image.manifest.v1+json");
    if (header)
        hdrs = curl_slist_append(hdrs, header);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    if (userpwd)
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    r.rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    r.content_length = (double)cl;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static void sha256_of(const void *data, size_t len, char out[72])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (int i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

/* The content of entry `path` in a gzip'd tar held in memory (NULL: none). */
static char *tar_gz_entry(const void *data, size_t len, const char *path)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char *found = NULL;

    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    cr_assert_eq(archive_read_open_memory(a, data, len), ARCHIVE_OK, "layer is no tar.gz");
    while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (strcmp(archive_entry_pathname(e), path) == 0) {
            size_t n = (size_t)archive_entry_size(e);
            found = calloc(1, n + 1);
            cr_assert_eq(archive_read_data(a, found, n), (la_ssize_t)n);
            cr_assert_eq(archive_entry_uid(e), 0);
        }
    }
    archive_read_free(a);
    return found;
}

static treg *start(char *dir, size_t size, int basic, int tls, int token)
{
    treg_options opt = {.basic_auth = basic, .tls = tls, .token_auth = token};
    treg *r = NULL;
    test_tmpdir(dir, size);
    cr_assert_eq(treg_start(&r, dir, &opt), 0, "treg_start failed under %s", dir);
    return r;
}

static void finish(treg *r, const char *dir)
{
    treg_stop(r);
    test_rm_rf(dir);
}

/* ---- tests -------------------------------------------------------------- */

TestSuite(registry_fixture, .timeout = 60);

Test(registry_fixture, release_images_are_real_for_skopeo)
{
    char dir[256], ref[256], oci[300], dst[320], d_amd[72], d_arm[72], layers[4][72];
    char *out = NULL, *meta = treg_release_metadata("4.1.0", "4.0.0, 4.0.1", NULL);
    size_t n = 0;
    treg *r = start(dir, sizeof(dir), 0, 0, 0);
    json_t *j;

    cr_assert_eq(treg_push_release(r, "ocp/rel", "4.1.0", "amd64", "4.1.0", "4.0.0, 4.0.1", 0,
                                   d_amd), 0);
    cr_assert_eq(treg_push_release(r, "ocp/rel", "4.1.0-arm64", "arm64", "4.1.0", "", 1, d_arm), 0);
    cr_assert_str_neq(d_amd, d_arm);
    cr_assert(strncmp(treg_location(r), "http://127.0.0.1:", 17) == 0, "%s", treg_location(r));
    cr_assert_null(treg_auth_file(r));
    cr_assert_null(treg_ca_file(r));

    TEST_SNPRINTF(ref, "%s/ocp/rel:4.1.0", treg_host(r));
    j = skopeo_inspect(ref, "--tls-verify=false", NULL, NULL);
    cr_assert_not_null(j, "skopeo inspect %s failed", ref);
    cr_assert_str_eq(jstr(j, "Architecture"), "amd64");
    cr_assert_str_eq(jstr(j, "Os"), "linux");
    cr_assert_str_eq(jstr(j, "Digest"), d_amd);
    cr_assert_eq(json_array_size(json_object_get(j, "Layers")), 2);
    json_decref(j);

    TEST_SNPRINTF(ref, "%s/ocp/rel:4.1.0-arm64", treg_host(r));
    j = skopeo_inspect(ref, "--tls-verify=false", NULL, NULL);
    cr_assert_not_null(j, "skopeo inspect %s failed", ref);
    cr_assert_str_eq(jstr(j, "Architecture"), "arm64");
    cr_assert_str_eq(jstr(j, "Digest"), d_arm);
    json_decref(j);

    /* A full copy checks every blob digest; then read the top layer. */
    TEST_SNPRINTF(ref, "docker://%s/ocp/rel:4.1.0", treg_host(r));
    TEST_SNPRINTF(oci, "%s/oci", dir);
    TEST_SNPRINTF(dst, "oci:%s:copy", oci);
    {
        char *argv[] = {"skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                        ref, dst, NULL};
        cr_assert_eq(run_capture(argv, NULL), 0, "skopeo copy %s failed", ref);
    }
    cr_assert_eq(treg_manifest_layers(r, "ocp/rel", d_amd, layers, 4, &n), 0);
    cr_assert_eq(n, 2);
    {
        char blob[512], *data;
        FILE *f;
        long len;
        TEST_SNPRINTF(blob, "%s/blobs/sha256/%s", oci, layers[1] + 7);
        f = fopen(blob, "rb");
        cr_assert_not_null(f, "top layer %s not copied", blob);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        data = malloc((size_t)len);
        cr_assert_eq(fread(data, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        out = tar_gz_entry(data, (size_t)len, "release-manifests/release-metadata");
        cr_assert_not_null(out, "no release-metadata in the top layer");
        cr_assert_str_eq(out, meta);
        free(out);
        out = tar_gz_entry(data, (size_t)len, "usr/share/treg/filler-0.txt");
        cr_assert_null(out, "the filler file is in the top layer");
        free(data);
    }
    j = json_loads(meta, 0, NULL);
    cr_assert_str_eq(jstr(j, "kind"), "cincinnati-metadata-v0");
    cr_assert_str_eq(jstr(j, "version"), "4.1.0");
    cr_assert_eq(json_array_size(json_object_get(j, "previous")), 2);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "previous"), 1)), "4.0.1");
    json_decref(j);
    free(meta);
    finish(r, dir);
}

Test(registry_fixture, manifest_lists_and_oci_indexes)
{
    char dir[256], ref[256], d[2][72], list[72], index[72];
    const char *digests[2], *arches[2] = {"amd64", "s390x"};
    char *meta = treg_release_metadata("4.2.0", "", "multi");
    treg_file f = {"release-manifests/release-metadata", meta, 0};
    treg *r = start(dir, sizeof(dir), 0, 0, 0);
    json_t *j, *m;

    for (int i = 0; i < 2; i++) {
        treg_image img = {.arch = arches[i], .files = &f, .nfiles = 1, .filler_layers = 2,
                          .top_layer_first = i};
        cr_assert_eq(treg_push_image(r, "rel", NULL, &img, d[i]), 0);
        digests[i] = d[i];
    }
    cr_assert_eq(treg_push_index(r, "rel", "4.2.0-multi", digests, arches, 2, 0, list), 0);
    cr_assert_eq(treg_push_index(r, "rel", "4.2.0-oci", digests, arches, 2, 1, index), 0);

    TEST_SNPRINTF(ref, "%s/rel:4.2.0-multi", treg_host(r));
    j = skopeo_inspect(ref, "--tls-verify=false", "--raw", NULL);
    cr_assert_not_null(j, "skopeo inspect --raw %s failed", ref);
    cr_assert_str_eq(jstr(j, "mediaType"), "application/vnd.docker.distribution.manifest.list.v2+json");
    m = json_object_get(j, "manifests");
    cr_assert_eq(json_array_size(m), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(m, i);
        cr_assert_str_eq(jstr(e, "digest"), d[i]);
        cr_assert_str_eq(jstr(e, "mediaType"), "application/vnd.docker.distribution.manifest.v2+json");
        cr_assert_str_eq(jstr(json_object_get(e, "platform"), "architecture"), arches[i]);
    }
    json_decref(j);

    TEST_SNPRINTF(ref, "%s/rel:4.2.0-oci", treg_host(r));
    j = skopeo_inspect(ref, "--tls-verify=false", "--raw", NULL);
    cr_assert_not_null(j, "skopeo inspect --raw %s failed", ref);
    cr_assert_str_eq(jstr(j, "mediaType"), "application/vnd.oci.image.index.v1+json");
    cr_assert_str_eq(jstr(json_array_get(json_object_get(j, "manifests"), 1), "digest"), d[1]);
    json_decref(j);

    /* skopeo resolves the list to the s390x image. */
    j = skopeo_inspect(ref, "--tls-verify=false", "--override-arch=s390x", NULL);
    cr_assert_not_null(j);
    cr_assert_str_eq(jstr(j, "Architecture"), "s390x");
    cr_assert_str_eq(jstr(j, "Digest"), index); /* skopeo names the index */
    cr_assert_eq(json_array_size(json_object_get(j, "Layers")), 3);
    json_decref(j);
    free(meta);
    finish(r, dir);
}

Test(registry_fixture, basic_auth_needs_the_auth_file)
{
    char dir[256], ref[256], url[256], digest[72], authflag[320];
    treg *r = start(dir, sizeof(dir), 1, 0, 0);
    int status = 0;
    json_t *j;
    resp h;

    cr_assert_eq(treg_push_release(r, "rel", "4.1.0", "ppc64le", "4.1.0", "", 0, digest), 0);
    cr_assert_not_null(treg_auth_file(r));
    TEST_SNPRINTF(url, "%s/v2/", treg_location(r));
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.status, 401);
    cr_assert(strstr(h.www_auth, "Basic realm=") != NULL, "challenge: %s", h.www_auth);
    free(h.body);
    h = http("GET", url, NULL, "cincy:s3cret", NULL);
    cr_assert_eq(h.status, 200);
    free(h.body);

    TEST_SNPRINTF(ref, "%s/rel:4.1.0", treg_host(r));
    j = skopeo_inspect(ref, "--tls-verify=false", "--no-creds", &status);
    cr_assert_null(j, "anonymous inspect succeeded");
    cr_assert_neq(status, 0);
    TEST_SNPRINTF(authflag, "--authfile=%s", treg_auth_file(r));
    j = skopeo_inspect(ref, "--tls-verify=false", authflag, &status);
    cr_assert_not_null(j, "inspect with %s failed (%d)", authflag, status);
    cr_assert_str_eq(jstr(j, "Architecture"), "ppc64le");
    cr_assert_str_eq(jstr(j, "Digest"), digest);
    json_decref(j);
    finish(r, dir);
}

Test(registry_fixture, tls_with_the_generated_ca_and_basic_auth)
{
    char dir[256], ref[256], url[256], digest[72], certdir[300], ca[300], authflag[320];
    treg *r = start(dir, sizeof(dir), 1, 1, 0);
    int status = 0;
    json_t *j;
    resp h;

    cr_assert_eq(treg_push_release(r, "rel", "4.3.1", "amd64", "4.3.1", "4.3.0", 1, digest), 0);
    cr_assert_not_null(treg_ca_file(r));
    cr_assert_str_eq(treg_location(r), treg_host(r)); /* no scheme: https */
    TEST_SNPRINTF(url, "https://%s/v2/", treg_host(r));
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.rc, CURLE_PEER_FAILED_VERIFICATION, "unknown CA accepted: %d", h.rc);
    free(h.body);
    h = http("GET", url, treg_ca_file(r), NULL, NULL);
    cr_assert_eq(h.rc, CURLE_OK, "%s", curl_easy_strerror(h.rc));
    cr_assert_eq(h.status, 401);
    free(h.body);
    h = http("GET", url, treg_ca_file(r), "cincy:s3cret", NULL);
    cr_assert_eq(h.status, 200);
    free(h.body);

    TEST_SNPRINTF(ref, "%s/rel:4.3.1", treg_host(r));
    j = skopeo_inspect(ref, NULL, NULL, &status);
    cr_assert_null(j, "skopeo trusted an unknown CA");
    TEST_SNPRINTF(ca, "%s", treg_ca_file(r));
    TEST_SNPRINTF(certdir, "--cert-dir=%s", dirname(ca));
    TEST_SNPRINTF(authflag, "--authfile=%s", treg_auth_file(r));
    j = skopeo_inspect(ref, certdir, authflag, &status);
    cr_assert_not_null(j, "inspect with %s failed (%d)", certdir, status);
    cr_assert_str_eq(jstr(j, "Digest"), digest);
    json_decref(j);
    finish(r, dir);
}

Test(registry_fixture, token_front_demands_a_token)
{
    char dir[256], ref[256], url[256], digest[72], bearer[256], challenge[512], authflag[320];
    treg *r = start(dir, sizeof(dir), 0, 0, 1);
    int status = 0;
    json_t *j;
    resp h;

    cr_assert_eq(treg_push_release(r, "ocp/rel", "4.1.0", "amd64", "4.1.0", "", 0, digest), 0);
    cr_assert_eq(treg_token_requests(r), 0);
    TEST_SNPRINTF(url, "%s/v2/ocp/rel/manifests/4.1.0", treg_location(r));
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.status, 401);
    TEST_SNPRINTF(challenge,
                  "Bearer realm=\"%s/token\",service=\"treg\",scope=\"repository:ocp/rel:pull\"",
                  treg_location(r));
    cr_assert_str_eq(h.www_auth, challenge);
    free(h.body);

    TEST_SNPRINTF(url, "%s/token?service=treg&scope=repository:ocp/rel:pull", treg_location(r));
    h = http("GET", url, NULL, "cincy:wrong", NULL);
    cr_assert_eq(h.status, 401);
    free(h.body);
    h = http("GET", url, NULL, "cincy:s3cret", NULL);
    cr_assert_eq(h.status, 200);
    j = json_loads(h.body, 0, NULL);
    cr_assert_not_null(j, "token body: %s", h.body);
    cr_assert_eq(json_integer_value(json_object_get(j, "expires_in")), 300);
    TEST_SNPRINTF(bearer, "Authorization: Bearer %s", jstr(j, "token"));
    json_decref(j);
    free(h.body);
    cr_assert_eq(treg_token_requests(r), 2);

    TEST_SNPRINTF(url, "%s/v2/ocp/rel/manifests/4.1.0", treg_location(r));
    h = http("GET", url, NULL, NULL, "Authorization: Bearer nonsense");
    cr_assert_eq(h.status, 401);
    free(h.body);
    h = http("GET", url, NULL, NULL, bearer);
    cr_assert_eq(h.status, 200);
    {
        char got[72];
        sha256_of(h.body, h.len, got);
        cr_assert_str_eq(got, digest);
    }
    free(h.body);

    TEST_SNPRINTF(ref, "%s/ocp/rel:4.1.0", treg_host(r));
    j = skopeo_inspect(ref, "--tls-verify=false", "--no-creds", &status);
    cr_assert_null(j, "inspect without credentials passed the token front");
    TEST_SNPRINTF(authflag, "--authfile=%s", treg_auth_file(r));
    j = skopeo_inspect(ref, "--tls-verify=false", authflag, &status);
    cr_assert_not_null(j, "inspect through the token front failed (%d)", status);
    cr_assert_str_eq(jstr(j, "Digest"), digest);
    json_decref(j);
    cr_assert_gt(treg_token_requests(r), 2);
    finish(r, dir);
}

Test(registry_fixture, fault_proxy_rules_fire_as_told)
{
    char dir[256], url[512], digest[72], layers[4][72], got[72];
    treg *r = start(dir, sizeof(dir), 0, 0, 0);
    treg_fault rules[] = {
        {.match = "GET /v2/rel/manifests/", .kind = TREG_FAULT_STATUS, .status = 503, .times = 2},
        {.match = "GET /v2/rel/blobs/", .kind = TREG_FAULT_TRUNCATE, .times = 1},
        {.match = "GET /v2/rel/tags/list", .kind = TREG_FAULT_DELAY, .delay_ms = 300},
    };
    treg_proxy *p = NULL;
    size_t n = 0;
    struct timespec t0, t1;
    resp h;

    cr_assert_eq(treg_push_release(r, "rel", "4.1.0", "amd64", "4.1.0", "", 0, digest), 0);
    cr_assert_eq(treg_manifest_layers(r, "rel", digest, layers, 4, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(treg_proxy_start(&p, r, rules, 3), 0);
    cr_assert(strncmp(treg_proxy_location(p), "http://127.0.0.1:", 17) == 0);

    TEST_SNPRINTF(url, "%s/v2/rel/manifests/4.1.0", treg_proxy_location(p));
    for (int i = 0; i < 3; i++) {
        h = http("GET", url, NULL, NULL, NULL);
        cr_assert_eq(h.status, i < 2 ? 503 : 200, "try %d: %ld", i, h.status);
        free(h.body);
    }
    cr_assert_eq(treg_proxy_fired(p, 0), 2);
    cr_assert_eq(treg_proxy_count(p, "GET /v2/rel/manifests/"), 3);

    TEST_SNPRINTF(url, "%s/v2/rel/blobs/%s", treg_proxy_location(p), layers[1]);
    h = http("HEAD", url, NULL, NULL, NULL);
    cr_assert_eq(h.status, 200);
    cr_assert_gt(h.content_length, 0, "HEAD lost the Content-Length");
    free(h.body);
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.rc, CURLE_PARTIAL_FILE, "truncated body gave %s", curl_easy_strerror(h.rc));
    cr_assert_lt((double)h.len, h.content_length);
    free(h.body);
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.rc, CURLE_OK);
    sha256_of(h.body, h.len, got);
    cr_assert_str_eq(got, layers[1]);
    free(h.body);
    cr_assert_eq(treg_proxy_fired(p, 1), 1);

    TEST_SNPRINTF(url, "%s/v2/rel/tags/list", treg_proxy_location(p));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    h = http("GET", url, NULL, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(h.status, 200);
    cr_assert(strstr(h.body, "\"4.1.0\"") != NULL, "tags: %s", h.body);
    cr_assert_geq((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 300);
    free(h.body);
    cr_assert_eq(treg_proxy_count(p, ""), 7);
    treg_proxy_stop(p);
    finish(r, dir);
}

Test(registry_fixture, damaged_blobs_fail_their_digest)
{
    char dir[256], url[512], digest[72], layers[4][72], got[72];
    treg *r = start(dir, sizeof(dir), 0, 0, 0);
    size_t n = 0;
    resp before, after;

    cr_assert_eq(treg_push_release(r, "rel", "4.1.0", "amd64", "4.1.0", "", 0, digest), 0);
    cr_assert_eq(treg_manifest_layers(r, "rel", digest, layers, 4, &n), 0);
    cr_assert_eq(n, 2);

    TEST_SNPRINTF(url, "%s/v2/rel/blobs/%s", treg_location(r), layers[1]);
    before = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(before.status, 200);
    cr_assert_eq(treg_damage_blob(r, layers[1], 0), 0);
    after = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(after.status, 200);
    cr_assert_eq(after.len, before.len);
    sha256_of(after.body, after.len, got);
    cr_assert_str_neq(got, layers[1], "flipped bytes still match the digest");
    free(before.body);
    free(after.body);

    TEST_SNPRINTF(url, "%s/v2/rel/blobs/%s", treg_location(r), layers[0]);
    before = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(treg_damage_blob(r, layers[0], 1), 0);
    after = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(after.len, before.len / 2);
    free(before.body);
    free(after.body);
    cr_assert_neq(treg_damage_blob(r, "sha256:nothex", 0), 0);
    finish(r, dir);
}

Test(registry_fixture, graph_data_and_signature_images)
{
    char dir[256], gd[300], url[512], ref[400], digest[72], rel[72], layers[4][72];
    treg *r = start(dir, sizeof(dir), 0, 0, 0);
    size_t n = 0;
    char *entry;
    json_t *j;
    resp h;

    TEST_SNPRINTF(gd, "%s/graph-data", dir);
    test_write(gd, "version", "1.0.0\n");
    test_write(gd, "channels/stable-4.1.yaml", "name: stable-4.1\nversions:\n- 4.1.0\n");
    test_write(gd, "blocked-edges/4.1.1.yaml", "to: 4.1.1\nfrom: .*\n");
    cr_assert_eq(treg_push_graph_data(r, "graph-data", "latest", gd, digest), 0);
    cr_assert_eq(treg_manifest_layers(r, "graph-data", digest, layers, 4, &n), 0);
    cr_assert_eq(n, 1);
    TEST_SNPRINTF(url, "%s/v2/graph-data/blobs/%s", treg_location(r), layers[0]);
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.status, 200);
    entry = tar_gz_entry(h.body, h.len, "var/lib/cincinnati-graph-data/channels/stable-4.1.yaml");
    cr_assert_not_null(entry);
    cr_assert_str_eq(entry, "name: stable-4.1\nversions:\n- 4.1.0\n");
    free(entry);
    entry = tar_gz_entry(h.body, h.len, "var/lib/cincinnati-graph-data/version");
    cr_assert_str_eq(entry, "1.0.0\n");
    free(entry);
    free(h.body);
    /* Pushing the same files again gives the same digest (deterministic). */
    {
        char again[72];
        cr_assert_eq(treg_push_graph_data(r, "graph-data", "again", gd, again), 0);
        cr_assert_str_eq(again, digest);
    }

    cr_assert_eq(treg_push_release(r, "rel", "4.1.0", "amd64", "4.1.0", "", 0, rel), 0);
    cr_assert_eq(treg_push_signature(r, "rel", rel), 0);
    TEST_SNPRINTF(ref, "%s/rel:sha256-%s.sig", treg_host(r), rel + 7);
    j = skopeo_inspect(ref, "--tls-verify=false", "--raw", NULL);
    cr_assert_not_null(j, "skopeo inspect --raw %s failed", ref);
    cr_assert_str_eq(jstr(j, "mediaType"), "application/vnd.oci.image.manifest.v1+json");
    cr_assert_str_eq(jstr(json_array_get(json_object_get(j, "layers"), 0), "mediaType"),
                     "application/vnd.dev.cosign.simplesigning.v1+json");
    json_decref(j);
    finish(r, dir);
}

Test(registry_fixture, pause_and_resume_keep_the_storage)
{
    char dir[256], url[256], digest[72];
    treg *r = start(dir, sizeof(dir), 0, 0, 0);
    int pid = treg_pid(r);
    resp h;

    cr_assert_eq(treg_push_release(r, "rel", "4.1.0", "amd64", "4.1.0", "", 0, digest), 0);
    cr_assert_gt(pid, 0);
    cr_assert_eq(treg_pause(r), 0);
    cr_assert_eq(treg_pid(r), 0);
    cr_assert_eq(kill(pid, 0), -1, "registry %d still runs while paused", pid);
    TEST_SNPRINTF(url, "%s/v2/rel/manifests/4.1.0", treg_location(r));
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.rc, CURLE_COULDNT_CONNECT, "paused registry answered: %d", h.rc);
    free(h.body);
    cr_assert_eq(treg_resume(r), 0);
    h = http("GET", url, NULL, NULL, NULL);
    cr_assert_eq(h.status, 200);
    free(h.body);
    finish(r, dir);
}

/* 1 while pid is a live (not zombie) process. */
static int process_alive(int pid)
{
    char path[64], *stat;
    int alive;
    TEST_SNPRINTF(path, "/proc/%d/stat", pid);
    stat = test_slurp(path);
    if (!stat)
        return 0;
    alive = strstr(stat, ") Z ") == NULL;
    free(stat);
    return alive;
}

Test(registry_fixture, no_registry_outlives_a_killed_test)
{
    char dir[256];
    int fds[2], pid = 0, status;
    pid_t child;

    test_tmpdir(dir, sizeof(dir));
    cr_assert_eq(pipe(fds), 0);
    child = fork();
    if (child == 0) { /* a test process that dies without any cleanup */
        treg *r = NULL;
        close(fds[0]);
        if (treg_start(&r, dir, NULL) == 0) {
            int p = treg_pid(r);
            if (write(fds[1], &p, sizeof(p)) != sizeof(p))
                _exit(2);
        }
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid), "child did not start");
    close(fds[0]);
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status));
    for (int i = 0; i < 200 && process_alive(pid); i++)
        usleep(10000);
    cr_assert_not(process_alive(pid), "registry %d survived its killed parent", pid);
    test_rm_rf(dir);
}
