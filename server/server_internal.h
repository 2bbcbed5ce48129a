/* server/server_internal.h - what the server/ sources share: the server struct, the
 * response cache, metrics and the request handlers of both listeners.
 * Nothing outside server/ includes this file.
 */
#ifndef CINCY_SERVER_INTERNAL_H
#define CINCY_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <microhttpd.h>

#include "server/server.h"

#define SERVER_THREADS_MAX 256 /* per listener; more only burns memory on 2-8 cores */

/* Deep copy of src into out (zeroed first). Returns 0 or CINCY_ERROR. */
int server_config_copy(server_config *out, const server_config *src);

/* ---------------------------------------------------------------------------
 * Serialised graph bodies, refcounted so a cached body can be written to many
 * connections at once and outlive its cache slot (server/cache.c).
 */
typedef struct server_body {
    atomic_uint refs;
    size_t len;
    char data[]; /* len bytes of JSON, then a NUL */
} server_body;

/* A new body holding a copy of data (refs = 1), or NULL when out of memory. */
server_body *server_body_new(const char *data, size_t len);
server_body *server_body_ref(server_body *b); /* NULL-safe; returns b */
void server_body_unref(server_body *b);       /* NULL-safe; frees at zero */
/* The MHD free callback: p is a body's data pointer. */
void server_body_release_data(void *p);

#define SERVER_CACHE_SLOTS 256  /* channels x arches actually requested are ~100 */
#define SERVER_CACHE_KEY_MAX 64 /* longer channel names are valid but never cached */

typedef struct server_cache_slot {
    char channel[SERVER_CACHE_KEY_MAX];
    char arch[SERVER_CACHE_KEY_MAX];
    server_body *body; /* NULL when the slot is free */
} server_cache_slot;

/* Bodies of one graph generation. A new generation empties the cache; when
 * every slot is taken the oldest insert is evicted (a ring), so junk channel
 * names cannot pin memory. */
typedef struct server_cache {
    pthread_mutex_t lock;
    uint64_t generation;   /* the generation the slots belong to */
    size_t used;           /* slots filled, <= SERVER_CACHE_SLOTS */
    size_t next;           /* ring position of the next eviction */
    uint64_t hits, misses; /* under lock; exported as metrics */
    server_cache_slot slots[SERVER_CACHE_SLOTS];
} server_cache;

void server_cache_init(server_cache *c);
void server_cache_clear(server_cache *c); /* drops every body */
/* The body cached for (generation, channel, arch) as a new reference, or NULL. */
server_body *server_cache_get(server_cache *c, uint64_t generation, const char *channel,
                              const char *arch);
/* Stores a reference to body; a no-op when the key is too long, already
 * present, or generation is older than what the cache holds. */
void server_cache_put(server_cache *c, uint64_t generation, const char *channel, const char *arch,
                      server_body *body);

/* ---------------------------------------------------------------------------
 * Metrics (server/metrics.c). Request counters are lock-free; load figures
 * change once per reload and sit under a mutex with the doubles.
 */
typedef enum {
    ROUTE_GRAPH_V1,     /* P/v1/graph */
    ROUTE_GRAPH_LEGACY, /* P/graph */
    ROUTE_WEB,          /* static files of web.directory */
    ROUTE_GRAPH_OTHER,  /* anything else on the graph port */
    ROUTE_LIVENESS,
    ROUTE_READINESS,
    ROUTE_METRICS,
    ROUTE_STATUS_OTHER,
    ROUTE_COUNT
} server_route;

#define SERVER_CODE_SLOTS 10 /* the status codes we send, plus one "other" */

typedef struct server_metrics {
    atomic_ulong requests[ROUTE_COUNT][SERVER_CODE_SLOTS];
    pthread_mutex_t lock;       /* guards the fields below */
    uint64_t loads_total;       /* successful reloads */
    uint64_t load_errors_total; /* failed reloads */
    size_t releases;            /* release records of the last good load */
    size_t nodes, edges, cond_edges, channels;
    double last_load_timestamp; /* unix seconds of the last good load, 0 if none */
    double last_load_duration;  /* seconds the last good load took */
} server_metrics;

void server_metrics_init(server_metrics *m);
void server_metrics_destroy(server_metrics *m);
void server_metrics_count(server_metrics *m, server_route route, unsigned code);
/* Renders the Prometheus text exposition (format 0.0.4) into a new malloc'd
 * string. Returns 0 or CINCY_ERROR. */
int server_metrics_render(char **out, size_t *out_len, server_metrics *m, server_cache *cache);

/* ---------------------------------------------------------------------------
 * The server.
 */
struct server {
    server_config cfg; /* owned copy */
    struct MHD_Daemon *graph_daemon;
    struct MHD_Daemon *status_daemon;
    int graph_port, status_port; /* bound ports (resolved when 0 was asked) */
    int web_ok;                  /* cfg.web_dir is a readable directory */
    server_cache cache;
    server_metrics metrics;
    pthread_mutex_t reload_lock; /* one reload at a time */
};

/* Request handlers (MHD_AccessHandlerCallback), cls is the server. */
enum MHD_Result server_graph_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls);
enum MHD_Result server_status_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **req_cls);

/* Static files of web.directory (server/web.c). url is the request path.
 * Returns 0 with an open fd (the caller owns it), its size and content type;
 * CINCY_ENOTFOUND for anything that is not a servable regular file. */
int server_web_open(const server *s, const char *url, int *out_fd, uint64_t *out_size,
                    const char **out_type);

/* Queues resp with the status code, counts it and writes the debug access
 * log line; destroys resp. Shared by both listeners (server/http.c). */
enum MHD_Result server_reply(server *s, struct MHD_Connection *conn, server_route route,
                             const char *method, const char *url, unsigned code,
                             struct MHD_Response *resp);
/* A response holding a copy of text (len bytes), or NULL when out of memory. */
struct MHD_Response *server_text_response(const char *text, size_t len, const char *type);

#endif
