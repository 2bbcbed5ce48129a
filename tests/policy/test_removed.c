/* tests/policy/test_removed.c - the edges graph-data pure blocks removed
 * (policy_removed_edges, policy_removed_json) and the channel list
 * (policy_channels_json), on hand-built data and on the bundled real data. */
#include <sys/stat.h>
#include <unistd.h>

#include "../test_fs.h"
#include "policy_test_util.h"

#define GRAPH_DATA CINCY_SOURCE_DIR "/config/graph-data"

/* 4.13.5 -> 4.14.0 -> 4.14.1 -> 4.14.2, 4.13.5 -> 4.14.1, 4.14.0 -> 4.14.2;
 * all in stable-4.14. */
static void chain(ingest_releases **rs, ingest_graph_data **gd, const char *arch)
{
    *rs = tu_releases();
    tu_release(*rs, "4.13.5", arch, NULL, NULL, NULL);
    tu_release(*rs, "4.14.0", arch, "4.13.5", NULL, NULL);
    tu_release(*rs, "4.14.1", arch, "4.13.5 4.14.0", NULL, NULL);
    tu_release(*rs, "4.14.2", arch, "4.14.0 4.14.1", NULL, NULL);
    *gd = tu_graph_data();
    tu_channel(*gd, "stable-4.14", "4.13.5 4.14.0 4.14.1 4.14.2");
}

/* "from>to file" of each removed edge, space-separated, in table order. */
static void removed_text(char *out, size_t size, const graph_snapshot *s)
{
    const policy_removed *t = policy_removed_edges(s);
    size_t pos = 0;

    out[0] = '\0';
    for (size_t i = 0; t && i < t->nedges; i++)
        pos += (size_t)snprintf(out + pos, size - pos, "%s%s>%s %s", i ? " " : "",
                                graph_snapshot_node_version(s, t->edges[i].from),
                                graph_snapshot_node_version(s, t->edges[i].to),
                                t->removals[t->edges[i].removal].file);
}

Test(policy_removed, pure_block_edges_are_recorded_in_order)
{
    ingest_releases *rs;
    ingest_graph_data *gd;
    graph_snapshot *s;
    char text[512], *json;

    chain(&rs, &gd, "amd64");
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", ".*");
    tu_block(gd, "blocked-edges/4.14.2.yaml", "4.14.2", "4[.]14[.]0");
    s = tu_build(rs, gd);
    removed_text(text, sizeof(text), s);
    cr_assert_str_eq(text, "4.13.5+amd64>4.14.1+amd64 blocked-edges/4.14.1.yaml "
                           "4.14.0+amd64>4.14.1+amd64 blocked-edges/4.14.1.yaml "
                           "4.14.0+amd64>4.14.2+amd64 blocked-edges/4.14.2.yaml");
    json = policy_removed_json(s, "stable-4.14", "amd64");
    cr_assert_str_eq(json, "{\"channel\":\"stable-4.14\",\"arch\":\"amd64\",\"edges\":["
                           "{\"from\":\"4.13.5\",\"to\":\"4.14.1\",\"file\":\"blocked-edges/"
                           "4.14.1.yaml\",\"from_regex\":\".*\",\"reason\":null},"
                           "{\"from\":\"4.14.0\",\"to\":\"4.14.1\",\"file\":\"blocked-edges/"
                           "4.14.1.yaml\",\"from_regex\":\".*\",\"reason\":null},"
                           "{\"from\":\"4.14.0\",\"to\":\"4.14.2\",\"file\":\"blocked-edges/"
                           "4.14.2.yaml\",\"from_regex\":\"4[.]14[.]0\",\"reason\":null}]}");
    free(json);
    json = policy_removed_json(s, "stable-4.14", "arm64"); /* no node of that arch */
    cr_assert_str_eq(json, "{\"channel\":\"stable-4.14\",\"arch\":\"arm64\",\"edges\":[]}");
    free(json);
    graph_snapshot_unref(s);
}

/* Q7: the later block on a target replaces the earlier one, so only its
 * removals are attributed (the earlier file removed nothing). */
