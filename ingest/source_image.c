/* ingest/source_image.c - graph-data from a container image, the way
 * oc-mirror and the OSUS operator ship it: the tree sits under
 * var/lib/cincinnati-graph-data/ in the image's layers.
 *
 * The revision is the manifest digest of the reference (a tag is resolved
 * with one manifest GET), so an unchanged image costs one request. A new
 * digest is materialised into <cache_dir>/trees/<hex>: layers are streamed
 * in order through libarchive (never held whole in memory), later layers
 * override earlier files, and OCI whiteouts (".wh.<name>", ".wh..wh..opq")
 * delete what lower layers put there. Only regular files and directories
 * under the graph-data prefix are written, with the prefix stripped, and
 * only under the top-level names the server reads. Each layer's digest is
 * checked at its end; any failure removes the half-made tree, so a fetch
 * either yields a whole verified tree or changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "ingest/registry_internal.h"

#define GD_PREFIX "var/lib/cincinnati-graph-data"
#define IMG_ENTRY_CAP (64LL * 1024 * 1024)  /* one file: as the tarball source */
#define IMG_TOTAL_CAP (512LL * 1024 * 1024) /* all graph-data files */
#define IMG_ENTRIES_MAX 200000
#define IMG_LAYER_MAX (8LL << 30)
#define IMG_PATH_MAX 1024

typedef struct extract_state {
    const char *dir;   /* destination tree */
    const char *where; /* "host/repo:tag" for messages */
    long long total;
    size_t entries;
    int seen; /* an entry under GD_PREFIX was met */
} extract_state;

/* "var/lib/x" split off the repository reference: *ref gets the tag or
 * digest ("latest" when none), the return is the repository part (new). */
static char *split_reference(const char *location, char **ref)
{
    const char *at = strrchr(location, '@'), *slash = strrchr(location, '/'), *colon;
    if (at) {
        *ref = strdup(at + 1);
        return strndup(location, (size_t)(at - location));
    }
    colon = strrchr(location, ':');
    if (colon && slash && colon > slash) {
        *ref = strdup(colon + 1);
        return strndup(location, (size_t)(colon - location));
    }
    *ref = strdup("latest");
    return strdup(location);
}

/* A whiteout entry: deletes the named file, or (opaque) the directory's
 * contents from lower layers. sub is the path below the prefix. */
static void apply_whiteout(const extract_state *st, const char *sub, const char *base)
{
    char full[IMG_PATH_MAX + 4096];
    int plen = (int)(base - sub); /* the directory part, with its '/' */
    if (strcmp(base, ".wh..wh..opq") == 0) {
        snprintf(full, sizeof(full), "%s/%.*s", st->dir, plen, sub);
        ingest_source_prune(full, NULL);
        return;
    }
    snprintf(full, sizeof(full), "%s/%.*s%s", st->dir, plen, sub, base + 4);
    ingest_rm_rf(full, NULL);
}

static int write_entry(struct archive *a, struct archive *w, struct archive_entry *e,
                       const char *full, const char *sub, const extract_state *st, cincy_error *err)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    int type = archive_entry_filetype(e), r;

    archive_entry_set_pathname(e, full);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    if (archive_write_header(w, e) < ARCHIVE_OK)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "image %s: write '%s': %s", st->where,
                               sub, archive_error_string(w));
    if (type == AE_IFREG) {
        while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(w, buf, size, off) < ARCHIVE_OK)
                return cincy_error_set(err, CINCY_ERROR, NULL, 0, "image %s: write '%s': %s",
                                       st->where, sub, archive_error_string(w));
        if (r != ARCHIVE_EOF)
            return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "image %s: %s", st->where,
                                   archive_error_string(a) ? archive_error_string(a)
                                                           : "read failed");
    }
    if (archive_write_finish_entry(w) < ARCHIVE_OK)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "image %s: write '%s': %s", st->where,
                               sub, archive_error_string(w));
    return 0;
}

