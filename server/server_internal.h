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

#include "ingest/ingest.h"
#include "server/server.h"

#define SERVER_THREADS_MAX 256 /* per listener; more only burns memory on 2-8 cores */

/* Deep copy of src into out (zeroed first). Returns 0 or CINCY_ERROR. */
int server_config_copy(server_config *out, const server_config *src);
/* The state directory in effect: cfg->state_dir, else "$XDG_STATE_HOME/cincy",
 * else /var/lib/cincy when it exists and is writable, else
 * "$HOME/.local/state/cincy". A new malloc'd string, or NULL (no memory, or
 * no HOME to fall back on). */
char *server_state_dir(const server_config *cfg);

/* ---------------------------------------------------------------------------
 * Rendered graph bodies and the cache that keeps them (server/cache.c).
 *
 * A body is rendered once per (graph generation, channel, arch) and then only
 * referenced: each response holds its own reference, released by MHD's free
 * callback, so eviction or a reload never frees bytes still being written.
 */
#define SERVER_ETAG_MAX 48 /* "\"<32 hex>-gzip\"" and its NUL */

typedef struct server_body {
    atomic_uint refs;
    size_t len;                    /* identity bytes at data */
    unsigned char *gz;             /* gzip variant, or NULL when it would not be smaller */
    size_t gz_len;                 /* bytes at gz */
    char etag[SERVER_ETAG_MAX];    /* strong ETag of the identity bytes, quotes included */
    char etag_gz[SERVER_ETAG_MAX]; /* the gzip variant's: etag with "-gzip" before the quote */
    char data[];                   /* len bytes of JSON, then a NUL */
} server_body;

/* A new body holding a copy of data (refs = 1), with its ETag (a truncated
 * SHA-256 of the bytes, so equal bytes keep their tag across reloads) and its
 * gzip variant when compress is set (not for bytes that are gzip already).
 * NULL when out of memory. */
server_body *server_body_new(const char *data, size_t len, int compress);
server_body *server_body_ref(server_body *b); /* NULL-safe; returns b */
void server_body_unref(server_body *b);       /* NULL-safe; frees at zero */
/* The MHD free callback (MHD_create_response_from_buffer_with_free_callback_cls):
 * cls is a body; drops the reference the response held. */
void server_body_release(void *cls);

#define SERVER_CACHE_SLOTS 256  /* channels x arches actually requested are ~100 */
#define SERVER_CACHE_KEY_MAX 64 /* longer channel names are valid but never cached */

typedef struct server_cache_slot {
    char channel[SERVER_CACHE_KEY_MAX]; /* "" when the slot is free */
    char arch[SERVER_CACHE_KEY_MAX];
    server_body *body; /* NULL while the claimer renders it */
    uint64_t ticket;   /* names the claim, so a renderer finds its own slot again */
} server_cache_slot;

/* Bodies of one graph generation. A new generation empties the cache; when
 * every slot is taken the oldest insert is evicted (a ring), so junk channel
 * names cannot pin memory. A slot is claimed before its body is rendered:
 * requests for the same key meanwhile wait on rendered instead of rendering
 * the same bytes again. */
typedef struct server_cache {
    pthread_mutex_t lock;
    pthread_cond_t rendered; /* broadcast when a claimed slot is filled or dropped */
    uint64_t generation;     /* the generation the slots belong to */
    size_t used;             /* slots in use (filled, claimed or freed), <= SERVER_CACHE_SLOTS */
    size_t next;             /* ring position of the next eviction */
    uint64_t tickets;        /* last claim ticket handed out */
    uint64_t hits, misses;   /* exported as metrics */
    uint64_t renders;        /* bodies rendered, cached or not */
    server_cache_slot slots[SERVER_CACHE_SLOTS];
} server_cache;

/* Views path queries search, per (generation, channel, arch) (server/views.c). */
#define SERVER_VIEWS_SLOTS 32

typedef struct server_view_slot {
    uint64_t generation;
    char channel[64];
    char arch[16];
    graph_snapshot *view; /* NULL: free */
    uint64_t used;        /* clock value of the last use */
} server_view_slot;

typedef struct server_views {
    pthread_mutex_t lock;
    uint64_t clock;
    server_view_slot slots[SERVER_VIEWS_SLOTS];
} server_views;

void server_views_init(server_views *v);
void server_views_destroy(server_views *v);
/* The view of full for channel/arch as a new reference in *out, built with
 * policy_filter on a miss. generation is the one read before full was taken
 * (graph_snapshot_generation, then graph_snapshot_current). */
