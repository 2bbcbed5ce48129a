/* policy/path.c - upgrade paths through one channel's graph (issue 7, docs/path.md).
 *
 * A query is answered on the view its client sees (policy_filter of channel
 * and arch), so a path never leaves the channel.
 *
 * Choosing a path. Fewest hops first: a breadth-first search backwards from
 * the target gives every node its distance to the target. Among the shortest
 * paths we want the one whose versions are newest, compared hop by hop from
 * the start (the first hop whose target differs decides, by semver
 * precedence): newer z-streams carry more fixes and usually more ways on.
 * Walking forward from the source and taking, at each node, the newest
 * successor one step closer to the target gives exactly that path, because
 * an earlier hop outranks every later one. Node indices of a snapshot are in
 * semver order (docs/graph-order.md), so "newest" is "highest index".
 *
 * risks=avoid follows unconditional edges only; accept follows conditional
 * edges too (a snapshot keeps a pair either as an edge or as conditional,
 * never both). mode=eus keeps the path inside the three minors 4.y..4.y+2;
 * mode=ibu is one direct jump that does not follow the graph at all.
 *
 * Cost: the view (policy_filter) dominates; the search itself is linear in
 * the view's nodes and edges.
 */
#include <jansson.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

#define NONE SIZE_MAX

/* Image-based upgrade (Lifecycle Agent) needs a managed cluster at this
 * version or later: OpenShift docs, "image-based upgrade for single-node
 * OpenShift", minimum software versions. */
#define IBU_MIN_SOURCE "4.14.13"

static const char NOTE_EUS_PAUSE[] =
    "pause worker MachineConfigPools before this hop; control plane only";
static const char NOTE_EUS_UNPAUSE[] =
    "control plane only; unpause worker MachineConfigPools after this hop: workers update and "
    "reboot once, to the final version";
static const char NOTE_EUS_BOTH[] =
    "pause worker MachineConfigPools before this hop and unpause them after it";
static const char NOTE_EUS_MIDDLE[] = "control plane only; worker MachineConfigPools stay paused";
static const char NOTE_IBU[] =
    "image-based upgrade with a seed image of the target: one direct jump, graph edges are "
    "not followed";

typedef struct path_arc {
    size_t to;
    size_t group; /* conditional group index in the view, NONE for an edge */
} path_arc;

typedef struct path_ctx {
    const policy_path_query *q;
    policy_path *p;
    cincy_error *err;
    graph_snapshot *view;
    size_t n;                /* nodes in the view */
    graph_version *versions; /* parsed node versions of the view */
    int *parsed;             /* 1 where versions[i] is valid */
    graph_version from_v;
    size_t from, to;   /* view indices (from may be NONE for ibu) */
    size_t *out_start; /* forward arcs of node i: out_arcs[out_start[i] .. out_start[i+1]) */
    path_arc *out_arcs;
    size_t *in_start; /* sources of arcs into node i, same layout */
    size_t *in_from;
    size_t *dist; /* hops to the target, NONE when it cannot reach it */
    size_t *queue;
} path_ctx;

const char *policy_path_reason_name(policy_path_reason r)
{
    switch (r) {
    case POLICY_PATH_FOUND:
        return "found";
    case POLICY_PATH_INVALID_QUERY:
        return "invalid_query";
    case POLICY_PATH_INVALID_VERSION:
        return "invalid_version";
    case POLICY_PATH_FROM_UNKNOWN:
        return "from_unknown";
    case POLICY_PATH_TO_UNKNOWN:
        return "to_unknown";
    case POLICY_PATH_FROM_NEWER_THAN_TO:
        return "from_newer_than_to";
    case POLICY_PATH_MODE_MISMATCH:
        return "mode_mismatch";
    case POLICY_PATH_NO_PATH:
        return "no_path";
    }
    return "unknown";
}

static const char *mode_name(policy_path_mode m)
{
    return m == POLICY_PATH_EUS ? "eus" : m == POLICY_PATH_IBU ? "ibu" : "standard";
}

static int oom(cincy_error *err)
{
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
}

