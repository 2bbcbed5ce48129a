/* tests/policy/test_spec_graph_data.c - graph-data semantics against the spec (§2, Q7, Q8, Q10).
 *
 * Each test names the spec point it pins; docs/graph-data.md lists every
 * graph-data rule with its test. Rules already pinned elsewhere
 * (test_blocks.c, test_channels.c, test_labels.c, test_releases.c,
 * tests/ingest/test_graph_data.c) are not repeated here; these are the
 * points the §2.13 checklist asks for that had no test, and cincy's own
 * decisions where it departs from the reference.
 */
#include "spec_test_util.h"

#include <criterion/redirect.h>
#include <jansson.h>

#define REMOVE_REGEX "io.openshift.upgrades.graph.previous.remove_regex"
#define L_PREV_ADD "io.openshift.upgrades.graph.previous.add="
#define L_NEXT_ADD "io.openshift.upgrades.graph.next.add="
#define L_PREV_REMOVE "io.openshift.upgrades.graph.previous.remove="
#define L_PREV_REMOVE_REGEX "io.openshift.upgrades.graph.previous.remove_regex="
#define L_NEXT_REMOVE "io.openshift.upgrades.graph.next.remove="
#define L_CHANNELS "io.openshift.upgrades.graph.release.channels="

static void redirect_stderr(void)
{
    cr_redirect_stderr();
}

static char *read_stderr(void)
{
    FILE *f = cr_get_redirected_stderr();
    size_t cap = 1 << 16, n;
    char *buf = calloc(1, cap);

    cr_assert_not_null(buf);
    fflush(stderr);
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    return buf;
}

