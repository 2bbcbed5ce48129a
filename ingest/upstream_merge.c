/* ingest/upstream_merge.c - the bodies of every channel/arch pair as one graph.
 *
 * A release served in several channels appears once per response; merging
 * makes it one record per (version, arch), its previous list the union of
 * the edges into it, and each conditional pair one entry. Grouping is by
 * sorting, not by a hash: the inputs are tens of thousands of node refs at
 * most, and a sort also gives the documented order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/upstream_internal.h"

typedef struct node_ref {
    const ingest_release *r;
    size_t pair, node;
} node_ref;

typedef struct edge_ref {
    size_t to, from; /* merged release indices; sorted by to first */
} edge_ref;

typedef struct cond_ref {
    const ingest_upstream_risks *risks; /* the pair's group's list in its body */
    size_t from, to;                    /* merged release indices */
    size_t pair, list;                  /* the body and its list index */
} cond_ref;

typedef struct merge {
    const upstream_body *const *bodies;
    const upstream_pair_id *ids;
    size_t n;
    size_t **maps;  /* per pair: node index -> merged release index */
    size_t **lists; /* per pair: risk list index -> merged list index, or SIZE_MAX */
    ingest_upstream_graph *g;
} merge;

static int cmp_node_ref(const void *a, const void *b)
{
    const node_ref *x = a, *y = b;
    int c = strcmp(x->r->arch, y->r->arch);

    if (!c)
        c = strcmp(x->r->version, y->r->version);
    return c ? c : (x->pair > y->pair) - (x->pair < y->pair);
}

static int cmp_edge_ref(const void *a, const void *b)
{
    const edge_ref *x = a, *y = b;

    if (x->to != y->to)
        return x->to < y->to ? -1 : 1;
    return (x->from > y->from) - (x->from < y->from);
}

static int cmp_cond_ref(const void *a, const void *b)
{
    const cond_ref *x = a, *y = b;

    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    if (x->to != y->to)
        return x->to < y->to ? -1 : 1;
    return (x->pair > y->pair) - (x->pair < y->pair);
}

/* A new array of copies of src[0..n), or NULL with nothing held. */
static char **copy_strv(char *const *src, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof(*out));

    for (size_t i = 0; out && i < n; i++) {
        if (!(out[i] = strdup(src[i]))) {
            ingest_strv_free(out, i);
            return NULL;
        }
    }
    return out;
}

static int dup_opt(char **out, const char *s)
{
    return s && !(*out = strdup(s)) ? CINCY_ERROR : CINCY_OK;
}

/* Deep copy of the parsed node fields (previous and next stay empty). */
static int copy_release(ingest_release *dst, const ingest_release *src)
{
    if (dup_opt(&dst->version, src->version) < 0 || dup_opt(&dst->payload, src->payload) < 0 ||
        dup_opt(&dst->arch, src->arch) < 0 || dup_opt(&dst->manifestref, src->manifestref) < 0 ||
        dup_opt(&dst->source, src->source) < 0)
        return CINCY_ERROR;
    if (!(dst->meta_keys = copy_strv(src->meta_keys, src->nmeta)))
        return CINCY_ERROR;
    if (!(dst->meta_values = copy_strv(src->meta_values, src->nmeta))) {
        ingest_strv_free(dst->meta_keys, src->nmeta);
        dst->meta_keys = NULL;
        return CINCY_ERROR;
    }
    dst->nmeta = src->nmeta; /* set last: clearing a record frees nmeta entries of both */
    return CINCY_OK;
}

/* Appends ",channel" (or "channel") to *list. */
static int append_channel(char **list, const char *channel)
{
    size_t old = *list ? strlen(*list) : 0;
    char *grown = realloc(*list, old + strlen(channel) + 2);

    if (!grown)
        return CINCY_ERROR;
    if (old)
        grown[old++] = ',';
    strcpy(grown + old, channel);
    *list = grown;
    return CINCY_OK;
}

/* ---------------------------------------------------------------------------
 * Nodes */

static int collect_nodes(node_ref **out, size_t *nout, merge *m, cincy_error *err)
{
    size_t total = 0, k = 0;
    node_ref *refs;

    for (size_t p = 0; p < m->n; p++)
        total += m->bodies[p]->nnodes;
    if (!(refs = malloc((total ? total : 1) * sizeof(*refs))))
        return ingest_oom(err);
    for (size_t p = 0; p < m->n; p++) {
        const upstream_body *b = m->bodies[p];
        if (!(m->maps[p] = malloc((b->nnodes ? b->nnodes : 1) * sizeof(size_t)))) {
            free(refs);
            return ingest_oom(err);
        }
        for (size_t i = 0; i < b->nnodes; i++)
            refs[k++] = (node_ref){&b->nodes[i], p, i};
    }
    qsort(refs, total, sizeof(*refs), cmp_node_ref);
    *out = refs;
    *nout = total;
    return CINCY_OK;
}

