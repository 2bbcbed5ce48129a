/* tests/oom/src/oom_main.c - cincy-oomtest: allocation-failure testing, SQLite style.
 *
 * For N = 1, 2, ... until a run completes without reaching allocation N, the
 * N-th allocation of the pipeline thread fails (or, in the second mode, every
 * allocation from the N-th on), and the run must
 *   - report the failure: < 0 with an "out of memory" error (a success only
 *     where the failed allocation fed an optional extra this file names);
 *   - leak nothing: every block the run allocated is freed again;
 *   - leave the served graph alone: the snapshot published before is still
 *     current (same pointer, same generation) and serialises byte for byte
 *     as the reference did.
 * Two pipelines (docs/testing.md):
 *   lib:    ingest_graph_data_load + ingest_releases_load_dir -> policy_build
 *           -> the /v1/graph body of three channel/arch views through the
 *           server's response cache (policy_filter, graph_snapshot_to_json,
 *           server_body_new) -> graph_snapshot_publish;
 *   server: server_reload on an in-process server (listeners up), checked
 *           through the server's state and, at the end, over HTTP;
 *   path:   policy_path_find, policy_path_json and policy_plan_json on the
 *           served snapshot (P/v1/path and P/v1/plan).
 *
 * Usage: cincy-oomtest [--pipeline lib|server|path] [--mode nth|from] [--only N]
 * --only N runs that one N (with the checks) and stops: the way to debug one
 * failure point under gdb. CINCY_OOM_STACK=1 prints the failed allocation's
 * stack (ASan builds).
 */
#define _GNU_SOURCE /* nftw's FTW_DEPTH, FTW_PHYS */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define OOM_LSAN 1
#else
#define OOM_LSAN 0
#endif

#include "graph/graph.h"
#include "ingest/ingest.h"
#include "oom_alloc.h"
#include "policy/policy.h"
#include "server/server.h"
#include "server/server_internal.h"

#define MAX_PROBLEMS 10 /* stop a loop after this many failing points: the rest repeat them */
/* The served snapshot's pointer and generation are checked after every
 * point; re-serialising it (three views) after every 32nd failed point and
 * after every success: it is immutable, so a change would have to come from
 * a stray write, which ASan reports at once anyway. */
#define SERIALISE_EVERY 32

/* Allocations that may fail without failing the run: each one only feeds a
 * cache or a report, and the served bytes are checked to stay the same.
 * Matched against the function that asked for the failed allocation (ASan's
 * symboliser; without it no failure is excused). */
static const char *const optional_sites[] = {
    "policy_regex_get", /* policy/regex.c: the per-regex match memo ("NULL just means no memo") */
};

typedef struct view {
    const char *channel, *arch;
} view;

/* The views whose bodies are compared: a channel with a PromQL risk, a
 * cross-minor channel with an Always risk, and a prerelease channel. All
 * amd64: the server pipeline loads amd64 only, and must serve the very bytes
 * the lib pipeline's build of both arches gives. */
static const view views[] = {
    {"stable-4.1", "amd64"},
    {"stable-4.2", "amd64"},
    {"prerelease-4.2", "amd64"},
};
#define NVIEWS (sizeof(views) / sizeof(views[0]))

static char tmp[256];
static char graph_data_dir[512];
static char releases_dir[512];        /* amd64 and arm64: the lib pipeline */
static char server_releases_dir[512]; /* amd64 only: the server pipeline */
/* Two more bodies a lib run renders from its snapshot: P/v1/channels and
 * P/v1/blocked of stable-4.2/amd64 (built with json_dumps, not json.c). */
#define BODY_CHANNELS NVIEWS
#define BODY_BLOCKED (NVIEWS + 1)
#define NBODIES (NVIEWS + 2)

static char *reference[NBODIES]; /* the bodies of the first good build */
static size_t reference_len[NBODIES];
static unsigned problems; /* failed checks, over every loop */

