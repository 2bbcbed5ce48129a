/* server/cli.c - the `cincy` command line: serve, check, demo-releases, version, help.
 *
 * Exit codes: 0 success, 1 a runtime or configuration failure (the message
 * says which file and line), 2 a command line the program does not understand
 * (usage goes to stderr). `check` exits 1 when the graph-data has errors and
 * 2 when the directory cannot be read at all.
 *
 * `serve` blocks SIGINT, SIGTERM and SIGHUP before any thread starts, so every
 * libmicrohttpd thread inherits the mask and only the main thread's sigwait
 * sees them: SIGHUP re-reads the config, SIGINT/SIGTERM stop within the grace period.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ingest/ingest.h"
#include "policy/policy.h"
#include "server/server_internal.h"

#ifndef CINCY_VERSION
#define CINCY_VERSION "0.0.0"
#endif
#ifndef CINCY_GIT_COMMIT
#define CINCY_GIT_COMMIT "unknown"
#endif

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: cincy <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve           serve the update graph (Cincinnati protocol) over HTTP\n"
    "  check DIR       report every problem in a graph-data directory\n"
    "  path            the upgrade path between two versions (docs/path.md)\n"
    "  demo-releases   write demo release records for every version in graph-data\n"
    "  version         print the version and commit\n"
    "  help            print this help (also -h, --help)\n"
    "\n"
    "serve options (each overrides the config file):\n"
    "  --config FILE        YAML configuration; every key is documented in\n"
    "                       config/cincy.yaml and docs/configuration.md\n"
    "  --graph-data DIR     graph-data directory (sources.graph_data.directory)\n"
    "  --releases DIR       release records directory (sources.releases.directory)\n"
    "  --graph-port N       graph listener port, 0 picks a free one (graph.port)\n"
    "  --status-port N      status listener port, 0 picks a free one (status.port)\n"
    "  --log-level LEVEL    debug, info, warn or error (log_level)\n"
    "\n"
    "check options:\n"
    "  --json               print the findings as JSON instead of text\n"
    "  --strict             exit 1 on warnings too, not only on errors\n"
    "\n"
    "path options:\n"
    "  --from VERSION       the version to update from, e.g. 4.14.8 (required)\n"
    "  --to VERSION         an exact version, 4.y (newest 4.y.z) or latest (required)\n"
    "  --channel NAME       the channel searched, e.g. eus-4.16 (required)\n"
    "  --arch ARCH          architecture (default amd64)\n"
    "  --mode MODE          standard (default), eus or ibu\n"
    "  --risks POLICY       avoid (default: unconditional edges only) or accept\n"
    "  --json               print the API's JSON answer instead of a table\n"
    "  --server URL         ask a running cincy, e.g. http://127.0.0.1:8080\n"
    "  --data DIR           or search locally: graph-data directory, with\n"
    "  --releases DIR       the release records directory\n"
    "  exits 1 when there is no path (the reason and blocking entries go to stderr)\n"
    "\n"
    "demo-releases options:\n"
    "  --graph-data DIR     graph-data to read (required)\n"
    "  --out DIR            directory to write release records into (required)\n"
    "\n"
    "signals (serve): SIGHUP re-reads the config file and refreshes the sources now;\n"
    "  SIGINT and SIGTERM stop: readiness turns 503, requests in flight get up to\n"
    "  shutdown_grace_seconds (default 20) to finish, then exit 0.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cincy: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage_text);
    return EXIT_USAGE;
}

static int print_error(const cincy_error *err)
{
    char msg[800];

    fprintf(stderr, "cincy: %s\n", cincy_error_format(err, msg, sizeof(msg)));
    return EXIT_FAILURE;
}

/* ---------------------------------------------------------------------------
 * Option parsing: "--name VALUE" or "--name=VALUE". */

typedef struct cli_opts {
    const char *config;
    const char *graph_data;
    const char *releases;
    const char *out;
    const char *graph_port;
    const char *status_port;
    const char *log_level;
    const char *from, *to, *channel, *arch, *mode, *risks, *server_url;
} cli_opts;

