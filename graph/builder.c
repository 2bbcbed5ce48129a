/* graph/builder.c - the mutable graph that ingest and policy edit.
 * Sized for the biggest real input, every release of every arch with every
 * edge the release images declare (~10,000 nodes, ~2 million edges):
 * nodes are found by version through a string hash, edges de-duplicated
 * through a pair hash, and each node keeps its incoming and outgoing
 * neighbours in arrays so policy can walk them without a scan.
 * Repeated content is stored once: metadata keys in a string pool, risks in
 * a risk pool (risk.c), and each pair's risk list as one id in a trie of
 * lists (see graph_internal.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

#define NAME_EMPTY SIZE_MAX

/* Makes room for need elements of size elem in *p (capacity *cap),
 * doubling. Returns 0 or CINCY_ERROR with *p untouched. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 4;
    void *q;

    if (need <= *cap)
        return CINCY_OK;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem || !(q = realloc(*p, n * elem)))
        return CINCY_ERROR;
    *p = q;
    *cap = n;
    return CINCY_OK;
}

/* FNV-1a: versions are short and this runs once per lookup. */
static size_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return (size_t)h;
}

int graph_builder_new(graph_builder **out)
{
    graph_builder *b = calloc(1, sizeof(*b));

    if (!b)
        return CINCY_ERROR;
    graph_pairset_init(&b->edges, 0);
    graph_pairset_init(&b->list_next, 1);
    graph_pairset_init(&b->pair_list, 1);
    *out = b;
    return CINCY_OK;
}

void graph_meta_free(graph_meta *m)
{
    for (size_t i = 0; i < m->count; i++)
        free(m->items[i].value);
    free(m->items);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------------------
 * The metadata key pool */

const char *graph_strpool_intern(graph_strpool *p, const char *s)
{
    size_t mask, i;
    char *copy;

    if ((p->count + 1) * 2 > p->nslots) {
        size_t n = p->nslots ? p->nslots * 2 : 16;
        uint32_t *slots = calloc(n, sizeof(*slots));
        if (!slots || p->count >= UINT32_MAX - 1) {
            free(slots);
            return NULL;
        }
        for (size_t k = 0; k < p->count; k++) {
            for (i = hash_str(p->items[k]) & (n - 1); slots[i]; i = (i + 1) & (n - 1))
                ;
            slots[i] = (uint32_t)k + 1;
        }
        free(p->slots);
        p->slots = slots;
        p->nslots = n;
    }
    mask = p->nslots - 1;
    for (i = hash_str(s) & mask; p->slots[i]; i = (i + 1) & mask) {
        if (strcmp(p->items[p->slots[i] - 1], s) == 0)
            return p->items[p->slots[i] - 1];
    }
    if (grow((void **)&p->items, &p->cap, p->count + 1, sizeof(*p->items)) < 0 ||
        !(copy = strdup(s)))
        return NULL;
    p->items[p->count++] = copy;
    p->slots[i] = (uint32_t)p->count; /* index + 1 */
    return copy;
}

void graph_strpool_free(graph_strpool *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->items[i]);
    free(p->items);
    free(p->slots);
    memset(p, 0, sizeof(*p));
}

void graph_builder_drop_indexes(graph_builder *b)
{
    for (size_t i = 0; i < b->nnodes; i++) {
        builder_node *n = &b->nodes[i];
        free(n->in);
        free(n->out);
        n->in = n->out = NULL;
        n->nin = n->cap_in = n->nout = n->cap_out = 0;
    }
    free(b->name_slots);
    b->name_slots = NULL;
    b->name_cap = 0;
    free(b->meta_keys.slots); /* the keys themselves stay: metadata points at them */
    b->meta_keys.slots = NULL;
    b->meta_keys.nslots = 0;
    graph_pairset_free(&b->edges);
    graph_pairset_free(&b->list_next);
    graph_pairset_free(&b->pair_list);
    graph_risk_pool_drop_index(&b->risks);
}

