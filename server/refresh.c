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
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

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

/* What a failed refresh leaves clients with, for its log line. */
static const char *outcome(void)
{
    return graph_snapshot_generation() ? "the previous graph keeps serving"
                                       : "no graph is served until a refresh succeeds";
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
        cincy_log(CINCY_LOG_ERROR, "refresh", "graph-data refresh failed, %s: %s", outcome(), msg);
}

/* ---------------------------------------------------------------------------
 * Registries (sources.releases.registry) */

/* The registry settings shared by release scrapes and a graph-data image. */
static ingest_registry_config registry_config(const server_config *cfg, const char *repository,
                                              const char *cache_dir)
{
    ingest_registry_config rc;

    memset(&rc, 0, sizeof(rc));
    rc.repository = repository;
    rc.auth_file = cfg->registry_auth_file;
    rc.ca_file = cfg->registry_ca_file;
    rc.insecure = cfg->registry_insecure;
    rc.trust_tags = cfg->registry_immutable_tags;
    rc.cache_dir = cache_dir;
    rc.concurrency = cfg->registry_concurrency;
    rc.timeout_seconds = cfg->registry_timeout;
    return rc;
}

/* "<state>/sources/<sub>", or NULL with err set. */
static char *state_path(const server_config *cfg, const char *sub, cincy_error *err)
{
    char *state = server_state_dir(cfg), *out = NULL;
    size_t n;

    if (!state) {
        cincy_error_set(err, CINCY_EINVALID, cfg->file, 0,
                        "no state directory: set state_dir, XDG_STATE_HOME or HOME");
        return NULL;
    }
    n = strlen(state) + strlen(sub) + sizeof("/sources/");
    if ((out = malloc(n)) != NULL)
        snprintf(out, n, "%s/sources/%s", state, sub);
    else
        cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    free(state);
    return out;
}

/* The cache directory of one repository: registry/<repository with every
 * character but [A-Za-z0-9._-] turned into '_'>. */
static char *registry_cache_dir(const server_config *cfg, const char *repository, cincy_error *err)
{
    char sub[512];
    size_t n = snprintf(sub, sizeof(sub), "registry/");

    for (const char *p = repository; *p && n + 1 < sizeof(sub); p++)
        sub[n++] = (isalnum((unsigned char)*p) || *p == '.' || *p == '-') ? *p : '_';
    sub[n] = '\0';
    return state_path(cfg, sub, err);
}

/* SHA-256 (hex) over the payloads of rels, in their (sorted) order: it
 * changes when an image is added, removed or retagged to another digest. */
static char *releases_revision(const ingest_releases *rels)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *hex = NULL;

    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        for (size_t i = 0; i < rels->count; i++) {
            EVP_DigestUpdate(ctx, rels->items[i].payload, strlen(rels->items[i].payload));
            EVP_DigestUpdate(ctx, "\n", 1);
        }
        if (EVP_DigestFinal_ex(ctx, md, &len) == 1 && (hex = malloc(2 * len + 1)))
            for (unsigned i = 0; i < len; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    EVP_MD_CTX_free(ctx);
    return hex;
}

/* Records one source's round on its status entry (caller holds r->lock):
 * on failure the error, on success the time and duration. Returns 1 when
 * the failure is new (worth a log line), else 0. */
static int note_source(server_source_state *st, int error, const cincy_error *err, double t0)
{
    char msg[800];
    int fresh = 0;

    if (error < 0) {
        cincy_error_format(err, msg, sizeof(msg));
        fresh = !st->last_error || strcmp(st->last_error, msg) != 0;
        replace(&st->last_error, strdup(msg));
        st->last_failure = wall_seconds();
        st->errors++;
    } else {
        replace(&st->last_error, NULL);
        st->last_success = wall_seconds();
        st->last_duration = st->last_success - t0;
    }
    return fresh;
}

/* Scrapes every configured repository into *out (merged). A failed scrape
 * fails the round (the last good graph keeps serving) and is recorded on that
 * repository's status entry, logged once per distinct message. */
