/* ingest/source.c - graph-data sources: config, dispatch and the directory kind.
 * The refresh loop asks a source for its revision and rebuilds the graph only
 * when it changed. A directory's revision is a SHA-256 over exactly the files
 * the server reads, so an editor's swap file or a README edit does not cause
 * a rebuild, while any channel or blocked-edge change does. The git,
 * tarball and image kinds live in source_git.c, source_tarball.c and
 * source_image.c. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ingest/ingest_internal.h"

/* A graph-data file is a few KB; raw/metadata.json is the largest at a few
 * MB. The cap only stops a stray huge file from being read into memory. */
#define SOURCE_FILE_CAP (64u * 1024 * 1024)

static const char *const wanted_top[] = {"version", "LICENSE", "channels", "blocked-edges", "raw"};

int ingest_source_wanted(const char *name)
{
    for (size_t i = 0; i < sizeof(wanted_top) / sizeof(wanted_top[0]); i++)
        if (strcmp(name, wanted_top[i]) == 0)
            return 1;
    return 0;
}

void ingest_hex(char *out, const unsigned char *digest, size_t len)
{
    static const char hexdig[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdig[digest[i] >> 4];
        out[2 * i + 1] = hexdig[digest[i] & 15];
    }
    out[2 * len] = '\0';
}

int ingest_rm_rf(const char *path, cincy_error *err)
{
    struct stat st;
    char **names = NULL;
    size_t n = 0;
    int error = 0;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0
                               : cincy_error_set(err, CINCY_ERROR, path, 0, "%s", strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0)
            return cincy_error_set(err, CINCY_ERROR, path, 0, "remove: %s", strerror(errno));
        return 0;
    }
    if ((error = ingest_list_dir(&names, &n, path, err)) < 0)
        return error;
    for (size_t i = 0; i < n && error == 0; i++) {
        char *sub = ingest_path_join(path, names[i]);
        error = sub ? ingest_rm_rf(sub, err) : ingest_oom(err);
        free(sub);
    }
    ingest_strv_free(names, n);
    if (error == 0 && rmdir(path) < 0)
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "remove: %s", strerror(errno));
    return error;
}

void ingest_source_prune(const char *dir, const char *keep)
{
    char **names = NULL;
    size_t n = 0;

    if (ingest_list_dir(&names, &n, dir, NULL) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char *sub;
        if (keep && strcmp(names[i], keep) == 0)
            continue;
        if ((sub = ingest_path_join(dir, names[i])) != NULL)
            ingest_rm_rf(sub, NULL);
        free(sub);
    }
    ingest_strv_free(names, n);
}

/* Feeds one file into the digest as "<rel>\0<length as 8 bytes>\0<bytes>", so
 * moving bytes from one file to the next cannot give the same digest. */
static int hash_file(EVP_MD_CTX *md, const char *dir, const char *rel, cincy_error *err)
{
    char *path = ingest_path_join(dir, rel), *data = NULL;
    size_t len = 0;
    unsigned char lenbuf[8];
    int error;

    if (!path)
        return ingest_oom(err);
    if ((error = ingest_read_file(&data, &len, path, SOURCE_FILE_CAP, rel, err)) < 0)
        goto cleanup;
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)len >> (8 * (7 - i)));
    if (!EVP_DigestUpdate(md, rel, strlen(rel) + 1) || !EVP_DigestUpdate(md, lenbuf, 8) ||
        !EVP_DigestUpdate(md, "", 1) || !EVP_DigestUpdate(md, data, len))
        error = cincy_error_set(err, CINCY_ERROR, rel, 0, "sha-256 failed");
cleanup:
    free(path);
    free(data);
    return error;
}

/* Hashes the regular files directly in <dir>/<sub>, in name order. A missing
 * subdirectory hashes as nothing: the graph-data loader reports it. */
static int hash_subdir(EVP_MD_CTX *md, const char *dir, const char *sub, cincy_error *err)
{
    char *subpath = ingest_path_join(dir, sub);
    char **names = NULL;
    size_t n = 0;
    int error = 0;

    if (!subpath)
        return ingest_oom(err);
    if (!ingest_is_dir(subpath))
        goto cleanup;
    if ((error = ingest_list_dir(&names, &n, subpath, err)) < 0)
        goto cleanup;
    for (size_t i = 0; i < n && error == 0; i++) {
        char *rel = ingest_path_join(sub, names[i]), *full = ingest_path_join(subpath, names[i]);
        if (!rel || !full)
            error = ingest_oom(err);
        else if (ingest_is_file(full))
            error = hash_file(md, dir, rel, err);
        free(rel);
        free(full);
    }
cleanup:
    ingest_strv_free(names, n);
    free(subpath);
    return error;
}

