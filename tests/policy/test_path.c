/* tests/policy/test_path.c - upgrade paths (policy/path.c) on the bundled
 * real graph-data and the demo releases generated from it. Building the full
 * graph takes seconds under ASan, so each test builds it once and asks many
 * questions. Expected hops were printed, then checked against the channel
 * and blocked-edges YAML files. */
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy_test_util.h"
#include "test_fs.h"

#define PATH_GRAPH_DATA CINCY_SOURCE_DIR "/config/graph-data"

/* The full graph of the bundled data (as tests/policy/test_full.c builds it). */
static graph_snapshot *path_full(void)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    graph_snapshot *full = NULL;
    char tmp[64] = "";
    const char *dir = CINCY_DEMO_RELEASES;
    struct stat sb;
    cincy_error e;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, PATH_GRAPH_DATA, &e), 0, "%s", tu_fmt(&e));
    if (stat(CINCY_DEMO_RELEASES "/.stamp", &sb) != 0) {
        size_t count;
        snprintf(tmp, sizeof(tmp), "/tmp/cincy-path-XXXXXX");
        cr_assert_not_null(mkdtemp(tmp));
        cr_assert_eq(ingest_demo_write(gd, tmp, &count, &e), 0, "%s", tu_fmt(&e));
        dir = tmp;
    }
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), 0, "%s", tu_fmt(&e));
    if (tmp[0])
        test_rm_rf(tmp);
    cr_assert_eq(policy_build(&full, rs, gd, NULL, &e), 0, "%s", tu_fmt(&e));
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    return full;
}

/* Runs one query; expect is the return code wanted. */
static policy_path *path_ask(const graph_snapshot *full, const char *channel, const char *from,
                             const char *to, int accept, policy_path_mode mode, int expect)
{
    policy_path_query q = {channel, "amd64", from, to, accept, mode};
    policy_path *p = NULL;
    cincy_error e;
    char *json;
    int rc;

    cincy_error_clear(&e);
    rc = policy_path_find(&p, full, &q, &e);
    cr_assert_eq(rc, expect, "%s %s -> %s: got %d (%s)", channel, from, to, rc, tu_fmt(&e));
    cr_assert_not_null(p);
    json = policy_path_json(p);
    cr_assert_not_null(json);
    cr_log_info("%s %s -> %s accept=%d mode=%d: %s", channel, from, to, accept, (int)mode, json);
    free(json);
    return p;
}

/* "a>b>c" of the path's versions. */
static const char *path_chain(const policy_path *p)
{
    static char buf[1024];
    size_t len = 0;

    buf[0] = '\0';
    if (p->nhops)
        len += (size_t)snprintf(buf, sizeof(buf), "%s", p->hops[0].from);
    for (size_t i = 0; i < p->nhops && len < sizeof(buf); i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, ">%s", p->hops[i].to);
    return buf;
}

/* Asserts a found path and its chain of versions. */
static void path_expect(const graph_snapshot *full, const char *channel, const char *from,
                        const char *to, int accept, policy_path_mode mode, const char *chain)
{
    policy_path *p = path_ask(full, channel, from, to, accept, mode, 0);

    cr_expect_eq(p->reason, POLICY_PATH_FOUND);
    cr_expect_str_eq(path_chain(p), chain, "%s %s -> %s accept=%d", channel, from, to, accept);
    policy_path_free(p);
}

/* Asserts a refusal with code and reason; returns the result for more checks. */
static policy_path *path_refused(const graph_snapshot *full, const char *channel, const char *from,
                                 const char *to, int accept, policy_path_mode mode, int code,
                                 policy_path_reason reason)
{
    policy_path *p = path_ask(full, channel, from, to, accept, mode, code);

    cr_expect_eq(p->reason, reason, "%s -> %s: reason %s, want %s", from, to,
                 policy_path_reason_name(p->reason), policy_path_reason_name(reason));
    cr_expect_eq(p->nhops, 0);
    cr_expect_neq(p->message[0], '\0');
    return p;
}

static int path_has_risk(const policy_path *p, const size_t *idx, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->risks[idx[i]].name, name) == 0)
            return 1;
    }
    return 0;
}

static int json_has(const policy_path *p, const char *needle)
{
    char *json = policy_path_json(p);
    int found;

    cr_assert_not_null(json);
    found = strstr(json, needle) != NULL;
    free(json);
    return found;
}

