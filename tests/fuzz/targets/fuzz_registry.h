/* tests/fuzz/targets/fuzz_registry.h - an in-process stand-in registry for
 * the harnesses of registry content (manifests, blobs, auth challenges).
 *
 * It serves, on a loopback port, whatever the current input put in its
 * table: manifests and blobs by digest (Docker-Content-Digest set), a token
 * answer at /token, and 404 for the rest. It also acts as the HTTP proxy
 * of every request curl makes in the process (http_proxy and https_proxy
 * point at it), so a realm or a URL from the input never leaves the machine:
 * a proxied http request is answered like a direct one, a CONNECT fails.
 * It records the Authorization header of the last request.
 *
 * One server per process (started on first use), one input at a time: the
 * table is written before the code under test runs and only read while it
 * runs, so the lock only orders the handler threads' reads of the table
 * against the harness thread's next write.
 */
#ifndef CINCY_FUZZ_REGISTRY_H
#define CINCY_FUZZ_REGISTRY_H

#include <pthread.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "fuzz/targets/fuzz_util.h"

#define FREG_ITEMS 8

typedef struct freg_item {
    char digest[72]; /* "sha256:<hex>" */
    const uint8_t *data;
    size_t len;
    int manifest; /* served under /manifests/ (else /blobs/) */
    const char *content_type;
} freg_item;

typedef struct freg {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    freg_item items[FREG_ITEMS];
    size_t nitems;
    const uint8_t *token; /* body of GET .../token, or NULL: 404 */
    size_t token_len;
    char last_auth[4096]; /* Authorization of the last request, "" if none */
    size_t requests;
} freg;

static freg fuzz_reg;

static inline void freg_digest(char out[72], const uint8_t *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    FUZZ_SETUP(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1 && n == 32);
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static inline enum MHD_Result freg_send(struct MHD_Connection *conn, unsigned status,
                                        const uint8_t *data, size_t len, const char *digest,
                                        const char *ctype)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!r)
        return MHD_NO;
    if (digest)
        MHD_add_response_header(r, "Docker-Content-Digest", digest);
    if (ctype && *ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static inline enum MHD_Result freg_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                           const char *method, const char *version,
                                           const char *upload, size_t *upload_size, void **req)
{
    freg *g = cls;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *path = url;
    enum MHD_Result ret = MHD_NO;

    (void)version;
    (void)upload;
    if (!*req) { /* headers only so far */
        *req = g;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "CONNECT") == 0)
        return freg_send(conn, 405, (const uint8_t *)"", 0, NULL, NULL);
    if (strncmp(path, "http://", 7) == 0 && (path = strchr(path + 7, '/')) == NULL)
        path = "/"; /* a proxied request: the path part decides */
    pthread_mutex_lock(&g->lock);
    g->requests++;
    snprintf(g->last_auth, sizeof(g->last_auth), "%s", auth ? auth : "");
    if (strstr(path, "/token")) {
        ret = g->token ? freg_send(conn, 200, g->token, g->token_len, NULL, "application/json")
                       : freg_send(conn, 404, (const uint8_t *)"", 0, NULL, NULL);
        goto done;
    }
    for (size_t i = 0; i < g->nitems; i++) {
        const freg_item *it = &g->items[i];
        const char *kind = it->manifest ? "/manifests/" : "/blobs/";
        const char *at = strstr(path, kind);
        if (at && strcmp(at + strlen(kind), it->digest) == 0) {
            ret = freg_send(conn, 200, it->data, it->len, it->digest, it->content_type);
            goto done;
        }
    }
    ret = freg_send(conn, 404, (const uint8_t *)"{}", 2, NULL, "application/json");
done:
    pthread_mutex_unlock(&g->lock);
    return ret;
}

/* Starts the server once; returns it with an empty table. */
static inline freg *freg_get(void)
{
    freg *g = &fuzz_reg;
    char proxy[64];

    if (!g->d) {
        const union MHD_DaemonInfo *info;
        pthread_mutex_init(&g->lock, NULL);
        g->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                    MHD_USE_ERROR_LOG,
                                0, NULL, NULL, freg_handler, g, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)10, MHD_OPTION_END);
        FUZZ_SETUP(g->d != NULL);
        info = MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT);
        FUZZ_SETUP(info && info->port);
        g->port = info->port;
        snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", g->port);
        /* Everything curl does in this process goes through us. */
        setenv("http_proxy", proxy, 1);
        setenv("HTTPS_PROXY", proxy, 1);
        setenv("https_proxy", proxy, 1);
        setenv("ALL_PROXY", proxy, 1);
        unsetenv("no_proxy");
        unsetenv("NO_PROXY");
    }
    pthread_mutex_lock(&g->lock);
    g->nitems = 0;
    g->token = NULL;
    g->token_len = 0;
    g->last_auth[0] = '\0';
    g->requests = 0;
    pthread_mutex_unlock(&g->lock);
    return g;
}

/* Adds data to the table under its digest (written into digest_out). */
static inline void freg_put(freg *g, const uint8_t *data, size_t len, int manifest,
                            const char *ctype, char digest_out[72])
{
    freg_item *it;

    pthread_mutex_lock(&g->lock);
    FUZZ_SETUP(g->nitems < FREG_ITEMS);
    it = &g->items[g->nitems++];
    freg_digest(it->digest, data, len);
    it->data = data;
    it->len = len;
    it->manifest = manifest;
    it->content_type = ctype;
    if (digest_out)
        memcpy(digest_out, it->digest, sizeof(it->digest));
    pthread_mutex_unlock(&g->lock);
}

/* A copy of text with every occurrence of key replaced by value (new
 * string; *len receives its length). Lets an input name a digest it cannot
 * know: the harness fills in the digest of bytes the same input supplies. */
static inline char *freg_replace(const char *text, size_t tlen, const char *key, const char *value,
                                 size_t *len)
{
    size_t kl = strlen(key), vl = strlen(value), n = 0, cap = tlen + 1;
    char *out = malloc(cap);

    FUZZ_SETUP(out != NULL);
    for (size_t i = 0; i < tlen;) {
        if (i + kl <= tlen && memcmp(text + i, key, kl) == 0) {
            if (n + vl + 1 > cap) {
                cap = 2 * cap + vl;
                FUZZ_SETUP((out = realloc(out, cap)) != NULL);
            }
            memcpy(out + n, value, vl);
            n += vl;
            i += kl;
        } else {
            if (n + 2 > cap) {
                cap = 2 * cap + 2;
                FUZZ_SETUP((out = realloc(out, cap)) != NULL);
            }
            out[n++] = text[i++];
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

#endif
