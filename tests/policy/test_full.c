/* tests/policy/test_full.c - policy over the bundled real graph-data.
 * config/graph-data is a snapshot of openshift/cincinnati-graph-data; the
 * releases are the demo records generated from it (the build's
 * CINCY_DEMO_RELEASES, or generated here when that is not built yet). The
 * facts asserted were checked by hand against the YAML files. */
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy_test_util.h"

#define GRAPH_DATA CINCY_SOURCE_DIR "/config/graph-data"

static void rm_rf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char sub[4096];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Loads graph-data and releases; builds the full graph. */
static graph_snapshot *build_full(policy_stats *st)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    graph_snapshot *full = NULL;
    char tmp[64] = "";
    const char *dir = CINCY_DEMO_RELEASES;
    struct stat sb;
    cincy_error e;
    double t0;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, GRAPH_DATA, &e), 0, "%s", tu_fmt(&e));
    if (stat(CINCY_DEMO_RELEASES "/.stamp", &sb) != 0) {
        size_t count;
        snprintf(tmp, sizeof(tmp), "/tmp/cincy-policy-XXXXXX");
        cr_assert_not_null(mkdtemp(tmp));
        cr_assert_eq(ingest_demo_write(gd, tmp, &count, &e), 0, "%s", tu_fmt(&e));
        dir = tmp;
    }
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), 0, "%s", tu_fmt(&e));
    if (tmp[0])
        rm_rf(tmp);

    t0 = now_ms();
    cr_assert_eq(policy_build(&full, rs, gd, st, &e), 0, "%s", tu_fmt(&e));
    cr_log_info("policy_build on full data: %.0f ms, %zu releases, %zu nodes, %zu edges, "
                "%zu conditional pairs",
                now_ms() - t0, st->releases, st->nodes, st->edges, st->cond_edges);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    return full;
}

/* Distinct versions (build dropped) listed in one channel file. */
static size_t distinct_versions(const char *channel_file)
{
    ingest_channel ch;
    char *text, path[512];
    FILE *f;
    long n;
    size_t count = 0;
    cincy_error e;

    snprintf(path, sizeof(path), GRAPH_DATA "/channels/%s", channel_file);
    f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = malloc((size_t)n + 1);
    cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    cr_assert_eq(ingest_channel_parse(&ch, text, (size_t)n, path, &e), 0, "%s", tu_fmt(&e));
    for (size_t i = 0; i < ch.nversions; i++) {
        size_t len = strcspn(ch.versions[i], "+"), j;
        for (j = 0; j < i; j++) {
            if (strcspn(ch.versions[j], "+") == len && strncmp(ch.versions[j], ch.versions[i], len) == 0)
                break;
        }
        count += j == i;
    }
    ingest_channel_clear(&ch);
    free(text);
    return count;
}

Test(policy_full, real_graph_data, .timeout = 300)
{
    policy_stats st;
    graph_snapshot *full = build_full(&st), *s = NULL;
    const graph_cond_group *g;
    cincy_error e;

    cr_assert_gt(st.nodes, 5000);
    cr_assert_eq(st.nodes, graph_snapshot_node_count(full));
    cr_assert_eq(st.channels, 76);
    cr_assert_eq(st.blocks, 1717); /* 116 pure blocks + 1601 risks */

    /* blocked-edges/4.9.38.yaml is a pure block "from: .*": nothing may reach 4.9.38 */
    cr_assert_eq(tu_in_degree(full, "4.9.38+amd64"), 0);
    cr_assert_eq(tu_in_degree(full, "4.9.38+s390x"), 0);
    cr_assert_str_eq(tu_meta(full, "4.9.38+amd64", "io.openshift.upgrades.graph.previous.remove_regex"),
                     ".*");
    /* the 4.9.59 example of spec §2.4 */
    cr_assert_str_eq(tu_meta(full, "4.9.59+amd64", POLICY_KEY_CHANNELS),
                     "candidate-4.10,eus-4.10,fast-4.10,stable-4.10,candidate-4.9,fast-4.9,"
                     "stable-4.9");

    cr_assert_eq(policy_filter(&s, full, "stable-4.16", "amd64", &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(graph_snapshot_node_count(s), distinct_versions("stable-4.16.yaml"));
    cr_assert_eq(graph_snapshot_node_count(s), 161);
    /* blocked-edges/4.16.0-OldBootImagesMissingOSReleaseRHELVersion.yaml and
     * 4.16.0-ServiceAccountContentionSecretCreation.yaml, both from 4[.]15[.].* */
    g = tu_cond(s, "4.15.0", "4.16.0");
    cr_assert_not_null(g, "4.15.0 -> 4.16.0 is not conditional");
    cr_assert_eq(g->nrisks, 2);
    cr_assert_str_eq(g->risks[0].name, "OldBootImagesMissingOSReleaseRHELVersion");
    cr_assert_str_eq(g->risks[1].name, "ServiceAccountContentionSecretCreation");
    cr_assert_eq(g->risks[1].rules[0].type, GRAPH_RULE_ALWAYS);
    cr_assert_not(tu_edge(s, "4.15.0", "4.16.0"));
    cr_assert(tu_edge(s, "4.16.0", "4.16.1") || tu_cond(s, "4.16.0", "4.16.1"));
    for (size_t i = 0; i < graph_snapshot_node_count(s); i++)
        cr_assert_null(strchr(graph_snapshot_node_version(s, i), '+'));
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}
