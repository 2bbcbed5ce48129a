/* tests/ingest/test_release.c - release-metadata documents and release directories. */
#include <string.h>

#include <criterion/criterion.h>

#include "ingest/ingest.h"
#include "ingest_test_util.h"

static int parse(ingest_release *r, const char *json, cincy_error *err)
{
    memset(r, 0x5a, sizeof(*r)); /* values the parser never writes */
    cincy_error_clear(err);
    return ingest_release_metadata_parse(r, json, strlen(json), "release-metadata", err);
}

Test(ingest_release, parses_full_document)
{
    static const char doc[] =
        "{\n"
        "  \"kind\": \"cincinnati-metadata-v0\",\n"
        "  \"version\": \"4.16.15\",\n"
        "  \"previous\": [\"4.15.18\", \"4.16.9\"],\n"
        "  \"next\": [\"4.16.16\"],\n"
        "  \"metadata\": {\"url\": \"https://access.redhat.com/errata/RHSA-0000:0000\",\n"
        "               \"release.openshift.io/architecture\": \"multi\"},\n"
        "  \"someday\": {\"new\": [\"field\"]}\n"
        "}\n";
    ingest_release r;
    cincy_error e;

    cr_assert_eq(parse(&r, doc, &e), 0, "%s", test_fmt(&e));
    cr_assert_str_eq(r.version, "4.16.15");
    cr_assert_eq(r.nprevious, 2);
    cr_assert_str_eq(r.previous[0], "4.15.18");
    cr_assert_str_eq(r.previous[1], "4.16.9");
    cr_assert_eq(r.nnext, 1);
    cr_assert_str_eq(r.next[0], "4.16.16");
    cr_assert_eq(r.nmeta, 2);
    cr_assert_str_eq(r.meta_keys[0], "url"); /* file order */
    cr_assert_str_eq(r.meta_values[0], "https://access.redhat.com/errata/RHSA-0000:0000");
    cr_assert_str_eq(r.meta_keys[1], "release.openshift.io/architecture");
    cr_assert_str_eq(r.meta_values[1], "multi");
    cr_assert_null(r.payload);
    cr_assert_null(r.arch);
    cr_assert_null(r.manifestref);
    cr_assert_null(r.source);
    ingest_release_clear(&r);
    ingest_release_clear(&r); /* cleared twice is fine */
}

Test(ingest_release, optional_fields_default_to_empty)
{
    ingest_release r;
    cincy_error e;

    cr_assert_eq(parse(&r, "{\"version\":\"4.1.0-rc.0\",\"kind\":\"cincinnati-metadata-v0\"}", &e),
                 0, "%s", test_fmt(&e));
    cr_assert_str_eq(r.version, "4.1.0-rc.0");
    cr_assert_eq(r.nprevious, 0);
    cr_assert_eq(r.nnext, 0);
    cr_assert_eq(r.nmeta, 0);
    ingest_release_clear(&r);
}

static const struct {
    const char *json;
    const char *expected; /* cincy_error_format output */
} bad_metadata[] = {
    {"{\"kind\":\"cincinnati-metadata-v1\",\"version\":\"4.1.0\"}",
     "release-metadata: field 'kind': 'cincinnati-metadata-v1' is not 'cincinnati-metadata-v0'"},
    {"{\"version\":\"4.1.0\"}", "release-metadata: missing field 'kind'"},
    {"{\"kind\":7,\"version\":\"4.1.0\"}", "release-metadata: field 'kind' must be a string"},
    {"{\"kind\":\"cincinnati-metadata-v0\"}", "release-metadata: missing field 'version'"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1\"}",
     "release-metadata: field 'version': '4.1' is not a valid version"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"v4.1.0\"}",
     "release-metadata: field 'version': 'v4.1.0' is not a valid version"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1.0\","
     "\"previous\":[\"4.0.0\",\"4.0.1\",\"4.x\"]}",
     "release-metadata: field 'previous[2]': '4.x' is not a valid version"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1.0\",\"next\":\"4.1.1\"}",
     "release-metadata: field 'next' must be an array"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1.0\",\"next\":[4]}",
     "release-metadata: field 'next[0]' must be a string"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1.0\","
     "\"metadata\":{\"url\":\"x\",\"io.openshift.upgrades.graph.release.remove\":true}}",
     "release-metadata: field 'metadata.io.openshift.upgrades.graph.release.remove' must be a "
     "string"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1.0\",\"metadata\":[]}",
     "release-metadata: field 'metadata' must be an object"},
    {"[\"cincinnati-metadata-v0\"]", "release-metadata: top level must be an object"},
    {"{\n  \"kind\": \"cincinnati-metadata-v0\",\n  \"version\": \"4.1.0\"\n  \"next\": []\n}\n",
     "release-metadata:4: invalid json: '}' expected near '\"next\"'"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.1."
     "0\"}",
     "release-metadata:1: invalid json: duplicate object key near '\"kind\"'"},
    {"", "release-metadata:1: invalid json: '[' or '{' expected near end of file"},
};

Test(ingest_release, rejects_bad_documents_with_field_names)
{
    for (size_t i = 0; i < sizeof(bad_metadata) / sizeof(*bad_metadata); i++) {
        ingest_release r;
        cincy_error e;
        int rc = parse(&r, bad_metadata[i].json, &e);

        cr_assert_eq(rc, CINCY_EINVALID, "case %zu: rc %d", i, rc);
        cr_assert_eq(e.code, CINCY_EINVALID);
        cr_assert_str_eq(test_fmt(&e), bad_metadata[i].expected, "case %zu", i);
    }
}

