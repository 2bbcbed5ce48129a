/* server/server.c - the server object: two listeners and the load step.
 *
 * DESIGN. Each listener is a libmicrohttpd daemon with its own internal
 * thread pool (epoll on Linux). Request threads only read: they take the
 * current snapshot (graph/), filter it and answer, or answer from the cache.
 * server_reload runs on the caller's thread (the CLI's main thread, on start
 * and on SIGHUP): it reads both sources, builds a new snapshot off to the side
 * and publishes it with one pointer swap, so requests never wait on a load.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "ingest/ingest.h"
#include "policy/policy.h"
#include "server/server_internal.h"

/* MHD's pool per connection holds the request line and headers, their parsed
 * records and our response headers; limits.max_header_bytes is what a client
 * may send, the rest is room for the records and the answer's headers. */
#define CONNECTION_POOL_EXTRA 4096u

/* Routes libmicrohttpd's own complaints (accept failures, bad requests it
 * answered itself) into our log, at debug: they are about clients (a closed
 * connection, a malformed request, a limit reached), and at warn thousands of
 * misbehaving clients would flood the log. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    size_t n;

    (void)cls;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    cincy_log(CINCY_LOG_DEBUG, "http", "%s", buf);
}

/* Fills ss with address:port. Returns the address family, or 0 if address
 * is not a numeric IPv4/IPv6 address. */
static int make_sockaddr(struct sockaddr_storage *ss, const char *address, int port)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return AF_INET;
    }
    if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return AF_INET6;
    }
    return 0;
}

static int start_listener(struct MHD_Daemon **out, int *out_port, server_listener *l,
                          const char *what, const char *address, int port,
                          MHD_AccessHandlerCallback handler, cincy_error *err)
{
    server *s = l->s;
    const server_config *c = &s->cfg;
    struct sockaddr_storage ss;
    /* MHD_USE_ITC: MHD_quiesce_daemon needs it with a thread pool */
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    const union MHD_DaemonInfo *info;
    struct MHD_Daemon *d;
    int family = make_sockaddr(&ss, address, port);

    if (!family)
        return cincy_error_set(err, CINCY_EINVALID, s->cfg.file, 0,
                               "%s address '%s' is not an IPv4 or IPv6 address", what, address);
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER,
                         mhd_logger, NULL, /* must come first */
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned int)c->threads, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned int)c->idle_timeout, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned int)c->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                         (unsigned int)c->max_connections_per_client,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)c->max_header_bytes + CONNECTION_POOL_EXTRA,
                         MHD_OPTION_NOTIFY_CONNECTION, server_conn_notify, l,
                         MHD_OPTION_NOTIFY_COMPLETED, server_conn_completed, l, MHD_OPTION_END);
    if (!d)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "cannot listen on %s port %s:%d: %s",
                               what, address, port,
                               errno ? strerror(errno) : "libmicrohttpd refused to start");
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *out_port = info && info->port ? (int)info->port : port;
    *out = d;
    return 0;
}

int server_start(server **out, const server_config *cfg, cincy_error *err)
{
    server *s = calloc(1, sizeof(*s));
    int error;

    if (!s)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    server_cache_init(&s->cache);
    server_views_init(&s->views);
    server_metrics_init(&s->metrics);
    pthread_mutex_init(&s->reload_lock, NULL);
    pthread_mutex_init(&s->tar_lock, NULL);
    pthread_rwlock_init(&s->cfg_lock, NULL);
    server_refresh_init(&s->refresh);
    if (server_config_copy(&s->cfg, cfg) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    if (s->cfg.threads < 1)
        s->cfg.threads = 1;
    server_limits_default(&s->cfg);
    s->graph_listener = (server_listener){s, 1};
    s->status_listener = (server_listener){s, 0};
    if (server_conns_init(&s->conns) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "cannot start the connection reaper");
        goto cleanup;
    }
    if ((error = server_openapi_render(&s->openapi, &s->openapi_len, s->cfg.path_prefix, err)) < 0)
        goto cleanup;
    /* The page is read once, here: requests are answered from memory only. */
    error = s->cfg.web_dir ? server_web_load(&s->web, s->cfg.web_dir, err) : CINCY_OK;
    if (error == CINCY_ENOTFOUND)
        cincy_log(CINCY_LOG_WARN, "server",
                  "web directory not found, the web page is off\t"
                  "directory=\"%s\"",
                  s->cfg.web_dir);
    else if (error < 0)
        goto cleanup; /* out of memory */
    if ((error = start_listener(&s->graph_daemon, &s->graph_port, &s->graph_listener, "graph",
                                s->cfg.graph_address, s->cfg.graph_port, server_graph_access,
                                err)) < 0 ||
        (error = start_listener(&s->status_daemon, &s->status_port, &s->status_listener,
                                "status", s->cfg.status_address, s->cfg.status_port,
                                server_status_access, err)) < 0)
        goto cleanup;
    cincy_log(CINCY_LOG_INFO, "server", "listening\tgraph=%s:%d status=%s:%d threads=%u",
              s->cfg.graph_address, s->graph_port, s->cfg.status_address, s->status_port,
              s->cfg.threads);
    *out = s;
    s = NULL;
cleanup:
    server_stop(s);
    return error;
}

