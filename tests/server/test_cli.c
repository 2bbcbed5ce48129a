/* tests/server/test_cli.c - the `cincy` command line: exit codes, usage,
 * version, and the errors a user sees before anything is served. */

#include <criterion/criterion.h>

#include "server_test_util.h"
#include "test_cli.h"

static int starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

Test(server_cli, help)
{
    const char *variants[][2] = {{"--help", NULL}, {"-h", NULL}, {"help", NULL}};

    for (size_t i = 0; i < 3; i++) {
        cli_result r = cli_run(variants[i]);
        cr_assert_eq(r.code, 0, "%s", variants[i][0]);
        cr_assert(starts_with(r.out, "usage: cincy <command> [options]\n"), "%s", r.out);
        cr_assert(strstr(r.out, "  serve ") && strstr(r.out, "--graph-port N") &&
                      strstr(r.out, "demo-releases") && strstr(r.out, "--config FILE"),
                  "%s", r.out);
        cr_assert_str_eq(r.err, "");
        cli_free(&r);
    }
}

Test(server_cli, version)
{
    const char *args[] = {"version", NULL};
    cli_result r = cli_run(args);

    cr_assert_eq(r.code, 0);
    cr_assert(starts_with(r.out, "cincy 0.1.0 (commit "), "%s", r.out);
    cr_assert_eq(r.out[strlen(r.out) - 2], ')');
    cli_free(&r);
}

Test(server_cli, unknown_command_and_option_exit_2)
{
    const char *cmd[] = {"frobnicate", NULL};
    const char *opt[] = {"serve", "--port", "1", NULL};
    const char *none[] = {NULL};
    const char *noval[] = {"serve", "--config", NULL};
    const char *badport[] = {"serve", "--graph-port", "99999", NULL};
    cli_result r;

    r = cli_run(cmd);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.out, "");
    cr_assert(starts_with(r.err, "cincy: unknown command 'frobnicate'\n\nusage: cincy"), "%s",
              r.err);
    cli_free(&r);
    r = cli_run(opt);
    cr_assert_eq(r.code, 2);
    cr_assert(starts_with(r.err, "cincy: unknown option '--port'\n"), "%s", r.err);
    cli_free(&r);
    r = cli_run(none);
    cr_assert_eq(r.code, 2);
    cr_assert(strstr(r.err, "usage: cincy") != NULL);
    cli_free(&r);
    r = cli_run(noval);
    cr_assert_eq(r.code, 2);
    cr_assert(starts_with(r.err, "cincy: option '--config' needs a value\n"), "%s", r.err);
    cli_free(&r);
    r = cli_run(badport);
    cr_assert_eq(r.code, 2);
    cr_assert_str_eq(r.err, "cincy: --graph-port: expected a port from 0 to 65535, got '99999'\n");
    cli_free(&r);
}

Test(server_cli, serve_without_sources_says_how)
{
    const char *args[] = {"serve", "--graph-port", "0", "--status-port", "0", NULL};
    const char *half[] = {"serve", "--graph-data", "/x", NULL};
    cli_result r = cli_run(args);

    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "cincy: no graph-data configured: set sources.graph_data in the "
                            "config file (see config/cincy.yaml) or pass --graph-data DIR\n");
    cli_free(&r);
    r = cli_run(half);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "cincy: no releases configured: set sources.releases.registry or "
                            "sources.releases.directory in the config file (see "
                            "config/cincy.yaml) or pass --releases DIR\n");
    cli_free(&r);
}

Test(server_cli, serve_with_a_bad_config)
{
    char dir[256], path[512], want[1024];
    const char *missing[] = {"serve", "--config", "/nonexistent/cincy.yaml", NULL};
    const char *bad[] = {"serve", "--config", path, NULL};
    cli_result r;

    r = cli_run(missing);
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.err, "cincy: /nonexistent/cincy.yaml: cannot read config file: "
                            "No such file or directory\n");
    cli_free(&r);

    test_tmpdir(dir, sizeof(dir));
    test_write(dir, "cincy.yaml", "graph:\n  port: 8080\n  grpah: 1\n");
    TEST_SNPRINTF(path, "%s/cincy.yaml", dir);
    r = cli_run(bad);
    cr_assert_eq(r.code, 1);
    TEST_SNPRINTF(want,
                  "cincy: %s:3: unknown key 'grpah' in 'graph' (expected one of address, "
                  "port, path_prefix, threads)\n",
                  path);
    cr_assert_str_eq(r.err, want);
    cli_free(&r);
    test_rm_rf(dir);
}

Test(server_cli, demo_releases)
{
    char dir[256], gd[512], out[512], want[600];
    const char *args[] = {"demo-releases", "--graph-data", gd, "--out", out, NULL};
    const char *missing[] = {"demo-releases", "--out", "/tmp/x", NULL};
    char *text;
    cli_result r;

    test_tmpdir(dir, sizeof(dir));
    TEST_SNPRINTF(gd, "%s/gd", dir);
    TEST_SNPRINTF(out, "%s/rel", dir);
    test_write(gd, "version", "1.1.0\n");
    test_write(gd, "channels/stable-4.1.yaml", "name: stable-4.1\nversions: [4.1.0, 4.1.1]\n");
    test_write(gd, "blocked-edges/README", "none\n");
    test_write(gd, "raw/metadata.json", "{}\n");
    r = cli_run(args);
    cr_assert_eq(r.code, 0, "%s", r.err);
    TEST_SNPRINTF(want, "cincy: wrote 10 demo release records to %s\n", out);
    cr_assert_str_eq(r.out, want); /* 2 versions x 5 arches */
    cli_free(&r);
    TEST_SNPRINTF(want, "%s/amd64/4.1.1/release-metadata", out);
    text = test_slurp(want);
    cr_assert_not_null(text, "no %s", want);
    cr_assert(strstr(text, "\"4.1.1\"") != NULL, "%s", text);
    free(text);
    test_rm_rf(dir);

    r = cli_run(missing);
    cr_assert_eq(r.code, 2);
    cr_assert(starts_with(r.err, "cincy: demo-releases needs --graph-data DIR and --out DIR\n"),
              "%s", r.err);
    cli_free(&r);
}
