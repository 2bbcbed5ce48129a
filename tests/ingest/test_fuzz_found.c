/* tests/ingest/test_fuzz_found.c - ingest bugs the fuzz targets found, each
 * pinned by a plain test (the input also sits in tests/fuzz/corpus as a
 * crash-* entry that the replay feeds to the harness).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <microhttpd.h>

#include "ingest/registry_internal.h"

/* fuzz_www_auth crash-3eb2dcc5: a challenge that ends with a parameter's
 * name ("... scope") made challenge_param step onto the terminating NUL and
 * then past it (heap-buffer-overflow under ASan). Each challenge here is a
 * heap copy of exactly its length, so ASan sees any read past the end. The
 * Bearer ones have no usable realm: reg_note_challenge fails before any
 * request is made. */
Test(ingest_fuzz_found, challenge_ending_in_param_name)
{
    static const char *const challenges[] = {"Bearer realm",  "Bearer scope", "Bearer service",
                                             "bearer x,realm", "Bearer realm=", "Bearer realm=\""};
    reg_client *cl = NULL;
    reg_conn c = {0};
    cincy_error err;

    cr_assert_eq(reg_client_new(&cl, "http://127.0.0.1:9/fuzz/release", NULL, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(reg_conn_init(&c, cl, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof(challenges) / sizeof(*challenges); i++) {
        char *www = strdup(challenges[i]);
        cr_assert_not_null(www);
        cr_assert_eq(reg_note_challenge(&c, www, "http://127.0.0.1:9/v2/", &err), CINCY_ERROR,
                     "%s", challenges[i]);
        cr_assert(strstr(err.msg, "realm") != NULL, "%s: %s", challenges[i], err.msg);
        free(www);
    }
    reg_conn_clear(&c);
    reg_client_free(cl);
}

/* fuzz_dockercfg crash-260f4ed3: "http://host//" was accepted as a
 * repository with an empty name (requests then went to /v2//...). */
Test(ingest_fuzz_found, repository_of_slashes_only)
{
    reg_client *cl = NULL;
    cincy_error err;

    cr_assert_eq(reg_client_new(&cl, "http://127.0.0.1:5000//", NULL, &err), CINCY_EINVALID);
    cr_assert(strstr(err.msg, "host[:port]/repository") != NULL, "%s", err.msg);
    cr_assert_null(cl);
    cr_assert_eq(reg_client_new(&cl, "quay.io/a//", NULL, &err), 0, "%s", err.msg);
    cr_assert_str_eq(cl->repo, "a");
    reg_client_free(cl);
}

/* A registry and its token realm in one: /token answers a token that
 * lives 5 s; anything else wants "Bearer tok" and is 200 with it, else 401
 * with the challenge in www (a scope of its own, not the repository's). */
static char www[256];

static enum MHD_Result token_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **req)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    int is_token = strncmp(url, "/token", 6) == 0, ok = auth && strcmp(auth, "Bearer tok") == 0;
    const char *body = is_token ? "{\"token\":\"tok\",\"expires_in\":5}" : "{}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)req;
    if (!is_token && !ok)
        MHD_add_response_header(r, "WWW-Authenticate", www);
    ret = MHD_queue_response(conn, is_token || ok ? 200 : 401, r);
    MHD_destroy_response(r);
    return ret;
}

/* fuzz_www_auth crash-a3e49229: the token a Bearer challenge brought was
 * cached under the challenge's scope but looked up under the repository's,
 * and a lifetime under the 10 s renewal margin made it expired at birth:
 * either way it was never sent and every retry drew the same 401. */
Test(ingest_fuzz_found, bearer_token_is_sent)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                            token_handler, NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info;
    char repo[128];
    reg_client *cl = NULL;
    reg_conn c = {0};
    reg_reply r = {0};
    cincy_error err;

    cr_assert_not_null(d);
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(www, sizeof(www), "Bearer realm=\"http://127.0.0.1:%d/token\",scope=\"other:x\"",
             info->port);
    snprintf(repo, sizeof(repo), "http://127.0.0.1:%d/fuzz/release", info->port);
    cr_assert_eq(reg_client_new(&cl, repo, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(reg_conn_init(&c, cl, &err), 0, "%s", err.msg);
    cr_assert_eq(reg_request(&c, "GET", "/v2/", NULL, 4096, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.status, 200, "the token was not sent (status %ld)", r.status);
    reg_reply_clear(&r);
    reg_conn_clear(&c);
    reg_client_free(cl);
    MHD_stop_daemon(d);
}