/* Records why there is no path in p and in err; returns code. */
static int refuse(path_ctx *c, int code, policy_path_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(path_ctx *c, int code, policy_path_reason reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->p->message, sizeof(c->p->message), fmt, ap);
    va_end(ap);
    c->p->reason = reason;
    return cincy_error_set(c->err, code, NULL, 0, "%s", c->p->message);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---------------------------------------------------------------------------
 * Result building. */

static void risk_clear(policy_path_risk *r)
{
    free(r->name);
    free(r->url);
    free(r->message);
}

void policy_path_free(policy_path *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nhops; i++) {
        free(p->hops[i].from);
        free(p->hops[i].to);
        free(p->hops[i].payload);
        free(p->hops[i].risks);
    }
    for (size_t i = 0; i < p->nrisks; i++)
        risk_clear(&p->risks[i]);
    for (size_t i = 0; i < p->nblocks; i++) {
        free(p->blocks[i].from);
        free(p->blocks[i].to);
        free(p->blocks[i].risks);
        free(p->blocks[i].from_regex);
    }
    free(p->hops);
    free(p->risks);
    free(p->blocks);
    free(p->channel);
    free(p->arch);
    free(p->from);
    free(p->to);
    free(p);
}

/* Index in p->risks of the risk named and linked like r, added when new. */
static int intern_risk(size_t *out, policy_path *p, const graph_risk *r)
{
    policy_path_risk *grown, *nr;
    const char *name = r->name ? r->name : "", *url = r->url ? r->url : "";

    for (size_t i = 0; i < p->nrisks; i++) {
        if (strcmp(p->risks[i].name, name) == 0 && strcmp(p->risks[i].url, url) == 0) {
            *out = i;
            return CINCY_OK;
        }
    }
    if (!(grown = realloc(p->risks, (p->nrisks + 1) * sizeof(*grown))))
        return CINCY_ERROR;
    p->risks = grown;
    nr = &p->risks[p->nrisks];
    nr->name = strdup(name);
    nr->url = strdup(url);
    nr->message = strdup(r->message ? r->message : "");
    if (!nr->name || !nr->url || !nr->message) {
        risk_clear(nr);
        return CINCY_ERROR;
    }
    *out = p->nrisks++;
    return CINCY_OK;
}

/* The risk indices of conditional group g of the view, new array in *out. */
static int group_risks(size_t **out, size_t *count, path_ctx *c, size_t g)
{
    const graph_cond_group *grp;

    *out = NULL;
    *count = 0;
    if (g == NONE)
        return CINCY_OK;
    grp = graph_snapshot_cond_group(c->view, g);
    if (!(*out = malloc((grp->nrisks ? grp->nrisks : 1) * sizeof(**out))))
        return CINCY_ERROR;
    for (size_t r = 0; r < grp->nrisks; r++) {
        if (intern_risk(&(*out)[r], c->p, &grp->risks[r]) < 0)
            return CINCY_ERROR; /* *out is freed by the caller's owner */
        (*count)++;
    }
    return CINCY_OK;
}

static int add_hop(path_ctx *c, size_t from, size_t to, size_t group, const char *from_text)
{
    policy_path *p = c->p;
    policy_path_hop *grown = realloc(p->hops, (p->nhops + 1) * sizeof(*grown)), *h;

    if (!grown)
        return CINCY_ERROR;
    p->hops = grown;
    h = &p->hops[p->nhops++];
    memset(h, 0, sizeof(*h));
    h->from = strdup(from == NONE ? from_text : graph_snapshot_node_version(c->view, from));
    h->to = strdup(graph_snapshot_node_version(c->view, to));
    h->payload = dup_or_null(graph_snapshot_node_payload(c->view, to));
    h->conditional = group != NONE;
    /* a payload lost to out of memory would be answered as null (tests/oom) */
    if (!h->from || !h->to || (graph_snapshot_node_payload(c->view, to) && !h->payload) ||
        group_risks(&h->risks, &h->nrisks, c, group) < 0)
        return CINCY_ERROR;
    return CINCY_OK;
}

