/* tests/server/test_refresh_walk.c - a git graph-data source followed through
 * real history, and through bad commits.
 *
 * The remote is a copy of tests/data/graph-data.git: 57 snapshots of
 * OpenShift's graph-data from June 2024 (no stable-4.16 yet) to master
 * (stable-4.16 with 161 versions). The walk moves the remote's master to each
 * commit in turn, triggers a refresh and checks that the served stable-4.16
 * graph holds exactly the versions that commit's channel file lists. The
 * release records are demo records for every version stable-4.16 ever listed,
 * so the node set is decided by the channel file alone, and the load stays
 * small enough for 57 rounds under ASan.
 *
 * The bad-commit test pushes, on top of master, broken YAML, an unknown
 * schema major and a deleted channel file; each keeps the previous graph
 * serving byte for byte and shows its error (file, line) in /status; the next
 * good commit recovers. */
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "server_fixture.h"

#define WALK_CHANNEL "stable-4.16"
#define WALK_FILE "channels/" WALK_CHANNEL ".yaml"
#define WALK_GRAPH "/api/upgrades_info/v1/graph?channel=" WALK_CHANNEL "&arch=amd64"
#define WALK_WAIT_MS 60000
#define MAX_COMMITS 64
#define MAX_VERSIONS 512

static char remote[600];
static git_repository *repo;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void walk_stop(void)
{
    stop();
    git_repository_free(repo);
    repo = NULL;
    git_libgit2_shutdown();
    test_rm_rf(tmp);
}

/* ---------------------------------------------------------------------------
 * The remote and its history */

static void make_remote(void)
{
    char cmd[1600];

    TEST_SNPRINTF(remote, "%s/remote.git", tmp);
    TEST_SNPRINTF(cmd,
                  "cp -R '%s/tests/data/graph-data.git' '%s' && mkdir -p '%s/refs/heads' "
                  "'%s/refs/tags'",
                  CINCY_SOURCE_DIR, remote, remote, remote);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    cr_assert_geq(git_libgit2_init(), 1);
    cr_assert_eq(git_repository_open_bare(&repo, remote), 0);
}

/* Points the remote's master at commit (a loose ref wins over packed-refs). */
static void set_master(const char *hex)
{
    git_oid id;
    git_reference *ref = NULL;

    cr_assert_eq(git_oid_fromstr(&id, hex), 0);
    cr_assert_eq(git_reference_create(&ref, repo, "refs/heads/master", &id, 1, "walk"), 0, "%s",
                 git_error_last() ? git_error_last()->message : "");
    git_reference_free(ref);
}

/* Master's history, oldest first; returns the count. */
static size_t history(char (*hex)[GIT_OID_HEXSZ + 1], size_t max)
{
    git_revwalk *walk = NULL;
    git_oid id;
    size_t n = 0;

    cr_assert_eq(git_revwalk_new(&walk, repo), 0);
    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
    cr_assert_eq(git_revwalk_push_ref(walk, "refs/heads/master"), 0);
    while (git_revwalk_next(&id, walk) == 0) {
        cr_assert_lt(n, max);
        git_oid_tostr(hex[n++], GIT_OID_HEXSZ + 1, &id);
    }
    git_revwalk_free(walk);
    return n;
}