static double path_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Logs what a query costs on a cached view and with the filter included,
 * every 4.14/4.15 node of stable-4.16 to the newest 4.16 (a figure, not an
 * assertion: sanitizer builds are several times slower). */
static void path_time_queries(const graph_snapshot *full)
{
    graph_snapshot *view = NULL;
    size_t n, queries = 0, found = 0;
    cincy_error e;
    double t0, t_view;

    cr_assert_eq(policy_filter(&view, full, "stable-4.16", "amd64", &e), 0, "%s", tu_fmt(&e));
    n = graph_snapshot_node_count(view);
    t0 = path_now_ms();
    for (size_t i = 0; i < n; i++) {
        policy_path_query q = {"stable-4.16", "amd64", graph_snapshot_node_version(view, i),
                               "4.16",        0,       POLICY_PATH_STANDARD};
        policy_path *p = NULL;
        if (strncmp(q.from, "4.14.", 5) != 0 && strncmp(q.from, "4.15.", 5) != 0)
            continue;
        queries++;
        found += policy_path_find_in_view(&p, view, &q, &e) == 0;
        policy_path_free(p);
    }
    t_view = path_now_ms() - t0;
    cr_expect_gt(found, 100);
    t0 = path_now_ms();
    {
        policy_path_query q = {"stable-4.16", "amd64", "4.14.8", "4.16", 0, POLICY_PATH_STANDARD};
        policy_path *p = NULL;
        cr_expect_eq(policy_path_find(&p, full, &q, &e), 0);
        policy_path_free(p);
    }
    cr_log_info("path query on a cached stable-4.16 view (%zu nodes): %.3f ms mean over %zu "
                "queries (%zu found); with policy_filter of the full graph: %.1f ms",
                n, t_view / (double)queries, queries, found, path_now_ms() - t0);
    graph_snapshot_unref(view);
}

Test(policy_path, standard_paths_and_risks, .timeout = 300)
{
    graph_snapshot *full = path_full();
    policy_path *p;

    /* z-stream: one direct edge; "4.16" is the newest 4.16.z of the channel. */
    path_expect(full, "stable-4.16", "4.15.0", "4.15.2", 0, POLICY_PATH_STANDARD, "4.15.0>4.15.2");
    path_expect(full, "stable-4.16", "4.16.0", "4.16", 0, POLICY_PATH_STANDARD, "4.16.0>4.16.55");
    path_expect(full, "stable-4.16", "4.16.55", "latest", 0, POLICY_PATH_STANDARD, "");
    /* Two minors: through the newest 4.15 of stable-4.16 (4.15.59, where
     * eus-4.16 goes on to 4.15.67): the tie-break among 2-hop paths. */
    path_expect(full, "stable-4.16", "4.14.8", "4.16", 0, POLICY_PATH_STANDARD,
                "4.14.8>4.15.59>4.16.55");
    path_expect(full, "eus-4.16", "4.14.8", "4.16", 0, POLICY_PATH_STANDARD,
                "4.14.8>4.15.67>4.16.68");

    /* 4.15.0 -> 4.16.4 is conditional (HyperShiftNodePoolSkewBinaryDownload,
     * from ^4[.](15[.](1?[0-9]|2[0-2])|16[.][0-3])[+].*$): avoid takes two
     * unconditional hops, accept the one conditional hop. */
    path_expect(full, "stable-4.16", "4.15.0", "4.16.4", 0, POLICY_PATH_STANDARD,
                "4.15.0>4.15.59>4.16.4");
    p = path_ask(full, "stable-4.16", "4.15.0", "4.16.4", 1, POLICY_PATH_STANDARD, 0);
    cr_assert_eq(p->nhops, 1);
    cr_expect_eq(p->hops[0].conditional, 1);
    cr_expect(path_has_risk(p, p->hops[0].risks, p->hops[0].nrisks,
                            "HyperShiftNodePoolSkewBinaryDownload"));
    cr_expect(json_has(p, "\"url\":\"https://issues.redhat.com/browse/HOSTEDCP-1941\""));
    policy_path_free(p);

    /* Every 4.15 -> 4.16.3 edge carries ServiceAccountContentionSecretCreation
     * (from 4[.]15[.].*): only risks=accept finds a path; avoid names the
     * conditional edge that blocks it, and the removal label on 4.16.3. */
    p = path_refused(full, "stable-4.16", "4.15.10", "4.16.3", 0, POLICY_PATH_STANDARD,
                     CINCY_ENOTFOUND, POLICY_PATH_NO_PATH);
    cr_assert_eq(p->nblocks, 2);
    cr_expect_str_eq(p->blocks[0].from, "4.15.10");
    cr_expect_str_eq(p->blocks[0].to, "4.16.3");
    cr_expect(path_has_risk(p, p->blocks[0].risks, p->blocks[0].nrisks,
                            "ServiceAccountContentionSecretCreation"));
    cr_expect_null(p->blocks[1].from);
    cr_expect_str_eq(p->blocks[1].to, "4.16.3");
    cr_expect_not_null(p->blocks[1].from_regex);
    cr_expect(json_has(p, "\"error\":{\"reason\":\"no_path\""));
    policy_path_free(p);
    p = path_ask(full, "stable-4.16", "4.15.10", "4.16.3", 1, POLICY_PATH_STANDARD, 0);
    cr_assert_eq(p->nhops, 1);
    cr_expect_eq(p->hops[0].conditional, 1);
    cr_expect(path_has_risk(p, p->hops[0].risks, p->hops[0].nrisks,
                            "ServiceAccountContentionSecretCreation"));
    for (size_t i = 0; i < p->nrisks; i++) {
        for (size_t j = i + 1; j < p->nrisks; j++)
            cr_expect_str_neq(p->risks[i].name, p->risks[j].name, "risk listed twice");
    }
    policy_path_free(p);

    /* 4.9.38: a pure block (blocked-edges/4.9.38.yaml, from .*) removed
     * every edge into it; no risk to accept, only the label explains it. */
    p = path_refused(full, "stable-4.9", "4.9.0", "4.9.38", 1, POLICY_PATH_STANDARD,
                     CINCY_ENOTFOUND, POLICY_PATH_NO_PATH);
    cr_assert_eq(p->nblocks, 1);
    cr_expect_str_eq(p->blocks[0].from_regex, ".*");
    policy_path_free(p);
    path_time_queries(full);
    graph_snapshot_unref(full);
}