/* ---------------------------------------------------------------------------
 * Data: tests/oom/data/graph-data (a few channels and blocked edges of
 * config/graph-data) plus demo release records for amd64 and arm64. */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const cincy_error *err)
{
    char msg[800];

    fprintf(stderr, "oomtest: %s: %s\n", what, err ? cincy_error_format(err, msg, sizeof(msg)) : "");
    if (tmp[0])
        rm_rf(tmp);
    exit(2);
}

/* Demo release records of gd under dir, for the arches not in dropped. */
static void write_releases(const ingest_graph_data *gd, const char *dir,
                           const char *const *dropped)
{
    cincy_error err;
    size_t n = 0;
    char path[600];

    if (ingest_demo_write(gd, dir, &n, &err) < 0)
        die("writing release records", &err);
    for (; *dropped; dropped++) {
        snprintf(path, sizeof(path), "%s/%s", dir, *dropped);
        rm_rf(path);
    }
}

static void write_data(const char *source_dir)
{
    /* The cost grows with the square of a run's allocations: two arches for
     * the full pipeline, one for the reload, whose ingest and policy part is
     * the same code. The other arches take the same paths. */
    static const char *const lib_dropped[] = {"ppc64le", "s390x", "multi", NULL};
    static const char *const server_dropped[] = {"arm64", "ppc64le", "s390x", "multi", NULL};
    ingest_graph_data *gd = NULL;
    cincy_error err;

    snprintf(tmp, sizeof(tmp), "/tmp/cincy-oom-XXXXXX");
    if (!mkdtemp(tmp))
        die("mkdtemp", NULL);
    snprintf(graph_data_dir, sizeof(graph_data_dir), "%s", source_dir);
    snprintf(releases_dir, sizeof(releases_dir), "%s/releases", tmp);
    snprintf(server_releases_dir, sizeof(server_releases_dir), "%s/server-releases", tmp);
    if (ingest_graph_data_load_dir(&gd, graph_data_dir, &err) < 0)
        die("reading the graph-data", &err);
    write_releases(gd, releases_dir, lib_dropped);
    write_releases(gd, server_releases_dir, server_dropped);
    ingest_graph_data_free(gd);
}

/* ---------------------------------------------------------------------------
 * Rendering a view, as server/http.c's render_graph does */

typedef struct render_ctx {
    const graph_snapshot *full;
    cincy_error *err;
} render_ctx;

/* server_render_fn: policy_filter, graph_snapshot_to_json, server_body_new. */
static int render_view(server_body **out, const char *channel, const char *arch, void *cls)
{
    render_ctx *ctx = cls;
    graph_snapshot *v = NULL;
    char *json = NULL;
    size_t len = 0;
    int error;

    if ((error = policy_filter(&v, ctx->full, channel, arch, ctx->err)) < 0)
        goto cleanup;
    if ((error = graph_snapshot_to_json(&json, &len, v, GRAPH_JSON_V1)) < 0) {
        /* CINCY_ERROR is out of memory there; CINCY_EINVALID would be a bug */
        cincy_error_set(ctx->err, error, NULL, 0, "%s (graph_snapshot_to_json)",
                        error == CINCY_ERROR ? "out of memory" : "invalid UTF-8");
        goto cleanup;
    }
    if (!(*out = server_body_new(json, len, 1)))
        error = cincy_error_set(ctx->err, CINCY_ERROR, NULL, 0, "out of memory (server_body_new)");
cleanup:
    free(json);
    graph_snapshot_unref(v);
    return error;
}

/* The body of view i of full, rendered without the cache, into *out (new). */
static int render_plain(char **out, size_t *len, const graph_snapshot *full, size_t i)
{
    cincy_error err;
    render_ctx ctx = {full, &err};
    server_body *b = NULL;

    if (render_view(&b, views[i].channel, views[i].arch, &ctx) < 0)
        return -1;
    *out = malloc(b->len + 1);
    if (*out)
        memcpy(*out, b->data, b->len + 1);
    *len = b->len;
    server_body_unref(b);
    return *out ? 0 : -1;
}

/* 1 when the served snapshot is `before` at generation `gen` and each view
 * of it serialises to the reference bytes. why gets the first difference. */