int server_view_get(graph_snapshot **out, server_views *v, const graph_snapshot *full,
                    uint64_t generation, const char *channel, const char *arch, cincy_error *err);

void server_cache_init(server_cache *c);
void server_cache_clear(server_cache *c);   /* drops every body */
void server_cache_destroy(server_cache *c); /* clear, then free the lock and condition */

/* Renders the body for (channel, arch) into *out (a new reference); returns 0,
 * or a negative code that server_cache_fetch passes up. */
typedef int (*server_render_fn)(server_body **out, const char *channel, const char *arch,
                                void *ctx);

/* The body for (generation, channel, arch) as a new reference in *out: the
 * cached one, or render's. Concurrent callers for one key render it once; the
 * others wait for it. A key too long to cache, or a generation older than the
 * cache's, is rendered without caching. Returns 0 or render's error (not cached:
 * the next request tries again). Thread: any. */
int server_cache_fetch(server_body **out, server_cache *c, uint64_t generation, const char *channel,
                       const char *arch, server_render_fn render, void *ctx);

/* ---------------------------------------------------------------------------
 * Request header and query helpers (server/negotiate.c). Pure functions.
 */

/* Spec §1.4: the response type for the whole Accept value, compared byte for
 * byte (NULL means no header), or NULL when the answer is 406. */
const char *server_negotiate_type(const char *accept);
/* 1 when an Accept-Encoding value (NULL: no header) allows gzip with q > 0,
 * either by name (gzip, x-gzip) or through "*" when gzip is not named. */
int server_accepts_gzip(const char *accept_encoding);
/* 1 when an If-None-Match value lists etag under the weak comparison
 * (W/ ignored) or is "*"; 0 for no match or a malformed value. */
int server_etag_matches(const char *if_none_match, const char *etag);
/* A new NUL-terminated UTF-8 copy of len bytes at in, each ill-formed
 * sequence replaced by U+FFFD as Rust's String::from_utf8_lossy does (the
 * reference decodes query strings so); embedded NULs are kept, *out_len
 * excludes the terminator. NULL when out of memory. */
char *server_utf8_lossy(const char *in, size_t len, size_t *out_len);

/* ---------------------------------------------------------------------------
 * The OpenAPI document (server/openapi.c).
 */

/* Renders the OpenAPI 3.0.3 document of the graph routes under prefix ("" or
 * "/a/b") into a new malloc'd string: every path key prefixed, and the
 * mandatory parameter `channel` appended to the legacy /graph path item only,
 * as the reference does. Returns 0 or CINCY_ERROR. */
int server_openapi_render(char **out, size_t *out_len, const char *prefix, cincy_error *err);

/* ---------------------------------------------------------------------------
 * Metrics (server/metrics.c). Request counters are lock-free; load figures
 * change once per reload and sit under a mutex with the doubles.
 */
typedef enum {
    ROUTE_GRAPH_V1,     /* P/v1/graph */
    ROUTE_GRAPH_LEGACY, /* P/graph */
    ROUTE_OPENAPI_V1,   /* P/v1/openapi */
    ROUTE_OPENAPI,      /* P/openapi */
    ROUTE_GRAPH_DATA,   /* P/graph-data */
    ROUTE_PATH,         /* P/v1/path */
    ROUTE_PLAN,         /* P/v1/plan */
    ROUTE_CHANNELS,     /* P/v1/channels */
    ROUTE_BLOCKED,      /* P/v1/blocked */
    ROUTE_WEB,          /* static files of web.directory */
    ROUTE_GRAPH_OTHER,  /* anything else on the graph port */
    ROUTE_LIVENESS,
    ROUTE_READINESS,
    ROUTE_METRICS,
    ROUTE_STATUS,  /* /status */
    ROUTE_REFRESH, /* /refresh */
    ROUTE_STATUS_OTHER,
    ROUTE_COUNT
} server_route;

#define SERVER_CODE_SLOTS 12 /* the status codes we send, plus one "other" */

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
 * The refresh thread (server/refresh.c). Everything below lock is read by the
 * status and metrics handlers and written by the thread.
 */
/* The status of one release repository (sources.releases.registry) or of the
 * upstream (sources.upstream). */
typedef struct server_source_state {
    char *revision;      /* SHA-256 over the payloads of its last good scrape */
    double last_success; /* unix seconds, 0 when never */
    double last_failure;
    double last_duration; /* seconds of the last good scrape */
    char *last_error;     /* NULL after a good scrape */
    uint64_t errors;
    ingest_scrape_stats stats;      /* of the last good scrape */
    ingest_upstream_stats up_stats; /* of the last good upstream fetch */
} server_source_state;

