/* ingest/registry_image.c - what one manifest digest says about a release:
 * its arch (config blob, or the list's platform / "multi") and the raw
 * release-metadata document, read from the layers top-most first (spec
 * §3.3, §3.4). Layers are streamed (registry_stream.c) through libarchive;
 * the layer that holds the document is read to its end so its digest can be
 * checked before the document is believed, and no lower layer is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "ingest/registry_internal.h"

#define RELEASE_METADATA_MAX (1u << 20) /* as release.c: real ones are < 2 KiB */
#define LAYER_MAX (8LL << 30)           /* one layer; real release layers are < 1 GiB */
#define LAYERS_MAX 1000                 /* images have tens of layers at most */
#define ARCH_MAX 32

void reg_image_info_clear(reg_image_info *i)
{
    free(i->arch);
    free(i->metadata);
    memset(i, 0, sizeof(*i));
}

static int valid_arch(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > ARCH_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'z') || a[i] == '_'))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------
 * Layers
 */

static la_ssize_t archive_read_cb(struct archive *a, void *ud, const void **buf)
{
    reg_stream *s = ud;
    ssize_t n = reg_stream_read(s, buf);
    if (n < 0)
        archive_set_error(a, EIO, "%s", reg_stream_error(s));
    return (la_ssize_t)n;
}

int reg_archive_open(struct archive **out, reg_stream *s)
{
    struct archive *a = archive_read_new();
    *out = a;
    if (!a)
        return -1;
    archive_read_support_filter_all(a); /* gzip, zstd, or none (plain tar layers) */
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    /* On failure *out stays set: the caller reads the error and frees. */
    return archive_read_open(a, s, NULL, archive_read_cb, NULL) == ARCHIVE_OK ? 0 : -1;
}

/* The path of a layer entry without "./" or "/" in front. */
static const char *entry_path(struct archive_entry *e)
{
    const char *p = archive_entry_pathname(e);
    if (!p)
        return "";
    while (*p == '/' || (p[0] == '.' && p[1] == '/'))
        p += *p == '/' ? 1 : 2;
    return p;
}

/* Reads the current entry into meta (capped). */
static int read_entry(reg_buf *meta, struct archive *a)
{
    char buf[16384];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
        if (reg_buf_append(meta, buf, (size_t)n) < 0)
            return -1;
    return n < 0 ? -1 : 0;
}

/* One attempt at one layer. *found = 1 with meta filled when the layer holds
 * the document. CINCY_EINVALID: bad content (digest, archive); CINCY_ERROR
 * with *transient = 1: the transfer broke and may be tried again. */
static int scan_layer_once(reg_buf *meta, int *found, int *transient, reg_conn *c,
                           const char *digest, long long size, cincy_error *err)
{
    reg_client *cl = c->cl;
    reg_stream *s = NULL;
    struct archive *a = NULL;
    struct archive_entry *e;
    char arch_err[256] = "";
    int r = ARCHIVE_OK, error, too_big = 0;

    *found = 0;
    *transient = 0;
    reg_buf_clear(meta);
    if ((error = reg_stream_open(&s, c, digest, size, err)) < 0)
        return error;
    if (reg_archive_open(&a, s) == 0) {
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
            if (strcmp(entry_path(e), REG_METADATA_PATH) != 0 ||
                archive_entry_filetype(e) != AE_IFREG)
                continue;
            if (read_entry(meta, a) < 0) {
                too_big = meta->overflow;
                r = ARCHIVE_FATAL;
            } else {
                *found = 1;
            }
            break; /* never look further: the top-most copy wins */
        }
    }
    if (!a)
        snprintf(arch_err, sizeof(arch_err), "out of memory");
    else if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
        snprintf(arch_err, sizeof(arch_err), "%s",
                 archive_error_string(a) ? archive_error_string(a) : "read failed");
    else if (!*found && r != ARCHIVE_EOF)
        snprintf(arch_err, sizeof(arch_err), "%s",
                 archive_error_string(a) ? archive_error_string(a) : "not a tar archive");
    archive_read_free(a);
    /* Read the rest of the layer for its digest: the document counts only
     * if every byte of the blob it came from is the one the manifest names. */
    error = reg_stream_finish(s, err);
    if (error == CINCY_ERROR)
        *transient = 1;
    else if (error == 0 && too_big)
        error =
            cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                            "registry %s: layer %s: " REG_METADATA_PATH " is larger than %u bytes",
                            cl->host, digest, RELEASE_METADATA_MAX);
    else if (error == 0 && arch_err[0])
        error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "registry %s: layer %s: %s", cl->host,
                                digest, arch_err);
    reg_stream_close(s);
    if (error < 0) {
        *found = 0;
        reg_buf_clear(meta);
    }
    return error;
}

/* scan_layer_once, again after a broken transfer (the first attempts'
 * bytes were handed to libarchive, so the layer is read from the start). */
