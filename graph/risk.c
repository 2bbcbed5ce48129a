/* graph/risk.c - conditional-update risks: deep copy, release, equality,
 * and the builder's pool that keeps one copy of each distinct risk.
 * Equality decides which risks are the same, hence which pairs share a
 * conditionalEdges group. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

static int dup_opt(char **out, const char *s)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : -1;
}

int graph_risk_copy(graph_risk *out, const graph_risk *src)
{
    graph_risk r;

    memset(&r, 0, sizeof(r));
    if (dup_opt(&r.url, src->url) < 0 || dup_opt(&r.name, src->name) < 0 ||
        dup_opt(&r.message, src->message) < 0)
        goto fail;
    if (src->nrules > 0) {
        r.rules = calloc(src->nrules, sizeof(*r.rules));
        if (!r.rules)
            goto fail;
        r.nrules = src->nrules;
        for (size_t i = 0; i < src->nrules; i++) {
            r.rules[i].type = src->rules[i].type;
            if (dup_opt(&r.rules[i].promql, src->rules[i].promql) < 0)
                goto fail;
        }
    }
    *out = r;
    return CINCY_OK;

fail:
    graph_risk_clear(&r);
    memset(out, 0, sizeof(*out));
    return CINCY_ERROR;
}

void graph_risk_clear(graph_risk *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->name);
    free(r->message);
    for (size_t i = 0; i < r->nrules; i++)
        free(r->rules[i].promql);
    free(r->rules);
    memset(r, 0, sizeof(*r));
}

/* NULL equals "": both serialise the same way (the JSON writer emits "" for a
 * missing string and omits an empty PromQL query), so two risks that look
 * identical in the response must also share a group. */
static int str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int graph_risk_equal(const graph_risk *a, const graph_risk *b)
{
    if (!str_equal(a->url, b->url) || !str_equal(a->name, b->name) ||
        !str_equal(a->message, b->message) || a->nrules != b->nrules)
        return 0;
    for (size_t i = 0; i < a->nrules; i++) {
        if (a->rules[i].type != b->rules[i].type ||
            !str_equal(a->rules[i].promql, b->rules[i].promql))
            return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------
 * The builder's pool of distinct risks. Policy attaches one blocked-edges
 * risk to thousands of pairs in a row, and the per-request filter re-adds a
 * group's few risks pair after pair, so the pool first tries a small cache
 * of the caller's pointers and only hashes on a miss. A pointer alone proves
 * nothing (a caller may refill the same struct), so a hit is confirmed with
 * graph_risk_equal, which costs a compare where a miss costs a hash, a probe
 * and the same compare. */

#define POOL_MIN_SLOTS 64

static uint64_t hash_mix(uint64_t h, const char *s)
{
    for (s = s ? s : ""; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff; /* field separator, so "ab","c" differs from "a","bc" */
    return h * 0x100000001b3ULL;
}

/* FNV-1a over the fields graph_risk_equal compares (NULL hashes as ""). */
static uint64_t hash_risk(const graph_risk *r)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    h = hash_mix(hash_mix(hash_mix(h, r->url), r->name), r->message);
    for (size_t i = 0; i < r->nrules; i++)
        h = hash_mix(h ^ (uint64_t)r->rules[i].type, r->rules[i].promql);
    return h;
}

static size_t cache_slot(const graph_risk *r)
{
    /* risks often sit in arrays 40 bytes apart; 40/8 is odd, so
     * neighbours land in different slots */
    return ((uintptr_t)r >> 3) & (GRAPH_RISK_CACHE - 1);
}

/* Slot of the risk equal to r (hash h), or the empty slot where it goes. */
static size_t pool_slot(const graph_risk_pool *p, const graph_risk *r, uint64_t h)
{
    size_t mask = p->nslots - 1, i;

    for (i = (size_t)h & mask; p->slots[i] != 0; i = (i + 1) & mask) {
        uint32_t id = p->slots[i] - 1;
        if (p->hashes[id] == h && graph_risk_equal(&p->items[id], r))
            break;
    }
    return i;
}

static int pool_grow_slots(graph_risk_pool *p)
{
    size_t n = p->nslots ? p->nslots * 2 : POOL_MIN_SLOTS, mask = n - 1;
    uint32_t *slots = calloc(n, sizeof(*slots));

    if (!slots)
        return CINCY_ERROR;
    for (size_t id = 0; id < p->count; id++) {
        size_t i = (size_t)p->hashes[id] & mask;
        while (slots[i] != 0)
            i = (i + 1) & mask;
        slots[i] = (uint32_t)id + 1;
    }
    free(p->slots);
    p->slots = slots;
    p->nslots = n;
    return CINCY_OK;
}

/* Appends a deep copy of r with hash h; its id is p->count - 1. */
static int pool_append(graph_risk_pool *p, const graph_risk *r, uint64_t h)
{
    if (p->count >= UINT32_MAX - 1)
        return CINCY_ERROR; /* ids and slot values are 32-bit */
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        graph_risk *items = realloc(p->items, cap * sizeof(*items));
        uint64_t *hashes;
        if (!items)
            return CINCY_ERROR;
        p->items = items;
        if (!(hashes = realloc(p->hashes, cap * sizeof(*hashes))))
            return CINCY_ERROR;
        p->hashes = hashes;
        p->cap = cap;
    }
    if (graph_risk_copy(&p->items[p->count], r) < 0)
        return CINCY_ERROR;
    p->hashes[p->count++] = h;
    return CINCY_OK;
}

int graph_risk_pool_intern(graph_risk_pool *p, const graph_risk *r, uint32_t *out_id)
{
    size_t c = cache_slot(r), i;
    uint64_t h;

    if (p->recent[c].ptr == r && graph_risk_equal(&p->items[p->recent[c].id], r)) {
        *out_id = p->recent[c].id;
        return CINCY_OK;
    }
    if ((p->count + 1) * 2 > p->nslots && pool_grow_slots(p) < 0)
        return CINCY_ERROR;
    h = hash_risk(r);
    i = pool_slot(p, r, h);
    if (p->slots[i] == 0) {
        if (pool_append(p, r, h) < 0)
            return CINCY_ERROR;
        p->slots[i] = (uint32_t)p->count; /* id + 1 */
    }
    p->recent[c].ptr = r;
    p->recent[c].id = p->slots[i] - 1;
    *out_id = p->recent[c].id;
    return CINCY_OK;
}

void graph_risk_pool_drop_index(graph_risk_pool *p)
{
    free(p->slots);
    free(p->hashes);
    p->slots = NULL;
    p->hashes = NULL;
    p->nslots = 0;
    memset(p->recent, 0, sizeof(p->recent));
}

void graph_risk_pool_free(graph_risk_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++)
        graph_risk_clear(&p->items[i]); /* a no-op for risks freeze moved out */
    free(p->items);
    graph_risk_pool_drop_index(p);
    memset(p, 0, sizeof(*p));
}
