/* tests/server/test_graph_data_tar.c - GET P/graph-data (spec §1.8.2): the
 * graph-data in use as a deterministic .tar.gz, over real HTTP against the
 * in-process fixture (server_fixture.h). The archive is opened with libarchive
 * and compared with the fixture's graph-data directory.
 */
#include <archive.h>
#include <archive_entry.h>

#include "server_fixture.h"

#define GRAPH_DATA "/api/upgrades_info/graph-data"

TestSuite(server_graph_data_tar, .fini = stop, .timeout = 120);

static void assert_header(const stest_resp *r, const char *name, const char *want)
{
    char buf[512];
    const char *got = stest_header(r, name, buf, sizeof(buf));

    cr_assert_str_eq(got ? got : "(absent)", want, "header %s", name);
}

/* Lists the archive's entries as "path\n..." into names, and copies the
 * bytes of entry want (if present) into content. Asserts the deterministic
 * metadata of every entry. */
static void read_tar(const stest_buf *body, char *names, size_t names_size, const char *want,
                     char *content, size_t content_size)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    size_t pos = 0;

    cr_assert_not_null(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    cr_assert_eq(archive_read_open_memory(a, body->data, body->len), ARCHIVE_OK, "%s",
                 archive_error_string(a));
    names[0] = '\0';
    content[0] = '\0';
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *path = archive_entry_pathname(e);
        pos += (size_t)snprintf(names + pos, names_size - pos, "%s\n", path);
        cr_assert_lt(pos, names_size);
        cr_assert_eq(archive_entry_filetype(e), AE_IFREG, "%s", path);
        cr_assert_eq(archive_entry_perm(e), 0644, "%s", path);
        cr_assert_eq(archive_entry_mtime(e), 0, "%s", path);
        cr_assert_eq(archive_entry_uid(e), 0, "%s", path);
        cr_assert_eq(archive_entry_gid(e), 0, "%s", path);
        if (!strcmp(path, want)) {
            la_ssize_t n = archive_read_data(a, content, content_size - 1);
            cr_assert_geq(n, 0, "%s", archive_error_string(a));
            content[n] = '\0';
        }
    }
    cr_assert_eq(archive_read_free(a), ARCHIVE_OK);
}

Test(server_graph_data_tar, before_load_is_file_open_err)
{
    stest_resp r;

    start(0, NULL, 0);
    r = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(r.status, 500);
    assert_header(&r, "Content-Type", "application/json");
    cr_assert_str_eq(r.body.data,
                     "{\"kind\":\"file_open_err\",\"value\":\"graph-data tarball not available yet\"}");
    stest_resp_free(&r);
}

Test(server_graph_data_tar, serves_the_loaded_graph_data)
{
    char dir[512], names[1024], content[256];
    stest_resp r;
    cincy_error err;

    start(0, NULL, 0);
    /* Files outside the served set stay out of the archive. */
    TEST_SNPRINTF(dir, "%s/graph-data", tmp);
    test_write(dir, "README.md", "not served\n");
    test_write(dir, "channels/notes.txt", "not served\n");
    test_write(dir, "LICENSE", "Apache-2.0\n");
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);

    r = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(r.status, 200, "body %s", r.body.data);
    assert_header(&r, "Content-Type", "application/gzip");
    assert_header(&r, "Content-Disposition", "attachment; filename=\"graph-data.tar.gz\"");
    cr_assert_gt(r.body.len, 2);
    cr_assert_eq((unsigned char)r.body.data[0], 0x1f); /* gzip magic */
    cr_assert_eq((unsigned char)r.body.data[1], 0x8b);
    read_tar(&r.body, names, sizeof(names), "channels/stable-4.2.yaml", content,
             sizeof(content));
    cr_assert_str_eq(names, "LICENSE\n"
                            "blocked-edges/4.2.0-TestRisk.yaml\n"
                            "blocked-edges/4.2.1-pure.yaml\n"
                            "channels/stable-4.1.yaml\n"
                            "channels/stable-4.2.yaml\n"
                            "raw/metadata.json\n"
                            "version\n");
    cr_assert_str_eq(content, "name: stable-4.2\nversions: [4.1.0, 4.1.1, 4.2.0, 4.2.1]\n");
    stest_resp_free(&r);
}

Test(server_graph_data_tar, deterministic_bytes_and_etag)
{
    char etag1[128], etag2[128], etag3[128], inm[160];
    stest_resp a, b, c, nm;
    cincy_error err;

    start(1, NULL, 0);
    a = req("GET", graph_base, GRAPH_DATA, NULL);
    b = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(a.status, 200);
    cr_assert_eq(b.status, 200);
    cr_assert_not_null(stest_header(&a, "ETag", etag1, sizeof(etag1)));
    cr_assert_not_null(stest_header(&b, "ETag", etag2, sizeof(etag2)));
    cr_assert_str_eq(etag1, etag2);
    cr_assert_eq(etag1[0], '"');
    cr_assert_eq(a.body.len, b.body.len);
    cr_assert_eq(memcmp(a.body.data, b.body.data, a.body.len), 0);

    /* A reload of unchanged graph-data rebuilds the archive: same bytes. */
    sleep(1); /* a timestamp leaking into the archive would now differ */
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
    c = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(c.status, 200);
    cr_assert_not_null(stest_header(&c, "ETag", etag3, sizeof(etag3)));
    cr_assert_str_eq(etag3, etag1);
    cr_assert_eq(c.body.len, a.body.len);
    cr_assert_eq(memcmp(c.body.data, a.body.data, a.body.len), 0);

    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag1);
    {
        const char *headers[] = {inm, NULL};
        nm = req("GET", graph_base, GRAPH_DATA, headers);
    }
    cr_assert_eq(nm.status, 304);
    cr_assert_eq(nm.body.len, 0);
    assert_header(&nm, "ETag", etag1);
    stest_resp_free(&a);
    stest_resp_free(&b);
    stest_resp_free(&c);
    stest_resp_free(&nm);
}

Test(server_graph_data_tar, changed_graph_data_changes_etag)
{
    char dir[512], etag1[128], etag2[128];
    stest_resp a, b;
    cincy_error err;

    start(1, NULL, 0);
    a = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_not_null(stest_header(&a, "ETag", etag1, sizeof(etag1)));
    TEST_SNPRINTF(dir, "%s/graph-data", tmp);
    test_write(dir, "LICENSE", "changed\n"); /* not parsed by the load, still served */
    cr_assert_eq(server_reload(srv, &err), 0, "%s", err.msg);
    b = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(b.status, 200);
    cr_assert_not_null(stest_header(&b, "ETag", etag2, sizeof(etag2)));
    cr_assert_str_neq(etag1, etag2);
    stest_resp_free(&a);
    stest_resp_free(&b);
}

Test(server_graph_data_tar, other_methods_are_405)
{
    stest_resp r;

    start(1, NULL, 0);
    r = req("POST", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(r.status, 405);
    assert_header(&r, "Allow", "GET");
    cr_assert_eq(r.body.len, 0);
    stest_resp_free(&r);
    r = req("HEAD", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(r.status, 405);
    stest_resp_free(&r);
}

Test(server_graph_data_tar, follows_the_path_prefix)
{
    stest_resp r;

    start(1, "/custom", 0);
    r = req("GET", graph_base, "/custom/graph-data", NULL);
    cr_assert_eq(r.status, 200);
    assert_header(&r, "Content-Type", "application/gzip");
    stest_resp_free(&r);
    r = req("GET", graph_base, GRAPH_DATA, NULL);
    cr_assert_eq(r.status, 404);
    stest_resp_free(&r);
}
