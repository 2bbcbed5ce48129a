/* ingest/registry_auth.c - who we are to a registry: credentials from a
 * docker config.json / pull secret (longest matching "auths" key, spec
 * §3.1), and the answers to a 401's WWW-Authenticate challenge: Basic, or a
 * Bearer token from the realm, cached per scope in the shared client until
 * shortly before it expires (see the DESIGN note in registry_http.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ingest/registry_internal.h"

/* A token is renewed this long before the registry says it expires. */
#define TOKEN_MARGIN_S 10.0
#define AUTH_FILE_MAX (4u << 20) /* a pull secret is a few KiB */

/* ------------------------------------------------------------------------
 * Credentials
 */

/* base64 "user:pass" -> new string, or NULL when it is not valid base64. */
static char *decode_auth(const char *b64)
{
    size_t n = strlen(b64), pad = 0;
    unsigned char *out;
    int len;

    if (n == 0 || n % 4 != 0 || n > 8192)
        return NULL;
    if (!(out = malloc(n / 4 * 3 + 1)))
        return NULL;
    len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    if (len < 0) {
        free(out);
        return NULL;
    }
    while (pad < 2 && b64[n - 1 - pad] == '=')
        pad++;
    len -= (int)pad;
    out[len] = '\0';
    if (memchr(out, '\0', (size_t)len) || !strchr((char *)out, ':')) {
        free(out);
        return NULL;
    }
    return (char *)out;
}

/* Length of key when it names host/repo or a prefix of it on a path
 * boundary ("quay.io", "quay.io/ns", "https://quay.io/"), else 0. */
static size_t auth_key_match(const char *key, const char *host, const char *repo)
{
    int plain;
    const char *k = reg_strip_scheme(key, &plain);
    size_t klen, hlen = strlen(host);

    if (!k)
        return 0;
    klen = strlen(k);
    while (klen && k[klen - 1] == '/')
        klen--;
    if (klen < hlen || strncmp(k, host, hlen) != 0)
        return 0;
    if (klen == hlen)
        return klen;
    if (k[hlen] != '/')
        return 0;
    /* the rest of the key must be a path prefix of repo */
    {
        size_t plen = klen - hlen - 1;
        if (strncmp(k + hlen + 1, repo, plen) != 0 || (repo[plen] != '\0' && repo[plen] != '/'))
            return 0;
    }
    return klen;
}

static int entry_credentials(char **out, json_t *entry)
{
    json_t *auth = json_object_get(entry, "auth");
    json_t *user = json_object_get(entry, "username"), *pass = json_object_get(entry, "password");

    if (json_is_string(auth) && *json_string_value(auth))
        return (*out = decode_auth(json_string_value(auth))) ? 0 : -1;
    if (json_is_string(user) && json_is_string(pass))
        return (*out = reg_printf("%s:%s", json_string_value(user), json_string_value(pass))) ? 0
                                                                                              : -1;
    return -1;
}

/* Reads the docker config.json / pull secret and keeps the credentials of
 * the longest "auths" key matching host/repo (spec §3.1). No match:
 * anonymous. A file that cannot be read or parsed is an error: silently
 * going anonymous would hide a typo behind a later 401. */
int reg_load_credentials(reg_client *cl, const char *path, cincy_error *err)
{
    char *text = NULL;
    size_t len = 0, best = 0;
    json_t *root = NULL, *auths, *entry, *chosen = NULL;
    json_error_t jerr;
    const char *key, *chosen_key = NULL;
    int error;

    if ((error = ingest_read_file(&text, &len, path, AUTH_FILE_MAX, path, err)) < 0)
        return error == CINCY_ENOTFOUND
                   ? cincy_error_set(err, CINCY_EINVALID, path, 0, "auth file does not exist")
                   : error;
    if (!(root = json_loadb(text, len, 0, &jerr))) {
        error = cincy_error_set(err, CINCY_EINVALID, path, jerr.line > 0 ? jerr.line : 0,
                                "invalid json: %s", jerr.text);
        goto cleanup;
    }
    auths = json_object_get(root, "auths");
    if (!json_is_object(auths)) {
        error = cincy_error_set(err, CINCY_EINVALID, path, 0, "field 'auths' must be an object");
        goto cleanup;
    }
    json_object_foreach(auths, key, entry)
    {
        size_t m = auth_key_match(key, cl->host, cl->repo);
        if (m > best && json_is_object(entry)) {
            best = m;
            chosen = entry;
            chosen_key = key;
        }
    }
    if (chosen && entry_credentials(&cl->basic, chosen) < 0)
        error = cincy_error_set(err, CINCY_EINVALID, path, 0,
                                "field 'auths.%.*s': no usable 'auth' (base64 user:password) or "
                                "'username'/'password'",
                                INGEST_QUOTE_MAX, chosen_key);
cleanup:
    json_decref(root);
    free(text);
    return error;
}