Test(policy_removed, later_block_on_a_target_is_the_one_named)
{
    ingest_releases *rs;
    ingest_graph_data *gd;
    graph_snapshot *s;
    char text[512];

    chain(&rs, &gd, "amd64");
    tu_block(gd, "blocked-edges/4.14.1-a.yaml", "4.14.1", "4[.]14[.]0");
    tu_block(gd, "blocked-edges/4.14.1-b.yaml", "4.14.1", "4[.]13[.].*");
    s = tu_build(rs, gd);
    removed_text(text, sizeof(text), s);
    cr_assert_str_eq(text, "4.13.5+amd64>4.14.1+amd64 blocked-edges/4.14.1-b.yaml");
    cr_assert_eq(policy_removed_edges(s)->nremovals, 1);
    graph_snapshot_unref(s);
}

/* Q8: a pair both blocked and risky is served as conditional, so it is not
 * listed as removed; the blocked pair without a risk is. */
Test(policy_removed, risky_pair_is_served_not_removed)
{
    ingest_releases *rs;
    ingest_graph_data *gd;
    graph_snapshot *s;
    char text[512];

    chain(&rs, &gd, "amd64");
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", ".*");
    tu_risk(gd, "blocked-edges/4.14.1-Risk.yaml", "4.14.1", "4[.]14[.]0", "Risk");
    s = tu_build(rs, gd);
    cr_assert_not_null(tu_cond(s, "4.14.0+amd64", "4.14.1+amd64"));
    removed_text(text, sizeof(text), s);
    cr_assert_str_eq(text, "4.13.5+amd64>4.14.1+amd64 blocked-edges/4.14.1.yaml");
    graph_snapshot_unref(s);
}

Test(policy_removed, no_graph_data_no_table)
{
    ingest_releases *rs;
    ingest_graph_data *gd;
    graph_snapshot *s = NULL;
    cincy_error e;
    char *json;

    chain(&rs, &gd, "amd64");
    cr_assert_eq(policy_build(&s, rs, NULL, NULL, &e), 0, "%s", tu_fmt(&e));
    cr_assert_null(policy_removed_edges(s));
    json = policy_removed_json(s, "stable-4.14", "amd64");
    cr_assert_str_eq(json, "{\"channel\":\"stable-4.14\",\"arch\":\"amd64\",\"edges\":[]}");
    free(json);
    graph_snapshot_unref(s);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
}

/* The reason is the block file's comment lines, read from gd->root. */
Test(policy_removed, reason_from_the_file_comments)
{
    ingest_releases *rs;
    ingest_graph_data *gd;
    graph_snapshot *s;
    char dir[256], *json;

    test_tmpdir(dir, sizeof(dir));
    test_write(dir, "blocked-edges/4.14.1.yaml",
               "to: 4.14.1\nfrom: .*\n# Breaks ingress,\n  #   see https://example.invalid/1\n#\n");
    chain(&rs, &gd, "amd64");
    free(gd->root);
    gd->root = tu_dup(dir);
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", ".*");
    s = tu_build(rs, gd);
    cr_assert_str_eq(policy_removed_edges(s)->removals[0].reason,
                     "Breaks ingress, see https://example.invalid/1");
    json = policy_removed_json(s, "stable-4.14", "amd64");
    cr_assert(strstr(json, "\"reason\":\"Breaks ingress, see https://example.invalid/1\""), "%s",
              json);
    free(json);
    graph_snapshot_unref(s);
    test_rm_rf(dir);
}

Test(policy_removed, channels_sorted_with_arches_and_default)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    char *json, *only[] = {"stable-4.9", "eus-4.10"};

    tu_release(rs, "4.9.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.9.0", "arm64", NULL, NULL, NULL);
    tu_release(rs, "4.10.0", "amd64", NULL, NULL, NULL);
    tu_channel(gd, "eus-4.10", "4.10.0");
    tu_channel(gd, "stable-4.10", "4.10.0");
    tu_channel(gd, "stable-4.9", "4.9.0");
    tu_channel(gd, "fast-4.10", "4.10.0");
    s = tu_build(rs, gd);
    json = policy_channels_json(s, NULL, 0);
    cr_assert_str_eq(json, "{\"channels\":[{\"name\":\"eus-4.10\",\"arches\":[\"amd64\"]},"
                           "{\"name\":\"fast-4.10\",\"arches\":[\"amd64\"]},"
                           "{\"name\":\"stable-4.9\",\"arches\":[\"amd64\",\"arm64\"]},"
                           "{\"name\":\"stable-4.10\",\"arches\":[\"amd64\"]}],"
                           "\"arches\":[\"amd64\",\"arm64\"],\"default_channel\":\"stable-4.10\"}");
    free(json);
    /* a relay lists only what it fetched; no stable-4.y: the first channel */
    only[0] = "fast-4.10";
    json = policy_channels_json(s, only, 2);
    cr_assert_str_eq(json, "{\"channels\":[{\"name\":\"eus-4.10\",\"arches\":[\"amd64\"]},"
                           "{\"name\":\"fast-4.10\",\"arches\":[\"amd64\"]}],"
                           "\"arches\":[\"amd64\"],\"default_channel\":\"eus-4.10\"}");
    free(json);
    graph_snapshot_unref(s);
}

