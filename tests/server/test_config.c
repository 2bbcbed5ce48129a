/* tests/server/test_config.c - the YAML configuration: defaults, the shipped
 * example, and every class of bad input with its exact file:line message. */
#include <criterion/criterion.h>

#include "server/server_internal.h" /* server_state_dir */
#include "server_test_util.h"

#define SRC CINCY_SOURCE_DIR

/* Parses text over the defaults as "t.yaml" with base directory /base. */
static int parse(server_config *cfg, const char *text, cincy_error *err)
{
    cr_assert_eq(server_config_defaults(cfg), 0);
    return server_config_parse(cfg, text, strlen(text), "t.yaml", "/base", err);
}

static void assert_error(const char *text, int line, const char *msg)
{
    server_config cfg;
    cincy_error err = {.code = 12345, .line = -7};
    char buf[1024];

    cr_assert_eq(parse(&cfg, text, &err), CINCY_EINVALID, "accepted: %s", text);
    cr_assert_str_eq(cincy_error_format(&err, buf, sizeof(buf)), msg);
    cr_assert_str_eq(err.file, "t.yaml");
    cr_assert_eq(err.line, line, "line %d for %s", err.line, text);
    /* a failed parse leaves the defaults in place */
    cr_assert_eq(cfg.graph_port, 8080);
    cr_assert_str_eq(cfg.path_prefix, "/api/upgrades_info");
    server_config_clear(&cfg);
}

Test(server_config, defaults)
{
    server_config cfg;

    memset(&cfg, 0x5a, sizeof(cfg)); /* garbage the function must overwrite */
    cr_assert_eq(server_config_defaults(&cfg), 0);
    cr_assert_str_eq(cfg.graph_address, "127.0.0.1");
    cr_assert_str_eq(cfg.status_address, "127.0.0.1");
    cr_assert_eq(cfg.graph_port, 8080);
    cr_assert_eq(cfg.status_port, 9080);
    cr_assert_str_eq(cfg.path_prefix, "/api/upgrades_info");
    cr_assert_eq(cfg.threads, 4);
    cr_assert_eq(cfg.log_level, CINCY_LOG_INFO);
    cr_assert_null(cfg.releases_dir);
    cr_assert_null(cfg.graph_data_dir);
    cr_assert_null(cfg.web_dir);
    cr_assert_null(cfg.file);
    server_config_clear(&cfg);
    server_config_clear(NULL);
}

Test(server_config, shipped_example_parses)
{
    server_config cfg;
    cincy_error err;

    cincy_error_clear(&err);
    cr_assert_eq(server_config_load(&cfg, SRC "/config/cincy.yaml", &err), 0, "%s", err.msg);
    cr_assert_str_eq(cfg.file, SRC "/config/cincy.yaml");
    cr_assert_eq(cfg.log_level, CINCY_LOG_INFO);
    cr_assert_str_eq(cfg.graph_address, "127.0.0.1");
    cr_assert_eq(cfg.graph_port, 8080);
    cr_assert_str_eq(cfg.path_prefix, "/api/upgrades_info");
    cr_assert_eq(cfg.threads, 4);
    cr_assert_str_eq(cfg.status_address, "127.0.0.1");
    cr_assert_eq(cfg.status_port, 9080);
    cr_assert_str_eq(cfg.releases_dir, SRC "/config/../build/demo-releases");
    cr_assert_str_eq(cfg.graph_data_dir, SRC "/config/graph-data");
    cr_assert_str_eq(cfg.web_dir, SRC "/config/../build/web");
    server_config_clear(&cfg);
}

Test(server_config, every_key)
{
    server_config cfg;
    cincy_error err;
    const char *text = "log_level: debug\n"
                       "graph:\n"
                       "  address: '::1'\n"
                       "  port: 0\n"
                       "  path_prefix: x/y/\n"
                       "  threads: 16\n"
                       "status:\n"
                       "  address: 0.0.0.0\n"
                       "  port: 65535\n"
                       "sources:\n"
                       "  releases: {directory: /abs/rel}\n"
                       "  graph_data:\n"
                       "    directory: gd\n"
                       "web:\n"
                       "  directory:\n";

    cr_assert_eq(parse(&cfg, text, &err), 0, "%s", err.msg);
    cr_assert_eq(cfg.log_level, CINCY_LOG_DEBUG);
    cr_assert_str_eq(cfg.graph_address, "::1");
    cr_assert_eq(cfg.graph_port, 0);
    cr_assert_str_eq(cfg.path_prefix, "/x/y");
    cr_assert_eq(cfg.threads, 16);
    cr_assert_str_eq(cfg.status_address, "0.0.0.0");
    cr_assert_eq(cfg.status_port, 65535);
    cr_assert_str_eq(cfg.releases_dir, "/abs/rel");
    cr_assert_str_eq(cfg.graph_data_dir, "/base/gd");
    cr_assert_null(cfg.web_dir);
    cr_assert_null(cfg.file, "parse does not name a file in cfg; load does");
    server_config_clear(&cfg);
}

