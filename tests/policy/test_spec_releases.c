/* tests/policy/test_spec_releases.c - release records and served metadata against the spec
 * (§3.4, §3.5, §3.7 for directory-based releases; §4.2, §4.3 what the CVO accepts).
 *
 * Points of the §3.7 checklist pinned elsewhere: invalid document => the
 * whole directory load fails (ingest_release/bad_release_directory_fails_whole_load),
 * multi shards skipped (policy_releases/multi_shard_is_skipped,
 * policy_fixture/full_graph), same version + another digest fails the build
 * naming both (policy_releases/same_version_two_payloads_fails_naming_both),
 * previous/next take the node's arch (policy_releases/previous_and_next_take_the_node_arch),
 * cycles rejected (policy_releases/cycle_fails_the_build,
 * policy_labels/label_add_closing_a_cycle_fails).
 */
#include "spec_test_util.h"

#include <criterion/redirect.h>

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

static int parse_doc(const char *json, cincy_error *e)
{
    ingest_release r;
    int rc;

    memset(&r, 0, sizeof(r));
    cincy_error_clear(e);
    rc = ingest_release_metadata_parse(&r, json, strlen(json), "release-metadata", e);
    ingest_release_clear(&r);
    return rc;
}

/* §3.4 `kind` is compared byte for byte: no case folding, no trimming. */
Test(policy_spec_rel, kind_3_4_strictly_checked)
{
    static const char *const kinds[] = {
        "Cincinnati-metadata-v0",  "cincinnati-metadata-v0 ", " cincinnati-metadata-v0",
        "cincinnati-metadata-v00", "cincinnati-metadata",     "",
    };
    char doc[256], expected[256];
    cincy_error e;

    for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
        snprintf(doc, sizeof(doc), "{\"kind\":\"%s\",\"version\":\"4.14.0\"}", kinds[i]);
        snprintf(expected, sizeof(expected),
                 "release-metadata: field 'kind': '%s' is not 'cincinnati-metadata-v0'", kinds[i]);
        cr_assert_eq(parse_doc(doc, &e), CINCY_EINVALID, "kind '%s'", kinds[i]);
        cr_assert_str_eq(tu_fmt(&e), expected);
    }
    cr_assert_eq(parse_doc("{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.14.0\"}", &e), 0);
}

/* §3.4 metadata values are strings only; any other type invalidates the
 * document (and, for a release directory, the load). */
Test(policy_spec_rel, metadata_3_4_string_values_only)
{
    static const char *const values[] = {"1", "1.5", "null", "true", "{}", "[\"a\"]"};
    char doc[256];
    cincy_error e;

    for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
        snprintf(doc, sizeof(doc),
                 "{\"kind\":\"cincinnati-metadata-v0\",\"version\":\"4.14.0\","
                 "\"metadata\":{\"url\":\"https://a.invalid/\",\"k\":%s}}",
                 values[i]);
        cr_assert_eq(parse_doc(doc, &e), CINCY_EINVALID, "value %s", values[i]);
        cr_assert_str_eq(tu_fmt(&e), "release-metadata: field 'metadata.k' must be a string");
    }
}

/* §3.5 the node's manifestref is the image's digest and its arch the
 * image's arch, whatever the document's own metadata claims; the payload is
 * the digest pull spec from image.json. */
Test(policy_spec_rel, payload_3_5_manifestref_is_the_payload_digest)
{
    static const char digest[] =
        "sha256:abababababababababababababababababababababababababababababababab";
    ingest_releases *rs = NULL;
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full, *s = NULL;
    cincy_error e;
    size_t n;

    cr_assert_eq(ingest_releases_load_dir(&rs, SPEC_DATA "/manifestref/releases", &e), 0, "%s",
                 tu_fmt(&e));
    cr_assert_eq(rs->count, 2);
    tu_channel(gd, "stable-4.14", "4.14.0 4.14.1");
    full = tu_build(rs, gd);

    cr_assert(tu_has_node(full, "4.14.0+amd64"));
    cr_assert_not(tu_has_node(full, "4.14.0+s390x"));
    cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", POLICY_KEY_MANIFESTREF), digest);
    cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", POLICY_KEY_ARCH), "amd64");
    cr_assert(tu_edge(full, "4.14.0+amd64", "4.14.1+amd64"));

    cr_assert_eq(policy_filter(&s, full, "stable-4.14", "amd64", &e), 0, "%s", tu_fmt(&e));
    n = tu_node(s, "4.14.0");
    cr_assert_str_eq(graph_snapshot_node_payload(s, n),
                     "quay.io/openshift-release-dev/ocp-release@sha256:"
                     "abababababababababababababababababababababababababababababababab");
    cr_assert_str_eq(graph_snapshot_meta_get(s, n, POLICY_KEY_MANIFESTREF), digest);
    cr_assert_null(graph_snapshot_meta_get(s, n, POLICY_KEY_ARCH));
    graph_snapshot_unref(s);
    cr_assert_eq(policy_filter(&s, full, "stable-4.14", "s390x", &e), 0, "%s", tu_fmt(&e));
    cr_assert_eq(graph_snapshot_node_count(s), 0);
    graph_snapshot_unref(s);
    graph_snapshot_unref(full);
}

/* ---------------------------------------------------------------------------
 * §4.2 the CVO rejects the whole graph when the current node or a target
 * has a url that does not parse or release.openshift.io/architecture other
 * than "multi". Decision: such values are not served (dropped with a
 * warning); the reference passes them through.
 */