Test(ingest_release, loads_fixture_directory_sorted_by_path)
{
    ingest_releases *rs = NULL;
    cincy_error e;

    cr_assert_eq(ingest_releases_load_dir(&rs, TDATA "/releases", &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(rs->count, 3); /* README and amd64/notes/ are not releases */

    ingest_release *a = &rs->items[0], *b = &rs->items[1], *m = &rs->items[2];
    cr_assert_str_eq(a->source, TDATA "/releases/amd64/4.16.0");
    cr_assert_str_eq(b->source, TDATA "/releases/amd64/4.16.1");
    cr_assert_str_eq(m->source, TDATA "/releases/multi-4.16.1"); /* one level, not nested */

    cr_assert_str_eq(a->version, "4.16.0");
    cr_assert_str_eq(a->arch, "amd64");
    cr_assert_str_eq(a->payload,
                     "quay.io/openshift-release-dev/ocp-release@sha256:"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    cr_assert_str_eq(a->manifestref,
                     "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    cr_assert_eq(a->nprevious, 2);
    cr_assert_str_eq(a->previous[0], "4.15.1");
    cr_assert_str_eq(a->previous[1], "4.15.0");
    cr_assert_eq(a->nmeta, 2);
    cr_assert_str_eq(a->meta_keys[1], "description");
    cr_assert_str_eq(a->meta_values[1], "");

    cr_assert_str_eq(b->manifestref,
                     "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    cr_assert_eq(b->nnext, 1);
    cr_assert_str_eq(b->next[0], "4.16.2");

    cr_assert_str_eq(m->arch, "multi");
    cr_assert_str_eq(m->version, "4.16.1");
    cr_assert_str_eq(m->meta_keys[0], "release.openshift.io/architecture");
    ingest_releases_free(rs);
}

Test(ingest_release, empty_and_missing_roots)
{
    ingest_releases *rs = (ingest_releases *)0x1;
    char dir[64];
    cincy_error e;

    test_tmpdir(dir, sizeof(dir));
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(rs->count, 0);
    ingest_releases_free(rs);
    test_rm_rf(dir);

    rs = (ingest_releases *)0x1;
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), CINCY_ENOTFOUND);
    cr_assert_eq(rs, (ingest_releases *)0x1, "out written on failure");
}

static const char good_meta[] = "{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.16.0\"}";

static const struct {
    const char *meta;     /* release-metadata (always present: it marks a release) */
    const char *image;    /* image.json, NULL for none */
    const char *expected; /* error after "<dir>/x/" */
} bad_dirs[] = {
    {good_meta, NULL, "image.json: missing file"},
    {good_meta, "{\"payload\":\"quay.io/ocp-release:4.16.0\",\"architecture\":\"amd64\"}",
     "image.json: field 'payload': 'quay.io/ocp-release:4.16.0' is not a pull spec by digest "
     "(<repository>@sha256:<64 hex digits>)"},
    {good_meta,
     "{\"payload\":\"quay.io/ocp-release@sha256:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
     "CCCCCCCCCCCCCCC\",\"architecture\":\"amd64\"}",
     "image.json: field 'payload': 'quay.io/ocp-release@sha256:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
     "CCCCCCCCCCCCCCCCCCCCCCCCCCCCC' is not a pull spec by digest (<repository>@sha256:<64 hex "
     "digits>)"},
    {good_meta,
     "{\"payload\":\"@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
     "\"architecture\":\"amd64\"}",
     "image.json: field 'payload': '@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccc"
     "cccccccccc' is not a pull spec by digest (<repository>@sha256:<64 hex digits>)"},
    {good_meta,
     "{\"payload\":\"q/r@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
     "\"architecture\":\"AMD64\"}",
     "image.json: field 'architecture': 'AMD64' is not a lowercase word of letters and digits"},
    {good_meta,
     "{\"payload\":\"q/"
     "r@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"}",
     "image.json: missing field 'architecture'"},
    {"{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.16\"}",
     "{\"payload\":\"q/r@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
     "\"architecture\":\"amd64\"}",
     "release-metadata: field 'version': '4.16' is not a valid version"},
};

Test(ingest_release, bad_release_directory_fails_whole_load)
{
    for (size_t i = 0; i < sizeof(bad_dirs) / sizeof(*bad_dirs); i++) {
        ingest_releases *rs = NULL;
        char dir[64], expected[1024];
        cincy_error e;

        test_tmpdir(dir, sizeof(dir));
        /* a good release next to the bad one: the load still fails */
        test_write(dir, "a/release-metadata", good_meta);
        test_write(dir, "a/image.json",
                   "{\"payload\":\"q/r@sha256:cccccccccccccccccccccccccccccccccccccccccccccccc"
                   "cccccccccccccccc\",\"architecture\":\"amd64\"}");
        test_write(dir, "x/release-metadata", bad_dirs[i].meta);
        if (bad_dirs[i].image)
            test_write(dir, "x/image.json", bad_dirs[i].image);
        cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), CINCY_EINVALID, "case %zu", i);
        cr_assert_null(rs);
        TEST_SNPRINTF(expected, "%s/x/%s", dir, bad_dirs[i].expected);
        cr_assert_str_eq(test_fmt(&e), expected, "case %zu", i);
        test_rm_rf(dir);
    }
}

Test(ingest_release, oversized_release_metadata_is_refused)
{
    ingest_releases *rs = NULL;
    char dir[64];
    size_t n = (1u << 20) + 1;
    char *big = malloc(n + 1);
    cincy_error e;

    memset(big, ' ', n);
    big[n] = '\0';
    test_tmpdir(dir, sizeof(dir));
    test_write(dir, "x/release-metadata", big);
    cr_assert_eq(ingest_releases_load_dir(&rs, dir, &e), CINCY_ETOOBIG);
    cr_assert(strstr(e.msg, "more than the 1048576 allowed"), "%s", e.msg);
    free(big);
    test_rm_rf(dir);
}
