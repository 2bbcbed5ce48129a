/* tests/ingest/test_source_tarball.c - the tarball graph-data source: archives
 * are written with libarchive in each test, then fetched and extracted. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "ingest/ingest.h"
#include "ingest_test_util.h"

#define SENTINEL ((char *)"untouched")

typedef struct tar_item {
    const char *path;
    const char *content; /* NULL: a directory */
} tar_item;

/* Writes a .tar.gz at path holding items, in order. */
static void make_tar(const char *path, const tar_item *items, size_t n)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();

    cr_assert(a && e);
    cr_assert_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    cr_assert_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, items[i].path);
        archive_entry_set_filetype(e, items[i].content ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, items[i].content ? 0644 : 0755);
        archive_entry_set_size(e, items[i].content ? (la_int64_t)strlen(items[i].content) : 0);
        cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK, "%s", archive_error_string(a));
        if (items[i].content)
            cr_assert_eq(archive_write_data(a, items[i].content, strlen(items[i].content)),
                         (la_ssize_t)strlen(items[i].content));
    }
    cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
    archive_entry_free(e);
    archive_write_free(a);
}

static void sha256_file(char *hex, const char *path)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *data;
    struct stat st;
    static const char dig[] = "0123456789abcdef";

    cr_assert_eq(stat(path, &st), 0);
    cr_assert_not_null(data = test_slurp(path));
    cr_assert(EVP_Digest(data, (size_t)st.st_size, md, &n, EVP_sha256(), NULL));
    for (unsigned int i = 0; i < n; i++) {
        hex[2 * i] = dig[md[i] >> 4];
        hex[2 * i + 1] = dig[md[i] & 15];
    }
    hex[2 * n] = '\0';
    free(data);
}

static ingest_source *new_tarball(const char *location, const char *cache)
{
    ingest_source_config cfg = {INGEST_SOURCE_TARBALL, location, NULL, cache, NULL};
    ingest_source *src = NULL;
    cincy_error e;
    cr_assert_eq(ingest_source_new(&src, &cfg, &e), 0, "%s", test_fmt(&e));
    return src;
}

static void check_file(const char *dir, const char *rel, const char *want)
{
    char path[4096], *text;
    TEST_SNPRINTF(path, "%s/%s", dir, rel);
    text = test_slurp(path);
    cr_assert_not_null(text, "%s missing", path);
    cr_assert_str_eq(text, want);
    free(text);
}