static int add_block(path_ctx *c, size_t from, size_t to, size_t group, const char *regex)
{
    policy_path *p = c->p;
    policy_path_block *grown = realloc(p->blocks, (p->nblocks + 1) * sizeof(*grown)), *b;

    if (!grown)
        return CINCY_ERROR;
    p->blocks = grown;
    b = &p->blocks[p->nblocks++];
    memset(b, 0, sizeof(*b));
    b->from = from == NONE ? NULL : strdup(graph_snapshot_node_version(c->view, from));
    b->to = strdup(graph_snapshot_node_version(c->view, to));
    b->from_regex = dup_or_null(regex);
    if ((from != NONE && !b->from) || !b->to || (regex && !b->from_regex) ||
        group_risks(&b->risks, &b->nrisks, c, group) < 0)
        return CINCY_ERROR;
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * The search. */

/* Nodes a path may visit: every node, or for eus the three minors
 * from.minor .. from.minor + 2 of from's major. */
static int allowed(const path_ctx *c, size_t node)
{
    const graph_version *v = &c->versions[node];

    if (c->q->mode != POLICY_PATH_EUS)
        return 1;
    return c->parsed[node] && v->major == c->from_v.major && v->minor >= c->from_v.minor &&
           v->minor <= c->from_v.minor + 2;
}

static void free_arcs(path_ctx *c)
{
    free(c->out_start);
    free(c->out_arcs);
    free(c->in_start);
    free(c->in_from);
    c->out_start = c->in_start = c->in_from = NULL;
    c->out_arcs = NULL;
}

/* Calls fn for each arc the query may use: every edge, and every
 * conditional pair when accept. */
typedef void (*arc_fn)(path_ctx *c, size_t from, size_t to, size_t group);

static void each_arc(path_ctx *c, int accept, arc_fn fn)
{
    const graph_edge *e = graph_snapshot_edges(c->view);

    for (size_t i = 0; i < graph_snapshot_edge_count(c->view); i++)
        fn(c, e[i].from, e[i].to, NONE);
    for (size_t g = 0; accept && g < graph_snapshot_cond_count(c->view); g++) {
        const graph_cond_group *grp = graph_snapshot_cond_group(c->view, g);
        for (size_t i = 0; i < grp->nedges; i++)
            fn(c, grp->edges[i].from, grp->edges[i].to, g);
    }
}

static void count_arc(path_ctx *c, size_t from, size_t to, size_t group)
{
    (void)group;
    c->out_start[from + 1]++;
    c->in_start[to + 1]++;
}

/* Fills with out_start/in_start as cursors, shifted back afterwards. */
static void place_arc(path_ctx *c, size_t from, size_t to, size_t group)
{
    c->out_arcs[c->out_start[from]++] = (path_arc){to, group};
    c->in_from[c->in_start[to]++] = from;
}

/* Forward and reverse adjacency (CSR) of the arcs the query may use. */
static int build_arcs(path_ctx *c, int accept)
{
    size_t narcs;

    free_arcs(c);
    c->out_start = calloc(c->n + 1, sizeof(*c->out_start));
    c->in_start = calloc(c->n + 1, sizeof(*c->in_start));
    if (!c->out_start || !c->in_start)
        return CINCY_ERROR;
    each_arc(c, accept, count_arc);
    for (size_t i = 0; i < c->n; i++) {
        c->out_start[i + 1] += c->out_start[i];
        c->in_start[i + 1] += c->in_start[i];
    }
    narcs = c->out_start[c->n];
    c->out_arcs = malloc((narcs ? narcs : 1) * sizeof(*c->out_arcs));
    c->in_from = malloc((narcs ? narcs : 1) * sizeof(*c->in_from));
    if (!c->out_arcs || !c->in_from)
        return CINCY_ERROR;
    each_arc(c, accept, place_arc);
    for (size_t i = c->n; i > 0; i--) {
        c->out_start[i] = c->out_start[i - 1];
        c->in_start[i] = c->in_start[i - 1];
    }
    c->out_start[0] = c->in_start[0] = 0;
    return CINCY_OK;
}

/* Breadth-first from the target over reversed arcs: dist[i] = fewest hops
 * from i to the target through allowed nodes. */
static void distances_to_target(path_ctx *c)
{
    size_t head = 0, tail = 0;

    for (size_t i = 0; i < c->n; i++)
        c->dist[i] = NONE;
    c->dist[c->to] = 0;
    c->queue[tail++] = c->to;
    while (head < tail) {
        size_t v = c->queue[head++];
        for (size_t k = c->in_start[v]; k < c->in_start[v + 1]; k++) {
            size_t u = c->in_from[k];
            if (c->dist[u] == NONE && allowed(c, u)) {
                c->dist[u] = c->dist[v] + 1;
                c->queue[tail++] = u;
            }
        }
    }
}

/* The arc out of node one step closer to the target with the newest target
 * (highest index). Exists whenever dist[node] is finite and positive. */
static const path_arc *best_step(const path_ctx *c, size_t node)
{
    const path_arc *best = NULL;

    for (size_t k = c->out_start[node]; k < c->out_start[node + 1]; k++) {
        const path_arc *a = &c->out_arcs[k];
        if (c->dist[a->to] == c->dist[node] - 1 && (!best || a->to > best->to))
            best = a;
    }
    return best;
}

/* Searches with or without conditional arcs. *found = 1 when from reaches
 * to; then, if record, the hops (or, if !record, the blocking conditional
 * arcs of the path) are added to the result. */
static int search(int *found, path_ctx *c, int accept, int record)
{
    int error;

    *found = 0;
    if ((error = build_arcs(c, accept)) < 0)
        return error;
    distances_to_target(c);
    if (c->dist[c->from] == NONE)
        return CINCY_OK;
    *found = 1;
    for (size_t node = c->from; node != c->to;) {
        const path_arc *a = best_step(c, node);
        if (record)
            error = add_hop(c, node, a->to, a->group, NULL);
        else if (a->group != NONE)
            error = add_block(c, node, a->to, a->group, NULL);
        if (error < 0)
            return error;
        node = a->to;
    }
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Query checks and target resolution. */

/* 1 when s is "<major>.<minor>" with decimal numbers. */
static int parse_minor(const char *s, uint64_t *major, uint64_t *minor)
{
    char *end;

    if (!s || *s < '0' || *s > '9')
        return 0;
    *major = strtoull(s, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return 0;
    *minor = strtoull(end + 1, &end, 10);
    return *end == '\0';
}

/* The view index of the target spec, or NONE. */
static size_t resolve_to(const path_ctx *c)
{
    const char *spec = c->q->to;
    uint64_t major, minor;
    size_t node;

    if (strcmp(spec, "latest") == 0)
        return c->n ? c->n - 1 : NONE;
    if (parse_minor(spec, &major, &minor)) {
        for (size_t i = c->n; i > 0; i--) {
            const graph_version *v = &c->versions[i - 1];
            if (c->parsed[i - 1] && v->major == major && v->minor == minor)
                return i - 1;
        }
        return NONE;
    }
    return graph_snapshot_find(c->view, spec, &node) == CINCY_OK ? node : NONE;
}

static int check_input(path_ctx *c)
{
    const policy_path_query *q = c->q;
    uint64_t major, minor;
    graph_version to;

    if (!policy_channel_valid(q->channel) || !policy_arch_valid(q->arch))
        return refuse(c, CINCY_EINVALID, POLICY_PATH_INVALID_QUERY,
                      "invalid channel '%.100s' or arch '%.100s'", q->channel ? q->channel : "",
                      q->arch ? q->arch : "");
    if (q->mode != POLICY_PATH_STANDARD && q->mode != POLICY_PATH_EUS && q->mode != POLICY_PATH_IBU)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_INVALID_QUERY, "invalid mode %d",
                      (int)q->mode);
    if (!q->from || graph_version_parse(&c->from_v, q->from, NULL) < 0)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_INVALID_VERSION,
                      "from: '%.100s' is not a valid version", q->from ? q->from : "");
    if (!q->to)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_INVALID_VERSION, "to: missing");
    if (strcmp(q->to, "latest") == 0 || parse_minor(q->to, &major, &minor))
        return CINCY_OK;
    if (graph_version_parse(&to, q->to, NULL) < 0)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_INVALID_VERSION,
                      "to: '%.100s' is not a valid version, 4.y or latest", q->to);
    graph_version_clear(&to);
    return CINCY_OK;
}

