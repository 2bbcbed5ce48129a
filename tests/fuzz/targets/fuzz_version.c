/* tests/fuzz/targets/fuzz_version.c - semver parse, format and compare.
 *
 * Input: up to three version strings separated by '\n'. Invariants:
 *   - a parsed version formats to text that parses again to an equal
 *     version (cmp 0, same build), and formatting that is a fixed point;
 *   - a string that parses has no NUL before its end (C string parse);
 *   - cmp is antisymmetric on every pair and transitive on the triple;
 *   - cmp_str agrees with cmp on versions that parse, and is antisymmetric.
 */
#include "fuzz/targets/fuzz_util.h"

#define NPARTS 3

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Round trip: parse(format(v)) == v, and format is a fixed point. */
static void check_roundtrip(const graph_version *v)
{
    graph_version again;
    char *text = graph_version_format(v), *text2;
    cincy_error err;

    FUZZ_SETUP(text != NULL);
    FUZZ_CHECK(graph_version_parse(&again, text, &err) == 0);
    FUZZ_CHECK(graph_version_cmp(v, &again) == 0);
    FUZZ_CHECK(again.major == v->major && again.minor == v->minor && again.patch == v->patch);
    FUZZ_CHECK(str_eq(again.pre, v->pre) && str_eq(again.build, v->build));
    text2 = graph_version_format(&again);
    FUZZ_SETUP(text2 != NULL);
    FUZZ_CHECK(strcmp(text, text2) == 0);
    free(text2);
    free(text);
    graph_version_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *input = fuzz_strndup(data, size), *parts[NPARTS] = {0}, *save = NULL;
    graph_version v[NPARTS];
    int ok[NPARTS] = {0};
    size_t n = 0;
    cincy_error err;

    fuzz_quiet();
    for (char *p = strtok_r(input, "\n", &save); p && n < NPARTS; p = strtok_r(NULL, "\n", &save))
        parts[n++] = p;
    for (size_t i = 0; i < n; i++) {
        ok[i] = graph_version_parse(&v[i], parts[i], &err) == 0;
        if (ok[i])
            check_roundtrip(&v[i]);
        else
            FUZZ_CHECK(err.code == CINCY_EINVALID && err.msg[0] != '\0');
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int cs = graph_version_cmp_str(parts[i], parts[j]);
            FUZZ_CHECK(sign(cs) == -sign(graph_version_cmp_str(parts[j], parts[i])));
            if (ok[i] && ok[j]) {
                int c = graph_version_cmp(&v[i], &v[j]);
                FUZZ_CHECK(sign(c) == -sign(graph_version_cmp(&v[j], &v[i])));
                FUZZ_CHECK(sign(c) == sign(cs) || (c == 0 && strcmp(parts[i], parts[j]) != 0));
            }
        }
    if (n == NPARTS && ok[0] && ok[1] && ok[2]) {
        int ab = graph_version_cmp(&v[0], &v[1]), bc = graph_version_cmp(&v[1], &v[2]);
        int ac = graph_version_cmp(&v[0], &v[2]);
        if (ab <= 0 && bc <= 0)
            FUZZ_CHECK(ac <= 0);
        if (ab >= 0 && bc >= 0)
            FUZZ_CHECK(ac >= 0);
        if (ab == 0 && bc == 0)
            FUZZ_CHECK(ac == 0);
    }
    for (size_t i = 0; i < n; i++)
        if (ok[i])
            graph_version_clear(&v[i]);
    free(input);
    return 0;
}
