/* policy/labels.c - edge labels in node metadata, and risks turned into pairs.
 *
 * The reference's edge-add-remove plugin (spec §2.8) reads labels such as
 * io.openshift.upgrades.graph.previous.add from node metadata, in passes:
 *   previous.add, next.add, (risks resolved, §2.6 step 3),
 *   previous.remove, previous.remove_regex, next.remove
 * so removes beat adds. Risks are attached to the edges that exist before any
 * removal; graph_builder_freeze keeps every pair carrying risks as
 * conditional even when a later pass removed its plain edge, which is how an
 * edge both blocked and risky ends up conditional (quirk Q8).
 * Labels stay in the metadata: the reference serves them too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

typedef enum { DIR_PREVIOUS, DIR_NEXT } label_dir;

static int oom(cincy_error *err)
{
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
}

/* Trims ASCII whitespace in place; returns the start. */
static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Finds the node a label item names, relative to node. When node has an arch
 * the item must be a version and takes that arch as its build; otherwise it is
 * looked up verbatim. *found is 0 when no node has that version (ignored, as
 * the reference only warns). A malformed item fails the whole build (Q12). */
static int resolve_item(size_t *other, int *found, policy_ctx *ctx, size_t node, const char *key,
                        const char *item, cincy_error *err)
{
    const char *arch = graph_builder_meta_get(ctx->b, node, POLICY_KEY_ARCH);
    graph_version v;
    char *text;
    int error;

    *found = 0;
    if (!arch) {
        *found = graph_builder_find(ctx->b, item, other) == CINCY_OK;
        return CINCY_OK;
    }
    if ((error = graph_version_parse(&v, item, NULL)) == CINCY_ERROR)
        return oom(err); /* not "not a valid version" */
    if (error < 0)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "node %s: label %s: item '%.100s' is not a valid version",
                               graph_builder_node_version(ctx->b, node), key, item);
    free(v.build);
    v.build = (char *)arch; /* borrowed for formatting only */
    text = graph_version_format(&v);
    v.build = NULL;
    graph_version_clear(&v);
    if (!text)
        return oom(err);
    *found = graph_builder_find(ctx->b, text, other) == CINCY_OK;
    free(text);
    return CINCY_OK;
}

/* Adds (add) or removes the edge between node and each CSV item of value. */
static int apply_csv(policy_ctx *ctx, size_t node, const char *key, const char *value,
                     label_dir dir, int add, cincy_error *err)
{
    char *copy = strdup(value), *p, *comma;
    int error = CINCY_OK;

    if (!copy)
        return oom(err);
    for (p = copy; p; p = comma ? comma + 1 : NULL) {
        size_t other, from, to;
        int found;
        if ((comma = strchr(p, ',')) != NULL)
            *comma = '\0';
        if ((error = resolve_item(&other, &found, ctx, node, key, trim(p), err)) < 0)
            break;
        if (!found)
            continue;
        from = dir == DIR_PREVIOUS ? other : node;
        to = dir == DIR_PREVIOUS ? node : other;
        if (!add) {
            graph_builder_remove_edge(ctx->b, from, to);
        } else if (graph_builder_add_edge(ctx->b, from, to) < 0) {
            error = oom(err);
            break;
        }
    }
    free(copy);
    return error;
}

/* Removes node's incoming edges whose source r matches (r NULL: all). */
static int remove_incoming(policy_ctx *ctx, size_t node, policy_regex *r, cincy_error *err)
{
    size_t n;
    const size_t *in = graph_builder_incoming(ctx->b, node, &n);
    size_t *srcs;

    if (n == 0)
        return CINCY_OK;
    /* The borrowed array changes under removal: walk a copy. */
    if (!(srcs = malloc(n * sizeof(*srcs))))
        return oom(err);
    memcpy(srcs, in, n * sizeof(*srcs));
    for (size_t i = n; i-- > 0;) { /* from the end: adj removal then moves nothing */
        if (!r || policy_regex_match(r, ctx->b, srcs[i]))
            graph_builder_remove_edge(ctx->b, srcs[i], node);
    }
    free(srcs);
    return CINCY_OK;
}