static int parse_view_versions(path_ctx *c)
{
    c->n = graph_snapshot_node_count(c->view);
    c->versions = calloc(c->n ? c->n : 1, sizeof(*c->versions));
    c->parsed = calloc(c->n ? c->n : 1, sizeof(*c->parsed));
    c->dist = malloc((c->n ? c->n : 1) * sizeof(*c->dist));
    c->queue = malloc((c->n ? c->n : 1) * sizeof(*c->queue));
    if (!c->versions || !c->parsed || !c->dist || !c->queue)
        return CINCY_ERROR;
    for (size_t i = 0; i < c->n; i++)
        c->parsed[i] = graph_version_parse(&c->versions[i], graph_snapshot_node_version(c->view, i),
                                           NULL) == 0;
    return CINCY_OK;
}

/* eus: from an even minor 4.y to the next even minor 4.y+2. */
static int check_eus(path_ctx *c)
{
    const graph_version *to = &c->versions[c->to];

    if (c->from_v.minor % 2 != 0)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH,
                      "mode eus: from %s is not on an even (EUS) minor", c->p->from);
    if (to->major != c->from_v.major || to->minor != c->from_v.minor + 2)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH,
                      "mode eus: to %s is not in the next EUS minor %" PRIu64 ".%" PRIu64, c->p->to,
                      c->from_v.major, c->from_v.minor + 2);
    return CINCY_OK;
}

