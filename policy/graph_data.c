/* policy/graph_data.c - graph-data passes: raw metadata, blocks, risks, channels.
 *
 * These passes only write node metadata (and remember risks); edges change
 * later, in labels.c, exactly as the reference splits the work between its
 * secondary-metadata parser and its edge-add-remove plugin. Keeping that split
 * keeps the reference's observable quirks: a pure block overwrites an earlier
 * one on the same target (Q7), and risks append to the same key with '|'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

static int oom(cincy_error *err)
{
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
}

/* Parses a version from graph-data. ingest has validated it already, so a
 * failure means a caller built the records by hand: say which file. */
static int parse_data_version(graph_version *out, const char *text, const char *file,
                              const char *field, cincy_error *err)
{
    int error = graph_version_parse(out, text ? text : "", err);

    if (error == CINCY_EINVALID)
        cincy_error_set(err, error, file, 0, "field '%s': '%.100s' is not a valid version", field,
                        text ? text : "");
    return error;
}

/* raw/metadata.json (§2.7): every arch of the version gets each key, appended
 * with ',' when present (the snapshot's previous.add chains rely on it). */
int policy_apply_raw_metadata(policy_ctx *ctx, cincy_error *err)
{
    for (size_t i = 0; i < ctx->gd->nraw; i++) {
        const ingest_raw_meta *rm = &ctx->gd->raw[i];
        const policy_bucket *bk;
        graph_version v;
        int error = graph_version_parse(&v, rm->version ? rm->version : "", NULL);

        if (error == CINCY_ERROR) /* out of memory: skipping would drop the key silently */
            return oom(err);
        if (error < 0) {
            cincy_log(CINCY_LOG_WARN, "policy", "raw metadata key is not a version\tversion=%s",
                      rm->version ? rm->version : "");
            continue; /* the reference ignores such keys */
        }
        if (policy_bucket_of(&bk, ctx, &v) < 0) {
            graph_version_clear(&v);
            return oom(err);
        }
        graph_version_clear(&v);
        for (size_t n = 0; bk && n < bk->n; n++) {
            for (size_t k = 0; k < rm->n; k++) {
                if (graph_builder_meta_append(ctx->b, bk->nodes[n], rm->keys[k], rm->values[k],
                                              ",") < 0)
                    return oom(err);
            }
        }
    }
    return CINCY_OK;
}

/* Sets remove_regex of block bi on node, remembering bi so the labels pass
 * can say which file removed an edge (policy/removed.c). */
static int block_node(policy_ctx *ctx, size_t node, size_t bi)
{
    ctx->node_pure[node] = bi + 1;
    return graph_builder_meta_set(ctx->b, node, POLICY_KEY_PREV_REMOVE_REGEX,
                                  ctx->gd->blocks[bi].from);
}

/* Sets remove_regex on the node named exactly text, if there is one. */
static int block_exact(policy_ctx *ctx, const graph_version *v, size_t bi)
{
    char *text = graph_version_format(v);
    size_t node;
    int error = CINCY_OK;

    if (!text)
        return CINCY_ERROR;
    if (graph_builder_find(ctx->b, text, &node) == CINCY_OK)
        error = block_node(ctx, node, bi);
    free(text);
    return error;
}

/* One pure block (§2.5). Target set: `to` with a build names one node; the
 * legacy "x.y.z-s390x" names itself and its +s390x node; otherwise `to` with
 * every build in the graph, which is exactly the nodes in its base bucket. */
static int apply_pure_block(policy_ctx *ctx, size_t bi, cincy_error *err)
{
    const ingest_block *blk = &ctx->gd->blocks[bi];
    graph_version to;
    int error;

    if ((error = parse_data_version(&to, blk->to, blk->file, "to", err)) < 0)
        return error;
    if (to.build) {
        error = block_exact(ctx, &to, bi);
    } else if (to.pre && strcmp(to.pre, "s390x") == 0) {
        char s390x[] = "s390x";
        if ((error = block_exact(ctx, &to, bi)) == CINCY_OK) {
            to.build = s390x; /* borrowed for formatting only */
            error = block_exact(ctx, &to, bi);
            to.build = NULL;
        }
    } else {
        const policy_bucket *bk;
        if ((error = policy_bucket_of(&bk, ctx, &to)) == CINCY_OK) {
            for (size_t n = 0; bk && n < bk->n && error == CINCY_OK; n++)
                error = block_node(ctx, bk->nodes[n], bi);
        }
    }
    graph_version_clear(&to);
    return error < 0 ? oom(err) : CINCY_OK;
}

