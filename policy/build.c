/* policy/build.c - policy_build: release records and graph-data to one graph.
 *
 * The pipeline is the reference graph-builder's (spec §2.12), one pass each:
 *   releases -> nodes "x.y.z+arch" (§2.10, §3.5) and previous/next edges (§3.6)
 *   -> raw/metadata.json (§2.7) -> pure blocks (§2.5) -> risks (§2.6)
 *   -> channels (§2.3, §2.4) -> edge labels (§2.8) -> served-metadata checks
 *   (§4.2) -> freeze.
 * This file does the release part and drives the rest; graph_data.c and
 * labels.c hold the other passes, and upstream.c the extra pass that puts an
 * upstream service's conditional pairs on before the labels pass. Any
 * failure discards the whole result, as the reference does: serving a
 * half-applied graph-data would be worse than keeping the previous graph.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy_internal.h"

#define NO_NODE SIZE_MAX

static void ctx_free(policy_ctx *ctx)
{
    if (ctx->node_build) {
        for (size_t i = 0; i < ctx->nnodes_cap; i++)
            free(ctx->node_build[i]);
    }
    free(ctx->node_build);
    free(ctx->node_release);
    free(ctx->node_bucket);
    for (size_t i = 0; i < ctx->nbuckets; i++)
        free(ctx->buckets[i].nodes);
    free(ctx->buckets);
    policy_strmap_free(&ctx->bases);
    free(ctx->risks);
    free(ctx->risk_shared);
    free(ctx->node_pure);
    free(ctx->removed);
    policy_strmap_free(&ctx->risk_pairs);
    policy_regex_cache_free(&ctx->regexes);
    graph_builder_free(ctx->b);
}

/* Makes the per-node arrays hold node index n. */
static int ctx_reserve(policy_ctx *ctx, size_t n)
{
    size_t cap = ctx->nnodes_cap ? ctx->nnodes_cap : 64;
    size_t *rel, *bucket;
    char **build;

    if (n < ctx->nnodes_cap)
        return CINCY_OK;
    while (cap <= n)
        cap *= 2;
    rel = realloc(ctx->node_release, cap * sizeof(*rel));
    if (rel)
        ctx->node_release = rel;
    bucket = realloc(ctx->node_bucket, cap * sizeof(*bucket));
    if (bucket)
        ctx->node_bucket = bucket;
    build = realloc(ctx->node_build, cap * sizeof(*build));
    if (build)
        ctx->node_build = build;
    if (!rel || !bucket || !build)
        return CINCY_ERROR;
    memset(build + ctx->nnodes_cap, 0, (cap - ctx->nnodes_cap) * sizeof(*build));
    ctx->nnodes_cap = cap;
    return CINCY_OK;
}

static const char *release_meta(const ingest_release *r, const char *key)
{
    for (size_t i = 0; i < r->nmeta; i++) {
        if (strcmp(r->meta_keys[i], key) == 0)
            return r->meta_values[i];
    }
    return NULL;
}

static const char *source_of(const ingest_release *r)
{
    return r->source ? r->source : "release";
}

/* Parses text as a version and replaces its build by arch: the reference
 * names every node "<version>+<arch>" so that arches never share a node. */
