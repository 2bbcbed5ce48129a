/* policy/removed.c - the edges graph-data pure blocks removed, kept for clients.
 *
 * The labels pass notes each edge a pure block's regex matches just before
 * remove_regex removes it (builder indices). Freeze renumbers nodes and frees
 * the builder, so the notes' version strings are taken first and looked up
 * again in the snapshot. A pair a risk keeps as conditional (Q8) is served,
 * so it is dropped from the table. The table then rides on the snapshot
 * (graph_snapshot_attach) and goes with it: a request sees the removed edges
 * of exactly the graph it is served.
 *
 * Pure entries carry only `to` and `from`; in the real data the reason is in
 * the file's comments ("# 4.1 -> 4.2 -> 4.3 updates hit TargetDown ..."),
 * which the YAML parser drops. They are read here, once per build and only
 * for blocks that removed an edge (about a hundred small files).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy_internal.h"

#define REASON_MAX 2048        /* longer comments are cut: this is a hint, not a document */
#define COMMENT_FILE_MAX 65536 /* a blocked-edges file is a few hundred bytes */

int policy_removed_note(policy_ctx *ctx, size_t from, size_t to)
{
    if (ctx->nremoved == ctx->cap_removed) {
        size_t cap = ctx->cap_removed ? ctx->cap_removed * 2 : 64;
        policy_removal_note *p = realloc(ctx->removed, cap * sizeof(*p));
        if (!p)
            return CINCY_ERROR;
        ctx->removed = p;
        ctx->cap_removed = cap;
    }
    ctx->removed[ctx->nremoved++] =
        (policy_removal_note){.from = from, .to = to, .block = ctx->node_pure[to] - 1};
    return CINCY_OK;
}

char **policy_removed_versions(policy_ctx *ctx, int *oom)
{
    char **v;

    *oom = 0;
    if (!ctx->nremoved)
        return NULL;
    if (!(v = calloc(2 * ctx->nremoved, sizeof(*v)))) {
        *oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < ctx->nremoved; i++) {
        v[2 * i] = strdup(graph_builder_node_version(ctx->b, ctx->removed[i].from));
        v[2 * i + 1] = strdup(graph_builder_node_version(ctx->b, ctx->removed[i].to));
        if (!v[2 * i] || !v[2 * i + 1])
            *oom = 1;
    }
    if (*oom) {
        for (size_t i = 0; i < 2 * ctx->nremoved; i++)
            free(v[i]);
        free(v);
        return NULL;
    }
    return v;
}

static void removed_free(void *p)
{
    policy_removed *t = p;

    if (!t)
        return;
    for (size_t i = 0; i < t->nremovals; i++) {
        free(t->removals[i].file);
        free(t->removals[i].from_regex);
        free(t->removals[i].reason);
    }
    free(t->removals);
    free(t->edges);
    free(t);
}

/* Appends the text of one comment line ("# text" -> "text") to out. */
static void append_comment(char *out, size_t *len, const char *line, size_t n)
{
    while (n && (*line == '#' || *line == ' ' || *line == '\t'))
        line++, n--;
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
        n--;
    if (!n)
        return;
    if (*len && *len + 1 < REASON_MAX)
        out[(*len)++] = ' ';
    if (*len + n >= REASON_MAX)
        n = REASON_MAX - 1 - *len;
    memcpy(out + *len, line, n);
    *len += n;
    out[*len] = '\0';
}

/* The comment lines of root/file joined into *reason, or NULL when there
 * are none or the file cannot be read (the entry is still listed, with its
 * file). Returns CINCY_ERROR only when out of memory: a reason silently
 * missing for the snapshot's whole life is worse than a failed build
 * (tests/oom). */
static int read_reason(char **reason, const char *root, const char *file)
{
    char path[4096], buf[COMMENT_FILE_MAX], out[REASON_MAX] = "";
    size_t n, len = 0;
    FILE *f;

    *reason = NULL;
    if (!root || !file ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", root, file) >= sizeof(path) ||
        !(f = fopen(path, "rb")))
        return CINCY_OK;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (char *p = buf; *p;) {
        char *eol = strchr(p, '\n'), *s = p;
        size_t l = eol ? (size_t)(eol - p) : strlen(p);
        while (s < p + l && (*s == ' ' || *s == '\t'))
            s++;
        if (*s == '#')
            append_comment(out, &len, s, l - (size_t)(s - p));
        p = eol ? eol + 1 : p + l;
    }
    return len && !(*reason = strdup(out)) ? CINCY_ERROR : CINCY_OK;
}

static int cmp_removed(const void *pa, const void *pb)
{
    const policy_removed_edge *a = pa, *b = pb;

    if (a->to != b->to)
        return a->to < b->to ? -1 : 1;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    return 0;
}