typedef struct server_refresh {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled by trigger and stop */
    pthread_t thread;
    int running;            /* the thread was started (join it on stop) */
    int stop;               /* asks the thread to end */
    int forced;             /* a trigger is pending: reload even if unchanged */
    int failing;            /* the last round failed: the next one reloads regardless */
    char *revision;         /* last revision seen (loaded or failed), or NULL */
    char *serving_revision; /* revision of the graph being served, or NULL */
    double last_success;    /* unix seconds, 0 when never */
    double last_failure;    /* unix seconds, 0 when never */
    char *last_error;       /* "file:line: message" of the last failure, or NULL */
    char *last_error_revision;
    uint64_t changed, unchanged, errors; /* refreshes by result */
    server_source_state *registries;     /* one per cfg.release_registries item */
    server_source_state upstream;        /* when cfg.upstream_url is set */
} server_refresh;

void server_refresh_init(server_refresh *r);
/* What one build reads besides the config's releases directory. */
typedef struct server_inputs {
    const char *graph_data_dir;            /* NULL: none (an upstream relay alone) */
    ingest_releases *scraped;              /* registry records, moved into the build, or NULL */
    const ingest_upstream_graph *upstream; /* the relayed graph, or NULL */
} server_inputs;

/* server_reload over in, leaving logging the failure to the caller (the
 * refresh thread logs once per revision). */
int server_reload_inputs(server *s, const server_inputs *in, cincy_error *err);
void server_refresh_stop(server *s); /* joins the thread if running, frees state */
/* Renders the /status JSON document into a new malloc'd string. */
int server_status_render(char **out, size_t *out_len, server *s);
/* Appends the per-source metrics to the exposition in buf. */
int server_refresh_metrics(char **buf, size_t *len, server *s);

/* ---------------------------------------------------------------------------
 * Connection limits MHD lacks, and draining on shutdown (server/limits.c).
 */
typedef struct server_conn server_conn;

typedef struct server_conns {
    pthread_mutex_t lock;    /* guards everything below */
    pthread_cond_t wake;     /* wakes the reaper to stop */
    pthread_cond_t changed;  /* broadcast when a request completes */
    pthread_t reaper;
    int running, stop;       /* the reaper thread */
    server_conn *head;       /* every open connection of both listeners */
    size_t graph_in_flight;  /* requests being answered on the graph listener */
    uint64_t reaped;         /* connections dropped for slow headers */
} server_conns;

/* The cls of a listener's MHD callbacks: which server, which listener. */
typedef struct server_listener {
    struct server *s;
    int graph; /* 1: the graph listener */
} server_listener;

int server_conns_init(server_conns *cs);        /* starts the reaper; CINCY_ERROR */
void server_conns_destroy(server_conns *cs);    /* after both daemons are stopped */
/* MHD_OPTION_NOTIFY_CONNECTION and MHD_OPTION_NOTIFY_COMPLETED; cls is a listener. */
void server_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
void server_conn_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe);
/* The access handlers call this when a request's headers are in. */
void server_conn_request_begin(struct server *s, struct MHD_Connection *conn);
/* Waits until no graph request is being answered or the monotonic deadline;
 * returns the requests still in flight. */
int server_drain(struct server *s, double deadline);
double server_monotonic_now(void);
/* A config built by hand (tests) leaves the limits at 0: sets the defaults. */
void server_limits_default(server_config *c);

/* ---------------------------------------------------------------------------
 * Stopping and reconfiguring (server/lifecycle.c). Thread: the main thread.
 */
/* Readiness turns 503 ("shutting down") and the graph listener stops
 * accepting; connections already open are still answered. */
void server_shutdown_begin(struct server *s);
int server_stopping(const struct server *s); /* Thread: any */
/* Stops the refresh thread, waiting until the monotonic deadline (<= 0: for
 * ever). -1 when the thread is still running at the deadline. */
int server_refresh_halt(struct server *s, double deadline);
/* Applies what may change at runtime from next (a loaded, valid config) and
 * restarts the refresh thread, which refreshes at once; restart-only changes
 * are logged and ignored. next is left with the replaced values: the caller
 * clears it. Returns 0, or the refresh thread's start error (logged). */
int server_reconfigure(struct server *s, server_config *next);

/* ---------------------------------------------------------------------------
 * The server.
 */
