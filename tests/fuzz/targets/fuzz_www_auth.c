/* tests/fuzz/targets/fuzz_www_auth.c - a registry's WWW-Authenticate
 * challenge (reg_note_challenge) and the token answer of its realm.
 *
 * Input: the challenge, "\n@@@\n", the token endpoint's JSON body. "@REALM@"
 * in the challenge becomes the stand-in registry's token URL; any other
 * realm is proxied to the stand-in too (nothing leaves the machine).
 * Invariants: Basic without credentials, an unusable challenge or a failed
 * token request are errors with a message; after a Bearer challenge whose
 * token was obtained, the next registry request carries exactly
 * "Authorization: Bearer <token>" (for a token curl can send on one line),
 * and a Basic challenge sends the stored credentials.
 */
#include <jansson.h>

#include "fuzz/targets/fuzz_registry.h"
#include "ingest/registry_internal.h"

#define SEP "\n@@@\n"

/* The token the realm's answer holds, as fetch_token picks it, or NULL. */
static char *expected_token(const uint8_t *body, size_t len)
{
    json_t *root = json_loadb((const char *)body, len, 0, NULL);
    json_t *tok = json_object_get(root, "token");
    char *out = NULL;

    if (!json_is_string(tok))
        tok = json_object_get(root, "access_token");
    if (json_is_string(tok) && *json_string_value(tok))
        out = strdup(json_string_value(tok));
    json_decref(root);
    return out;
}

static void check_next_request(reg_conn *c, freg *g, const char *token)
{
    reg_reply r = {0};
    cincy_error err;
    char want[4200];

    if (reg_request(c, "GET", "/v2/", NULL, 4096, &r, &err) < 0) {
        reg_reply_clear(&r);
        return; /* a token curl refuses to send fails the request: fine */
    }
    pthread_mutex_lock(&g->lock);
    if (token) {
        snprintf(want, sizeof(want), "Bearer %s", token);
        FUZZ_CHECK(strcmp(g->last_auth, want) == 0);
    } else {
        FUZZ_CHECK(strncmp(g->last_auth, "Basic ", 6) == 0);
    }
    pthread_mutex_unlock(&g->lock);
    reg_reply_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    freg *g = freg_get();
    const uint8_t *ch_part, *tok_part;
    size_t ch_len, tok_len, wlen;
    char repo[128], realm[128], *challenge, *www, *token;
    ingest_registry_config cfg = {0};
    reg_client *cl = NULL;
    reg_conn c = {0};
    cincy_error err;
    int rc;

    fuzz_quiet();
    fuzz_split(data, size, SEP, &ch_part, &ch_len, &tok_part, &tok_len);
    snprintf(repo, sizeof(repo), "http://127.0.0.1:%d/fuzz/release", g->port);
    snprintf(realm, sizeof(realm), "http://127.0.0.1:%d/token", g->port);
    challenge = fuzz_strndup(ch_part, ch_len);
    www = freg_replace(challenge, strlen(challenge), "@REALM@", realm, &wlen);
    g->token = tok_part;
    g->token_len = tok_len;
    token = expected_token(tok_part, tok_len);

    cfg.timeout_seconds = 10;
    cfg.retries = 1;
    FUZZ_SETUP(reg_client_new(&cl, repo, &cfg, &err) == 0);
    /* Half the inputs have credentials, so Basic can succeed. */
    if (size % 2 == 0)
        FUZZ_SETUP((cl->basic = strdup("cincy:s3cret")) != NULL);
    FUZZ_SETUP(reg_conn_init(&c, cl, &err) == 0);
    rc = reg_note_challenge(&c, www, "http://registry.invalid/v2/", &err);
    if (rc < 0) {
        FUZZ_CHECK(err.code == rc && err.msg[0]);
    } else if (cl->challenge == 2) {
        FUZZ_CHECK(token != NULL); /* success means a token was stored */
        if (!strpbrk(token, "\r\n") && strlen(token) < 4000)
            check_next_request(&c, g, token);
    } else {
        FUZZ_CHECK(cl->challenge == 1 && cl->basic);
        check_next_request(&c, g, NULL);
    }
    reg_conn_clear(&c);
    reg_client_free(cl);
    free(token);
    free(www);
    free(challenge);
    return 0;
}
