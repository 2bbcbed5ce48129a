/* ingest/registry.c - release records scraped from a Docker Registry HTTP
 * API v2 repository (spec §3, docs/registry.md).
 *
 * DESIGN. The tag list is read first, page by page, on the calling thread.
 * Then cfg->concurrency workers, each with its own connection, take tags
 * from a shared counter; each tag's outcome goes into its own slot, so no
 * lock is needed for results and the output, sorted at the end, does not
 * depend on completion order. A worker that meets a failure the scrape
 * cannot survive (the registry stops answering) records the first such
 * error and raises a flag that makes every worker stop at its next tag.
 *
 * Per tag: GET the manifest (digest checked); when cache_dir has an entry for
 * that digest, the release comes from it and no blob is fetched. Otherwise
 * the config blob gives the arch and the layers are streamed top-most first
 * through libarchive until release-manifests/release-metadata turns up; the
 * rest of that layer is read only to finish its digest, which must match
 * before the document is believed. What was learnt (arch and the raw
 * document, or "none") is written to the cache, keyed by the manifest
 * digest: content addressed, so it never goes stale. Reading an image is
 * registry_image.c; the HTTP client is registry_http.c, registry_auth.c and
 * registry_stream.c. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ingest/registry_internal.h"

#define TAGS_MAX 1000000u /* quay's ocp-release has ~20k tags */
#define CACHE_ENTRY_MAX (2u << 20)
#define PROGRESS_SECONDS 10

/* ------------------------------------------------------------------------
 * Shared state of one scrape
 */

typedef struct tag_slot {
    ingest_release rec; /* valid when have */
    int have;
    char *digest; /* the manifest digest the tag pointed at, when learnt */
} tag_slot;

/* One line of <cache_dir>/tags: what a tag pointed at in the last scrape. */
typedef struct tag_seen {
    char *tag, *digest;
} tag_seen;

typedef struct scrape {
    reg_client *cl;
    char *cache_root; /* <cache_dir>/manifests/sha256, or NULL */
    char **tags;
    size_t ntags;
    tag_slot *slots;    /* one per tag, written only by the worker that took it */
    atomic_size_t next; /* next tag to take */
    atomic_size_t done; /* tags finished */
    atomic_int stop;    /* a fatal error happened: take no more tags */
    atomic_size_t skipped, rejected, cache_hits;
    pthread_mutex_t lock; /* guards fatal and the condition */
    pthread_cond_t cond;  /* signalled as tags finish */
    cincy_error fatal;    /* the first fatal error */
    int fatal_code;
    reg_memo memo;   /* config digest -> arch */
    int trust_tags;  /* cfg->trust_tags with a cache: a known tag is not asked again */
    char *tags_path; /* <cache_dir>/tags, or NULL */
    tag_seen *seen;  /* its lines, sorted by tag */
    size_t nseen;
} scrape;

/* cosign-style signature tags: "sha256-<64 hex>.sig". */
static int is_signature_tag(const char *tag)
{
    size_t n = strlen(tag);
    if (n != 7 + 64 + 4 || strncmp(tag, "sha256-", 7) != 0 || strcmp(tag + 71, ".sig") != 0)
        return 0;
    for (int i = 7; i < 71; i++)
        if (!((tag[i] >= '0' && tag[i] <= '9') || (tag[i] >= 'a' && tag[i] <= 'f')))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------
 * Tags
 */

static int parse_tag_page(ingest_strv *tags, const reg_reply *r, const reg_client *cl,
                          const char *path, cincy_error *err)
{
    json_t *root = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    json_t *arr = json_object_get(root, "tags"), *t;
    size_t i;
    int error = 0;

    if (!json_is_object(root) || (arr && !json_is_array(arr) && !json_is_null(arr))) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "registry %s: GET %s%s: not a tag list",
                                cl->host, cl->base, path);
        goto cleanup;
    }
    json_array_foreach(arr, i, t)
    {
        if (!json_is_string(t))
            continue;
        if (tags->n >= TAGS_MAX) {
            error = cincy_error_set(err, CINCY_ETOOBIG, NULL, 0,
                                    "registry %s: repository %s has more than %u tags", cl->host,
                                    cl->repo, TAGS_MAX);
            goto cleanup;
        }
        if (ingest_strv_push(tags, json_string_value(t)) < 0) {
            error = ingest_oom(err);
            goto cleanup;
        }
    }