Test(policy_removed, channels_of_an_empty_graph)
{
    graph_snapshot *s = tu_build(tu_releases(), tu_graph_data());
    char *json = policy_channels_json(s, NULL, 0);

    cr_assert_str_eq(json, "{\"channels\":[],\"arches\":[],\"default_channel\":null}");
    free(json);
    graph_snapshot_unref(s);
}

/* ---------------------------------------------------------------------------
 * The bundled real data. */

static graph_snapshot *build_real(void)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    graph_snapshot *full = NULL;
    char tmp[256] = "";
    const char *dir = CINCY_DEMO_RELEASES;
    struct stat sb;
    cincy_error e;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, GRAPH_DATA, &e), 0, "%s", tu_fmt(&e));
    if (stat(CINCY_DEMO_RELEASES "/.stamp", &sb) != 0) {
        size_t count;
        test_tmpdir(tmp, sizeof(tmp));
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

/* 1 when (from, to) is served, plainly or conditionally. */
static int served(const graph_snapshot *s, uint32_t from, uint32_t to)
{
    const graph_edge *e = graph_snapshot_edges(s);

    for (size_t i = 0; i < graph_snapshot_edge_count(s); i++)
        if (e[i].from == from && e[i].to == to)
            return 1;
    for (size_t g = 0; g < graph_snapshot_cond_count(s); g++) {
        const graph_cond_group *grp = graph_snapshot_cond_group(s, g);
        for (size_t i = 0; i < grp->nedges; i++)
            if (grp->edges[i].from == from && grp->edges[i].to == to)
                return 1;
    }
    return 0;
}

Test(policy_removed, real_data, .timeout = 900)
{
    graph_snapshot *s = build_real();
    const policy_removed *t = policy_removed_edges(s);
    size_t f = tu_node(s, "4.1.20+amd64"), to = tu_node(s, "4.2.0+amd64"), found = 0, noreason = 0;
    char *json;

    cr_assert_not_null(t);
    cr_log_info("real data: %zu removed edges from %zu blocked-edges files", t->nedges,
                t->nremovals);
    for (size_t i = 0; i < t->nedges; i++) {
        const policy_removed_edge *e = &t->edges[i];
        const policy_removal *r = &t->removals[e->removal];
        cr_assert_not(served(s, e->from, e->to), "%s -> %s is listed as removed but served",
                      graph_snapshot_node_version(s, e->from),
                      graph_snapshot_node_version(s, e->to));
        cr_assert(i == 0 || e->to > t->edges[i - 1].to ||
                  (e->to == t->edges[i - 1].to && e->from > t->edges[i - 1].from));
        noreason += r->reason == NULL;
        if (e->from == f && e->to == to) {
            /* blocked-edges/4.2.0.yaml: to 4.2.0, from 4\.1\..*, and a comment */
            cr_assert_str_eq(r->file, "blocked-edges/4.2.0.yaml");
            cr_assert_str_eq(r->from_regex, "4\\.1\\..*");
            cr_assert(r->reason && strstr(r->reason, "TargetDown for ingress-operator"));
            found = 1;
        }
    }
    cr_assert(found, "4.1.20 -> 4.2.0 (amd64) is not listed as removed");
    cr_log_info("real data: %zu removed edges have no comment for a reason", noreason);
    json = policy_removed_json(s, "stable-4.2", "amd64");
    cr_assert(strstr(json, "{\"from\":\"4.1.20\",\"to\":\"4.2.0\",\"file\":\"blocked-edges/"
                           "4.2.0.yaml\""),
              "%.300s", json);
    free(json);
    json = policy_channels_json(s, NULL, 0);
    cr_assert(strstr(json, "{\"name\":\"stable-4.9\",\"arches\":[\"amd64\""), "%.300s", json);
    cr_assert(strstr(json, "\"default_channel\":\"stable-4.22\""), "%.300s", json);
    free(json);
    graph_snapshot_unref(s);
}