static int same_release(const node_ref *a, const node_ref *b)
{
    return strcmp(a->r->arch, b->r->arch) == 0 && strcmp(a->r->version, b->r->version) == 0;
}

/* One record per run of equal (arch, version) refs; the first ref's fields
 * win, and a different payload is the one conflict that fails the merge:
 * it would make one version name two images. */
static int merge_nodes(merge *m, cincy_error *err)
{
    ingest_upstream_graph *g = m->g;
    node_ref *refs = NULL;
    size_t nrefs = 0, i = 0;
    int error;

    if ((error = collect_nodes(&refs, &nrefs, m, err)) < 0)
        return error;
    if (nrefs && (!(g->releases.items = calloc(nrefs, sizeof(*g->releases.items))) ||
                  !(g->seen_in = calloc(nrefs, sizeof(*g->seen_in))))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    while (i < nrefs) {
        size_t k = g->releases.count++, first = i;
        if (copy_release(&g->releases.items[k], refs[i].r) < 0) {
            error = ingest_oom(err);
            goto cleanup;
        }
        for (; i < nrefs && same_release(&refs[first], &refs[i]); i++) {
            const ingest_release *r = refs[i].r;
            if (strcmp(r->payload, refs[first].r->payload) != 0) {
                error = cincy_error_set(
                    err, CINCY_EINVALID, NULL, 0,
                    "upstream: version %s arch %s has two payloads: %s (from %s) and %s (from %s)",
                    r->version, r->arch, refs[first].r->payload, m->ids[refs[first].pair].request,
                    r->payload, m->ids[refs[i].pair].request);
                goto cleanup;
            }
            m->maps[refs[i].pair][refs[i].node] = k;
            if (append_channel(&g->seen_in[k], m->ids[refs[i].pair].channel) < 0) {
                error = ingest_oom(err);
                goto cleanup;
            }
        }
    }
cleanup:
    free(refs);
    return error;
}

/* ---------------------------------------------------------------------------
 * Edges: each release's previous list is the set of its sources. */

static int fill_previous(ingest_upstream_graph *g, const edge_ref *e, size_t n)
{
    size_t i = 0;

    while (i < n) {
        ingest_release *r = &g->releases.items[e[i].to];
        size_t j = i, count = 0;
        for (; j < n && e[j].to == e[i].to; j++)
            count += j == i || e[j].from != e[j - 1].from;
        if (!(r->previous = calloc(count, sizeof(*r->previous))))
            return CINCY_ERROR;
        for (size_t k = i; k < j; k++) {
            if (k > i && e[k].from == e[k - 1].from)
                continue;
            if (!(r->previous[r->nprevious] = strdup(g->releases.items[e[k].from].version)))
                return CINCY_ERROR;
            r->nprevious++;
        }
        i = j;
    }
    return CINCY_OK;
}

static int merge_edges(merge *m, cincy_error *err)
{
    size_t total = 0, k = 0;
    edge_ref *refs;
    int error;

    for (size_t p = 0; p < m->n; p++)
        total += m->bodies[p]->nedges;
    if (!(refs = malloc((total ? total : 1) * sizeof(*refs))))
        return ingest_oom(err);
    for (size_t p = 0; p < m->n; p++) {
        const upstream_body *b = m->bodies[p];
        for (size_t i = 0; i < b->nedges; i++)
            refs[k++] = (edge_ref){m->maps[p][b->edges[i].to], m->maps[p][b->edges[i].from]};
    }
    qsort(refs, total, sizeof(*refs), cmp_edge_ref);
    error = fill_previous(m->g, refs, total) < 0 ? ingest_oom(err) : CINCY_OK;
    free(refs);
    return error;
}

/* ---------------------------------------------------------------------------
 * Conditional edges */

static int same_risks(const ingest_upstream_risks *a, const ingest_upstream_risks *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t r = 0; r < a->n; r++) {
        if (!graph_risk_equal(&a->items[r], &b->items[r]))
            return 0;
    }
    return 1;
}

/* Index of ref's list among the graph's, copied in on first use: the lists
 * of one body are few, its pairs many. */
static int merged_list(size_t *out, merge *m, const cond_ref *ref)
{
    ingest_upstream_graph *g = m->g;
    size_t *slot = &m->lists[ref->pair][ref->list];
    ingest_upstream_risks *l;

    if (*slot == SIZE_MAX) {
        l = &g->risk_lists[g->nrisk_lists];
        if (!(l->items = calloc(ref->risks->n, sizeof(*l->items))))
            return CINCY_ERROR;
        g->nrisk_lists++;
        for (size_t r = 0; r < ref->risks->n; r++) {
            if (graph_risk_copy(&l->items[l->n], &ref->risks->items[r]) < 0)
                return CINCY_ERROR;
            l->n++;
        }
        *slot = g->nrisk_lists - 1;
    }
    *out = *slot;
    return CINCY_OK;
}

