/* tests/ingest/test_graph_data.c - graph-data: channel and blocked-edge files, the loader. */
#include <dirent.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "ingest/ingest.h"
#include "ingest_test_util.h"

/* ---------------------------------------------------------------------------
 * The invalid-file table: tests/data/ingest/invalid/<case>/{input.yaml, kind,
 * expected}. kind is "channel" or "block"; expected is the exact
 * "file:line: message", the file being channels/<case>.yaml or
 * blocked-edges/<case>.yaml.
 */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static void check_invalid_case(const char *name)
{
    char path[4096], rel[512];
    char *input, *kind, *expected;
    cincy_error e;
    int rc;

    TEST_SNPRINTF(path, TDATA "/invalid/%s/input.yaml", name);
    input = test_slurp(path);
    TEST_SNPRINTF(path, TDATA "/invalid/%s/kind", name);
    kind = test_slurp(path);
    TEST_SNPRINTF(path, TDATA "/invalid/%s/expected", name);
    expected = test_slurp(path);
    cr_assert(input && kind && expected, "case %s: incomplete", name);
    chomp(kind);
    chomp(expected);
    cincy_error_clear(&e);
    if (strcmp(kind, "channel") == 0) {
        ingest_channel c;
        memset(&c, 0x5a, sizeof(c));
        TEST_SNPRINTF(rel, "channels/%s.yaml", name);
        rc = ingest_channel_parse(&c, input, strlen(input), rel, &e);
    } else {
        ingest_block b;
        cr_assert_str_eq(kind, "block", "case %s: unknown kind", name);
        memset(&b, 0x5a, sizeof(b));
        TEST_SNPRINTF(rel, "blocked-edges/%s.yaml", name);
        rc = ingest_block_parse(&b, input, strlen(input), rel, &e);
    }
    cr_assert_eq(rc, CINCY_EINVALID, "case %s: rc %d", name, rc);
    cr_assert_str_eq(test_fmt(&e), expected, "case %s", name);
    free(input);
    free(kind);
    free(expected);
}

Test(ingest_graph_data, invalid_file_table)
{
    DIR *d = opendir(TDATA "/invalid");
    struct dirent *de;
    size_t cases = 0;

    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        check_invalid_case(de->d_name);
        cases++;
    }
    closedir(d);
    cr_assert_eq(cases, 24, "the table lost or gained cases: %zu", cases);
}

/* ---------------------------------------------------------------------------
 * Channels
 */
Test(ingest_graph_data, channel_parse_keeps_order_and_ignores_feeder)
{
    static const char y[] = "name: stable-4.16\n"
                            "feeder:\n  delay: PT48H\n  name: fast-4.16\n"
                            "tombstones: [4.16.3]\n"
                            "versions:\n- 4.16.1\n- 4.15.9\n- '4.16.0-rc.2'\n- 4.2.14+amd64\n";
    ingest_channel c;
    cincy_error e;

    cr_assert_eq(ingest_channel_parse(&c, y, strlen(y), "channels/x.yaml", &e), 0, "%s",
                 test_fmt(&e));
    cr_assert_str_eq(c.name, "stable-4.16");
    cr_assert_str_eq(c.file, "channels/x.yaml");
    cr_assert_eq(c.nversions, 4);
    cr_assert_str_eq(c.versions[0], "4.16.1");
    cr_assert_str_eq(c.versions[1], "4.15.9");
    cr_assert_str_eq(c.versions[2], "4.16.0-rc.2");
    cr_assert_str_eq(c.versions[3], "4.2.14+amd64");
    ingest_channel_clear(&c);
}

Test(ingest_graph_data, channel_with_no_versions_is_valid)
{
    static const char y[] = "name: eus-4.99\nversions: []\n";
    ingest_channel c;
    cincy_error e;

    cr_assert_eq(ingest_channel_parse(&c, y, strlen(y), "c.yaml", &e), 0, "%s", test_fmt(&e));
    cr_assert_eq(c.nversions, 0);
    ingest_channel_clear(&c);
}