static int scan_layer(reg_buf *meta, int *found, reg_conn *c, const char *digest, long long size,
                      cincy_error *err)
{
    atomic_fetch_add(&c->cl->count.blobs, 1);
    for (unsigned attempt = 0;; attempt++) {
        int transient = 0;
        int error = scan_layer_once(meta, found, &transient, c, digest, size, err);
        if (error == 0 || !transient || attempt >= c->cl->retries)
            return error;
        cincy_log(CINCY_LOG_WARN, "ingest", "layer transfer broke, retrying\tregistry=%s blob=%s",
                  c->cl->host, digest);
        struct timespec ts = {0, 200000000L << (attempt < 3 ? attempt : 3)};
        nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------------
 * Manifests
 */

static int is_list(json_t *m, const char *ctype)
{
    json_t *mt = json_object_get(m, "mediaType");
    const char *t = json_is_string(mt) ? json_string_value(mt) : ctype ? ctype : "";
    if (strncmp(t, REG_MT_DOCKER_LIST, strlen(REG_MT_DOCKER_LIST)) == 0 ||
        strncmp(t, REG_MT_OCI_INDEX, strlen(REG_MT_OCI_INDEX)) == 0)
        return 1;
    /* An OCI index may omit mediaType: it has "manifests", not "layers". */
    return !json_is_string(mt) && json_is_array(json_object_get(m, "manifests")) &&
           !json_object_get(m, "layers");
}

static int bad_manifest(cincy_error *err, const reg_client *cl, const char *tag, const char *digest,
                        const char *what)
{
    return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "registry %s: %s:%s (%s): %s", cl->host,
                           cl->repo, tag, digest, what);
}

static int load_manifest(json_t **out, const reg_reply *r, const reg_client *cl, const char *tag,
                         const char *digest, cincy_error *err)
{
    json_t *m = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return bad_manifest(err, cl, tag, digest, "manifest is not a json object");
    }
    *out = m;
    return 0;
}

/* digest is valid (reg_digest_valid): its first 8 hex digits pick the bucket. */
static unsigned memo_bucket(const char *digest)
{
    unsigned h = 0;
    for (int i = 7; i < 15; i++)
        h = h * 16 + (unsigned)(digest[i] <= '9' ? digest[i] - '0' : digest[i] - 'a' + 10);
    return h % REG_MEMO_BUCKETS;
}

static int memo_get(char *arch, reg_memo *memo, const char *digest)
{
    int hit = 0;
    pthread_mutex_lock(&memo->lock);
    for (reg_memo_entry *m = memo->buckets[memo_bucket(digest)]; m && !hit; m = m->next)
        if (strcmp(m->digest, digest) == 0) {
            memcpy(arch, m->arch, sizeof(m->arch));
            hit = 1;
        }
    pthread_mutex_unlock(&memo->lock);
    return hit;
}

static void memo_put(reg_memo *memo, const char *digest, const char *arch)
{
    reg_memo_entry *m = calloc(1, sizeof(*m));
    if (!m)
        return; /* only a lost shortcut */
    snprintf(m->digest, sizeof(m->digest), "%s", digest);
    snprintf(m->arch, sizeof(m->arch), "%s", arch);
    pthread_mutex_lock(&memo->lock);
    m->next = memo->buckets[memo_bucket(digest)];
    memo->buckets[memo_bucket(digest)] = m;
    pthread_mutex_unlock(&memo->lock);
}

void reg_memo_init(reg_memo *memo)
{
    memset(memo, 0, sizeof(*memo));
    pthread_mutex_init(&memo->lock, NULL);
}

void reg_memo_clear(reg_memo *memo)
{
    for (size_t i = 0; i < REG_MEMO_BUCKETS; i++)
        while (memo->buckets[i]) {
            reg_memo_entry *m = memo->buckets[i];
            memo->buckets[i] = m->next;
            free(m);
        }
    pthread_mutex_destroy(&memo->lock);
}

/* The architecture of the config blob cdigest (checked against its digest). */
static int config_arch(char **out, reg_memo *memo, reg_conn *c, const char *cdigest,
                       cincy_error *err)
{
    char arch[ARCH_MAX + 1];
    reg_buf body = {0};
    json_t *root, *a;
    int error;

    if (!memo_get(arch, memo, cdigest)) {
        if ((error = reg_get_blob(c, cdigest, REG_CONFIG_MAX, &body, err)) < 0)
            return error;
        root = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
        a = json_object_get(root, "architecture");
        arch[0] = '\0';
        if (json_is_string(a) && valid_arch(json_string_value(a)))
            snprintf(arch, sizeof(arch), "%s", json_string_value(a));
        json_decref(root);
        reg_buf_clear(&body);
        if (!arch[0])
            return CINCY_ENOTFOUND;
        memo_put(memo, cdigest, arch);
    }
    return (*out = strdup(arch)) ? 0 : ingest_oom(err);
}

