/* server/metrics.c - counters and the Prometheus text exposition (format 0.0.4).
 *
 * Request counters are labelled by route name, never by raw URL, so a client
 * probing random paths cannot grow the label set: the series are a fixed
 * table of listener x route x status code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

#ifndef CINCY_VERSION
#define CINCY_VERSION "0.0.0"
#endif
#ifndef CINCY_GIT_COMMIT
#define CINCY_GIT_COMMIT "unknown"
#endif

static const struct {
    const char *listener;
    const char *path;
} route_labels[ROUTE_COUNT] = {
    [ROUTE_GRAPH_V1] = {"graph", "/v1/graph"},     [ROUTE_GRAPH_LEGACY] = {"graph", "/graph"},
    [ROUTE_OPENAPI_V1] = {"graph", "/v1/openapi"}, [ROUTE_OPENAPI] = {"graph", "/openapi"},
    [ROUTE_GRAPH_DATA] = {"graph", "/graph-data"}, [ROUTE_PATH] = {"graph", "/v1/path"},
    [ROUTE_PLAN] = {"graph", "/v1/plan"},          [ROUTE_CHANNELS] = {"graph", "/v1/channels"},
    [ROUTE_BLOCKED] = {"graph", "/v1/blocked"},    [ROUTE_WEB] = {"graph", "web"},
    [ROUTE_GRAPH_OTHER] = {"graph", "other"},      [ROUTE_LIVENESS] = {"status", "/liveness"},
    [ROUTE_READINESS] = {"status", "/readiness"},  [ROUTE_METRICS] = {"status", "/metrics"},
    [ROUTE_STATUS] = {"status", "/status"},        [ROUTE_REFRESH] = {"status", "/refresh"},
    [ROUTE_STATUS_OTHER] = {"status", "other"},
};

/* The codes cincy sends; the last slot counts anything else. */
static const unsigned known_codes[SERVER_CODE_SLOTS - 1] = {200, 202, 304, 400, 401, 403,
                                                            404, 405, 406, 500, 503};

void server_metrics_init(server_metrics *m)
{
    memset(m, 0, sizeof(*m));
    for (int r = 0; r < ROUTE_COUNT; r++) {
        for (int c = 0; c < SERVER_CODE_SLOTS; c++)
            atomic_init(&m->requests[r][c], 0);
    }
    pthread_mutex_init(&m->lock, NULL);
}

void server_metrics_destroy(server_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

static int code_slot(unsigned code)
{
    for (int i = 0; i < SERVER_CODE_SLOTS - 1; i++) {
        if (known_codes[i] == code)
            return i;
    }
    return SERVER_CODE_SLOTS - 1;
}

void server_metrics_count(server_metrics *m, server_route route, unsigned code)
{
    atomic_fetch_add_explicit(&m->requests[route][code_slot(code)], 1, memory_order_relaxed);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_requests(FILE *f, server_metrics *m)
{
    header(f, "cincy_http_requests_total", "counter",
           "HTTP requests answered, by listener, route and status code.");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        for (int c = 0; c < SERVER_CODE_SLOTS; c++) {
            unsigned long n = atomic_load_explicit(&m->requests[r][c], memory_order_relaxed);
            char code[16];
            if (!n)
                continue; /* absent series read as zero; keeps the page short */
            if (c < SERVER_CODE_SLOTS - 1)
                snprintf(code, sizeof(code), "%u", known_codes[c]);
            else
                snprintf(code, sizeof(code), "other");
            fprintf(f, "cincy_http_requests_total{listener=\"%s\",path=\"%s\",code=\"%s\"} %lu\n",
                    route_labels[r].listener, route_labels[r].path, code, n);
        }
    }
}

static void write_graph(FILE *f, server_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    header(f, "cincy_graph_nodes", "gauge", "Nodes (release x arch) in the served graph.");
    fprintf(f, "cincy_graph_nodes %zu\n", m->nodes);
    header(f, "cincy_graph_edges", "gauge", "Unconditional edges in the served graph.");
    fprintf(f, "cincy_graph_edges %zu\n", m->edges);
    header(f, "cincy_graph_conditional_edges", "gauge",
           "Conditional (from, to) pairs in the served graph.");
    fprintf(f, "cincy_graph_conditional_edges %zu\n", m->cond_edges);
    header(f, "cincy_graph_releases", "gauge", "Release records read by the last good load.");
    fprintf(f, "cincy_graph_releases %zu\n", m->releases);
    header(f, "cincy_graph_channels", "gauge", "Channel files applied by the last good load.");
    fprintf(f, "cincy_graph_channels %zu\n", m->channels);
    header(f, "cincy_graph_last_load_timestamp_seconds", "gauge",
           "Unix time of the last successful load, 0 before the first.");
    fprintf(f, "cincy_graph_last_load_timestamp_seconds %.3f\n", m->last_load_timestamp);
    header(f, "cincy_graph_last_load_duration_seconds", "gauge",
           "Seconds the last successful load took.");
    fprintf(f, "cincy_graph_last_load_duration_seconds %.6f\n", m->last_load_duration);
    header(f, "cincy_graph_loads_total", "counter", "Successful graph loads.");
    fprintf(f, "cincy_graph_loads_total %llu\n", (unsigned long long)m->loads_total);
    header(f, "cincy_graph_load_errors_total", "counter",
           "Failed graph loads (the previous graph kept serving).");
    fprintf(f, "cincy_graph_load_errors_total %llu\n", (unsigned long long)m->load_errors_total);
    pthread_mutex_unlock(&m->lock);
}

static void write_cache(FILE *f, server_cache *c)
{
    uint64_t hits, misses, renders;
    size_t used = 0;

    pthread_mutex_lock(&c->lock);
    hits = c->hits;
    misses = c->misses;
    renders = c->renders;
    for (size_t i = 0; i < c->used; i++)
        used += c->slots[i].body != NULL; /* claimed or freed slots hold nothing yet */
    pthread_mutex_unlock(&c->lock);
    header(f, "cincy_response_cache_hits_total", "counter",
           "Graph requests answered from the response cache.");
    fprintf(f, "cincy_response_cache_hits_total %llu\n", (unsigned long long)hits);
    header(f, "cincy_response_cache_misses_total", "counter",
           "Graph requests that found no rendered body in the response cache.");
    fprintf(f, "cincy_response_cache_misses_total %llu\n", (unsigned long long)misses);
    header(f, "cincy_response_cache_entries", "gauge", "Bodies held by the response cache.");
    fprintf(f, "cincy_response_cache_entries %zu\n", used);
    header(f, "cincy_response_renders_total", "counter",
           "Graph bodies filtered, serialised, hashed and compressed (at most one per "
           "channel and arch per graph generation while the cache holds them).");
    fprintf(f, "cincy_response_renders_total %llu\n", (unsigned long long)renders);
}

int server_metrics_render(char **out, size_t *out_len, server_metrics *m, server_cache *cache)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return CINCY_ERROR;
    write_requests(f, m);
    write_graph(f, m);
    write_cache(f, cache);
    header(f, "cincy_build_info", "gauge", "Version and commit of this cincy build.");
    fprintf(f, "cincy_build_info{version=\"%s\",commit=\"%s\"} 1\n", CINCY_VERSION,
            CINCY_GIT_COMMIT);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return CINCY_ERROR;
    }
    if (fclose(f) != 0) {
        free(buf);
        return CINCY_ERROR;
    }
    *out = buf;
    *out_len = len;
    return 0;
}
