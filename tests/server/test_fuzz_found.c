/* tests/server/test_fuzz_found.c - server bugs the fuzz targets found, each
 * pinned by a plain test (the input also sits in tests/fuzz/corpus as a
 * crash-* entry that the replay feeds to the harness).
 */

#include "server_fixture.h"

#define PATH_API "/api/upgrades_info/v1/path"

TestSuite(server_fuzz_found, .fini = stop);

/* GETs query on P/v1/path; asserts the status and that the body is JSON
 * holding the message part want. */
static void assert_path_refused(const char *query, long status, const char *want)
{
    char path[512];
    stest_resp r;
    json_t *j;

    snprintf(path, sizeof(path), PATH_API "?%s", query);
    r = req("GET", graph_base, path, NULL);
    cr_assert_eq(r.status, status, "%s: status %ld body %s", query, r.status, r.body.data);
    j = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(j, "%s: body is not json: %s", query, r.body.data);
    cr_assert_not_null(strstr(r.body.data, want), "%s: body %s", query, r.body.data);
    json_decref(j);
    stest_resp_free(&r);
}

/* fuzz_path crash-479e0c30: a `to` (or `from`) that is not UTF-8 was echoed
 * into the JSON answer, which cannot hold it: the answer failed to render
 * and the client got a 500. Now it is a 400 naming the parameter, its value
 * decoded lossily like every echoed query value. */
Test(server_fuzz_found, path_version_not_utf8_is_400)
{
    start(1, NULL, 0);
    assert_path_refused("channel=stable-4.2&from=4.1.0&to=4.2%FF%FF.1", 400,
                        "to '4.2\xEF\xBF\xBD\xEF\xBF\xBD.1' is not a version");
    assert_path_refused("channel=stable-4.2&from=%C0%AF&to=4.2.1", 400, "from '");
    /* Valid UTF-8 that is no version is still the search's own answer. */
    assert_path_refused("channel=stable-4.2&from=4.1.0&to=%C3%A9", 400, "invalid");
}
