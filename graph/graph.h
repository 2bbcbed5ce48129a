/* graph/graph.h - the update graph: versions, building, immutable snapshots, JSON.
 *
 * This is cincy's base module: every other module links it. Besides the graph
 * itself it carries the two things all modules share: the error contract
 * (cincy_error, CINCY_* codes) and the structured logger.
 *
 * Lifecycle of a graph:
 *   graph_builder_new -> add nodes/edges/risks, edit metadata -> graph_builder_freeze
 *   -> graph_snapshot (immutable, refcounted) -> graph_snapshot_publish
 * Request threads take graph_snapshot_current() and unref when done.
 */
#ifndef CINCY_GRAPH_H
#define CINCY_GRAPH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------
 * Errors: 0 is success, a few named negatives, -1 for the rest.
 */
enum {
    CINCY_OK = 0,
    CINCY_ERROR = -1,     /* anything else (I/O, out of memory, ...) */
    CINCY_ENOTFOUND = -2, /* the thing looked up does not exist */
    CINCY_EINVALID = -3,  /* input is malformed; err says where */
    CINCY_ETOOBIG = -4,   /* input exceeds a size cap */
};

typedef struct cincy_error {
    int code;       /* CINCY_* of the last failure, CINCY_OK if none */
    char file[256]; /* "blocked-edges/4.14.1-cve.yaml", or "" */
    int line;       /* 1-based; 0 if not from a file or unknown */
    char msg[512];  /* one line, lower case, no final period */
} cincy_error;

/* Records an error in err (which may be NULL) and returns code, so a caller
 * can write `return cincy_error_set(err, CINCY_EINVALID, path, line, ...)`.
 * file may be NULL. Never allocates. */