/* ibu: 4.y.z -> a later 4.y.z', 4.y+1.* or 4.y+2.*, source >= 4.14.13. */
static int check_ibu(path_ctx *c)
{
    const graph_version *to = &c->versions[c->to];
    graph_version min;
    int below;

    if (graph_version_parse(&min, IBU_MIN_SOURCE, NULL) < 0)
        return oom(c->err);
    below = graph_version_cmp(&c->from_v, &min) < 0;
    graph_version_clear(&min);
    if (below)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH,
                      "mode ibu: from %s is older than the minimum source version " IBU_MIN_SOURCE,
                      c->p->from);
    if (to->major != c->from_v.major || to->minor > c->from_v.minor + 2)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH,
                      "mode ibu: to %s is more than two minors after from %s", c->p->to,
                      c->p->from);
    return CINCY_OK;
}

/* Marks the hops of an eus path: all control plane only, worker pools
 * paused before the first and unpaused after the last (workers reboot once). */
static void annotate_eus(policy_path *p)
{
    for (size_t i = 0; i < p->nhops; i++) {
        p->hops[i].control_plane_only = 1;
        p->hops[i].note = NOTE_EUS_MIDDLE;
    }
    if (p->nhops == 1)
        p->hops[0].note = NOTE_EUS_BOTH;
    else if (p->nhops > 1) {
        p->hops[0].note = NOTE_EUS_PAUSE;
        p->hops[p->nhops - 1].note = NOTE_EUS_UNPAUSE;
    }
}

/* No path with the allowed arcs: explain with the conditional edges a path
 * with risks=accept would take, and the removal label on the target. */
static int explain_no_path(path_ctx *c)
{
    const char *regex;
    int found = 0, error;

    if (!c->q->accept_risks && (error = search(&found, c, 1, 0)) < 0)
        return oom(c->err);
    regex = graph_snapshot_meta_get(c->view, c->to, POLICY_KEY_PREV_REMOVE_REGEX);
    if (regex && add_block(c, NONE, c->to, NONE, regex) < 0)
        return oom(c->err);
    return refuse(c, CINCY_ENOTFOUND, POLICY_PATH_NO_PATH,
                  "no %s path from %s to %s in channel %s (%s)%s", mode_name(c->q->mode),
                  c->p->from, c->p->to, c->q->channel, c->q->arch,
                  found ? ": conditional edges block it, see blocking (risks=accept)"
                        : ": edges are missing or were removed by graph-data");
}