typedef struct opt_spec {
    const char *name;
    size_t offset; /* of the const char * in cli_opts */
} opt_spec;

static const opt_spec serve_opts[] = {
    {"--config", offsetof(cli_opts, config)},
    {"--graph-data", offsetof(cli_opts, graph_data)},
    {"--releases", offsetof(cli_opts, releases)},
    {"--graph-port", offsetof(cli_opts, graph_port)},
    {"--status-port", offsetof(cli_opts, status_port)},
    {"--log-level", offsetof(cli_opts, log_level)},
    {NULL, 0},
};
static const opt_spec path_opts[] = {
    {"--from", offsetof(cli_opts, from)},         {"--to", offsetof(cli_opts, to)},
    {"--channel", offsetof(cli_opts, channel)},   {"--arch", offsetof(cli_opts, arch)},
    {"--mode", offsetof(cli_opts, mode)},         {"--risks", offsetof(cli_opts, risks)},
    {"--server", offsetof(cli_opts, server_url)}, {"--data", offsetof(cli_opts, graph_data)},
    {"--releases", offsetof(cli_opts, releases)}, {NULL, 0},
};
static const opt_spec demo_opts[] = {
    {"--graph-data", offsetof(cli_opts, graph_data)},
    {"--out", offsetof(cli_opts, out)},
    {NULL, 0},
};

/* Returns 0, 1 when help was asked for, or EXIT_USAGE (message printed). */
static int parse_opts(cli_opts *o, int argc, char **argv, const opt_spec *specs)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '='), *value;
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
        const opt_spec *s;

        if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
            return 1;
        for (s = specs; s->name && (strlen(s->name) != n || strncmp(s->name, arg, n)); s++)
            ;
        if (!s->name)
            return usage_error("unknown option '%s'", arg);
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return usage_error("option '%s' needs a value", arg);
        }
        *(const char **)((char *)o + s->offset) = value;
    }
    return 0;
}

static int parse_port(int *out, const char *opt, const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!s[0] || *end || v < 0 || v > 65535) {
        fprintf(stderr, "cincy: %s: expected a port from 0 to 65535, got '%s'\n", opt, s);
        return EXIT_USAGE;
    }
    *out = (int)v;
    return 0;
}

/* A command-line path made absolute against the working directory. */
static int set_dir(char **slot, const char *path)
{
    char cwd[PATH_MAX];
    char *v;
    size_t n;

    if (path[0] == '/') {
        v = strdup(path);
    } else {
        if (!getcwd(cwd, sizeof(cwd)))
            return CINCY_ERROR;
        n = strlen(cwd) + strlen(path) + 2;
        if ((v = malloc(n)))
            snprintf(v, n, "%s/%s", cwd, path);
    }
    if (!v)
        return CINCY_ERROR;
    free(*slot);
    *slot = v;
    return 0;
}

/* ---------------------------------------------------------------------------
 * serve */

static int apply_overrides(server_config *cfg, const cli_opts *o)
{
    int rc, gd_missing;

    if (o->graph_port && (rc = parse_port(&cfg->graph_port, "--graph-port", o->graph_port)))
        return rc;
    if (o->status_port && (rc = parse_port(&cfg->status_port, "--status-port", o->status_port)))
        return rc;
    if (o->log_level && cincy_log_level_parse(&cfg->log_level, o->log_level) < 0) {
        fprintf(stderr, "cincy: --log-level: expected debug, info, warn or error, got '%s'\n",
                o->log_level);
        return EXIT_USAGE;
    }
    if ((o->graph_data && set_dir(&cfg->graph_data_dir, o->graph_data) < 0) ||
        (o->releases && set_dir(&cfg->releases_dir, o->releases) < 0)) {
        fprintf(stderr, "cincy: cannot resolve a directory path\n");
        return EXIT_FAILURE;
    }
    if (o->graph_data) { /* --graph-data DIR replaces a git or tarball source */
        cfg->graph_data_kind = SERVER_GRAPH_DATA_DIRECTORY;
        free(cfg->graph_data_location);
        free(cfg->graph_data_reference);
        cfg->graph_data_location = cfg->graph_data_reference = NULL;
    }
    gd_missing = cfg->graph_data_kind == SERVER_GRAPH_DATA_DIRECTORY && !cfg->graph_data_dir;
    if (gd_missing && !cfg->upstream_url) {
        fprintf(stderr, "cincy: no graph-data configured: set sources.graph_data in the config "
                        "file (see config/cincy.yaml) or pass --graph-data DIR\n");
        return EXIT_FAILURE;
    }
    if (!cfg->releases_dir && !cfg->release_registries.n && !cfg->upstream_url) {
        fprintf(stderr, "cincy: no releases configured: set sources.releases.registry or "
                        "sources.releases.directory in the config file (see config/cincy.yaml) "
                        "or pass --releases DIR\n");
        return EXIT_FAILURE;
    }
    return 0;
}