/* A compact JSON dump of one member of a response. */
static char *member_json(const char *body, const char *key)
{
    json_error_t jerr;
    json_t *root = json_loads(body, 0, &jerr);
    char *out;

    cr_assert_not_null(root, "%s", jerr.text);
    out = json_dumps(json_object_get(root, key), JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(root);
    cr_assert_not_null(out);
    return out;
}

/* The node versions of a response, space-separated. */
static void node_versions(char *buf, size_t size, const char *body)
{
    json_t *root = json_loads(body, 0, NULL), *node;
    size_t i, pos = 0;

    cr_assert_not_null(root);
    buf[0] = '\0';
    json_array_foreach(json_object_get(root, "nodes"), i, node)
    {
        pos += (size_t)snprintf(buf + pos, size - pos, "%s%s", i ? " " : "",
                                json_string_value(json_object_get(node, "version")));
        cr_assert_lt(pos, size);
    }
    json_decref(root);
}

/* ---------------------------------------------------------------------------
 * §2.2 the version file. Major 1 only. A newer minor is accepted with a
 * warning, as the reference does (quirk Q10), although the graph-data README
 * says a consumer must refuse it: refusing would stop every update over a
 * feature the server can skip. A refused file fails the load, and the server
 * keeps the graph it has (the same path as a missing file, pinned by
 * server_http/failed_reload_keeps_the_graph).
 */
Test(policy_spec_gd, version_2_2_major_1_only_newer_minor_warns, .init = redirect_stderr)
{
    static const char *const accepted[] = {"1.0.0", "1.1.0\n", "1.2.0", "1.3.0\n", "1.10.0"};
    static const struct {
        const char *text;
        const char *expected;
    } refused[] = {
        {"2.0.0\n", "version:1: graph-data schema 2.0.0 is not supported (this server reads 1.x)"},
        {"10.1.0", "version:1: graph-data schema 10.1.0 is not supported (this server reads 1.x)"},
        {"0.1.0", "version:1: graph-data schema 0.1.0 is not supported (this server reads 1.x)"},
        {"v1.1.0", "version:1: 'v1.1.0' is not a valid schema version"},
        {"1.1.0.0", "version:1: '1.1.0.0' is not a valid schema version"},
        {"01.1.0", "version:1: '01.1.0' is not a valid schema version"},
        {"1.1.0\n1.2.0\n", "version:1: '1.1.0\n1.2.0' is not a valid schema version"},
        {"schema: 1", "version:1: 'schema: 1' is not a valid schema version"},
    };
    char *log;

    cincy_log_set_level(CINCY_LOG_INFO);
    for (size_t i = 0; i < sizeof(accepted) / sizeof(*accepted); i++) {
        ingest_graph_data *gd = NULL;
        char dir[64];
        cincy_error e;

        test_tmpdir(dir, sizeof(dir));
        test_graph_data_skeleton(dir, accepted[i]);
        cr_assert_eq(ingest_graph_data_load_dir(&gd, dir, &e), 0, "%s: %s", accepted[i],
                     tu_fmt(&e));
        cr_assert_eq(gd->nchannels, 1);
        ingest_graph_data_free(gd);
        test_rm_rf(dir);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        ingest_graph_data *gd = (ingest_graph_data *)0x1;
        char dir[64];
        cincy_error e;

        test_tmpdir(dir, sizeof(dir));
        test_graph_data_skeleton(dir, refused[i].text);
        cr_assert_eq(ingest_graph_data_load_dir(&gd, dir, &e), CINCY_EINVALID, "case %zu", i);
        cr_assert_eq(gd, (ingest_graph_data *)0x1, "out written on failure");
        cr_assert_str_eq(tu_fmt(&e), refused[i].expected, "case %zu", i);
        test_rm_rf(dir);
    }
    log = read_stderr();
    cr_assert(strstr(log, "msg=\"graph-data schema 1.3.0 is newer than 1.2 and may use "
                          "unsupported features\""),
              "%s", log);
    cr_assert(strstr(log, "graph-data schema 1.10.0 is newer than 1.2"), "%s", log);
    cr_assert_null(strstr(log, "schema 1.2.0 is newer"), "%s", log);
    cr_assert_null(strstr(log, "schema 1.1.0 is newer"), "%s", log);
    free(log);
}

/* ---------------------------------------------------------------------------
 * §2.4 the channels value.
 */

/* Decision: two channel files with one name list it once. The reference
 * appends the name per file ("stable-4.14,stable-4.14"), which says nothing
 * more and makes the value depend on how the data is split into files. */
Test(policy_spec_gd, channels_2_4_duplicate_name_across_files_listed_once)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = tu_releases();
    graph_snapshot *full;
    cincy_error e;
    char *body, versions[256];

    cr_assert_eq(ingest_graph_data_load_dir(&gd, SPEC_DATA "/dup-channels/graph-data", &e), 0, "%s",
                 tu_fmt(&e));
    cr_assert_eq(gd->nchannels, 3);
    cr_assert_str_eq(gd->channels[1].file, "channels/stable-4.14-hotfix.yaml");
    cr_assert_str_eq(gd->channels[1].name, "stable-4.14");
    cr_assert_str_eq(gd->channels[2].name, "stable-4.14");
    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", "4.14.0", NULL, NULL);
    full = tu_build(rs, gd);

    cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", POLICY_KEY_CHANNELS), "fast-4.14,stable-4.14");
    cr_assert_str_eq(tu_meta(full, "4.14.1+amd64", POLICY_KEY_CHANNELS), "fast-4.14,stable-4.14");
    body = spec_filter_json(full, "stable-4.14", "amd64");
    node_versions(versions, sizeof(versions), body);
    cr_assert_str_eq(versions, "4.14.0 4.14.1");
    free(body);
    graph_snapshot_unref(full);
}

/* §4.2/§4.5: the CVO rejects a channels value with an empty entry. A value
 * from release metadata is trimmed, emptied entries go, and a value left
 * empty is removed (the node is then in no channel). */
Test(policy_spec_gd, channels_2_4_value_trimmed_and_empty_entries_dropped)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full;
    char *body, versions[256];

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, L_CHANNELS " fast-4.14 ,, fast-4.14,");
    tu_release(rs, "4.14.1", "amd64", "4.14.0", NULL, L_CHANNELS ", ,");
    tu_release(rs, "4.14.2", "amd64", "4.14.0", NULL, L_CHANNELS "");
    tu_channel(gd, "candidate-4.14", "4.14.0");
    full = tu_build(rs, gd);

    cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", POLICY_KEY_CHANNELS),
                     "candidate-4.14,fast-4.14");
    cr_assert_null(tu_meta(full, "4.14.1+amd64", POLICY_KEY_CHANNELS));
    cr_assert_null(tu_meta(full, "4.14.2+amd64", POLICY_KEY_CHANNELS));
    body = spec_filter_json(full, "fast-4.14", "amd64");
    node_versions(versions, sizeof(versions), body);
    cr_assert_str_eq(versions, "4.14.0");
    free(body);
    graph_snapshot_unref(full);
}