static int served_intact(const graph_snapshot *before, uint64_t gen, int serialise, char *why,
                         size_t size)
{
    graph_snapshot *cur = graph_snapshot_current();
    int ok = 1;

    if (before && (cur != before || graph_snapshot_generation() != gen)) {
        snprintf(why, size, "the served snapshot changed (generation %llu -> %llu)",
                 (unsigned long long)gen, (unsigned long long)graph_snapshot_generation());
        ok = 0;
    }
    for (size_t i = 0; ok && serialise && i < NVIEWS; i++) {
        char *body = NULL;
        size_t len = 0;

        if (render_plain(&body, &len, cur, i) < 0) {
            snprintf(why, size, "cannot render %s/%s unarmed", views[i].channel, views[i].arch);
            ok = 0;
        } else if (len != reference_len[i] || memcmp(body, reference[i], len)) {
            snprintf(why, size, "%s/%s serialises differently from the reference",
                     views[i].channel, views[i].arch);
            ok = 0;
        }
        free(body);
    }
    graph_snapshot_unref(cur);
    return ok;
}

/* ---------------------------------------------------------------------------
 * The two pipelines. A run returns 0 or < 0 with err set; *optional receives
 * the name of the optional extra a failure was absorbed by, if any. */

typedef struct pipeline {
    const char *name;
    int (*run)(cincy_error *err, const char **optional, void *cls);
    void *cls;
} pipeline;

/* Records body i (the reference run) or compares it with the reference. */
static int check_body(size_t i, const char *data, size_t len, cincy_error *err)
{
    static const char *const extra_names[] = {"P/v1/channels", "P/v1/blocked"};

    if (!reference[i]) {
        if (!(reference[i] = malloc(len + 1)))
            return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory (reference)");
        memcpy(reference[i], data, len);
        reference[i][len] = '\0';
        reference_len[i] = len;
        return 0;
    }
    if (len == reference_len[i] && !memcmp(data, reference[i], len))
        return 0;
    if (i < NVIEWS)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "%s/%s: the body differs from the reference", views[i].channel,
                               views[i].arch);
    return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "%s: the body differs from the reference",
                           extra_names[i - NVIEWS]);
}

/* check_body of a new malloc'd text (NULL: out of memory, as the API says). */
static int check_text(size_t i, char *text, cincy_error *err)
{
    int error;

    if (!text)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory (json_dumps)");
    error = check_body(i, text, strlen(text), err);
    free(text);
    return error;
}

static server_cache lib_cache;
static uint64_t lib_generation; /* cache generation: each run renders afresh */

static int lib_run(cincy_error *err, const char **optional, void *cls)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rels = NULL;
    graph_snapshot *snap = NULL;
    render_ctx ctx = {NULL, err};
    int error;

    (void)cls, (void)optional;
    if ((error = ingest_graph_data_load(&gd, graph_data_dir, INGEST_GD_STRICT, err)) < 0 ||
        (error = ingest_releases_load_dir(&rels, releases_dir, err)) < 0 ||
        (error = policy_build(&snap, rels, gd, NULL, err)) < 0)
        goto cleanup;
    ctx.full = snap;
    lib_generation++;
    for (size_t i = 0; i < NVIEWS; i++) {
        server_body *b = NULL;

        if ((error = server_cache_fetch(&b, &lib_cache, lib_generation, views[i].channel,
                                        views[i].arch, render_view, &ctx)) < 0)
            goto cleanup;
        error = check_body(i, b->data, b->len, err);
        server_body_unref(b);
        if (error < 0)
            goto cleanup;
    }
    if ((error = check_text(BODY_CHANNELS, policy_channels_json(snap, NULL, 0), err)) < 0 ||
        (error = check_text(BODY_BLOCKED, policy_removed_json(snap, "stable-4.2", "amd64"), err)) <
            0)
        goto cleanup;
    graph_snapshot_publish(snap);
    snap = NULL;
cleanup:
    server_cache_clear(&lib_cache); /* the bodies are this run's: drop them */
    graph_snapshot_unref(snap);
    ingest_releases_free(rels);
    ingest_graph_data_free(gd);
    return error;
}