static int add_cond(merge *m, const cond_ref *ref)
{
    ingest_upstream_graph *g = m->g;
    ingest_upstream_cond *c = &g->conds[g->nconds];
    const ingest_release *from = &g->releases.items[ref->from];
    size_t list;

    if (merged_list(&list, m, ref) < 0)
        return CINCY_ERROR;
    c->arch = from->arch;
    c->from = from->version;
    c->to = g->releases.items[ref->to].version;
    c->from_release = ref->from;
    c->to_release = ref->to;
    c->risks = g->risk_lists[list].items;
    c->nrisks = g->risk_lists[list].n;
    g->nconds++;
    return CINCY_OK;
}

/* Two channels list one pair with different risks only when the upstream
 * changed between our requests; the first channel's list is kept and the
 * next refresh sees the new one everywhere. */
static void warn_risk_mismatch(const merge *m, const cond_ref *first, const cond_ref *other)
{
    cincy_log(CINCY_LOG_WARN, "ingest",
              "upstream lists different risks for one update in two channels; keeping the "
              "first\tfrom=%s to=%s arch=%s first=%s other=%s",
              m->g->releases.items[first->from].version, m->g->releases.items[first->to].version,
              m->g->releases.items[first->from].arch, m->ids[first->pair].request,
              m->ids[other->pair].request);
}

static int collect_conds(cond_ref **out, size_t *nout, size_t *nlists, merge *m, cincy_error *err)
{
    size_t total = 0, k = 0;
    cond_ref *refs;

    *nlists = 0;
    for (size_t p = 0; p < m->n; p++) {
        const upstream_body *b = m->bodies[p];
        total += b->nconds;
        *nlists += b->nlists;
        if (!(m->lists[p] = malloc((b->nlists ? b->nlists : 1) * sizeof(size_t))))
            return ingest_oom(err);
        for (size_t l = 0; l < b->nlists; l++)
            m->lists[p][l] = SIZE_MAX;
    }
    if (!(refs = malloc((total ? total : 1) * sizeof(*refs))))
        return ingest_oom(err);
    for (size_t p = 0; p < m->n; p++) {
        const upstream_body *b = m->bodies[p];
        for (size_t c = 0; c < b->nconds; c++) {
            const upstream_cond *uc = &b->conds[c];
            refs[k++] = (cond_ref){&b->lists[uc->list], m->maps[p][uc->from], m->maps[p][uc->to], p,
                                   uc->list};
        }
    }
    qsort(refs, total, sizeof(*refs), cmp_cond_ref);
    *out = refs;
    *nout = total;
    return CINCY_OK;
}

static int merge_conds(merge *m, cincy_error *err)
{
    ingest_upstream_graph *g = m->g;
    size_t total = 0, nlists = 0, i = 0;
    cond_ref *refs = NULL;
    int error;

    if ((error = collect_conds(&refs, &total, &nlists, m, err)) < 0)
        return error;
    if ((total && !(g->conds = calloc(total, sizeof(*g->conds)))) ||
        (nlists && !(g->risk_lists = calloc(nlists, sizeof(*g->risk_lists))))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    while (i < total) {
        size_t first = i;
        if (add_cond(m, &refs[i]) < 0) {
            error = ingest_oom(err);
            goto cleanup;
        }
        for (i++; i < total && refs[i].from == refs[first].from && refs[i].to == refs[first].to;
             i++) {
            if (!same_risks(refs[first].risks, refs[i].risks))
                warn_risk_mismatch(m, &refs[first], &refs[i]);
        }
    }
cleanup:
    free(refs);
    return error;
}

int upstream_merge(ingest_upstream_graph **out, const upstream_body *const *bodies,
                   const upstream_pair_id *ids, size_t n, cincy_error *err)
{
    merge m = {bodies, ids, n, NULL, NULL, NULL};
    int error;

    if (!(m.maps = calloc(n ? n : 1, sizeof(*m.maps))) ||
        !(m.lists = calloc(n ? n : 1, sizeof(*m.lists))) || !(m.g = calloc(1, sizeof(*m.g)))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    m.g->pairs = n;
    if ((error = merge_nodes(&m, err)) < 0 || (error = merge_edges(&m, err)) < 0 ||
        (error = merge_conds(&m, err)) < 0)
        goto cleanup;
    *out = m.g;
    m.g = NULL; /* the caller owns it now */
cleanup:
    for (size_t p = 0; p < n; p++) {
        free(m.maps ? m.maps[p] : NULL);
        free(m.lists ? m.lists[p] : NULL);
    }
    free(m.maps);
    free(m.lists);
    ingest_upstream_graph_free(m.g);
    return error;
}

void ingest_upstream_graph_free(ingest_upstream_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->releases.count; i++) {
        ingest_release_clear(&g->releases.items[i]);
        free(g->seen_in[i]);
    }
    free(g->releases.items);
    free(g->seen_in);
    free(g->conds); /* its strings and risks are borrowed */
    for (size_t i = 0; i < g->nrisk_lists; i++)
        upstream_risks_clear(&g->risk_lists[i]);
    free(g->risk_lists);
    free(g);
}