static int scrape_registries(ingest_releases **out, server *s)
{
    server_refresh *r = &s->refresh;
    ingest_releases *all = NULL;
    int error = 0;

    if (!(all = calloc(1, sizeof(*all))))
        return CINCY_ERROR;
    for (size_t i = 0; i < s->cfg.release_registries.n; i++) {
        server_source_state *st = &r->registries[i];
        const char *repo = s->cfg.release_registries.items[i];
        ingest_releases *one = NULL;
        ingest_scrape_stats stats;
        ingest_registry_config rc;
        cincy_error err;
        char *cache, *rev = NULL, msg[800];
        double t0 = wall_seconds();
        int fresh;

        memset(&stats, 0, sizeof(stats));
        cincy_error_clear(&err);
        if (!(cache = registry_cache_dir(&s->cfg, repo, &err)))
            error = CINCY_ERROR;
        rc = registry_config(&s->cfg, repo, cache);
        if (!error && (error = ingest_registry_scrape(&one, &rc, &stats, &err)) == 0 &&
            !(rev = releases_revision(one)))
            error = cincy_error_set(&err, CINCY_ERROR, NULL, 0, "out of memory");
        if (!error)
            error = ingest_releases_merge(all, one, &err);
        free(cache);
        ingest_releases_free(one);
        pthread_mutex_lock(&r->lock);
        fresh = note_source(st, error, &err, t0);
        if (error == 0) {
            replace(&st->revision, rev);
            rev = NULL;
            st->stats = stats;
        }
        pthread_mutex_unlock(&r->lock);
        free(rev);
        if (error < 0) {
            if (fresh)
                cincy_log(CINCY_LOG_ERROR, "refresh", "registry scrape failed, %s: %s", outcome(),
                          cincy_error_format(&err, msg, sizeof(msg)));
            ingest_releases_free(all);
            return error;
        }
        cincy_log(CINCY_LOG_INFO, "refresh",
                  "registry scraped\trepository=%s tags=%zu releases=%zu skipped=%zu "
                  "rejected=%zu manifests=%zu blobs=%zu cache_hits=%zu duration_seconds=%.3f",
                  repo, stats.tags, stats.releases, stats.skipped, stats.rejected,
                  stats.manifests_fetched, stats.blobs_fetched, stats.cache_hits,
                  st->last_duration);
    }
    *out = all;
    return 0;
}

/* The combined revision of every repository's last scrape ("a,b,c"), or NULL
 * when there are none. Caller holds r->lock. */
static char *registries_revision(const server *s)
{
    const server_refresh *r = &s->refresh;
    size_t n = 1;
    char *out;

    if (!s->cfg.release_registries.n)
        return NULL;
    for (size_t i = 0; i < s->cfg.release_registries.n; i++)
        n += (r->registries[i].revision ? strlen(r->registries[i].revision) : 0) + 1;
    if (!(out = malloc(n)))
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < s->cfg.release_registries.n; i++) {
        if (i)
            strcat(out, ",");
        if (r->registries[i].revision)
            strcat(out, r->registries[i].revision);
    }
    return out;
}

/* ---------------------------------------------------------------------------
 * The round */

/* ---------------------------------------------------------------------------
 * Upstream (sources.upstream) */

/* Fetches the upstream's graphs. *out gets the merged graph when a body
 * changed (or when rebuild asks for it anyway), else NULL. A failure is
 * recorded on the upstream's status entry and logged once per message. */
static int fetch_upstream(ingest_upstream_graph **out, int *changed, server *s, ingest_upstream *up)
{
    server_refresh *r = &s->refresh;
    server_source_state *st = &r->upstream;
    ingest_upstream_stats stats;
    cincy_error err;
    char msg[800];
    double t0 = wall_seconds();
    int error, fresh;

    memset(&stats, 0, sizeof(stats));
    cincy_error_clear(&err);
    *out = NULL;
    error = ingest_upstream_fetch(out, changed, up, &stats, &err);
    pthread_mutex_lock(&r->lock);
    fresh = note_source(st, error, &err, t0);
    if (error == 0)
        st->up_stats = stats;
    pthread_mutex_unlock(&r->lock);
    if (error < 0 && fresh)
        cincy_log(CINCY_LOG_ERROR, "refresh", "upstream fetch failed, %s: %s", outcome(),
                  cincy_error_format(&err, msg, sizeof(msg)));
    return error;
}

/* What the refresh thread holds between rounds. */
typedef struct refresh_inputs {
    ingest_upstream *upstream; /* NULL: no upstream */
    ingest_source *graph_data; /* NULL: no graph-data source (an upstream alone) */
    char *graph_data_dir;      /* the tree of the revision last fetched */
    char *releases_served;     /* registries_revision() of the graph being served */
} refresh_inputs;

