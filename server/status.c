/* server/status.c - the status listener: /liveness, /readiness, /metrics,
 * /status (JSON state of the graph and its sources) and POST /refresh.
 *
 * These paths are never prefixed (spec §1.1). Readiness turns 200 with the
 * first published graph and stays there, like the reference (Q19): a later
 * failed reload keeps the old graph serving, which is still a good answer.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server/server_internal.h"

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"

static server_route match_status_route(const char *url)
{
    if (!strcmp(url, "/liveness"))
        return ROUTE_LIVENESS;
    if (!strcmp(url, "/readiness"))
        return ROUTE_READINESS;
    if (!strcmp(url, "/metrics"))
        return ROUTE_METRICS;
    if (!strcmp(url, "/status"))
        return ROUTE_STATUS;
    if (!strcmp(url, "/refresh"))
        return ROUTE_REFRESH;
    return ROUTE_STATUS_OTHER;
}

static enum MHD_Result reply_text(server *s, struct MHD_Connection *conn, server_route route,
                                  const char *method, const char *url, unsigned code,
                                  const char *text)
{
    return server_reply(s, conn, route, method, url, code,
                        server_text_response(text, strlen(text), CT_TEXT));
}

static enum MHD_Result reply_metrics(server *s, struct MHD_Connection *conn, const char *method,
                                     const char *url)
{
    struct MHD_Response *r;
    char *text = NULL;
    size_t len = 0;

    if (server_metrics_render(&text, &len, &s->metrics, &s->cache) < 0 ||
        server_refresh_metrics(&text, &len, s) < 0) {
        free(text);
        return reply_text(s, conn, ROUTE_METRICS, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "cannot render metrics\n");
    }
    r = server_text_response(text, len, CT_PROMETHEUS);
    free(text);
    return server_reply(s, conn, ROUTE_METRICS, method, url, MHD_HTTP_OK, r);
}

static enum MHD_Result reply_status(server *s, struct MHD_Connection *conn, const char *method,
                                    const char *url)
{
    struct MHD_Response *r;
    char *text = NULL;
    size_t len = 0;

    if (server_status_render(&text, &len, s) < 0)
        return reply_text(s, conn, ROUTE_STATUS, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "cannot render status\n");
    r = server_text_response(text, len, CT_JSON);
    free(text);
    return server_reply(s, conn, ROUTE_STATUS, method, url, MHD_HTTP_OK, r);
}

/* 1 when the request carries "Authorization: Bearer <token>"; compared in
 * constant time so the answer's timing does not leak the token. */
static int bearer_ok(struct MHD_Connection *conn, const char *token)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    size_t n = strlen(token);

    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    return strlen(h) == n && CRYPTO_memcmp(h, token, n) == 0;
}

static enum MHD_Result reply_refresh(server *s, struct MHD_Connection *conn, const char *method,
                                     const char *url)
{
    static const char scheduled[] = "{\"status\":\"refresh scheduled\"}\n";
    struct MHD_Response *r;

    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST") != MHD_YES) {
            MHD_destroy_response(r);
            r = NULL;
        }
        return server_reply(s, conn, ROUTE_REFRESH, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    }
    if (s->cfg.refresh_token && !bearer_ok(conn, s->cfg.refresh_token)) {
        r = server_text_response("unauthorized\n", 13, CT_TEXT);
        if (r &&
            MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer") != MHD_YES) {
            MHD_destroy_response(r);
            r = NULL;
        }
        return server_reply(s, conn, ROUTE_REFRESH, method, url, MHD_HTTP_UNAUTHORIZED, r);
    }
    server_refresh_trigger(s);
    return server_reply(s, conn, ROUTE_REFRESH, method, url, MHD_HTTP_ACCEPTED,
                        server_text_response(scheduled, sizeof(scheduled) - 1, CT_JSON));
}

typedef enum MHD_Result (*reply_fn)(server *s, struct MHD_Connection *conn, const char *method,
                                    const char *url);

/* These read the sources' settings and the refresh state, which SIGHUP
 * replaces under the write lock (server/lifecycle.c). */
static enum MHD_Result locked_reply(server *s, struct MHD_Connection *conn, const char *method,
                                    const char *url, reply_fn fn)
{
    enum MHD_Result ret;

    pthread_rwlock_rdlock(&s->cfg_lock);
    ret = fn(s, conn, method, url);
    pthread_rwlock_unlock(&s->cfg_lock);
    return ret;
}

enum MHD_Result server_status_access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **req_cls)
{
    server *s = cls;
    server_route route = match_status_route(url);
    struct MHD_Response *r;

    (void)version;
    (void)upload_data;
    server_conn_request_begin(s, conn); /* headers are in: no slow-header deadline now */
    if (server_request_defer(conn, req_cls, upload_data_size))
        return MHD_YES; /* answered on the next call: keeps the connection */
    if (route == ROUTE_STATUS_OTHER)
        return server_reply(s, conn, route, method, url, MHD_HTTP_NOT_FOUND,
                            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
    if (route == ROUTE_REFRESH)
        return locked_reply(s, conn, method, url, reply_refresh);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
            MHD_destroy_response(r);
            r = NULL;
        }
        return server_reply(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    }
    switch (route) {
    case ROUTE_LIVENESS:
        return reply_text(s, conn, route, method, url, MHD_HTTP_OK, "ok\n");
    case ROUTE_READINESS:
        if (server_stopping(s)) /* first, so the pod leaves the endpoints before we stop */
            return reply_text(s, conn, route, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "shutting down\n");
        if (graph_snapshot_generation() == 0)
            return reply_text(s, conn, route, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "no graph loaded yet\n");
        return reply_text(s, conn, route, method, url, MHD_HTTP_OK, "ok\n");
    case ROUTE_STATUS:
        return locked_reply(s, conn, method, url, reply_status);
    default:
        return locked_reply(s, conn, method, url, reply_metrics);
    }
}