/* One entry of a layer: skipped, a whiteout, or written under st->dir. */
static int extract_entry(struct archive *a, struct archive *w, struct archive_entry *e,
                         extract_state *st, cincy_error *err)
{
    char rel[IMG_PATH_MAX], top[IMG_PATH_MAX], full[IMG_PATH_MAX + 4096];
    const char *name = archive_entry_pathname(e), *sub, *base;
    size_t plen = strlen(GD_PREFIX), first;
    int type = archive_entry_filetype(e);

    if (!name || ingest_normalise_entry(rel, sizeof(rel), name, 1) < 0)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "image %s: unsafe path '%.200s'",
                               st->where, name ? name : "(none)");
    if (strncmp(rel, GD_PREFIX, plen) != 0 || (rel[plen] != '/' && rel[plen] != '\0'))
        return 0;
    st->seen = 1;
    if (rel[plen] == '\0')
        return 0; /* the prefix directory itself */
    sub = rel + plen + 1;
    base = strrchr(sub, '/') ? strrchr(sub, '/') + 1 : sub;
    if (strncmp(base, ".wh.", 4) == 0) {
        apply_whiteout(st, sub, base);
        return 0;
    }
    first = strcspn(sub, "/");
    memcpy(top, sub, first);
    top[first] = '\0';
    /* Regular files and directories only: links could point out of dir. */
    if (!ingest_source_wanted(top) || (type != AE_IFREG && type != AE_IFDIR) ||
        archive_entry_hardlink(e) || archive_entry_symlink(e))
        return 0;
    st->total += archive_entry_size(e);
    if (++st->entries > IMG_ENTRIES_MAX || archive_entry_size(e) > IMG_ENTRY_CAP ||
        st->total > IMG_TOTAL_CAP)
        return cincy_error_set(err, CINCY_ETOOBIG, NULL, 0, "image %s: too large at '%s'",
                               st->where, sub);
    snprintf(full, sizeof(full), "%s/%s", st->dir, sub);
    return write_entry(a, w, e, full, sub, st, err);
}

/* Streams one layer and extracts what it holds; checks its digest. */
static int extract_layer(reg_conn *c, const char *digest, long long size, extract_state *st,
                         cincy_error *err)
{
    reg_stream *s = NULL;
    struct archive *a = NULL, *w = NULL;
    struct archive_entry *e;
    cincy_error fin;
    int r = ARCHIVE_OK, error;

    atomic_fetch_add(&c->cl->count.blobs, 1);
    if ((error = reg_stream_open(&s, c, digest, size, err)) < 0)
        return error;
    if (!(w = archive_write_disk_new())) {
        error = ingest_oom(err);
        goto cleanup;
    }
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    if (reg_archive_open(&a, s) < 0) {
        error = a ? cincy_error_set(err, CINCY_EINVALID, NULL, 0, "image %s: layer %s: %s",
                                    st->where, digest, archive_error_string(a))
                  : ingest_oom(err);
    } else {
        while (error == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
            error = extract_entry(a, w, e, st, err);
        if (error == 0 && r != ARCHIVE_EOF)
            error = cincy_error_set(
                err, CINCY_EINVALID, NULL, 0, "image %s: layer %s: %s", st->where, digest,
                archive_error_string(a) ? archive_error_string(a) : "read failed");
    }
    archive_read_free(a);
    a = NULL;
    /* A digest mismatch explains a broken archive better than libarchive. */
    if (reg_stream_finish(s, &fin) < 0 && (error == 0 || fin.code == CINCY_EINVALID)) {
        if (err)
            *err = fin;
        error = fin.code;
    }
cleanup:
    archive_write_free(w);
    reg_stream_close(s);
    return error;
}

/* The image manifest behind ref: a list/index is resolved to its
 * linux/amd64 entry, else its first. */
static int resolve_image(json_t **out, reg_conn *c, const reg_reply *top, const char *where,
                         cincy_error *err)
{
    json_t *m = json_loadb(top->body.data ? top->body.data : "", top->body.len, 0, NULL);
    json_t *entries = json_object_get(m, "manifests"), *pick = NULL, *ent, *dg;
    reg_reply r = {0};
    char *digest = NULL;
    size_t i;
    int error = 0;

    if (!json_is_object(m)) {
        json_decref(m);
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "image %s: manifest is not json",
                               where);
    }
    if (json_is_array(json_object_get(m, "layers"))) {
        *out = m;
        return 0;
    }
    json_array_foreach(entries, i, ent)
    {
        json_t *p = json_object_get(ent, "platform");
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        if (!pick || (arch && strcmp(arch, "amd64") == 0))
            pick = ent;
        if (arch && strcmp(arch, "amd64") == 0)
            break;
    }
    dg = json_object_get(pick, "digest");
    if (!json_is_string(dg) || !reg_digest_valid(json_string_value(dg))) {
        error = cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                "image %s: manifest has neither layers nor a usable entry", where);
        goto cleanup;
    }
    if ((error = reg_get_manifest(c, json_string_value(dg), &r, &digest, err)) < 0)
        goto cleanup;
    json_decref(m);
    m = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    if (!json_is_array(json_object_get(m, "layers"))) {
        error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "image %s: manifest %s has no layers",
                                where, digest);
        goto cleanup;
    }
    *out = m;
    m = NULL;
