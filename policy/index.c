/* policy/index.c - the lookups that keep policy passes linear.
 * Graph-data addresses releases by version without arch ("4.14.1" means every
 * arch of 4.14.1), while nodes are named "4.14.1+amd64". A string map from
 * the build-less text to a bucket of nodes turns each such lookup into one
 * hash probe instead of a scan over ~7,500 nodes. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

/* FNV-1a, as graph/builder.c: short keys, one pass. */
static size_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return (size_t)h;
}

void policy_strmap_free(policy_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* Slot holding key, or the empty slot where it would go. cap must be > 0. */
static size_t strmap_slot(char *const *keys, size_t cap, const char *key)
{
    size_t mask = cap - 1, i;

    for (i = hash_str(key) & mask; keys[i] && strcmp(keys[i], key) != 0; i = (i + 1) & mask)
        ;
    return i;
}

int policy_strmap_get(const policy_strmap *m, const char *key, size_t *val)
{
    size_t i;

    if (m->cap == 0)
        return 0;
    i = strmap_slot(m->keys, m->cap, key);
    if (!m->keys[i])
        return 0;
    *val = m->vals[i];
    return 1;
}

static int strmap_grow(policy_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    char **keys = calloc(cap, sizeof(*keys));
    size_t *vals = malloc(cap * sizeof(*vals));

    if (!keys || !vals) {
        free(keys);
        free(vals);
        return CINCY_ERROR;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i]) {
            size_t j = strmap_slot(keys, cap, m->keys[i]);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return CINCY_OK;
}

int policy_strmap_put(policy_strmap *m, const char *key, size_t val)
{
    size_t i;
    char *k;

    if ((m->count + 1) * 2 > m->cap && strmap_grow(m) < 0)
        return CINCY_ERROR;
    i = strmap_slot(m->keys, m->cap, key);
    if (m->keys[i]) {
        m->vals[i] = val;
        return CINCY_OK;
    }
    if (!(k = strdup(key)))
        return CINCY_ERROR;
    m->keys[i] = k;
    m->vals[i] = val;
    m->count++;
    return CINCY_OK;
}

char *policy_version_base(const graph_version *v)
{
    graph_version tmp = *v;

    tmp.build = NULL; /* a shallow copy: format only reads it */
    return graph_version_format(&tmp);
}

static int bucket_push(policy_bucket *bk, size_t node)
{
    if (bk->n == bk->cap) {
        size_t cap = bk->cap ? bk->cap * 2 : 4;
        size_t *p = realloc(bk->nodes, cap * sizeof(*p));
        if (!p)
            return CINCY_ERROR;
        bk->nodes = p;
        bk->cap = cap;
    }
    bk->nodes[bk->n++] = node;
    return CINCY_OK;
}

static int new_bucket(policy_ctx *ctx, size_t *out)
{
    if (ctx->nbuckets == ctx->cap_buckets) {
        size_t cap = ctx->cap_buckets ? ctx->cap_buckets * 2 : 64;
        policy_bucket *p = realloc(ctx->buckets, cap * sizeof(*p));
        if (!p)
            return CINCY_ERROR;
        ctx->buckets = p;
        ctx->cap_buckets = cap;
    }
    memset(&ctx->buckets[ctx->nbuckets], 0, sizeof(*ctx->buckets));
    *out = ctx->nbuckets++;
    return CINCY_OK;
}

int policy_index_node(policy_ctx *ctx, size_t node, const graph_version *v)
{
    char *base = policy_version_base(v);
    size_t bucket;
    int error = CINCY_ERROR;

    if (!base)
        return CINCY_ERROR;
    if (!policy_strmap_get(&ctx->bases, base, &bucket) &&
        (new_bucket(ctx, &bucket) < 0 || policy_strmap_put(&ctx->bases, base, bucket) < 0))
        goto cleanup;
    if (bucket_push(&ctx->buckets[bucket], node) < 0)
        goto cleanup;
    ctx->node_bucket[node] = bucket;
    error = CINCY_OK;
cleanup:
    free(base);
    return error;
}

int policy_bucket_of(const policy_bucket **out, const policy_ctx *ctx, const graph_version *v)
{
    char *base = policy_version_base(v);
    size_t bucket;

    if (!base)
        return CINCY_ERROR;
    *out = policy_strmap_get(&ctx->bases, base, &bucket) ? &ctx->buckets[bucket] : NULL;
    free(base);
    return CINCY_OK;
}
