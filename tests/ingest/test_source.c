/* tests/ingest/test_source.c - graph-data sources: config checks, the directory
 * kind and the git kind. The git tests fetch from a copy of
 * tests/data/graph-data.git, a bare repository holding 57 snapshots of the
 * upstream graph-data (master at b12fcda), and advance it with libgit2. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <git2.h>

#include "ingest/ingest.h"
#include "ingest_test_util.h"

#define GD_REPO CINCY_SOURCE_DIR "/tests/data/graph-data.git"
#define GD_OLDEST "c672f2b120c36284db8f7d285b20be7d1bd5f518"
#define GD_MASTER "b12fcda4577b3921728dec71476a7d51ea9b5bd6"
#define SENTINEL ((char *)"untouched")

static void copy_tree(const char *from, const char *to)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    cr_assert_eq(lstat(from, &st), 0, "stat %s", from);
    if (S_ISDIR(st.st_mode)) {
        mkdir(to, 0755);
        cr_assert_not_null(d = opendir(from));
        while ((de = readdir(d)) != NULL) {
            char a[4096], b[4096];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            TEST_SNPRINTF(a, "%s/%s", from, de->d_name);
            TEST_SNPRINTF(b, "%s/%s", to, de->d_name);
            copy_tree(a, b);
        }
        closedir(d);
    } else {
        char buf[65536];
        size_t n;
        FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
        cr_assert(in && out, "copy %s", from);
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            cr_assert_eq(fwrite(buf, 1, n, out), n);
        fclose(in);
        fclose(out);
    }
}

/* <tmp>/remote.git: the fixture, with the refs/ directories git cannot
 * track in the cincy repository (a bare repository needs them). */
static void make_remote(char *remote, size_t size, const char *tmp)
{
    char sub[4096];
    cr_assert(snprintf(remote, size, "%s/remote.git", tmp) < (int)size);
    copy_tree(GD_REPO, remote);
    TEST_SNPRINTF(sub, "%s/refs", remote);
    mkdir(sub, 0755);
    TEST_SNPRINTF(sub, "%s/refs/heads", remote);
    mkdir(sub, 0755);
    TEST_SNPRINTF(sub, "%s/refs/tags", remote);
    mkdir(sub, 0755);
}

static ingest_source *new_source(ingest_source_kind kind, const char *location,
                                 const char *reference, const char *cache)
{
    ingest_source_config cfg = {kind, location, reference, cache, NULL};
    ingest_source *src = NULL;
    cincy_error e;
    cr_assert_eq(ingest_source_new(&src, &cfg, &e), 0, "%s", test_fmt(&e));
    return src;
}