static int version_with_arch(graph_version *out, const char *text, const char *arch,
                             cincy_error *err)
{
    int error;

    if ((error = graph_version_parse(out, text, err)) < 0)
        return error;
    free(out->build);
    out->build = NULL;
    if (arch && !(out->build = strdup(arch))) {
        graph_version_clear(out);
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    return CINCY_OK;
}

static int set_node_metadata(graph_builder *b, size_t node, const ingest_release *r)
{
    for (size_t i = 0; i < r->nmeta; i++) {
        if (graph_builder_meta_set(b, node, r->meta_keys[i], r->meta_values[i]) < 0)
            return CINCY_ERROR;
    }
    if (r->manifestref && graph_builder_meta_set(b, node, POLICY_KEY_MANIFESTREF, r->manifestref) < 0)
        return CINCY_ERROR;
    if (r->arch && graph_builder_meta_set(b, node, POLICY_KEY_ARCH, r->arch) < 0)
        return CINCY_ERROR;
    return CINCY_OK;
}

/* Rewords the builder's two-payload error so it names both release sources. */
static int duplicate_error(policy_ctx *ctx, const ingest_release *r, const char *version,
                           cincy_error *err)
{
    size_t node;
    const ingest_release *first;

    if (graph_builder_find(ctx->b, version, &node) < 0)
        return CINCY_EINVALID; /* err already says what the builder saw */
    first = &ctx->releases->items[ctx->node_release[node]];
    return cincy_error_set(err, CINCY_EINVALID, source_of(r), 0,
                           "version %s has two payloads: %s (from %s) and %s", version,
                           first->payload ? first->payload : "(none)", source_of(first),
                           r->payload ? r->payload : "(none)");
}

/* Adds the node for release i, or finds the one an identical release made.
 * *out is NO_NODE for the shard of a multi-arch release (§3.3). */
static int add_release_node(size_t *out, policy_ctx *ctx, size_t i, cincy_error *err)
{
    const ingest_release *r = &ctx->releases->items[i];
    const char *multi = release_meta(r, POLICY_KEY_RELEASE_ARCH);
    graph_version v = {0};
    char *version = NULL;
    size_t before = graph_builder_node_count(ctx->b), node;
    int error;

    *out = NO_NODE;
    if (multi && strcmp(multi, "multi") == 0 && (!r->arch || strcmp(r->arch, "multi") != 0))
        return CINCY_OK; /* a per-arch image of a multi release, not a release itself */
    if (!r->version || !r->payload)
        return cincy_error_set(err, CINCY_EINVALID, source_of(r), 0,
                               "release record has no %s", r->version ? "payload" : "version");
    if ((error = version_with_arch(&v, r->version, r->arch, err)) < 0) {
        if (error == CINCY_EINVALID)
            cincy_error_set(err, error, source_of(r), 0, "release version '%.100s' is not semver",
                            r->version);
        goto cleanup;
    }
    if (!(version = graph_version_format(&v))) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    if ((error = ctx_reserve(ctx, before)) < 0) {
        cincy_error_set(err, error, NULL, 0, "out of memory");
        goto cleanup;
    }
    if ((error = graph_builder_add_node(ctx->b, version, r->payload, &node, err)) < 0) {
        if (error == CINCY_EINVALID)
            error = duplicate_error(ctx, r, version, err);
        goto cleanup;
    }
    if (node == before) { /* new node; a repeat keeps the first record's metadata */
        ctx->node_release[node] = i;
        if ((r->arch && !(ctx->node_build[node] = strdup(r->arch))) ||
            set_node_metadata(ctx->b, node, r) < 0 || policy_index_node(ctx, node, &v) < 0) {
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
            goto cleanup;
        }
    }
    *out = node;
cleanup:
    graph_version_clear(&v);
    free(version);
    return error;
}

/* Finds the node named entry with its build replaced by arch. Real data has
 * ~600,000 previous entries, nearly all plain canonical versions, so the
 * text "<entry>+<arch>" is tried first; only a miss pays for a parse, which
 * tells a missing release from a malformed entry and canonicalises it. */
static int find_entry(size_t *other, int *found, policy_ctx *ctx, size_t node,
                      const ingest_release *r, const char *entry, int is_previous,
                      cincy_error *err)
{
    size_t len = strlen(entry), alen = r->arch ? strlen(r->arch) : 0;
    graph_version v = {0};
    char buf[128], *text;
    int error;

    if (!strchr(entry, '+') && len + 1 + alen < sizeof(buf)) {
        memcpy(buf, entry, len);
        buf[len] = '\0';
        if (r->arch) {
            buf[len] = '+';
            memcpy(buf + len + 1, r->arch, alen + 1);
        }
        if ((*found = graph_builder_find(ctx->b, buf, other) == CINCY_OK))
            return CINCY_OK;
    }
    if ((error = version_with_arch(&v, entry, r->arch, err)) < 0) {
        if (error == CINCY_EINVALID)
            cincy_error_set(err, error, source_of(r), 0, "%s entry '%.100s' is not semver",
                            is_previous ? "previous" : "next", entry);
        return error;
    }
    text = graph_version_format(&v);
    graph_version_clear(&v);
    if (!text)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    if (!(*found = graph_builder_find(ctx->b, text, other) == CINCY_OK)) {
        ctx->skipped_edges++;
        cincy_log(CINCY_LOG_DEBUG, "policy", "edge to unknown release skipped\tfrom=%s to=%s",
                  is_previous ? text : graph_builder_node_version(ctx->b, node),
                  is_previous ? graph_builder_node_version(ctx->b, node) : text);
    }
    free(text);
    return CINCY_OK;
}

/* Edges from a release's previous (P -> node) or next (node -> X) list, each
 * entry taking the node's arch. Entries naming no node are skipped: the
 * reference would add a placeholder that no client ever sees (§1.9). */
static int add_release_edges(policy_ctx *ctx, size_t node, const ingest_release *r,
                             char *const *list, size_t n, int is_previous, cincy_error *err)
{
    for (size_t k = 0; k < n; k++) {
        size_t other;
        int found, error;

        if ((error = find_entry(&other, &found, ctx, node, r, list[k], is_previous, err)) < 0)
            return error;
        if (found && graph_builder_add_edge(ctx->b, is_previous ? other : node,
                                           is_previous ? node : other) < 0)
            return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    return CINCY_OK;
}

/* Steps 1 and 2 of §2.12: every node first, so that edges may name releases
 * listed later. */
static int apply_releases(policy_ctx *ctx, cincy_error *err)
{
    size_t count = ctx->releases ? ctx->releases->count : 0;
    size_t *nodes = NULL;
    int error = CINCY_OK;

    if (count == 0)
        return CINCY_OK;
    if (!(nodes = malloc(count * sizeof(*nodes))))
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    for (size_t i = 0; i < count; i++) {
        if ((error = add_release_node(&nodes[i], ctx, i, err)) < 0)
            goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        const ingest_release *r = &ctx->releases->items[i];
        if (nodes[i] == NO_NODE)
            continue;
        if ((error = add_release_edges(ctx, nodes[i], r, r->previous, r->nprevious, 1, err)) < 0 ||
            (error = add_release_edges(ctx, nodes[i], r, r->next, r->nnext, 0, err)) < 0)
            goto cleanup;
    }
cleanup:
    free(nodes);
    return error;
}

/* ---------------------------------------------------------------------------
 * Served metadata (§4.2). The CVO rejects the whole graph when the current
 * node or a target carries a url that does not parse or an architecture key
 * other than "multi", so one odd release record would stop every cluster on
 * that channel from seeing updates. Such values are dropped, with a warning,
 * after every pass that may have written them (release and raw metadata). */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* An absolute URL, "scheme://host[:port][/...]": no whitespace or control
 * characters, well-formed %XX escapes, a host of RFC 3986 characters and a
 * numeric port. Stricter than Go's url.Parse, which the CVO uses, so a value
 * kept here always passes there; every errata link is of this form. */
static int url_valid(const char *u)
{
    const char *p = u, *host, *end, *colon = NULL;

    if (!is_alpha(*p))
        return 0;
    while (is_alpha(*p) || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return 0;
    for (const char *q = u; *q; q++) {
        if ((unsigned char)*q <= ' ' || *q == 0x7f ||
            (*q == '%' && !(is_hex(q[1]) && is_hex(q[2]))))
            return 0;
    }
    host = p + 3;
    end = host + strcspn(host, "/?#");
    for (const char *q = host; q < end; q++) {
        if (*q == '@')
            host = q + 1; /* userinfo */
    }
    for (const char *q = host; q < end; q++) {
        if (*q == ':')
            colon = q;
        else if (!(is_alpha(*q) || (*q >= '0' && *q <= '9') || strchr("-._~!$&'()*+,;=", *q)))
            return 0;
    }
    if ((colon ? colon : end) == host)
        return 0;
    for (const char *q = colon ? colon + 1 : end; q < end; q++) {
        if (*q < '0' || *q > '9')
            return 0;
    }
    return 1;
}

static int check_served_metadata(policy_ctx *ctx, cincy_error *err)
{
    size_t nnodes = graph_builder_node_count(ctx->b);

    (void)err; /* removing a key cannot fail */
    for (size_t n = 0; n < nnodes; n++) {
        const char *arch = graph_builder_meta_get(ctx->b, n, POLICY_KEY_RELEASE_ARCH);
        const char *url = graph_builder_meta_get(ctx->b, n, "url");

        if (arch && strcmp(arch, "multi") != 0) {
            cincy_log(CINCY_LOG_WARN, "policy",
                      "dropping %s '%.100s': the CVO accepts only 'multi'\tnode=%s",
                      POLICY_KEY_RELEASE_ARCH, arch, graph_builder_node_version(ctx->b, n));
            graph_builder_meta_remove(ctx->b, n, POLICY_KEY_RELEASE_ARCH);
        }
        if (url && !url_valid(url)) {
            cincy_log(CINCY_LOG_WARN, "policy",
                      "dropping url '%.100s': not an absolute URL, which the CVO may reject"
                      "\tnode=%s",
                      url, graph_builder_node_version(ctx->b, n));
            graph_builder_meta_remove(ctx->b, n, "url");
        }
    }
    return CINCY_OK;
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Runs one pass, logging its duration at debug level: the full data set
 * takes seconds, and knowing which pass grew is the first question. */
static int run_pass(policy_ctx *ctx, const char *name, int (*pass)(policy_ctx *, cincy_error *),
                    cincy_error *err)
{
    struct timespec t0;
    int error;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    error = pass(ctx, err);
    cincy_log(CINCY_LOG_DEBUG, "policy", "pass done\tpass=%s ms=%.1f", name, elapsed_ms(&t0));
    return error;
}

int policy_build_run(graph_snapshot **out, policy_ctx *ctx, policy_stats *stats, cincy_error *err)
{
    const ingest_graph_data *gd = ctx->gd;
    graph_snapshot *snap = NULL;
    struct timespec t0, t1;
    char **versions = NULL;
    int error, oom = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((error = graph_builder_new(&ctx->b)) < 0) {
        cincy_error_set(err, error, NULL, 0, "out of memory");
        goto cleanup;
    }
    if ((error = run_pass(ctx, "releases", apply_releases, err)) < 0)
        goto cleanup;
    ctx->regexes.nnodes = graph_builder_node_count(ctx->b); /* fixed from here on */
    if (gd && ((error = run_pass(ctx, "raw-metadata", policy_apply_raw_metadata, err)) < 0 ||
               (error = run_pass(ctx, "pure-blocks", policy_apply_pure_blocks, err)) < 0 ||
               (error = run_pass(ctx, "risks", policy_apply_risks, err)) < 0 ||
               (error = run_pass(ctx, "channels", policy_apply_channels, err)) < 0))
        goto cleanup;
    /* Upstream risks go on before the labels pass attaches local ones, so
     * they come first in each pair's list and a local repeat of a name is
     * dropped there (policy/upstream.c). */
    if (ctx->upstream &&
        (error = run_pass(ctx, "upstream-risks", policy_apply_upstream_risks, err)) < 0)
        goto cleanup;
    if ((!ctx->relay && (error = run_pass(ctx, "labels", policy_apply_labels, err)) < 0) ||
        (error = run_pass(ctx, "served-metadata", check_served_metadata, err)) < 0)
        goto cleanup;
    if (!(versions = policy_removed_versions(ctx, &oom)) && oom) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    error = graph_builder_freeze(&snap, ctx->b, err);
    cincy_log(CINCY_LOG_DEBUG, "policy", "pass done\tpass=freeze ms=%.1f", elapsed_ms(&t1));
    ctx->b = NULL; /* freed by freeze, success or not */
    /* Attach frees versions in any case (snap NULL: nothing to attach to). */
    if (policy_removed_attach(error == CINCY_OK ? snap : NULL, ctx, versions) < 0 &&
        error == CINCY_OK) {
        graph_snapshot_unref(snap);
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    versions = NULL; /* attach frees them */
    if (error < 0)
        goto cleanup;

    if (stats) {
        memset(stats, 0, sizeof(*stats));
        stats->releases = ctx->releases ? ctx->releases->count : 0;
        stats->nodes = graph_snapshot_node_count(snap);
        stats->edges = graph_snapshot_edge_count(snap);
        stats->cond_edges = graph_snapshot_cond_edge_count(snap);
        stats->channels = gd ? gd->nchannels : 0;
        stats->blocks = gd ? gd->nblocks : 0;
    }
    cincy_log(CINCY_LOG_INFO, "policy",
              "built graph\tnodes=%zu edges=%zu cond_edges=%zu cond_groups=%zu risk_refs=%zu "
              "skipped_edges=%zu ms=%.1f",
              graph_snapshot_node_count(snap), graph_snapshot_edge_count(snap),
              graph_snapshot_cond_edge_count(snap), graph_snapshot_cond_count(snap), ctx->risk_refs,
              ctx->skipped_edges, elapsed_ms(&t0));
    *out = snap;
cleanup:
    if (versions) { /* freeze was not reached */
        for (size_t i = 0; i < 2 * ctx->nremoved; i++)
            free(versions[i]);
        free(versions);
    }
    ctx_free(ctx);
    return error;
}

int policy_build(graph_snapshot **out, const ingest_releases *releases,
                 const ingest_graph_data *gd, policy_stats *stats, cincy_error *err)
{
    policy_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.releases = releases;
    ctx.gd = gd;
    return policy_build_run(out, &ctx, stats, err);
}