/* Host part of a URL a person can paste: brackets for IPv6, loopback for
 * the any-addresses. */
static void url_host(char *out, size_t size, const char *address)
{
    if (!strcmp(address, "0.0.0.0"))
        snprintf(out, size, "127.0.0.1");
    else if (!strcmp(address, "::"))
        snprintf(out, size, "[::1]");
    else if (strchr(address, ':'))
        snprintf(out, size, "[%s]", address);
    else
        snprintf(out, size, "%s", address);
}

static void log_urls(const server *s, const server_config *cfg)
{
    char graph_host[64], status_host[64];

    url_host(graph_host, sizeof(graph_host), cfg->graph_address);
    url_host(status_host, sizeof(status_host), cfg->status_address);
    cincy_log(CINCY_LOG_INFO, "server",
              "graph url\turl=http://%s:%d%s/v1/graph?channel=stable-4.16", graph_host,
              server_graph_port(s), cfg->path_prefix);
    if (cfg->web_dir)
        cincy_log(CINCY_LOG_INFO, "server", "web page\turl=http://%s:%d/", graph_host,
                  server_graph_port(s));
    cincy_log(CINCY_LOG_INFO, "server", "metrics url\turl=http://%s:%d/metrics", status_host,
              server_status_port(s));
}

/* SIGHUP: re-reads the config file (with the command line's overrides on
 * top) and applies what can change while serving; a file that does not load
 * is refused with one log line and the running configuration stays. Either
 * way the sources are refreshed now, as SIGHUP always did. */
static void reload_config(server *s, const cli_opts *o)
{
    server_config next;
    cincy_error err;
    char msg[800];

    if (!o->config) {
        cincy_log(CINCY_LOG_INFO, "server", "SIGHUP: refreshing (no config file to re-read)");
        server_refresh_trigger(s);
        return;
    }
    cincy_log(CINCY_LOG_INFO, "server", "SIGHUP: re-reading the config\tfile=\"%s\"", o->config);
    memset(&next, 0, sizeof(next));
    cincy_error_clear(&err);
    if (server_config_load(&next, o->config, &err) < 0) {
        cincy_log(CINCY_LOG_ERROR, "server",
                  "config reload refused, the running configuration stays: %s",
                  cincy_error_format(&err, msg, sizeof(msg)));
        server_refresh_trigger(s);
    } else if (apply_overrides(&next, o) != 0) { /* said why on stderr */
        cincy_log(CINCY_LOG_ERROR, "server",
                  "config reload refused, the running configuration stays: %s lacks a source",
                  o->config);
        server_refresh_trigger(s);
    } else {
        server_reconfigure(s, &next); /* restarts the refresh thread: it refreshes at once */
    }
    server_config_clear(&next);
}

/* Waits for signals until SIGINT or SIGTERM, handling SIGHUP meanwhile. */
static void run_until_stopped(server *s, const sigset_t *set, const cli_opts *o)
{
    int sig;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload_config(s, o);
            continue;
        }
        cincy_log(CINCY_LOG_INFO, "server", "stopping\tsignal=%s",
                  sig == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
}

/* Readiness 503 and no new connections first, then requests in flight get
 * until the grace period ends; a refresh thread still inside a build is not
 * waited for past it. Returns 0 when server_stop may run, -1 when the process
 * must exit without freeing what that thread still uses. */
