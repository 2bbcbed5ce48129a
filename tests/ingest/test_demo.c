/* tests/ingest/test_demo.c - the demo release generator and its round trip. */
#include <string.h>

#include <criterion/criterion.h>

#include "ingest/ingest.h"
#include "ingest_test_util.h"

/* tests/data/ingest/demo-graph-data lists, after dropping build metadata,
 * 4.14.5 4.15.0 4.15.1 4.16.0-rc.0 4.16.0 4.16.1 4.16.2 (7 versions). */
#define DEMO_VERSIONS 7

static ingest_graph_data *demo_input(void)
{
    ingest_graph_data *gd = NULL;
    cincy_error e;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, TDATA "/demo-graph-data", &e), 0, "%s",
                 test_fmt(&e));
    return gd;
}

static char *read_out(const char *dir, const char *rel)
{
    char path[4096];
    TEST_SNPRINTF(path, "%s/%s", dir, rel);
    return test_slurp(path);
}

Test(ingest_demo, writes_every_version_for_every_arch)
{
    ingest_graph_data *gd = demo_input();
    char dir[64], out[128];
    size_t count = 12345;
    cincy_error e;

    test_tmpdir(dir, sizeof(dir));
    TEST_SNPRINTF(out, "%s/deep/er", dir); /* parents are created */
    cr_assert_eq(ingest_demo_write(gd, out, &count, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(count, DEMO_VERSIONS * 5);
    cr_assert_eq(test_count_files(out), DEMO_VERSIONS * 5 * 2);

    /* "4.16.2+amd64" in stable-4.16 is release 4.16.2, not a second release */
    char *missing = read_out(out, "amd64/4.16.2+amd64/release-metadata");
    cr_assert_null(missing);
    ingest_graph_data_free(gd);
    test_rm_rf(dir);
}

Test(ingest_demo, exact_documents)
{
    ingest_graph_data *gd = demo_input();
    char dir[64];
    size_t count;
    cincy_error e;
    char *doc;

    test_tmpdir(dir, sizeof(dir));
    cr_assert_eq(ingest_demo_write(gd, dir, &count, &e), 0, "%s", test_fmt(&e));

    /* previous: lower 4.16 versions, plus the 4.15 versions that -4.16
     * channels list (4.15.0 from candidate-4.16, 4.15.1 from stable-4.16);
     * by precedence. Errata number: sha256("4.16.1") first 3 bytes % 100000. */
    doc = read_out(dir, "amd64/4.16.1/release-metadata");
    cr_assert_str_eq(doc, "{\n"
                          "  \"kind\": \"cincinnati-metadata-v0\",\n"
                          "  \"version\": \"4.16.1\",\n"
                          "  \"previous\": [\n"
                          "    \"4.15.0\",\n"
                          "    \"4.15.1\",\n"
                          "    \"4.16.0-rc.0\",\n"
                          "    \"4.16.0\"\n"
                          "  ],\n"
                          "  \"next\": [],\n"
                          "  \"metadata\": {\n"
                          "    \"url\": \"https://access.redhat.com/errata/RHBA-DEMO:50773\"\n"
                          "  }\n"
                          "}\n");
    free(doc);

    doc = read_out(dir, "multi/4.16.1/release-metadata");
    cr_assert(strstr(doc, "\"url\": \"https://access.redhat.com/errata/RHBA-DEMO:50773\",\n"
                          "    \"release.openshift.io/architecture\": \"multi\"\n  }\n}\n"),
              "%s", doc);
    free(doc);

    /* sha256 of "amd64/4.16.1", computed with sha256sum */
    doc = read_out(dir, "amd64/4.16.1/image.json");
    cr_assert_str_eq(doc, "{\n  \"payload\": \"quay.io/openshift-release-dev/ocp-release@sha256:"
                          "d5996846a0b19a995cead39eee071387a1c5247fc39f2bda3f51941f107ed510\",\n"
                          "  \"architecture\": \"amd64\"\n}\n");
    free(doc);

    /* no -4.14 channel lists 4.13 versions: nothing before 4.14.5 */
    doc = read_out(dir, "s390x/4.14.5/release-metadata");
    cr_assert(strstr(doc, "\"previous\": [],\n"), "%s", doc);
    free(doc);

    /* stable-4.15 lists 4.14.5, so it may update to 4.15.0 */
    doc = read_out(dir, "arm64/4.15.0/release-metadata");
    cr_assert(strstr(doc, "\"previous\": [\n    \"4.14.5\"\n  ],\n"), "%s", doc);
    free(doc);

    ingest_graph_data_free(gd);
    test_rm_rf(dir);
}

Test(ingest_demo, output_loads_back)
{
    ingest_graph_data *gd = demo_input();
    ingest_releases *rs = NULL;
    char dir[64], src[128];
    size_t count;
    cincy_error e;

    test_tmpdir(dir, sizeof(dir));
    cr_assert_eq(ingest_demo_write(gd, dir, &count, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(rs->count, count);

    /* sorted by path: amd64/4.14.5 comes first, amd64/4.16.1 is sixth */
    TEST_SNPRINTF(src, "%s/amd64/4.14.5", dir);
    cr_assert_str_eq(rs->items[0].source, src);
    ingest_release *r = &rs->items[5];
    TEST_SNPRINTF(src, "%s/amd64/4.16.1", dir);
    cr_assert_str_eq(r->source, src);
    cr_assert_str_eq(r->version, "4.16.1");
    cr_assert_str_eq(r->arch, "amd64");
    cr_assert_str_eq(r->manifestref,
                     "sha256:d5996846a0b19a995cead39eee071387a1c5247fc39f2bda3f51941f107ed510");
    cr_assert_eq(r->nprevious, 4);
    cr_assert_str_eq(r->previous[3], "4.16.0");
    cr_assert_eq(r->nnext, 0);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    test_rm_rf(dir);
}

/* The bundled data: 1384 distinct channel entries, of which 14 are
 * "<version>+amd64" pins of versions listed plainly too, and 4.3.16 only
 * appears under tombstones: 1369 versions, 5 arches each. */
Test(ingest_demo, real_graph_data_round_trip, .timeout = 120)
{
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    char dir[64], src[128];
    size_t count = 0;
    cincy_error e;

    cr_assert_eq(ingest_graph_data_load_dir(&gd, CINCY_SOURCE_DIR "/config/graph-data", &e), 0,
                 "%s", test_fmt(&e));
    test_tmpdir(dir, sizeof(dir));
    cr_assert_eq(ingest_demo_write(gd, dir, &count, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(count, 1369 * 5);
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(rs->count, 1369 * 5);
    TEST_SNPRINTF(src, "%s/amd64/4.1.0", dir);
    cr_assert_str_eq(rs->items[0].source, src);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    test_rm_rf(dir);
}
