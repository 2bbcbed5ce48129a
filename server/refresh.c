/* server/refresh.c - the background refresh thread, the /status document and
 * the per-source metrics.
 *
 * DESIGN. One thread owns the graph-data source. It wakes every poll_seconds,
 * or at once when triggered (SIGHUP, POST /refresh), asks the source for its
 * revision and reloads only when the revision changed or the wake was a
 * trigger. A failed load keeps the last good snapshot and is retried each
 * poll, but the same error for the same revision is logged once, not once
 * per poll. The wait is a timed condition wait so stop is prompt.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "ingest/ingest.h"
#include "server/server_internal.h"

void server_refresh_init(server_refresh *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
}

static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void replace(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Records a failure; logs it only when it is new for this revision. */
static void note_failure(server *s, const char *revision, const cincy_error *err)
{
    server_refresh *r = &s->refresh;
    char msg[800];
    int repeat;

    cincy_error_format(err, msg, sizeof(msg));
    pthread_mutex_lock(&r->lock);
    r->errors++;
    r->failing = 1;
    r->last_failure = wall_seconds();
    repeat = r->last_error && !strcmp(r->last_error, msg) &&
             ((!revision && !r->last_error_revision) ||
              (revision && r->last_error_revision && !strcmp(revision, r->last_error_revision)));
    replace(&r->last_error, strdup(msg));
    replace(&r->last_error_revision, dup_or_null(revision));
    pthread_mutex_unlock(&r->lock);
    if (!repeat)
        cincy_log(CINCY_LOG_ERROR, "refresh",
                  "graph-data refresh failed, the previous graph keeps serving: %s", msg);
}

/* One refresh round: fetch, and reload when changed or forced. */
static void refresh_once(server *s, ingest_source *src, int forced)
{
    server_refresh *r = &s->refresh;
    char *revision = NULL, *dir = NULL, *known;
    cincy_error err;
    int changed = 0;

    cincy_error_clear(&err);
    pthread_mutex_lock(&r->lock);
    /* While failing, every poll retries (a missing releases directory may
     * appear without the graph-data revision changing); the log stays quiet. */
    known = forced || r->failing ? NULL : dup_or_null(r->revision);
    pthread_mutex_unlock(&r->lock);
    if (ingest_source_fetch(src, known, &revision, &dir, &changed, &err) < 0) {
        pthread_mutex_lock(&s->metrics.lock);
        s->metrics.load_errors_total++; /* a reload failure counts itself */
        pthread_mutex_unlock(&s->metrics.lock);
        note_failure(s, NULL, &err);
        goto cleanup;
    }
    if (!changed) {
        pthread_mutex_lock(&r->lock);
        r->unchanged++;
        pthread_mutex_unlock(&r->lock);
        goto cleanup;
    }
    pthread_mutex_lock(&r->lock);
    replace(&r->revision, dup_or_null(revision)); /* seen: a bad one is not retried each poll */
    pthread_mutex_unlock(&r->lock);
    if (server_reload_quiet(s, dir, &err) < 0) {
        note_failure(s, revision, &err);
        goto cleanup;
    }
    pthread_mutex_lock(&r->lock);
    r->changed++;
    r->failing = 0;
    replace(&r->serving_revision, dup_or_null(revision));
    replace(&r->last_error, NULL); /* the log keeps it; /status shows the state now */
    replace(&r->last_error_revision, NULL);
    r->last_success = wall_seconds();
    pthread_mutex_unlock(&r->lock);
cleanup:
    free(known);
    free(revision);
    free(dir);
}

static const char *kind_name(server_graph_data_kind kind)
{
    return kind == SERVER_GRAPH_DATA_GIT       ? "git"
           : kind == SERVER_GRAPH_DATA_TARBALL ? "tarball"
                                               : "directory";
}

/* The configured graph-data source; git and tarball keep their fetched data
 * under <state_dir>/sources/graph-data, which the source creates on its first
 * fetch (not at config time, so tests of the parser touch no disk). */
