/* ingest/source_tarball.c - graph-data from a .tar.gz file or URL.
 * A URL is downloaded with libcurl into <cache_dir>/archive.tar.gz, sending
 * the previous response's ETag and Last-Modified so an unchanged archive
 * costs a 304 and no body. The revision is the SHA-256 of the archive bytes.
 * A new revision is extracted into <cache_dir>/trees/<sha256>, keeping only
 * regular files and directories under the paths the server reads; when the
 * archive holds one top-level directory and nothing else (GitHub's
 * "cincinnati-graph-data-<sha>/" layout) that directory is stripped. Every
 * entry path is checked before anything is written, so an archive with an
 * unsafe path is refused whole rather than half extracted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "ingest/ingest_internal.h"

/* Upstream graph-data packs to well under 10 MB; the caps stop a mistaken
 * URL or a decompression bomb from filling the cache disk or memory. */
#define TAR_DOWNLOAD_CAP (256L * 1024 * 1024) /* compressed archive */
#define TAR_ENTRY_CAP (64L * 1024 * 1024)     /* one extracted file */
#define TAR_TOTAL_CAP (512L * 1024 * 1024)    /* all extracted files */
#define TAR_ENTRIES_MAX 200000                /* upstream has a few thousand */
#define TAR_PATH_MAX 1024

static int is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* ------------------------------------------------------------------------
 * Download
 */

typedef struct download {
    FILE *f;
    curl_off_t size;
    char *etag, *last_modified; /* of the final response */
} download;

static size_t write_cb(char *ptr, size_t size, size_t n, void *ud)
{
    download *d = ud;
    if (d->size + (curl_off_t)n > TAR_DOWNLOAD_CAP)
        return 0; /* curl reports a write error; the cap message is set below */
    d->size += (curl_off_t)n;
    return fwrite(ptr, size, n, d->f);
}

/* Copies a header's value (trimmed) when name matches. */
static void take_header(char **slot, const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name), end;
    const char *v;
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    v = line + nl + 1;
    end = len - nl - 1;
    while (end && (*v == ' ' || *v == '\t')) {
        v++;
        end--;
    }
    while (end && (v[end - 1] == '\r' || v[end - 1] == '\n' || v[end - 1] == ' '))
        end--;
    free(*slot);
    *slot = strndup(v, end);
}

static size_t header_cb(char *line, size_t size, size_t n, void *ud)
{
    download *d = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a redirect): forget the previous one's. */
        free(d->etag);
        free(d->last_modified);
        d->etag = d->last_modified = NULL;
    }
    take_header(&d->etag, line, len, "etag");
    take_header(&d->last_modified, line, len, "last-modified");
    return len;
}

/* Downloads src->location into archive. *not_modified = 1 on a 304 (archive
 * is untouched). Only sends validators when archive exists. */
static int download_url(int *not_modified, ingest_source *src, const char *archive,
                        cincy_error *err)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    download d = {0};
    char *part = NULL, *h = NULL;
    long status = 0;
    CURLcode rc;
    int error = 0;

    if (!(part = malloc(strlen(archive) + 6)))
        return ingest_oom(err);
    sprintf(part, "%s.part", archive);
    if (!(c = curl_easy_init())) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "tarball '%s': curl init failed",
                                src->location);
        goto cleanup;
    }
    if (ingest_is_file(archive)) {
        const char *names[2] = {"If-None-Match: ", "If-Modified-Since: "};
        const char *vals[2] = {src->etag, src->last_modified};
        for (int i = 0; i < 2; i++) {
            struct curl_slist *t;
            if (!vals[i])
                continue;
            if (!(h = malloc(strlen(names[i]) + strlen(vals[i]) + 1)) ||
                !(t = curl_slist_append(hdrs, strcat(strcpy(h, names[i]), vals[i])))) {
                error = ingest_oom(err);
                goto cleanup;
            }
            hdrs = t;
            free(h);
            h = NULL;
        }
    }
    if (!(d.f = fopen(part, "wb"))) {
        error = cincy_error_set(err, CINCY_ERROR, part, 0, "open: %s", strerror(errno));
        goto cleanup;
    }
    curl_easy_setopt(c, CURLOPT_URL, src->location);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* GitHub redirects to codeload */
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TAR_DOWNLOAD_CAP);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cincy");
    rc = curl_easy_perform(c);
    if (fclose(d.f) != 0 && rc == CURLE_OK)
        rc = CURLE_WRITE_ERROR;
    d.f = NULL;
    if (rc != CURLE_OK) {
        error = cincy_error_set(
            err,
            rc == CURLE_FILESIZE_EXCEEDED || d.size >= TAR_DOWNLOAD_CAP ? CINCY_ETOOBIG
                                                                        : CINCY_ERROR,
            NULL, 0, "tarball '%s': %s", src->location,
            d.size >= TAR_DOWNLOAD_CAP ? "archive is too large" : curl_easy_strerror(rc));
        goto cleanup;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 304) {
        *not_modified = 1;
        goto cleanup;
    }
    if (status != 200) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "tarball '%s': http status %ld",
                                src->location, status);
        goto cleanup;
    }
    if (rename(part, archive) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, archive, 0, "rename: %s", strerror(errno));
        goto cleanup;
    }
    *not_modified = 0;
    free(src->etag);
    free(src->last_modified);
    src->etag = d.etag;
    src->last_modified = d.last_modified;
    d.etag = d.last_modified = NULL;