Test(policy_path, eus_ibu_and_bad_input, .timeout = 300)
{
    graph_snapshot *full = path_full();
    policy_path *p;

    /* EUS to EUS: inside 4.14..4.16, every hop control plane only, workers
     * paused before the first hop and unpaused after the last. */
    p = path_ask(full, "eus-4.16", "4.14.8", "4.16", 0, POLICY_PATH_EUS, 0);
    cr_expect_str_eq(path_chain(p), "4.14.8>4.15.67>4.16.68");
    cr_assert_eq(p->nhops, 2);
    cr_expect(p->hops[0].control_plane_only && p->hops[1].control_plane_only);
    cr_expect(strstr(p->hops[0].note, "pause worker") != NULL);
    cr_expect(strstr(p->hops[1].note, "unpause worker") != NULL);
    cr_expect(json_has(p, "\"workerPools\":{\"pauseBeforeHop\":1,\"unpauseAfterHop\":2,"
                          "\"workerReboots\":1}"));
    policy_path_free(p);
    policy_path_free(path_refused(full, "eus-4.16", "4.15.10", "4.16", 0, POLICY_PATH_EUS,
                                  CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH));
    policy_path_free(path_refused(full, "eus-4.16", "4.14.8", "4.15", 0, POLICY_PATH_EUS,
                                  CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH));

    /* Image-based upgrade: one jump whatever the edges, source >= 4.14.13. */
    path_expect(full, "eus-4.16", "4.14.13", "4.16", 0, POLICY_PATH_IBU, "4.14.13>4.16.68");
    path_expect(full, "eus-4.16", "4.14.13", "4.15", 0, POLICY_PATH_IBU, "4.14.13>4.15.67");
    path_expect(full, "eus-4.16", "4.14.13", "4.14.20", 0, POLICY_PATH_IBU, "4.14.13>4.14.20");
    policy_path_free(path_refused(full, "eus-4.16", "4.14.12", "4.16", 0, POLICY_PATH_IBU,
                                  CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH));
    policy_path_free(path_refused(full, "stable-4.17", "4.14.20", "4.17", 0, POLICY_PATH_IBU,
                                  CINCY_EINVALID, POLICY_PATH_MODE_MISMATCH));
    policy_path_free(path_refused(full, "eus-4.16", "4.14.13", "4.17", 0, POLICY_PATH_IBU,
                                  CINCY_ENOTFOUND, POLICY_PATH_TO_UNKNOWN));

    /* Bad input, each with its reason. */
    policy_path_free(path_refused(full, "stable-4.16", "4.16.x", "4.16.5", 0, POLICY_PATH_STANDARD,
                                  CINCY_EINVALID, POLICY_PATH_INVALID_VERSION));
    policy_path_free(path_refused(full, "stable-4.16", "4.16.1", "4.16.banana", 0,
                                  POLICY_PATH_STANDARD, CINCY_EINVALID,
                                  POLICY_PATH_INVALID_VERSION));
    policy_path_free(path_refused(full, "stable-4.16", "4.16.999", "4.16.5", 0,
                                  POLICY_PATH_STANDARD, CINCY_ENOTFOUND, POLICY_PATH_FROM_UNKNOWN));
    policy_path_free(path_refused(full, "stable-4.16", "4.16.1", "4.16.999", 0,
                                  POLICY_PATH_STANDARD, CINCY_ENOTFOUND, POLICY_PATH_TO_UNKNOWN));
    policy_path_free(path_refused(full, "stable-4.16", "4.16.1", "4.99", 0, POLICY_PATH_STANDARD,
                                  CINCY_ENOTFOUND, POLICY_PATH_TO_UNKNOWN));
    p = path_refused(full, "stable-4.16", "4.16.5", "4.16.2", 0, POLICY_PATH_STANDARD,
                     CINCY_EINVALID, POLICY_PATH_FROM_NEWER_THAN_TO);
    cr_expect(json_has(p, "\"reason\":\"from_newer_than_to\""));
    cr_expect_str_eq(p->message, "from 4.16.5 is newer than to 4.16.2");
    policy_path_free(p);
    policy_path_free(path_refused(full, "Stable!", "4.16.1", "4.16.2", 0, POLICY_PATH_STANDARD,
                                  CINCY_EINVALID, POLICY_PATH_INVALID_QUERY));
    graph_snapshot_unref(full);
}

