/* ingest/upstream_internal.h - what upstream.c (HTTP and held state) and
 * upstream_parse.c (strict JSON and the merge) share. Never included from
 * outside ingest/.
 *
 * One channel/arch pair's body parses into an upstream_body: its nodes as
 * release records without previous, its edges as index pairs, its
 * conditional pairs flattened (one entry per pair, naming its group's risk
 * list). The handle holds one upstream_body per pair; a fetch stages new
 * bodies beside the held ones, merges the mix, and only then swaps them in,
 * so a failed merge leaves the held state untouched. */
#ifndef CINCY_UPSTREAM_INTERNAL_H
#define CINCY_UPSTREAM_INTERNAL_H

#include <stddef.h>

#include "ingest/ingest_internal.h"

/* A graph body is a few MB for OpenShift's largest channel; the cap stops a
 * wrong URL (a large download page) from filling memory. */
#define UPSTREAM_BODY_MAX (256u << 20)

typedef struct upstream_edge {
    size_t from, to; /* indices into upstream_body.nodes */
} upstream_edge;

typedef struct upstream_cond {
    size_t from, to; /* indices into upstream_body.nodes */
    size_t list;     /* index into upstream_body.lists: its group's risks */
} upstream_cond;

typedef struct upstream_body {
    ingest_release *nodes; /* version, payload, arch, manifestref, meta, source */
    size_t nnodes;
    upstream_edge *edges;
    size_t nedges;
    ingest_upstream_risks *lists; /* one per conditionalEdges group */
    size_t nlists;
    upstream_cond *conds; /* one per pair in the groups, dangling pairs left out */
    size_t nconds;
} upstream_body;

/* What the parser and the merge need to know about one pair. */
typedef struct upstream_pair_id {
    const char *channel;
    const char *arch;
    const char *request; /* "<url>?channel=C&arch=A", for messages and release.source */
} upstream_pair_id;

/* Parses one response body strictly (see ingest.h). On failure err names
 * id->request and the JSON path; *out is untouched. */
int upstream_body_parse(upstream_body *out, const char *text, size_t len,
                        const upstream_pair_id *id, cincy_error *err);
void upstream_body_clear(upstream_body *b); /* frees what b owns; NULL-safe */

/* Merges n bodies (bodies[i] served for ids[i]) into one graph. Two records
 * of one version and arch with different payloads fail with both requests
 * named. */
int upstream_merge(ingest_upstream_graph **out, const upstream_body *const *bodies,
                   const upstream_pair_id *ids, size_t n, cincy_error *err);

void upstream_risks_clear(ingest_upstream_risks *l); /* frees what l owns */

#endif
