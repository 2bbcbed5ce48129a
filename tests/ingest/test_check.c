/* tests/ingest/test_check.c - `cincy check`: the graph-data linter.
 *
 * Most cases are a table, like the loader's invalid-file table:
 * tests/data/check/<case>/data is a graph-data directory and
 * tests/data/check/<case>/expected the exact text report, with @DIR@ standing
 * for the checked directory. The rest pin what the table cannot: the real
 * graph-data has no errors, the JSON form, agreement with the loader's own
 * parsers, and the exit statuses of the real binary. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "ingest/ingest.h"
#include "ingest_test_util.h"
#include "test_cli.h"

#define CDATA CINCY_SOURCE_DIR "/tests/data/check"
#define REAL_DATA CINCY_SOURCE_DIR "/config/graph-data"

static ingest_check_report *check_ok(const char *dir)
{
    ingest_check_report *r = (ingest_check_report *)0x1;
    cincy_error e;
    int rc;

    cincy_error_clear(&e);
    rc = ingest_check_dir(&r, dir, &e);
    cr_assert_eq(rc, CINCY_OK, "check %s: rc %d: %s", dir, rc, test_fmt(&e));
    cr_assert_not_null(r);
    return r;
}

/* expected with every "@DIR@" replaced by dir. */
static char *expand_dir(const char *expected, const char *dir)
{
    size_t cap = strlen(expected) * 2 + strlen(dir) * 4 + 1, n = 0;
    char *out = malloc(cap);

    cr_assert_not_null(out);
    for (const char *p = expected; *p;) {
        if (strncmp(p, "@DIR@", 5) == 0) {
            cr_assert(n + strlen(dir) < cap);
            memcpy(out + n, dir, strlen(dir));
            n += strlen(dir);
            p += 5;
        } else {
            cr_assert(n + 1 < cap);
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static void check_case(const char *name)
{
    char dir[4096], path[4096];
    char *raw, *expected, *text;
    ingest_check_report *r;

    TEST_SNPRINTF(dir, CDATA "/%s/data", name);
    TEST_SNPRINTF(path, CDATA "/%s/expected", name);
    raw = test_slurp(path);
    cr_assert_not_null(raw, "case %s: no expected file", name);
    expected = expand_dir(raw, dir);
    r = check_ok(dir);
    text = ingest_check_report_text(r);
    cr_assert_not_null(text);
    cr_assert_str_eq(text, expected, "case %s:\n--- got\n%s--- expected\n%s", name, text, expected);
    free(text);
    free(expected);
    free(raw);
    ingest_check_report_free(r);
}

Test(ingest_check, fixture_table)
{
    DIR *d = opendir(CDATA);
    struct dirent *de;
    size_t cases = 0;

    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        check_case(de->d_name);
        cases++;
    }
    closedir(d);
    cr_assert_eq(cases, 8, "the table lost or gained cases: %zu", cases);
}

/* The counts in the summary must agree with the findings themselves. */
Test(ingest_check, findings_carry_severity_field_and_line)
{
    ingest_check_report *r = check_ok(CDATA "/channel-problems/data");
    size_t errors = 0, warnings = 0;
    const ingest_check_finding *bad = NULL, *yml = NULL;

    for (size_t i = 0; i < r->count; i++) {
        const ingest_check_finding *f = &r->findings[i];
        if (f->severity == INGEST_CHECK_ERROR)
            errors++;
        else
            warnings++;
        if (f->field && strcmp(f->field, "versions[1]") == 0)
            bad = f;
        if (strcmp(f->file, "channels/eus-4.16.yml") == 0)
            yml = f;
    }
    cr_assert_eq(r->errors, 10);
    cr_assert_eq(r->warnings, 4);
    cr_assert_eq(errors, 10);
    cr_assert_eq(warnings, 4);
    cr_assert_not_null(bad);
    cr_assert_eq(bad->severity, INGEST_CHECK_ERROR);
    cr_assert_str_eq(bad->file, "channels/stable-4.16.yaml");
    cr_assert_eq(bad->line, 4);
    cr_assert_str_eq(bad->message, "field 'versions[1]': '4.16.x' is not a valid version");
    cr_assert_not_null(yml);
    cr_assert_eq(yml->severity, INGEST_CHECK_WARNING);
    cr_assert_eq(yml->line, 0);
    cr_assert_null(yml->field);
    ingest_check_report_free(r);
}

/* The issue's acceptance test: the graph-data we ship passes. Its three
 * warnings are real: risks for releases that were pulled from every channel. */
Test(ingest_check, real_graph_data_has_no_errors)
{
    ingest_check_report *r = check_ok(REAL_DATA);
    static const char *const want[] = {
        "blocked-edges/4.14.47-LabeledMachineConfigAndContainerRuntimeConfigBlocksMCO.yaml:1: "
        "warning: field 'to': '4.14.47' is not listed in any channel",
        "blocked-edges/4.16.31-LabeledMachineConfigAndContainerRuntimeConfigBlocksMCO.yaml:1: "
        "warning: field 'to': '4.16.31' is not listed in any channel",
        "blocked-edges/4.18.0-KubeletStartFailingFromRestoreconTimeout.yaml:1: "
        "warning: field 'to': '4.18.0' is not listed in any channel",
    };
    char *text = ingest_check_report_text(r), *expected;
    size_t n = 0;

    cr_assert_eq(r->errors, 0, "real graph-data has errors:\n%s", text);
    cr_assert_eq(r->warnings, 3, "real graph-data warnings changed:\n%s", text);
    expected = malloc(4096);
    cr_assert_not_null(expected);
    for (size_t i = 0; i < 3; i++)
        n += (size_t)snprintf(expected + n, 4096 - n, "%s\n", want[i]);
    snprintf(expected + n, 4096 - n, "0 errors, 3 warnings in %s\n", REAL_DATA);
    cr_assert_str_eq(text, expected);
    free(expected);
    free(text);
    ingest_check_report_free(r);
}

Test(ingest_check, json_report)
{
    ingest_check_report *r = check_ok(CDATA "/block-problems/data");
    char *s = ingest_check_report_json(r);
    json_error_t jerr;
    json_t *root, *list, *f;
    size_t i, with_null_field = 0;

    cr_assert_not_null(s);
    cr_assert_eq(s[strlen(s) - 1], '\n');
    root = json_loads(s, 0, &jerr);
    cr_assert_not_null(root, "not json: %s", jerr.text);
    cr_assert_eq(json_integer_value(json_object_get(root, "errors")), 20);
    cr_assert_eq(json_integer_value(json_object_get(root, "warnings")), 2);
    list = json_object_get(root, "findings");
    cr_assert_eq(json_array_size(list), 22);
    f = json_array_get(list, 0);
    cr_assert_str_eq(json_string_value(json_object_get(f, "severity")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(f, "file")), "blocked-edges/bad-regex.yaml");
    cr_assert_eq(json_integer_value(json_object_get(f, "line")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(f, "field")), "from");
    cr_assert_str_eq(
        json_string_value(json_object_get(f, "message")),
        "field 'from': '4[.](15' is not a valid regular expression: Unmatched ( or \\(");
    json_array_foreach(list, i, f)
    {
        if (json_is_null(json_object_get(f, "field"))) {
            with_null_field++;
            cr_assert_str_eq(json_string_value(json_object_get(f, "message")),
                             "top level must be a mapping");
        }
    }
    cr_assert_eq(with_null_field, 1);
    f = json_array_get(list, 10);
    cr_assert_str_eq(json_string_value(json_object_get(f, "severity")), "warning");
    cr_assert_str_eq(json_string_value(json_object_get(f, "field")), "matchingRules[0].promql");
    cr_assert_eq(json_integer_value(json_object_get(f, "line")), 8);
    json_decref(root);
    free(s);
    ingest_check_report_free(r);
}

Test(ingest_check, json_of_real_data_counts)
{
    ingest_check_report *r = check_ok(REAL_DATA);
    char *s = ingest_check_report_json(r);
    json_t *root = json_loads(s, 0, NULL);

    cr_assert_not_null(root);
    cr_assert_eq(json_integer_value(json_object_get(root, "errors")), 0);
    cr_assert_eq(json_integer_value(json_object_get(root, "warnings")), 3);
    cr_assert_eq(json_array_size(json_object_get(root, "findings")), 3);
    json_decref(root);
    free(s);
    ingest_check_report_free(r);
}

Test(ingest_check, missing_directory_fails_without_report)
{
    ingest_check_report *r = (ingest_check_report *)0x1;
    cincy_error e;

    cincy_error_clear(&e);
    cr_assert_eq(ingest_check_dir(&r, "/nonexistent/graph-data", &e), CINCY_ENOTFOUND);
    cr_assert_eq(r, (ingest_check_report *)0x1, "out written on failure");
    cr_assert_str_eq(test_fmt(&e), "/nonexistent/graph-data: graph-data directory does not exist");
}

Test(ingest_check, unsupported_schema_and_oversized_file)
{
    char dir[256], *big, *text, *expected;
    ingest_check_report *r;
    const size_t size = (1u << 20) + 1;

    test_tmpdir(dir, sizeof(dir));
    test_graph_data_skeleton(dir, "2.0.0\n");
    big = malloc(size + 1);
    cr_assert_not_null(big);
    memset(big, '#', size);
    big[size] = '\0';
    test_write(dir, "blocked-edges/big.yaml", big);
    free(big);
    r = check_ok(dir);
    text = ingest_check_report_text(r);
    expected = expand_dir("blocked-edges/big.yaml: file is 1048577 bytes, more than the 1048576 "
                          "allowed\n"
                          "version:1: graph-data schema 2.0.0 is not supported (this server reads "
                          "1.x)\n"
                          "2 errors, 0 warnings in @DIR@\n",
                          dir);
    cr_assert_str_eq(text, expected);
    free(expected);
    free(text);
    ingest_check_report_free(r);
    test_rm_rf(dir);
}

/* Whatever a file's first problem, the loader's message for it is among the
 * check's findings: the check must never be blind to what makes the server
 * skip a file. The inputs are the loader's invalid-file table. */
Test(ingest_check, agrees_with_loader_on_invalid_files)
{
    DIR *d = opendir(TDATA "/invalid");
    struct dirent *de;
    size_t cases = 0;

    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        char dir[256], path[4096], rel[512], *input, *kind, *expected, *text;
        ingest_check_report *r;

        if (de->d_name[0] == '.')
            continue;
        TEST_SNPRINTF(path, TDATA "/invalid/%s/input.yaml", de->d_name);
        input = test_slurp(path);
        TEST_SNPRINTF(path, TDATA "/invalid/%s/kind", de->d_name);
        kind = test_slurp(path);
        TEST_SNPRINTF(path, TDATA "/invalid/%s/expected", de->d_name);
        expected = test_slurp(path);
        cr_assert(input && kind && expected);
        test_tmpdir(dir, sizeof(dir));
        test_graph_data_skeleton(dir, "1.1.0\n");
        TEST_SNPRINTF(rel, "%s/%s.yaml", strncmp(kind, "channel", 7) ? "blocked-edges" : "channels",
                      de->d_name);
        test_write(dir, rel, input);
        r = check_ok(dir);
        text = ingest_check_report_text(r);
        cr_assert(r->errors >= 1, "case %s: no error:\n%s", de->d_name, text);
        cr_assert_not_null(strstr(text, expected), "case %s: loader says\n%sbut check says\n%s",
                           de->d_name, expected, text);
        free(text);
        ingest_check_report_free(r);
        test_rm_rf(dir);
        free(input);
        free(kind);
        free(expected);
        cases++;
    }
    closedir(d);
    cr_assert_eq(cases, 24);
}

/* ---------------------------------------------------------------------------
 * The command: `cincy check [--json] [--strict] DIR`
 */

/* cincy check a1 [a2 [a3]] (NULLs end the list early). */
static cli_result run_check(const char *a1, const char *a2, const char *a3)
{
    const char *args[] = {"check", a1, a2, a3, NULL};

    return cli_run(args);
}

Test(ingest_check, cli_good_dir_exits_0)
{
    cli_result r = run_check(CDATA "/clean/data", NULL, NULL);

    cr_assert_eq(r.code, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.out, "0 errors, 0 warnings in " CDATA "/clean/data\n");
    cli_free(&r);
}

Test(ingest_check, cli_bad_dir_exits_1_with_report)
{
    cli_result r = run_check(CDATA "/cross-file/data", NULL, NULL);
    char *raw = test_slurp(CDATA "/cross-file/expected");
    char *expected = expand_dir(raw, CDATA "/cross-file/data");

    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.out, expected);
    free(expected);
    free(raw);
    cli_free(&r);
}