static int find_in_view(path_ctx *c)
{
    const policy_path_query *q = c->q;
    int found, error;

    if (graph_snapshot_find(c->view, q->from, &c->from) < 0) {
        if (q->mode != POLICY_PATH_IBU)
            return refuse(c, CINCY_ENOTFOUND, POLICY_PATH_FROM_UNKNOWN,
                          "from %s is not in channel %s (%s)", q->from, q->channel, q->arch);
        c->from = NONE; /* ibu does not follow edges: the source need not be listed */
    }
    if ((c->to = resolve_to(c)) == NONE)
        return refuse(c, CINCY_ENOTFOUND, POLICY_PATH_TO_UNKNOWN, "to %s is not in channel %s (%s)",
                      q->to, q->channel, q->arch);
    if (!(c->p->to = strdup(graph_snapshot_node_version(c->view, c->to))))
        return oom(c->err);
    if (!c->parsed[c->to] || graph_version_cmp(&c->from_v, &c->versions[c->to]) > 0)
        return refuse(c, CINCY_EINVALID, POLICY_PATH_FROM_NEWER_THAN_TO,
                      "from %s is newer than to %s", c->p->from, c->p->to);
    if (c->from == c->to)
        return CINCY_OK; /* already there: zero hops */
    if (q->mode == POLICY_PATH_EUS && (error = check_eus(c)) < 0)
        return error;
    if (q->mode == POLICY_PATH_IBU) {
        if ((error = check_ibu(c)) < 0)
            return error;
        if (graph_version_cmp(&c->from_v, &c->versions[c->to]) == 0)
            return CINCY_OK;
        if (add_hop(c, c->from, c->to, NONE, q->from) < 0)
            return oom(c->err);
        c->p->hops[0].note = NOTE_IBU;
        return CINCY_OK;
    }
    if ((error = search(&found, c, q->accept_risks, 1)) < 0)
        return oom(c->err);
    if (!found)
        return explain_no_path(c);
    if (q->mode == POLICY_PATH_EUS)
        annotate_eus(c->p);
    return CINCY_OK;
}

static void ctx_free(path_ctx *c)
{
    free_arcs(c);
    for (size_t i = 0; c->versions && i < c->n; i++)
        graph_version_clear(&c->versions[i]);
    free(c->versions);
    free(c->parsed);
    free(c->dist);
    free(c->queue);
    graph_version_clear(&c->from_v);
    graph_snapshot_unref(c->view);
}

/* The result skeleton: the query's own fields copied. NULL on out of memory. */
static policy_path *path_new(const policy_path_query *q)
{
    policy_path *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->mode = q->mode;
    p->accept_risks = q->accept_risks != 0;
    p->channel = strdup(q->channel ? q->channel : "");
    p->arch = strdup(q->arch ? q->arch : "");
    p->from = strdup(q->from ? q->from : "");
    if (!p->channel || !p->arch || !p->from) {
        policy_path_free(p);
        return NULL;
    }
    return p;
}

/* Shared by both entry points: view NULL means "filter full". */
static int find(policy_path **out, const graph_snapshot *full, const graph_snapshot *view,
                const policy_path_query *q, cincy_error *err)
{
    path_ctx c = {.q = q, .err = err};
    policy_path *p = path_new(q);
    int error;

    if (!p)
        return oom(err);
    c.p = p;
    if ((error = check_input(&c)) < 0)
        goto done;
    if (view)
        c.view = graph_snapshot_ref((graph_snapshot *)view); /* only the count changes */
    else if ((error = policy_filter(&c.view, full, q->channel, q->arch, err)) < 0)
        goto cleanup;
    if (parse_view_versions(&c) < 0) {
        error = oom(err);
        goto cleanup;
    }
    error = find_in_view(&c);
done:
    if (error == CINCY_OK || error == CINCY_EINVALID || error == CINCY_ENOTFOUND) {
        *out = p;
        p = NULL;
    }
cleanup:
    policy_path_free(p);
    ctx_free(&c);
    return error;
}

int policy_path_find(policy_path **out, const graph_snapshot *full, const policy_path_query *q,
                     cincy_error *err)
{
    return find(out, full, NULL, q, err);
}

int policy_path_find_in_view(policy_path **out, const graph_snapshot *view,
                             const policy_path_query *q, cincy_error *err)
{
    return find(out, NULL, view, q, err);
}

/* ---------------------------------------------------------------------------
 * JSON (docs/path.md). Each value is attached as soon as it is made; one
 * failed step marks the document failed, and freeing the root frees all. */