int cincy_error_set(cincy_error *err, int code, const char *file, int line,
                    const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Formats err as "file:line: msg" (or "file: msg", or "msg") into buf. Returns buf. */
const char *cincy_error_format(const cincy_error *err, char *buf, size_t size);

/* Clears err to CINCY_OK, empty strings. err may be NULL. */
void cincy_error_clear(cincy_error *err);

/* ---------------------------------------------------------------------------
 * Logging: one logfmt line per event on stderr, e.g.
 *   ts=2026-11-24T16:20:01.123Z level=info component=ingest msg="loaded graph-data" nodes=12
 * Thread: any (each line is written with one write(2)).
 */
typedef enum { CINCY_LOG_DEBUG, CINCY_LOG_INFO, CINCY_LOG_WARN, CINCY_LOG_ERROR } cincy_log_level;

void cincy_log_set_level(cincy_log_level level);
/* "debug", "info", "warn", "error" -> level. Returns 0 or CINCY_EINVALID. */
int cincy_log_level_parse(cincy_log_level *out, const char *name);
/* msg is a printf format; the result is quoted. Extra key=value pairs may be
 * appended by putting them after a '\t' in the formatted text:
 *   cincy_log(CINCY_LOG_INFO, "server", "listening\tport=%d", port); */
void cincy_log(cincy_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------------
 * Versions: semver 2.0. Three numeric parts without leading zeros, optional
 * -prerelease and +build. Surrounding whitespace is tolerated.
 */
typedef struct graph_version {
    uint64_t major, minor, patch;
    char *pre;   /* dot-separated pre-release identifiers, or NULL */
    char *build; /* build metadata, or NULL */
} graph_version;

/* Parses s into out (which owns copies of the strings; release with
 * graph_version_clear). On failure returns CINCY_EINVALID with a message like
 * "'4.14.x' is not a valid version: ..." and leaves out zeroed. */
int graph_version_parse(graph_version *out, const char *s, cincy_error *err);
void graph_version_clear(graph_version *v);
/* SemVer 2.0 precedence: <0, 0, >0. Build metadata is ignored. */
int graph_version_cmp(const graph_version *a, const graph_version *b);
/* Precedence comparison of two version strings; strings that do not parse
 * sort after all valid ones, then by strcmp. Never fails. */
int graph_version_cmp_str(const char *a, const char *b);
/* Writes the canonical text (with build if set) into a new malloc'd string. NULL on OOM. */
char *graph_version_format(const graph_version *v);

/* ---------------------------------------------------------------------------
 * Conditional-update risks.
 */
typedef enum { GRAPH_RULE_ALWAYS, GRAPH_RULE_PROMQL } graph_rule_type;

typedef struct graph_rule {
    graph_rule_type type;
    char *promql; /* query for GRAPH_RULE_PROMQL; NULL for ALWAYS */
} graph_rule;

typedef struct graph_risk {
    char *url;
    char *name;
    char *message;
    graph_rule *rules; /* matchingRules, in file order */
    size_t nrules;
} graph_risk;

/* Deep copy of src into out. Returns 0 or CINCY_ERROR (out of memory, out zeroed). */
int graph_risk_copy(graph_risk *out, const graph_risk *src);
/* Frees what r owns (not r itself). NULL-safe. */
void graph_risk_clear(graph_risk *r);
/* 1 when a and b are equal field by field, rules in order. */
int graph_risk_equal(const graph_risk *a, const graph_risk *b);

/* ---------------------------------------------------------------------------
 * Builder: a mutable graph. Nodes are identified by their exact version string
 * (with "+arch" build suffix during policy). Not thread-safe: one thread builds.
 */
typedef struct graph_builder graph_builder;
struct graph_snapshot; /* typedef'd below; graph_builder_freeze produces one */

int graph_builder_new(graph_builder **out);
void graph_builder_free(graph_builder *b); /* NULL-safe */

/* Adds a node, or finds the existing node with the same version string.
 * payload may be NULL. If the node exists with a different non-NULL payload
 * returns CINCY_EINVALID ("version X has two payloads: A and B"). *out_index
 * receives the node's index (stable: indices never change while building). */
int graph_builder_add_node(graph_builder *b, const char *version, const char *payload,
                           size_t *out_index, cincy_error *err);
/* Index of the node with exactly this version string: 0 or CINCY_ENOTFOUND. */
int graph_builder_find(const graph_builder *b, const char *version, size_t *out_index);
size_t graph_builder_node_count(const graph_builder *b);
const char *graph_builder_node_version(const graph_builder *b, size_t node); /* borrowed */
const char *graph_builder_node_payload(const graph_builder *b, size_t node); /* borrowed, may be NULL */

/* Node metadata: an ordered string->string map (insertion order kept). */
const char *graph_builder_meta_get(const graph_builder *b, size_t node, const char *key);
int graph_builder_meta_set(graph_builder *b, size_t node, const char *key, const char *value);
/* Appends sep+value to an existing key, or sets the key when absent. */
int graph_builder_meta_append(graph_builder *b, size_t node, const char *key,
                              const char *value, const char *sep);
void graph_builder_meta_remove(graph_builder *b, size_t node, const char *key);
size_t graph_builder_meta_count(const graph_builder *b, size_t node);
void graph_builder_meta_at(const graph_builder *b, size_t node, size_t i,
                           const char **key, const char **value);

/* Edges. Adding an existing edge is a no-op (returns 0). Removing an absent
 * edge is a no-op. Cycles are detected at freeze time. */
int graph_builder_add_edge(graph_builder *b, size_t from, size_t to);
void graph_builder_remove_edge(graph_builder *b, size_t from, size_t to);
int graph_builder_has_edge(const graph_builder *b, size_t from, size_t to);
/* Sources of the edges into node, as a borrowed array valid until the next
 * edge change. */
const size_t *graph_builder_incoming(const graph_builder *b, size_t node, size_t *count);
const size_t *graph_builder_outgoing(const graph_builder *b, size_t node, size_t *count);

/* Conditional edges: appends a copy of risk to the risk list of the pair
 * (from, to). The pair need not be an unconditional edge. */
int graph_builder_add_risk(graph_builder *b, size_t from, size_t to, const graph_risk *risk);
/* Drops every risk attached to the pair (no-op if none). */
void graph_builder_clear_risks(graph_builder *b, size_t from, size_t to);

/* Turns the builder into an immutable snapshot and frees the builder (always,
 * success or not). Before freezing:
 *   - nodes with a NULL payload (placeholders) are dropped with their edges;
 *   - a pair that is both an edge and conditional is kept only as conditional;
 *   - a cycle fails with CINCY_EINVALID naming versions on it
 *     ("cycle in update graph: 4.1.0 -> 4.1.1 -> 4.1.0").
 * Snapshot order (stable, documented in docs/graph-order.md):
 *   nodes by semver precedence, ties by version string (strcmp);
 *   edges by (from index, to index);
 *   conditional groups: pairs with identical ordered risk lists form one group,
 *   pairs in a group by (from, to) index, groups by their first pair. */
int graph_builder_freeze(struct graph_snapshot **out, graph_builder *b, cincy_error *err);

/* ---------------------------------------------------------------------------
 * Snapshot: immutable, refcounted. All accessors are Thread: any.
 */
typedef struct graph_snapshot graph_snapshot;

typedef struct graph_edge {
    uint32_t from, to; /* node indices */
} graph_edge;

typedef struct graph_cond_group {
    const graph_edge *edges; /* pairs sharing the risk list, sorted */
    size_t nedges;
    const graph_risk *risks; /* ordered */
    size_t nrisks;
} graph_cond_group;

graph_snapshot *graph_snapshot_ref(graph_snapshot *s); /* NULL-safe; returns s */
void graph_snapshot_unref(graph_snapshot *s);          /* NULL-safe; frees at zero */

size_t graph_snapshot_node_count(const graph_snapshot *s);
const char *graph_snapshot_node_version(const graph_snapshot *s, size_t node);
const char *graph_snapshot_node_payload(const graph_snapshot *s, size_t node);
size_t graph_snapshot_meta_count(const graph_snapshot *s, size_t node);
void graph_snapshot_meta_at(const graph_snapshot *s, size_t node, size_t i,
                            const char **key, const char **value);
const char *graph_snapshot_meta_get(const graph_snapshot *s, size_t node, const char *key);
/* Exact version lookup (binary search over a sorted index): 0 or CINCY_ENOTFOUND. */
int graph_snapshot_find(const graph_snapshot *s, const char *version, size_t *out_index);

size_t graph_snapshot_edge_count(const graph_snapshot *s);
const graph_edge *graph_snapshot_edges(const graph_snapshot *s); /* sorted array */
size_t graph_snapshot_cond_count(const graph_snapshot *s);      /* number of groups */
const graph_cond_group *graph_snapshot_cond_group(const graph_snapshot *s, size_t i);
size_t graph_snapshot_cond_edge_count(const graph_snapshot *s); /* pairs over all groups */

/* One side table a snapshot carries for the layer that built it (policy
 * keeps the edges graph-data removed there, policy_removed_edges). attach
 * may be called only by the code that froze s, before s is shared: it is the
 * one write to a snapshot after freeze. data is freed with free_fn (may be
 * NULL) when s is, or when a later attach replaces it. */
void graph_snapshot_attach(graph_snapshot *s, void *data, void (*free_fn)(void *));
const void *graph_snapshot_attachment(const graph_snapshot *s); /* NULL when none */

/* The served snapshot. graph_snapshot_current returns a new reference (NULL
 * before the first publish); unref it once the response is written.
 * graph_snapshot_publish takes over the caller's reference and unrefs the old
 * graph after releasing the lock. Thread: any. */
graph_snapshot *graph_snapshot_current(void);
void graph_snapshot_publish(graph_snapshot *s);
/* Number of successful publishes so far (0 before the first). Thread: any. */
uint64_t graph_snapshot_generation(void);

/* ---------------------------------------------------------------------------
 * Cincinnati JSON.
 */
typedef enum {
    GRAPH_JSON_V1,     /* {"version":1,"nodes","edges","conditionalEdges"} */
    GRAPH_JSON_LEGACY, /* {"version":1,"nodes","edges"}: no conditionalEdges */
} graph_json_flavor;

/* jansson and out of memory (graph/json_oom.c). jansson reports a failed
 * allocation inside a parse as a syntax error, or not at all (a value can
 * come back with members missing). Code that parses JSON calls
 * graph_json_oom_reset() before json_loadb and graph_json_oom_seen() after:
 * 1 means a jansson allocation on this thread failed in between, so the
 * result must be dropped and reported as out of memory. The first reset
 * installs jansson allocator hooks (malloc and free plus the flag) for the
 * whole process. Thread: any (the flag is per thread). */
void graph_json_oom_reset(void);
int graph_json_oom_seen(void);

/* Serialises s into a new malloc'd, NUL-terminated compact JSON string.
 * Fields are in the reference's order (version, nodes, edges, conditionalEdges;
 * node: version, payload, metadata; risk: url, name, message, matchingRules).
 * Returns 0, CINCY_EINVALID when a string is not valid UTF-8 (parsers
 * validate it, so this means a bug upstream), or CINCY_ERROR (out of memory).
 * Built with jansson; responses are cached, so this runs once per body. */
int graph_snapshot_to_json(char **out, size_t *out_len, const graph_snapshot *s,
                           graph_json_flavor flavor);

#endif
