/* policy/filter.c - the graph one client sees: one channel, one arch.
 *
 * This is the reference policy-engine's channel and arch filters (spec §2.9,
 * §2.10) run on the full snapshot: keep nodes listing the channel and the
 * arch, strip "+arch" from their versions, drop the release.arch key, keep
 * edges and conditional pairs between kept nodes. The reference filters
 * conditional edges by a substring test on the arch (quirk Q9), which can
 * leave pairs naming absent nodes; we keep a pair only when both ends stay.
 * Work is one pass over nodes and one over edges, through an old -> new index
 * map; grouping of conditional pairs is redone by graph_builder_freeze.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

#define NO_NODE SIZE_MAX

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 when the comma-separated list holds token exactly, entries trimmed. */
int policy_list_has(const char *list, const char *token)
{
    size_t tlen = strlen(token);

    if (!list)
        return 0;
    for (const char *p = list;;) {
        const char *end = strchr(p, ','), *s = p, *e;
        if (!end)
            end = p + strlen(p);
        e = end;
        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        if ((size_t)(e - s) == tlen && memcmp(s, token, tlen) == 0)
            return 1;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

/* version without the build identifiers equal to arch ("4.14.1+amd64" ->
 * "4.14.1", "4.2.10-s390x+s390x" -> "4.2.10-s390x"), malloc'd. */
char *policy_strip_arch(const char *version, const char *arch)
{
    const char *plus = strchr(version, '+');
    size_t alen = strlen(arch), pos;
    int first = 1;
    char *out = malloc(strlen(version) + 1);

    if (!out || !plus) {
        if (out)
            strcpy(out, version);
        return out;
    }
    pos = (size_t)(plus - version);
    memcpy(out, version, pos);
    for (const char *p = plus + 1;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!(n == alen && memcmp(p, arch, n) == 0)) {
            out[pos++] = first ? '+' : '.';
            first = 0;
            memcpy(out + pos, p, n);
            pos += n;
        }
        if (!dot)
            break;
        p = dot + 1;
    }
    out[pos] = '\0';
    return out;
}

static int copy_node(graph_builder *b, size_t *out, const graph_snapshot *full, size_t i,
                     const char *arch, cincy_error *err)
{
    char *version = policy_strip_arch(graph_snapshot_node_version(full, i), arch);
    size_t node, nmeta = graph_snapshot_meta_count(full, i);
    int error;

    if (!version)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    error = graph_builder_add_node(b, version, graph_snapshot_node_payload(full, i), &node, err);
    free(version);
    if (error < 0)
        return error;
    for (size_t k = 0; k < nmeta; k++) {
        const char *key, *value;
        graph_snapshot_meta_at(full, i, k, &key, &value);
        if (strcmp(key, POLICY_KEY_ARCH) != 0 && graph_builder_meta_set(b, node, key, value) < 0)
            return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    *out = node;
    return CINCY_OK;
}

/* First index in edges[0..n) whose from is >= node (edges are sorted by from). */
static size_t first_edge_from(const graph_edge *edges, size_t n, size_t node)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (edges[mid].from < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A channel keeps a few hundred of ~7,000 nodes, so only the edge runs of
 * kept sources are visited, found by binary search, instead of all ~400,000
 * edges. Conditional pairs are far fewer per group and are scanned. */
static int copy_edges(graph_builder *b, const graph_snapshot *full, const size_t *map,
                      cincy_error *err)
{
    const graph_edge *edges = graph_snapshot_edges(full);
    size_t nedges = graph_snapshot_edge_count(full), nnodes = graph_snapshot_node_count(full);

    for (size_t f = 0; f < nnodes; f++) {
        if (map[f] == NO_NODE)
            continue;
        for (size_t i = first_edge_from(edges, nedges, f); i < nedges && edges[i].from == f; i++) {
            size_t to = map[edges[i].to];
            if (to != NO_NODE && graph_builder_add_edge(b, map[f], to) < 0)
                return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        }
    }
    for (size_t g = 0; g < graph_snapshot_cond_count(full); g++) {
        const graph_cond_group *grp = graph_snapshot_cond_group(full, g);
        for (size_t i = 0; i < grp->nedges; i++) {
            size_t from = map[grp->edges[i].from], to = map[grp->edges[i].to];
            if (from == NO_NODE || to == NO_NODE)
                continue;
            for (size_t r = 0; r < grp->nrisks; r++) {
                if (graph_builder_add_risk(b, from, to, &grp->risks[r]) < 0)
                    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
            }
        }
    }
    return CINCY_OK;
}

int policy_filter(graph_snapshot **out, const graph_snapshot *full, const char *channel,
                  const char *arch, cincy_error *err)
{
    size_t n = graph_snapshot_node_count(full);
    size_t *map = malloc((n ? n : 1) * sizeof(*map));
    graph_builder *b = NULL;
    graph_snapshot *snap = NULL;
    int error;

    if (!map || graph_builder_new(&b) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        map[i] = NO_NODE;
        if (!policy_list_has(graph_snapshot_meta_get(full, i, POLICY_KEY_CHANNELS), channel) ||
            !policy_list_has(graph_snapshot_meta_get(full, i, POLICY_KEY_ARCH), arch))
            continue;
        if ((error = copy_node(b, &map[i], full, i, arch, err)) < 0)
            goto cleanup;
    }
    if ((error = copy_edges(b, full, map, err)) < 0)
        goto cleanup;
    error = graph_builder_freeze(&snap, b, err);
    b = NULL; /* freed by freeze */
    if (error < 0)
        goto cleanup;
    *out = snap;
cleanup:
    graph_builder_free(b);
    free(map);
    return error;
}

/* ^[0-9a-z\-\.]+$ */
int policy_channel_valid(const char *channel)
{
    if (!channel || !*channel)
        return 0;
    for (const char *p = channel; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '-' || *p == '.'))
            return 0;
    }
    return 1;
}

/* ^[0-9a-z]+$ */
int policy_arch_valid(const char *arch)
{
    if (!arch || !*arch)
        return 0;
    for (const char *p = arch; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')))
            return 0;
    }
    return 1;
}