static int open_source(ingest_source **out, server *s, cincy_error *err)
{
    const server_config *cfg = &s->cfg;
    ingest_source_config sc = {INGEST_SOURCE_DIRECTORY, cfg->graph_data_dir, NULL, NULL, NULL};
    char *state = NULL, *cache = NULL;
    size_t n;
    int error;

    if (cfg->graph_data_kind != SERVER_GRAPH_DATA_DIRECTORY) {
        sc.kind = cfg->graph_data_kind == SERVER_GRAPH_DATA_GIT ? INGEST_SOURCE_GIT
                                                                : INGEST_SOURCE_TARBALL;
        sc.location = cfg->graph_data_location;
        sc.reference = cfg->graph_data_reference;
        if (!(state = server_state_dir(cfg))) {
            error = cincy_error_set(err, CINCY_EINVALID, cfg->file, 0,
                                    "no state directory: set state_dir, XDG_STATE_HOME or HOME");
            goto cleanup;
        }
        n = strlen(state) + sizeof("/sources/graph-data");
        if (!(cache = malloc(n))) {
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
            goto cleanup;
        }
        snprintf(cache, n, "%s/sources/graph-data", state); /* the source creates it */
        sc.cache_dir = cache;
    }
    error = ingest_source_new(out, &sc, err);
cleanup:
    free(state);
    free(cache);
    return error;
}

static void *refresh_main(void *arg)
{
    server *s = arg;
    server_refresh *r = &s->refresh;
    ingest_source *src = NULL;
    cincy_error err;
    struct timespec until;
    int forced = 1; /* the first round always loads */

    cincy_error_clear(&err);
    if (open_source(&src, s, &err) < 0) {
        note_failure(s, NULL, &err);
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        pthread_mutex_unlock(&r->lock);
        refresh_once(s, src, forced);
        pthread_mutex_lock(&r->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->cfg.poll_seconds ? s->cfg.poll_seconds : 300;
        while (!r->stop && !r->forced)
            if (pthread_cond_timedwait(&r->wake, &r->lock, &until) == ETIMEDOUT)
                break;
        forced = r->forced;
        r->forced = 0;
    }
    pthread_mutex_unlock(&r->lock);
    ingest_source_free(src);
    return NULL;
}

int server_refresh_start(server *s, cincy_error *err)
{
    int rc;

    if ((s->cfg.graph_data_kind == SERVER_GRAPH_DATA_DIRECTORY && !s->cfg.graph_data_dir) ||
        !s->cfg.releases_dir)
        return cincy_error_set(err, CINCY_EINVALID, s->cfg.file, 0, "no %s directory configured",
                               s->cfg.releases_dir ? "graph-data" : "releases");
    if ((rc = pthread_create(&s->refresh.thread, NULL, refresh_main, s)) != 0)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "cannot start the refresh thread: %s",
                               strerror(rc));
    s->refresh.running = 1;
    return 0;
}

void server_refresh_trigger(server *s)
{
    pthread_mutex_lock(&s->refresh.lock);
    s->refresh.forced = 1;
    pthread_cond_signal(&s->refresh.wake);
    pthread_mutex_unlock(&s->refresh.lock);
}

void server_refresh_stop(server *s)
{
    server_refresh *r = &s->refresh;

    if (r->running) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        r->running = 0;
    }
    free(r->revision);
    free(r->serving_revision);
    free(r->last_error);
    free(r->last_error_revision);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
}

/* ---------------------------------------------------------------------------
 * /status and metrics */