/* §2.7 + §2.12: raw metadata runs before channels, so a channels key it adds
 * is extended by the channel files and sorted with them, on every arch. */
Test(policy_spec_gd, raw_2_7_channels_from_raw_metadata_merge_with_files)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.0", "s390x", NULL, NULL, NULL);
    tu_raw(gd, "4.14.0", L_CHANNELS "stable-4.14");
    tu_channel(gd, "eus-4.14", "4.14.0");
    tu_channel(gd, "stable-4.14", "4.14.0"); /* also from raw: listed once */
    full = tu_build(rs, gd);
    cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", POLICY_KEY_CHANNELS), "eus-4.14,stable-4.14");
    cr_assert_str_eq(tu_meta(full, "4.14.0+s390x", POLICY_KEY_CHANNELS), "eus-4.14,stable-4.14");
    graph_snapshot_unref(full);
}

/* ---------------------------------------------------------------------------
 * §2.7 raw metadata comes before blocks and risks (§2.12 pipeline order).
 */

/* 4.13.5 -> 4.14.0 -> 4.14.1 -> 4.14.2, and 4.13.5 / 4.14.0 straight to each
 * later release; amd64 only. */
static ingest_releases *chain(void)
{
    ingest_releases *rs = tu_releases();

    tu_release(rs, "4.13.5", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.0", "amd64", "4.13.5", NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", "4.13.5 4.14.0", NULL, NULL);
    tu_release(rs, "4.14.2", "amd64", "4.13.5 4.14.0 4.14.1", NULL, NULL);
    return rs;
}

Test(policy_spec_gd, raw_2_7_before_blocks_a_pure_block_overwrites_a_risk_appends)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_raw(gd, "4.14.1", L_PREV_REMOVE_REGEX "4[.]13[.].*");
    tu_raw(gd, "4.14.2", L_PREV_REMOVE_REGEX "4[.]13[.].*");
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", "4[.]14[.]0");
    tu_risk(gd, "blocked-edges/4.14.2-R.yaml", "4.14.2", "4[.]14[.]1", "R");
    s = tu_build(chain(), gd);

    /* Q7: the pure block replaced raw's regex, so 4.13.5 -> 4.14.1 is back */
    cr_assert_str_eq(tu_meta(s, "4.14.1+amd64", REMOVE_REGEX), "4[.]14[.]0");
    cr_assert(tu_edge(s, "4.13.5+amd64", "4.14.1+amd64"));
    cr_assert_not(tu_edge(s, "4.14.0+amd64", "4.14.1+amd64"));
    /* the risk appended with '|': raw's removal and the risk's both apply */
    cr_assert_str_eq(tu_meta(s, "4.14.2+amd64", REMOVE_REGEX), "4[.]13[.].*|4[.]14[.]1");
    cr_assert_not(tu_edge(s, "4.13.5+amd64", "4.14.2+amd64"));
    cr_assert_null(tu_cond(s, "4.13.5+amd64", "4.14.2+amd64"));
    cr_assert_not_null(tu_cond(s, "4.14.1+amd64", "4.14.2+amd64"));
    cr_assert(tu_edge(s, "4.14.0+amd64", "4.14.2+amd64"));
    graph_snapshot_unref(s);
}

/* §2.6 step 3 runs after the label additions: a risk applies to an edge that
 * only a previous.add label (here from raw metadata) created. */
Test(policy_spec_gd, risk_2_6_applies_to_an_edge_added_by_a_label)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;

    tu_release(rs, "4.1.0-rc.9", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.1.0", "amd64", NULL, NULL, NULL);
    tu_raw(gd, "4.1.0", L_PREV_ADD "4.1.0-rc.9");
    tu_risk(gd, "blocked-edges/4.1.0-RC.yaml", "4.1.0", "rc", "RC");
    s = tu_build(rs, gd);
    cr_assert_not_null(tu_cond(s, "4.1.0-rc.9+amd64", "4.1.0+amd64"));
    cr_assert_eq(graph_snapshot_edge_count(s), 0);
    graph_snapshot_unref(s);
}

