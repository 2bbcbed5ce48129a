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

#endif
