/* policy/upstream.c - policy_build_upstream: an upstream service's graphs as
 * one full graph, with or without local graph-data on top.
 *
 * Both modes run the pipeline of build.c over the upstream's release records
 * (each record's previous list holds the sources of its served edges), then
 * put the upstream's conditional pairs on with their risks before the labels
 * pass would attach local ones:
 *   relay (no graph-data): no graph-data passes and no labels pass, so the
 *     edges are exactly the served ones (re-running upstream's labels over
 *     its own output could only re-add edges no fetched channel served);
 *   graph-data: a view of the records without the served channels and graph
 *     labels, whose previous lists also name the sources of upstream
 *     conditional pairs, so local risks can attach to those pairs as they
 *     attach to any edge; the freeze keeps such a pair conditional only.
 * The view borrows every string from the upstream graph: only the arrays are
 * new. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

#define LABEL_PREVIOUS POLICY_LABEL_PREFIX "previous."
#define LABEL_NEXT POLICY_LABEL_PREFIX "next."

static int oom(cincy_error *err)
{
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
}

/* ---------------------------------------------------------------------------
 * The graph-data mode's view of the records */

/* Served keys that graph-data must not see again: membership is local, and
 * the labels were applied upstream already (their edges are the input). */
static int key_dropped(const char *key)
{
    return strcmp(key, POLICY_KEY_CHANNELS) == 0 ||
           strncmp(key, LABEL_PREVIOUS, strlen(LABEL_PREVIOUS)) == 0 ||
           strncmp(key, LABEL_NEXT, strlen(LABEL_NEXT)) == 0;
}

static void view_free(ingest_releases *v)
{
    for (size_t i = 0; i < v->count; i++) {
        free(v->items[i].meta_keys); /* arrays only: the strings are borrowed */
        free(v->items[i].meta_values);
        free(v->items[i].previous);
    }
    free(v->items);
    memset(v, 0, sizeof(*v));
}

static int view_meta(ingest_release *dst, const ingest_release *src)
{
    size_t n = src->nmeta ? src->nmeta : 1;

    if (!(dst->meta_keys = malloc(n * sizeof(char *))) ||
        !(dst->meta_values = malloc(n * sizeof(char *))))
        return CINCY_ERROR;
    dst->nmeta = 0;
    for (size_t k = 0; k < src->nmeta; k++) {
        if (key_dropped(src->meta_keys[k]))
            continue;
        dst->meta_keys[dst->nmeta] = src->meta_keys[k];
        dst->meta_values[dst->nmeta++] = src->meta_values[k];
    }
    return CINCY_OK;
}

/* previous = served edge sources, then the sources of conditional pairs
 * into this release (extra[i] of them). */
static int view_previous(ingest_releases *v, const ingest_upstream_graph *up, const size_t *extra)
{
    for (size_t i = 0; i < v->count; i++) {
        const ingest_release *src = &up->releases.items[i];
        ingest_release *dst = &v->items[i];
        size_t n = src->nprevious + extra[i];

        if (!(dst->previous = malloc((n ? n : 1) * sizeof(char *))))
            return CINCY_ERROR;
        if (src->nprevious)
            memcpy(dst->previous, src->previous, src->nprevious * sizeof(char *));
        dst->nprevious = src->nprevious;
    }
    for (size_t c = 0; c < up->nconds; c++) {
        const ingest_upstream_cond *uc = &up->conds[c];
        ingest_release *dst = &v->items[uc->to_release];
        dst->previous[dst->nprevious++] = up->releases.items[uc->from_release].version;
    }
    return CINCY_OK;
}