cleanup:
    json_decref(root);
    return error;
}

/* Every tag, following the Link header from page to page. */
static int list_tags(ingest_strv *tags, reg_conn *c, cincy_error *err)
{
    reg_client *cl = c->cl;
    reg_reply r = {0};
    char *path = NULL;
    int error = 0;

    if (!(path = reg_printf("/v2/%s/tags/list?n=%u", cl->repo, reg_tags_page_size)))
        return ingest_oom(err);
    for (size_t pages = 0; path; pages++) {
        if (pages > TAGS_MAX) { /* a registry whose Link goes round in circles */
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0,
                                    "registry %s: tag list of %s does not end", cl->host, cl->repo);
            break;
        }
        if ((error = reg_request(c, "GET", path, "application/json", REG_TAGS_PAGE_MAX, &r, err)) <
            0)
            break;
        if (r.status != 200) {
            error = cincy_error_set(err, r.status == 404 ? CINCY_ENOTFOUND : CINCY_ERROR, NULL, 0,
                                    "registry %s: GET %s%s: http status %ld%s", cl->host, cl->base,
                                    path, r.status, r.status == 404 ? " (no such repository)" : "");
            break;
        }
        if ((error = parse_tag_page(tags, &r, cl, path, err)) < 0)
            break;
        free(path);
        path = r.link;
        r.link = NULL;
    }
    free(path);
    reg_reply_clear(&r);
    return error;
}

/* ------------------------------------------------------------------------
 * The cache: <cache_dir>/manifests/sha256/<hex>.json =
 *   {"arch": "amd64", "release_metadata": "<raw document>" | null}
 */

static char *cache_path(const scrape *sc, const char *digest)
{
    return sc->cache_root ? reg_printf("%s/%s.json", sc->cache_root, digest + 7) : NULL;
}

/* 1 on a hit. A missing or unreadable entry is a miss: the cache only saves
 * work, it is never a reason to fail. */
static int cache_read(reg_image_info *out, const scrape *sc, const char *digest)
{
    char *path = cache_path(sc, digest), *text = NULL;
    size_t len = 0;
    json_t *root = NULL, *arch, *meta;
    int hit = 0;

    if (!path || ingest_read_file(&text, &len, path, CACHE_ENTRY_MAX, path, NULL) < 0)
        goto cleanup;
    root = json_loadb(text, len, 0, NULL);
    arch = json_object_get(root, "arch");
    meta = json_object_get(root, "release_metadata");
    if (!json_is_string(arch) || !(json_is_string(meta) || json_is_null(meta)))
        goto cleanup;
    if (!(out->arch = strdup(json_string_value(arch))))
        goto cleanup;
    if (json_is_string(meta)) {
        out->metadata_len = json_string_length(meta);
        if (!(out->metadata = malloc(out->metadata_len + 1))) {
            reg_image_info_clear(out);
            goto cleanup;
        }
        memcpy(out->metadata, json_string_value(meta), out->metadata_len + 1);
    }
    hit = 1;
cleanup:
    json_decref(root);
    free(text);
    free(path);
    return hit;
}

/* Writes the entry with tmp + rename so a reader never sees half of it.
 * Failures are logged and otherwise ignored. */
