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
 * graph_pairset: open-addressing hash of uint64_t keys with optional 32-bit
 * values (vals is NULL for a plain set: 2 million edges cost 8 bytes a slot,
 * not 12). Linear probing, power-of-two capacity, at most 70% full counting
 * deleted slots, so a lookup is O(1) on average. Callers may walk keys[0..cap)
 * directly, skipping the two marks. */
typedef struct graph_pairset {
    uint64_t *keys; /* GRAPH_PAIR_EMPTY, GRAPH_PAIR_DELETED or a key */
    uint32_t *vals; /* parallel to keys when with_values, else NULL */
    size_t cap;     /* slots, 0 or a power of two */
    size_t count;   /* live keys */
    size_t used;    /* live + deleted slots */
    int with_values;
} graph_pairset;

#define GRAPH_PAIR_EMPTY UINT64_MAX
#define GRAPH_PAIR_DELETED (UINT64_MAX - 1)

void graph_pairset_init(graph_pairset *s, int with_values);
void graph_pairset_free(graph_pairset *s); /* back to empty; may be used again */
/* 1 and *val (if wanted) when present, else 0. */
int graph_pairset_get(const graph_pairset *s, uint64_t key, size_t *val);
/* Inserts key (val ignored for a plain set; else at most UINT32_MAX). Returns
 * 1 when added, 0 when it was already there (value left as is), CINCY_ERROR
 * on out of memory. */
int graph_pairset_put(graph_pairset *s, uint64_t key, size_t val);
/* As put, but an existing key takes the new value. */
int graph_pairset_set(graph_pairset *s, uint64_t key, size_t val);
/* Returns 1 when removed, 0 when absent. */
int graph_pairset_del(graph_pairset *s, uint64_t key);

/* ---------------------------------------------------------------------------
 * Node metadata: a small ordered array; nodes carry a handful of keys, so a
 * linear scan beats any map. Keys are interned by the builder (see
 * graph_strpool) and not owned here; values are. */
typedef struct graph_meta_entry {
    const char *key; /* borrowed from the builder's, then the snapshot's, key pool */
    char *value;
} graph_meta_entry;

typedef struct graph_meta {
    graph_meta_entry *items; /* insertion order */
    size_t count, cap;
} graph_meta;

void graph_meta_free(graph_meta *m); /* frees the values, not the keys */

/* ---------------------------------------------------------------------------
 * graph_strpool: each distinct metadata key stored once. A full graph has
 * ~7,000 nodes with the same half-dozen keys, so per-node copies would be
 * tens of thousands of identical allocations. */
typedef struct graph_strpool {
    char **items; /* the strings, in order of first use */
    size_t count, cap;
    uint32_t *slots; /* string hash -> index + 1 (0 empty); power of two, at most half full */
    size_t nslots;
} graph_strpool;

/* The pooled copy of s, added when new; NULL on out of memory. */
const char *graph_strpool_intern(graph_strpool *p, const char *s);
void graph_strpool_free(graph_strpool *p); /* frees the strings too */

/* ---------------------------------------------------------------------------
 * Risk interning. The full graph attaches ~600,000 risks to ~230,000 pairs
 * but only a few hundred are distinct, so the builder stores each distinct
 * risk once (by graph_risk_equal) and names it by a 32-bit id.
 *
 * A pair's ordered risk list is a node of a trie of lists: list 0 is the
 * empty list, and list L followed by risk r is the child found under the
 * key (L, r) in list_next. Two pairs with equal risk lists therefore hold the
 * same list id, which is all freeze needs to group them, and a pair costs one
 * hash slot however many risks it carries. */
#define GRAPH_RISK_CACHE 16 /* recently added risk pointers, see risk.c */

typedef struct graph_risk_list {
    uint32_t parent; /* the list without its last risk */
    uint32_t risk;   /* the last risk's id */
    uint32_t depth;  /* number of risks; 0 only for list 0 */
} graph_risk_list;

typedef struct graph_risk_pool {
    graph_risk *items; /* distinct risks, deep copies, by id */
    uint64_t *hashes;  /* parallel to items */
    size_t count, cap;
    uint32_t *slots; /* content hash -> id + 1 (0 empty); power of two, at most half full */
    size_t nslots;
    struct {
        const graph_risk *ptr; /* a caller's risk... */
        uint32_t id;           /* ...and the id it had when last added */
    } recent[GRAPH_RISK_CACHE];
} graph_risk_pool;

void graph_risk_pool_free(graph_risk_pool *p); /* NULL-safe; clears every risk still held */
/* The id of the risk equal to r, adding a deep copy of r when it is new.
 * Returns 0, or CINCY_ERROR on out of memory or past UINT32_MAX - 1 risks. */
int graph_risk_pool_intern(graph_risk_pool *p, const graph_risk *r, uint32_t *out_id);
/* Frees the lookup structures; items stay, and intern may not be called again. */
void graph_risk_pool_drop_index(graph_risk_pool *p);

/* ---------------------------------------------------------------------------
 * The builder. */
typedef struct builder_node {
    char *version; /* exact string, the node's identity */
    char *payload; /* NULL for a placeholder */
    graph_meta meta;
    size_t *in, nin, cap_in;    /* sources of incoming edges, insertion order */
    size_t *out, nout, cap_out; /* targets of outgoing edges, insertion order */
} builder_node;

struct graph_builder {
    builder_node *nodes;
    size_t nnodes, cap_nodes;
    size_t *name_slots;      /* version -> node index; SIZE_MAX marks an empty slot */
    size_t name_cap;         /* power of two, kept at most half full */
    graph_strpool meta_keys; /* every metadata key, once */
    graph_pairset edges;     /* (from, to) of every unconditional edge */
    graph_risk_pool risks;   /* distinct risks */
    graph_risk_list *lists;  /* the trie of risk lists; lists[0] is the empty list */
    size_t nlists, cap_lists;
    graph_pairset list_next; /* (list, risk id) -> list with that risk appended */
    graph_pairset pair_list; /* (from, to) -> its non-empty risk list */
};

/* Releases what freeze no longer needs once edges and conditional pairs are
 * collected (edge set, adjacency, pair and trie indexes, risk hash), so the
 * snapshot is built without them alive. The builder stays freeable. */
void graph_builder_drop_indexes(graph_builder *b);

#endif