static int stop_gracefully(server *s, unsigned grace)
{
    double deadline = server_monotonic_now() + grace;
    int left;

    server_shutdown_begin(s);
    if ((left = server_drain(s, deadline)) > 0)
        cincy_log(CINCY_LOG_WARN, "server",
                  "grace period over, requests still in flight are cut off\tin_flight=%d "
                  "shutdown_grace_seconds=%u",
                  left, grace);
    if (server_refresh_halt(s, deadline) < 0) {
        cincy_log(CINCY_LOG_WARN, "server",
                  "grace period over while the graph was loading: exiting without waiting "
                  "for it\tshutdown_grace_seconds=%u",
                  grace);
        return -1;
    }
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    cli_opts o = {0};
    server_config cfg;
    server *s = NULL;
    cincy_error err;
    sigset_t set;
    int rc;

    cincy_error_clear(&err);
    memset(&cfg, 0, sizeof(cfg));
    if ((rc = parse_opts(&o, argc, argv, serve_opts)) == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc)
        return rc;
    if (o.config)
        rc = server_config_load(&cfg, o.config, &err);
    else
        rc = server_config_defaults(&cfg);
    if (rc < 0) {
        rc = print_error(&err);
        goto cleanup;
    }
    if ((rc = apply_overrides(&cfg, &o)))
        goto cleanup;
    cincy_log_set_level(cfg.log_level);

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread exists */
    signal(SIGPIPE, SIG_IGN);               /* a client hanging up is not our death */
    curl_global_init(CURL_GLOBAL_DEFAULT);  /* not thread-safe: the tarball source uses curl */

    if (server_start(&s, &cfg, &err) < 0) {
        rc = print_error(&err);
        goto cleanup;
    }
    cincy_log(CINCY_LOG_INFO, "server", "cincy %s starting\tcommit=%s config=\"%s\"", CINCY_VERSION,
              CINCY_GIT_COMMIT, cfg.file ? cfg.file : "(defaults)");
    log_urls(s, &cfg);
    /* The refresh thread does the first load. A failed load does not exit:
     * readiness stays 503, the error is logged and /status shows it; the next
     * poll (sources.poll_seconds), a SIGHUP or POST /refresh retries. */
    if (server_refresh_start(s, &err) < 0) {
        rc = print_error(&err);
        goto cleanup;
    }
    run_until_stopped(s, &set, &o);
    if (stop_gracefully(s, s->cfg.shutdown_grace) < 0) {
        fflush(NULL);
        _exit(0); /* the refresh thread still uses s: freeing it would be a crash */
    }
    rc = 0;
cleanup:
    server_stop(s);
    server_config_clear(&cfg);
    curl_global_cleanup(); /* balanced: a no-op when init was never reached */
    return rc;
}

/* ---------------------------------------------------------------------------
 * check */

static int cmd_check(int argc, char **argv)
{
    ingest_check_report *r = NULL;
    const char *dir = NULL;
    int json = 0, strict = 0, rc;
    cincy_error err;
    char *text;

    cincy_error_clear(&err);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--strict")) {
            strict = 1;
        } else if (argv[i][0] == '-') {
            return usage_error("unknown option '%s'", argv[i]);
        } else if (dir) {
            return usage_error("%s", "check takes one graph-data directory");
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        return usage_error("%s", "check needs a graph-data directory: cincy check DIR");
    if (ingest_check_dir(&r, dir, &err) < 0) {
        print_error(&err);
        return EXIT_USAGE;
    }
    if (!(text = json ? ingest_check_report_json(r) : ingest_check_report_text(r))) {
        fprintf(stderr, "cincy: out of memory\n");
        rc = EXIT_FAILURE;
        goto cleanup;
    }
    fputs(text, stdout);
    free(text);
    rc = r->errors || (strict && r->warnings) ? EXIT_FAILURE : 0;
cleanup:
    ingest_check_report_free(r);
    return rc;
}

/* ---------------------------------------------------------------------------
 * path: the same answer as GET P/v1/path, from a server (--server) or
 * searched locally (--data, --releases). Both give policy_path_json's text,
 * so the table below is printed from that JSON alone. */