/* The text of path at commit, or NULL when the commit has no such file. */
static char *file_at(const char *hex, const char *path)
{
    char spec[256];
    git_object *obj = NULL;
    char *text;
    size_t len;

    TEST_SNPRINTF(spec, "%s:%s", hex, path);
    if (git_revparse_single(&obj, repo, spec) != 0)
        return NULL;
    cr_assert_eq(git_object_type(obj), GIT_OBJECT_BLOB);
    len = (size_t)git_blob_rawsize((git_blob *)obj);
    cr_assert_not_null(text = malloc(len + 1));
    memcpy(text, git_blob_rawcontent((git_blob *)obj), len);
    text[len] = '\0';
    git_object_free(obj);
    return text;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the "- x.y.z" entries of a block-style channel file to out (every
 * channel file in the history is written that way; the test fails if one is
 * not), build metadata cut. Returns the count appended. */
static size_t channel_versions(char **out, size_t max, const char *text)
{
    size_t n = 0;
    const char *line = text;

    if (!text)
        return 0;
    cr_assert(strstr(text, "versions:\n"), "not a block-style channel file:\n%.200s", text);
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (len > 2 && line[0] == '-' && line[1] == ' ') {
            size_t vlen = strcspn(line + 2, "+\n \r");
            cr_assert_lt(n, max);
            cr_assert_not_null(out[n] = strndup(line + 2, vlen));
            n++;
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* Sorts v and drops (frees) duplicates; returns the new count. */
static size_t sort_unique(char **v, size_t n)
{
    size_t kept = 0;

    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (kept && !strcmp(v[kept - 1], v[i]))
            free(v[i]);
        else
            v[kept++] = v[i];
    }
    return kept;
}

static void free_versions(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* ---------------------------------------------------------------------------
 * The server */

/* Demo release records for every version of vers (one channel, all arches). */
static void write_walk_releases(char **vers, size_t n)
{
    char gd_dir[512], rel_dir[512];
    size_t len = 64, written = 0;
    char *text;
    ingest_graph_data *gd = NULL;
    cincy_error err;

    for (size_t i = 0; i < n; i++)
        len += strlen(vers[i]) + 3;
    cr_assert_not_null(text = malloc(len));
    strcpy(text, "name: " WALK_CHANNEL "\nversions:\n");
    for (size_t i = 0; i < n; i++) {
        strcat(text, "- ");
        strcat(text, vers[i]);
        strcat(text, "\n");
    }
    TEST_SNPRINTF(gd_dir, "%s/release-gd", tmp);
    test_write(gd_dir, "version", "1.1.0\n");
    test_write(gd_dir, WALK_FILE, text);
    test_write(gd_dir, "blocked-edges/.keep", "");
    test_write(gd_dir, "raw/metadata.json", "{}\n");
    free(text);
    TEST_SNPRINTF(rel_dir, "%s/releases", tmp);
    cr_assert_eq(ingest_graph_data_load_dir(&gd, gd_dir, &err), 0, "%s", err.msg);
    cr_assert_eq(ingest_demo_write(gd, rel_dir, &written, &err), 0, "%s", err.msg);
    cr_assert_eq(written, n * 5, "%zu releases for %zu versions", written, n);
    ingest_graph_data_free(gd);
}

/* A server on free ports following the remote's master, with the refresh
 * thread polling only when triggered (poll_seconds is long). */
static void start_git_server(void)
{
    server_config cfg;
    cincy_error err;
    char path[600];

    cr_assert_eq(server_config_defaults(&cfg), 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.poll_seconds = 3600;
    cfg.graph_data_kind = SERVER_GRAPH_DATA_GIT;
    cfg.graph_data_location = strdup(remote);
    cfg.graph_data_reference = strdup("master");
    TEST_SNPRINTF(path, "%s/releases", tmp);
    cfg.releases_dir = strdup(path);
    TEST_SNPRINTF(path, "%s/state", tmp);
    cfg.state_dir = strdup(path);
    cr_assert_eq(server_start(&srv, &cfg, &err), 0, "%s", err.msg);
    server_config_clear(&cfg);
    snprintf(graph_base, sizeof(graph_base), "http://127.0.0.1:%d", server_graph_port(srv));
    snprintf(status_base, sizeof(status_base), "http://127.0.0.1:%d", server_status_port(srv));
    cr_assert_eq(server_refresh_start(srv, &err), 0, "%s", err.msg);
}

static json_t *get_status(void)
{
    stest_resp r = req("GET", status_base, "/status", NULL);
    json_error_t jerr;
    json_t *j;

    cr_assert_eq(r.status, 200, "status %ld", r.status);
    cr_assert_not_null(j = json_loads(r.body.data, 0, &jerr), "%s", jerr.text);
    stest_resp_free(&r);
    return j;
}

static const char *source_field(json_t *st, const char *key)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(st, "sources"), 0), key));
}

/* Waits until /status shows that revision has been handled: served
 * (last_error null, want_error NULL) or refused with an error containing
 * want_error. Returns the /status document. */
static json_t *wait_revision(const char *hex, const char *want_error)
{
    json_t *st = NULL;

    for (int ms = 0; ms < WALK_WAIT_MS; ms += 50) {
        const char *rev, *e, *erev;

        st = get_status();
        rev = source_field(st, "serving_revision");
        e = source_field(st, "last_error");
        erev = source_field(st, "last_error_revision");
        if (!want_error && rev && !strcmp(rev, hex) && !e) {
            cr_assert(json_is_true(json_object_get(st, "ready")));
            return st;
        }
        if (want_error && e && erev && !strcmp(erev, hex)) {
            {
                cr_assert(strstr(e, want_error), "last_error '%s' lacks '%s'", e, want_error);
                return st;
            }
        }
        json_decref(st);
        sleep_ms(50);
    }
    cr_assert_fail("revision %s not %s within %d ms", hex, want_error ? "refused" : "served",
                   WALK_WAIT_MS);
    return NULL;
}

