/* graph/risk.c - conditional-update risks: deep copy, release, equality.
 * Risks are copied into the builder and the snapshot so that each owns its
 * strings; equality decides which pairs share a conditionalEdges group. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

static int dup_opt(char **out, const char *s)
{
    *out = NULL;
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : -1;
}

int graph_risk_copy(graph_risk *out, const graph_risk *src)
{
    graph_risk r;

    memset(&r, 0, sizeof(r));
    if (dup_opt(&r.url, src->url) < 0 || dup_opt(&r.name, src->name) < 0 ||
        dup_opt(&r.message, src->message) < 0)
        goto fail;
    if (src->nrules > 0) {
        r.rules = calloc(src->nrules, sizeof(*r.rules));
        if (!r.rules)
            goto fail;
        r.nrules = src->nrules;
        for (size_t i = 0; i < src->nrules; i++) {
            r.rules[i].type = src->rules[i].type;
            if (dup_opt(&r.rules[i].promql, src->rules[i].promql) < 0)
                goto fail;
        }
    }
    *out = r;
    return CINCY_OK;

fail:
    graph_risk_clear(&r);
    memset(out, 0, sizeof(*out));
    return CINCY_ERROR;
}

void graph_risk_clear(graph_risk *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->name);
    free(r->message);
    for (size_t i = 0; i < r->nrules; i++)
        free(r->rules[i].promql);
    free(r->rules);
    memset(r, 0, sizeof(*r));
}

/* NULL equals "": both serialise the same way (the JSON writer emits "" for a
 * missing string and omits an empty PromQL query), so two risks that look
 * identical in the response must also share a group. */
static int str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int graph_risk_equal(const graph_risk *a, const graph_risk *b)
{
    if (!str_equal(a->url, b->url) || !str_equal(a->name, b->name) ||
        !str_equal(a->message, b->message) || a->nrules != b->nrules)
        return 0;
    for (size_t i = 0; i < a->nrules; i++) {
        if (a->rules[i].type != b->rules[i].type ||
            !str_equal(a->rules[i].promql, b->rules[i].promql))
            return 0;
    }
    return 1;
}