/* ------------------------------------------------------------------------
 * Auth
 */

/* Finds param="value" (or param=value) in a challenge; new string or NULL. */
static char *challenge_param(const char *ch, const char *param)
{
    size_t pl = strlen(param);
    const char *p = ch;
    for (; *p; p++) {
        if (strncasecmp(p, param, pl) != 0)
            continue;
        int boundary = p == ch || p[-1] == ' ' || p[-1] == ',';
        const char *v = p + pl;
        /* No skipping ahead by pl here: at the end of the string that left
         * p on the NUL and the loop's p++ read past it (found by fuzz_www_auth). */
        if (!boundary || *v != '=')
            continue;
        v++;
        if (*v == '"') {
            const char *end = strchr(v + 1, '"');
            return end ? strndup(v + 1, (size_t)(end - v - 1)) : NULL;
        }
        return strndup(v, strcspn(v, ", "));
    }
    return NULL;
}

static const char *token_lookup(reg_client *cl, const char *scope)
{
    double now = reg_now();
    for (size_t i = 0; i < cl->ntokens; i++)
        if (strcmp(cl->tokens[i].scope, scope) == 0)
            return cl->tokens[i].expiry > now ? cl->tokens[i].token : NULL;
    return NULL;
}

static int token_store(reg_client *cl, const char *scope, const char *token, double expiry)
{
    reg_token *t;
    char *tok = strdup(token);
    if (!tok)
        return -1;
    for (size_t i = 0; i < cl->ntokens; i++)
        if (strcmp(cl->tokens[i].scope, scope) == 0) {
            free(cl->tokens[i].token);
            cl->tokens[i].token = tok;
            cl->tokens[i].expiry = expiry;
            return 0;
        }
    if (!(t = realloc(cl->tokens, (cl->ntokens + 1) * sizeof(*t)))) {
        free(tok);
        return -1;
    }
    cl->tokens = t;
    t[cl->ntokens].scope = strdup(scope);
    t[cl->ntokens].token = tok;
    t[cl->ntokens].expiry = expiry;
    if (!t[cl->ntokens].scope) {
        free(tok);
        return -1;
    }
    cl->ntokens++;
    return 0;
}

/* Asks the realm for a token for scope and caches it under key: the scope
 * reg_add_auth looks tokens up by. They differ when a challenge names a
 * scope of its own; keyed by that, the token was never sent and every
 * retry drew the same 401 (found by fuzz_www_auth). */
static int fetch_token(reg_conn *c, const char *scope, const char *key, cincy_error *err)
{
    reg_client *cl = c->cl;
    reg_reply r = {0};
    reg_hdr_ctx h = {&r, NULL};
    char *url = NULL, *realm = NULL, *service = NULL, *esc_scope = NULL, *esc_service = NULL;
    json_t *root = NULL, *tok, *exp;
    CURLcode rc;
    double expiry, lifetime;
    int error = 0;

    pthread_mutex_lock(&cl->lock);
    realm = cl->realm ? strdup(cl->realm) : NULL;
    service = cl->service ? strdup(cl->service) : NULL;
    pthread_mutex_unlock(&cl->lock);
    if (!realm || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0,
                                "registry %s: bearer challenge without a usable realm", cl->host);
        goto cleanup;
    }
    esc_scope = curl_easy_escape(c->easy, scope, 0);
    esc_service = service ? curl_easy_escape(c->easy, service, 0) : NULL;
    if (!esc_scope ||
        !(url = reg_printf("%s%sscope=%s%s%s", realm, strchr(realm, '?') ? "&" : "?", esc_scope,
                           esc_service ? "&service=" : "", esc_service ? esc_service : ""))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    reg_buf_init(&r.body, REG_TOKEN_MAX);
    reg_setup_common(c->easy, cl, c->share);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, cl->timeout);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, reg_body_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, reg_header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, &h);
    if (cl->basic) {
        curl_easy_setopt(c->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c->easy, CURLOPT_USERPWD, cl->basic);
    }
    rc = curl_easy_perform(c->easy);
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (rc != CURLE_OK || r.status != 200) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "registry %s: token request %s: %s",
                                cl->host, realm,
                                rc != CURLE_OK    ? curl_easy_strerror(rc)
                                : r.status == 401 ? "401 unauthorized (check the auth file)"
                                                  : "unexpected http status");
        goto cleanup;
    }
    root = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    tok = json_object_get(root, "token");
    if (!json_is_string(tok))
        tok = json_object_get(root, "access_token");
    if (!json_is_string(tok) || !*json_string_value(tok)) {
        error =
            cincy_error_set(err, CINCY_ERROR, NULL, 0,
                            "registry %s: token response from %s holds no token", cl->host, realm);
        goto cleanup;
    }
    exp = json_object_get(root, "expires_in");
    /* The spec's default lifetime is 60 s when expires_in is absent. A
     * lifetime shorter than twice the margin keeps half of it: with the whole
     * margin taken off, the token was born expired and never sent (found by
     * fuzz_www_auth with expires_in 5). */
    lifetime = json_is_integer(exp) && json_integer_value(exp) > 0
                   ? (double)json_integer_value(exp)
                   : 60.0;
    expiry = reg_now() + lifetime - (lifetime > 2 * TOKEN_MARGIN_S ? TOKEN_MARGIN_S : lifetime / 2);
    pthread_mutex_lock(&cl->lock);
    if (token_store(cl, key, json_string_value(tok), expiry) < 0)
        error = ingest_oom(err);
    pthread_mutex_unlock(&cl->lock);
    cincy_log(CINCY_LOG_DEBUG, "ingest", "registry token obtained\tregistry=%s scope=%s", cl->host,
              scope);