static char *graph_body(void)
{
    stest_resp r = req("GET", graph_base, WALK_GRAPH, NULL);
    char *body;

    cr_assert_eq(r.status, 200, "status %ld body %s", r.status, r.body.data);
    cr_assert_not_null(body = strdup(r.body.data));
    stest_resp_free(&r);
    return body;
}

/* The served stable-4.16 amd64 graph has exactly the versions in want. */
static void assert_served(char **want, size_t nwant, const char *hex)
{
    char *body = graph_body();
    json_error_t jerr;
    json_t *g = json_loads(body, 0, &jerr), *nodes;
    char *got[MAX_VERSIONS];
    size_t n;

    cr_assert_not_null(g, "%s", jerr.text);
    nodes = json_object_get(g, "nodes");
    n = json_array_size(nodes);
    cr_assert_eq(n, nwant, "commit %s: %zu nodes served, the channel file lists %zu", hex, n,
                 nwant);
    for (size_t i = 0; i < n; i++)
        got[i] = (char *)json_string_value(json_object_get(json_array_get(nodes, i), "version"));
    qsort(got, n, sizeof(*got), cmp_str);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(got[i], want[i], "commit %s: node %zu", hex, i);
    json_decref(g);
    free(body);
}

/* ---------------------------------------------------------------------------
 * The walk */

Test(server_refresh_walk, every_real_snapshot_is_served_in_turn, .fini = walk_stop, .timeout = 600)
{
    char commits[MAX_COMMITS][GIT_OID_HEXSZ + 1];
    char *all[MAX_VERSIONS * MAX_COMMITS], *want[MAX_VERSIONS];
    size_t ncommits, nall = 0, nwant, changes = 0, prev = (size_t)-1;

    cincy_log_set_level(CINCY_LOG_ERROR);
    test_tmpdir(tmp, sizeof(tmp));
    make_remote();
    ncommits = history(commits, MAX_COMMITS);
    cr_assert_eq(ncommits, 57);

    /* Release records for every version the channel ever listed. */
    for (size_t i = 0; i < ncommits; i++) {
        char *text = file_at(commits[i], WALK_FILE);
        nall += channel_versions(all + nall, MAX_VERSIONS * MAX_COMMITS - nall, text);
        free(text);
    }
    nall = sort_unique(all, nall);
    write_walk_releases(all, nall);

    set_master(commits[0]);
    start_git_server();
    for (size_t i = 0; i < ncommits; i++) {
        char *text = file_at(commits[i], WALK_FILE);
        json_t *st;

        if (i > 0) {
            set_master(commits[i]);
            server_refresh_trigger(srv);
        }
        st = wait_revision(commits[i], NULL);
        json_decref(st);
        nwant = sort_unique(want, channel_versions(want, MAX_VERSIONS, text));
        assert_served(want, nwant, commits[i]);
        changes += nwant != prev;
        prev = nwant;
        free_versions(want, nwant);
        free(text);
    }
    /* The channel is absent at first and grows to 161 entries: the walk
     * really saw the served graph change, many times. */
    cr_assert_eq(prev, 161);
    cr_assert_geq(changes, 20, "the channel changed size only %zu times", changes);
    free_versions(all, nall);
}

/* ---------------------------------------------------------------------------
 * Bad commits */

/* Commits on top of master: path gets text, or is deleted when text is NULL.
 * Returns the new commit id in hex. */