/* ---------------------------------------------------------------------------
 * §2.8 label precedence: every remove pass runs after every add pass.
 */
Test(policy_spec_gd, labels_2_8_each_remove_beats_each_add)
{
    /* meta for 4.14.0 (A) and 4.14.1 (B); each add makes A -> B */
    static const char *const adds[][2] = {
        {L_NEXT_ADD "4.14.1", NULL},
        {NULL, L_PREV_ADD "4.14.0"},
    };
    static const char *const removes[][2] = {
        {NULL, L_PREV_REMOVE "4.14.0"},
        {NULL, L_PREV_REMOVE " * "},
        {NULL, L_PREV_REMOVE_REGEX "^4[.]14[.]0[+]amd64$"},
        {NULL, L_PREV_REMOVE_REGEX ".*"},
        {L_NEXT_REMOVE "4.14.1", NULL},
    };

    for (size_t a = 0; a < 2; a++) {
        for (size_t r = 0; r <= sizeof(removes) / sizeof(*removes); r++) {
            ingest_releases *rs = tu_releases();
            graph_snapshot *s;
            char meta[2][256];
            int with_remove = r < sizeof(removes) / sizeof(*removes);

            for (size_t n = 0; n < 2; n++) {
                const char *add = adds[a][n], *rm = with_remove ? removes[r][n] : NULL;
                snprintf(meta[n], sizeof(meta[n]), "%s%s%s", add ? add : "", add && rm ? ";" : "",
                         rm ? rm : "");
            }
            tu_release(rs, "4.14.0", "amd64", NULL, NULL, meta[0][0] ? meta[0] : NULL);
            tu_release(rs, "4.14.1", "amd64", NULL, NULL, meta[1][0] ? meta[1] : NULL);
            s = tu_build(rs, tu_graph_data());
            /* without a remove the add works (the control case) */
            cr_assert_eq(graph_snapshot_edge_count(s), with_remove ? 0 : 1,
                         "add %zu, remove %zu: A='%s' B='%s'", a, r, meta[0], meta[1]);
            graph_snapshot_unref(s);
        }
    }
}

/* §2.6 "consequences": risks are attached before any removal, so an edge a
 * label removes afterwards is still offered as conditional (the label
 * counterpart of Q8). Kept as the reference: the data author who adds a risk
 * asked for the edge to be offered with it. */
Test(policy_spec_gd, labels_2_8_edge_removed_after_risk_stays_conditional)
{
    static const char *const removes[][2] = {
        {L_NEXT_REMOVE "4.14.1", NULL},
        {NULL, L_PREV_REMOVE "4.14.0"},
        {NULL, L_PREV_REMOVE "*"},
    };

    for (size_t r = 0; r < sizeof(removes) / sizeof(*removes); r++) {
        ingest_releases *rs = tu_releases();
        ingest_graph_data *gd = tu_graph_data();
        graph_snapshot *s;

        tu_release(rs, "4.14.0", "amd64", NULL, NULL, removes[r][0]);
        tu_release(rs, "4.14.1", "amd64", "4.14.0", NULL, removes[r][1]);
        tu_risk(gd, "blocked-edges/4.14.1-R.yaml", "4.14.1", ".*", "R");
        s = tu_build(rs, gd);
        cr_assert_eq(graph_snapshot_edge_count(s), 0, "case %zu", r);
        cr_assert_not_null(tu_cond(s, "4.14.0+amd64", "4.14.1+amd64"), "case %zu", r);
        graph_snapshot_unref(s);
    }
}

/* ---------------------------------------------------------------------------
 * §2.5, §2.6 as a client sees them: one response with a pure block, a risk,
 * and an edge that is both blocked and risky (Q8).
 */
