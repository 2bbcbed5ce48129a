/* policy/policy.h - from release records and graph-data to the served graph.
 *
 * policy_build follows the reference graph-builder's pipeline (spec §2.12):
 *   releases -> nodes "x.y.z+arch" and previous/next edges
 *   -> raw/metadata.json -> pure blocks -> risks -> channels -> edge labels
 * and freezes the result into a snapshot holding every arch and channel.
 * policy_filter is the per-request part (the reference policy-engine):
 * one channel, one arch, "+arch" stripped.
 */
#ifndef CINCY_POLICY_H
#define CINCY_POLICY_H

#include "graph/graph.h"
#include "ingest/ingest.h"

#define POLICY_LABEL_PREFIX "io.openshift.upgrades.graph."
#define POLICY_KEY_CHANNELS "io.openshift.upgrades.graph.release.channels"
#define POLICY_KEY_ARCH "io.openshift.upgrades.graph.release.arch"
#define POLICY_KEY_MANIFESTREF "io.openshift.upgrades.graph.release.manifestref"

typedef struct policy_stats {
    size_t releases;      /* release records read */
    size_t nodes;         /* nodes in the snapshot */
    size_t edges;         /* unconditional edges */
    size_t cond_edges;    /* conditional (from, to) pairs */
    size_t channels;      /* channel files applied */
    size_t blocks;        /* blocked-edges entries applied (pure + risks) */
} policy_stats;

/* Builds the full graph (every arch, every channel). Returns a new snapshot
 * reference in *out. stats may be NULL. On failure (a cycle, a malformed
 * version in an edge label, an invalid label regex) nothing is returned and err
 * names the cause. */
int policy_build(graph_snapshot **out, const ingest_releases *releases,
                 const ingest_graph_data *gd, policy_stats *stats, cincy_error *err);

/* The full graph from an upstream Cincinnati service's answers
 * (ingest_upstream_fetch; docs/upstream.md), ready for policy_filter.
 *   gd == NULL (relay): nodes, edges, conditional edges and risks exactly as
 *     served, channel membership from the served channels metadata. For every
 *     fetched channel/arch, policy_filter then gives the upstream's own answer
 *     (node order per docs/graph-order.md, which a cincy upstream shares).
 *     The channels metadata may name channels that were not fetched; a query
 *     for one of those would see only the nodes that fetched channels served,
 *     so a server should answer only the configured channels.
 *   gd given: the served releases and edges are the input, as a registry
 *     scrape's would be, and the usual pipeline runs over them (policy_build):
 *     local channels alone define membership (the served channels key and the
 *     served graph labels, io.openshift.upgrades.graph.previous.* and next.*,
 *     are dropped: the edges already reflect them), local blocks and risks
 *     apply. Upstream conditional pairs stay conditional: their risks come
 *     first, local risks on the same pair follow, and a local risk whose name
 *     the pair already carries from upstream is dropped. A local pure block
 *     does not remove an upstream conditional pair, as a pure block does not
 *     remove a risky pair locally (quirk Q8).
 * Returns a new snapshot reference in *out; stats may be NULL. Fails as
 * policy_build does (a cycle, a bad edge label). Thread: any; up and gd are
 * only read. */
int policy_build_upstream(graph_snapshot **out, const ingest_upstream_graph *up,
                          const ingest_graph_data *gd, policy_stats *stats, cincy_error *err);

/* ---------------------------------------------------------------------------
 * Edges removed by graph-data (issue 8; docs/web-api.md). policy_build keeps,
 * in the snapshot it returns, every edge a pure block (blocked-edges entry
 * with only `to` and `from`) removed, so a client can be told why an update
 * it expected is missing. Edges a risk keeps as conditional pairs (Q8) are
 * not listed: they are served. A relay (policy_build_upstream, gd NULL) has
 * none. Memory: 12 bytes an edge plus three strings per block that removed
 * something. */
typedef struct policy_removal {
    char *file;       /* "blocked-edges/4.16.0-pure.yaml" */
    char *from_regex; /* the entry's `from` */
    char *reason;     /* the file's comment lines joined with ' ', or NULL (a pure
                       * entry has no other field to say why) */
} policy_removal;

typedef struct policy_removed_edge {
    uint32_t from, to; /* node indices of the full snapshot */
    uint32_t removal;  /* index in policy_removed.removals */
} policy_removed_edge;

