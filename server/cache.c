/* server/cache.c - rendered graph bodies and the cache that keeps them.
 *
 * Filtering the full graph and writing its JSON costs milliseconds; clusters
 * ask for the same few (channel, arch) pairs over and over. Each distinct body
 * is rendered at most once per graph generation, together with its ETag and
 * its gzip variant, and every later request is answered with the same bytes.
 *
 * DESIGN. One mutex guards the slot table. A miss claims a slot (body NULL)
 * under the lock, renders with the lock released, then fills the slot and
 * broadcasts `rendered`. A request that finds a claimed slot waits on
 * `rendered` and looks again, so concurrent first requests render once. If the
 * claimed slot disappears meanwhile (a reload emptied the cache, or 256 other
 * keys pushed it out of the ring), waiters simply try again: the worst case is
 * a second render, never a wrong body. Bodies are refcounted: a response holds
 * its own reference while libmicrohttpd writes it.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "server/server_internal.h"

#define ETAG_HEX 32   /* 128 bits of SHA-256: collisions are not a concern */
#define GZIP_LEVEL 6  /* zlib's default: most of level 9's ratio at a fraction of the time */
#define GZIP_WBITS 31 /* 15-bit window + 16: a gzip wrapper rather than zlib's */

/* ---------------------------------------------------------------------------
 * Bodies */

/* Writes "\"<hex>\"" and "\"<hex>-gzip\"" for the SHA-256 of the bytes.
 * Returns 0 or CINCY_ERROR. */
static int make_etags(server_body *b)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char tag[ETAG_HEX + 1];

    if (EVP_Digest(b->data, b->len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen * 2 < ETAG_HEX)
        return CINCY_ERROR;
    for (size_t i = 0; i < ETAG_HEX / 2; i++) {
        tag[2 * i] = hex[md[i] >> 4];
        tag[2 * i + 1] = hex[md[i] & 15];
    }
    tag[ETAG_HEX] = '\0';
    snprintf(b->etag, sizeof(b->etag), "\"%s\"", tag);
    snprintf(b->etag_gz, sizeof(b->etag_gz), "\"%s-gzip\"", tag);
    return 0;
}

/* Compresses the body into b->gz, keeping it only when it is smaller: a tiny
 * body (an empty graph) would grow by the gzip header. Returns 0 or
 * CINCY_ERROR (out of memory). */
static int make_gzip(server_body *b)
{
    z_stream z;
    uLong bound;
    unsigned char *out;
    int zerr;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, GZIP_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return CINCY_ERROR;
    bound = deflateBound(&z, (uLong)b->len);
    if (!(out = malloc(bound))) {
        deflateEnd(&z);
        return CINCY_ERROR;
    }
    z.next_in = (Bytef *)b->data;
    z.avail_in = (uInt)b->len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    zerr = deflate(&z, Z_FINISH); /* one call: deflateBound leaves room for all of it */
    deflateEnd(&z);
    if (zerr != Z_STREAM_END || z.total_out >= b->len) {
        free(out);
        return zerr == Z_STREAM_END ? 0 : CINCY_ERROR;
    }
    b->gz = out;
    b->gz_len = z.total_out;
    return 0;
}

server_body *server_body_new(const char *data, size_t len, int compress)
{
    server_body *b;

    if (len > UINT32_MAX) /* zlib counts in uInt; graph bodies are a few MiB at most */
        return NULL;
    if (!(b = calloc(1, sizeof(*b) + len + 1)))
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    if (make_etags(b) < 0 || (compress && make_gzip(b) < 0)) {
        server_body_unref(b);
        return NULL;
    }
    return b;
}

server_body *server_body_ref(server_body *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void server_body_unref(server_body *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        free(b->gz);
        free(b);
    }
}

void server_body_release(void *cls)
{
    server_body_unref(cls);
}

/* ---------------------------------------------------------------------------
 * The cache */

void server_cache_init(server_cache *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->rendered, NULL);
}

/* Moves every body out of the slots into drop[] so the caller can unref them
 * after unlocking; returns how many. Claimed slots go too: their renderers
 * will find no slot and serve their bytes uncached. Lock held. */
static size_t take_all(server_cache *c, server_body **drop)
{
    size_t n = 0;

    for (size_t i = 0; i < c->used; i++) {
        if (c->slots[i].body)
            drop[n++] = c->slots[i].body;
        memset(&c->slots[i], 0, sizeof(c->slots[i]));
    }
    c->used = 0;
    c->next = 0;
    pthread_cond_broadcast(&c->rendered); /* waiters look again */
    return n;
}

void server_cache_clear(server_cache *c)
{
    server_body *drop[SERVER_CACHE_SLOTS];
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = take_all(c, drop);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        server_body_unref(drop[i]);
}