void graph_builder_free(graph_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nnodes; i++) {
        builder_node *n = &b->nodes[i];
        free(n->version);
        free(n->payload);
        graph_meta_free(&n->meta);
        free(n->in);
        free(n->out);
    }
    free(b->nodes);
    free(b->name_slots);
    graph_strpool_free(&b->meta_keys);
    graph_pairset_free(&b->edges);
    graph_risk_pool_free(&b->risks);
    free(b->lists);
    graph_pairset_free(&b->list_next);
    graph_pairset_free(&b->pair_list);
    free(b);
}

/* ---------------------------------------------------------------------------
 * Nodes */

/* Slot of version in the name table: its node's slot, or the empty slot
 * where it would go. name_cap must be non-zero. */
static size_t name_slot(const graph_builder *b, const char *version)
{
    size_t mask = b->name_cap - 1, i;

    for (i = hash_str(version) & mask; b->name_slots[i] != NAME_EMPTY; i = (i + 1) & mask) {
        if (strcmp(b->nodes[b->name_slots[i]].version, version) == 0)
            break;
    }
    return i;
}

static int name_table_grow(graph_builder *b)
{
    size_t cap = b->name_cap ? b->name_cap * 2 : 64;
    size_t *slots = malloc(cap * sizeof(*slots));

    if (!slots)
        return CINCY_ERROR;
    free(b->name_slots);
    b->name_slots = slots;
    b->name_cap = cap;
    memset(slots, 0xff, cap * sizeof(*slots)); /* all NAME_EMPTY */
    for (size_t n = 0; n < b->nnodes; n++)
        slots[name_slot(b, b->nodes[n].version)] = n;
    return CINCY_OK;
}

int graph_builder_find(const graph_builder *b, const char *version, size_t *out_index)
{
    size_t slot;

    if (b->name_cap == 0)
        return CINCY_ENOTFOUND;
    slot = name_slot(b, version);
    if (b->name_slots[slot] == NAME_EMPTY)
        return CINCY_ENOTFOUND;
    *out_index = b->name_slots[slot];
    return CINCY_OK;
}

/* A repeat of a known version may fill in a placeholder's payload but never
 * change a payload: two digests for one version is broken input. */
static int merge_payload(builder_node *n, const char *payload, cincy_error *err)
{
    if (!payload || (n->payload && strcmp(n->payload, payload) == 0))
        return CINCY_OK;
    if (n->payload)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "version %s has two payloads: %s and %s", n->version, n->payload,
                               payload);
    if (!(n->payload = strdup(payload)))
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    return CINCY_OK;
}

