/* graph/graph_internal.h - what the graph .c files share and nobody else may see.
 * The builder's layout is here because graph_builder_freeze (snapshot.c)
 * takes its arrays over instead of copying them. */
#ifndef CINCY_GRAPH_INTERNAL_H
#define CINCY_GRAPH_INTERNAL_H

#include "graph/graph.h"

/* Node indices live in 32 bits so that a (from, to) pair packs into one
 * uint64_t key; two values at the top are the hash's empty/deleted marks. */
#define GRAPH_NODE_MAX ((size_t)UINT32_MAX - 1)

static inline uint64_t graph_pair_key(size_t from, size_t to)
{
    return ((uint64_t)from << 32) | (uint64_t)to;
}

/* ---------------------------------------------------------------------------
 * graph_pairset: open-addressing hash of uint64_t keys with optional size_t
 * values (vals is NULL for a plain set: 2 million edges cost 8 bytes a slot,
 * not 16). Linear probing, power-of-two capacity, at most half full counting
 * deleted slots, so a lookup is O(1) on average. */
typedef struct graph_pairset {
    uint64_t *keys; /* GRAPH_PAIR_EMPTY, GRAPH_PAIR_DELETED or a key */
    size_t *vals;   /* parallel to keys when with_values, else NULL */
    size_t cap;     /* slots, 0 or a power of two */
    size_t count;   /* live keys */
    size_t used;    /* live + deleted slots */
    int with_values;
} graph_pairset;

#define GRAPH_PAIR_EMPTY UINT64_MAX
#define GRAPH_PAIR_DELETED (UINT64_MAX - 1)

void graph_pairset_init(graph_pairset *s, int with_values);
void graph_pairset_free(graph_pairset *s);
/* 1 and *val (if wanted) when present, else 0. */
int graph_pairset_get(const graph_pairset *s, uint64_t key, size_t *val);
/* Inserts key (val ignored for a plain set). Returns 1 when added, 0 when it
 * was already there (value left as is), CINCY_ERROR on out of memory. */
int graph_pairset_put(graph_pairset *s, uint64_t key, size_t val);
/* Returns 1 when removed, 0 when absent. */
int graph_pairset_del(graph_pairset *s, uint64_t key);

/* ---------------------------------------------------------------------------
 * Node metadata: a small ordered array; nodes carry a handful of keys, so a
 * linear scan beats any map. */
typedef struct graph_meta_entry {
    char *key;
    char *value;
} graph_meta_entry;

typedef struct graph_meta {
    graph_meta_entry *items; /* insertion order */
    size_t count, cap;
} graph_meta;

void graph_meta_free(graph_meta *m);

/* ---------------------------------------------------------------------------
 * The builder. */
typedef struct builder_node {
    char *version; /* exact string, the node's identity */
    char *payload; /* NULL for a placeholder */
    graph_meta meta;
    size_t *in, nin, cap_in;    /* sources of incoming edges, insertion order */
    size_t *out, nout, cap_out; /* targets of outgoing edges, insertion order */
} builder_node;

typedef struct builder_risks {
    uint64_t key;      /* the (from, to) pair */
    graph_risk *items; /* appended copies, in order */
    size_t count, cap; /* count 0 after graph_builder_clear_risks */
} builder_risks;

struct graph_builder {
    builder_node *nodes;
    size_t nnodes, cap_nodes;
    size_t *name_slots;       /* version -> node index; SIZE_MAX marks an empty slot */
    size_t name_cap;          /* power of two, kept at most half full */
    graph_pairset edges;      /* (from, to) of every unconditional edge */
    graph_pairset risk_index; /* (from, to) -> index into risks */
    builder_risks *risks;
    size_t nrisks, cap_risks;
};

#endif