int policy_apply_pure_blocks(policy_ctx *ctx, cincy_error *err)
{
    size_t nnodes = graph_builder_node_count(ctx->b);
    int error;

    if (!(ctx->node_pure = calloc(nnodes ? nnodes : 1, sizeof(*ctx->node_pure))))
        return oom(err);
    for (size_t i = 0; i < ctx->gd->nblocks; i++) {
        if (!ctx->gd->blocks[i].is_risk && (error = apply_pure_block(ctx, i, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* Marks the risks that share their name and `to` (build ignored) with
 * another risk file: only those can put one name twice on the same pair,
 * which the cluster API forbids (risk names are a map key). labels.c then
 * tracks their pairs; the real data has no such risks, so this costs one
 * lookup per risk and nothing per pair. */
static int mark_shared_risks(policy_ctx *ctx)
{
    policy_strmap first = {0};
    int error = CINCY_OK;

    if (ctx->nrisks && !(ctx->risk_shared = calloc(ctx->nrisks, 1)))
        return CINCY_ERROR;
    for (size_t i = 0; i < ctx->nrisks && error == CINCY_OK; i++) {
        const ingest_block *blk = ctx->risks[i];
        graph_version to;
        char *base = NULL, *key = NULL;
        size_t other;

        if (!blk->risk.name || graph_version_parse(&to, blk->to, NULL) < 0)
            continue; /* no name to repeat; `to` was checked by the caller */
        base = policy_version_base(&to);
        graph_version_clear(&to);
        if (!base || !(key = malloc(strlen(base) + strlen(blk->risk.name) + 2))) {
            error = CINCY_ERROR;
        } else {
            sprintf(key, "%s\n%s", base, blk->risk.name);
            if (policy_strmap_get(&first, key, &other))
                ctx->risk_shared[i] = ctx->risk_shared[other] = 1;
            else
                error = policy_strmap_put(&first, key, i);
        }
        free(base);
        free(key);
    }
    policy_strmap_free(&first);
    return error;
}

/* Risks (§2.6 steps 1-2): remember {from, to, risk} in file order, and mark
 * every arch of `to` (its build ignored, no s390x special case) so the plain
 * edge is removed once labels run; the pair then survives as conditional. */
int policy_apply_risks(policy_ctx *ctx, cincy_error *err)
{
    const ingest_graph_data *gd = ctx->gd;
    int error;

    if (gd->nblocks && !(ctx->risks = malloc(gd->nblocks * sizeof(*ctx->risks))))
        return oom(err);
    for (size_t i = 0; i < gd->nblocks; i++) {
        const ingest_block *blk = &gd->blocks[i];
        const policy_bucket *bk;
        graph_version to;

        if (!blk->is_risk)
            continue;
        if ((error = parse_data_version(&to, blk->to, blk->file, "to", err)) < 0)
            return error;
        error = policy_bucket_of(&bk, ctx, &to);
        graph_version_clear(&to);
        if (error < 0)
            return oom(err);
        for (size_t n = 0; bk && n < bk->n; n++) {
            if (graph_builder_meta_append(ctx->b, bk->nodes[n], POLICY_KEY_PREV_REMOVE_REGEX,
                                          blk->from, "|") < 0)
                return oom(err);
        }
        ctx->risks[ctx->nrisks++] = blk;
    }
    return mark_shared_risks(ctx) < 0 ? oom(err) : CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Channels (§2.3, §2.4). */

static const char *channel_suffix(const char *name)
{
    const char *dash = strchr(name, '-');
    return dash ? dash + 1 : name; /* no '-': the reference panics; we sort by the name */
}

static int cmp_channel(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    int c = strcmp(channel_suffix(a), channel_suffix(b));
    return c ? c : strcmp(a, b);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Splits copy in place on ',' into parts, trimming each entry and leaving
 * out empty ones. Returns the number of parts. */
static size_t split_channels(char *copy, char **parts)
{
    size_t k = 0;

    for (char *p = copy; p;) {
        char *comma = strchr(p, ','), *end;
        if (comma)
            *comma = '\0';
        while (is_space(*p))
            p++;
        end = p + strlen(p);
        while (end > p && is_space(end[-1]))
            *--end = '\0';
        if (*p)
            parts[k++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return k;
}

char *policy_sort_channels(const char *value)
{
    size_t len = strlen(value), n = 1, k, pos = 0;
    char *copy = strdup(value), *out = malloc(len + 1), **parts = NULL;

    for (const char *s = value; *s; s++)
        n += *s == ',';
    if (!copy || !out || !(parts = malloc(n * sizeof(*parts))))
        goto fail;
    k = split_channels(copy, parts);
    qsort(parts, k, sizeof(*parts), cmp_channel);
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(parts[i]);
        if (i && strcmp(parts[i], parts[i - 1]) == 0)
            continue; /* equal names sort next to each other */
        if (pos)
            out[pos++] = ',';
        memcpy(out + pos, parts[i], l);
        pos += l;
    }
    out[pos] = '\0';
    free(parts);
    free(copy);
    return out;
fail:
    free(parts);
    free(copy);
    free(out);
    return NULL;
}

/* Membership (§2.3): an entry E covers a node when they are semver-equal
 * ignoring build and E has no build or the node's. A node gets each channel
 * once even if several entries cover it (stamp = last channel appended). */
static int apply_channel(policy_ctx *ctx, size_t ci, size_t *stamp, cincy_error *err)
{
    const ingest_channel *ch = &ctx->gd->channels[ci];
    int error;

    for (size_t e = 0; e < ch->nversions; e++) {
        const policy_bucket *bk;
        graph_version v;

        if ((error = parse_data_version(&v, ch->versions[e], ch->file, "versions", err)) < 0)
            return error;
        if (policy_bucket_of(&bk, ctx, &v) < 0) {
            graph_version_clear(&v);
            return oom(err);
        }
        for (size_t n = 0; bk && n < bk->n; n++) {
            size_t node = bk->nodes[n];
            const char *build = ctx->node_build[node];
            if (stamp[node] == ci + 1 ||
                (v.build && (!build || strcmp(v.build, build) != 0)))
                continue;
            stamp[node] = ci + 1;
            if (graph_builder_meta_append(ctx->b, node, POLICY_KEY_CHANNELS, ch->name, ",") < 0) {
                graph_version_clear(&v);
                return oom(err);
            }
        }
        graph_version_clear(&v);
    }
    return CINCY_OK;
}

int policy_apply_channels(policy_ctx *ctx, cincy_error *err)
{
    size_t nnodes = graph_builder_node_count(ctx->b);
    size_t *stamp = calloc(nnodes ? nnodes : 1, sizeof(*stamp));
    int error = CINCY_OK;

    if (!stamp)
        return oom(err);
    for (size_t c = 0; c < ctx->gd->nchannels; c++) {
        if ((error = apply_channel(ctx, c, stamp, err)) < 0)
            goto cleanup;
    }
    /* Every node holding the key is sorted, including a key that came from
     * release or raw metadata: the reference sorts them all. A value left
     * with no channel goes: the CVO rejects an empty channels value. */
    for (size_t n = 0; n < nnodes; n++) {
        const char *value = graph_builder_meta_get(ctx->b, n, POLICY_KEY_CHANNELS);
        char *sorted;
        if (!value)
            continue;
        if (!(sorted = policy_sort_channels(value))) {
            error = oom(err);
            goto cleanup;
        }
        if (!sorted[0])
            graph_builder_meta_remove(ctx->b, n, POLICY_KEY_CHANNELS);
        else if (graph_builder_meta_set(ctx->b, n, POLICY_KEY_CHANNELS, sorted) < 0)
            error = oom(err);
        free(sorted);
        if (error < 0)
            goto cleanup;
    }
cleanup:
    free(stamp);
    return error;
}
