/* graph/pairset.c - an open-addressing hash of (from, to) pairs packed into
 * uint64_t keys. The builder keeps up to a few million edges in one, so
 * add_edge de-duplication and has_edge stay O(1) on average.
 *
 * Memory is the constraint that shapes it: the full graph's edge set alone
 * has ~650,000 keys. A table doubles when 70% full, so it is 35% to 70%
 * full (12 to 23 bytes a key for a plain set; at 70% a linear probe for an
 * absent key still reads about six slots, one or two cache lines), and
 * values are 32 bits, which is all a node index or list id needs. */
#include <assert.h>
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
    uint32_t *vals = NULL;
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

/* Makes room for one more key. The new size is the smallest that leaves
 * the live keys at most half full: a full table doubles, and one that is
 * mostly deleted marks is rebuilt at its own size and then lasts at least
 * cap/5 more inserts. */
static int reserve_one(graph_pairset *s)
{
    size_t cap = PAIRSET_MIN_CAP;

    if ((s->used + 1) * 10 <= s->cap * 7)
        return CINCY_OK;
    while (cap < (s->count + 1) * 2) {
        if (cap > SIZE_MAX / 2 / sizeof(uint64_t))
            return CINCY_ERROR;
        cap *= 2;
    }
    return rehash(s, cap);
}

/* Finds key's slot for an insert: its own slot (*found = 1), else the first
 * deleted slot on its probe path, else the empty slot ending it. */
static size_t insert_slot(const graph_pairset *s, uint64_t key, int *found)
{
    size_t mask = s->cap - 1, i, tomb = SIZE_MAX;

    for (i = hash_key(key) & mask;; i = (i + 1) & mask) {
        if (s->keys[i] == key) {
            *found = 1;
            return i;
        }
        if (s->keys[i] == GRAPH_PAIR_DELETED && tomb == SIZE_MAX)
            tomb = i;
        if (s->keys[i] == GRAPH_PAIR_EMPTY)
            break;
    }
    *found = 0;
    return tomb != SIZE_MAX ? tomb : i;
}

static int put(graph_pairset *s, uint64_t key, size_t val, int replace)
{
    size_t i;
    int found;

    assert(key != GRAPH_PAIR_EMPTY && key != GRAPH_PAIR_DELETED);
    assert(!s->with_values || val <= UINT32_MAX);
    if (reserve_one(s) < 0)
        return CINCY_ERROR;
    i = insert_slot(s, key, &found);
    if (found) {
        if (replace && s->vals)
            s->vals[i] = (uint32_t)val;
        return 0;
    }
    if (s->keys[i] == GRAPH_PAIR_EMPTY)
        s->used++; /* a reused deleted slot is already counted */
    s->keys[i] = key;
    if (s->vals)
        s->vals[i] = (uint32_t)val;
    s->count++;
    return 1;
}

int graph_pairset_put(graph_pairset *s, uint64_t key, size_t val)
{
    return put(s, key, val, 0);
}

int graph_pairset_set(graph_pairset *s, uint64_t key, size_t val)
{
    return put(s, key, val, 1);
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