int graph_builder_add_node(graph_builder *b, const char *version, const char *payload,
                           size_t *out_index, cincy_error *err)
{
    builder_node n;
    size_t idx;
    int error;

    if (graph_builder_find(b, version, &idx) == CINCY_OK) {
        if ((error = merge_payload(&b->nodes[idx], payload, err)) < 0)
            return error;
        *out_index = idx;
        return CINCY_OK;
    }
    if (b->nnodes >= GRAPH_NODE_MAX)
        return cincy_error_set(err, CINCY_ETOOBIG, NULL, 0, "too many nodes in update graph");
    if (grow((void **)&b->nodes, &b->cap_nodes, b->nnodes + 1, sizeof(*b->nodes)) < 0 ||
        ((b->nnodes + 1) * 2 > b->name_cap && name_table_grow(b) < 0))
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");

    memset(&n, 0, sizeof(n));
    n.version = strdup(version);
    n.payload = payload ? strdup(payload) : NULL;
    if (!n.version || (payload && !n.payload)) {
        free(n.version);
        free(n.payload);
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    idx = b->nnodes++;
    b->nodes[idx] = n;
    b->name_slots[name_slot(b, version)] = idx;
    *out_index = idx;
    return CINCY_OK;
}

size_t graph_builder_node_count(const graph_builder *b)
{
    return b->nnodes;
}

const char *graph_builder_node_version(const graph_builder *b, size_t node)
{
    assert(node < b->nnodes);
    return b->nodes[node].version;
}

const char *graph_builder_node_payload(const graph_builder *b, size_t node)
{
    assert(node < b->nnodes);
    return b->nodes[node].payload;
}

/* ---------------------------------------------------------------------------
 * Metadata */

static graph_meta_entry *meta_find(const graph_meta *m, const char *key)
{
    for (size_t i = 0; i < m->count; i++) {
        if (strcmp(m->items[i].key, key) == 0)
            return &m->items[i];
    }
    return NULL;
}

const char *graph_builder_meta_get(const graph_builder *b, size_t node, const char *key)
{
    graph_meta_entry *e;

    assert(node < b->nnodes);
    e = meta_find(&b->nodes[node].meta, key);
    return e ? e->value : NULL;
}

int graph_builder_meta_set(graph_builder *b, size_t node, const char *key, const char *value)
{
    graph_meta *m;
    graph_meta_entry *e;
    const char *k;
    char *v;

    assert(node < b->nnodes);
    m = &b->nodes[node].meta;
    if (!(v = strdup(value)))
        return CINCY_ERROR;
    if ((e = meta_find(m, key)) != NULL) {
        free(e->value); /* replaced in place: the key keeps its position */
        e->value = v;
        return CINCY_OK;
    }
    if (grow((void **)&m->items, &m->cap, m->count + 1, sizeof(*m->items)) < 0 ||
        !(k = graph_strpool_intern(&b->meta_keys, key))) {
        free(v);
        return CINCY_ERROR;
    }
    m->items[m->count].key = k;
    m->items[m->count].value = v;
    m->count++;
    return CINCY_OK;
}

int graph_builder_meta_append(graph_builder *b, size_t node, const char *key, const char *value,
                              const char *sep)
{
    graph_meta_entry *e;
    size_t lo, ls, lv;
    char *v;

    assert(node < b->nnodes);
    if (!(e = meta_find(&b->nodes[node].meta, key)))
        return graph_builder_meta_set(b, node, key, value);
    lo = strlen(e->value);
    ls = sep ? strlen(sep) : 0;
    lv = strlen(value);
    if (!(v = malloc(lo + ls + lv + 1)))
        return CINCY_ERROR;
    memcpy(v, e->value, lo);
    if (ls)
        memcpy(v + lo, sep, ls);
    memcpy(v + lo + ls, value, lv + 1);
    free(e->value);
    e->value = v;
    return CINCY_OK;
}

void graph_builder_meta_remove(graph_builder *b, size_t node, const char *key)
{
    graph_meta *m;
    graph_meta_entry *e;
    size_t i;

    assert(node < b->nnodes);
    m = &b->nodes[node].meta;
    if (!(e = meta_find(m, key)))
        return;
    i = (size_t)(e - m->items);
    free(e->value); /* the key stays pooled */
    memmove(&m->items[i], &m->items[i + 1], (m->count - i - 1) * sizeof(*m->items));
    m->count--;
}

size_t graph_builder_meta_count(const graph_builder *b, size_t node)
{
    assert(node < b->nnodes);
    return b->nodes[node].meta.count;
}

void graph_builder_meta_at(const graph_builder *b, size_t node, size_t i, const char **key,
                           const char **value)
{
    assert(node < b->nnodes && i < b->nodes[node].meta.count);
    *key = b->nodes[node].meta.items[i].key;
    *value = b->nodes[node].meta.items[i].value;
}

/* ---------------------------------------------------------------------------
 * Edges */

/* Grows by half, not double: the full graph's adjacency arrays hold ~1.3
 * million entries, and most nodes stop growing long before the next step. */
static int adj_push(size_t **arr, size_t *n, size_t *cap, size_t v)
{
    if (*n == *cap) {
        size_t c = *cap < 4 ? 4 : *cap + *cap / 2;
        size_t *q = c <= SIZE_MAX / sizeof(*q) ? realloc(*arr, c * sizeof(*q)) : NULL;
        if (!q)
            return CINCY_ERROR;
        *arr = q;
        *cap = c;
    }
    (*arr)[(*n)++] = v;
    return CINCY_OK;
}

/* Removes v from an adjacency array, keeping the others in order so that
 * walks over them stay deterministic. */
static void adj_remove(size_t *arr, size_t *n, size_t v)
{
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == v) {
            memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof(*arr));
            (*n)--;
            return;
        }
    }
}