struct server {
    server_config cfg; /* owned copy */
    struct MHD_Daemon *graph_daemon;
    struct MHD_Daemon *status_daemon;
    int graph_port, status_port; /* bound ports (resolved when 0 was asked) */
    struct server_web *web;      /* the files of cfg.web_dir, read at start; NULL: no page */
    char *openapi;               /* the OpenAPI document for cfg.path_prefix, rendered at start */
    size_t openapi_len;
    server_cache cache;
    server_views views;
    server_metrics metrics;
    pthread_mutex_t reload_lock; /* one reload at a time; guards the fields below it */
    char **served_channels;      /* "name\0file" of each channel of the graph-data last loaded */
    size_t nserved_channels;
    server_refresh refresh;
    pthread_mutex_t tar_lock;    /* guards graph_data_tar */
    server_body *graph_data_tar; /* the loaded graph-data as .tar.gz, NULL before a load */
    server_conns conns;          /* open connections, slow-header reaper */
    server_listener graph_listener, status_listener; /* cls of the MHD callbacks */
    atomic_int stopping;         /* SIGTERM seen: readiness answers 503 */
    pthread_rwlock_t cfg_lock;   /* writers: server_reconfigure; readers: /status, /metrics,
                                  * POST /refresh (they read the sources' settings) */
};

/* ---------------------------------------------------------------------------
 * The graph-data tarball (server/graph_data_tar.c, spec §1.8.2).
 */

/* Builds the gzip'd tar of the graph-data at dir (version, LICENSE,
 * channels/NAME.yaml, blocked-edges/NAME.yaml, raw/metadata.json, whichever
 * exist) into a new body (refs = 1). Deterministic: equal files give equal
 * bytes. Returns 0 or CINCY_ERROR. */
int server_graph_data_tar(server_body **out, const char *dir, cincy_error *err);
/* Replaces the served tarball with tar (takes over the reference; NULL clears). */
void server_graph_data_set(server *s, server_body *tar);
/* The served tarball as a new reference, or NULL when there is none. */
server_body *server_graph_data_get(server *s);

/* Request handlers (MHD_AccessHandlerCallback), cls is the server. */
enum MHD_Result server_graph_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls);
enum MHD_Result server_status_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **req_cls);

/* Static files of web.directory (server/web.c), read once into memory: no
 * request path ever reaches the file system. */
typedef struct server_web_file {
    char *path;        /* "/index.html", "/js/app.mjs": the exact URL path served */
    const char *type;  /* Content-Type (static text) */
    server_body *body; /* the bytes, ETag and gzip variant (text types only) */
} server_web_file;

typedef struct server_web {
    server_web_file *files; /* sorted by path */
    size_t n;
    size_t bytes; /* total of every file's bytes */
} server_web;

#define SERVER_WEB_FILES_MAX 1000
#define SERVER_WEB_FILE_MAX (8u << 20)
#define SERVER_WEB_TOTAL_MAX (64u << 20)

/* Reads the regular files under dir (recursive; names starting with '.' and
 * symlinks leading outside dir skipped; past the limits above a file is
 * logged and skipped) into *out. CINCY_ENOTFOUND when dir is not a readable
 * directory; CINCY_ERROR (out of memory). */
int server_web_load(server_web **out, const char *dir, cincy_error *err);
void server_web_free(server_web *w); /* NULL-safe */
/* The file served for a decoded request path ("/" is "/index.html"), or NULL:
 * an exact match against the table, nothing else. */
const server_web_file *server_web_find(const server_web *w, const char *url);

/* Queues resp with the status code, counts it and writes the debug access
 * log line; destroys resp. Shared by both listeners (server/http.c). */
/* Shared first step of the access handlers. MHD calls a handler once when the
 * headers are in and again when the request is whole; answering a bodiless
 * request on the second call keeps the connection alive (an answer queued on
 * the first makes MHD close it). Returns 1 when the handler must return
 * MHD_YES now and answer on a later call; a request announcing a body is
 * answered at once (no route reads one) and its connection closed. */
int server_request_defer(struct MHD_Connection *conn, void **req_cls, size_t *upload_data_size);

enum MHD_Result server_reply(server *s, struct MHD_Connection *conn, server_route route,
                             const char *method, const char *url, unsigned code,
                             struct MHD_Response *resp);
/* A response holding a copy of text (len bytes), or NULL when out of memory. */
struct MHD_Response *server_text_response(const char *text, size_t len, const char *type);

#endif