Test(policy_spec_rel, metadata_4_2_only_multi_architecture_is_served, .init = redirect_stderr)
{
    ingest_releases *rs = tu_releases();
    ingest_graph_data *gd = tu_graph_data();
    graph_snapshot *full;
    char *log;

    tu_release(rs, "4.14.0", "amd64", NULL, NULL, "release.openshift.io/architecture=amd64");
    tu_release(rs, "4.14.0", "multi", NULL, NULL, "release.openshift.io/architecture=multi");
    tu_release(rs, "4.14.1", "multi", NULL, NULL, "release.openshift.io/architecture=multi");
    tu_release(rs, "4.14.2", "multi", NULL, NULL, "release.openshift.io/architecture=Multi");
    /* raw metadata appends: "multi,multi" is not "multi" either */
    tu_raw(gd, "4.14.1", "release.openshift.io/architecture=multi");
    cincy_log_set_level(CINCY_LOG_INFO);
    full = tu_build(rs, gd);

    cr_assert_null(tu_meta(full, "4.14.0+amd64", "release.openshift.io/architecture"));
    cr_assert_str_eq(tu_meta(full, "4.14.0+multi", "release.openshift.io/architecture"), "multi");
    cr_assert_null(tu_meta(full, "4.14.1+multi", "release.openshift.io/architecture"));
    cr_assert_null(tu_meta(full, "4.14.2+multi", "release.openshift.io/architecture"));
    graph_snapshot_unref(full);
    log = read_stderr();
    cr_assert(strstr(log, "level=warn component=policy msg=\"dropping "
                          "release.openshift.io/architecture 'amd64': the CVO accepts only "
                          "'multi'\" node=4.14.0+amd64"),
              "%s", log);
    cr_assert(strstr(log, "'multi,multi'"), "%s", log);
    free(log);
}

Test(policy_spec_rel, metadata_4_2_url_must_be_an_absolute_url)
{
    static const struct {
        const char *url;
        int kept;
    } cases[] = {
        {"https://access.redhat.com/errata/RHSA-2024:0001", 1},
        {"http://errata.example:8080/a?b=c#d", 1},
        {"https://issues.redhat.com/browse/OCPBUGS-1%202", 1},
        {"errata/RHSA-2024:0001", 0}, /* relative */
        {"https://", 0},
        {"https:// access.redhat.com/", 0},
        {"https://access.redhat.com/a b", 0},
        {"https://access.redhat.com/%zz", 0},
        {"https://host:port/", 0},
        {"", 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        ingest_releases *rs = tu_releases();
        ingest_release *r = tu_release(rs, "4.14.0", "amd64", NULL, NULL, "x=y");
        graph_snapshot *full;

        /* set by hand: tu_pairs would split a url holding ';' or '=' */
        free(r->meta_keys[0]);
        free(r->meta_values[0]);
        r->meta_keys[0] = tu_dup("url");
        r->meta_values[0] = tu_dup(cases[i].url);
        full = tu_build(rs, tu_graph_data());
        if (cases[i].kept)
            cr_assert_str_eq(tu_meta(full, "4.14.0+amd64", "url"), cases[i].url);
        else
            cr_assert_null(tu_meta(full, "4.14.0+amd64", "url"), "'%s' was kept", cases[i].url);
        graph_snapshot_unref(full);
    }
}

/* ---------------------------------------------------------------------------
 * §4.3 a risk's url, name and message are required non-empty by the cluster
 * API (and url is a URI). The loader skips such a file with this error, as
 * it skips every other malformed blocked-edges file (Q11).
 */
Test(policy_spec_rel, risk_4_3_url_name_message_required)
{
    static const struct {
        const char *fields;
        const char *expected;
    } cases[] = {
        {"url: ''\nname: N\nmessage: m\n", "b.yaml:3: field 'url' must not be empty"},
        {"url: https://a.invalid/\nname: \"\"\nmessage: m\n",
         "b.yaml:4: field 'name' must not be empty"},
        {"url: https://a.invalid/\nname: N\nmessage: ''\n",
         "b.yaml:5: field 'message' must not be empty"},
        {"url: issues.redhat.com/browse/X\nname: N\nmessage: m\n",
         "b.yaml:3: field 'url': 'issues.redhat.com/browse/X' is not an http or https URL"},
        {"url: ftp://a.invalid/x\nname: N\nmessage: m\n",
         "b.yaml:3: field 'url': 'ftp://a.invalid/x' is not an http or https URL"},
        {"url: https:///x\nname: N\nmessage: m\n",
         "b.yaml:3: field 'url': 'https:///x' is not an http or https URL"},
        {"url: https://a.invalid/x y\nname: N\nmessage: m\n",
         "b.yaml:3: field 'url': 'https://a.invalid/x y' is not an http or https URL"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char yaml[512];
        ingest_block b;
        cincy_error e;

        snprintf(yaml, sizeof(yaml), "to: 4.14.1\nfrom: .*\n%smatchingRules:\n- type: Always\n",
                 cases[i].fields);
        memset(&b, 0, sizeof(b));
        cincy_error_clear(&e);
        cr_assert_eq(ingest_block_parse(&b, yaml, strlen(yaml), "b.yaml", &e), CINCY_EINVALID,
                     "case %zu", i);
        cr_assert_str_eq(tu_fmt(&e), cases[i].expected, "case %zu", i);
    }
}
