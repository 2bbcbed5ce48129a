/* server/cache.c - serialised graph bodies and the cache that keeps them.
 *
 * Filtering the full graph and writing its JSON costs milliseconds; clusters
 * ask for the same few (channel, arch) pairs over and over. The cache keeps
 * the bytes of each answered pair for the current graph generation. Bodies are
 * refcounted: a request holds its own reference while libmicrohttpd writes
 * it, so eviction or a new generation never frees bytes being sent.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

server_body *server_body_new(const char *data, size_t len)
{
    server_body *b = malloc(sizeof(*b) + len + 1);

    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
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
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

void server_body_release_data(void *p)
{
    if (p)
        server_body_unref((server_body *)((char *)p - offsetof(server_body, data)));
}

void server_cache_init(server_cache *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

/* Moves every body out of the slots into drop[] so the caller can unref them
 * after unlocking; returns how many. Lock held. */
static size_t take_all(server_cache *c, server_body **drop)
{
    size_t n = 0;

    for (size_t i = 0; i < c->used; i++) {
        drop[n++] = c->slots[i].body;
        c->slots[i].body = NULL;
    }
    c->used = 0;
    c->next = 0;
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

static int key_fits(const char *channel, const char *arch)
{
    return strlen(channel) < SERVER_CACHE_KEY_MAX && strlen(arch) < SERVER_CACHE_KEY_MAX;
}

/* Slot index holding the key, or -1. Lock held. */
static long find_slot(const server_cache *c, const char *channel, const char *arch)
{
    for (size_t i = 0; i < c->used; i++) {
        if (!strcmp(c->slots[i].channel, channel) && !strcmp(c->slots[i].arch, arch))
            return (long)i;
    }
    return -1;
}

server_body *server_cache_get(server_cache *c, uint64_t generation, const char *channel,
                              const char *arch)
{
    server_body *b = NULL;
    long i;

    if (!key_fits(channel, arch))
        return NULL;
    pthread_mutex_lock(&c->lock);
    if (c->generation == generation && (i = find_slot(c, channel, arch)) >= 0)
        b = server_body_ref(c->slots[i].body);
    if (b)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    return b;
}

void server_cache_put(server_cache *c, uint64_t generation, const char *channel, const char *arch,
                      server_body *body)
{
    server_body *drop[SERVER_CACHE_SLOTS];
    size_t ndrop = 0;
    server_cache_slot *slot;

    assert(body);
    if (!key_fits(channel, arch))
        return;
    pthread_mutex_lock(&c->lock);
    if (generation < c->generation)
        goto unlock; /* a slow request finished after a reload: its bytes are stale */
    if (generation > c->generation) {
        ndrop = take_all(c, drop);
        c->generation = generation;
    }
    if (find_slot(c, channel, arch) >= 0)
        goto unlock; /* a concurrent request stored the same bytes first */
    if (c->used < SERVER_CACHE_SLOTS) {
        slot = &c->slots[c->used++];
    } else {
        slot = &c->slots[c->next];
        c->next = (c->next + 1) % SERVER_CACHE_SLOTS;
        drop[ndrop++] = slot->body;
    }
    strcpy(slot->channel, channel); /* key_fits checked the lengths */
    strcpy(slot->arch, arch);
    slot->body = server_body_ref(body);
unlock:
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < ndrop; i++)
        server_body_unref(drop[i]);
}