/* obj[key] = v, stealing v; 0 or -1 (v NULL, or invalid UTF-8 in key). */
static int put(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *risk_names(const policy_path *p, const size_t *idx, size_t n, int with_url)
{
    json_t *arr = json_array();
    int bad = !arr;

    for (size_t i = 0; !bad && i < n; i++) {
        const policy_path_risk *r = &p->risks[idx[i]];
        json_t *v = with_url ? json_pack("{s:s, s:s}", "name", r->name, "url", r->url)
                             : json_string(r->name);
        bad = !v || json_array_append_new(arr, v) < 0;
    }
    if (bad) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *hop_json(const policy_path *p, const policy_path_hop *h)
{
    json_t *o = json_object();
    int bad = !o;

    bad = bad || put(o, "from", json_string(h->from)) < 0;
    bad = bad || put(o, "to", json_string(h->to)) < 0;
    bad = bad || put(o, "payload", str_or_null(h->payload)) < 0;
    bad = bad || put(o, "conditional", json_boolean(h->conditional)) < 0;
    bad = bad || put(o, "risks", risk_names(p, h->risks, h->nrisks, 0)) < 0;
    if (p->mode == POLICY_PATH_EUS)
        bad = bad || put(o, "controlPlaneOnly", json_boolean(h->control_plane_only)) < 0;
    if (h->note)
        bad = bad || put(o, "note", json_string(h->note)) < 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *block_json(const policy_path *p, const policy_path_block *b)
{
    json_t *o = json_object();
    int bad = !o;

    if (b->from_regex) {
        bad = bad || put(o, "to", json_string(b->to)) < 0;
        bad = bad || put(o, "label", json_string(POLICY_KEY_PREV_REMOVE_REGEX)) < 0;
        bad = bad || put(o, "fromRegex", json_string(b->from_regex)) < 0;
    } else {
        bad = bad || put(o, "from", json_string(b->from)) < 0;
        bad = bad || put(o, "to", json_string(b->to)) < 0;
        bad = bad || put(o, "risks", risk_names(p, b->risks, b->nrisks, 1)) < 0;
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int fill_arrays(json_t *root, const policy_path *p)
{
    json_t *hops, *risks, *v;

    if (put(root, "hops", hops = json_array()) < 0 || put(root, "risks", risks = json_array()) < 0)
        return -1;
    for (size_t i = 0; i < p->nhops; i++) {
        if (json_array_append_new(hops, hop_json(p, &p->hops[i])) < 0)
            return -1;
    }
    for (size_t i = 0; i < p->nrisks; i++) {
        const policy_path_risk *r = &p->risks[i];
        v = json_pack("{s:s, s:s, s:s}", "name", r->name, "url", r->url, "message", r->message);
        if (json_array_append_new(risks, v) < 0)
            return -1;
    }
    if (p->reason == POLICY_PATH_FOUND)
        return 0;
    if (put(root, "error",
            json_pack("{s:s, s:s}", "reason", policy_path_reason_name(p->reason), "message",
                      p->message)) < 0 ||
        put(root, "blocking", v = json_array()) < 0)
        return -1;
    for (size_t i = 0; i < p->nblocks; i++) {
        if (json_array_append_new(v, block_json(p, &p->blocks[i])) < 0)
            return -1;
    }
    return 0;
}

char *policy_path_json(const policy_path *p)
{
    json_t *root;
    char *text = NULL;
    int bad;

    /* A failed jansson allocation can leave a hole in json_dumps's text:
     * any one fails the answer (graph/json_oom.c, tests/oom). */
    graph_json_oom_reset();
    bad = !(root = json_object());

    bad = bad || put(root, "channel", json_string(p->channel)) < 0;
    bad = bad || put(root, "arch", json_string(p->arch)) < 0;
    bad = bad || put(root, "mode", json_string(mode_name(p->mode))) < 0;
    bad = bad || put(root, "riskPolicy", json_string(p->accept_risks ? "accept" : "avoid")) < 0;
    bad = bad || put(root, "from", json_string(p->from)) < 0;
    bad = bad || put(root, "to", str_or_null(p->to)) < 0;
    bad = bad || put(root, "hopCount", json_integer((json_int_t)p->nhops)) < 0;
    if (p->mode == POLICY_PATH_EUS && p->nhops)
        bad =
            bad || put(root, "workerPools",
                       json_pack("{s:I, s:I, s:i}", "pauseBeforeHop", (json_int_t)1,
                                 "unpauseAfterHop", (json_int_t)p->nhops, "workerReboots", 1)) < 0;
    bad = bad || fill_arrays(root, p) < 0;
    if (!bad)
        text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text && graph_json_oom_seen()) {
        free(text);
        text = NULL;
    }
    return text;
}