void server_limits_default(server_config *c)
{
    if (!c->max_connections)
        c->max_connections = 1000;
    if (!c->max_connections_per_client)
        c->max_connections_per_client = 64;
    if (!c->max_header_bytes)
        c->max_header_bytes = 8192;
    if (!c->idle_timeout)
        c->idle_timeout = 30;
    if (!c->request_timeout)
        c->request_timeout = 10;
    if (!c->shutdown_grace)
        c->shutdown_grace = 20;
}

int server_graph_port(const server *s)
{
    return s->graph_port;
}

int server_status_port(const server *s)
{
    return s->status_port;
}

static void free_served_channels(server *s);

void server_stop(server *s)
{
    if (!s)
        return;
    server_refresh_stop(s); /* before the listeners: it publishes into them */
    if (s->graph_daemon)
        MHD_stop_daemon(s->graph_daemon); /* waits for its request threads */
    if (s->status_daemon)
        MHD_stop_daemon(s->status_daemon);
    server_conns_destroy(&s->conns); /* no connection is left to reap */
    pthread_rwlock_destroy(&s->cfg_lock);
    server_cache_destroy(&s->cache);
    server_views_destroy(&s->views);
    free(s->openapi);
    server_web_free(s->web);
    server_metrics_destroy(&s->metrics);
    free_served_channels(s);
    pthread_mutex_destroy(&s->reload_lock);
    server_body_unref(s->graph_data_tar);
    pthread_mutex_destroy(&s->tar_lock);
    server_config_clear(&s->cfg);
    free(s);
}

/* ---------------------------------------------------------------------------
 * Reload */

