/* policy/regex.c - blocked-edge regexes, compiled once and remembered.
 * The real graph-data has ~1,700 blocked-edge files whose `from` patterns
 * repeat a few hundred shapes ("4[.]13[.].*", ".*"), each tried against every
 * incoming edge of every arch of its target. Compiling per use and running
 * regexec per edge would dominate the build, so a pattern is compiled once
 * and, once reused, keeps a per-node answer. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

static void regex_free(policy_regex *r)
{
    if (!r)
        return;
    regfree(&r->re);
    free(r->pattern);
    free(r->memo);
    free(r);
}

void policy_regex_cache_free(policy_regex_cache *c)
{
    for (size_t i = 0; i < c->count; i++)
        regex_free(c->items[i]);
    free(c->items);
    policy_strmap_free(&c->index);
    memset(c, 0, sizeof(*c));
}

/* Compiles pattern into a new policy_regex. */
static int regex_compile(policy_regex **out, const char *pattern, cincy_error *err)
{
    policy_regex *r = calloc(1, sizeof(*r));
    int rc;

    if (!r || !(r->pattern = strdup(pattern))) {
        free(r);
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &r->re, why, sizeof(why));
        free(r->pattern);
        free(r);
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "invalid regex '%.200s': %s",
                               pattern, why);
    }
    r->match_all = strcmp(pattern, ".*") == 0;
    *out = r;
    return CINCY_OK;
}

int policy_regex_get(policy_regex **out, policy_regex_cache *c, const char *pattern,
                     cincy_error *err)
{
    policy_regex *r = NULL;
    size_t i;
    int error;

    if (policy_strmap_get(&c->index, pattern, &i)) {
        r = c->items[i];
    } else {
        if ((error = regex_compile(&r, pattern, err)) < 0)
            return error;
        if (c->count == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            policy_regex **p = realloc(c->items, cap * sizeof(*p));
            if (!p)
                goto oom;
            c->items = p;
            c->cap = cap;
        }
        if (policy_strmap_put(&c->index, pattern, c->count) < 0)
            goto oom;
        c->items[c->count++] = r;
    }
    /* A memo pays off only for patterns used on more than one target;
     * most composite remove_regex values are used once per arch. */
    if (++r->uses == 2 && !r->match_all && c->nnodes > 0)
        r->memo = calloc(c->nnodes, 1); /* NULL just means no memo */
    *out = r;
    return CINCY_OK;

oom:
    regex_free(r);
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
}

int policy_regex_match(policy_regex *r, const graph_builder *b, size_t node)
{
    int m;

    if (r->match_all)
        return 1;
    if (r->memo && r->memo[node])
        return r->memo[node] == 1;
    m = regexec(&r->re, graph_builder_node_version(b, node), 0, NULL, 0) == 0;
    if (r->memo)
        r->memo[node] = m ? 1 : 2;
    return m;
}