/* server_reload (as server_reload_inputs, which does not log its error line
 * at every point). Two steps after the publish may fail without failing the
 * reload (server/server.c): the graph-data tarball (P/graph-data answers 500
 * until the next load) and remembering the served channels (only weakens the
 * channel-removal check). *optional names which one a failure hit. */
static int server_run(cincy_error *err, const char **optional, void *cls)
{
    server *s = cls;
    server_inputs in = {s->cfg.graph_data_dir, NULL, NULL};
    server_body *tar;
    /* server_reload's inputs without its error log line (one per point) */
    int error = server_reload_inputs(s, &in, err);

    if (error < 0)
        return error;
    tar = server_graph_data_get(s);
    if (!tar)
        *optional = "graph-data tarball (server.c:publish_graph_data_tar)";
    else if (s->nserved_channels != 3)
        *optional = "served channel list (server.c:remember_channels)";
    server_body_unref(tar);
    return 0;
}

/* P/v1/path and P/v1/plan on the served snapshot: no build, so each run is a
 * few hundred allocations. A conditional hop (accept risks) of stable-4.2,
 * and a query the blocked edges leave without a path (the blocking list). */
static char *path_reference, *plan_reference, *no_path_reference;

static int compare_text(char **reference, char *text, const char *what, cincy_error *err)
{
    int same;

    if (!text)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory (%s)", what);
    if (!*reference) { /* the reference run keeps it */
        *reference = text;
        return 0;
    }
    same = !strcmp(text, *reference);
    free(text);
    return same ? 0
                : cincy_error_set(err, CINCY_EINVALID, NULL, 0, "%s differs from the reference",
                                  what);
}

static int path_run(cincy_error *err, const char **optional, void *cls)
{
    static const policy_path_query q = {"stable-4.2", "amd64", "4.2.0", "4.2.2", 1,
                                        POLICY_PATH_STANDARD};
    static const policy_path_query blocked = {"stable-4.2", "amd64", "4.1.8", "4.2.2", 0,
                                              POLICY_PATH_STANDARD};
    static const policy_plan_input in = {3, 6, 2, NULL, 0};
    graph_snapshot *full = graph_snapshot_current();
    policy_path *path = NULL, *none = NULL;
    cincy_error why;
    int error;

    (void)optional, (void)cls;
    if ((error = policy_path_find(&path, full, &q, err)) < 0 ||
        (error = compare_text(&path_reference, policy_path_json(path), "policy_path_json", err)) <
            0 ||
        (error = compare_text(&plan_reference, policy_plan_json(path, &in), "policy_plan_json",
                              err)) < 0)
        goto cleanup;
    /* "no path" is this query's answer: any other result is the run's error */
    if ((error = policy_path_find(&none, full, &blocked, &why)) != CINCY_ENOTFOUND) {
        if (error == 0)
            error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "4.1.8 -> 4.2.2 found a path");
        else
            *err = why;
        goto cleanup;
    }
    error = compare_text(&no_path_reference, policy_path_json(none), "policy_path_json (no path)",
                         err);
cleanup:
    policy_path_free(path);
    policy_path_free(none);
    graph_snapshot_unref(full);
    return error;
}

/* ---------------------------------------------------------------------------
 * The loop */

static void problem(const pipeline *p, oom_mode mode, uint64_t n, const char *what)
{
    char where[512];

    fprintf(stderr, "oomtest: FAIL %s %s N=%llu (failed allocation asked for by %s): %s\n",
            p->name, mode == OOM_FAIL_NTH ? "nth" : "from", (unsigned long long)n,
            oom_symbolize(oom_failed_caller(), where, sizeof(where)), what);
    problems++;
}

/* The optional site a failed allocation came from, or NULL. */
static const char *optional_site(void)
{
    char where[512];
    const char *fn = oom_symbolize(oom_failed_caller(), where, sizeof(where));

    if (!strncmp(fn, "in ", 3)) /* "in policy_regex_get /work/main/policy/regex.c:82" */
        fn += 3;
    for (size_t i = 0; i < sizeof(optional_sites) / sizeof(optional_sites[0]); i++) {
        size_t n = strlen(optional_sites[i]);

        if (!strncmp(fn, optional_sites[i], n) && fn[n] == ' ')
            return optional_sites[i];
    }
    return NULL;
}