static double now_seconds(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void record_success(server *s, const graph_snapshot *snap, size_t nreleases,
                           const ingest_graph_data *gd, double duration)
{
    server_metrics *m = &s->metrics;
    size_t nchannels = gd ? gd->nchannels : 0, nblocks = gd ? gd->nblocks : 0;

    pthread_mutex_lock(&m->lock);
    m->loads_total++;
    m->releases = nreleases;
    m->channels = nchannels;
    m->nodes = graph_snapshot_node_count(snap);
    m->edges = graph_snapshot_edge_count(snap);
    m->cond_edges = graph_snapshot_cond_edge_count(snap);
    m->last_load_timestamp = now_seconds(CLOCK_REALTIME);
    m->last_load_duration = duration;
    pthread_mutex_unlock(&m->lock);
    cincy_log(CINCY_LOG_INFO, "server",
              "graph loaded\tnodes=%zu edges=%zu conditional_edges=%zu releases=%zu "
              "channels=%zu blocked_edges=%zu duration_seconds=%.3f",
              graph_snapshot_node_count(snap), graph_snapshot_edge_count(snap),
              graph_snapshot_cond_edge_count(snap), nreleases, nchannels, nblocks, duration);
}

/* Keep serving the previous snapshot: a cluster polling during a bad
 * graph-data push should see yesterday's graph, not an empty one. */
static void record_failure(server *s, const cincy_error *err, int quiet)
{
    char msg[800];

    pthread_mutex_lock(&s->metrics.lock);
    s->metrics.load_errors_total++;
    pthread_mutex_unlock(&s->metrics.lock);
    if (!quiet)
        cincy_log(CINCY_LOG_ERROR, "server",
                  "graph load failed, the previous graph keeps serving: %s",
                  cincy_error_format(err, msg, sizeof(msg)));
}

/* Swaps in the tarball of the graph-data just loaded. Failing to build it
 * does not fail the load (the graph is what clusters need): the stale tarball
 * is dropped, so GET P/graph-data answers 500 rather than serving old files. */
static void publish_graph_data_tar(server *s, const char *graph_data_dir)
{
    server_body *tar = NULL;
    cincy_error err;
    char msg[512];

    cincy_error_clear(&err);
    if (server_graph_data_tar(&tar, graph_data_dir, &err) < 0)
        cincy_log(CINCY_LOG_WARN, "server", "graph-data tarball not built: %s",
                  cincy_error_format(&err, msg, sizeof(msg)));
    server_graph_data_set(s, tar);
}

/* OpenShift's graph-data never deletes a channel file, so a revision without
 * one that is being served is a botched push or merge; serving it would tell
 * every cluster subscribed to the channel that it has no updates. Refused
 * unless sources.allow_channel_removal is set. */
static int check_channels_kept(const server *s, const ingest_graph_data *gd, cincy_error *err)
{
    for (size_t i = 0; i < s->nserved_channels; i++) {
        const char *name = s->served_channels[i], *file = name + strlen(name) + 1;
        size_t j = 0;

        while (j < gd->nchannels && strcmp(gd->channels[j].name, name))
            j++;
        if (j == gd->nchannels)
            return cincy_error_set(err, CINCY_EINVALID, file, 0,
                                   "channel '%s' is served now but this revision has no file for "
                                   "it (set sources.allow_channel_removal: true to accept "
                                   "removing channels)",
                                   name);
    }
    return 0;
}

static void free_served_channels(server *s)
{
    for (size_t i = 0; i < s->nserved_channels; i++)
        free(s->served_channels[i]);
    free(s->served_channels);
    s->served_channels = NULL;
    s->nserved_channels = 0;
}

/* Remembers gd's channels ("name\0file") for the next check_channels_kept.
 * Out of memory forgets them, which only weakens that check. */
static void remember_channels(server *s, const ingest_graph_data *gd)
{
    free_served_channels(s);
    if (!gd->nchannels || !(s->served_channels = calloc(gd->nchannels, sizeof(char *))))
        return;
    for (size_t i = 0; i < gd->nchannels; i++) {
        size_t n = strlen(gd->channels[i].name) + 1, m = strlen(gd->channels[i].file) + 1;
        char *both = malloc(n + m);

        if (!both) {
            free_served_channels(s);
            return;
        }
        memcpy(both, gd->channels[i].name, n);
        memcpy(both + n, gd->channels[i].file, m);
        s->served_channels[s->nserved_channels++] = both;
    }
}

/* The release records of a build without an upstream: the releases
 * directory (when configured) plus the scraped records, moved in. */
static int gather_releases(ingest_releases **out, server *s, ingest_releases *scraped,
                           cincy_error *err)
{
    ingest_releases *rels = NULL;
    int error;

    if (s->cfg.releases_dir) {
        if ((error = ingest_releases_load_dir(&rels, s->cfg.releases_dir, err)) < 0)
            return error;
    } else if (!(rels = calloc(1, sizeof(*rels)))) {
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    }
    if (scraped && (error = ingest_releases_merge(rels, scraped, err)) < 0) {
        ingest_releases_free(rels);
        return error;
    }
    *out = rels;
    return 0;
}

static int reload(server *s, const server_inputs *in, int quiet, cincy_error *err)
{
    ingest_releases *rels = NULL;
    ingest_graph_data *gd = NULL;
    graph_snapshot *snap = NULL;
    cincy_error local;
    size_t nreleases;
    double start;
    int error;

    if (!err) {
        cincy_error_clear(&local);
        err = &local; /* record_failure needs the text */
    }
    pthread_mutex_lock(&s->reload_lock);
    start = now_seconds(CLOCK_MONOTONIC);
    if (!in->upstream && !in->graph_data_dir) {
        error = cincy_error_set(err, CINCY_EINVALID, s->cfg.file, 0,
                                "no graph-data configured (sources.graph_data)");
        goto cleanup;
    }
    if (!in->upstream && !s->cfg.releases_dir && !in->scraped) {
        error = cincy_error_set(err, CINCY_EINVALID, s->cfg.file, 0,
                                "no releases configured (sources.releases.directory or "
                                "sources.releases.registry)");
        goto cleanup;
    }
    if (in->graph_data_dir &&
        ((error = ingest_graph_data_load(&gd, in->graph_data_dir,
                                         s->cfg.skip_invalid_files ? 0 : INGEST_GD_STRICT, err)) <
             0 ||
         (!s->cfg.allow_channel_removal && (error = check_channels_kept(s, gd, err)) < 0)))
        goto cleanup;
    if (in->upstream) {
        nreleases = in->upstream->releases.count;
        if ((error = policy_build_upstream(&snap, in->upstream, gd, NULL, err)) < 0)
            goto cleanup;
    } else {
        if ((error = gather_releases(&rels, s, in->scraped, err)) < 0 ||
            (error = policy_build(&snap, rels, gd, NULL, err)) < 0)
            goto cleanup;
        nreleases = rels->count;
    }
    if (gd)
        remember_channels(s, gd);
    record_success(s, snap, nreleases, gd, now_seconds(CLOCK_MONOTONIC) - start);
    graph_snapshot_publish(snap); /* takes over our reference */
    snap = NULL;
    server_cache_clear(&s->cache); /* old bodies go now, not at the next request */
    if (in->graph_data_dir)
        publish_graph_data_tar(s, in->graph_data_dir);
cleanup:
    if (error < 0)
        record_failure(s, err, quiet);
    pthread_mutex_unlock(&s->reload_lock);
    graph_snapshot_unref(snap);
    ingest_graph_data_free(gd);
    ingest_releases_free(rels);
    /* A build's scratch memory (releases, graph-data, builder tables) and the
     * replaced snapshot are free now; glibc keeps freed heap mapped, so hand it
     * back, or the process would sit at its build-time peak between reloads. */
    malloc_trim(0);
    return error;
}

int server_reload(server *s, cincy_error *err)
{
    server_inputs in = {s->cfg.graph_data_dir, NULL, NULL};

    return reload(s, &in, 0, err);
}

int server_reload_inputs(server *s, const server_inputs *in, cincy_error *err)
{
    return reload(s, in, 1, err);
}
