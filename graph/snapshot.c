/* graph/snapshot.c - the immutable graph that request threads read.
 * Ingest builds a new snapshot off to the side and publishes it with one pointer
 * swap; a response holds a reference, so an old graph lives until it is written.
 *
 * DESIGN. graph_builder_freeze moves the builder's strings and metadata into
 * the snapshot instead of copying them, and lays edges, conditional pairs and
 * the by-name index out as one array each, so a 10,000-node graph is a handful
 * of allocations beyond its strings. Risks are the builder's interned ones,
 * each held once however many pairs carry it; a group's risk array holds
 * shallow copies that share those strings. Pairs are grouped by the id of
 * their risk list (graph_internal.h), never by comparing text. The builder's
 * indexes are freed as soon as edges and pairs are collected, before the
 * snapshot's arrays are made, so the two never peak together. The order it
 * produces is documented in docs/graph-order.md and is what makes responses
 * byte-identical. */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

#define NO_NODE UINT32_MAX
#define CYCLE_TEXT_MAX 400 /* fits cincy_error.msg with its prefix */

typedef struct snap_node {
    char *version;   /* taken over from the builder */
    char *payload;   /* never NULL: placeholders were dropped */
    graph_meta meta; /* keys point into meta_keys */
} snap_node;

typedef struct name_entry {
    const char *version; /* borrowed from nodes[index] */
    size_t index;
} name_entry;

struct graph_snapshot {
    atomic_uint refs; /* the only field that changes once built */
    snap_node *nodes; /* semver order */
    size_t nnodes;
    name_entry *by_name; /* sorted by strcmp of version, for find */
    graph_edge *edges;   /* unconditional, sorted by (from, to) */
    size_t nedges;
    graph_cond_group *groups; /* ordered by first pair */
    size_t ngroups;
    graph_edge *cond_edges; /* every group's pairs, groups back to back */
    size_t ncond_edges;
    graph_risk *group_risks; /* every group's risks, shallow copies of risks[] */
    graph_risk *risks;       /* each distinct risk once; owns the strings */
    size_t nrisks;
    graph_strpool meta_keys; /* every metadata key once (no lookup slots) */
    void *attachment;        /* graph_snapshot_attach's data, or NULL */
    void (*attachment_free)(void *);
};

/* Scratch state of one freeze. Node indices are "old" (builder) or "new"
 * (snapshot order); only new ones reach the snapshot. */
typedef struct freeze_ctx {
    graph_builder *b;
    uint32_t *order;  /* new index -> old index */
    uint32_t *newidx; /* old index -> new index, NO_NODE when dropped */
    size_t n;         /* kept nodes */
    graph_edge *edges;
    size_t nedges;
    graph_edge *cond;    /* conditional pairs, new indices, sorted */
    uint32_t *cond_list; /* per pair: its risk list, index into b->lists */
    size_t ncond;
} freeze_ctx;

/* ---------------------------------------------------------------------------
 * Node order */

typedef struct sort_node {
    graph_version v;
    int valid; /* unparseable versions sort after valid ones */
    const char *text;
    uint32_t old;
} sort_node;

static int cmp_sort_node(const void *pa, const void *pb)
{
    const sort_node *a = pa, *b = pb;
    int c = 0;

    if (a->valid && b->valid)
        c = graph_version_cmp(&a->v, &b->v);
    else if (a->valid != b->valid)
        c = a->valid ? -1 : 1;
    return c ? c : strcmp(a->text, b->text);
}

/* Sorts the nodes with a payload. Versions are parsed once up front: a
 * comparator that parsed would do it 2 n log n times. */