/* Reads arch from the config blob (unless known) and the document from the
 * layers of the image manifest m. */
static int inspect_image(reg_image_info *info, reg_memo *memo, reg_conn *c, json_t *m,
                         const char *tag, const char *digest, cincy_error *err)
{
    reg_client *cl = c->cl;
    json_t *config = json_object_get(m, "config"), *layers = json_object_get(m, "layers");
    reg_buf meta = {0};
    int error = 0, found = 0;

    if (!json_is_array(layers) || json_array_size(layers) > LAYERS_MAX)
        return bad_manifest(err, cl, tag, digest, "manifest has no usable 'layers'");
    if (!info->arch) {
        json_t *cd = json_object_get(config, "digest");
        if (!json_is_string(cd) || !reg_digest_valid(json_string_value(cd)))
            return bad_manifest(err, cl, tag, digest, "manifest has no sha256 config digest");
        error = config_arch(&info->arch, memo, c, json_string_value(cd), err);
        if (error == CINCY_ENOTFOUND)
            return bad_manifest(err, cl, tag, digest, "config blob has no valid 'architecture'");
        if (error < 0)
            return error;
    }
    for (size_t i = json_array_size(layers); i-- > 0 && !found;) {
        json_t *l = json_array_get(layers, i), *ld = json_object_get(l, "digest"),
               *sz = json_object_get(l, "size");
        long long size = json_is_integer(sz) ? (long long)json_integer_value(sz) : LAYER_MAX;
        if (!json_is_string(ld) || !reg_digest_valid(json_string_value(ld)))
            return bad_manifest(err, cl, tag, digest, "a layer has no sha256 digest");
        if (size < 0 || size > LAYER_MAX)
            size = LAYER_MAX;
        reg_buf_init(&meta, RELEASE_METADATA_MAX);
        if ((error = scan_layer(&meta, &found, c, json_string_value(ld), size, err)) < 0)
            return error;
        if (!found)
            reg_buf_clear(&meta);
    }
    if (found) {
        info->metadata = meta.data ? meta.data : strdup("");
        info->metadata_len = meta.len;
        if (!info->metadata)
            return ingest_oom(err);
    }
    return 0;
}

/* A manifest list / OCI index: more than one entry is "multi", its document
 * read from the last entry's image as the reference does (spec §3.3). */
static int inspect_list(reg_image_info *info, reg_memo *memo, reg_conn *c, json_t *m,
                        const char *tag, const char *digest, cincy_error *err)
{
    reg_client *cl = c->cl;
    json_t *entries = json_object_get(m, "manifests"), *last, *ld, *arch, *child = NULL;
    reg_reply r = {0};
    char *child_digest = NULL;
    size_t n = json_array_size(entries);
    int error;

    if (!json_is_array(entries) || n == 0)
        return 0; /* nothing to read: no release */
    last = json_array_get(entries, n - 1);
    ld = json_object_get(last, "digest");
    arch = json_object_get(json_object_get(last, "platform"), "architecture");
    if (!json_is_string(ld) || !reg_digest_valid(json_string_value(ld)))
        return bad_manifest(err, cl, tag, digest, "a list entry has no sha256 digest");
    if (n > 1)
        info->arch = strdup("multi");
    else if (json_is_string(arch) && valid_arch(json_string_value(arch)))
        info->arch = strdup(json_string_value(arch));
    if (n > 1 && !info->arch)
        return ingest_oom(err);
    if ((error = reg_get_manifest(c, json_string_value(ld), &r, &child_digest, err)) < 0) {
        if (error == CINCY_ENOTFOUND) /* a list naming a missing image is broken content */
            error = bad_manifest(err, cl, tag, digest, "a list entry's manifest is missing");
        goto cleanup;
    }
    if ((error = load_manifest(&child, &r, cl, tag, child_digest, err)) < 0)
        goto cleanup;
    if (is_list(child, r.content_type)) {
        error = bad_manifest(err, cl, tag, digest, "a list entry is itself a list");
        goto cleanup;
    }
    error = inspect_image(info, memo, c, child, tag, digest, err);
cleanup:
    json_decref(child);
    reg_reply_clear(&r);
    free(child_digest);
    return error;
}

int reg_inspect(reg_image_info *info, reg_memo *memo, reg_conn *c, const reg_reply *r,
                const char *tag, const char *digest, cincy_error *err)
{
    json_t *m = NULL;
    int error;

    if ((error = load_manifest(&m, r, c->cl, tag, digest, err)) < 0)
        return error;
    if (is_list(m, r->content_type))
        error = inspect_list(info, memo, c, m, tag, digest, err);
    else
        error = inspect_image(info, memo, c, m, tag, digest, err);
    json_decref(m);
    if (error == 0 && !info->arch)
        info->arch = strdup("unknown"); /* an empty list: cached as "no release" */
    if (error == 0 && !info->arch)
        error = ingest_oom(err);
    return error;
}