/* Index of the edge (from, to) in the sorted table, or -1. */
static long find_removed(const policy_removed *t, uint32_t from, uint32_t to)
{
    size_t lo = 0, hi = t->nedges;
    policy_removed_edge key = {.from = from, .to = to};

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_removed(&t->edges[mid], &key);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Drops entries still served: conditional pairs (a risk on the same pair,
 * Q8) and, defensively, plain edges. One scan of the conditional pairs with
 * a binary search each, not a scan per removed edge. CINCY_ERROR when out of
 * memory: the build fails and the last good graph keeps serving, rather than
 * one whose report lists served pairs as removed. */
static int drop_served(policy_removed *t, const graph_snapshot *snap)
{
    unsigned char *gone = calloc(t->nedges ? t->nedges : 1, 1);
    const graph_edge *edges = graph_snapshot_edges(snap);
    size_t k = 0;

    if (!gone)
        return CINCY_ERROR;
    for (size_t g = 0; g < graph_snapshot_cond_count(snap); g++) {
        const graph_cond_group *grp = graph_snapshot_cond_group(snap, g);
        for (size_t i = 0; i < grp->nedges; i++) {
            long at = find_removed(t, grp->edges[i].from, grp->edges[i].to);
            if (at >= 0)
                gone[at] = 1;
        }
    }
    for (size_t i = 0; i < graph_snapshot_edge_count(snap); i++) {
        long at = find_removed(t, edges[i].from, edges[i].to);
        if (at >= 0)
            gone[at] = 1;
    }
    for (size_t i = 0; i < t->nedges; i++)
        if (!gone[i])
            t->edges[k++] = t->edges[i];
    t->nedges = k;
    free(gone);
    return CINCY_OK;
}

/* Fills t->edges from the notes; blocks get a removal slot on first use
 * (slot_of: block index -> slot + 1). */
static int collect_edges(policy_removed *t, const graph_snapshot *snap, policy_ctx *ctx,
                         char **versions, size_t *slot_of)
{
    const ingest_graph_data *gd = ctx->gd;

    for (size_t i = 0; i < ctx->nremoved; i++) {
        size_t from, to, b = ctx->removed[i].block;
        if (graph_snapshot_find(snap, versions[2 * i], &from) < 0 ||
            graph_snapshot_find(snap, versions[2 * i + 1], &to) < 0)
            continue; /* a placeholder freeze dropped */
        if (!slot_of[b]) {
            policy_removal *r = &t->removals[t->nremovals];
            r->file = strdup(gd->blocks[b].file ? gd->blocks[b].file : "");
            r->from_regex = strdup(gd->blocks[b].from ? gd->blocks[b].from : "");
            slot_of[b] = ++t->nremovals;
            if (!r->file || !r->from_regex ||
                read_reason(&r->reason, gd->root, gd->blocks[b].file) < 0)
                return CINCY_ERROR;
        }
        t->edges[t->nedges++] = (policy_removed_edge){
            .from = (uint32_t)from, .to = (uint32_t)to, .removal = (uint32_t)(slot_of[b] - 1)};
    }
    return CINCY_OK;
}

int policy_removed_attach(graph_snapshot *snap, policy_ctx *ctx, char **versions)
{
    policy_removed *t = NULL;
    size_t *slot_of = NULL;
    int error = CINCY_ERROR;

    if (!snap || !versions) {
        error = CINCY_OK;
        goto cleanup;
    }
    if (!(t = calloc(1, sizeof(*t))) || !(t->edges = malloc(ctx->nremoved * sizeof(*t->edges))) ||
        !(t->removals = calloc(ctx->gd->nblocks, sizeof(*t->removals))) ||
        !(slot_of = calloc(ctx->gd->nblocks, sizeof(*slot_of))))
        goto cleanup;
    if (collect_edges(t, snap, ctx, versions, slot_of) < 0)
        goto cleanup;
    qsort(t->edges, t->nedges, sizeof(*t->edges), cmp_removed);
    if (drop_served(t, snap) < 0)
        goto cleanup;
    if (t->nedges) {
        graph_snapshot_attach(snap, t, removed_free);
        t = NULL;
    }
    error = CINCY_OK;
cleanup:
    removed_free(t);
    free(slot_of);
    if (versions) {
        for (size_t i = 0; i < 2 * ctx->nremoved; i++)
            free(versions[i]);
        free(versions);
    }
    return error;
}

const policy_removed *policy_removed_edges(const graph_snapshot *full)
{
    return full ? graph_snapshot_attachment(full) : NULL;
}

/* ---------------------------------------------------------------------------
 * The answer for one channel/arch view. */

static int in_view(const graph_snapshot *full, size_t node, const char *channel, const char *arch)
{
    return policy_list_has(graph_snapshot_meta_get(full, node, POLICY_KEY_CHANNELS), channel) &&
           policy_list_has(graph_snapshot_meta_get(full, node, POLICY_KEY_ARCH), arch);
}

static json_t *edge_json(const graph_snapshot *full, const policy_removed *t,
                         const policy_removed_edge *e, const char *arch)
{
    const policy_removal *r = &t->removals[e->removal];
    char *from = policy_strip_arch(graph_snapshot_node_version(full, e->from), arch);
    char *to = policy_strip_arch(graph_snapshot_node_version(full, e->to), arch);
    /* A comment that is not UTF-8 (or was cut inside a character) says nothing. */
    json_t *reason = r->reason ? json_string(r->reason) : NULL, *o = NULL;

    if (from && to)
        o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "from", from, "to", to, "file", r->file,
                      "from_regex", r->from_regex, "reason", reason ? reason : json_null());
    else
        json_decref(reason);
    free(from);
    free(to);
    return o;
}

char *policy_removed_json(const graph_snapshot *full, const char *channel, const char *arch)
{
    const policy_removed *t = policy_removed_edges(full);
    json_t *edges, *root;
    char *text = NULL;

    /* A failed jansson allocation can leave a hole in json_dumps's text or
     * turn a reason into null (edge_json): it fails the answer instead
     * (graph/json_oom.c, tests/oom). */
    graph_json_oom_reset();
    if (!(edges = json_array()))
        return NULL;
    for (size_t i = 0; t && i < t->nedges; i++) {
        const policy_removed_edge *e = &t->edges[i];
        if (!in_view(full, e->from, channel, arch) || !in_view(full, e->to, channel, arch))
            continue;
        if (json_array_append_new(edges, edge_json(full, t, e, arch)) < 0) {
            json_decref(edges);
            return NULL;
        }
    }
    root = json_pack("{s:s, s:s, s:o}", "channel", channel, "arch", arch, "edges", edges);
    if (root)
        text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text && graph_json_oom_seen()) {
        free(text);
        text = NULL;
    }
    return text;
}
