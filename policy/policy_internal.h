/* policy/policy_internal.h - what the policy .c files share.
 *
 * policy_build runs as a list of passes (build.c: releases; graph_data.c:
 * raw metadata, blocks, risks, channels; labels.c: edge labels) over one
 * policy_ctx. The context carries the indexes that keep every pass linear in
 * its input rather than in nodes x entries:
 *   - each node's version without build ("4.14.1", "4.2.10-s390x") maps to a
 *     bucket holding every arch of that release, which answers "semver-equal
 *     ignoring build" with one hash lookup;
 *   - regexes are compiled once per distinct pattern and remember, per node,
 *     whether they matched its version, since one pattern is typically tried
 *     against the same sources for many targets.
 */
#ifndef CINCY_POLICY_INTERNAL_H
#define CINCY_POLICY_INTERNAL_H

#include <regex.h>
#include <stdint.h>

#include "policy/policy.h"

#define POLICY_KEY_PREV_ADD "io.openshift.upgrades.graph.previous.add"
#define POLICY_KEY_NEXT_ADD "io.openshift.upgrades.graph.next.add"
#define POLICY_KEY_PREV_REMOVE "io.openshift.upgrades.graph.previous.remove"
#define POLICY_KEY_PREV_REMOVE_REGEX "io.openshift.upgrades.graph.previous.remove_regex"
#define POLICY_KEY_NEXT_REMOVE "io.openshift.upgrades.graph.next.remove"
#define POLICY_KEY_RELEASE_ARCH "release.openshift.io/architecture"

/* ---------------------------------------------------------------------------
 * policy_strmap: string -> size_t, open addressing, keys owned. */
typedef struct policy_strmap {
    char **keys;  /* NULL marks an empty slot */
    size_t *vals;
    size_t cap;   /* 0 or a power of two, kept at most half full */
    size_t count;
} policy_strmap;

void policy_strmap_free(policy_strmap *m);
/* 1 and *val when key is present, else 0. */
int policy_strmap_get(const policy_strmap *m, const char *key, size_t *val);
/* Sets key -> val (replacing any value). Returns 0 or CINCY_ERROR (OOM). */
int policy_strmap_put(policy_strmap *m, const char *key, size_t val);

/* ---------------------------------------------------------------------------
 * Regex cache. Patterns are POSIX extended regexes matched unanchored
 * against node version strings ("4.13.2+amd64"); the literal ".*" matches
 * every node without running the matcher, as the reference special-cases it. */
typedef struct policy_regex {
    char *pattern;
    regex_t re;
    int match_all;        /* pattern is exactly ".*" */
    size_t uses;          /* policy_regex_get calls that returned it */
    unsigned char *memo;  /* per node: 0 unknown, 1 match, 2 no match; made on reuse */
} policy_regex;

typedef struct policy_regex_cache {
    policy_regex **items;
    size_t count, cap;
    policy_strmap index;  /* pattern -> items index */
    size_t nnodes;        /* size of each memo */
} policy_regex_cache;

void policy_regex_cache_free(policy_regex_cache *c);
/* Compiled regex for pattern (borrowed, lives as long as the cache). A pattern
 * that does not compile returns CINCY_EINVALID with "invalid regex '<p>': why";
 * callers prefix where it came from. */
int policy_regex_get(policy_regex **out, policy_regex_cache *c, const char *pattern,
                     cincy_error *err);
/* 1 when r matches the version of node in b, else 0. */
int policy_regex_match(policy_regex *r, const graph_builder *b, size_t node);

/* ---------------------------------------------------------------------------
 * The build context. */
typedef struct policy_bucket {
    size_t *nodes; /* every node whose version without build is this bucket's key */
    size_t n, cap;
} policy_bucket;