Test(server_config, empty_document_keeps_defaults)
{
    const char *texts[] = {"", "# only a comment\n", "---\n", "graph:\n"};

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        server_config cfg;
        cr_assert_eq(parse(&cfg, texts[i], NULL), 0, "text %zu", i);
        cr_assert_eq(cfg.graph_port, 8080);
        cr_assert_str_eq(cfg.path_prefix, "/api/upgrades_info");
        server_config_clear(&cfg);
    }
}

Test(server_config, parse_applies_over_existing_values)
{
    server_config cfg;

    cr_assert_eq(parse(&cfg, "graph: {port: 1234}\n", NULL), 0);
    cr_assert_eq(server_config_parse(&cfg, "status: {port: 99}\n", 19, "u.yaml", "/b", NULL), 0);
    cr_assert_eq(cfg.graph_port, 1234, "the earlier value stays");
    cr_assert_eq(cfg.status_port, 99);
    server_config_clear(&cfg);
}

Test(server_config, path_prefix_normalisation)
{
    static const struct {
        const char *yaml_value, *want;
    } cases[] = {
        {"/api/upgrades_info", "/api/upgrades_info"},
        {"api/upgrades_info", "/api/upgrades_info"},
        {"a/b/", "/a/b"},
        {"//a/b//", "/a/b"},
        {"/a", "/a"},
        {"a", "/a"},
        {"/a//b", "/a//b"}, /* inner slashes are kept, as the reference does */
        {"''", ""},
        {"/", ""},
        {"'//'", ""},
        {"", ""}, /* "path_prefix:" with nothing: no prefix */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        server_config cfg;
        char text[128];
        cincy_error err;
        snprintf(text, sizeof(text), "graph:\n  path_prefix: %s\n", cases[i].yaml_value);
        cr_assert_eq(parse(&cfg, text, &err), 0, "%s: %s", cases[i].yaml_value, err.msg);
        cr_assert_str_eq(cfg.path_prefix, cases[i].want, "prefix %s", cases[i].yaml_value);
        server_config_clear(&cfg);
    }
}

Test(server_config, unknown_keys)
{
    assert_error("log_level: info\ngraph:\n  port: 1\n  prot: 2\n", 4,
                 "t.yaml:4: unknown key 'prot' in 'graph' "
                 "(expected one of address, port, path_prefix, threads)");
    assert_error("log_level: info\ngrpah:\n  port: 1\n", 2,
                 "t.yaml:2: unknown key 'grpah' "
                 "(expected one of log_level, graph, status, sources, web, registry, state_dir, "
                 "limits, shutdown_grace_seconds)");
    assert_error("sources:\n  releases:\n    dir: x\n", 3,
                 "t.yaml:3: unknown key 'dir' in 'sources.releases' (expected one of directory, registry)");
    assert_error("status:\n  path_prefix: /x\n", 2,
                 "t.yaml:2: unknown key 'path_prefix' in 'status' (expected one of address, port, refresh_token)");
}

Test(server_config, bad_values)
{
    assert_error("graph:\n  port: 70000\n", 2,
                 "t.yaml:2: field 'graph.port': expected an integer from 0 to 65535, got '70000'");
    assert_error("graph:\n  port: -1\n", 2,
                 "t.yaml:2: field 'graph.port': expected an integer from 0 to 65535, got '-1'");
    assert_error("status:\n\n  port: http\n", 3,
                 "t.yaml:3: field 'status.port': expected an integer from 0 to 65535, got 'http'");
    assert_error("status:\n  port: 80.5\n", 2,
                 "t.yaml:2: field 'status.port': expected an integer from 0 to 65535, got '80.5'");
    assert_error("graph:\n  port: [80]\n", 2,
                 "t.yaml:2: field 'graph.port': expected a single value, got a list");
    assert_error("graph:\n  port:\n", 2, "t.yaml:2: field 'graph.port': a value is required");
    assert_error("graph:\n  threads: 0\n", 2,
                 "t.yaml:2: field 'graph.threads': expected an integer from 1 to 256, got '0'");
    assert_error("log_level: verbose\n", 1,
                 "t.yaml:1: field 'log_level': expected one of debug, info, warn, error, "
                 "got 'verbose'");
    assert_error("graph:\n  address: localhost\n", 2,
                 "t.yaml:2: field 'graph.address': 'localhost' is not an IPv4 or IPv6 address");
    assert_error("graph: 8080\n", 1, "t.yaml:1: field 'graph': expected a mapping of keys");
    assert_error("web:\n  directory: {a: b}\n", 2,
                 "t.yaml:2: field 'web.directory': expected a single value, got a mapping");
    assert_error("web:\n  directory: ''\n", 2,
                 "t.yaml:2: field 'web.directory': a path is required");
    assert_error("- a\n- b\n", 1, "t.yaml:1: expected a mapping of keys at the top level");
}