/* Runs p once with allocation n failing; checks the outcome. Returns 1 when
 * the run completed without reaching allocation n. */
static int run_point(const pipeline *p, oom_mode mode, uint64_t n, size_t *leaks)
{
    graph_snapshot *before = graph_snapshot_current();
    uint64_t gen = graph_snapshot_generation();
    const char *optional = NULL;
    cincy_error err;
    char why[512], msg[800];
    int rc, done = 0;

    graph_snapshot_unref(before); /* only compared as a pointer from here on */
    cincy_error_clear(&err);
    oom_arm(n, mode);
    rc = p->run(&err, &optional, p->cls);
    oom_disarm();
    if (!oom_failures()) {
        if (rc < 0)
            problem(p, mode, n, cincy_error_format(&err, msg, sizeof(msg)));
        done = 1;
    } else if (rc < 0) {
        if (err.code != CINCY_ERROR || !strstr(err.msg, "out of memory")) {
            snprintf(why, sizeof(why), "wrong error (code %d): %s", err.code,
                     cincy_error_format(&err, msg, sizeof(msg)));
            problem(p, mode, n, why);
        }
        if (oom_live()) {
            snprintf(why, sizeof(why), "%zu blocks leaked", oom_live());
            problem(p, mode, n, why);
            oom_live_report("oomtest", 3);
            (*leaks)++;
        }
        if (!served_intact(before, gen, n % SERIALISE_EVERY == 0, why, sizeof(why)))
            problem(p, mode, n, why);
    } else if (!optional && !(optional = optional_site())) {
        problem(p, mode, n, "succeeded although an allocation failed");
    } else if (!served_intact(NULL, 0, 1, why, sizeof(why))) {
        problem(p, mode, n, why); /* a new snapshot, but it must serve the same bytes */
    }
    oom_live_forget();
    return done;
}

/* CPU seconds (user + system) of the process so far: the machine running
 * the tests may be shared, so wall time says little about the test itself. */
static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run_loop(const pipeline *p, oom_mode mode, uint64_t *points, size_t *leaks)
{
    unsigned before = problems;
    uint64_t n;
    double cpu = cpu_seconds(), wall = wall_seconds();

    for (n = 1; !run_point(p, mode, n, leaks) && problems - before < MAX_PROBLEMS; n++)
        ;
    printf("alloc-failure: %s %s: %llu failure points, %.1f s CPU, %.1f s wall%s\n", p->name,
           mode == OOM_FAIL_NTH ? "nth " : "from", (unsigned long long)(n - 1),
           cpu_seconds() - cpu, wall_seconds() - wall,
           problems == before                   ? ""
           : problems - before >= MAX_PROBLEMS ? " (stopped after too many FAIL lines)"
                                               : " (see FAIL lines)");
    fflush(stdout);
    *points += n - 1;
}

/* ---------------------------------------------------------------------------
 * The server over HTTP (after the loop: it must still serve the reference). */

static size_t collect(char *data, size_t size, size_t n, void *cls)
{
    FILE *f = cls;
    return fwrite(data, size, n, f);
}

static int http_matches_reference(const server *s)
{
    int ok = 1;

    for (size_t i = 0; ok && i < NVIEWS; i++) {
        char url[512], *body = NULL;
        size_t len = 0;
        long status = 0;
        FILE *f = open_memstream(&body, &len);
        CURL *c = curl_easy_init();

        snprintf(url, sizeof(url),
                 "http://127.0.0.1:%d/api/upgrades_info/v1/graph?channel=%s&arch=%s",
                 server_graph_port(s), views[i].channel, views[i].arch);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        fclose(f);
        if (status != 200 || len != reference_len[i] || memcmp(body, reference[i], len)) {
            fprintf(stderr, "oomtest: FAIL GET %s: status %ld, %zu bytes\n", url, status, len);
            ok = 0;
        }
        free(body);
    }
    return ok;
}

