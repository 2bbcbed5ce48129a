/* server/lifecycle.c - stopping within a grace period (SIGTERM) and taking a
 * new configuration while serving (SIGHUP).
 *
 * DESIGN. Stopping: readiness turns 503 first, the graph listener stops
 * accepting (MHD_quiesce_daemon), requests being answered get until the
 * deadline, and a refresh thread still inside a build is not waited for past
 * it: the caller exits without freeing what that thread uses.
 *
 * Reconfiguring: request threads read some settings without a lock (the
 * listeners' addresses, the path prefix, the limits, the upstream relay's
 * channels), so those need a restart and keep their old values. The rest
 * belongs to the refresh thread and to /status, /metrics and POST /refresh,
 * which read it under cfg_lock: the thread is halted, the settings are
 * replaced under the write lock, and a new thread starts, which refreshes at
 * once.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/server_internal.h"

void server_shutdown_begin(server *s)
{
    MHD_socket fd;

    atomic_store(&s->stopping, 1);
    if (s->graph_daemon && (fd = MHD_quiesce_daemon(s->graph_daemon)) != MHD_INVALID_SOCKET)
        close(fd); /* quiesce hands the listening socket back to us */
}

int server_stopping(const server *s)
{
    return atomic_load(&((server *)s)->stopping);
}

int server_refresh_halt(server *s, double deadline)
{
    server_refresh *r = &s->refresh;
    struct timespec until;
    double left;

    if (!r->running)
        return 0;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (deadline <= 0) {
        pthread_join(r->thread, NULL);
    } else {
        left = deadline - server_monotonic_now();
        clock_gettime(CLOCK_REALTIME, &until); /* timedjoin takes a realtime instant */
        if (left > 0) {
            until.tv_sec += (time_t)left;
            until.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
        }
        if (pthread_timedjoin_np(r->thread, NULL, &until) != 0)
            return -1;
    }
    r->running = 0;
    return 0;
}

/* ---------------------------------------------------------------------------
 * SIGHUP */

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_strv(const server_strv *a, const server_strv *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i], b->items[i]))
            return 0;
    return 1;
}

static void needs_restart(const char *key)
{
    cincy_log(CINCY_LOG_WARN, "server",
              "config reload: a changed setting needs a restart, the old value stays\tkey=%s", key);
}

/* Logs each restart-only setting that differs in next. */
static void report_restart_only(const server_config *cur, const server_config *next)
{
    const struct {
        const char *key;
        int same;
    } checks[] = {
        {"graph.address", same_str(cur->graph_address, next->graph_address)},
        {"graph.port", cur->graph_port == next->graph_port},
        {"graph.path_prefix", same_str(cur->path_prefix, next->path_prefix)},
        {"graph.threads", cur->threads == next->threads},
        {"status.address", same_str(cur->status_address, next->status_address)},
        {"status.port", cur->status_port == next->status_port},
        {"web.directory", same_str(cur->web_dir, next->web_dir)},
        {"limits.max_connections", cur->max_connections == next->max_connections},
        {"limits.max_connections_per_client",
         cur->max_connections_per_client == next->max_connections_per_client},
        {"limits.max_header_bytes", cur->max_header_bytes == next->max_header_bytes},
        {"limits.idle_timeout_seconds", cur->idle_timeout == next->idle_timeout},
        {"limits.request_timeout_seconds", cur->request_timeout == next->request_timeout},
        {"sources.upstream", same_str(cur->upstream_url, next->upstream_url) &&
                                 same_strv(&cur->upstream_channels, &next->upstream_channels) &&
                                 same_strv(&cur->upstream_arches, &next->upstream_arches)},
        {"sources.graph_data (kind of source)", cur->graph_data_kind == next->graph_data_kind &&
                                                    !cur->graph_data_dir == !next->graph_data_dir},
    };

    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        if (!checks[i].same)
            needs_restart(checks[i].key);
}

#define TAKE(field)                                                                                \
    do {                                                                                           \
        void *tmp_ = (void *)cur->field;                                                           \
        cur->field = next->field;                                                                  \
        next->field = tmp_;                                                                        \
    } while (0)

/* Moves the settings that may change at runtime from next into cur; next is
 * left holding the replaced values (freed by the caller). */
static void take_runtime_settings(server_config *cur, server_config *next)
{
    server_strv regs = cur->release_registries;

    cur->log_level = next->log_level;
    cur->poll_seconds = next->poll_seconds;
    cur->allow_channel_removal = next->allow_channel_removal;
    cur->skip_invalid_files = next->skip_invalid_files;
    cur->registry_insecure = next->registry_insecure;
    cur->registry_immutable_tags = next->registry_immutable_tags;
    cur->registry_concurrency = next->registry_concurrency;
    cur->registry_timeout = next->registry_timeout;
    cur->shutdown_grace = next->shutdown_grace;
    if (cur->graph_data_kind == next->graph_data_kind &&
        !cur->graph_data_dir == !next->graph_data_dir) {
        TAKE(graph_data_dir);
        TAKE(graph_data_location);
        TAKE(graph_data_reference);
    }
    TAKE(releases_dir);
    TAKE(refresh_token);
    TAKE(state_dir);
    TAKE(registry_auth_file);
    TAKE(registry_ca_file);
    cur->release_registries = next->release_registries;
    next->release_registries = regs;
}

int server_reconfigure(server *s, server_config *next)
{
    cincy_error err;
    char msg[800];
    int rc;

    server_limits_default(next);
    report_restart_only(&s->cfg, next);
    server_refresh_halt(s, 0); /* lets a build in progress finish */
    pthread_rwlock_wrlock(&s->cfg_lock);
    server_refresh_stop(s); /* frees the per-source state sized by the old registries */
    take_runtime_settings(&s->cfg, next);
    server_refresh_init(&s->refresh);
    pthread_rwlock_unlock(&s->cfg_lock);
    cincy_log_set_level(s->cfg.log_level);
    cincy_error_clear(&err);
    if ((rc = server_refresh_start(s, &err)) < 0)
        cincy_log(CINCY_LOG_ERROR, "server", "config reload: refresh thread not restarted: %s",
                  cincy_error_format(&err, msg, sizeof(msg)));
    else
        cincy_log(CINCY_LOG_INFO, "server", "config reloaded, refreshing\tfile=\"%s\"",
                  s->cfg.file ? s->cfg.file : "(none)");
    return rc;
}