cleanup:
    json_decref(m);
    reg_reply_clear(&r);
    free(digest);
    return error;
}

static int extract_image(reg_conn *c, json_t *m, extract_state *st, cincy_error *err)
{
    json_t *layers = json_object_get(m, "layers"), *l;
    size_t i;
    int error;

    json_array_foreach(layers, i, l)
    {
        json_t *dg = json_object_get(l, "digest"), *sz = json_object_get(l, "size");
        long long size = json_is_integer(sz) ? (long long)json_integer_value(sz) : IMG_LAYER_MAX;
        if (!json_is_string(dg) || !reg_digest_valid(json_string_value(dg)))
            return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                   "image %s: layer %zu has no sha256 digest", st->where, i);
        if (size < 0 || size > IMG_LAYER_MAX)
            size = IMG_LAYER_MAX;
        if ((error = extract_layer(c, json_string_value(dg), size, st, err)) < 0)
            return error;
    }
    if (!st->seen)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "image %s holds no " GD_PREFIX "/ directory", st->where);
    return 0;
}

int ingest_source_image_fetch(ingest_source *src, const char *known, char **out_revision,
                              char **out_dir, int *changed, cincy_error *err)
{
    reg_client *cl = NULL;
    reg_conn c = {0};
    reg_reply top = {0};
    json_t *m = NULL;
    extract_state st = {0};
    char *repo = NULL, *ref = NULL, *digest = NULL, *trees = NULL, *dir = NULL, *rev = NULL;
    int error;

    if (!(repo = split_reference(src->location, &ref)) || !ref) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if ((error = reg_client_new(&cl, repo, &src->registry, err)) < 0 ||
        (error = reg_conn_init(&c, cl, err)) < 0)
        goto cleanup;
    if ((error = reg_get_manifest(&c, ref, &top, &digest, err)) < 0) {
        if (error == CINCY_ENOTFOUND)
            cincy_error_set(err, CINCY_ENOTFOUND, NULL, 0, "image %s: not found in registry %s",
                            src->location, cl->host);
        goto cleanup;
    }
    if (known && strcmp(known, digest) == 0) {
        *changed = 0;
        goto cleanup;
    }
    if ((error = ingest_mkdir_p(src->cache_dir, err)) < 0)
        goto cleanup;
    if (!(trees = ingest_path_join(src->cache_dir, "trees")) ||
        !(dir = ingest_path_join(trees, digest + 7)) || !(rev = strdup(digest))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    st.dir = dir;
    st.where = src->location;
    if ((error = resolve_image(&m, &c, &top, src->location, err)) < 0 ||
        (error = ingest_rm_rf(dir, err)) < 0 || (error = ingest_mkdir_p(dir, err)) < 0)
        goto cleanup;
    if ((error = extract_image(&c, m, &st, err)) < 0) {
        ingest_rm_rf(dir, NULL);
        goto cleanup;
    }
    ingest_source_prune(trees, digest + 7);
    cincy_log(CINCY_LOG_INFO, "ingest", "fetched graph-data image\timage=%s digest=%s entries=%zu",
              src->location, digest, st.entries);
    *out_revision = rev;
    *out_dir = dir;
    *changed = 1;
    rev = dir = NULL;
cleanup:
    json_decref(m);
    reg_reply_clear(&top);
    reg_conn_clear(&c);
    reg_client_free(cl);
    free(repo);
    free(ref);
    free(digest);
    free(trees);
    free(dir);
    free(rev);
    return error;
}