Test(server_config, duplicate_key)
{
    assert_error("graph:\n  port: 1\n  port: 2\n", 3, "t.yaml:3: key 'graph.port' given twice");
    assert_error("log_level: info\nlog_level: debug\n", 2, "t.yaml:2: key 'log_level' given twice");
}

Test(server_config, yaml_syntax_error_names_line)
{
    server_config cfg;
    cincy_error err;

    cr_assert_eq(parse(&cfg, "graph:\n  port: 1\n bad: [\n", &err), CINCY_EINVALID);
    cr_assert_str_eq(err.file, "t.yaml");
    cr_assert_eq(err.line, 3);
    cr_assert(strncmp(err.msg, "invalid yaml: ", 14) == 0, "msg: %s", err.msg);
    server_config_clear(&cfg);
}

Test(server_config, load_resolves_against_the_file_directory)
{
    char dir[256], path[512], want[512];
    server_config cfg;
    cincy_error err;

    test_tmpdir(dir, sizeof(dir));
    test_write(dir, "etc/cincy.yaml",
                "sources:\n  releases: {directory: ../rel}\n  graph_data: {directory: /gd}\n");
    TEST_SNPRINTF(path, "%s/etc/cincy.yaml", dir);
    cr_assert_eq(server_config_load(&cfg, path, &err), 0, "%s", err.msg);
    TEST_SNPRINTF(want, "%s/etc/../rel", dir);
    cr_assert_str_eq(cfg.releases_dir, want);
    cr_assert_str_eq(cfg.graph_data_dir, "/gd");
    cr_assert_str_eq(cfg.file, path);
    server_config_clear(&cfg);

    /* a bad file is reported under the path it was given as */
    test_write(dir, "etc/bad.yaml", "graph:\n  port: 1\n  threads: many\n");
    TEST_SNPRINTF(path, "%s/etc/bad.yaml", dir);
    cr_assert_eq(server_config_load(&cfg, path, &err), CINCY_EINVALID);
    cr_assert_str_eq(err.file, path);
    cr_assert_eq(err.line, 3);
    server_config_clear(&cfg);
    test_rm_rf(dir);
}

Test(server_config, missing_file)
{
    server_config cfg;
    cincy_error err;
    char buf[512];

    cr_assert_eq(server_config_load(&cfg, "/nonexistent/cincy.yaml", &err), CINCY_ENOTFOUND);
    cr_assert_str_eq(cincy_error_format(&err, buf, sizeof(buf)),
                     "/nonexistent/cincy.yaml: cannot read config file: No such file or directory");
    server_config_clear(&cfg);
}

/* sources.graph_data: exactly one of directory, git, tarball. */
static void parse_ok(server_config *cfg, const char *text)
{
    cincy_error err;

    cincy_error_clear(&err);
    cr_assert_eq(parse(cfg, text, &err), 0, "%s: %s", text, err.msg);
}

Test(server_config, graph_data_forms)
{
    server_config cfg;

    parse_ok(&cfg, "sources:\n  graph_data:\n    directory: gd\n");
    cr_assert_eq(cfg.graph_data_kind, SERVER_GRAPH_DATA_DIRECTORY);
    cr_assert_str_eq(cfg.graph_data_dir, "/base/gd");
    cr_assert_null(cfg.graph_data_location);
    cr_assert_null(cfg.state_dir);
    server_config_clear(&cfg);

    parse_ok(&cfg, "sources:\n  graph_data:\n    git: {url: 'https://example.com/gd.git', "
                   "branch: master}\nstate_dir: st\n");
    cr_assert_eq(cfg.graph_data_kind, SERVER_GRAPH_DATA_GIT);
    cr_assert_null(cfg.graph_data_dir);
    cr_assert_str_eq(cfg.graph_data_location, "https://example.com/gd.git");
    cr_assert_str_eq(cfg.graph_data_reference, "master");
    cr_assert_str_eq(cfg.state_dir, "/base/st");
    server_config_clear(&cfg);

    parse_ok(&cfg, "sources:\n  graph_data:\n    git:\n      url: repo.git\n"
                   "      commit: B12fcda4577b3921728dec71476a7d51ea9b5bd6\n");
    cr_assert_eq(cfg.graph_data_kind, SERVER_GRAPH_DATA_GIT);
    cr_assert_str_eq(cfg.graph_data_location, "/base/repo.git");
    cr_assert_str_eq(cfg.graph_data_reference, "B12fcda4577b3921728dec71476a7d51ea9b5bd6");
    server_config_clear(&cfg);

    parse_ok(&cfg, "sources:\n  graph_data:\n    git: {url: 'git@example.com:o/gd.git'}\n");
    cr_assert_str_eq(cfg.graph_data_location, "git@example.com:o/gd.git");
    cr_assert_null(cfg.graph_data_reference); /* the remote's HEAD */
    server_config_clear(&cfg);

    parse_ok(&cfg, "sources:\n  graph_data:\n    tarball: data/gd.tar.gz\n");
    cr_assert_eq(cfg.graph_data_kind, SERVER_GRAPH_DATA_TARBALL);
    cr_assert_str_eq(cfg.graph_data_location, "/base/data/gd.tar.gz");
    cr_assert_null(cfg.graph_data_dir);
    server_config_clear(&cfg);

    parse_ok(&cfg, "sources:\n  graph_data:\n    tarball: https://example.com/gd.tar.gz\n");
    cr_assert_str_eq(cfg.graph_data_location, "https://example.com/gd.tar.gz");
    server_config_clear(&cfg);
}