Test(ingest_graph_data, channel_aliases_resolve)
{
    static const char y[] = "tombstones: &old [4.15.0, 4.15.1]\n"
                            "name: &n fast-4.16\n"
                            "versions: *old\n";
    ingest_channel c;
    cincy_error e;

    cr_assert_eq(ingest_channel_parse(&c, y, strlen(y), "c.yaml", &e), 0, "%s", test_fmt(&e));
    cr_assert_str_eq(c.name, "fast-4.16");
    cr_assert_eq(c.nversions, 2);
    cr_assert_str_eq(c.versions[1], "4.15.1");
    ingest_channel_clear(&c);
}

/* ---------------------------------------------------------------------------
 * Blocked edges: pure block, risk, neither
 */
Test(ingest_graph_data, pure_block_has_only_to_and_from)
{
    static const char y[] = "to: 4.14.1\nfrom: 4\\.13\\..*\n";
    ingest_block b;
    cincy_error e;

    cr_assert_eq(ingest_block_parse(&b, y, strlen(y), "blocked-edges/p.yaml", &e), 0, "%s",
                 test_fmt(&e));
    cr_assert_eq(b.is_risk, 0);
    cr_assert_str_eq(b.to, "4.14.1");
    cr_assert_str_eq(b.from, "4\\.13\\..*");
    cr_assert_str_eq(b.file, "blocked-edges/p.yaml");
    cr_assert_null(b.risk.url);
    cr_assert_eq(b.risk.nrules, 0);
    ingest_block_clear(&b);
}

Test(ingest_graph_data, risk_keeps_type_and_query_only)
{
    static const char y[] = "to: 4.16.0-ec.0\n"
                            "from: ^4[.]15[.]([0-9]|10)[+].*$\n"
                            "url: https://issues.redhat.com/browse/OCPCLOUD-2582\n"
                            "name: CRIAuthPluginRHEL\n"
                            "message: Azure and GCP clusters with RHEL nodes may fail.\n"
                            "fixedIn: 4.16.0-ec.1\n"
                            "autoExtend: {whatever: [1, 2]}\n"
                            "matchingRules:\n"
                            "- type: PromQL\n"
                            "  promql:\n"
                            "    promql: |\n"
                            "      topk(1, cluster_infrastructure_provider{_id=\"\"})\n"
                            "    other: dropped\n"
                            "- type: Always\n"
                            "  promql: {promql: ignored for Always}\n";
    ingest_block b;
    cincy_error e;

    cr_assert_eq(ingest_block_parse(&b, y, strlen(y), "blocked-edges/r.yaml", &e), 0, "%s",
                 test_fmt(&e));
    cr_assert_eq(b.is_risk, 1);
    cr_assert_str_eq(b.to, "4.16.0-ec.0");
    cr_assert_str_eq(b.from, "^4[.]15[.]([0-9]|10)[+].*$");
    cr_assert_str_eq(b.risk.url, "https://issues.redhat.com/browse/OCPCLOUD-2582");
    cr_assert_str_eq(b.risk.name, "CRIAuthPluginRHEL");
    cr_assert_str_eq(b.risk.message, "Azure and GCP clusters with RHEL nodes may fail.");
    cr_assert_eq(b.risk.nrules, 2);
    cr_assert_eq(b.risk.rules[0].type, GRAPH_RULE_PROMQL);
    cr_assert_str_eq(b.risk.rules[0].promql,
                     "topk(1, cluster_infrastructure_provider{_id=\"\"})\n");
    cr_assert_eq(b.risk.rules[1].type, GRAPH_RULE_ALWAYS);
    cr_assert_null(b.risk.rules[1].promql);
    ingest_block_clear(&b);
}

Test(ingest_graph_data, block_with_extra_key_is_neither)
{
    static const char y[] = "to: 4.14.1\nfrom: .*\nurl: https://example.com\nname: X\n"
                            "message: m\n"; /* no matchingRules */
    ingest_block b;
    cincy_error e;

    cr_assert_eq(ingest_block_parse(&b, y, strlen(y), "blocked-edges/n.yaml", &e), CINCY_EINVALID);
    cr_assert_str_eq(test_fmt(&e), "blocked-edges/n.yaml:1: neither a pure block (only 'to' and "
                                   "'from') nor a risk: missing field 'matchingRules'");
}