/* One refresh round: look at every source, and rebuild when one changed, on
 * a trigger, or while the last round failed. */
static void refresh_once(server *s, refresh_inputs *in, int forced)
{
    server_refresh *r = &s->refresh;
    char *revision = NULL, *dir = NULL, *known = NULL, *releases_rev = NULL;
    ingest_releases *scraped = NULL;
    ingest_upstream_graph *upgraph = NULL;
    server_inputs build = {NULL, NULL, NULL};
    cincy_error err;
    int changed = 0, failing;

    cincy_error_clear(&err);
    pthread_mutex_lock(&r->lock);
    failing = r->failing;
    /* While failing, every poll retries (a missing releases directory may
     * appear without the graph-data revision changing); the log stays quiet. */
    known = forced || failing ? NULL : dup_or_null(r->revision);
    pthread_mutex_unlock(&r->lock);
    if (in->graph_data) {
        if (ingest_source_fetch(in->graph_data, known, &revision, &dir, &changed, &err) < 0) {
            pthread_mutex_lock(&s->metrics.lock);
            s->metrics.load_errors_total++; /* a reload failure counts itself */
            pthread_mutex_unlock(&s->metrics.lock);
            note_failure(s, NULL, &err);
            goto cleanup;
        }
        if (changed) {
            pthread_mutex_lock(&r->lock);
            replace(&r->revision, dup_or_null(revision)); /* seen: not retried each poll */
            pthread_mutex_unlock(&r->lock);
            replace(&in->graph_data_dir, dir);
            dir = NULL;
        }
    }
    if (s->cfg.release_registries.n) {
        if (scrape_registries(&scraped, s) < 0) {
            pthread_mutex_lock(&r->lock);
            r->failing = 1;
            r->errors++;
            pthread_mutex_unlock(&r->lock);
            goto cleanup;
        }
        pthread_mutex_lock(&r->lock);
        releases_rev = registries_revision(s);
        pthread_mutex_unlock(&r->lock);
        if (!in->releases_served || !releases_rev || strcmp(in->releases_served, releases_rev))
            changed = 1;
    }
    if (in->upstream) {
        int up_changed = 0;

        if (fetch_upstream(&upgraph, &up_changed, s, in->upstream) < 0) {
            pthread_mutex_lock(&r->lock);
            r->failing = 1;
            r->errors++;
            pthread_mutex_unlock(&r->lock);
            goto cleanup;
        }
        changed |= up_changed;
    }
    if (!changed && !forced && !failing) {
        pthread_mutex_lock(&r->lock);
        r->unchanged++;
        pthread_mutex_unlock(&r->lock);
        goto cleanup;
    }
    /* A rebuild another input asked for reuses the bodies already held. */
    if (in->upstream && !upgraph && ingest_upstream_current(&upgraph, in->upstream, &err) < 0) {
        note_failure(s, NULL, &err);
        goto cleanup;
    }
    build.graph_data_dir = in->graph_data_dir;
    build.scraped = scraped;
    build.upstream = upgraph;
    if (server_reload_inputs(s, &build, &err) < 0) {
        pthread_mutex_lock(&r->lock);
        revision = revision ? revision : dup_or_null(r->revision);
        pthread_mutex_unlock(&r->lock);
        note_failure(s, revision, &err);
        goto cleanup;
    }
    replace(&in->releases_served, releases_rev);
    releases_rev = NULL;
    pthread_mutex_lock(&r->lock);
    r->changed++;
    r->failing = 0;
    replace(&r->serving_revision, dup_or_null(r->revision));
    replace(&r->last_error, NULL); /* the log keeps it; /status shows the state now */
    replace(&r->last_error_revision, NULL);
    r->last_success = wall_seconds();
    pthread_mutex_unlock(&r->lock);
cleanup:
    ingest_upstream_graph_free(upgraph);
    ingest_releases_free(scraped);
    free(releases_rev);
    free(known);
    free(revision);
    free(dir);
}

static const char *kind_name(server_graph_data_kind kind)
{
    return kind == SERVER_GRAPH_DATA_GIT       ? "git"
           : kind == SERVER_GRAPH_DATA_TARBALL ? "tarball"
           : kind == SERVER_GRAPH_DATA_IMAGE   ? "image"
                                               : "directory";
}