typedef struct policy_ctx {
    graph_builder *b;
    const ingest_releases *releases;
    const ingest_graph_data *gd;
    size_t *node_release;  /* node -> index of the release that created it */
    char **node_build;     /* node -> its build text (the arch), owned; may be NULL */
    size_t *node_bucket;   /* node -> bucket index */
    size_t nnodes_cap;     /* capacity of the three arrays above */
    policy_strmap bases;   /* "x.y.z[-pre]" -> bucket index */
    policy_bucket *buckets;
    size_t nbuckets, cap_buckets;
    const ingest_block **risks; /* risk blocks in graph-data order (§2.6 step 1) */
    size_t nrisks;
    unsigned char *risk_shared; /* per risks[i]: 1 when another risk has its name and `to` */
    policy_strmap risk_pairs;   /* "from>to>name" given a shared risk; a pair lists a name once */
    policy_regex_cache regexes;
    const ingest_upstream_graph *upstream; /* policy_build_upstream: its conditional pairs */
    int relay;             /* upstream without graph-data: edges as served, no label pass */
    int upstream_names;    /* risk_pairs holds "from>to>name" of upstream risks too */
    size_t skipped_edges;  /* previous/next entries naming no node */
    size_t risk_refs;      /* risks attached to pairs (each a deep copy) */
    size_t *node_pure;     /* node -> 1 + index in gd->blocks of the pure block in effect
                            * on it (the last one applied, Q7), 0 for none */
    struct policy_removal_note *removed; /* edges pure blocks removed (policy/removed.c) */
    size_t nremoved, cap_removed;
} policy_ctx;

/* One edge a pure block removed, in builder indices (policy/removed.c). */
typedef struct policy_removal_note {
    size_t from, to, block; /* block: index in gd->blocks */
} policy_removal_note;

/* Records that the pure block in effect on node `to` removes the edge from
 * `from` (called by the labels pass before it removes the edge). */
int policy_removed_note(policy_ctx *ctx, size_t from, size_t to);
/* Version strings of the recorded edges, taken before freeze frees the
 * builder: 2 * ctx->nremoved malloc'd strings (from, to), or NULL with
 * nothing recorded or out of memory (*oom set). */
char **policy_removed_versions(policy_ctx *ctx, int *oom);
/* Attaches the removed-edge table to snap (just frozen, not shared yet).
 * Takes versions (from policy_removed_versions) and frees it. Edges that
 * survived as conditional pairs (Q8) are left out. Returns 0 or CINCY_ERROR. */
int policy_removed_attach(graph_snapshot *snap, policy_ctx *ctx, char **versions);

/* 1 when the comma-separated list holds token exactly, entries trimmed (filter.c). */
int policy_list_has(const char *list, const char *token);
/* version without the build identifier equal to arch ("4.14.1+amd64" -> "4.14.1"),
 * malloc'd; NULL on out of memory (filter.c). */
char *policy_strip_arch(const char *version, const char *arch);

/* Canonical text of v without its build ("4.2.10-s390x"), malloc'd; NULL on OOM. */
char *policy_version_base(const graph_version *v);
/* Records node (just added to ctx->b with version v) in the base index. */
int policy_index_node(policy_ctx *ctx, size_t node, const graph_version *v);
/* *out = the bucket of nodes semver-equal to v ignoring build, or NULL if
 * none. Returns 0 or CINCY_ERROR (out of memory). */
int policy_bucket_of(const policy_bucket **out, const policy_ctx *ctx, const graph_version *v);

/* risk_pairs value marking a name an upstream risk put on the pair. */
#define POLICY_RISK_FROM_UPSTREAM SIZE_MAX

/* Runs the pipeline over ctx (zeroed, then releases, gd and the upstream
 * fields set by the caller) and frees what ctx holds, success or not. */
int policy_build_run(graph_snapshot **out, policy_ctx *ctx, policy_stats *stats, cincy_error *err);

/* Passes, in pipeline order (spec §2.12). Each returns 0 or a CINCY_* error. */
int policy_apply_raw_metadata(policy_ctx *ctx, cincy_error *err);
int policy_apply_pure_blocks(policy_ctx *ctx, cincy_error *err);
int policy_apply_risks(policy_ctx *ctx, cincy_error *err);
int policy_apply_channels(policy_ctx *ctx, cincy_error *err);
int policy_apply_labels(policy_ctx *ctx, cincy_error *err);
/* Attaches ctx->upstream's conditional pairs' risks (policy/upstream.c). */
int policy_apply_upstream_risks(policy_ctx *ctx, cincy_error *err);

/* Sorts a comma-joined channel list as the reference does (§2.4): by the text
 * after the first '-' as a plain string, then by the whole name. A name
 * without '-' sorts by its whole text (the reference panics). Unlike the
 * reference, entries are trimmed and empty or repeated entries dropped: the
 * CVO rejects a graph whose channels value has an empty entry, and a name
 * listed twice (two channel files with one name) says nothing more. Returns
 * a new malloc'd string ("" when no entry is left), NULL on OOM. */
char *policy_sort_channels(const char *value);

#endif