/* ---------------------------------------------------------------------------
 * The directory loader
 */
static ingest_graph_data *load_ok(const char *dir)
{
    ingest_graph_data *gd = NULL;
    cincy_error e;

    cincy_error_clear(&e);
    cr_assert_eq(ingest_graph_data_load_dir(&gd, dir, &e), 0, "%s", test_fmt(&e));
    cr_assert_not_null(gd);
    return gd;
}

static void redirect_stderr(void)
{
    cr_redirect_stderr();
}

static char *read_stderr(void)
{
    FILE *f = cr_get_redirected_stderr();
    size_t cap = 1 << 16, n;
    char *buf = calloc(1, cap);

    fflush(stderr);
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    return buf;
}

Test(ingest_graph_data, loads_small_fixture, .init = redirect_stderr)
{
    ingest_graph_data *gd;
    char *log;

    cincy_log_set_level(CINCY_LOG_INFO);
    gd = load_ok(TDATA "/graph-data-small");
    cr_assert_str_eq(gd->schema_version, "1.1.0");
    cr_assert_str_eq(gd->root, TDATA "/graph-data-small");

    /* broken.yaml skipped, eus-4.16.yml and OWNERS ignored; sorted by file name */
    cr_assert_eq(gd->nchannels, 2);
    cr_assert_str_eq(gd->channels[0].file, "channels/fast-4.16.yaml");
    cr_assert_str_eq(gd->channels[0].name, "fast-4.16");
    cr_assert_eq(gd->channels[0].nversions, 4);
    cr_assert_str_eq(gd->channels[0].versions[3], "4.16.2+amd64");
    cr_assert_str_eq(gd->channels[1].file, "channels/stable-4.16.yaml");
    cr_assert_eq(gd->channels[1].nversions, 3);

    /* the FixedInOnly file is neither kind and skipped; the .yml one ignored */
    cr_assert_eq(gd->nblocks, 2);
    cr_assert_str_eq(gd->blocks[0].file, "blocked-edges/4.16.0-SomeRisk.yaml");
    cr_assert_eq(gd->blocks[0].is_risk, 1);
    cr_assert_eq(gd->blocks[0].risk.nrules, 2);
    cr_assert_str_eq(gd->blocks[0].risk.rules[0].promql,
                     "group(cluster_version{_id=\"\",type=\"initial\"})\n");
    cr_assert_str_eq(gd->blocks[1].file, "blocked-edges/4.16.1-pure.yaml");
    cr_assert_eq(gd->blocks[1].is_risk, 0);

    /* raw: file order, non-semver key dropped */
    cr_assert_eq(gd->nraw, 2);
    cr_assert_str_eq(gd->raw[0].version, "4.16.1");
    cr_assert_eq(gd->raw[0].n, 2);
    cr_assert_str_eq(gd->raw[0].keys[0], "io.openshift.upgrades.graph.previous.add");
    cr_assert_str_eq(gd->raw[0].values[0], "4.15.0");
    cr_assert_str_eq(gd->raw[0].keys[1], "io.openshift.upgrades.graph.next.remove");
    cr_assert_str_eq(gd->raw[1].version, "4.15.1");
    cr_assert_str_eq(gd->raw[1].values[0], "*");
    ingest_graph_data_free(gd);

    log = read_stderr();
    cr_assert(strstr(log, "level=warn component=ingest msg=\"skipping channels/broken.yaml:4: "
                          "field 'versions[1]': 'not-a-version' is not a valid version\""),
              "%s", log);
    cr_assert(strstr(log, "msg=\"skipping blocked-edges/4.16.1-FixedInOnly.yaml:1: neither a "
                          "pure block (only 'to' and 'from') nor a risk: missing field 'url'\""),
              "%s", log);
    cr_assert(strstr(log, "ignoring entry 'not-semver'"), "%s", log);
    cr_assert(strstr(log, "channels=2 blocks=1 risks=1 raw=2 skipped=2"), "%s", log);
    cr_assert_null(strstr(log, "eus-4.16"), "a .yml file was looked at: %s", log);
    free(log);
}