Test(server_config, graph_data_kind_replaces_an_earlier_one)
{
    server_config cfg;
    cincy_error err;
    static const char dir[] = "sources:\n  graph_data:\n    directory: /gd\n";

    parse_ok(&cfg, "sources:\n  graph_data:\n    git: {url: /r.git, branch: b}\n");
    cr_assert_eq(server_config_parse(&cfg, dir, strlen(dir), "u.yaml", "/", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(cfg.graph_data_kind, SERVER_GRAPH_DATA_DIRECTORY);
    cr_assert_str_eq(cfg.graph_data_dir, "/gd");
    cr_assert_null(cfg.graph_data_location);
    cr_assert_null(cfg.graph_data_reference);
    server_config_clear(&cfg);
}

Test(server_config, graph_data_errors)
{
    assert_error("sources:\n  graph_data:\n    directory: gd\n    git: {url: /r.git}\n", 4,
                 "t.yaml:4: field 'sources.graph_data.git': give only one of directory, git, "
                 "tarball or image ('directory' is given too)");
    assert_error("sources:\n  graph_data:\n    tarball: a.tgz\n    directory: gd\n", 4,
                 "t.yaml:4: field 'sources.graph_data.directory': give only one of directory, "
                 "git, tarball or image ('tarball' is given too)");
    assert_error("sources:\n  graph_data:\n    git:\n      url: /r.git\n      tag: v1\n", 5,
                 "t.yaml:5: unknown key 'tag' in 'sources.graph_data.git' "
                 "(expected one of url, branch, commit)");
    assert_error("sources:\n  graph_data:\n    git:\n      url: /r.git\n      branch: master\n"
                 "      commit: b12fcda4577b3921728dec71476a7d51ea9b5bd6\n",
                 6,
                 "t.yaml:6: field 'sources.graph_data.git.commit': give either branch or "
                 "commit, not both");
    assert_error("sources:\n  graph_data:\n    git:\n      url: /r.git\n      commit: b12fcda\n", 5,
                 "t.yaml:5: field 'sources.graph_data.git.commit': expected a full commit id "
                 "(40 hex digits), got 'b12fcda'");
    assert_error("sources:\n  graph_data:\n    git:\n      branch: master\n", 3,
                 "t.yaml:3: field 'sources.graph_data.git': url is required");
    assert_error("sources:\n  graph_data:\n    git: /r.git\n", 3,
                 "t.yaml:3: field 'sources.graph_data.git': expected a mapping with url and "
                 "optionally branch or commit");
    assert_error("sources:\n  graph_data:\n    tarball: ''\n", 3,
                 "t.yaml:3: field 'sources.graph_data.tarball': a path is required");
}

Test(server_config, state_dir_default)
{
    server_config cfg;
    char *dir;

    cr_assert_eq(server_config_defaults(&cfg), 0);
    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    cr_assert_str_eq(dir = server_state_dir(&cfg), "/xdg/state/cincy");
    free(dir);
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    dir = server_state_dir(&cfg);
    if (access("/var/lib/cincy", W_OK) != 0) /* a machine with cincy installed wins there */
        cr_assert_str_eq(dir, "/home/u/.local/state/cincy");
    free(dir);
    cfg.state_dir = strdup("/st");
    cr_assert_str_eq(dir = server_state_dir(&cfg), "/st");
    free(dir);
    server_config_clear(&cfg);
}