static int order_nodes(freeze_ctx *c)
{
    graph_builder *b = c->b;
    sort_node *s = calloc(b->nnodes ? b->nnodes : 1, sizeof(*s));
    int error = CINCY_ERROR;
    size_t n = 0;

    c->newidx = malloc((b->nnodes ? b->nnodes : 1) * sizeof(*c->newidx));
    if (!s || !c->newidx)
        goto cleanup;
    for (size_t i = 0; i < b->nnodes; i++) {
        int parsed;

        c->newidx[i] = NO_NODE;
        if (!b->nodes[i].payload)
            continue; /* a placeholder: referenced but never released */
        /* Out of memory must fail the freeze: taken for "not a version", it
         * would sort the node after every valid one. */
        if ((parsed = graph_version_parse(&s[n].v, b->nodes[i].version, NULL)) == CINCY_ERROR)
            goto cleanup;
        s[n].valid = parsed == CINCY_OK;
        s[n].text = b->nodes[i].version;
        s[n].old = (uint32_t)i;
        n++;
    }
    qsort(s, n, sizeof(*s), cmp_sort_node);
    if (!(c->order = malloc((n ? n : 1) * sizeof(*c->order))))
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        c->order[i] = s[i].old;
        c->newidx[s[i].old] = (uint32_t)i;
    }
    c->n = n;
    error = CINCY_OK;

cleanup:
    if (s) {
        for (size_t i = 0; i < n; i++)
            graph_version_clear(&s[i].v);
    }
    free(s);
    return error;
}

/* ---------------------------------------------------------------------------
 * Edges and conditional pairs */

static int cmp_edge(const void *pa, const void *pb)
{
    const graph_edge *a = pa, *b = pb;

    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    return a->to < b->to ? -1 : a->to > b->to;
}

/* Unconditional edges between kept nodes, minus pairs that carry risks
 * (those are served only as conditional). Walks nodes in new order and
 * sorts each node's targets, which yields the global (from, to) order. */
static int collect_edges(freeze_ctx *c)
{
    graph_builder *b = c->b;
    size_t n = 0;

    c->edges = malloc((b->edges.count ? b->edges.count : 1) * sizeof(*c->edges));
    if (!c->edges)
        return CINCY_ERROR;
    for (size_t i = 0; i < c->n; i++) {
        const builder_node *node = &b->nodes[c->order[i]];
        size_t start = n;
        for (size_t k = 0; k < node->nout; k++) {
            uint32_t to = c->newidx[node->out[k]];
            if (to == NO_NODE ||
                graph_pairset_get(&b->pair_list, graph_pair_key(c->order[i], node->out[k]), NULL))
                continue; /* dropped, or served only as conditional */
            c->edges[n].from = (uint32_t)i;
            c->edges[n].to = to;
            n++;
        }
        qsort(&c->edges[start], n - start, sizeof(*c->edges), cmp_edge);
    }
    c->nedges = n;
    if (n < b->edges.count) { /* conditional and dropped pairs left room */
        graph_edge *e = realloc(c->edges, (n ? n : 1) * sizeof(*e));
        if (e)
            c->edges = e;
    }
    return CINCY_OK;
}

typedef struct cond_pair {
    graph_edge e;
    uint32_t list; /* index into b->lists */
} cond_pair;

static int cmp_cond_pair(const void *a, const void *b)
{
    return cmp_edge(&((const cond_pair *)a)->e, &((const cond_pair *)b)->e);
}