static int load_err(const char *dir, cincy_error *e)
{
    ingest_graph_data *gd = (ingest_graph_data *)0x1;
    int rc;

    cincy_error_clear(e);
    rc = ingest_graph_data_load_dir(&gd, dir, e);
    cr_assert_eq(gd, (ingest_graph_data *)0x1, "out written on failure");
    return rc;
}

Test(ingest_graph_data, schema_version_rules)
{
    static const struct {
        const char *version;
        int rc;
        const char *expected;
    } cases[] = {
        {"1.1.0\n", 0, NULL},
        {"  1.2.0  \r\n", 0, NULL},
        {"1.3.0", 0, NULL}, /* newer minor: accepted with a warning, as the reference */
        {"2.0.0\n", CINCY_EINVALID,
         "version:1: graph-data schema 2.0.0 is not supported (this server reads 1.x)"},
        {"0.9.0\n", CINCY_EINVALID,
         "version:1: graph-data schema 0.9.0 is not supported (this server reads 1.x)"},
        {"1.1\n", CINCY_EINVALID, "version:1: '1.1' is not a valid schema version"},
        {"\n", CINCY_EINVALID, "version:1: '' is not a valid schema version"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char dir[64];
        cincy_error e;

        test_tmpdir(dir, sizeof(dir));
        test_graph_data_skeleton(dir, cases[i].version);
        if (cases[i].rc == 0) {
            ingest_graph_data *gd = load_ok(dir);
            cr_assert_eq(gd->nchannels, 1, "case %zu", i);
            cr_assert_eq(gd->nblocks, 1, "case %zu", i);
            ingest_graph_data_free(gd);
        } else {
            cr_assert_eq(load_err(dir, &e), cases[i].rc, "case %zu", i);
            cr_assert_str_eq(test_fmt(&e), cases[i].expected, "case %zu", i);
        }
        test_rm_rf(dir);
    }
}

Test(ingest_graph_data, missing_required_paths_are_fatal)
{
    static const char *const paths[] = {"version", "channels", "blocked-edges",
                                        "raw/metadata.json"};
    static const char *const what[] = {"file", "directory", "directory", "file"};

    for (size_t i = 0; i < 4; i++) {
        char dir[64], victim[512], expected[512];
        cincy_error e;

        test_tmpdir(dir, sizeof(dir));
        test_graph_data_skeleton(dir, "1.1.0\n");
        TEST_SNPRINTF(victim, "%s/%s", dir, paths[i]);
        test_rm_rf(victim);
        cr_assert_eq(load_err(dir, &e), CINCY_EINVALID, "%s", paths[i]);
        snprintf(expected, sizeof(expected),
                 "%s: required %s missing from graph-data directory '%s'", paths[i], what[i], dir);
        cr_assert_str_eq(test_fmt(&e), expected);
        test_rm_rf(dir);
    }
}

Test(ingest_graph_data, raw_metadata_must_be_objects_of_strings)
{
    static const struct {
        const char *json;
        const char *expected;
    } cases[] = {
        {"[]", "raw/metadata.json: top level must be an object"},
        {"{\"4.1.0\": \"x\"}", "raw/metadata.json: field '4.1.0' must be an object"},
        {"{\"4.1.0\": {\"a\": \"b\", \"io.openshift.upgrades.graph.previous.add\": [\"4.0.0\"]}}",
         "raw/metadata.json: field '4.1.0' key 'io.openshift.upgrades.graph.previous.add' must "
         "be a string"},
        /* types are checked even under a key that is not a version */
        {"{\"latest\": {\"a\": 1}}", "raw/metadata.json: field 'latest' key 'a' must be a string"},
        {"{\n\"4.1.0\": {}\n,}",
         "raw/metadata.json:3: invalid json: string or '}' expected near '}'"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char dir[64];
        cincy_error e;

        test_tmpdir(dir, sizeof(dir));
        test_graph_data_skeleton(dir, "1.1.0\n");
        test_write(dir, "raw/metadata.json", cases[i].json);
        cr_assert_eq(load_err(dir, &e), CINCY_EINVALID, "case %zu", i);
        cr_assert_str_eq(test_fmt(&e), cases[i].expected, "case %zu", i);
        test_rm_rf(dir);
    }
}

Test(ingest_graph_data, yaml_extension_rule)
{
    char dir[64];
    ingest_graph_data *gd;

    test_tmpdir(dir, sizeof(dir));
    test_graph_data_skeleton(dir, "1.1.0\n");
    test_write(dir, "channels/a.yml", "name: a-1.0\nversions: [1.0.0]\n");   /* no */
    test_write(dir, "channels/b.yaaml", "name: b-1.0\nversions: [1.0.0]\n"); /* ya+ml: yes */
    test_write(dir, "channels/.yaml", "name: c-1.0\nversions: [1.0.0]\n");   /* no extension */
    test_write(dir, "channels/d.YAML", "name: d-1.0\nversions: [1.0.0]\n");  /* case matters */
    test_write(dir, "channels/OWNERS", "approvers: [x]\n");
    gd = load_ok(dir);
    cr_assert_eq(gd->nchannels, 2);
    cr_assert_str_eq(gd->channels[0].file, "channels/b.yaaml");
    cr_assert_str_eq(gd->channels[1].file, "channels/stable-4.16.yaml");
    ingest_graph_data_free(gd);
    test_rm_rf(dir);
}

Test(ingest_graph_data, oversized_file_is_skipped)
{
    char dir[64];
    size_t n = (1u << 20) + 10;
    char *big = malloc(n + 1);
    ingest_graph_data *gd;

    memset(big, '#', n);
    big[0] = 'x';
    big[1] = ':';
    big[2] = '\n';
    big[n] = '\0';
    test_tmpdir(dir, sizeof(dir));
    test_graph_data_skeleton(dir, "1.1.0\n");
    test_write(dir, "blocked-edges/huge.yaml", big);
    gd = load_ok(dir);
    cr_assert_eq(gd->nblocks, 1);
    cr_assert_str_eq(gd->blocks[0].file, "blocked-edges/4.16.0.yaml");
    ingest_graph_data_free(gd);
    free(big);
    test_rm_rf(dir);
}

/* The snapshot of the real cincinnati-graph-data (spec §2.1 stats, checked
 * by hand with grep: 76 channel files; 1717 blocked-edge files of which 116
 * have only to/from keys). */
Test(ingest_graph_data, loads_real_graph_data)
{
    ingest_graph_data *gd = load_ok(CINCY_SOURCE_DIR "/config/graph-data");
    size_t pure = 0, risks = 0, always = 0, promql = 0, nversions = 0;

    cr_assert_str_eq(gd->schema_version, "1.1.0");
    cr_assert_eq(gd->nchannels, 76);
    cr_assert_eq(gd->nblocks, 1717);
    for (size_t i = 0; i < gd->nblocks; i++) {
        const ingest_block *b = &gd->blocks[i];
        if (!b->is_risk) {
            pure++;
            continue;
        }
        risks++;
        cr_assert_eq(b->risk.nrules, 1, "%s", b->file);
        if (b->risk.rules[0].type == GRAPH_RULE_PROMQL)
            promql++;
        else
            always++;
    }
    cr_assert_eq(pure, 116);
    cr_assert_eq(risks, 1601);
    cr_assert_eq(promql, 1023);
    cr_assert_eq(always, 578);
    cr_assert_eq(gd->nraw, 4);
    cr_assert_str_eq(gd->raw[0].version, "4.1.0");
    cr_assert_str_eq(gd->raw[0].values[0], "4.1.0-rc.4,4.1.0-rc.9");
    for (size_t i = 0; i < gd->nchannels; i++)
        nversions += gd->channels[i].nversions;
    cr_assert_eq(nversions, 8876, "channel entries: %zu", nversions); /* counted with PyYAML */
    ingest_graph_data_free(gd);
}