static long file_size(const char *dir, const char *rel)
{
    char path[4096];
    struct stat st;
    TEST_SNPRINTF(path, "%s/%s", dir, rel);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---------------------------------------------------------------------------
 * Config
 */
Test(ingest_source_config, rejects_bad_configs)
{
    ingest_source_config cfg = {INGEST_SOURCE_GIT, "https://example.com/x.git", NULL, NULL, NULL};
    static char mark;
    ingest_source *src = (ingest_source *)&mark;
    cincy_error e;

    cr_assert_eq(ingest_source_new(&src, &cfg, &e), CINCY_EINVALID);
    cr_assert_str_eq(e.msg, "source 'https://example.com/x.git': a cache directory is required");
    cfg.kind = INGEST_SOURCE_DIRECTORY;
    cfg.location = "";
    cr_assert_eq(ingest_source_new(&src, &cfg, &e), CINCY_EINVALID);
    cr_assert_str_eq(e.msg, "source: location is empty");
    cfg.location = "/srv/gd";
    cfg.reference = "master";
    cr_assert_eq(ingest_source_new(&src, &cfg, &e), CINCY_EINVALID);
    cr_assert_str_eq(e.msg, "source '/srv/gd': only a git source takes a branch or commit");
    cr_assert_eq((void *)src, (void *)&mark, "out written on failure");
    ingest_source_free(NULL);
}

/* ---------------------------------------------------------------------------
 * Directory
 */
Test(ingest_source_dir, revision_follows_the_files_the_server_reads)
{
    char tmp[256], *rev1 = NULL, *rev2 = NULL, *dir = NULL, *r = SENTINEL, *d = SENTINEL;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    test_graph_data_skeleton(tmp, "1.0.0\n");
    src = new_source(INGEST_SOURCE_DIRECTORY, tmp, NULL, NULL);

    cr_assert_eq(ingest_source_fetch(src, NULL, &rev1, &dir, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    cr_assert_str_eq(dir, tmp);
    cr_assert_eq(strlen(rev1), 64);
    cr_assert_eq(strspn(rev1, "0123456789abcdef"), 64);

    /* Files the server does not read leave the revision alone. */
    test_write(tmp, "README.md", "hello\n");
    test_write(tmp, ".stable-4.16.yaml.swp", "junk");
    test_write(tmp, "raw/other.json", "{}");
    cr_assert_eq(ingest_source_fetch(src, rev1, &r, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 0);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);

    /* A channel edit changes it. */
    test_write(tmp, "channels/stable-4.16.yaml", "name: stable-4.16\nversions: [4.16.0, 4.16.1]\n");
    cr_assert_eq(ingest_source_fetch(src, rev1, &rev2, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    cr_assert_str_neq(rev2, rev1);
    free(d);

    /* So does a new blocked edge, and a rename of one. */
    free(rev1);
    rev1 = rev2;
    rev2 = NULL;
    test_write(tmp, "blocked-edges/4.16.1.yaml", "to: 4.16.1\nfrom: .*\n");
    cr_assert_eq(ingest_source_fetch(src, rev1, &rev2, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    free(d);

    free(rev1);
    free(rev2);
    free(dir);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

Test(ingest_source_dir, missing_directory_is_named)
{
    char *r = SENTINEL, *d = SENTINEL;
    ingest_source *src = new_source(INGEST_SOURCE_DIRECTORY, "/nonexistent/gd", NULL, NULL);
    cincy_error e;
    int changed = -1;

    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_ENOTFOUND);
    cr_assert_str_eq(e.msg, "graph-data directory '/nonexistent/gd' does not exist");
    cr_assert_eq(changed, -1);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);
    ingest_source_free(src);
}

/* ---------------------------------------------------------------------------
 * Git
 */
Test(ingest_source_git, pinned_commit_materialises_that_commit)
{
    char tmp[256], remote[512], cache[512], *rev = NULL, *dir = NULL, *r = SENTINEL, *d = SENTINEL;
    char path[4096], *text;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    make_remote(remote, sizeof(remote), tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    src = new_source(INGEST_SOURCE_GIT, remote, GD_OLDEST, cache);

    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    cr_assert_str_eq(rev, GD_OLDEST);
    TEST_SNPRINTF(path, "%s/trees/%s", cache, GD_OLDEST);
    cr_assert_str_eq(dir, path);
    /* Checked by hand: git show <commit>:channels/stable-4.14.yaml | wc -lc
     * gives 76 lines, 778 bytes; the commit has 52 channel files, 1018 in all. */
    cr_assert_eq(file_size(dir, "channels/stable-4.14.yaml"), 778);
    TEST_SNPRINTF(path, "%s/channels", dir);
    cr_assert_eq(test_count_files(path), 52);
    cr_assert_eq(test_count_files(dir), 1018);
    TEST_SNPRINTF(path, "%s/version", dir);
    text = test_slurp(path);
    cr_assert_str_eq(text, "1.1.0\n");
    free(text);

    /* Same commit again: nothing happens, not even a fetch. */
    cr_assert_eq(ingest_source_fetch(src, rev, &r, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 0);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);

    free(rev);
    free(dir);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

/* Commits a new master on the bare repository at remote: channels/stable-4.14.yaml
 * gets content, and an unwanted top-level file appears. Returns the commit id. */
static void advance_remote(char *hex, const char *remote, const char *content)
{
    git_repository *repo = NULL;
    git_reference *head = NULL;
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_oid blob, readme, tree_id, commit_id;
    git_tree_update upd[2];
    const git_commit *parents[1];

    cr_assert_geq(git_libgit2_init(), 1);
    cr_assert_eq(git_repository_open_bare(&repo, remote), 0);
    cr_assert_eq(git_reference_lookup(&head, repo, "refs/heads/master"), 0);
    cr_assert_eq(git_commit_lookup(&parent, repo, git_reference_target(head)), 0);
    cr_assert_eq(git_commit_tree(&base, parent), 0);
    cr_assert_eq(git_blob_create_from_buffer(&blob, repo, content, strlen(content)), 0);
    cr_assert_eq(git_blob_create_from_buffer(&readme, repo, "docs\n", 5), 0);
    memset(upd, 0, sizeof(upd));
    upd[0].action = GIT_TREE_UPDATE_UPSERT;
    upd[0].id = blob;
    upd[0].filemode = GIT_FILEMODE_BLOB;
    upd[0].path = "channels/stable-4.14.yaml";
    upd[1].action = GIT_TREE_UPDATE_UPSERT;
    upd[1].id = readme;
    upd[1].filemode = GIT_FILEMODE_BLOB;
    upd[1].path = "docs/README.md";
    cr_assert_eq(git_tree_create_updated(&tree_id, repo, base, 2, upd), 0);
    cr_assert_eq(git_tree_lookup(&tree, repo, &tree_id), 0);
    cr_assert_eq(git_signature_new(&sig, "test", "test@example.com", 1700000000, 0), 0);
    parents[0] = parent;
    cr_assert_eq(git_commit_create(&commit_id, repo, "refs/heads/master", sig, sig, NULL, "advance",
                                   tree, 1, parents),
                 0, "%s", git_error_last() ? git_error_last()->message : "");
    git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &commit_id);
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    git_reference_free(head);
    git_repository_free(repo);
    git_libgit2_shutdown();
}

static void check_branch_follows_remote(const char *reference, int file_url)
{
    char tmp[256], remote[512], location[600], cache[512], newest[GIT_OID_HEXSZ + 1];
    char *rev = NULL, *dir = NULL, *rev2 = NULL, *dir2 = NULL, *r = SENTINEL, *d = SENTINEL;
    char path[4096], *text;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    make_remote(remote, sizeof(remote), tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    TEST_SNPRINTF(location, "%s%s", file_url ? "file://" : "", remote);
    src = new_source(INGEST_SOURCE_GIT, location, reference, cache);

    cr_assert_eq(ingest_source_fetch(src, NULL, &rev, &dir, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    cr_assert_str_eq(rev, GD_MASTER);
    /* git show b12fcda:channels/stable-4.14.yaml | wc -lc: 180 lines, 1779 bytes. */
    cr_assert_eq(file_size(dir, "channels/stable-4.14.yaml"), 1779);
    cr_assert_eq(test_count_files(dir), 1797);

    cr_assert_eq(ingest_source_fetch(src, rev, &r, &d, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 0);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);

    advance_remote(newest, remote, "name: stable-4.14\nversions: [4.14.99]\n");
    cr_assert_eq(ingest_source_fetch(src, rev, &rev2, &dir2, &changed, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(changed, 1);
    cr_assert_str_eq(rev2, newest);
    TEST_SNPRINTF(path, "%s/channels/stable-4.14.yaml", dir2);
    text = test_slurp(path);
    cr_assert_str_eq(text, "name: stable-4.14\nversions: [4.14.99]\n");
    free(text);
    /* Only graph-data paths are written; the previous tree is gone. */
    cr_assert_eq(file_size(dir2, "docs/README.md"), -1);
    cr_assert_eq(test_count_files(dir2), 1797);
    cr_assert_neq(access(dir, F_OK), 0, "old tree %s still there", dir);

    free(rev);
    free(dir);
    free(rev2);
    free(dir2);
    ingest_source_free(src);
    test_rm_rf(tmp);
}

Test(ingest_source_git, branch_follows_the_remote)
{
    check_branch_follows_remote("master", 0);
}

Test(ingest_source_git, full_ref_name)
{
    check_branch_follows_remote("refs/heads/master", 0);
}

Test(ingest_source_git, default_branch_over_file_url)
{
    check_branch_follows_remote(NULL, 1);
}

Test(ingest_source_git, failures_name_the_location_and_touch_nothing)
{
    char tmp[256], remote[512], missing[512], cache[512], expect[1024];
    char *r = SENTINEL, *d = SENTINEL;
    ingest_source *src;
    cincy_error e;
    int changed = -1;

    test_tmpdir(tmp, sizeof(tmp));
    make_remote(remote, sizeof(remote), tmp);
    TEST_SNPRINTF(cache, "%s/cache", tmp);
    TEST_SNPRINTF(missing, "%s/nope.git", tmp);

    src = new_source(INGEST_SOURCE_GIT, missing, "master", cache);
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_ERROR);
    cr_assert(strstr(e.msg, missing) != NULL, "message does not name the location: %s", e.msg);
    cr_assert(strncmp(e.msg, "git '", 5) == 0, "%s", e.msg);
    cr_assert_eq(changed, -1);
    cr_assert_eq(r, SENTINEL);
    cr_assert_eq(d, SENTINEL);
    ingest_source_free(src);

    src = new_source(INGEST_SOURCE_GIT, remote, "no-such-branch", cache);
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_ENOTFOUND);
    TEST_SNPRINTF(expect, "git '%s': branch 'no-such-branch' not found", remote);
    cr_assert_str_eq(e.msg, expect);
    cr_assert_eq(changed, -1);
    cr_assert_eq(r, SENTINEL);
    ingest_source_free(src);

    src = new_source(INGEST_SOURCE_GIT, remote, "0123456789012345678901234567890123456789", cache);
    cr_assert_eq(ingest_source_fetch(src, NULL, &r, &d, &changed, &e), CINCY_ENOTFOUND);
    cr_assert(strstr(e.msg, "commit 0123456789012345678901234567890123456789 not found"), "%s",
              e.msg);
    cr_assert_eq(d, SENTINEL);
    ingest_source_free(src);
    test_rm_rf(tmp);
}