/* The configured graph-data source; git, tarball and image keep their fetched
 * data under <state_dir>/sources/graph-data, which the source creates on its
 * first fetch (not at config time, so tests of the parser touch no disk). */
static int open_source(ingest_source **out, server *s, cincy_error *err)
{
    const server_config *cfg = &s->cfg;
    ingest_source_config sc = {INGEST_SOURCE_DIRECTORY, cfg->graph_data_dir, NULL, NULL, NULL};
    ingest_registry_config rc = registry_config(cfg, NULL, NULL);
    char *cache = NULL;
    int error;

    if (cfg->graph_data_kind != SERVER_GRAPH_DATA_DIRECTORY) {
        sc.kind = cfg->graph_data_kind == SERVER_GRAPH_DATA_GIT     ? INGEST_SOURCE_GIT
                  : cfg->graph_data_kind == SERVER_GRAPH_DATA_IMAGE ? INGEST_SOURCE_IMAGE
                                                                    : INGEST_SOURCE_TARBALL;
        sc.location = cfg->graph_data_location;
        sc.reference = cfg->graph_data_reference;
        sc.registry = &rc;
        if (!(cache = state_path(cfg, "graph-data", err)))
            return CINCY_EINVALID;
        sc.cache_dir = cache; /* the source creates it */
    }
    error = ingest_source_new(out, &sc, err);
    free(cache);
    return error;
}

static int has_graph_data(const server_config *cfg)
{
    return cfg->graph_data_kind != SERVER_GRAPH_DATA_DIRECTORY || cfg->graph_data_dir;
}

static int open_upstream(ingest_upstream **out, server *s, cincy_error *err)
{
    const server_config *cfg = &s->cfg;
    ingest_upstream_config uc;

    memset(&uc, 0, sizeof(uc));
    uc.url = cfg->upstream_url;
    uc.channels = (const char *const *)cfg->upstream_channels.items;
    uc.nchannels = cfg->upstream_channels.n;
    uc.arches = (const char *const *)cfg->upstream_arches.items;
    uc.narches = cfg->upstream_arches.n;
    uc.ca_file = cfg->registry_ca_file;
    uc.insecure = cfg->registry_insecure;
    uc.timeout_seconds = cfg->registry_timeout;
    return ingest_upstream_new(out, &uc, err);
}