#define API_PREFIX "/api/upgrades_info"

typedef struct cli_buf {
    char *data;
    size_t len;
} cli_buf;

static size_t buf_write(char *ptr, size_t size, size_t n, void *userdata)
{
    cli_buf *b = userdata;
    size_t add = size * n;
    char *grown = realloc(b->data, b->len + add + 1);

    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, add);
    b->data = grown;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* Appends "&key=value" (escaped) to url; a NULL value adds nothing. */
static int url_add(char *url, size_t size, CURL *curl, const char *key, const char *value)
{
    char *esc;
    size_t pos = strlen(url);
    int n;

    if (!value)
        return 0;
    if (!(esc = curl_easy_escape(curl, value, 0)))
        return -1;
    n = snprintf(url + pos, size - pos, "%s%s=%s", strchr(url, '?') ? "&" : "?", key, esc);
    curl_free(esc);
    return n < 0 || (size_t)n >= size - pos ? -1 : 0;
}

/* GETs the path from the server into *body; returns the HTTP status, or -1
 * with a message printed. */
static long path_from_server(char **body, const cli_opts *o)
{
    char url[4096];
    cli_buf b = {NULL, 0};
    CURL *curl;
    CURLcode rc = CURLE_OK;
    long status = -1;
    size_t n = strlen(o->server_url);

    while (n && o->server_url[n - 1] == '/')
        n--; /* "http://host:8080/" and "http://host:8080" mean the same */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(curl = curl_easy_init())) {
        curl_global_cleanup();
        fprintf(stderr, "cincy: cannot start libcurl\n");
        return -1;
    }
    snprintf(url, sizeof(url), "%.*s" API_PREFIX "/v1/path", (int)n, o->server_url);
    if (url_add(url, sizeof(url), curl, "channel", o->channel) < 0 ||
        url_add(url, sizeof(url), curl, "arch", o->arch) < 0 ||
        url_add(url, sizeof(url), curl, "from", o->from) < 0 ||
        url_add(url, sizeof(url), curl, "to", o->to) < 0 ||
        url_add(url, sizeof(url), curl, "risks", o->risks) < 0 ||
        url_add(url, sizeof(url), curl, "mode", o->mode) < 0) {
        fprintf(stderr, "cincy: --server: the request URL is too long\n");
        goto cleanup;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
        fprintf(stderr, "cincy: GET %s: %s\n", url, curl_easy_strerror(rc));
        goto cleanup;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    *body = b.data ? b.data : strdup("");
    b.data = NULL;
cleanup:
    free(b.data);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return status;
}

/* Builds the graph from the directories and searches it; returns
 * policy_path_json's text in *body, 0 when found, 1 when refused, or -1 with
 * a message printed. */
