/* tests/policy/spec_test_util.h - shared set-up for the spec conformance tests
 * (tests/policy/test_spec_*.c): the full bundled graph, scratch directories.
 *
 * The spec tests name the point of the reference-behaviour spec they check
 * (§2.x, §3.x, §4.x, quirk Qn) in the test name or the comment above it;
 * docs/graph-data.md lists every rule with the test that pins it.
 * Everything is static inline: all test files link into one binary.
 */
#ifndef CINCY_SPEC_TEST_UTIL_H
#define CINCY_SPEC_TEST_UTIL_H

#include <sys/stat.h>

#include "policy_test_util.h"
/* after policy_test_util.h, which brings the graph and ingest headers it needs */
#include "ingest/ingest_test_util.h"

#define SPEC_GRAPH_DATA CINCY_SOURCE_DIR "/config/graph-data"
#define SPEC_DATA CINCY_SOURCE_DIR "/tests/data/spec"

/* Loads the bundled graph-data (config/graph-data) into *gd_out and builds
 * the full graph with the demo release records. The build's demo-data target
 * writes those to CINCY_DEMO_RELEASES; a per-module test binary may run
 * before that target did, so then they are generated into a scratch
 * directory first (the same generator, so the same records). */
static inline graph_snapshot *spec_build_full(ingest_graph_data **gd_out)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    graph_snapshot *full = NULL;
    char tmp[64] = "";
    const char *dir = CINCY_DEMO_RELEASES;
    struct stat sb;
    policy_stats st;
    cincy_error e;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, SPEC_GRAPH_DATA, &e), 0, "%s", tu_fmt(&e));
    if (stat(CINCY_DEMO_RELEASES "/.stamp", &sb) != 0) {
        size_t count;
        test_tmpdir(tmp, sizeof(tmp));
        cr_assert_eq(ingest_demo_write(gd, tmp, &count, &e), 0, "%s", tu_fmt(&e));
        dir = tmp;
    }
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), 0, "%s", tu_fmt(&e));
    if (tmp[0])
        test_rm_rf(tmp);
    cr_assert_eq(policy_build(&full, rs, gd, &st, &e), 0, "%s", tu_fmt(&e));
    ingest_releases_free(rs);
    *gd_out = gd;
    return full;
}

/* Filters full for channel/arch and returns the response body. */
static inline char *spec_filter_json(const graph_snapshot *full, const char *channel,
                                     const char *arch)
{
    graph_snapshot *s = NULL;
    char *json = NULL;
    size_t len = 0;
    cincy_error e;

    cr_assert_eq(policy_filter(&s, full, channel, arch, &e), 0, "%s/%s: %s", channel, arch,
                 tu_fmt(&e));
    cr_assert_eq(graph_snapshot_to_json(&json, &len, s, GRAPH_JSON_V1), 0, "%s/%s", channel, arch);
    cr_assert_eq(strlen(json), len);
    graph_snapshot_unref(s);
    return json;
}

#endif