cleanup:
    json_decref(root);
    reg_reply_clear(&r);
    free(h.www_auth);
    curl_free(esc_scope);
    curl_free(esc_service);
    free(url);
    free(realm);
    free(service);
    return error;
}

static char *default_scope(const reg_client *cl)
{
    return reg_printf("repository:%s:pull", cl->repo);
}

/* Records a 401's challenge. Returns 0 when a retry may succeed. */
int reg_note_challenge(reg_conn *c, const char *www_auth, const char *url, cincy_error *err)
{
    reg_client *cl = c->cl;
    char *realm = NULL, *service = NULL, *scope = NULL, *key;
    int error = 0;

    if (www_auth && strncasecmp(www_auth, "bearer", 6) == 0) {
        realm = challenge_param(www_auth + 6, "realm");
        service = challenge_param(www_auth + 6, "service");
        scope = challenge_param(www_auth + 6, "scope");
        pthread_mutex_lock(&cl->lock);
        cl->challenge = 2;
        free(cl->realm);
        free(cl->service);
        cl->realm = realm;
        cl->service = service;
        realm = service = NULL;
        /* Drop the cached token: it was just refused (every token is kept
         * under the repository's default scope, see fetch_token). */
        for (size_t i = 0; i < cl->ntokens; i++)
            cl->tokens[i].expiry = 0;
        pthread_mutex_unlock(&cl->lock);
        if (!(key = default_scope(cl)) || (!scope && !(scope = strdup(key)))) {
            free(key);
            free(scope);
            return ingest_oom(err);
        }
        error = fetch_token(c, scope, key, err);
        free(key);
    } else if (www_auth && strncasecmp(www_auth, "basic", 5) == 0) {
        if (!cl->basic)
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0,
                                    "registry %s: %s: 401 unauthorized, and the auth file has "
                                    "no credentials for %s",
                                    cl->host, url, cl->host);
        pthread_mutex_lock(&cl->lock);
        cl->challenge = 1;
        pthread_mutex_unlock(&cl->lock);
    } else {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0,
                                "registry %s: %s: 401 unauthorized without a usable challenge",
                                cl->host, url);
    }
    free(realm);
    free(service);
    free(scope);
    return error;
}

/* Adds the Authorization the last challenge asks for to hdrs (Basic is set
 * on the handle instead). Returns the list (possibly unchanged) or NULL on
 * out of memory. */
struct curl_slist *reg_add_auth(reg_conn *c, struct curl_slist *hdrs, int *oom)
{
    reg_client *cl = c->cl;
    char *line = NULL, *scope;
    struct curl_slist *t = hdrs;

    pthread_mutex_lock(&cl->lock);
    if (cl->challenge == 1 && cl->basic) {
        curl_easy_setopt(c->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c->easy, CURLOPT_USERPWD, cl->basic);
    } else if (cl->challenge == 2 && (scope = default_scope(cl)) != NULL) {
        const char *tok = token_lookup(cl, scope);
        if (tok && !(line = reg_printf("Authorization: Bearer %s", tok)))
            *oom = 1;
        free(scope);
    }
    pthread_mutex_unlock(&cl->lock);
    if (line) {
        t = curl_slist_append(hdrs, line);
        if (!t) {
            *oom = 1;
            t = hdrs;
        }
        OPENSSL_cleanse(line, strlen(line));
        free(line);
    }
    return t;
}

/* Before a request: with a Bearer challenge seen but no valid token (it
 * expired), get one now rather than paying a 401 round trip. */
int reg_ensure_token(reg_conn *c, cincy_error *err)
{
    reg_client *cl = c->cl;
    char *scope = default_scope(cl);
    int need, error = 0;

    if (!scope)
        return ingest_oom(err);
    pthread_mutex_lock(&cl->lock);
    need = cl->challenge == 2 && !token_lookup(cl, scope);
    pthread_mutex_unlock(&cl->lock);
    if (need)
        error = fetch_token(c, scope, scope, err);
    free(scope);
    return error;
}