Test(ingest_source_tarball, github_layout_is_stripped)
{
    static const tar_item v1[] = {
        {"cincinnati-graph-data-abc123/", NULL},
        {"cincinnati-graph-data-abc123/version", "1.0.0\n"},
        {"cincinnati-graph-data-abc123/README.md", "not served\n"},
        {"cincinnati-graph-data-abc123/channels/", NULL},
        {"cincinnati-graph-data-abc123/channels/stable-4.16.yaml", "name: stable-4.16\n"},
        {"cincinnati-graph-data-abc123/blocked-edges/4.16.1.yaml", "to: 4.16.1\n"},
    };
    static const tar_item v2[] = {
        {"cincinnati-graph-data-def456/version", "1.0.0\n"},
        {"cincinnati-graph-data-def456/channels/stable-4.16.yaml", "name: stable-4.16\nx: 1\n"},
    };
    char tmp[256], tar[512], cache[512], path[4096], sha[65];
    char *rev = NULL, *dir = NULL, *rev2 = NULL, *dir2 = NULL, *r = SENTINEL, *d = SENTINEL;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(tar, "%s/gd.tar.gz", tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    make_tar(tar, v1, sizeof(v1) / sizeof(v1[0]));
    src = new_tarball(tar, cache);

    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    sha256_file(sha, tar);
    cr_assert_str_eq(rev, sha);
    TEST_SNPRINTF(path, "%s/trees/%s", cache, sha);
    cr_assert_str_eq(dir, path);
    check_file(dir, "version", "1.0.0\n");
    check_file(dir, "channels/stable-4.16.yaml", "name: stable-4.16\n");
    check_file(dir, "blocked-edges/4.16.1.yaml", "to: 4.16.1\n");
    cr_assert_eq(test_count_files(dir), 3, "README.md is not graph-data the server reads");

    cr_assert_eq(ingest_source_fetch(src, rev, &r, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 0);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);

    /* A new archive (no directory entries this time) replaces the old tree. */
    make_tar(tar, v2, sizeof(v2) / sizeof(v2[0]));
    cr_assert_eq(ingest_source_fetch(src, rev, &rev2, &dir2, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    cr_assert_str_neq(rev2, rev);
    check_file(dir2, "channels/stable-4.16.yaml", "name: stable-4.16\nx: 1\n");
    cr_assert_eq(test_count_files(dir2), 2);
    cr_assert_neq(access(dir, F_OK), 0, "old tree still there");

    free(rev);
    free(dir);
    free(rev2);
    free(dir2);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

Test(ingest_source_tarball, flat_archive_is_kept_as_is)
{
    static const tar_item items[] = {
        {"./version", "1.0.0\n"},
        {"./channels/fast-4.16.yaml", "name: fast-4.16\n"},
    };
    char tmp[256], tar[512], cache[512], *rev = NULL, *dir = NULL;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(tar, "%s/gd.tar.gz", tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    make_tar(tar, items, 2);
    src = new_tarball(tar, cache);
    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &e), 0, "%s", test_fmt(&e));
    check_file(dir, "version", "1.0.0\n");
    check_file(dir, "channels/fast-4.16.yaml", "name: fast-4.16\n");
    free(rev);
    free(dir);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

Test(ingest_source_tarball, path_traversal_is_refused_whole)
{
    static const tar_item items[] = {
        {"gd/version", "1.0.0\n"},
        {"gd/channels/../../../evil", "owned\n"},
    };
    static const tar_item abs_items[] = {{"/tmp/cincy-evil-abs", "owned\n"}};
    char tmp[256], tar[512], cache[512], path[4096], *r = SENTINEL, *d = SENTINEL;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(tar, "%s/gd.tar.gz", tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    make_tar(tar, items, 2);
    src = new_tarball(tar, cache);
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_EINVALID);
    TEST_SNPRINTF(path, "tarball '%s': unsafe path 'gd/channels/../../../evil'", tar);
    cr_assert_str_eq(e.msg, path);
    cr_assert_eq(changed, -1);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);
    TEST_SNPRINTF(path, "%s/evil", tmp);
    cr_assert_neq(access(path, F_OK), 0);
    TEST_SNPRINTF(path, "%s/trees", cache);
    cr_assert_eq(test_count_files(path), 0, "nothing is extracted from a refused archive");

    make_tar(tar, abs_items, 1);
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_EINVALID);
    cr_assert(strstr(e.msg, "unsafe path '/tmp/cincy-evil-abs'"), "%s", e.msg);
    cr_assert_neq(access("/tmp/cincy-evil-abs", F_OK), 0);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

Test(ingest_source_tarball, bad_archive_and_missing_file_are_errors)
{
    char tmp[256], tar[512], cache[512], *r = SENTINEL, *d = SENTINEL;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(tar, "%s/gd.tar.gz", tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    src = new_tarball(tar, cache);
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_ENOTFOUND);
    cr_assert(strstr(e.msg, tar), "%s", e.msg);
    test_write(tmp, "gd.tar.gz", "this is not a tar file, not even gzip\n");
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_EINVALID);
    cr_assert(strncmp(e.msg, "tarball '", 9) == 0, "%s", e.msg);
    cr_assert_eq(changed, -1);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

/* ---------------------------------------------------------------------------
 * Download: a forked one-connection-at-a-time HTTP server that serves one
 * file with an ETag, answers 304 to a matching If-None-Match, 404 to other
 * paths, and logs each status it sends to a file the test reads.
 */
static unsigned long fnv(const char *s)
{
    unsigned long h = 1469598103934665603UL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

static void http_answer(int c, const char *file, const char *log)
{
    char req[8192], head[512], etag[64], *body = NULL;
    size_t n = 0;
    ssize_t r;
    int status;
    FILE *lf;

    while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[n] = '\0';
    if (strncmp(req, "GET /gd.tar.gz ", 15) != 0) {
        status = 404;
        snprintf(head, sizeof(head),
                 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
    } else {
        struct stat st;
        FILE *f = fopen(file, "rb");
        char cond[128];
        stat(file, &st);
        body = malloc((size_t)st.st_size + 1);
        if (!f || !body || fread(body, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
            _exit(3);
        fclose(f);
        body[st.st_size] = '\0';
        snprintf(etag, sizeof(etag), "\"%ld-%lx\"", (long)st.st_size, fnv(body + 10));
        snprintf(cond, sizeof(cond), "If-None-Match: %s\r\n", etag);
        if (strstr(req, cond)) {
            status = 304;
            snprintf(head, sizeof(head),
                     "HTTP/1.1 304 Not Modified\r\nETag: %s\r\n"
                     "Connection: close\r\n\r\n",
                     etag);
            free(body);
            body = NULL;
        } else {
            status = 200;
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n"
                     "ETag: %s\r\nConnection: close\r\n\r\n",
                     (long)st.st_size, etag);
            n = (size_t)st.st_size;
        }
    }
    if (write(c, head, strlen(head)) < 0 || (body && write(c, body, n) < 0))
        _exit(4);
    free(body);
    if ((lf = fopen(log, "a")) != NULL) {
        fprintf(lf, "%d\n", status);
        fclose(lf);
    }
}

/* Starts the server on a free port; returns the child's pid. */
static pid_t http_start(int *port, const char *file, const char *log)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    cr_assert_geq(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 8), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    cr_assert_geq(pid = fork(), 0);
    if (pid == 0) {
        alarm(60); /* never outlive a test that failed half way */
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                _exit(2);
            http_answer(c, file, log);
            close(c);
        }
    }
    close(fd);
    return pid;
}

Test(ingest_source_tarball, url_uses_etag_and_304)
{
    static const tar_item v1[] = {{"gd-1/version", "1.0.0\n"},
                                  {"gd-1/channels/a.yaml", "name: a\n"}};
    static const tar_item v2[] = {{"gd-2/version", "1.0.0\n"},
                                  {"gd-2/channels/a.yaml", "name: a\nversions: []\n"}};
    char tmp[256], tar[512], cache[512], log[512], url[256], missing[256];
    char *rev = NULL, *dir = NULL, *rev2 = NULL, *dir2 = NULL, *r = SENTINEL, *d = SENTINEL, *text;
    ingest_source *src, *bad;
    cincy_error e;
    int changed = -1, port, status;
    pid_t pid;

    test_tmpdir(tmp, sizeof(tmp));
    TEST_SNPRINTF(tar, "%s/gd.tar.gz", tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    TEST_SNPRINTF(log, "%s/http.log", tmp);
    make_tar(tar, v1, 2);
    pid = http_start(&port, tar, log);
    TEST_SNPRINTF(url, "http://127.0.0.1:%d/gd.tar.gz", port);
    TEST_SNPRINTF(missing, "http://127.0.0.1:%d/nope.tar.gz", port);
    src = new_tarball(url, cache);

    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    check_file(dir, "channels/a.yaml", "name: a\n");

    cr_assert_eq(ingest_source_fetch(src, rev, &r, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 0);
    cr_assert_eq(r, SENTINEL);

    make_tar(tar, v2, 2);
    cr_assert_eq(ingest_source_fetch(src, rev, &rev2, &dir2, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    check_file(dir2, "channels/a.yaml", "name: a\nversions: []\n");

    TEST_SNPRINTF(cache, "%s/cache-bad", tmp); /* sources never share a cache */
    bad = new_tarball(missing, cache);
    changed = -1;
    cr_assert_eq(ingest_source_fetch(bad, NULL, &r, &d, &changed, &e), CINCY_ERROR);
    TEST_SNPRINTF(url, "tarball '%s': http status 404", missing);
    cr_assert_str_eq(e.msg, url);
    cr_assert_eq(changed, -1);
    cr_assert_eq(d, SENTINEL);

    text = test_slurp(log);
    cr_assert_str_eq(text, "200\n304\n200\n404\n", "the second poll must be a 304");
    free(text);

    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    free(rev);
    free(dir);
    free(rev2);
    free(dir2);
    ingest_source_free(src);
    ingest_source_free(bad);
    test_rm_rf(tmp);
}