static int dir_revision(char **out, const char *dir, cincy_error *err)
{
    /* The order is fixed and each list is sorted, so equal trees hash equal. */
    static const char *const files[] = {"raw/metadata.json", "version"};
    static const char *const subdirs[] = {"blocked-edges", "channels"};
    EVP_MD_CTX *md = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    int error = 0;

    if (!ingest_is_dir(dir))
        return cincy_error_set(err, CINCY_ENOTFOUND, NULL, 0,
                               "graph-data directory '%s' does not exist", dir);
    if (!(md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "sha-256 init failed");
        goto cleanup;
    }
    for (size_t i = 0; i < 2 && error == 0; i++) {
        char *full = ingest_path_join(dir, files[i]);
        if (!full)
            error = ingest_oom(err);
        else if (ingest_is_file(full))
            error = hash_file(md, dir, files[i], err);
        free(full);
    }
    for (size_t i = 0; i < 2 && error == 0; i++)
        error = hash_subdir(md, dir, subdirs[i], err);
    if (error < 0)
        goto cleanup;
    if (!EVP_DigestFinal_ex(md, digest, &dlen)) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "sha-256 failed");
        goto cleanup;
    }
    ingest_hex(hex, digest, dlen);
    if (!(*out = strdup(hex)))
        error = ingest_oom(err);
cleanup:
    EVP_MD_CTX_free(md);
    return error;
}

static int dir_fetch(ingest_source *src, const char *known, char **out_revision, char **out_dir,
                     int *changed, cincy_error *err)
{
    char *rev = NULL, *dir = NULL;
    int error;

    if ((error = dir_revision(&rev, src->location, err)) < 0)
        return error;
    if (known && strcmp(known, rev) == 0) {
        free(rev);
        *changed = 0;
        return 0;
    }
    if (!(dir = strdup(src->location))) {
        free(rev);
        return ingest_oom(err);
    }
    *out_revision = rev;
    *out_dir = dir;
    *changed = 1;
    return 0;
}

/* The image kind keeps its own copy of the registry settings (the caller's
 * strings need not outlive the source); the repository is the location. */
static int copy_registry(ingest_source *src, const ingest_registry_config *reg, cincy_error *err)
{
    if (!reg)
        return 0;
    src->registry = *reg;
    src->registry.repository = NULL;
    src->registry.cache_dir = NULL;
    src->registry.auth_file = src->registry.ca_file = NULL;
    if ((reg->auth_file && !(src->reg_auth_file = strdup(reg->auth_file))) ||
        (reg->ca_file && !(src->reg_ca_file = strdup(reg->ca_file))))
        return ingest_oom(err);
    src->registry.auth_file = src->reg_auth_file;
    src->registry.ca_file = src->reg_ca_file;
    return 0;
}

int ingest_source_new(ingest_source **out, const ingest_source_config *cfg, cincy_error *err)
{
    ingest_source *src = NULL;
    int error = 0;

    if (!cfg->location || !*cfg->location)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "source: location is empty");
    if (cfg->kind != INGEST_SOURCE_DIRECTORY && cfg->kind != INGEST_SOURCE_GIT &&
        cfg->kind != INGEST_SOURCE_TARBALL && cfg->kind != INGEST_SOURCE_IMAGE)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "source: unknown kind %d",
                               (int)cfg->kind);
    if (cfg->kind != INGEST_SOURCE_DIRECTORY && (!cfg->cache_dir || !*cfg->cache_dir))
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "source '%s': a cache directory is required", cfg->location);
    if (cfg->reference && cfg->kind != INGEST_SOURCE_GIT)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "source '%s': only a git source takes a branch or commit",
                               cfg->location);
    if (cfg->reference && !*cfg->reference)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "source '%s': the branch or commit is empty", cfg->location);

    if (!(src = calloc(1, sizeof(*src))))
        return ingest_oom(err);
    src->kind = cfg->kind;
    if (!(src->location = strdup(cfg->location)) ||
        (cfg->reference && !(src->reference = strdup(cfg->reference))) ||
        (cfg->kind != INGEST_SOURCE_DIRECTORY && !(src->cache_dir = strdup(cfg->cache_dir)))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if (cfg->kind == INGEST_SOURCE_IMAGE && (error = copy_registry(src, cfg->registry, err)) < 0)
        goto cleanup;
    *out = src;
    src = NULL;
cleanup:
    ingest_source_free(src);
    return error;
}

void ingest_source_free(ingest_source *src)
{
    if (!src)
        return;
    free(src->location);
    free(src->reference);
    free(src->cache_dir);
    free(src->etag);
    free(src->last_modified);
    free(src->reg_auth_file);
    free(src->reg_ca_file);
    free(src);
}

int ingest_source_fetch(ingest_source *src, const char *known, char **out_revision, char **out_dir,
                        int *changed, cincy_error *err)
{
    assert(src && out_revision && out_dir && changed);
    switch (src->kind) {
    case INGEST_SOURCE_GIT:
        return ingest_source_git_fetch(src, known, out_revision, out_dir, changed, err);
    case INGEST_SOURCE_TARBALL:
        return ingest_source_tarball_fetch(src, known, out_revision, out_dir, changed, err);
    case INGEST_SOURCE_IMAGE:
        return ingest_source_image_fetch(src, known, out_revision, out_dir, changed, err);
    default:
        return dir_fetch(src, known, out_revision, out_dir, changed, err);
    }
}