static int make_view(ingest_releases *v, const ingest_upstream_graph *up, cincy_error *err)
{
    size_t n = up->releases.count, *extra = calloc(n ? n : 1, sizeof(*extra));
    int error = CINCY_OK;

    if (!extra || !(v->items = calloc(n ? n : 1, sizeof(*v->items)))) {
        error = oom(err);
        goto cleanup;
    }
    for (size_t c = 0; c < up->nconds; c++)
        extra[up->conds[c].to_release]++;
    for (size_t i = 0; i < n; i++) {
        const ingest_release *src = &up->releases.items[i];
        ingest_release *dst = &v->items[i];

        v->count++;
        *dst = *src; /* borrows version, payload, arch, manifestref, source */
        dst->meta_keys = dst->meta_values = dst->previous = NULL;
        dst->nmeta = dst->nprevious = 0;
        dst->next = NULL;
        dst->nnext = 0;
        if (view_meta(dst, src) < 0) {
            error = oom(err);
            goto cleanup;
        }
    }
    if (view_previous(v, up, extra) < 0)
        error = oom(err);
cleanup:
    free(extra);
    return error;
}

/* ---------------------------------------------------------------------------
 * Upstream conditional pairs */

/* The node named version with its build replaced by arch, as build.c names
 * release nodes. *found is 0 when there is none. */
static int find_node(size_t *out, int *found, const policy_ctx *ctx, const char *version,
                     const char *arch)
{
    graph_version v;
    char *text;

    *found = 0;
    if (graph_version_parse(&v, version, NULL) < 0)
        return CINCY_OK; /* ingest checked it: a record built by hand */
    free(v.build);
    v.build = (char *)arch; /* borrowed for formatting only */
    text = graph_version_format(&v);
    v.build = NULL;
    graph_version_clear(&v);
    if (!text)
        return CINCY_ERROR;
    *found = graph_builder_find(ctx->b, text, out) == CINCY_OK;
    free(text);
    return CINCY_OK;
}

/* Remembers that the pair carries an upstream risk of this name, so the
 * labels pass drops a local repeat (labels.c, risk_already_listed). */
static int note_name(policy_ctx *ctx, size_t from, size_t to, const char *name)
{
    char *key = malloc(strlen(name) + 48);
    int error;

    if (!key)
        return CINCY_ERROR;
    sprintf(key, "%zu>%zu>%s", from, to, name);
    error = policy_strmap_put(&ctx->risk_pairs, key, POLICY_RISK_FROM_UPSTREAM);
    free(key);
    ctx->upstream_names = 1;
    return error;
}

static int apply_cond(policy_ctx *ctx, const ingest_upstream_cond *uc)
{
    size_t from, to;
    int found_from, found_to;

    if (find_node(&from, &found_from, ctx, uc->from, uc->arch) < 0 ||
        find_node(&to, &found_to, ctx, uc->to, uc->arch) < 0)
        return CINCY_ERROR;
    if (!found_from || !found_to) {
        cincy_log(CINCY_LOG_DEBUG, "policy",
                  "upstream conditional edge names no node\t"
                  "from=%s to=%s arch=%s",
                  uc->from, uc->to, uc->arch);
        return CINCY_OK;
    }
    for (size_t r = 0; r < uc->nrisks; r++) {
        if (graph_builder_add_risk(ctx->b, from, to, &uc->risks[r]) < 0)
            return CINCY_ERROR;
        ctx->risk_refs++;
        if (!ctx->relay && uc->risks[r].name && note_name(ctx, from, to, uc->risks[r].name) < 0)
            return CINCY_ERROR;
    }
    return CINCY_OK;
}

int policy_apply_upstream_risks(policy_ctx *ctx, cincy_error *err)
{
    for (size_t c = 0; c < ctx->upstream->nconds; c++) {
        if (apply_cond(ctx, &ctx->upstream->conds[c]) < 0)
            return oom(err);
    }
    return CINCY_OK;
}

int policy_build_upstream(graph_snapshot **out, const ingest_upstream_graph *up,
                          const ingest_graph_data *gd, policy_stats *stats, cincy_error *err)
{
    ingest_releases view = {0};
    policy_ctx ctx;
    int error;

    if (gd && (error = make_view(&view, up, err)) < 0)
        goto cleanup;
    memset(&ctx, 0, sizeof(ctx));
    ctx.releases = gd ? &view : &up->releases;
    ctx.gd = gd;
    ctx.upstream = up;
    ctx.relay = !gd;
    error = policy_build_run(out, &ctx, stats, err);
cleanup:
    view_free(&view);
    return error;
}