/* Pairs with a risk list whose both ends survive, sorted. */
static int collect_cond(freeze_ctx *c)
{
    const graph_pairset *pl = &c->b->pair_list;
    size_t cap = pl->count ? pl->count : 1, n = 0;
    cond_pair *p = malloc(cap * sizeof(*p));

    c->cond = malloc(cap * sizeof(*c->cond));
    c->cond_list = malloc(cap * sizeof(*c->cond_list));
    if (!p || !c->cond || !c->cond_list) {
        free(p);
        return CINCY_ERROR;
    }
    for (size_t i = 0; i < pl->cap; i++) {
        uint64_t key = pl->keys[i];
        uint32_t from, to;
        if (key == GRAPH_PAIR_EMPTY || key == GRAPH_PAIR_DELETED)
            continue;
        from = c->newidx[key >> 32];
        to = c->newidx[key & 0xffffffffu];
        if (from == NO_NODE || to == NO_NODE)
            continue;
        p[n].e.from = from;
        p[n].e.to = to;
        p[n].list = pl->vals[i];
        n++;
    }
    qsort(p, n, sizeof(*p), cmp_cond_pair);
    for (size_t i = 0; i < n; i++) {
        c->cond[i] = p[i].e;
        c->cond_list[i] = p[i].list;
    }
    c->ncond = n;
    free(p);
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Cycles. The graph is thousands of versions deep, so the search keeps its
 * own stack instead of recursing. */

typedef struct csr {
    size_t *off; /* n + 1 offsets into to */
    uint32_t *to;
} csr;

/* Adjacency of edges plus conditional pairs: a client may take either. */
static int build_csr(csr *g, const freeze_ctx *c)
{
    size_t m = c->nedges + c->ncond;

    g->off = calloc(c->n + 1, sizeof(*g->off));
    g->to = malloc((m ? m : 1) * sizeof(*g->to));
    if (!g->off || !g->to)
        return CINCY_ERROR;
    for (size_t i = 0; i < c->nedges; i++)
        g->off[c->edges[i].from + 1]++;
    for (size_t i = 0; i < c->ncond; i++)
        g->off[c->cond[i].from + 1]++;
    for (size_t i = 0; i < c->n; i++)
        g->off[i + 1] += g->off[i];
    {
        size_t *pos = malloc((c->n ? c->n : 1) * sizeof(*pos));
        if (!pos)
            return CINCY_ERROR;
        memcpy(pos, g->off, c->n * sizeof(*pos));
        for (size_t i = 0; i < c->nedges; i++)
            g->to[pos[c->edges[i].from]++] = c->edges[i].to;
        for (size_t i = 0; i < c->ncond; i++)
            g->to[pos[c->cond[i].from]++] = c->cond[i].to;
        free(pos);
    }
    return CINCY_OK;
}

static void append_text(char *buf, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 4 >= CYCLE_TEXT_MAX) {
        if (*len + 4 < CYCLE_TEXT_MAX)
            *len += (size_t)snprintf(buf + *len, CYCLE_TEXT_MAX - *len, "...");
        return;
    }
    memcpy(buf + *len, s, n + 1);
    *len += n;
}

/* Reports the cycle stack[from..depth-1] -> stack[from]. */
static int cycle_error(const freeze_ctx *c, const uint32_t *stack, size_t from, size_t depth,
                       cincy_error *err)
{
    char text[CYCLE_TEXT_MAX] = "";
    size_t len = 0;

    for (size_t i = from; i < depth; i++) {
        append_text(text, &len, c->b->nodes[c->order[stack[i]]].version);
        append_text(text, &len, " -> ");
    }
    append_text(text, &len, c->b->nodes[c->order[stack[from]]].version);
    return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "cycle in update graph: %s", text);
}

enum { WHITE = 0, GREY = 1, BLACK = 2 };

/* Depth-first search with colours; a grey target is a back edge, and the
 * stack from that target up is the cycle. Roots are tried in node order so
 * the reported cycle is deterministic. */