Test(policy_spec_gd, blocks_2_5_with_and_without_risks_in_the_response)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full;
    char *body, *edges, *cond, versions[256];

    tu_release(rs, "4.13.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.14.0", "amd64", "4.13.0", NULL, NULL);
    tu_release(rs, "4.14.1", "amd64", "4.13.0 4.14.0", NULL, NULL);
    tu_release(rs, "4.14.2", "amd64", "4.13.0 4.14.0 4.14.1", NULL, NULL);
    tu_channel(gd, "stable-4.14", "4.13.0 4.14.0 4.14.1 4.14.2");
    /* file-name order, as ingest sorts them */
    tu_block(gd, "blocked-edges/4.14.1.yaml", "4.14.1", "4[.]13[.]0"); /* pure */
    tu_block(gd, "blocked-edges/4.14.2.yaml", "4.14.2", "4[.]14[.]0"); /* pure + risk A */
    tu_risk(gd, "blocked-edges/4.14.2-A.yaml", "4.14.2", "4[.]14[.]0", "A");
    tu_risk(gd, "blocked-edges/4.14.2-B.yaml", "4.14.2", "4[.]13[.].*", "B"); /* risk only */
    full = tu_build(rs, gd);
    body = spec_filter_json(full, "stable-4.14", "amd64");

    node_versions(versions, sizeof(versions), body);
    cr_assert_str_eq(versions, "4.13.0 4.14.0 4.14.1 4.14.2");
    edges = member_json(body, "edges");
    cond = member_json(body, "conditionalEdges");
    /* gone: 4.13.0 -> 4.14.1 (pure block); conditional only: 4.13.0 -> 4.14.2
     * (risk B) and 4.14.0 -> 4.14.2 (blocked and risky: Q8, risk A) */
    cr_assert_str_eq(edges, "[[0,1],[1,2],[2,3]]");
    cr_assert_str_eq(cond,
                     "[{\"edges\":[{\"from\":\"4.13.0\",\"to\":\"4.14.2\"}],\"risks\":[{\"url\":"
                     "\"https://example.invalid/B\",\"name\":\"B\",\"message\":\"B hurts.\","
                     "\"matchingRules\":[{\"type\":\"Always\"}]}]},"
                     "{\"edges\":[{\"from\":\"4.14.0\",\"to\":\"4.14.2\"}],\"risks\":[{\"url\":"
                     "\"https://example.invalid/A\",\"name\":\"A\",\"message\":\"A hurts.\","
                     "\"matchingRules\":[{\"type\":\"Always\"}]}]}]");
    free(edges);
    free(cond);
    free(body);
    graph_snapshot_unref(full);
}

/* §4.3: a cluster drops every conditional update whose risks repeat a name,
 * and the cluster API keys risks by name. Decision: when two risk files with
 * one name reach the same update, the update lists the name once, with the
 * first file's (file-name order) url, message and rules. */
Test(policy_spec_gd, risks_4_3_one_name_listed_once_per_update, .init = redirect_stderr)
{
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *s;
    const graph_cond_group *g;
    char *log;

    tu_risk(gd, "blocked-edges/4.14.2-Dup-a.yaml", "4.14.2", "4[.]14[.]1", "Dup");
    tu_risk(gd, "blocked-edges/4.14.2-Dup-b.yaml", "4.14.2", "4[.]14[.].*", "Dup");
    free(gd->blocks[1].risk.message);
    gd->blocks[1].risk.message = tu_dup("a second wording");
    tu_risk(gd, "blocked-edges/4.14.2-Other.yaml", "4.14.2", "4[.]14[.]1", "Other");
    s = tu_build(chain(), gd);

    g = tu_cond(s, "4.14.1+amd64", "4.14.2+amd64");
    cr_assert_not_null(g);
    cr_assert_eq(g->nrisks, 2);
    cr_assert_str_eq(g->risks[0].name, "Dup");
    cr_assert_str_eq(g->risks[0].message, "Dup hurts.");
    cr_assert_str_eq(g->risks[1].name, "Other");
    /* only the second file reaches 4.14.0 -> 4.14.2: its own wording */
    g = tu_cond(s, "4.14.0+amd64", "4.14.2+amd64");
    cr_assert_not_null(g);
    cr_assert_eq(g->nrisks, 1);
    cr_assert_str_eq(g->risks[0].message, "a second wording");
    graph_snapshot_unref(s);
    log = read_stderr();
    cr_assert(strstr(log, "risk Dup already listed for this update by an earlier file; ignoring "
                          "the repeat\" file=blocked-edges/4.14.2-Dup-b.yaml from=4.14.1+amd64 "
                          "to=4.14.2+amd64"),
              "%s", log);
    free(log);
}

