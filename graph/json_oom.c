/* graph/json_oom.c - telling jansson's out-of-memory apart from bad input.
 *
 * jansson does not report a failed allocation inside json_loadb reliably:
 * depending on where it happens the parse fails with a syntax error ("string
 * or '}' expected"), with an empty message, or succeeds with members missing
 * (found by tests/oom, issue 11). So we route jansson's allocations through
 * hooks that note a failure in a thread-local flag; a parser resets the flag
 * before json_loadb and, when it is set afterwards, discards the result and
 * reports out of memory, never "invalid json" or a short graph.
 *
 * The hooks call malloc and free, exactly what jansson calls by default, so
 * installing them while values made by the defaults are alive is harmless.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>

#include "graph/graph.h"

static _Thread_local int json_oom_seen; /* a jansson allocation failed on this thread */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *json_oom_malloc(size_t size)
{
    void *p = malloc(size);

    if (!p)
        json_oom_seen = 1;
    return p;
}

static void json_oom_free(void *p)
{
    free(p);
}

static void install_hooks(void)
{
    json_set_alloc_funcs(json_oom_malloc, json_oom_free);
}

void graph_json_oom_reset(void)
{
    pthread_once(&hooks_once, install_hooks);
    json_oom_seen = 0;
}

int graph_json_oom_seen(void)
{
    return json_oom_seen;
}