static void *refresh_main(void *arg)
{
    server *s = arg;
    server_refresh *r = &s->refresh;
    refresh_inputs in = {NULL, NULL, NULL, NULL};
    cincy_error err;
    struct timespec until;
    int forced = 1; /* the first round always loads */

    cincy_error_clear(&err);
    if ((has_graph_data(&s->cfg) && open_source(&in.graph_data, s, &err) < 0) ||
        (s->cfg.upstream_url && open_upstream(&in.upstream, s, &err) < 0)) {
        note_failure(s, NULL, &err);
        ingest_source_free(in.graph_data);
        return NULL;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        pthread_mutex_unlock(&r->lock);
        refresh_once(s, &in, forced);
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
    ingest_source_free(in.graph_data);
    ingest_upstream_free(in.upstream);
    free(in.graph_data_dir);
    free(in.releases_served);
    return NULL;
}

int server_refresh_start(server *s, cincy_error *err)
{
    int rc;

    if (!has_graph_data(&s->cfg) && !s->cfg.upstream_url)
        return cincy_error_set(err, CINCY_EINVALID, s->cfg.file, 0,
                               "no graph-data configured (sources.graph_data)");
    if (!s->cfg.releases_dir && !s->cfg.release_registries.n && !s->cfg.upstream_url)
        return cincy_error_set(err, CINCY_EINVALID, s->cfg.file, 0,
                               "no releases configured (sources.releases.directory or "
                               "sources.releases.registry)");
    if (s->cfg.release_registries.n &&
        !(s->refresh.registries =
              calloc(s->cfg.release_registries.n, sizeof(*s->refresh.registries))))
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
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
    for (size_t i = 0; i < s->cfg.release_registries.n && r->registries; i++) {
        free(r->registries[i].revision);
        free(r->registries[i].last_error);
    }
    free(r->registries);
    free(r->upstream.last_error);
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
    json_t *doc, *graph, *gd, *sources;
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
    sources = json_array();
    json_array_append_new(sources, gd);
    if (s->cfg.releases_dir)
        json_array_append_new(
            sources,
            json_pack("{s:s, s:s, s:o, s:n, s:n, s:o, s:o, s:o, s:o}", "name", "releases", "type",
                      "directory", "location", str_json(s->cfg.releases_dir), "reference",
                      "revision", "last_success", time_json(r->last_success), "last_failure",
                      time_json(r->last_failure), "last_error", str_json(r->last_error),
                      "last_error_revision", str_json(r->last_error_revision)));
    if (s->cfg.upstream_url)
        json_array_append_new(
            sources,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:f, s:{s:I, s:I, s:I, s:I}}", "name",
                      "upstream", "type", "cincinnati", "location", s->cfg.upstream_url,
                      "last_success", time_json(r->upstream.last_success), "last_failure",
                      time_json(r->upstream.last_failure), "last_error",
                      str_json(r->upstream.last_error), "fetch_seconds", r->upstream.last_duration,
                      "last_fetch", "requests", (json_int_t)r->upstream.up_stats.requests,
                      "not_modified", (json_int_t)r->upstream.up_stats.not_modified, "same_body",
                      (json_int_t)r->upstream.up_stats.same_body, "changed",
                      (json_int_t)r->upstream.up_stats.changed));
    for (size_t i = 0; r->registries && i < s->cfg.release_registries.n; i++) {
        const server_source_state *st = &r->registries[i];

        json_array_append_new(
            sources,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:f, s:{s:I, s:I, s:I, s:I, s:I, s:I, "
                      "s:I}}",
                      "name", "releases", "type", "registry", "location",
                      s->cfg.release_registries.items[i], "revision", str_json(st->revision),
                      "last_success", time_json(st->last_success), "last_failure",
                      time_json(st->last_failure), "last_error", str_json(st->last_error),
                      "scrape_seconds", st->last_duration, "last_scrape", "tags",
                      (json_int_t)st->stats.tags, "releases", (json_int_t)st->stats.releases,
                      "skipped", (json_int_t)st->stats.skipped, "rejected",
                      (json_int_t)st->stats.rejected, "manifests_fetched",
                      (json_int_t)st->stats.manifests_fetched, "blobs_fetched",
                      (json_int_t)st->stats.blobs_fetched, "cache_hits",
                      (json_int_t)st->stats.cache_hits));
    }
    pthread_mutex_unlock(&r->lock);
    doc = json_pack("{s:b, s:o, s:o}", "ready", graph_snapshot_generation() != 0, "graph", graph,
                    "sources", sources);
    text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text)
        return CINCY_ERROR;
    *out = text;
    *out_len = strlen(text);
    return 0;
}

/* Per-repository scrape figures. Repository names are label values: they
 * hold no '"' or '\\' (a registry reference cannot). Caller holds r->lock. */
static void registry_metrics(FILE *f, server *s)
{
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"cincy_registry_releases", "gauge", "Release records from the last good scrape."},
        {"cincy_registry_tags", "gauge", "Tags listed by the last good scrape."},
        {"cincy_registry_rejected", "gauge",
         "Tags rejected for bad content (digest, archive, "
         "metadata) in the last good scrape."},
        {"cincy_registry_blobs_fetched", "gauge",
         "Blobs downloaded by the last good scrape "
         "(0 when everything came from the cache)."},
        {"cincy_registry_scrape_duration_seconds", "gauge", "Duration of the last good scrape."},
        {"cincy_registry_last_success_timestamp_seconds", "gauge", "Last good scrape."},
        {"cincy_registry_scrape_errors_total", "counter", "Failed scrapes."},
    };
    const server_refresh *r = &s->refresh;

    for (size_t k = 0; k < sizeof(m) / sizeof(*m); k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name, m[k].type);
        for (size_t i = 0; i < s->cfg.release_registries.n; i++) {
            const server_source_state *st = &r->registries[i];
            double v = k == 0   ? (double)st->stats.releases
                       : k == 1 ? (double)st->stats.tags
                       : k == 2 ? (double)st->stats.rejected
                       : k == 3 ? (double)st->stats.blobs_fetched
                       : k == 4 ? st->last_duration
                       : k == 5 ? st->last_success
                                : (double)st->errors;

            fprintf(f, "%s{repository=\"%s\"} %.3f\n", m[k].name,
                    s->cfg.release_registries.items[i], v);
        }
    }
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
    if (s->cfg.release_registries.n && r->registries)
        registry_metrics(f, s);
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
