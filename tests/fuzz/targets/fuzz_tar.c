/* tests/fuzz/targets/fuzz_tar.c - a graph-data tarball (.tar, .tar.gz or any
 * filter libarchive reads) through the tarball source: scan, strip, extract.
 *
 * Invariants: the revision is the SHA-256 of the archive bytes; the tree
 * extracted holds only directories and regular files (no link of any
 * kind), every one inside the tree, under the top-level names the server
 * reads; a refused archive leaves no tree behind; and the tree loads as
 * graph-data or fails with a message.
 */
#include <openssl/evp.h>

#include "fuzz/targets/fuzz_util.h"
#include "ingest/ingest_internal.h"

static char archive[512], cache[512];

static void sha256_hex(char out[65], const uint8_t *data, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    FUZZ_SETUP(EVP_Digest(data, size, md, &n, EVP_sha256(), NULL) == 1 && n == 32);
    ingest_hex(out, md, n);
}

/* Every entry under path is a directory or a regular file (lstat: links are
 * seen as links). depth 0 is the tree itself: its entries must be wanted. */
static void check_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    struct dirent *de;

    FUZZ_CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        char sub[4096];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (depth == 0)
            FUZZ_CHECK(ingest_source_wanted(de->d_name));
        FUZZ_SETUP(snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < (int)sizeof(sub));
        FUZZ_CHECK(lstat(sub, &st) == 0);
        FUZZ_CHECK(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
        if (S_ISDIR(st.st_mode))
            check_tree(sub, depth + 1);
    }
    closedir(d);
}

/* Number of trees under cache/trees (each fetch keeps one at most). */
static size_t count_trees(void)
{
    char trees[600];
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    snprintf(trees, sizeof(trees), "%s/trees", cache);
    if (!(d = opendir(trees)))
        return 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_source_config cfg = {0};
    ingest_source *src = NULL;
    ingest_graph_data *gd = NULL;
    char *rev = NULL, *dir = NULL, hex[65];
    int changed = -1;
    cincy_error err;

    fuzz_quiet();
    if (!archive[0]) {
        snprintf(archive, sizeof(archive), "%s/in.tar.gz", fuzz_tmpdir());
        snprintf(cache, sizeof(cache), "%s/cache", fuzz_tmpdir());
    }
    fuzz_rm_rf(cache); /* each input starts cold, as a first fetch */
    fuzz_write(fuzz_tmpdir(), "in.tar.gz", data, size);
    cfg.kind = INGEST_SOURCE_TARBALL;
    cfg.location = archive;
    cfg.cache_dir = cache;
    FUZZ_SETUP(ingest_source_new(&src, &cfg, &err) == 0);
    if (ingest_source_fetch(src, NULL, &rev, &dir, &changed, &err) < 0) {
        FUZZ_CHECK(err.msg[0] && rev == NULL && dir == NULL);
        FUZZ_CHECK(count_trees() == 0);
        ingest_source_free(src);
        return 0;
    }
    sha256_hex(hex, data, size);
    FUZZ_CHECK(changed == 1 && rev && strcmp(rev, hex) == 0);
    FUZZ_CHECK(dir && strncmp(dir, cache, strlen(cache)) == 0);
    check_tree(dir, 0);
    FUZZ_CHECK(count_trees() == 1);
    if (ingest_graph_data_load(&gd, dir, INGEST_GD_STRICT, &err) < 0)
        FUZZ_CHECK(err.msg[0]);
    ingest_graph_data_free(gd);
    free(rev);
    free(dir);
    ingest_source_free(src);
    return 0;
}