/* RFC 3339 UTC time, or JSON null for 0 ("never"). */
static json_t *time_json(double t)
{
    char buf[32];
    time_t secs = (time_t)t;
    struct tm tm;

    if (t <= 0 || !gmtime_r(&secs, &tm))
        return json_null();
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static json_t *str_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

int server_status_render(char **out, size_t *out_len, server *s)
{
    server_refresh *r = &s->refresh;
    server_metrics *m = &s->metrics;
    json_t *doc, *graph, *gd, *rel;
    char *text;

    graph = json_object();
    pthread_mutex_lock(&m->lock);
    json_object_set_new(graph, "nodes", json_integer((json_int_t)m->nodes));
    json_object_set_new(graph, "edges", json_integer((json_int_t)m->edges));
    json_object_set_new(graph, "conditional_edges", json_integer((json_int_t)m->cond_edges));
    json_object_set_new(graph, "built_at", time_json(m->last_load_timestamp));
    json_object_set_new(graph, "build_seconds", json_real(m->last_load_duration));
    pthread_mutex_unlock(&m->lock);
    json_object_set_new(graph, "generation", json_integer((json_int_t)graph_snapshot_generation()));

    pthread_mutex_lock(&r->lock);
    gd = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", "graph-data",
                   "type", kind_name(s->cfg.graph_data_kind), "location",
                   str_json(s->cfg.graph_data_kind == SERVER_GRAPH_DATA_DIRECTORY
                                ? s->cfg.graph_data_dir
                                : s->cfg.graph_data_location),
                   "reference", str_json(s->cfg.graph_data_reference), "revision",
                   str_json(r->revision), "serving_revision", str_json(r->serving_revision),
                   "last_success", time_json(r->last_success), "last_failure",
                   time_json(r->last_failure), "last_error", str_json(r->last_error),
                   "last_error_revision", str_json(r->last_error_revision));
    rel = json_pack("{s:s, s:s, s:o, s:n, s:n, s:o, s:o, s:o, s:o}", "name", "releases", "type",
                    "directory", "location", str_json(s->cfg.releases_dir), "reference", "revision",
                    "last_success", time_json(r->last_success), "last_failure",
                    time_json(r->last_failure), "last_error", str_json(r->last_error),
                    "last_error_revision", str_json(r->last_error_revision));
    pthread_mutex_unlock(&r->lock);
    doc = json_pack("{s:b, s:o, s:[o,o]}", "ready", graph_snapshot_generation() != 0, "graph",
                    graph, "sources", gd, rel);
    text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text)
        return CINCY_ERROR;
    *out = text;
    *out_len = strlen(text);
    return 0;
}

int server_refresh_metrics(char **buf, size_t *len, server *s)
{
    server_refresh *r = &s->refresh;
    char *text = NULL, *joined;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    if (!f)
        return CINCY_ERROR;
    pthread_mutex_lock(&r->lock);
    fputs("# HELP cincy_source_refreshes_total Source refresh rounds by result.\n"
          "# TYPE cincy_source_refreshes_total counter\n",
          f);
    fprintf(f, "cincy_source_refreshes_total{source=\"graph-data\",result=\"changed\"} %llu\n",
            (unsigned long long)r->changed);
    fprintf(f, "cincy_source_refreshes_total{source=\"graph-data\",result=\"unchanged\"} %llu\n",
            (unsigned long long)r->unchanged);
    fprintf(f, "cincy_source_refreshes_total{source=\"graph-data\",result=\"error\"} %llu\n",
            (unsigned long long)r->errors);
    fputs("# HELP cincy_source_last_success_timestamp_seconds Last successful refresh.\n"
          "# TYPE cincy_source_last_success_timestamp_seconds gauge\n",
          f);
    fprintf(f, "cincy_source_last_success_timestamp_seconds{source=\"graph-data\"} %.3f\n",
            r->last_success);
    fputs("# HELP cincy_source_revision_info The revision last seen per source.\n"
          "# TYPE cincy_source_revision_info gauge\n",
          f);
    if (r->revision)
        fprintf(f, "cincy_source_revision_info{source=\"graph-data\",revision=\"%s\"} 1\n",
                r->revision);
    pthread_mutex_unlock(&r->lock);
    if (fclose(f) != 0 || !(joined = realloc(*buf, *len + n + 1))) {
        free(text);
        return CINCY_ERROR;
    }
    memcpy(joined + *len, text, n + 1);
    *buf = joined;
    *len += n;
    free(text);
    return 0;
}