static server *start_server(void)
{
    server_config cfg;
    server *s = NULL;
    cincy_error err;

    if (server_config_defaults(&cfg) < 0)
        die("server_config_defaults", NULL);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 1;
    cfg.graph_data_dir = strdup(graph_data_dir);
    cfg.releases_dir = strdup(server_releases_dir);
    if (server_start(&s, &cfg, &err) < 0)
        die("server_start", &err);
    server_config_clear(&cfg);
    if (server_reload(s, &err) < 0)
        die("first server_reload", &err);
    return s;
}

/* ---------------------------------------------------------------------------
 * main */

static const char *arg_value(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

int main(int argc, char **argv)
{
    const char *only_pipeline = arg_value(argc, argv, "--pipeline");
    const char *only_mode = arg_value(argc, argv, "--mode");
    const char *only_n = arg_value(argc, argv, "--only");
    uint64_t points = 0, measured;
    size_t leaks = 0;
    cincy_error err;
    server *s;
    double wall0 = wall_seconds();

    oom_init(); /* before any JSON value exists */
    cincy_log_set_level(CINCY_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    write_data(CINCY_SOURCE_DIR "/tests/oom/data/graph-data");
    server_cache_init(&lib_cache);

    /* The reference run: counts the allocations and records the bodies. */
    pipeline lib = {"lib", lib_run, NULL};
    oom_arm(0, OOM_FAIL_NTH);
    if (lib_run(&err, NULL, NULL) < 0)
        die("the reference run", &err);
    measured = oom_disarm();
    oom_live_forget();
    printf("alloc-failure: data %s + demo releases (lib: amd64, arm64; server: amd64), "
           "%llu allocations per lib run\n",
           graph_data_dir, (unsigned long long)measured);

    s = start_server();
    {
        char why[512];

        if (!served_intact(NULL, 0, 1, why, sizeof(why))) { /* same bytes from one arch */
            fprintf(stderr, "oomtest: FAIL the server's first load: %s\n", why);
            problems++;
        }
    }
    pipeline srv = {"server", server_run, s};
    pipeline path = {"path", path_run, NULL};
    const pipeline *pipelines[] = {&lib, &srv, &path};

    if (path_run(&err, NULL, NULL) < 0) /* the reference answers */
        die("the reference path query", &err);
    oom_mode modes[] = {OOM_FAIL_NTH, OOM_FAIL_FROM_NTH};

    for (size_t pi = 0; pi < sizeof(pipelines) / sizeof(pipelines[0]); pi++) {
        if (only_pipeline && strcmp(only_pipeline, pipelines[pi]->name))
            continue;
        for (size_t mi = 0; mi < 2; mi++) {
            if (only_mode && strcmp(only_mode, mi ? "from" : "nth"))
                continue;
            if (only_n)
                run_point(pipelines[pi], modes[mi], strtoull(only_n, NULL, 10), &leaks);
            else
                run_loop(pipelines[pi], modes[mi], &points, &leaks);
        }
    }
    if (!http_matches_reference(s))
        problems++;
    server_stop(s);
    server_cache_destroy(&lib_cache);
    graph_snapshot_publish(NULL); /* drop the served snapshot before the leak check */
    for (size_t i = 0; i < NBODIES; i++)
        free(reference[i]);
    free(path_reference);
    free(plan_reference);
    free(no_path_reference);
    curl_global_cleanup();
    rm_rf(tmp);
#if OOM_LSAN
    if (__lsan_do_recoverable_leak_check()) {
        fprintf(stderr, "oomtest: FAIL LeakSanitizer found leaks (report above)\n");
        problems++;
    }
#endif
    printf("alloc-failure: %llu failure points, %zu leaks, %s, %.1f s CPU, %.1f s wall\n",
           (unsigned long long)points, leaks,
           problems ? "FAILED (see FAIL lines)" : "served snapshot unchanged", cpu_seconds(),
           wall_seconds() - wall0);
    return problems ? 1 : 0;
}