static void cache_write(const scrape *sc, const char *digest, const reg_image_info *info)
{
    static atomic_uint seq;
    char *path = cache_path(sc, digest), *tmp = NULL, *text = NULL;
    json_t *root = NULL;
    cincy_error e;

    if (!path)
        return;
    root =
        json_pack("{s:s, s:o}", "arch", info->arch, "release_metadata",
                  info->metadata ? json_stringn(info->metadata, info->metadata_len) : json_null());
    if (!root || !(text = json_dumps(root, JSON_COMPACT)) ||
        !(tmp = reg_printf("%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1))))
        goto cleanup;
    if (ingest_write_file(tmp, text, strlen(text), &e) < 0 || rename(tmp, path) < 0) {
        cincy_log(CINCY_LOG_WARN, "ingest", "cannot write registry cache entry\tpath=%s", path);
        unlink(tmp);
    }
cleanup:
    json_decref(root);
    free(text);
    free(tmp);
    free(path);
}

/* The tag map: <cache_dir>/tags holds "tag<TAB>digest" lines from the last
 * good scrape. Only read with trust_tags; always written, so turning the
 * option on later starts warm. */

static int cmp_seen(const void *a, const void *b)
{
    return strcmp(((const tag_seen *)a)->tag, ((const tag_seen *)b)->tag);
}

static void seen_clear(scrape *sc)
{
    for (size_t i = 0; i < sc->nseen; i++) {
        free(sc->seen[i].tag);
        free(sc->seen[i].digest);
    }
    free(sc->seen);
    sc->seen = NULL;
    sc->nseen = 0;
}

/* Loads the map; a missing or odd file is an empty map (the cache only saves
 * work). Lines whose digest is not "sha256:<64 hex>" are ignored. */
static void seen_load(scrape *sc)
{
    char *text = NULL, *line, *next;
    size_t len = 0, cap = 0;

    if (!sc->tags_path ||
        ingest_read_file(&text, &len, sc->tags_path, 64u << 20, sc->tags_path, NULL) < 0)
        return;
    for (line = text; line && *line; line = next) {
        char *tab, *end;
        tag_seen t;

        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        if (!(tab = strchr(line, '\t')) || tab == line)
            continue;
        *tab = '\0';
        end = tab + 1;
        if (strncmp(end, "sha256:", 7) != 0 || strlen(end) != 71 ||
            strspn(end + 7, "0123456789abcdef") != 64)
            continue;
        if (sc->nseen == cap) {
            tag_seen *a = realloc(sc->seen, (cap ? cap * 2 : 256) * sizeof(*a));
            if (!a)
                break;
            sc->seen = a;
            cap = cap ? cap * 2 : 256;
        }
        t.tag = strdup(line);
        t.digest = strdup(end);
        if (!t.tag || !t.digest) {
            free(t.tag);
            free(t.digest);
            break;
        }
        sc->seen[sc->nseen++] = t;
    }
    free(text);
    qsort(sc->seen, sc->nseen, sizeof(*sc->seen), cmp_seen);
}

static const char *seen_digest(const scrape *sc, const char *tag)
{
    tag_seen key = {(char *)tag, NULL};
    const tag_seen *hit =
        sc->nseen ? bsearch(&key, sc->seen, sc->nseen, sizeof(*sc->seen), cmp_seen) : NULL;

    return hit ? hit->digest : NULL;
}

/* Writes the map of this scrape (tmp + rename). Failures are logged. */
static void seen_save(const scrape *sc)
{
    char *tmp = NULL;
    FILE *f;

    if (!sc->tags_path || !(tmp = reg_printf("%s.tmp.%ld", sc->tags_path, (long)getpid())))
        goto cleanup;
    if (!(f = fopen(tmp, "w")))
        goto fail;
    for (size_t i = 0; i < sc->ntags; i++)
        if (sc->slots[i].digest)
            fprintf(f, "%s\t%s\n", sc->tags[i], sc->slots[i].digest);
    if (fclose(f) != 0 || rename(tmp, sc->tags_path) < 0)
        goto fail;
    goto cleanup;
fail:
    cincy_log(CINCY_LOG_WARN, "ingest", "cannot write the registry tag map\tpath=%s",
              sc->tags_path);
    unlink(tmp);
cleanup:
    free(tmp);
}

/* ------------------------------------------------------------------------
 * Tags to records
 */

static void reject(scrape *sc, const char *tag, const char *digest, const cincy_error *e)
{
    char buf[1024];
    atomic_fetch_add(&sc->rejected, 1);
    cincy_log(CINCY_LOG_WARN, "ingest",
              "rejecting release image\tregistry=%s repository=%s tag=%s digest=%s reason=\"%s\"",
              sc->cl->host, sc->cl->repo, tag, digest ? digest : "-",
              cincy_error_format(e, buf, sizeof(buf)));
}

static void skip(scrape *sc, cincy_log_level level, const char *tag, const char *digest,
                 const char *why)
{
    atomic_fetch_add(&sc->skipped, 1);
    cincy_log(level, "ingest",
              "skipping tag\tregistry=%s repository=%s tag=%s digest=%s reason=\"%s\"",
              sc->cl->host, sc->cl->repo, tag, digest ? digest : "-", why);
}

static const char *meta_value(const ingest_release *r, const char *key)
{
    for (size_t i = 0; i < r->nmeta; i++)
        if (strcmp(r->meta_keys[i], key) == 0)
            return r->meta_values[i];
    return NULL;
}

/* Turns what is known of a digest into the tag's record (or a log line). */
static int make_record(tag_slot *slot, scrape *sc, const char *tag, const char *digest,
                       const reg_image_info *info, cincy_error *err)
{
    reg_client *cl = sc->cl;
    ingest_release r = {0};
    cincy_error e;
    char file[512];
    const char *multi;

    if (!info->metadata) {
        skip(sc, CINCY_LOG_INFO, tag, digest, "no " REG_METADATA_PATH " in the image");
        return 0;
    }
    snprintf(file, sizeof(file), "%s/%s:%s@%s " REG_METADATA_PATH, cl->host, cl->repo, tag, digest);
    if (ingest_release_metadata_parse(&r, info->metadata, info->metadata_len, file, &e) < 0) {
        if (e.code == CINCY_ERROR)
            return cincy_error_set(err, CINCY_ERROR, NULL, 0, "%s", e.msg);
        reject(sc, tag, digest, &e);
        return 0;
    }
    multi = meta_value(&r, "release.openshift.io/architecture");
    if (multi && strcmp(multi, "multi") == 0 && strcmp(info->arch, "multi") != 0) {
        ingest_release_clear(&r);
        skip(sc, CINCY_LOG_DEBUG, tag, digest, "a shard of a multi-arch release");
        return 0;
    }
    r.payload = reg_printf("%s/%s@%s", cl->host, cl->repo, digest);
    r.source = reg_printf("registry %s/%s:%s", cl->host, cl->repo, tag);
    if (!r.payload || !r.source || !(r.arch = strdup(info->arch)) ||
        !(r.manifestref = strdup(digest))) {
        ingest_release_clear(&r);
        return ingest_oom(err);
    }
    slot->rec = r;
    slot->have = 1;
    return 0;
}

/* One tag. Returns < 0 only for failures that end the scrape. */
static int scrape_tag(scrape *sc, reg_conn *c, const char *tag, tag_slot *slot, cincy_error *err)
{
    reg_reply r = {0};
    reg_image_info info = {0};
    char *digest = NULL;
    cincy_error e;
    int error = 0;

    if (is_signature_tag(tag)) {
        skip(sc, CINCY_LOG_DEBUG, tag, NULL, "signature tag");
        return 0;
    }
    /* Trusting tags: a tag seen before still names the same image, whose
     * release is in the cache; no request at all. */
    if (sc->trust_tags && seen_digest(sc, tag) && cache_read(&info, sc, seen_digest(sc, tag))) {
        atomic_fetch_add(&sc->cache_hits, 1);
        if (!(digest = strdup(seen_digest(sc, tag)))) {
            error = ingest_oom(err);
            goto cleanup;
        }
        goto record;
    }
    if ((error = reg_get_manifest(c, tag, &r, &digest, &e)) < 0) {
        if (error == CINCY_ENOTFOUND) /* deleted since the listing */
            skip(sc, CINCY_LOG_INFO, tag, NULL, "manifest not found");
        else if (error == CINCY_EINVALID || error == CINCY_ETOOBIG) /* this image's fault */
            reject(sc, tag, NULL, &e);
        else if (err)
            *err = e;
        error = error == CINCY_ERROR ? CINCY_ERROR : 0;
        goto cleanup;
    }
    if (cache_read(&info, sc, digest)) {
        atomic_fetch_add(&sc->cache_hits, 1);
    } else if ((error = reg_inspect(&info, &sc->memo, c, &r, tag, digest, &e)) < 0) {
        if (error == CINCY_EINVALID || error == CINCY_ETOOBIG) {
            reject(sc, tag, digest, &e);
            error = 0;
        } else if (err) {
            *err = e;
        }
        goto cleanup;
    } else {
        cache_write(sc, digest, &info);
    }
record:
    if (!(slot->digest = strdup(digest))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    error = make_record(slot, sc, tag, digest, &info, err);
cleanup:
    reg_image_info_clear(&info);
    reg_reply_clear(&r);
    free(digest);
    return error;
}

static void *worker(void *arg)
{
    scrape *sc = arg;
    reg_conn c;
    cincy_error e;
    int error = reg_conn_init(&c, sc->cl, &e);

    while (error == 0 && !atomic_load(&sc->stop)) {
        size_t i = atomic_fetch_add(&sc->next, 1);
        if (i >= sc->ntags)
            break;
        error = scrape_tag(sc, &c, sc->tags[i], &sc->slots[i], &e);
        atomic_fetch_add(&sc->done, 1);
        pthread_mutex_lock(&sc->lock);
        pthread_cond_signal(&sc->cond);
        pthread_mutex_unlock(&sc->lock);
    }
    if (error < 0) {
        pthread_mutex_lock(&sc->lock);
        if (sc->fatal_code == 0) {
            sc->fatal = e;
            sc->fatal_code = error;
        }
        atomic_store(&sc->stop, 1);
        pthread_cond_signal(&sc->cond);
        pthread_mutex_unlock(&sc->lock);
    }
    reg_conn_clear(&c);
    return NULL;
}

/* Waits for the workers, logging progress every PROGRESS_SECONDS. */
static void wait_progress(scrape *sc)
{
    double start = reg_now(), last = start;
    pthread_mutex_lock(&sc->lock);
    while (atomic_load(&sc->done) < sc->ntags && !atomic_load(&sc->stop)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&sc->cond, &sc->lock, &until);
        if (reg_now() - last >= PROGRESS_SECONDS) {
            last = reg_now();
            cincy_log(CINCY_LOG_INFO, "ingest",
                      "scraping registry: %zu of %zu tags\tregistry=%s repository=%s "
                      "seconds=%.0f",
                      atomic_load(&sc->done), sc->ntags, sc->cl->host, sc->cl->repo, last - start);
        }
    }
    pthread_mutex_unlock(&sc->lock);
}

static int run_workers(scrape *sc, unsigned concurrency, cincy_error *err)
{
    size_t n = concurrency ? concurrency : 8, started = 0;
    pthread_t *threads;

    if (n > sc->ntags)
        n = sc->ntags;
    if (n == 0)
        return 0;
    if (!(threads = calloc(n, sizeof(*threads))))
        return ingest_oom(err);
    for (; started < n; started++)
        if (pthread_create(&threads[started], NULL, worker, sc) != 0)
            break;
    if (started == 0) {
        free(threads);
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "registry %s: cannot start a thread",
                               sc->cl->host);
    }
    wait_progress(sc);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (sc->fatal_code < 0) {
        if (err)
            *err = sc->fatal;
        return sc->fatal_code;
    }
    return 0;
}

static int cmp_release(const void *pa, const void *pb)
{
    const ingest_release *a = pa, *b = pb;
    int c = graph_version_cmp_str(a->version, b->version);
    if (c == 0)
        c = strcmp(a->version, b->version);
    if (c == 0)
        c = strcmp(a->arch, b->arch);
    return c ? c : strcmp(a->payload, b->payload);
}

/* The slots' records, sorted, as the result. */
static int collect(ingest_releases **out, scrape *sc, cincy_error *err)
{
    ingest_releases *rs = calloc(1, sizeof(*rs));
    size_t n = 0;

    if (!rs)
        return ingest_oom(err);
    for (size_t i = 0; i < sc->ntags; i++)
        n += sc->slots[i].have;
    if (n && !(rs->items = calloc(n, sizeof(*rs->items)))) {
        free(rs);
        return ingest_oom(err);
    }
    for (size_t i = 0; i < sc->ntags; i++)
        if (sc->slots[i].have) {
            rs->items[rs->count++] = sc->slots[i].rec;
            sc->slots[i].have = 0;
        }
    if (rs->count > 1)
        qsort(rs->items, rs->count, sizeof(*rs->items), cmp_release);
    *out = rs;
    return 0;
}

static int prepare_cache(scrape *sc, const char *cache_dir, cincy_error *err)
{
    if (!cache_dir || !*cache_dir)
        return 0;
    if (!(sc->tags_path = reg_printf("%s/tags", cache_dir)))
        return ingest_oom(err);
    if (!(sc->cache_root = reg_printf("%s/manifests/sha256", cache_dir)))
        return ingest_oom(err);
    return ingest_mkdir_p(sc->cache_root, err);
}

static void fill_stats(ingest_scrape_stats *st, scrape *sc, const ingest_releases *rs)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    st->tags = sc->ntags;
    st->releases = rs ? rs->count : 0;
    st->skipped = atomic_load(&sc->skipped);
    st->rejected = atomic_load(&sc->rejected);
    st->cache_hits = atomic_load(&sc->cache_hits);
    if (sc->cl) {
        st->manifests_fetched = atomic_load(&sc->cl->count.manifests);
        st->blobs_fetched = atomic_load(&sc->cl->count.blobs);
        st->bytes_fetched = atomic_load(&sc->cl->count.bytes);
    }
}

int ingest_registry_scrape(ingest_releases **out, const ingest_registry_config *cfg,
                           ingest_scrape_stats *stats, cincy_error *err)
{
    scrape sc;
    ingest_strv tags = {0};
    ingest_releases *rs = NULL;
    reg_conn c = {0};
    double start = reg_now();
    int error;

    assert(out && cfg);
    memset(&sc, 0, sizeof(sc));
    pthread_mutex_init(&sc.lock, NULL);
    pthread_cond_init(&sc.cond, NULL);
    reg_memo_init(&sc.memo);
    if ((error = reg_client_new(&sc.cl, cfg->repository, cfg, err)) < 0 ||
        (error = prepare_cache(&sc, cfg->cache_dir, err)) < 0 ||
        (error = reg_conn_init(&c, sc.cl, err)) < 0 || (error = list_tags(&tags, &c, err)) < 0)
        goto cleanup;
    sc.trust_tags = cfg->trust_tags && sc.cache_root;
    if (sc.trust_tags)
        seen_load(&sc);
    reg_conn_clear(&c);
    sc.tags = tags.items;
    sc.ntags = tags.n;
    if (sc.ntags && !(sc.slots = calloc(sc.ntags, sizeof(*sc.slots)))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if ((error = run_workers(&sc, cfg->concurrency, err)) < 0 ||
        (error = collect(&rs, &sc, err)) < 0)
        goto cleanup;
    seen_save(&sc);
    fill_stats(stats, &sc, rs);
    cincy_log(CINCY_LOG_INFO, "ingest",
              "scraped registry\tregistry=%s repository=%s tags=%zu releases=%zu skipped=%zu "
              "rejected=%zu cache_hits=%zu blobs=%zu seconds=%.2f",
              sc.cl->host, sc.cl->repo, sc.ntags, rs->count, atomic_load(&sc.skipped),
              atomic_load(&sc.rejected), atomic_load(&sc.cache_hits),
              atomic_load(&sc.cl->count.blobs), reg_now() - start);
    *out = rs;
    rs = NULL;
cleanup:
    if (error < 0)
        fill_stats(stats, &sc, NULL);
    reg_conn_clear(&c);
    for (size_t i = 0; sc.slots && i < sc.ntags; i++) {
        if (sc.slots[i].have)
            ingest_release_clear(&sc.slots[i].rec);
        free(sc.slots[i].digest);
    }
    free(sc.slots);
    seen_clear(&sc);
    free(sc.tags_path);
    ingest_strv_clear(&tags);
    ingest_releases_free(rs);
    free(sc.cache_root);
    reg_client_free(sc.cl);
    reg_memo_clear(&sc.memo);
    pthread_cond_destroy(&sc.cond);
    pthread_mutex_destroy(&sc.lock);
    return error;
}

int ingest_releases_merge(ingest_releases *dst, ingest_releases *src, cincy_error *err)
{
    ingest_release *items;

    assert(dst && src);
    if (src->count == 0)
        return 0;
    if (!(items = realloc(dst->items, (dst->count + src->count) * sizeof(*items))))
        return ingest_oom(err);
    memcpy(items + dst->count, src->items, src->count * sizeof(*items));
    dst->items = items;
    dst->count += src->count;
    free(src->items);
    src->items = NULL;
    src->count = 0;
    return 0;
}