void server_cache_destroy(server_cache *c)
{
    server_cache_clear(c);
    pthread_cond_destroy(&c->rendered);
    pthread_mutex_destroy(&c->lock);
}

static int key_fits(const char *channel, const char *arch)
{
    return channel[0] && strlen(channel) < SERVER_CACHE_KEY_MAX &&
           strlen(arch) < SERVER_CACHE_KEY_MAX;
}

/* Slot index holding the key (filled or claimed), or -1. Lock held. */
static long find_slot(const server_cache *c, const char *channel, const char *arch)
{
    for (size_t i = 0; i < c->used; i++) {
        if (!strcmp(c->slots[i].channel, channel) && !strcmp(c->slots[i].arch, arch))
            return (long)i;
    }
    return -1;
}

/* Claims a slot for the key and returns its ticket; the evicted body, if any,
 * lands in *drop for the caller to unref after unlocking. Lock held. */
static uint64_t claim_slot(server_cache *c, const char *channel, const char *arch,
                           server_body **drop)
{
    server_cache_slot *slot = NULL;

    *drop = NULL;
    for (size_t i = 0; i < c->used && !slot; i++) {
        if (!c->slots[i].channel[0])
            slot = &c->slots[i]; /* freed by a failed render */
    }
    if (!slot && c->used < SERVER_CACHE_SLOTS) {
        slot = &c->slots[c->used++];
    } else if (!slot) {
        slot = &c->slots[c->next];
        c->next = (c->next + 1) % SERVER_CACHE_SLOTS;
        *drop = slot->body;
        pthread_cond_broadcast(&c->rendered); /* it may have been a claim others wait on */
    }
    strcpy(slot->channel, channel); /* key_fits checked the lengths */
    strcpy(slot->arch, arch);
    slot->body = NULL;
    slot->ticket = ++c->tickets;
    return slot->ticket;
}

/* Fills our claimed slot with body (a new reference), or frees it when body
 * is NULL (the render failed). A no-op when the claim is gone. Lock held. */
static void settle_claim(server_cache *c, uint64_t ticket, server_body *body)
{
    for (size_t i = 0; i < c->used; i++) {
        server_cache_slot *slot = &c->slots[i];
        if (slot->ticket != ticket || !slot->channel[0] || slot->body)
            continue;
        if (body)
            slot->body = server_body_ref(body);
        else
            memset(slot, 0, sizeof(*slot));
        break;
    }
    pthread_cond_broadcast(&c->rendered);
}

static int render_counted(server_body **out, server_cache *c, const char *channel, const char *arch,
                          server_render_fn render, void *ctx)
{
    int error = render(out, channel, arch, ctx);

    pthread_mutex_lock(&c->lock);
    c->renders++;
    pthread_mutex_unlock(&c->lock);
    return error;
}

int server_cache_fetch(server_body **out, server_cache *c, uint64_t generation, const char *channel,
                       const char *arch, server_render_fn render, void *ctx)
{
    server_body *drop[SERVER_CACHE_SLOTS], *evicted = NULL, *body = NULL;
    size_t ndrop = 0;
    uint64_t ticket;
    long i;
    int error;

    if (!key_fits(channel, arch))
        return render_counted(out, c, channel, arch, render, ctx);
    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (generation > c->generation) {
            assert(ndrop == 0); /* c->generation only grows: this runs once at most */
            ndrop = take_all(c, drop);
            c->generation = generation;
        }
        if (generation < c->generation) {
            /* A reload came after this request read the generation: render
             * the newer graph for it, but do not cache under an old key. */
            c->misses++;
            pthread_mutex_unlock(&c->lock);
            error = render_counted(out, c, channel, arch, render, ctx);
            goto cleanup;
        }
        if ((i = find_slot(c, channel, arch)) < 0)
            break;
        if (c->slots[i].body) {
            c->hits++;
            *out = server_body_ref(c->slots[i].body);
            pthread_mutex_unlock(&c->lock);
            error = 0;
            goto cleanup;
        }
        pthread_cond_wait(&c->rendered, &c->lock); /* another request renders this key */
    }
    c->misses++;
    ticket = claim_slot(c, channel, arch, &evicted);
    pthread_mutex_unlock(&c->lock);

    error = render_counted(&body, c, channel, arch, render, ctx);
    pthread_mutex_lock(&c->lock);
    settle_claim(c, ticket, error < 0 ? NULL : body);
    pthread_mutex_unlock(&c->lock);
    if (error >= 0)
        *out = body;
cleanup:
    server_body_unref(evicted);
    for (size_t k = 0; k < ndrop; k++)
        server_body_unref(drop[k]);
    return error;
}