/* The rule on a small graph, through a view the caller filtered:
 *   4.1.0 -> 4.1.1 -> 4.1.5 -> 4.1.9
 *   4.1.0 -> 4.1.2 -> 4.1.3 -> 4.1.9,  4.1.2 -> 4.1.4 -> 4.1.9
 *   4.1.0 -> 4.1.6 -> 4.1.7 -> 4.1.8 -> 4.1.9  (newest first hop, one hop longer)
 * Fewest hops rules out 4.1.6; among the 3-hop paths the first hop decides
 * (4.1.2 over 4.1.1, although 4.1.5 is newer than 4.1.3 and 4.1.4), then
 * the second (4.1.4 over 4.1.3). */
Test(policy_path, fewest_hops_then_newest_hop_by_hop)
{
    static const char *const rel[][2] = {
        {"4.1.0", NULL},    {"4.1.1", "4.1.0"},
        {"4.1.2", "4.1.0"}, {"4.1.3", "4.1.2"},
        {"4.1.4", "4.1.2"}, {"4.1.5", "4.1.1"},
        {"4.1.6", "4.1.0"}, {"4.1.7", "4.1.6"},
        {"4.1.8", "4.1.7"}, {"4.1.9", "4.1.3 4.1.4 4.1.5 4.1.8"},
    };
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full, *view = NULL;
    policy_path_query q = {"stable-4.1", "amd64", "4.1.0", "4.1.9", 0, POLICY_PATH_STANDARD};
    policy_path *p = NULL;
    cincy_error e;

    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
        tu_release(rs, rel[i][0], "amd64", rel[i][1], NULL, NULL);
    tu_channel(gd, "stable-4.1", "4.1.0 4.1.1 4.1.2 4.1.3 4.1.4 4.1.5 4.1.6 4.1.7 4.1.8 4.1.9");
    full = tu_build(rs, gd);
    cr_assert_eq(policy_filter(&view, full, "stable-4.1", "amd64", &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(policy_path_find_in_view(&p, view, &q, &e), 0, "%s", tu_fmt(&e));
    cr_expect_str_eq(path_chain(p), "4.1.0>4.1.2>4.1.4>4.1.9");
    cr_expect_eq(p->nhops, 3);
    cr_expect_not_null(p->hops[0].payload);
    policy_path_free(p);
    graph_snapshot_unref(view);
    graph_snapshot_unref(full);
}
