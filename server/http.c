/* server/http.c - the graph listener: P/v1/graph, P/graph and the web page.
 *
 * A graph request is checked in the order the reference checks it (spec §1.3):
 * route and method, CORS preflight, Accept, channel presence, parameter
 * syntax. Parameter errors are reported before "no graph loaded yet", so a
 * client error stays a client error during startup (the reference's quirk Q5
 * is knowingly not copied). The answer is the current snapshot filtered by
 * policy_filter and written as Cincinnati JSON, taken from the response cache
 * when this generation already answered the same (channel, arch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "policy/policy.h"
#include "server/server_internal.h"

#define CT_JSON "application/json"
#define CT_CINCINNATI "application/vnd.redhat.cincinnati.v1+json"
#define CORS_VARY "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
#define LOG_URL_MAX 256 /* access log lines show at most this much of a URL */

/* ---------------------------------------------------------------------------
 * Responses shared by both listeners */

struct MHD_Response *server_text_response(const char *text, size_t len, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);

    if (r && type && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

/* Copies s into out for a logfmt value: bytes that could forge a field or a
 * line (space, quote, backslash, control, non-ASCII) become %XX. */
static void log_safe(char *out, size_t size, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t pos = 0;

    for (; *s && pos + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '%') {
            out[pos++] = '%';
            out[pos++] = hex[c >> 4];
            out[pos++] = hex[c & 15];
        } else {
            out[pos++] = (char)c;
        }
    }
    out[pos] = '\0';
}

enum MHD_Result server_reply(server *s, struct MHD_Connection *conn, server_route route,
                             const char *method, const char *url, unsigned code,
                             struct MHD_Response *resp)
{
    enum MHD_Result ret;
    char safe_url[LOG_URL_MAX], safe_method[32];

    if (!resp)
        return MHD_NO; /* out of memory: MHD drops the connection */
    ret = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    server_metrics_count(&s->metrics, route, code);
    log_safe(safe_url, sizeof(safe_url), url);
    log_safe(safe_method, sizeof(safe_method), method);
    cincy_log(CINCY_LOG_DEBUG, "http", "request\tmethod=%s path=%s code=%u", safe_method, safe_url,
              code);
    return ret;
}

/* ---------------------------------------------------------------------------
 * Graph-port helpers */

/* Every graph-port response varies on the CORS request headers and echoes an
 * Origin (spec §1.7: any origin is allowed, the value is never "*"). */
static enum MHD_Result graph_reply(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, unsigned code,
                                   struct MHD_Response *resp)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");

    if (resp && (MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, CORS_VARY) != MHD_YES ||
                 (origin && MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin) !=
                                MHD_YES))) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return server_reply(s, conn, route, method, url, code, resp);
}

static enum MHD_Result reply_empty(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, unsigned code,
                                   const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

    if (r && allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return graph_reply(s, conn, route, method, url, code, r);
}

/* The reference's error shape, spec §1.6: {"kind": ..., "value": ...}. */
static enum MHD_Result reply_error(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, unsigned code,
                                   const char *kind, const char *value)
{
    json_t *obj = json_pack("{s:s, s:s}", "kind", kind, "value", value);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    struct MHD_Response *r = text ? server_text_response(text, strlen(text), CT_JSON) : NULL;

    free(text);
    json_decref(obj);
    return graph_reply(s, conn, route, method, url, code, r);
}

/* Spec §1.4: the whole header compared byte for byte; NULL means 406. */
static const char *negotiate_type(const char *accept)
{
    if (!accept)
        return CT_CINCINNATI;
    if (!strcmp(accept, CT_CINCINNATI))
        return CT_CINCINNATI;
    if (!strcmp(accept, CT_JSON) || !strcmp(accept, "*/*") || !strcmp(accept, "*") ||
        !strcmp(accept, "application/*"))
        return CT_JSON;
    return NULL;
}

typedef struct graph_params {
    const char *channel; /* last value given, "" for a bare "channel" key */
    const char *arch;
    int has_channel;
} graph_params;

/* Query keys map to their last value, as the reference's map decode does (Q20). */
static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    graph_params *p = cls;

    (void)kind;
    if (!strcmp(key, "channel")) {
        p->channel = value ? value : "";
        p->has_channel = 1;
    } else if (!strcmp(key, "arch")) {
        p->arch = value ? value : "";
    }
    return MHD_YES;
}

static server_route match_graph_route(const server *s, const char *url)
{
    const char *prefix = s->cfg.path_prefix ? s->cfg.path_prefix : "";
    size_t n = strlen(prefix);

    if (strncmp(url, prefix, n) != 0)
        return ROUTE_GRAPH_OTHER;
    if (!strcmp(url + n, "/v1/graph"))
        return ROUTE_GRAPH_V1;
    if (!strcmp(url + n, "/graph"))
        return ROUTE_GRAPH_LEGACY;
    return ROUTE_GRAPH_OTHER;
}

/* Spec §1.7: OPTIONS with Origin and Access-Control-Request-Method. The error
 * texts are actix-cors's; no request header is on the allow list. */