cleanup:
    if (d.f)
        fclose(d.f);
    if (part)
        unlink(part);
    free(part);
    free(h);
    free(d.etag);
    free(d.last_modified);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return error;
}

/* ------------------------------------------------------------------------
 * Hash and extract
 */

static int hash_archive(char *hex, const char *path, const ingest_source *src, cincy_error *err)
{
    EVP_MD_CTX *md = NULL;
    unsigned char buf[65536], digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    size_t n;
    FILE *f = fopen(path, "rb");
    int error = 0;

    if (!f)
        return cincy_error_set(err, errno == ENOENT ? CINCY_ENOTFOUND : CINCY_ERROR, NULL, 0,
                               "tarball '%s': %s", src->location, strerror(errno));
    if (!(md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "sha-256 init failed");
        goto cleanup;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (!EVP_DigestUpdate(md, buf, n)) {
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "sha-256 failed");
            goto cleanup;
        }
    if (ferror(f) || !EVP_DigestFinal_ex(md, digest, &dlen)) {
        error =
            cincy_error_set(err, CINCY_ERROR, NULL, 0, "tarball '%s': read failed", src->location);
        goto cleanup;
    }
    ingest_hex(hex, digest, dlen);
cleanup:
    EVP_MD_CTX_free(md);
    fclose(f);
    return error;
}

static int open_archive(struct archive **out, const char *path, const ingest_source *src,
                        cincy_error *err)
{
    struct archive *a = archive_read_new();
    if (!a)
        return ingest_oom(err);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        int error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "tarball '%s': %s", src->location,
                                    archive_error_string(a));
        archive_read_free(a);
        return error;
    }
    *out = a;
    return 0;
}

static int bad_archive(struct archive *a, const ingest_source *src, cincy_error *err)
{
    return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "tarball '%s': %s", src->location,
                           archive_error_string(a) ? archive_error_string(a) : "read failed");
}

/* First pass: every path is safe, sizes are in bounds, and *prefix (a new
 * string or NULL) is the single top-level directory to strip. */
static int scan_archive(char **prefix, const char *path, const ingest_source *src, cincy_error *err)
{
    struct archive *a = NULL;
    struct archive_entry *e;
    char rel[TAR_PATH_MAX], *top = NULL;
    int strip = 1, r, error, count = 0;
    la_int64_t total = 0;

    if ((error = open_archive(&a, path, src, err)) < 0)
        return error;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        size_t first;
        if (!name || ingest_normalise_entry(rel, sizeof(rel), name, 0) < 0) {
            error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "tarball '%s': unsafe path '%s'",
                                    src->location, name ? name : "(none)");
            goto cleanup;
        }
        total += archive_entry_size(e);
        if (++count > TAR_ENTRIES_MAX || archive_entry_size(e) > TAR_ENTRY_CAP ||
            total > TAR_TOTAL_CAP) {
            error = cincy_error_set(err, CINCY_ETOOBIG, NULL, 0, "tarball '%s': too large at '%s'",
                                    src->location, rel);
            goto cleanup;
        }
        if (!*rel)
            continue;
        first = strcspn(rel, "/");
        if (rel[first] == '\0' && archive_entry_filetype(e) != AE_IFDIR)
            strip = 0; /* a top-level file */
        if (!top && !(top = strndup(rel, first))) {
            error = ingest_oom(err);
            goto cleanup;
        }
        if (strlen(top) != first || strncmp(top, rel, first) != 0)
            strip = 0;
    }
    if (r != ARCHIVE_EOF) {
        error = bad_archive(a, src, err);
        goto cleanup;
    }
    /* An archive that is the graph-data tree itself keeps its "channels/". */
    if (strip && top && !ingest_source_wanted(top)) {
        *prefix = top;
        top = NULL;
    }
cleanup:
    free(top);
    archive_read_free(a);
    return error;
}

static int copy_data(struct archive *a, struct archive *w, const ingest_source *src,
                     cincy_error *err)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;

    while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
        if (archive_write_data_block(w, buf, size, off) < ARCHIVE_OK)
            return cincy_error_set(err, CINCY_ERROR, NULL, 0, "tarball '%s': write: %s",
                                   src->location, archive_error_string(w));
    return r == ARCHIVE_EOF ? 0 : bad_archive(a, src, err);
}