/* One CSV pass over every node holding key. */
static int pass_csv(policy_ctx *ctx, const char *key, label_dir dir, int add, cincy_error *err)
{
    size_t nnodes = graph_builder_node_count(ctx->b);
    int error;

    for (size_t n = 0; n < nnodes; n++) {
        const char *value = graph_builder_meta_get(ctx->b, n, key);
        if (!value)
            continue;
        if (dir == DIR_PREVIOUS && !add) {
            char *copy = strdup(value);
            int all;
            if (!copy)
                return oom(err);
            all = strcmp(trim(copy), "*") == 0; /* previous.remove only; next.remove has no '*' */
            free(copy);
            if (all) {
                if ((error = remove_incoming(ctx, n, NULL, err)) < 0)
                    return error;
                continue;
            }
        }
        if ((error = apply_csv(ctx, n, key, value, dir, add, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* Records the incoming edges of node that its pure block's regex matches:
 * the whole remove_regex (the pure block's, then risks' joined with '|')
 * removes them next. Edges a risk keeps as conditional pairs are told apart
 * after freeze (policy_removed_attach). */
static int note_pure(policy_ctx *ctx, size_t node, cincy_error *err)
{
    const ingest_block *blk = &ctx->gd->blocks[ctx->node_pure[node] - 1];
    policy_regex *r = NULL;
    size_t n;
    const size_t *in;
    int error;

    if ((error = policy_regex_get(&r, &ctx->regexes, blk->from ? blk->from : "", err)) < 0)
        return error == CINCY_EINVALID ? CINCY_OK : error; /* the pass below names it */
    in = graph_builder_incoming(ctx->b, node, &n);
    for (size_t i = 0; i < n; i++) { /* noting changes no edge: in stays valid */
        if (policy_regex_match(r, ctx->b, in[i]) && policy_removed_note(ctx, in[i], node) < 0)
            return oom(err);
    }
    return CINCY_OK;
}

/* previous.remove_regex: the value is one regex (risks may have joined
 * several with '|', which is still one regex); exactly ".*" removes all. */
static int pass_remove_regex(policy_ctx *ctx, cincy_error *err)
{
    size_t nnodes = graph_builder_node_count(ctx->b);
    int error;

    for (size_t n = 0; n < nnodes; n++) {
        const char *value = graph_builder_meta_get(ctx->b, n, POLICY_KEY_PREV_REMOVE_REGEX);
        policy_regex *r = NULL;
        if (!value)
            continue;
        if ((error = policy_regex_get(&r, &ctx->regexes, value, err)) < 0) {
            if (error == CINCY_EINVALID) {
                char why[sizeof(err->msg)];
                snprintf(why, sizeof(why), "%s", err ? err->msg : "");
                cincy_error_set(err, error, NULL, 0, "node %s: label %s: %s",
                                graph_builder_node_version(ctx->b, n),
                                POLICY_KEY_PREV_REMOVE_REGEX, why);
            }
            return error;
        }
        if ((ctx->node_pure && ctx->node_pure[n] && (error = note_pure(ctx, n, err)) < 0) ||
            (error = remove_incoming(ctx, n, r->match_all ? NULL : r, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* 1 when the pair already lists a risk named like risks[ri] (first file
 * wins), recording it otherwise. Only risks sharing a name and `to` with
 * another file are tracked (policy_apply_risks marks them), and every risk
 * when upstream risks were put on pairs first: a local copy of upstream's
 * graph-data repeats each of them, and the upstream one is kept quietly. */
static int risk_already_listed(int *out, policy_ctx *ctx, size_t ri, size_t from, size_t to)
{
    const ingest_block *blk = ctx->risks[ri];
    char *key;
    size_t first;

    *out = 0;
    if (!blk->risk.name ||
        (!ctx->upstream_names && (!ctx->risk_shared || !ctx->risk_shared[ri])))
        return CINCY_OK;
    if (!(key = malloc(strlen(blk->risk.name) + 48)))
        return CINCY_ERROR;
    sprintf(key, "%zu>%zu>%s", from, to, blk->risk.name);
    if (policy_strmap_get(&ctx->risk_pairs, key, &first)) {
        *out = 1;
        if (first == POLICY_RISK_FROM_UPSTREAM)
            cincy_log(CINCY_LOG_DEBUG, "policy",
                      "risk %.100s already listed for this update by upstream; ignoring the "
                      "local one\tfile=%s from=%s to=%s",
                      blk->risk.name, blk->file, graph_builder_node_version(ctx->b, from),
                      graph_builder_node_version(ctx->b, to));
        else
            cincy_log(CINCY_LOG_WARN, "policy",
                      "risk %.100s already listed for this update by an earlier file; "
                      "ignoring the repeat\tfile=%s from=%s to=%s",
                      blk->risk.name, blk->file, graph_builder_node_version(ctx->b, from),
                      graph_builder_node_version(ctx->b, to));
    } else if (policy_strmap_put(&ctx->risk_pairs, key, ri) < 0) {
        free(key);
        return CINCY_ERROR;
    }
    free(key);
    return CINCY_OK;
}

/* Attaches risks[ri] to each existing edge into target whose source matches. */
static int risk_to_target(policy_ctx *ctx, size_t ri, policy_regex *r, size_t target,
                          cincy_error *err)
{
    const ingest_block *blk = ctx->risks[ri];
    size_t n;
    const size_t *in = graph_builder_incoming(ctx->b, target, &n);

    for (size_t i = 0; i < n; i++) { /* add_risk leaves edges alone: in stays valid */
        int listed;
        if (!policy_regex_match(r, ctx->b, in[i]))
            continue;
        if (risk_already_listed(&listed, ctx, ri, in[i], target) < 0)
            return oom(err);
        if (listed)
            continue;
        if (graph_builder_add_risk(ctx->b, in[i], target, &blk->risk) < 0)
            return oom(err);
        ctx->risk_refs++;
    }
    return CINCY_OK;
}

/* §2.6 step 3: targets are the nodes named `to`, or whose text before '+'
 * is `to`; i.e. the exact node when `to` has a build, else its bucket. */
static int resolve_risk(policy_ctx *ctx, size_t ri, cincy_error *err)
{
    const ingest_block *blk = ctx->risks[ri];
    policy_regex *r = NULL;
    graph_version to;
    int error;

    if ((error = policy_regex_get(&r, &ctx->regexes, blk->from ? blk->from : "", err)) < 0) {
        if (error == CINCY_EINVALID)
            cincy_error_set(err, error, blk->file, 0, "field 'from': invalid regex '%.200s'",
                            blk->from ? blk->from : "");
        return error;
    }
    if (graph_version_parse(&to, blk->to ? blk->to : "", NULL) < 0)
        return cincy_error_set(err, CINCY_EINVALID, blk->file, 0,
                               "field 'to': '%.100s' is not a valid version",
                               blk->to ? blk->to : "");
    if (to.build) {
        char *text = graph_version_format(&to);
        size_t node;
        if (!text)
            error = oom(err);
        else if (graph_builder_find(ctx->b, text, &node) == CINCY_OK)
            error = risk_to_target(ctx, ri, r, node, err);
        free(text);
    } else {
        const policy_bucket *bk = NULL;
        if (policy_bucket_of(&bk, ctx, &to) < 0)
            error = oom(err);
        for (size_t i = 0; error == CINCY_OK && bk && i < bk->n; i++)
            error = risk_to_target(ctx, ri, r, bk->nodes[i], err);
    }
    graph_version_clear(&to);
    return error;
}

int policy_apply_labels(policy_ctx *ctx, cincy_error *err)
{
    int error;

    if ((error = pass_csv(ctx, POLICY_KEY_PREV_ADD, DIR_PREVIOUS, 1, err)) < 0 ||
        (error = pass_csv(ctx, POLICY_KEY_NEXT_ADD, DIR_NEXT, 1, err)) < 0)
        return error;
    for (size_t i = 0; i < ctx->nrisks; i++) {
        if ((error = resolve_risk(ctx, i, err)) < 0)
            return error;
    }
    if ((error = pass_csv(ctx, POLICY_KEY_PREV_REMOVE, DIR_PREVIOUS, 0, err)) < 0 ||
        (error = pass_remove_regex(ctx, err)) < 0 ||
        (error = pass_csv(ctx, POLICY_KEY_NEXT_REMOVE, DIR_NEXT, 0, err)) < 0)
        return error;
    return CINCY_OK;
}