int graph_builder_add_edge(graph_builder *b, size_t from, size_t to)
{
    builder_node *f, *t;
    int added;

    assert(from < b->nnodes && to < b->nnodes);
    added = graph_pairset_put(&b->edges, graph_pair_key(from, to), 0);
    if (added <= 0)
        return added; /* 0: already an edge; or CINCY_ERROR */
    f = &b->nodes[from];
    t = &b->nodes[to];
    if (adj_push(&f->out, &f->nout, &f->cap_out, to) < 0)
        goto fail;
    if (adj_push(&t->in, &t->nin, &t->cap_in, from) < 0) {
        f->nout--;
        goto fail;
    }
    return CINCY_OK;

fail:
    graph_pairset_del(&b->edges, graph_pair_key(from, to));
    return CINCY_ERROR;
}

void graph_builder_remove_edge(graph_builder *b, size_t from, size_t to)
{
    assert(from < b->nnodes && to < b->nnodes);
    if (!graph_pairset_del(&b->edges, graph_pair_key(from, to)))
        return;
    adj_remove(b->nodes[from].out, &b->nodes[from].nout, to);
    adj_remove(b->nodes[to].in, &b->nodes[to].nin, from);
}

int graph_builder_has_edge(const graph_builder *b, size_t from, size_t to)
{
    assert(from < b->nnodes && to < b->nnodes);
    return graph_pairset_get(&b->edges, graph_pair_key(from, to), NULL);
}

const size_t *graph_builder_incoming(const graph_builder *b, size_t node, size_t *count)
{
    assert(node < b->nnodes);
    *count = b->nodes[node].nin;
    return b->nodes[node].in;
}

const size_t *graph_builder_outgoing(const graph_builder *b, size_t node, size_t *count)
{
    assert(node < b->nnodes);
    *count = b->nodes[node].nout;
    return b->nodes[node].out;
}

/* ---------------------------------------------------------------------------
 * Risks */

/* lists[0], the empty list, made on the first risk. */
static int lists_init(graph_builder *b)
{
    if (b->nlists > 0)
        return CINCY_OK;
    if (grow((void **)&b->lists, &b->cap_lists, 1, sizeof(*b->lists)) < 0)
        return CINCY_ERROR;
    memset(&b->lists[0], 0, sizeof(b->lists[0]));
    b->nlists = 1;
    return CINCY_OK;
}

/* *out is list with risk appended, the trie node made on first use. */
static int list_append(graph_builder *b, uint32_t list, uint32_t risk, uint32_t *out)
{
    uint64_t key = graph_pair_key(list, risk);
    size_t child;

    if (graph_pairset_get(&b->list_next, key, &child)) {
        *out = (uint32_t)child;
        return CINCY_OK;
    }
    if (b->nlists >= UINT32_MAX - 1 ||
        grow((void **)&b->lists, &b->cap_lists, b->nlists + 1, sizeof(*b->lists)) < 0 ||
        graph_pairset_put(&b->list_next, key, b->nlists) < 0)
        return CINCY_ERROR;
    b->lists[b->nlists].parent = list;
    b->lists[b->nlists].risk = risk;
    b->lists[b->nlists].depth = b->lists[list].depth + 1;
    *out = (uint32_t)b->nlists++;
    return CINCY_OK;
}

/* On failure the pair's list is as it was; the pool or the trie may have
 * gained an entry nobody refers to, which freeze leaves out. */
int graph_builder_add_risk(graph_builder *b, size_t from, size_t to, const graph_risk *risk)
{
    uint64_t key = graph_pair_key(from, to);
    size_t list = 0; /* the empty list when the pair has none */
    uint32_t id, next;

    assert(from < b->nnodes && to < b->nnodes);
    if (lists_init(b) < 0 || graph_risk_pool_intern(&b->risks, risk, &id) < 0)
        return CINCY_ERROR;
    graph_pairset_get(&b->pair_list, key, &list);
    if (list_append(b, (uint32_t)list, id, &next) < 0 ||
        graph_pairset_set(&b->pair_list, key, next) < 0)
        return CINCY_ERROR;
    return CINCY_OK;
}

void graph_builder_clear_risks(graph_builder *b, size_t from, size_t to)
{
    assert(from < b->nnodes && to < b->nnodes);
    graph_pairset_del(&b->pair_list, graph_pair_key(from, to));
}