/* Second pass: writes the wanted regular files and directories under dir.
 * archive_write_disk keeps its own ".." and symlink checks; absolute paths
 * are allowed only because we build them from dir and a checked relative
 * path (scan_archive refused absolute entry paths). */
static int extract_archive(const char *path, const char *dir, const char *prefix,
                           const ingest_source *src, cincy_error *err)
{
    struct archive *a = NULL, *w = NULL;
    struct archive_entry *e;
    char rel[TAR_PATH_MAX], full[2 * TAR_PATH_MAX + 4096];
    size_t plen = prefix ? strlen(prefix) : 0;
    int r, error;

    if ((error = open_archive(&a, path, src, err)) < 0)
        return error;
    if (!(w = archive_write_disk_new())) {
        error = ingest_oom(err);
        goto cleanup;
    }
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *sub = rel;
        int type = archive_entry_filetype(e);
        if (ingest_normalise_entry(rel, sizeof(rel), archive_entry_pathname(e), 0) <
            0) { /* scan_archive saw it: cannot be */
            error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "tarball '%s': unsafe path",
                                    src->location);
            goto cleanup;
        }
        if (prefix) {
            if (strncmp(rel, prefix, plen) != 0 || rel[plen] != '/')
                continue; /* the top directory itself */
            sub = rel + plen + 1;
        }
        {
            char topname[TAR_PATH_MAX];
            size_t first = strcspn(sub, "/");
            memcpy(topname, sub, first);
            topname[first] = '\0';
            if (!ingest_source_wanted(topname))
                continue;
        }
        /* Regular files and directories only: links could point out of dir. */
        if ((type != AE_IFREG && type != AE_IFDIR) || archive_entry_hardlink(e) ||
            archive_entry_symlink(e))
            continue;
        if (snprintf(full, sizeof(full), "%s/%s", dir, sub) >= (int)sizeof(full)) {
            error = cincy_error_set(err, CINCY_ETOOBIG, NULL, 0, "tarball '%s': path too long",
                                    src->location);
            goto cleanup;
        }
        archive_entry_set_pathname(e, full);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        if (archive_write_header(w, e) < ARCHIVE_OK) {
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "tarball '%s': write '%s': %s",
                                    src->location, sub, archive_error_string(w));
            goto cleanup;
        }
        if (type == AE_IFREG && (error = copy_data(a, w, src, err)) < 0)
            goto cleanup;
        if (archive_write_finish_entry(w) < ARCHIVE_OK) {
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "tarball '%s': write '%s': %s",
                                    src->location, sub, archive_error_string(w));
            goto cleanup;
        }
    }
    if (r != ARCHIVE_EOF)
        error = bad_archive(a, src, err);
cleanup:
    archive_write_free(w);
    archive_read_free(a);
    return error;
}

int ingest_source_tarball_fetch(ingest_source *src, const char *known, char **out_revision,
                                char **out_dir, int *changed, cincy_error *err)
{
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    char *archive = NULL, *trees = NULL, *dir = NULL, *rev = NULL, *prefix = NULL;
    const char *path = src->location;
    int error, not_modified = 0;

    if ((error = ingest_mkdir_p(src->cache_dir, err)) < 0)
        return error;
    if (!(trees = ingest_path_join(src->cache_dir, "trees"))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if (is_url(src->location)) {
        if (!(archive = ingest_path_join(src->cache_dir, "archive.tar.gz"))) {
            error = ingest_oom(err);
            goto cleanup;
        }
        if ((error = download_url(&not_modified, src, archive, err)) < 0)
            goto cleanup;
        path = archive;
    }
    /* Even after a 304 the hash is checked: known may predate the cache. */
    if ((error = hash_archive(hex, path, src, err)) < 0)
        goto cleanup;
    if (known && strcmp(known, hex) == 0) {
        *changed = 0;
        goto cleanup;
    }
    if (!(dir = ingest_path_join(trees, hex)) || !(rev = strdup(hex))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if ((error = scan_archive(&prefix, path, src, err)) < 0 ||
        (error = ingest_rm_rf(dir, err)) < 0 || (error = ingest_mkdir_p(dir, err)) < 0)
        goto cleanup;
    if ((error = extract_archive(path, dir, prefix, src, err)) < 0) {
        ingest_rm_rf(dir, NULL);
        goto cleanup;
    }
    ingest_source_prune(trees, hex);
    *out_revision = rev;
    *out_dir = dir;
    *changed = 1;
    rev = dir = NULL;
cleanup:
    free(prefix);
    free(rev);
    free(dir);
    free(trees);
    free(archive);
    return error;
}
