/* graph/pairset.c - an open-addressing hash of (from, to) pairs packed into
 * uint64_t keys. The builder keeps up to a few million edges in one, so
 * add_edge de-duplication and has_edge stay O(1) on average. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

#define PAIRSET_MIN_CAP 16

/* splitmix64's finaliser: pair keys are highly regular (small from and to),
 * and linear probing needs their bits mixed. */
static size_t hash_key(uint64_t k)
{
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    k ^= k >> 31;
    return (size_t)k;
}

void graph_pairset_init(graph_pairset *s, int with_values)
{
    memset(s, 0, sizeof(*s));
    s->with_values = with_values;
}

void graph_pairset_free(graph_pairset *s)
{
    if (!s)
        return;
    free(s->keys);
    free(s->vals);
    graph_pairset_init(s, s->with_values);
}

/* Slot holding key, or SIZE_MAX. */
static size_t find_slot(const graph_pairset *s, uint64_t key)
{
    size_t mask, i;

    if (s->cap == 0)
        return SIZE_MAX;
    mask = s->cap - 1;
    for (i = hash_key(key) & mask;; i = (i + 1) & mask) {
        if (s->keys[i] == key)
            return i;
        if (s->keys[i] == GRAPH_PAIR_EMPTY)
            return SIZE_MAX;
    }
}

int graph_pairset_get(const graph_pairset *s, uint64_t key, size_t *val)
{
    size_t i = find_slot(s, key);

    if (i == SIZE_MAX)
        return 0;
    if (val && s->vals)
        *val = s->vals[i];
    return 1;
}

/* Re-inserts every live key into a table of new_cap slots, which also
 * drops the deleted marks. */
static int rehash(graph_pairset *s, size_t new_cap)
{
    uint64_t *keys = malloc(new_cap * sizeof(*keys));
    size_t *vals = NULL;
    size_t mask = new_cap - 1;

    if (!keys)
        return CINCY_ERROR;
    if (s->with_values && !(vals = malloc(new_cap * sizeof(*vals)))) {
        free(keys);
        return CINCY_ERROR;
    }
    memset(keys, 0xff, new_cap * sizeof(*keys)); /* all GRAPH_PAIR_EMPTY */
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = s->keys[i];
        size_t j;
        if (k == GRAPH_PAIR_EMPTY || k == GRAPH_PAIR_DELETED)
            continue;
        for (j = hash_key(k) & mask; keys[j] != GRAPH_PAIR_EMPTY; j = (j + 1) & mask)
            ;
        keys[j] = k;
        if (vals)
            vals[j] = s->vals[i];
    }
    free(s->keys);
    free(s->vals);
    s->keys = keys;
    s->vals = vals;
    s->cap = new_cap;
    s->used = s->count;
    return CINCY_OK;
}

int graph_pairset_put(graph_pairset *s, uint64_t key, size_t val)
{
    size_t mask, i, tomb = SIZE_MAX;

    if ((s->used + 1) * 2 > s->cap) {
        size_t cap = PAIRSET_MIN_CAP;
        while (cap < (s->count + 1) * 4)
            cap *= 2;
        if (rehash(s, cap) < 0)
            return CINCY_ERROR;
    }
    mask = s->cap - 1;
    for (i = hash_key(key) & mask;; i = (i + 1) & mask) {
        if (s->keys[i] == key)
            return 0;
        if (s->keys[i] == GRAPH_PAIR_DELETED && tomb == SIZE_MAX)
            tomb = i;
        if (s->keys[i] == GRAPH_PAIR_EMPTY)
            break;
    }
    if (tomb != SIZE_MAX)
        i = tomb; /* reuse a deleted slot; used already counts it */
    else
        s->used++;
    s->keys[i] = key;
    if (s->vals)
        s->vals[i] = val;
    s->count++;
    return 1;
}

int graph_pairset_del(graph_pairset *s, uint64_t key)
{
    size_t i = find_slot(s, key);

    if (i == SIZE_MAX)
        return 0;
    s->keys[i] = GRAPH_PAIR_DELETED;
    s->count--;
    return 1;
}