Test(ingest_check, cli_json)
{
    cli_result r = run_check("--json", CDATA "/block-problems/data", NULL);
    json_t *root = json_loads(r.out, 0, NULL);

    cr_assert_eq(r.code, 1);
    cr_assert_not_null(root, "not json: %s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(root, "errors")), 20);
    cr_assert_eq(json_integer_value(json_object_get(root, "warnings")), 2);
    cr_assert_eq(json_array_size(json_object_get(root, "findings")), 22);
    json_decref(root);
    cli_free(&r);
}

Test(ingest_check, cli_strict_fails_on_warnings)
{
    cli_result lax = run_check(CDATA "/version-newer/data", NULL, NULL);
    cli_result strict = run_check("--strict", CDATA "/version-newer/data", NULL);

    cr_assert_eq(lax.code, 0);
    cr_assert_eq(strict.code, 1);
    cr_assert_str_eq(strict.out, lax.out);
    cli_free(&lax);
    cli_free(&strict);
}

Test(ingest_check, cli_usage_and_unreadable_dir_exit_2)
{
    cli_result missing = run_check("/nonexistent/graph-data", NULL, NULL);
    cli_result none = run_check(NULL, NULL, NULL);
    cli_result two = run_check(CDATA "/clean/data", CDATA "/clean/data", NULL);
    cli_result opt = run_check("--jsn", CDATA "/clean/data", NULL);

    cr_assert_eq(missing.code, 2);
    cr_assert_str_eq(missing.out, "");
    cr_assert_str_eq(missing.err,
                     "cincy: /nonexistent/graph-data: graph-data directory does not exist\n");
    cr_assert_eq(none.code, 2);
    cr_assert(strstr(none.err, "check needs a graph-data directory"), "%s", none.err);
    cr_assert_eq(two.code, 2);
    cr_assert(strstr(two.err, "check takes one graph-data directory"), "%s", two.err);
    cr_assert_eq(opt.code, 2);
    cr_assert(strstr(opt.err, "unknown option '--jsn'"), "%s", opt.err);
    cli_free(&missing);
    cli_free(&none);
    cli_free(&two);
    cli_free(&opt);
}