/* ---------------------------------------------------------------------------
 * Order a client can observe (docs/graph-order.md; the reference's is
 * random, Q13): nodes by SemVer precedence, edges by (from, to).
 */
Test(policy_spec_gd, order_nodes_by_semver_edges_by_index)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full;
    char *body, *edges, versions[256];

    /* records in an order that is neither string nor semver order */
    tu_release(rs, "4.10.0", "amd64", "4.10.0-rc.10 4.9.0 4.10.0-rc.2", NULL, NULL);
    tu_release(rs, "4.10.0-rc.10", "amd64", "4.10.0-rc.2 4.9.0", NULL, NULL);
    tu_release(rs, "4.9.0", "amd64", NULL, NULL, NULL);
    tu_release(rs, "4.10.0-fc.0", "amd64", NULL, "4.10.0", NULL);
    tu_release(rs, "4.10.0-rc.2", "amd64", "4.9.0", NULL, NULL);
    tu_channel(gd, "candidate-4.10", "4.10.0 4.10.0-rc.10 4.9.0 4.10.0-fc.0 4.10.0-rc.2");
    full = tu_build(rs, gd);
    body = spec_filter_json(full, "candidate-4.10", "amd64");
    node_versions(versions, sizeof(versions), body);
    cr_assert_str_eq(versions, "4.9.0 4.10.0-fc.0 4.10.0-rc.2 4.10.0-rc.10 4.10.0");
    edges = member_json(body, "edges");
    cr_assert_str_eq(edges, "[[0,2],[0,3],[0,4],[1,4],[2,3],[2,4],[3,4]]");
    free(edges);
    free(body);
    graph_snapshot_unref(full);
}

/* ---------------------------------------------------------------------------
 * §2.10 every arch on its own: versions lose exactly "+<arch>", the payload
 * is that arch's image, release.arch is not served, and only multi nodes
 * carry release.openshift.io/architecture (which must read "multi", §4.2).
 */
Test(policy_spec_gd, arch_2_10_each_arch_served_alone_and_stripped)
{
    static const char *const arches[] = {"amd64", "arm64", "ppc64le", "s390x", "multi"};
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full;

    for (size_t a = 0; a < 5; a++) {
        const char *meta =
            strcmp(arches[a], "multi") == 0 ? "release.openshift.io/architecture=multi" : NULL;
        tu_release(rs, "4.14.0", arches[a], NULL, NULL, meta);
        tu_release(rs, "4.14.1", arches[a], "4.14.0", NULL, meta);
    }
    /* the legacy s390x name (§2.3) keeps its pre-release when stripped */
    tu_release(rs, "4.2.10-s390x", "s390x", NULL, NULL, NULL);
    tu_channel(gd, "stable-4.14", "4.14.0 4.14.1 4.2.10-s390x");
    full = tu_build(rs, gd);

    for (size_t a = 0; a < 5; a++) {
        char *body = spec_filter_json(full, "stable-4.14", arches[a]);
        json_t *root = json_loads(body, 0, NULL), *node;
        char versions[256], payload[128];
        size_t i;

        node_versions(versions, sizeof(versions), body);
        cr_assert_str_eq(versions,
                         strcmp(arches[a], "s390x") == 0 ? "4.2.10-s390x 4.14.0 4.14.1"
                                                         : "4.14.0 4.14.1",
                         "%s", arches[a]);
        json_array_foreach(json_object_get(root, "nodes"), i, node)
        {
            json_t *meta = json_object_get(node, "metadata");
            const char *v = json_string_value(json_object_get(node, "version"));
            snprintf(payload, sizeof(payload), "quay.io/test/release@sha256:%s-%s", arches[a], v);
            cr_assert_str_eq(json_string_value(json_object_get(node, "payload")), payload);
            cr_assert_null(json_object_get(meta, POLICY_KEY_ARCH));
            cr_assert_eq(json_object_get(meta, "release.openshift.io/architecture") != NULL,
                         strcmp(arches[a], "multi") == 0, "%s %s", arches[a], v);
        }
        json_decref(root);
        free(body);
    }
    graph_snapshot_unref(full);
}