typedef struct policy_removed {
    policy_removed_edge *edges; /* sorted by (to, from) index, i.e. semver order */
    size_t nedges;
    policy_removal *removals;
    size_t nremovals;
} policy_removed;

/* The table of full (a snapshot from policy_build*), or NULL when no edge was
 * removed. Borrowed: lives as long as full. Thread: any. */
const policy_removed *policy_removed_edges(const graph_snapshot *full);
/* {"channel","arch","edges":[{"from","to","file","from_regex","reason"}]}:
 * the removed edges whose both ends are in the channel/arch view, versions
 * without "+arch", ordered by (to, from). A new malloc'd compact JSON string,
 * NULL on out of memory. channel and arch must be valid (policy_*_valid). */
char *policy_removed_json(const graph_snapshot *full, const char *channel, const char *arch);

/* {"channels":[{"name","arches":[...]}],"arches":[...],"default_channel"}:
 * every channel a node of full lists (only those named in only[0..nonly)
 * when only is not NULL), sorted by the name before its last '-', then the
 * dotted version after it numerically (stable-4.9 < stable-4.10); each with
 * the sorted arches of its nodes. default_channel is the stable-4.y with
 * the highest y, else the first channel, else null. A new malloc'd compact
 * JSON string, NULL on out of memory. */
char *policy_channels_json(const graph_snapshot *full, char *const *only, size_t nonly);

/* Request parameter checks, as the reference: channel ^[0-9a-z\-\.]+$,
 * arch ^[0-9a-z]+$. Return 1 when valid. */
int policy_channel_valid(const char *channel);
int policy_arch_valid(const char *arch);

/* The graph a client of channel/arch sees: nodes whose channels list holds
 * channel and whose arch list holds arch; "+arch" stripped from versions; the
 * release.arch key removed; edges and conditional edges kept only between
 * surviving nodes. An unknown channel or arch gives an empty graph. Returns a
 * new snapshot reference. Thread: any (full is only read). */
int policy_filter(graph_snapshot **out, const graph_snapshot *full, const char *channel,
                  const char *arch, cincy_error *err);

/* ---------------------------------------------------------------------------
 * Upgrade paths (issue 7; docs/path.md). The search runs on the view one
 * client sees (policy_filter of channel and arch), never on the full graph.
 *
 * Rule: fewest hops (breadth-first); among paths of equal length the one
 * whose versions are newest, compared hop by hop from the start (the first
 * intermediate version that differs decides, by semver precedence).
 * risks=avoid follows unconditional edges only; accept follows conditional
 * edges too and lists every risk on the path once.
 */
typedef enum { POLICY_PATH_STANDARD, POLICY_PATH_EUS, POLICY_PATH_IBU } policy_path_mode;

typedef struct policy_path_query {
    const char *channel, *arch;
    const char *from; /* an exact version, "4.16.3" */
    const char *to;   /* "4.16.3", "4.16" (newest 4.16.z in the channel) or "latest" */
    int accept_risks; /* 0: unconditional edges only; 1: conditional edges too */
    policy_path_mode mode;
} policy_path_query;

/* Why there is no path; POLICY_PATH_FOUND when there is one. */
typedef enum {
    POLICY_PATH_FOUND,
    POLICY_PATH_INVALID_QUERY,   /* channel, arch or mode malformed or missing */
    POLICY_PATH_INVALID_VERSION, /* from or to does not parse */
    POLICY_PATH_FROM_UNKNOWN,    /* from is not a node of the channel/arch view */
    POLICY_PATH_TO_UNKNOWN,      /* to (or no 4.y.z for "4.y") is not in the view */
    POLICY_PATH_FROM_NEWER_THAN_TO,
    POLICY_PATH_MODE_MISMATCH,   /* eus/ibu rules do not allow this from/to pair */
    POLICY_PATH_NO_PATH,         /* both known, no path with the allowed edges */
} policy_path_reason;

typedef struct policy_path_risk {
    char *name, *url, *message;
} policy_path_risk;

typedef struct policy_path_hop {
    char *from, *to;
    char *payload;          /* payload of `to` */
    int conditional;        /* 1 when the edge is a conditional one */
    size_t *risks, nrisks;  /* indices into policy_path.risks, in the edge's order */
    int control_plane_only; /* eus: worker pools are paused during this hop */
    const char *note;       /* static text (pause/unpause, ibu), or NULL */
} policy_path_hop;