static int check_cycles(const freeze_ctx *c, cincy_error *err)
{
    csr g = {NULL, NULL};
    unsigned char *color = calloc(c->n ? c->n : 1, 1);
    uint32_t *stack = malloc((c->n ? c->n : 1) * sizeof(*stack));
    size_t *next = malloc((c->n ? c->n : 1) * sizeof(*next)); /* per stack level */
    int error = CINCY_ERROR;

    if (!color || !stack || !next || build_csr(&g, c) < 0) {
        cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    for (size_t root = 0; root < c->n; root++) {
        size_t depth = 0;
        if (color[root] != WHITE)
            continue;
        stack[depth] = (uint32_t)root;
        next[depth++] = g.off[root];
        color[root] = GREY;
        while (depth > 0) {
            uint32_t v = stack[depth - 1];
            if (next[depth - 1] == g.off[v + 1]) {
                color[v] = BLACK;
                depth--;
                continue;
            }
            uint32_t w = g.to[next[depth - 1]++];
            if (color[w] == GREY) {
                size_t from = depth - 1;
                while (stack[from] != w)
                    from--;
                error = cycle_error(c, stack, from, depth, err);
                goto cleanup;
            }
            if (color[w] == WHITE) {
                color[w] = GREY;
                stack[depth] = w;
                next[depth++] = g.off[w];
            }
        }
    }
    error = CINCY_OK;

cleanup:
    free(g.off);
    free(g.to);
    free(color);
    free(stack);
    free(next);
    return error;
}

/* ---------------------------------------------------------------------------
 * Assembly */

/* Moves the risks that some group uses from the builder's pool into s, in
 * order of first use, and sets newid[old id] to their index in s->risks. */
static int take_risks(graph_snapshot *s, freeze_ctx *c, const uint32_t *glist, size_t ng,
                      uint32_t *newid)
{
    graph_builder *b = c->b;
    size_t n = 0;

    for (size_t i = 0; i < b->risks.count; i++)
        newid[i] = UINT32_MAX;
    for (size_t g = 0; g < ng; g++) {
        for (uint32_t l = glist[g]; l != 0; l = b->lists[l].parent) {
            if (newid[b->lists[l].risk] == UINT32_MAX)
                newid[b->lists[l].risk] = (uint32_t)n++;
        }
    }
    if (!(s->risks = malloc((n ? n : 1) * sizeof(*s->risks))))
        return CINCY_ERROR;
    for (size_t i = 0; i < b->risks.count; i++) {
        if (newid[i] == UINT32_MAX)
            continue;
        s->risks[newid[i]] = b->risks.items[i];
        memset(&b->risks.items[i], 0, sizeof(b->risks.items[i])); /* s owns the strings */
    }
    s->nrisks = n;
    return CINCY_OK;
}

/* Fills each group's risk array, walking its list from the last risk up. */
static int fill_group_risks(graph_snapshot *s, const freeze_ctx *c, const uint32_t *glist,
                            const uint32_t *newid)
{
    const graph_builder *b = c->b;
    size_t total = 0, at = 0;

    for (size_t g = 0; g < s->ngroups; g++)
        total += b->lists[glist[g]].depth;
    if (!(s->group_risks = malloc((total ? total : 1) * sizeof(*s->group_risks))))
        return CINCY_ERROR;
    for (size_t g = 0; g < s->ngroups; g++) {
        size_t k = b->lists[glist[g]].depth;
        s->groups[g].risks = s->group_risks + at;
        s->groups[g].nrisks = k;
        for (uint32_t l = glist[g]; l != 0; l = b->lists[l].parent)
            s->group_risks[at + --k] = s->risks[newid[b->lists[l].risk]];
        at += s->groups[g].nrisks;
    }
    return CINCY_OK;
}

/* Splits the sorted conditional pairs into groups by risk list id: equal
 * lists have equal ids, so this is one array lookup a pair. Groups appear
 * in order of their first pair since pairs are visited in order. */
static int build_groups(graph_snapshot *s, freeze_ctx *c)
{
    graph_builder *b = c->b;
    uint32_t *group_of = malloc((b->nlists ? b->nlists : 1) * sizeof(*group_of));
    uint32_t *gid = malloc((c->ncond ? c->ncond : 1) * sizeof(*gid));
    uint32_t *glist = malloc((c->ncond ? c->ncond : 1) * sizeof(*glist)); /* per group */
    uint32_t *newid = malloc((b->risks.count ? b->risks.count : 1) * sizeof(*newid));
    size_t *fill = NULL, ng = 0;
    int error = CINCY_ERROR;

    if (!group_of || !gid || !glist || !newid)
        goto cleanup;
    for (size_t l = 0; l < b->nlists; l++)
        group_of[l] = UINT32_MAX;
    for (size_t i = 0; i < c->ncond; i++) {
        uint32_t l = c->cond_list[i];
        if (group_of[l] == UINT32_MAX) {
            group_of[l] = (uint32_t)ng;
            glist[ng++] = l;
        }
        gid[i] = group_of[l];
    }
    s->groups = calloc(ng ? ng : 1, sizeof(*s->groups));
    s->cond_edges = malloc((c->ncond ? c->ncond : 1) * sizeof(*s->cond_edges));
    fill = calloc(ng + 1, sizeof(*fill));
    if (!s->groups || !s->cond_edges || !fill)
        goto cleanup;
    s->ngroups = ng;
    if (take_risks(s, c, glist, ng, newid) < 0 || fill_group_risks(s, c, glist, newid) < 0)
        goto cleanup;
    for (size_t i = 0; i < c->ncond; i++)
        fill[gid[i] + 1]++;
    for (size_t g = 0; g < ng; g++) {
        s->groups[g].edges = s->cond_edges + fill[g];
        s->groups[g].nedges = fill[g + 1];
        fill[g + 1] += fill[g];
    }
    for (size_t i = 0; i < c->ncond; i++)
        s->cond_edges[fill[gid[i]]++] = c->cond[i];
    s->ncond_edges = c->ncond;
    error = CINCY_OK;

cleanup:
    free(group_of);
    free(gid);
    free(glist);
    free(newid);
    free(fill);
    return error;
}

static int cmp_name_entry(const void *pa, const void *pb)
{
    return strcmp(((const name_entry *)pa)->version, ((const name_entry *)pb)->version);
}

/* Moves the kept nodes' strings and metadata, and the metadata keys they
 * point at, into s, in new order. */
static int take_nodes(graph_snapshot *s, freeze_ctx *c)
{
    s->meta_keys = c->b->meta_keys; /* lookup slots were freed with the indexes */
    memset(&c->b->meta_keys, 0, sizeof(c->b->meta_keys));
    s->nodes = calloc(c->n ? c->n : 1, sizeof(*s->nodes));
    s->by_name = malloc((c->n ? c->n : 1) * sizeof(*s->by_name));
    if (!s->nodes || !s->by_name)
        return CINCY_ERROR;
    for (size_t i = 0; i < c->n; i++) {
        builder_node *bn = &c->b->nodes[c->order[i]];
        s->nodes[i].version = bn->version;
        s->nodes[i].payload = bn->payload;
        s->nodes[i].meta = bn->meta;
        bn->version = bn->payload = NULL;
        memset(&bn->meta, 0, sizeof(bn->meta));
        s->by_name[i].version = s->nodes[i].version;
        s->by_name[i].index = i;
    }
    s->nnodes = c->n;
    qsort(s->by_name, s->nnodes, sizeof(*s->by_name), cmp_name_entry);
    return CINCY_OK;
}

static void snapshot_free(graph_snapshot *s)
{
    if (s->attachment_free)
        s->attachment_free(s->attachment);
    for (size_t i = 0; i < s->nnodes; i++) {
        free(s->nodes[i].version);
        free(s->nodes[i].payload);
        graph_meta_free(&s->nodes[i].meta);
    }
    for (size_t i = 0; i < s->nrisks; i++)
        graph_risk_clear(&s->risks[i]); /* group_risks only borrow these */
    free(s->risks);
    free(s->group_risks);
    graph_strpool_free(&s->meta_keys);
    free(s->nodes);
    free(s->by_name);
    free(s->edges);
    free(s->groups);
    free(s->cond_edges);
    free(s);
}

int graph_builder_freeze(struct graph_snapshot **out, graph_builder *b, cincy_error *err)
{
    freeze_ctx c;
    graph_snapshot *s = NULL;
    int error;

    assert(b && out);
    memset(&c, 0, sizeof(c));
    c.b = b;
    if (order_nodes(&c) < 0 || collect_edges(&c) < 0 || collect_cond(&c) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    graph_builder_drop_indexes(b); /* edges and pairs are in c now */
    if ((error = check_cycles(&c, err)) < 0)
        goto cleanup;
    if (!(s = calloc(1, sizeof(*s))) || take_nodes(s, &c) < 0 || build_groups(s, &c) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    s->edges = c.edges;
    s->nedges = c.nedges;
    c.edges = NULL;
    atomic_init(&s->refs, 1);
    *out = s;
    s = NULL;

cleanup:
    if (s)
        snapshot_free(s);
    free(c.order);
    free(c.newidx);
    free(c.edges);
    free(c.cond);
    free(c.cond_list);
    graph_builder_free(b); /* always: the caller gave it up */
    return error;
}

/* ---------------------------------------------------------------------------
 * Accessors */

void graph_snapshot_attach(graph_snapshot *s, void *data, void (*free_fn)(void *))
{
    if (s->attachment_free)
        s->attachment_free(s->attachment);
    s->attachment = data;
    s->attachment_free = free_fn;
}

const void *graph_snapshot_attachment(const graph_snapshot *s)
{
    return s->attachment;
}

graph_snapshot *graph_snapshot_ref(graph_snapshot *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void graph_snapshot_unref(graph_snapshot *s)
{
    if (!s)
        return;
    unsigned before = atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel);
    assert(before > 0); /* releasing a dead snapshot is our bug */
    if (before == 1)
        snapshot_free(s); /* the last reader is gone */
}

size_t graph_snapshot_node_count(const graph_snapshot *s)
{
    return s->nnodes;
}

const char *graph_snapshot_node_version(const graph_snapshot *s, size_t node)
{
    assert(node < s->nnodes);
    return s->nodes[node].version;
}

const char *graph_snapshot_node_payload(const graph_snapshot *s, size_t node)
{
    assert(node < s->nnodes);
    return s->nodes[node].payload;
}

size_t graph_snapshot_meta_count(const graph_snapshot *s, size_t node)
{
    assert(node < s->nnodes);
    return s->nodes[node].meta.count;
}

void graph_snapshot_meta_at(const graph_snapshot *s, size_t node, size_t i, const char **key,
                            const char **value)
{
    assert(node < s->nnodes && i < s->nodes[node].meta.count);
    *key = s->nodes[node].meta.items[i].key;
    *value = s->nodes[node].meta.items[i].value;
}

const char *graph_snapshot_meta_get(const graph_snapshot *s, size_t node, const char *key)
{
    const graph_meta *m;

    assert(node < s->nnodes);
    m = &s->nodes[node].meta;
    for (size_t i = 0; i < m->count; i++) {
        if (strcmp(m->items[i].key, key) == 0)
            return m->items[i].value;
    }
    return NULL;
}

int graph_snapshot_find(const graph_snapshot *s, const char *version, size_t *out_index)
{
    size_t lo = 0, hi = s->nnodes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->by_name[mid].version, version);
        if (c == 0) {
            *out_index = s->by_name[mid].index;
            return CINCY_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return CINCY_ENOTFOUND;
}

size_t graph_snapshot_edge_count(const graph_snapshot *s)
{
    return s->nedges;
}

const graph_edge *graph_snapshot_edges(const graph_snapshot *s)
{
    return s->edges;
}

size_t graph_snapshot_cond_count(const graph_snapshot *s)
{
    return s->ngroups;
}

const graph_cond_group *graph_snapshot_cond_group(const graph_snapshot *s, size_t i)
{
    assert(i < s->ngroups);
    return &s->groups[i];
}

size_t graph_snapshot_cond_edge_count(const graph_snapshot *s)
{
    return s->ncond_edges;
}

/* ---------------------------------------------------------------------------
 * The served snapshot */

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static graph_snapshot *current; /* the one mutable global */
static _Atomic uint64_t generation;

graph_snapshot *graph_snapshot_current(void)
{
    pthread_mutex_lock(&current_lock); /* held for one load and one add */
    graph_snapshot *s = graph_snapshot_ref(current);
    pthread_mutex_unlock(&current_lock);
    return s;
}

void graph_snapshot_publish(graph_snapshot *s)
{
    graph_snapshot *old;

    pthread_mutex_lock(&current_lock);
    old = current;
    current = s;
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&current_lock);
    graph_snapshot_unref(old); /* a big free never stalls a reader */
}

uint64_t graph_snapshot_generation(void)
{
    return atomic_load(&generation);
}