static void commit_file(char *hex, const char *path, const char *text)
{
    git_reference *head = NULL;
    git_commit *parent = NULL;
    git_tree *base = NULL, *tree = NULL;
    git_signature *sig = NULL;
    git_oid blob, tree_id, commit_id;
    git_tree_update upd;
    const git_commit *parents[1];

    cr_assert_eq(git_reference_lookup(&head, repo, "refs/heads/master"), 0);
    cr_assert_eq(git_commit_lookup(&parent, repo, git_reference_target(head)), 0);
    cr_assert_eq(git_commit_tree(&base, parent), 0);
    memset(&upd, 0, sizeof(upd));
    upd.path = path;
    if (text) {
        cr_assert_eq(git_blob_create_from_buffer(&blob, repo, text, strlen(text)), 0);
        upd.action = GIT_TREE_UPDATE_UPSERT;
        upd.id = blob;
        upd.filemode = GIT_FILEMODE_BLOB;
    } else {
        upd.action = GIT_TREE_UPDATE_REMOVE;
    }
    cr_assert_eq(git_tree_create_updated(&tree_id, repo, base, 1, &upd), 0, "%s",
                 git_error_last() ? git_error_last()->message : "");
    cr_assert_eq(git_tree_lookup(&tree, repo, &tree_id), 0);
    cr_assert_eq(git_signature_new(&sig, "test", "test@example.com", 1800000000, 0), 0);
    parents[0] = parent;
    cr_assert_eq(git_commit_create(&commit_id, repo, "refs/heads/master", sig, sig, NULL, path,
                                   tree, 1, parents),
                 0, "%s", git_error_last() ? git_error_last()->message : "");
    git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &commit_id);
    git_signature_free(sig);
    git_tree_free(tree);
    git_tree_free(base);
    git_commit_free(parent);
    git_reference_free(head);
}

/* Pushes one bad commit and checks it is refused with want_error while the
 * graph stays byte for byte what it was and readiness stays true. */
static void push_refused(const char *path, const char *text, const char *want_error,
                         const char *served_body)
{
    char hex[GIT_OID_HEXSZ + 1], *body;
    json_t *st;

    commit_file(hex, path, text);
    server_refresh_trigger(srv);
    st = wait_revision(hex, want_error);
    cr_assert(json_is_true(json_object_get(st, "ready")));
    cr_assert_neq(strcmp(source_field(st, "serving_revision"), hex), 0);
    json_decref(st);
    body = graph_body();
    cr_assert_str_eq(body, served_body, "the graph changed after refused commit %s", hex);
    free(body);
}

Test(server_refresh_walk, bad_commits_keep_the_last_good_graph, .fini = walk_stop, .timeout = 300)
{
    char master[GIT_OID_HEXSZ + 1], fixed[GIT_OID_HEXSZ + 1];
    char *want[MAX_VERSIONS], *channel, *good_body, *shorter, *last;
    size_t nwant;
    git_oid id;
    json_t *st;

    cincy_log_set_level(CINCY_LOG_ERROR);
    test_tmpdir(tmp, sizeof(tmp));
    make_remote();
    cr_assert_eq(git_reference_name_to_id(&id, repo, "refs/heads/master"), 0);
    git_oid_tostr(master, sizeof(master), &id);
    channel = file_at(master, WALK_FILE);
    nwant = sort_unique(want, channel_versions(want, MAX_VERSIONS, channel));
    cr_assert_eq(nwant, 161);
    write_walk_releases(want, nwant);
    start_git_server();
    json_decref(wait_revision(master, NULL));
    assert_served(want, nwant, master);
    good_body = graph_body();

    /* An unclosed flow sequence: libyaml reports it at the end of the file. */
    push_refused(WALK_FILE, "name: stable-4.16\nversions: [4.16.0, 4.16.1\n",
                 "channels/stable-4.16.yaml:3:", good_body);
    /* The channel fixed, but a schema this server does not know. */
    commit_file(fixed, WALK_FILE, channel);
    push_refused("version", "2.0.0\n", "version:1:", good_body);
    commit_file(fixed, "version", "1.1.0\n");
    /* The channel file deleted: clusters on stable-4.16 would lose every update. */
    push_refused(WALK_FILE, NULL, "channels/stable-4.16.yaml: channel 'stable-4.16' is served now",
                 good_body);

    /* A good commit recovers: the channel file back, without its last line. */
    cr_assert_not_null(shorter = strdup(channel));
    shorter[strlen(shorter) - 1] = '\0';
    cr_assert_not_null(last = strrchr(shorter, '\n'));
    last[1] = '\0';
    commit_file(fixed, WALK_FILE, shorter);
    server_refresh_trigger(srv);
    st = wait_revision(fixed, NULL);
    cr_assert(json_is_null(
        json_object_get(json_array_get(json_object_get(st, "sources"), 0), "last_error")));
    json_decref(st);
    free_versions(want, nwant);
    nwant = sort_unique(want, channel_versions(want, MAX_VERSIONS, shorter));
    cr_assert_eq(nwant, 160);
    assert_served(want, nwant, fixed);

    free_versions(want, nwant);
    free(shorter);
    free(good_body);
    free(channel);
}