/* A blocking entry for POLICY_PATH_NO_PATH: either a conditional edge on the
 * path that accepting its risks would give (risks set), or the graph-data
 * removal label on a node (from_regex set: the incoming edges from versions
 * matching it were removed by a blocked-edges entry, pure or risk). */
typedef struct policy_path_block {
    char *from;            /* NULL for a label entry */
    char *to;
    size_t *risks, nrisks; /* indices into policy_path.risks */
    char *from_regex;      /* io.openshift.upgrades.graph.previous.remove_regex, or NULL */
} policy_path_block;

typedef struct policy_path {
    policy_path_mode mode;
    int accept_risks;
    char *channel, *arch;
    char *from, *to;           /* to resolved ("4.16" -> "4.16.20"); NULL when unknown */
    policy_path_hop *hops;     /* nhops entries, from first to last */
    size_t nhops;
    policy_path_risk *risks;   /* distinct (name, url) risks of hops and blocks */
    size_t nrisks;
    policy_path_reason reason; /* POLICY_PATH_FOUND or why not */
    char message[512];         /* one line explaining reason; "" when found */
    policy_path_block *blocks; /* POLICY_PATH_NO_PATH only */
    size_t nblocks;
} policy_path;

/* Finds the path q asks for in the view of full for q->channel/q->arch.
 * Returns 0 with a path in *out; CINCY_EINVALID (invalid query or version,
 * from newer than to, mode mismatch) or CINCY_ENOTFOUND (unknown version, no
 * path) with *out still set to a result whose reason, message and blocks
 * explain the failure, and err naming it; CINCY_ERROR (out of memory) with
 * *out untouched. Thread: any (full is only read). Release with
 * policy_path_free. */
int policy_path_find(policy_path **out, const graph_snapshot *full, const policy_path_query *q,
                     cincy_error *err);
/* As policy_path_find on a view the caller already has (policy_filter of
 * q->channel and q->arch, e.g. one a server caches per channel/arch): the
 * search alone, without rebuilding the view. q->channel and q->arch are only
 * checked and echoed. */
int policy_path_find_in_view(policy_path **out, const graph_snapshot *view,
                             const policy_path_query *q, cincy_error *err);
void policy_path_free(policy_path *p); /* NULL-safe */

/* "found", "invalid_query", "invalid_version", "from_unknown", "to_unknown",
 * "from_newer_than_to", "mode_mismatch", "no_path". */
const char *policy_path_reason_name(policy_path_reason r);

/* The API answer for p (docs/path.md) as new malloc'd compact JSON; NULL on
 * out of memory or a string that is not valid UTF-8. */
char *policy_path_json(const policy_path *p);

/* ---------------------------------------------------------------------------
 * Update plan estimates (policy/plan.c; docs/path.md "Plan"). For each hop of
 * a path: the CVO phase (the payload applied, 60-120 minutes) and the MCO
 * phase (nodes drained and rebooted max_unavailable at a time, >= 5 minutes a
 * node; control plane one at a time); with mode eus, paused worker pools
 * reboot once, after the last hop. Every figure and assumption lives in one
 * documented table in plan.c, and the answer lists the caveats
 * (PodDisruptionBudgets, unavailable nodes, RHEL workers).
 */
typedef struct policy_plan_pool {
    const char *name;         /* "worker", "infra", ... */
    unsigned nodes;
    unsigned max_unavailable; /* >= 1 */
} policy_plan_pool;

typedef struct policy_plan_input {
    unsigned control_plane;       /* control-plane nodes; 0 means the default 3 */
    unsigned workers;             /* nodes of the "worker" pool (may be 0: compact cluster) */
    unsigned max_unavailable;     /* the worker pool's maxUnavailable; 0 means 1 */
    const policy_plan_pool *pools; /* further pools, or NULL */
    size_t npools;
} policy_plan_input;

/* The plan answer for a found path: policy_path_json's object plus "plan"
 * {per-hop cvoMinutes {min,max}, mcoMinutes {min,max}, totals, assumptions,
 * caveats}. A new malloc'd compact JSON string; NULL on out of memory.
 * CINCY_EINVALID-worthy input (max_unavailable 0 in a pool, ...) is checked by
 * policy_plan_check first. */
char *policy_plan_json(const policy_path *p, const policy_plan_input *in);
/* 0, or CINCY_EINVALID with err naming the bad field. */
int policy_plan_check(const policy_plan_input *in, cincy_error *err);

#endif
