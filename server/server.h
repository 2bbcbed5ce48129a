/* server/server.h - configuration, the HTTP listeners and the load loop.
 *
 * Two listeners (libmicrohttpd, thread pool):
 *   graph port  (default 8080): P/v1/graph, P/graph, and the web page at /
 *   status port (default 9080): /liveness, /readiness, /metrics (never prefixed)
 * server_reload runs ingest + policy off to the side and publishes the new
 * snapshot; a failed reload keeps the last good graph serving.
 */
#ifndef CINCY_SERVER_H
#define CINCY_SERVER_H

#include <stddef.h>

#include "graph/graph.h"

#define SERVER_DEFAULT_GRAPH_PORT 8080
#define SERVER_DEFAULT_STATUS_PORT 9080

/* Where sources.graph_data comes from (mirrors ingest_source_kind). */
typedef enum {
    SERVER_GRAPH_DATA_DIRECTORY = 0,
    SERVER_GRAPH_DATA_GIT,
    SERVER_GRAPH_DATA_TARBALL,
    SERVER_GRAPH_DATA_IMAGE,
} server_graph_data_kind;

/* A list of strings from the config (a YAML sequence, or one scalar). */
typedef struct server_strv {
    char **items;
    size_t n;
} server_strv;

typedef struct server_config {
    char *graph_address;  /* listen address, default "127.0.0.1" */
    int graph_port;       /* default 8080; 0 picks a free port */
    char *status_address; /* default "127.0.0.1" */
    int status_port;      /* default 9080; 0 picks a free port */
    char *path_prefix;    /* normalised: "" or "/a/b" (one leading '/', none trailing) */
    unsigned threads;     /* HTTP worker threads per listener, default 4 */
    cincy_log_level log_level;
    char *releases_dir;        /* sources.releases.directory (absolute) */
    char *graph_data_dir;      /* sources.graph_data.directory (absolute) */
    char *web_dir;             /* web.directory (absolute), or NULL for none */
    char *file;                /* the config file read, or NULL for defaults */
    unsigned poll_seconds;     /* sources.poll_seconds, default 300, >= 1 */
    int allow_channel_removal; /* sources.allow_channel_removal: accept a graph-data revision
                                * that drops a channel being served (default 0: refuse it) */
    int skip_invalid_files;    /* sources.skip_invalid_files: skip a bad channel or blocked-edge
                                * file with a warning, as the reference does (default 0: the
                                * revision is refused and the last good graph keeps serving) */
    char *refresh_token;       /* status.refresh_token: bearer token for POST /refresh, or NULL */
    server_graph_data_kind graph_data_kind; /* which sources.graph_data key was given */
    char *graph_data_location;              /* git url, tarball path/URL or image reference
                                             * (graph_data_dir for a directory) */
    char *graph_data_reference;             /* git branch or commit id, or NULL (remote HEAD) */
    char *state_dir; /* state_dir (absolute), or NULL for the default (server_state_dir) */
    server_strv release_registries; /* sources.releases.registry: repositories to scrape */
    char *registry_auth_file;       /* registry.auth_file: docker config.json / pull secret */
    char *registry_ca_file;         /* registry.ca_file: extra PEM CA bundle */
    int registry_insecure;          /* registry.insecure: no TLS verification */
    int registry_immutable_tags;    /* registry.immutable_tags: a known tag is not asked again */
    unsigned registry_concurrency;  /* registry.concurrency, default 8 */
    unsigned registry_timeout;      /* registry.timeout_seconds, default 60 */
    char *upstream_url;             /* sources.upstream.url: another Cincinnati service */
    server_strv upstream_channels;  /* sources.upstream.channels */
    server_strv upstream_arches;    /* sources.upstream.arches (none: amd64) */
    /* limits: (docs/security.md), applied to both listeners */
    unsigned max_connections;            /* limits.max_connections per listener, default 1000 */
    unsigned max_connections_per_client; /* limits.max_connections_per_client: per source
                                          * address, default 64 */
    unsigned max_header_bytes;           /* limits.max_header_bytes: request line + headers,
                                          * default 8192 (431 or 414 beyond) */
    unsigned idle_timeout;               /* limits.idle_timeout_seconds, default 30 */
    unsigned request_timeout;            /* limits.request_timeout_seconds: headers complete
                                          * within this of connecting, default 10 */
    unsigned shutdown_grace;             /* shutdown_grace_seconds: in-flight requests get
                                          * this long after SIGTERM, default 20 */
} server_config;

/* Fills cfg with the defaults above; directories NULL. Returns 0 or CINCY_ERROR. */
int server_config_defaults(server_config *cfg);
/* Parses YAML text (see config/cincy.yaml for every key) over the values
 * already in cfg. Relative paths resolve against base_dir. Unknown keys, wrong
 * types and bad values fail with CINCY_EINVALID naming file, line and key. */
int server_config_parse(server_config *cfg, const char *yaml, size_t len, const char *file,
                        const char *base_dir, cincy_error *err);
/* Defaults, then the file at path (relative paths against the file's directory). */
int server_config_load(server_config *cfg, const char *path, cincy_error *err);
void server_config_clear(server_config *cfg); /* NULL-safe */

typedef struct server server;

/* Starts both listeners (the graph is not loaded yet: readiness is false).
 * On success *out owns a copy of cfg. Ports actually bound (useful with port 0)
 * are returned by server_graph_port / server_status_port. */
int server_start(server **out, const server_config *cfg, cincy_error *err);
int server_graph_port(const server *s);
int server_status_port(const server *s);
/* Loads releases and graph-data, builds and publishes a new snapshot; updates
 * metrics. On failure the previous snapshot keeps serving and err says why. */
int server_reload(server *s, cincy_error *err);
/* Starts the background refresh thread (server/refresh.c): it loads at once,
 * then every cfg.poll_seconds and whenever server_refresh_trigger is called,
 * and reloads only when the graph-data source's revision changed. A source
 * that is down never stops the server; the last good graph keeps serving. */
int server_refresh_start(server *s, cincy_error *err);
/* Asks the refresh thread for an immediate refresh (SIGHUP, POST /refresh).
 * Does nothing when the thread is not running. Thread: any. */
void server_refresh_trigger(server *s);
/* Stops listeners (and the refresh thread) and frees s. NULL-safe. */
void server_stop(server *s);

/* The `cincy` command line (main() calls only this). */
int server_main(int argc, char **argv);

#endif