static enum MHD_Result reply_preflight(server *s, struct MHD_Connection *conn, server_route route,
                                       const char *method, const char *url, const char *req_method)
{
    struct MHD_Response *r;
    const char *msg = NULL;

    if (strcmp(req_method, "GET") != 0 && strcmp(req_method, "HEAD") != 0)
        msg = "Requested method is not allowed.";
    else if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Headers"))
        msg = "One or more request headers are not allowed.";
    if (msg)
        return graph_reply(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST,
                           server_text_response(msg, strlen(msg), "text/plain; charset=utf-8"));
    r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (r && MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD") != MHD_YES) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return graph_reply(s, conn, route, method, url, MHD_HTTP_OK, r);
}

/* ---------------------------------------------------------------------------
 * The graph */

/* Filters and serialises the current snapshot for (channel, arch). Returns 0
 * with a new body, CINCY_ENOTFOUND when no graph is published yet, or
 * CINCY_ERROR (logged). */
static int build_body(server_body **out, const char *channel, const char *arch)
{
    graph_snapshot *full = graph_snapshot_current();
    graph_snapshot *view = NULL;
    char *json = NULL, msg[800];
    size_t len = 0;
    cincy_error err = {0};
    int error;

    if (!full)
        return CINCY_ENOTFOUND;
    if ((error = policy_filter(&view, full, channel, arch, &err)) < 0) {
        cincy_log(CINCY_LOG_ERROR, "http", "filtering the graph failed: %s",
                  cincy_error_format(&err, msg, sizeof(msg)));
        goto cleanup;
    }
    if ((error = graph_snapshot_to_json(&json, &len, view, GRAPH_JSON_V1)) < 0) {
        cincy_log(CINCY_LOG_ERROR, "http", "writing graph json failed");
        goto cleanup;
    }
    if (!(*out = server_body_new(json, len)))
        error = CINCY_ERROR;
cleanup:
    free(json);
    graph_snapshot_unref(view);
    graph_snapshot_unref(full);
    return error < 0 ? CINCY_ERROR : 0;
}

static enum MHD_Result reply_graph(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, const char *type,
                                   const graph_params *p)
{
    /* Generation first, snapshot second: the bytes are then at least as new
     * as the key they are cached under, never older. */
    uint64_t gen = graph_snapshot_generation();
    server_body *body = server_cache_get(&s->cache, gen, p->channel, p->arch);
    struct MHD_Response *r;
    int error;

    if (!body) {
        error = build_body(&body, p->channel, p->arch);
        if (error == CINCY_ENOTFOUND)
            return reply_error(s, conn, route, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
                               "service_unavailable", "no graph loaded yet");
        if (error < 0)
            return reply_error(s, conn, route, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               "failed_plugin_execution", "failed to build the graph");
        server_cache_put(&s->cache, gen, p->channel, p->arch, body);
    }
    /* The response owns our reference; MHD calls the release when sent. */
    r = MHD_create_response_from_buffer_with_free_callback(body->len, body->data,
                                                           server_body_release_data);
    if (!r) {
        server_body_unref(body);
        return MHD_NO;
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return graph_reply(s, conn, route, method, url, MHD_HTTP_OK, r);
}

static enum MHD_Result handle_graph(server *s, struct MHD_Connection *conn, server_route route,
                                    const char *method, const char *url)
{
    graph_params p = {NULL, "amd64", 0};
    const char *type, *acrm;
    char value[512];

    acrm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Access-Control-Request-Method");
    if (!strcmp(method, MHD_HTTP_METHOD_OPTIONS) && acrm &&
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"))
        return reply_preflight(s, conn, route, method, url, acrm);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_empty(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, "GET");
    type = negotiate_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"));
    if (!type)
        return reply_error(s, conn, route, method, url, MHD_HTTP_NOT_ACCEPTABLE,
                           "invalid_content_type", "invalid Content-Type requested");
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_param, &p);
    if (!p.has_channel)
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "missing_params",
                           "mandatory client parameters missing: channel");
    if (!policy_channel_valid(p.channel)) {
        snprintf(value, sizeof(value),
                 "invalid client parameters: channel '%.200s' does not match regex "
                 "'^[0-9a-z\\-\\.]+$'",
                 p.channel);
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "invalid_params",
                           value);
    }
    if (!policy_arch_valid(p.arch)) {
        snprintf(value, sizeof(value),
                 "invalid client parameters: arch '%.200s' does not match regex '^[0-9a-z]+$'",
                 p.arch);
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "invalid_params",
                           value);
    }
    return reply_graph(s, conn, route, method, url, type, &p);
}

/* ---------------------------------------------------------------------------
 * The web page */

static enum MHD_Result handle_web(server *s, struct MHD_Connection *conn, const char *method,
                                  const char *url)
{
    struct MHD_Response *r;
    const char *type;
    uint64_t size;
    int fd;

    if (!s->web_ok || server_web_open(s, url, &fd, &size, &type) < 0)
        return reply_empty(s, conn, ROUTE_GRAPH_OTHER, method, url, MHD_HTTP_NOT_FOUND, NULL);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        close(fd);
        return reply_empty(s, conn, ROUTE_WEB, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "GET, HEAD");
    }
    r = MHD_create_response_from_fd(size, fd); /* owns fd from here, but not on failure */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES) {
        MHD_destroy_response(r);
        r = NULL;
    }
    return graph_reply(s, conn, ROUTE_WEB, method, url, MHD_HTTP_OK, r);
}

/* Answers on the first call: nothing here reads a request body, and MHD
 * closes the connection after a response sent before an unread body. */
enum MHD_Result server_graph_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls)
{
    server *s = cls;
    server_route route = match_graph_route(s, url);

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    if (route == ROUTE_GRAPH_OTHER)
        return handle_web(s, conn, method, url);
    return handle_graph(s, conn, route, method, url);
}
