/* tests/graph/test_version.c - semver parsing, precedence and formatting. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

typedef struct valid_case {
    const char *in;
    uint64_t major, minor, patch;
    const char *pre, *build, *canonical;
} valid_case;

static const valid_case valid_cases[] = {
    {"4.14.1", 4, 14, 1, NULL, NULL, "4.14.1"},
    {"0.0.0", 0, 0, 0, NULL, NULL, "0.0.0"},
    {"  4.15.0-rc.0 \t\n", 4, 15, 0, "rc.0", NULL, "4.15.0-rc.0"},
    {"4.13.2+amd64", 4, 13, 2, NULL, "amd64", "4.13.2+amd64"},
    {"1.0.0-alpha-1.x.0+build.007", 1, 0, 0, "alpha-1.x.0", "build.007",
     "1.0.0-alpha-1.x.0+build.007"},
    {"4.2.11-s390x", 4, 2, 11, "s390x", NULL, "4.2.11-s390x"},
    {"1.0.0-0a", 1, 0, 0, "0a", NULL, "1.0.0-0a"}, /* alphanumeric: leading 0 fine */
    {"1.0.0--", 1, 0, 0, "-", NULL, "1.0.0--"},
    {"18446744073709551615.0.1", UINT64_MAX, 0, 1, NULL, NULL, "18446744073709551615.0.1"},
};

Test(graph_version, parses_valid_versions)
{
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case *c = &valid_cases[i];
        graph_version v;
        cincy_error err = {.code = 99};
        char *text;

        cr_assert_eq(graph_version_parse(&v, c->in, &err), CINCY_OK, "'%s': %s", c->in, err.msg);
        cr_assert_eq(v.major, c->major, "%s", c->in);
        cr_assert_eq(v.minor, c->minor, "%s", c->in);
        cr_assert_eq(v.patch, c->patch, "%s", c->in);
        if (c->pre)
            cr_assert_str_eq(v.pre, c->pre, "%s", c->in);
        else
            cr_assert_null(v.pre, "%s", c->in);
        if (c->build)
            cr_assert_str_eq(v.build, c->build, "%s", c->in);
        else
            cr_assert_null(v.build, "%s", c->in);
        text = graph_version_format(&v);
        cr_assert_str_eq(text, c->canonical);
        free(text);
        graph_version_clear(&v);
        cr_assert_null(v.pre);
    }
}

typedef struct invalid_case {
    const char *in;
    const char *msg;
} invalid_case;

static const invalid_case invalid_cases[] = {
    {"", "'' is not a valid version: empty"},
    {"   ", "'   ' is not a valid version: empty"},
    {"4.14.x", "'4.14.x' is not a valid version: patch part"},
    {"4.x.1", "'4.x.1' is not a valid version: minor part"},
    {"4.14", "'4.14' is not a valid version: patch part"},
    {"4", "'4' is not a valid version: minor part"},
    {"v4.14.1", "'v4.14.1' is not a valid version: major part"},
    {"04.14.1", "'04.14.1' is not a valid version: major part"},
    {"4.014.1", "'4.014.1' is not a valid version: minor part"},
    {"4.14.01", "'4.14.01' is not a valid version: patch part"},
    {"4.14.1.2", "'4.14.1.2' is not a valid version: unexpected character after patch part"},
    {"4.14.1 rc", "'4.14.1 rc' is not a valid version: unexpected character after patch part"},
    {"1.0.0-", "'1.0.0-' is not a valid version: pre-release"},
    {"1.0.0-rc..1", "'1.0.0-rc..1' is not a valid version: pre-release"},
    {"1.0.0-rc.", "'1.0.0-rc.' is not a valid version: pre-release"},
    {"1.0.0-01", "'1.0.0-01' is not a valid version: pre-release"},
    {"1.0.0-rc_1", "'1.0.0-rc_1' is not a valid version: pre-release"},
    {"1.0.0+", "'1.0.0+' is not a valid version: build metadata"},
    {"1.0.0+a..b", "'1.0.0+a..b' is not a valid version: build metadata"},
    {"1.0.0+a+b", "'1.0.0+a+b' is not a valid version: build metadata"},
    {"18446744073709551616.0.0", "'18446744073709551616.0.0' is not a valid version: major part"},
    {"1.99999999999999999999.0", "'1.99999999999999999999.0' is not a valid version: minor part"},
    {"-1.0.0", "'-1.0.0' is not a valid version: major part"},
};