static int path_local(char **body, const cli_opts *o, const policy_path_query *q)
{
    ingest_releases *rs = NULL;
    ingest_graph_data *gd = NULL;
    graph_snapshot *full = NULL;
    policy_path *path = NULL;
    cincy_error err;
    int rc = -1;

    cincy_error_clear(&err);
    if (ingest_releases_load_dir(&rs, o->releases, &err) < 0 ||
        ingest_graph_data_load_dir(&gd, o->graph_data, &err) < 0 ||
        policy_build(&full, rs, gd, NULL, &err) < 0 ||
        policy_path_find(&path, full, q, &err) == CINCY_ERROR) {
        print_error(&err);
        goto cleanup;
    }
    if (!(*body = policy_path_json(path))) {
        fprintf(stderr, "cincy: out of memory\n");
        goto cleanup;
    }
    rc = path->reason == POLICY_PATH_FOUND ? 0 : 1;
cleanup:
    policy_path_free(path);
    graph_snapshot_unref(full);
    ingest_graph_data_free(gd);
    ingest_releases_free(rs);
    return rc;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* "Name1, Name2" of an array of names or of {name,...} objects. */
static void risk_list(char *out, size_t size, json_t *risks)
{
    size_t i, pos = 0;
    json_t *r;

    out[0] = '\0';
    json_array_foreach(risks, i, r)
    {
        const char *name = json_is_string(r) ? json_string_value(r) : jstr(r, "name");
        int n = snprintf(out + pos, size - pos, "%s%s", i ? ", " : "", name);
        if (n < 0 || (size_t)n >= size - pos)
            return;
        pos += (size_t)n;
    }
}

static void print_path_table(json_t *j)
{
    json_t *hops = json_object_get(j, "hops"), *risks = json_object_get(j, "risks"), *h;
    json_t *pools = json_object_get(j, "workerPools");
    char names[1024];
    size_t i;

    printf("%s -> %s in %s (%s), mode %s, risks %s: %zu hop%s\n", jstr(j, "from"), jstr(j, "to"),
           jstr(j, "channel"), jstr(j, "arch"), jstr(j, "mode"), jstr(j, "riskPolicy"),
           json_array_size(hops), json_array_size(hops) == 1 ? "" : "s");
    json_array_foreach(hops, i, h)
    {
        risk_list(names, sizeof(names), json_object_get(h, "risks"));
        printf("  %s -> %s  ", jstr(h, "from"), jstr(h, "to"));
        if (json_is_true(json_object_get(h, "conditional")))
            printf("[conditional: %s]  ", names);
        printf("%s\n", jstr(h, "payload"));
    }
    if (json_array_size(risks)) {
        printf("risks:\n");
        json_array_foreach(risks, i, h)
            printf("  %s  %s\n    %s\n", jstr(h, "name"), jstr(h, "url"), jstr(h, "message"));
    }
    if (pools) {
        printf("worker pools: pause before hop %lld, unpause after hop %lld; workers reboot "
               "%lld time(s)\n",
               (long long)json_integer_value(json_object_get(pools, "pauseBeforeHop")),
               (long long)json_integer_value(json_object_get(pools, "unpauseAfterHop")),
               (long long)json_integer_value(json_object_get(pools, "workerReboots")));
    }
    json_array_foreach(hops, i, h)
    {
        if (json_object_get(h, "note"))
            printf("  hop %zu: %s\n", i + 1, jstr(h, "note"));
    }
}

static void print_path_failure(json_t *j)
{
    json_t *blocking = json_object_get(j, "blocking"), *b;
    char names[1024];
    size_t i;

    fprintf(stderr, "cincy: %s (%s)\n", jstr(json_object_get(j, "error"), "message"),
            jstr(json_object_get(j, "error"), "reason"));
    if (json_array_size(blocking))
        fprintf(stderr, "blocking:\n");
    json_array_foreach(blocking, i, b)
    {
        if (json_object_get(b, "fromRegex")) {
            fprintf(stderr, "  -> %s: %s %s\n", jstr(b, "to"), jstr(b, "label"),
                    jstr(b, "fromRegex"));
            continue;
        }
        risk_list(names, sizeof(names), json_object_get(b, "risks"));
        fprintf(stderr, "  %s -> %s: risks %s\n", jstr(b, "from"), jstr(b, "to"), names);
        for (size_t k = 0; k < json_array_size(json_object_get(b, "risks")); k++) {
            json_t *r = json_array_get(json_object_get(b, "risks"), k);
            fprintf(stderr, "    %s  %s\n", jstr(r, "name"), jstr(r, "url"));
        }
    }
}

/* Prints body (a path answer, or the server's {"kind","value"} error) and
 * returns the exit code. */
static int print_path_answer(const char *body, int json_out)
{
    json_error_t jerr;
    json_t *j = json_loads(body, 0, &jerr);
    int rc;

    if (!j) {
        fprintf(stderr, "cincy: the answer is not JSON (%s): %.200s\n", jerr.text, body);
        return EXIT_FAILURE;
    }
    if (json_object_get(j, "kind")) { /* an error before any search */
        fprintf(stderr, "cincy: %s: %s\n", jstr(j, "kind"), jstr(j, "value"));
        rc = EXIT_FAILURE;
    } else {
        rc = json_object_get(j, "error") ? EXIT_FAILURE : 0;
        if (json_out)
            printf("%s\n", body);
        else if (!rc)
            print_path_table(j);
        if (rc)
            print_path_failure(j);
    }
    json_decref(j);
    return rc;
}

/* Checks the option set and fills q; 0 or EXIT_USAGE (message printed). */
static int path_query_from_opts(policy_path_query *q, const cli_opts *o)
{
    if (!o->from || !o->to || !o->channel)
        return usage_error("%s", "path needs --from VERSION, --to VERSION and --channel NAME");
    if (!o->server_url == !o->graph_data)
        return usage_error("%s", "path needs one of --server URL or --data DIR");
    if (o->graph_data && !o->releases)
        return usage_error("%s", "path --data DIR needs --releases DIR");
    q->channel = o->channel;
    q->arch = o->arch ? o->arch : "amd64";
    q->from = o->from;
    q->to = o->to;
    if (o->risks && strcmp(o->risks, "avoid") && strcmp(o->risks, "accept"))
        return usage_error("--risks: expected avoid or accept, got '%s'", o->risks);
    q->accept_risks = o->risks && !strcmp(o->risks, "accept");
    if (!o->mode || !strcmp(o->mode, "standard"))
        q->mode = POLICY_PATH_STANDARD;
    else if (!strcmp(o->mode, "eus"))
        q->mode = POLICY_PATH_EUS;
    else if (!strcmp(o->mode, "ibu"))
        q->mode = POLICY_PATH_IBU;
    else
        return usage_error("--mode: expected standard, eus or ibu, got '%s'", o->mode);
    return 0;
}

static int cmd_path(int argc, char **argv)
{
    cli_opts o = {0};
    policy_path_query q = {0};
    char *args[64], *body = NULL;
    int n = 0, json_out = 0, rc;

    for (int i = 0; i < argc; i++) { /* --json is a flag: parse_opts takes values only */
        if (!strcmp(argv[i], "--json"))
            json_out = 1;
        else if (n < (int)(sizeof(args) / sizeof(args[0])))
            args[n++] = argv[i];
        else
            return usage_error("%s", "path: too many arguments");
    }
    if ((rc = parse_opts(&o, n, args, path_opts)) == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc || (rc = path_query_from_opts(&q, &o)))
        return rc;
    cincy_log_set_level(CINCY_LOG_WARN); /* the answer is the output, not the load's progress */
    if (o.server_url) {
        long status = path_from_server(&body, &o);
        rc = status < 0 ? EXIT_FAILURE : print_path_answer(body, json_out);
    } else {
        rc = path_local(&body, &o, &q) < 0 ? EXIT_FAILURE : print_path_answer(body, json_out);
    }
    free(body);
    return rc;
}

/* ---------------------------------------------------------------------------
 * demo-releases, version */

static int cmd_demo_releases(int argc, char **argv)
{
    cli_opts o = {0};
    ingest_graph_data *gd = NULL;
    cincy_error err;
    size_t count = 0;
    int rc;

    cincy_error_clear(&err);
    if ((rc = parse_opts(&o, argc, argv, demo_opts)) == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (rc)
        return rc;
    if (!o.graph_data || !o.out)
        return usage_error("%s", "demo-releases needs --graph-data DIR and --out DIR");
    if (ingest_graph_data_load_dir(&gd, o.graph_data, &err) < 0 ||
        ingest_demo_write(gd, o.out, &count, &err) < 0) {
        rc = print_error(&err);
        goto cleanup;
    }
    printf("cincy: wrote %zu demo release records to %s\n", count, o.out);
    rc = 0;
cleanup:
    ingest_graph_data_free(gd);
    return rc;
}

static int cmd_version(int argc)
{
    if (argc > 0)
        return usage_error("%s", "version takes no options");
    printf("cincy %s (commit %s)\n", CINCY_VERSION, CINCY_GIT_COMMIT);
    return 0;
}

int server_main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (!cmd)
        return usage_error("%s", "no command given");
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version"))
        return cmd_version(argc - 2);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 2, argv + 2);
    if (!strcmp(cmd, "path"))
        return cmd_path(argc - 2, argv + 2);
    if (!strcmp(cmd, "demo-releases"))
        return cmd_demo_releases(argc - 2, argv + 2);
    return usage_error("unknown command '%s'", cmd);
}