Test(graph_version, rejects_invalid_versions_with_message)
{
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const invalid_case *c = &invalid_cases[i];
        graph_version v;
        cincy_error err;

        memset(&v, 0x5a, sizeof(v)); /* parse must zero it */
        cincy_error_clear(&err);
        cr_assert_eq(graph_version_parse(&v, c->in, &err), CINCY_EINVALID, "'%s'", c->in);
        cr_assert_eq(err.code, CINCY_EINVALID);
        cr_assert_str_eq(err.msg, c->msg);
        cr_assert_eq(v.major, 0);
        cr_assert_null(v.pre);
        cr_assert_null(v.build);
    }
}

Test(graph_version, long_input_is_quoted_cut)
{
    char in[300];
    cincy_error err;
    graph_version v;

    memset(in, '9', sizeof(in) - 1);
    in[sizeof(in) - 1] = '\0';
    cr_assert_eq(graph_version_parse(&v, in, &err), CINCY_EINVALID);
    cr_assert(strstr(err.msg, "...' is not a valid version: major part") != NULL, "%s", err.msg);
    cr_assert_lt(strlen(err.msg), 200);
    /* A NULL err is allowed. */
    cr_assert_eq(graph_version_parse(&v, "x", NULL), CINCY_EINVALID);
}

static int cmp(const char *a, const char *b)
{
    graph_version va, vb;
    int c;

    cr_assert_eq(graph_version_parse(&va, a, NULL), 0, "%s", a);
    cr_assert_eq(graph_version_parse(&vb, b, NULL), 0, "%s", b);
    c = graph_version_cmp(&va, &vb);
    graph_version_clear(&va);
    graph_version_clear(&vb);
    return c;
}

Test(graph_version, precedence_follows_semver_spec_chain)
{
    static const char *const chain[] = {
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
        "1.0.0-rc.1",  "1.0.0",         "2.0.0",
        "2.1.0",       "2.1.1",
    };
    size_t n = sizeof(chain) / sizeof(chain[0]);

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j;
            cr_assert_eq(cmp(chain[i], chain[j]), want, "%s vs %s", chain[i], chain[j]);
            cr_assert_eq(graph_version_cmp_str(chain[i], chain[j]), want, "%s vs %s", chain[i],
                         chain[j]);
        }
    }
}

Test(graph_version, numeric_parts_compare_numerically)
{
    cr_assert_eq(cmp("4.9.0", "4.10.0"), -1);
    cr_assert_eq(cmp("4.10.0", "4.9.0"), 1);
    cr_assert_eq(cmp("4.15.0-rc.9", "4.15.0-rc.10"), -1);
    cr_assert_eq(cmp("4.15.0-rc.10", "4.15.0"), -1);
    cr_assert_eq(cmp("1.0.0-1", "1.0.0-a"), -1); /* numeric before alphanumeric */
    cr_assert_eq(cmp("1.0.0-a", "1.0.0-a-"), -1);
    cr_assert_eq(cmp("1.0.0-B", "1.0.0-a"), -1); /* ASCII order */
    cr_assert_eq(cmp("18446744073709551615.0.0", "18446744073709551614.0.0"), 1);
}

Test(graph_version, build_metadata_is_ignored_for_precedence)
{
    cr_assert_eq(cmp("4.13.2+amd64", "4.13.2+s390x"), 0);
    cr_assert_eq(cmp("4.13.2+amd64", "4.13.2"), 0);
    cr_assert_eq(cmp("4.13.2-rc.1+b", "4.13.2-rc.1"), 0);
    /* The string comparison breaks the tie by strcmp so sorting is total. */
    cr_assert_eq(graph_version_cmp_str("4.13.2+amd64", "4.13.2+s390x"), -1);
    cr_assert_eq(graph_version_cmp_str("4.13.2+amd64", "4.13.2"), 1);
    cr_assert_eq(graph_version_cmp_str(" 4.13.2", "4.13.2"), -1);
    cr_assert_eq(graph_version_cmp_str("4.13.2", "4.13.2"), 0);
}

Test(graph_version, invalid_strings_sort_after_valid_ones)
{
    cr_assert_eq(graph_version_cmp_str("4.x", "99.0.0"), 1);
    cr_assert_eq(graph_version_cmp_str("99.0.0", "4.x"), -1);
    cr_assert_eq(graph_version_cmp_str("a", "b"), -1);
    cr_assert_eq(graph_version_cmp_str("b", "a"), 1);
}
