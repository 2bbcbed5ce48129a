/* server/http.c - the graph listener: P/v1/graph, P/graph, P/v1/openapi,
 * P/openapi, P/graph-data, P/v1/path, P/v1/plan, P/v1/channels, P/v1/blocked
 * and the web page.
 *
 * The reference wraps its whole application in a CORS layer, so a preflight
 * is answered before routing and every other answer carries the CORS Vary
 * header (spec §1.7). A graph request is then checked in the reference's order
 * (spec §1.3): method, Accept, channel presence, parameter syntax. Parameter
 * errors are reported before "no graph loaded yet", so a client error stays a
 * client error during startup (quirk Q5 is knowingly not copied).
 *
 * A good graph request is answered from the response cache (server/cache.c):
 * the body of each (generation, channel, arch) is rendered once, with its ETag
 * and gzip variant, and written zero-copy from the refcounted entry. The
 * answer is then only a choice: 304 when If-None-Match names the ETag, the
 * gzip bytes when Accept-Encoding allows them, the identity bytes otherwise.
 * docs/protocol.md lists every point against the reference.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "policy/policy.h"
#include "server/server_internal.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define CORS_VARY "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
#define GRAPH_VARY CORS_VARY ", Accept-Encoding" /* graph bodies also vary by encoding */
/* Clients may cache a graph but must revalidate it: the ETag makes that a 304. */
#define GRAPH_CACHE_CONTROL "no-cache"
#define CHANNEL_REGEX "^[0-9a-z\\-\\.]+$"
#define ARCH_REGEX "^[0-9a-z]+$"
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

/* Adds a header to r (none when value is NULL). On failure r is destroyed and
 * NULL returned, so calls chain and the final NULL check covers them all. */
static struct MHD_Response *with_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (r && value && MHD_add_response_header(r, name, value) != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

static const char *request_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* Every graph-port answer varies on the CORS request headers and echoes an
 * Origin (spec §1.7: any origin is allowed, the value is never "*"). vary is
 * CORS_VARY or a longer list that starts with it. */
static enum MHD_Result graph_reply(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, unsigned code,
                                   const char *vary, struct MHD_Response *r)
{
    r = with_header(r, MHD_HTTP_HEADER_VARY, vary);
    r = with_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, request_header(conn, "Origin"));
    return server_reply(s, conn, route, method, url, code, r);
}

static enum MHD_Result reply_empty(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, unsigned code,
                                   const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

    r = with_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    return graph_reply(s, conn, route, method, url, code, CORS_VARY, r);
}

/* The reference's error shape, spec §1.6: {"kind": ..., "value": ...}. value
 * is UTF-8 of value_len bytes and may hold NULs (a decoded "%00"). */
static enum MHD_Result reply_error_n(server *s, struct MHD_Connection *conn, server_route route,
                                     const char *method, const char *url, unsigned code,
                                     const char *kind, const char *value, size_t value_len)
{
    json_t *obj = json_pack("{s:s, s:s#}", "kind", kind, "value", value, value_len);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    struct MHD_Response *r = text ? server_text_response(text, strlen(text), CT_JSON) : NULL;

    free(text);
    json_decref(obj);
    return graph_reply(s, conn, route, method, url, code, CORS_VARY, r);
}

static enum MHD_Result reply_error(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url, unsigned code,
                                   const char *kind, const char *value)
{
    return reply_error_n(s, conn, route, method, url, code, kind, value, strlen(value));
}

static server_route match_graph_route(const server *s, const char *url)
{
    const char *prefix = s->cfg.path_prefix ? s->cfg.path_prefix : "";
    size_t n = strlen(prefix);

    if (strncmp(url, prefix, n) != 0)
        return ROUTE_GRAPH_OTHER;
    url += n;
    if (!strcmp(url, "/v1/graph"))
        return ROUTE_GRAPH_V1;
    if (!strcmp(url, "/graph"))
        return ROUTE_GRAPH_LEGACY;
    if (!strcmp(url, "/v1/openapi"))
        return ROUTE_OPENAPI_V1;
    if (!strcmp(url, "/openapi"))
        return ROUTE_OPENAPI;
    if (!strcmp(url, "/graph-data"))
        return ROUTE_GRAPH_DATA;
    if (!strcmp(url, "/v1/path"))
        return ROUTE_PATH;
    if (!strcmp(url, "/v1/plan"))
        return ROUTE_PLAN;
    if (!strcmp(url, "/v1/channels"))
        return ROUTE_CHANNELS;
    if (!strcmp(url, "/v1/blocked"))
        return ROUTE_BLOCKED;
    return ROUTE_GRAPH_OTHER;
}

/* ---------------------------------------------------------------------------
 * CORS preflight (spec §1.7, actix-cors with any origin, methods GET and HEAD
 * and no request headers allowed). The texts are actix-cors's. */

/* 1 when [s, s+len) is an HTTP token (RFC 9110 tchar+). */
static int is_token(const char *s, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

/* 1 when every comma-separated entry of an Access-Control-Request-Headers
 * value is a header name; actix-cors calls anything else a bad value. */
static int header_list_valid(const char *v)
{
    while (1) {
        const char *end = strchr(v, ',');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        if (!is_token(v, len))
            return 0;
        if (!end)
            return 1;
        v = end + 1;
    }
}

static enum MHD_Result reply_preflight(server *s, struct MHD_Connection *conn, server_route route,
                                       const char *method, const char *url, const char *req_method)
{
    const char *req_headers = request_header(conn, "Access-Control-Request-Headers");
    const char *msg = NULL;
    struct MHD_Response *r;

    if (!is_token(req_method, strlen(req_method)))
        msg = "Request header `Access-Control-Request-Method` has an invalid value.";
    else if (strcmp(req_method, "GET") != 0 && strcmp(req_method, "HEAD") != 0)
        msg = "Requested method is not allowed.";
    else if (req_headers && !header_list_valid(req_headers))
        msg = "Request header `Access-Control-Request-Headers` has an invalid value.";
    else if (req_headers)
        msg = "One or more request headers are not allowed.";
    if (msg) {
        /* A rejection echoes no Origin: actix-cors answers it with the bare
         * error, and a browser fails the preflight on the 400 either way. */
        r = server_text_response(msg, strlen(msg), CT_TEXT);
        r = with_header(r, MHD_HTTP_HEADER_VARY, CORS_VARY);
        return server_reply(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, r);
    }
    r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    r = with_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD");
    return graph_reply(s, conn, route, method, url, MHD_HTTP_OK, CORS_VARY, r);
}

/* ---------------------------------------------------------------------------
 * Graph request parameters */

typedef struct graph_params {
    const char *channel; /* last value given (MHD's memory); "" for a bare key */
    size_t channel_len;  /* decoded bytes; may hold a NUL from "%00" */
    const char *arch;
    size_t arch_len;
    int has_channel;
} graph_params;

/* Query keys map to their last value, as the reference's map decode does
 * (Q20). MHD has already percent-decoded keys and values ('+' as space). */
static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_len, const char *value, size_t value_len)
{
    graph_params *p = cls;

    (void)kind;
    if (key_len == 7 && !memcmp(key, "channel", 7)) {
        p->channel = value ? value : "";
        p->channel_len = value ? value_len : 0;
        p->has_channel = 1;
    } else if (key_len == 4 && !memcmp(key, "arch", 4)) {
        p->arch = value ? value : "";
        p->arch_len = value ? value_len : 0;
    }
    return MHD_YES;
}

/* The reference's invalid_params text, "invalid client parameters: name
 * 'value' <why>"; value is decoded lossily to UTF-8 first, as the reference's
 * query parsing does. */
static enum MHD_Result reply_bad_value(server *s, struct MHD_Connection *conn, server_route route,
                                       const char *method, const char *url, const char *name,
                                       const char *value, size_t value_len, const char *why)
{
    static const char head[] = "invalid client parameters: ";
    size_t vlen = 0, len;
    char *v = server_utf8_lossy(value, value_len, &vlen), *text = NULL;
    enum MHD_Result ret = MHD_NO;

    len = strlen(head) + strlen(name) + vlen + strlen(why) + 32;
    if (v && (text = malloc(len)) != NULL) {
        size_t pos = (size_t)snprintf(text, len, "%s%s '", head, name);
        memcpy(text + pos, v, vlen); /* may hold NULs: no printf past this point */
        pos += vlen;
        pos += (size_t)snprintf(text + pos, len - pos, "' %s", why);
        ret = reply_error_n(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "invalid_params",
                            text, pos);
    }
    free(text);
    free(v);
    return ret;
}

/* The reference's text for name='value' against regex. */
static enum MHD_Result reply_invalid_param(server *s, struct MHD_Connection *conn,
                                           server_route route, const char *method, const char *url,
                                           const char *name, const char *value, size_t value_len,
                                           const char *regex)
{
    char why[128];

    snprintf(why, sizeof(why), "does not match regex '%s'", regex);
    return reply_bad_value(s, conn, route, method, url, name, value, value_len, why);
}

/* 1 when the decoded value is a C string the policy check may see whole. */
static int no_nul(const char *v, size_t len)
{
    return memchr(v, '\0', len) == NULL;
}

/* 1 when the decoded value is also valid UTF-8. The path answer quotes
 * from and to back, and JSON cannot hold other bytes: without this check a
 * stray %FF made the answer fail to render (a 500; found by fuzz_path). */
static int utf8_text(const char *v, size_t len)
{
    size_t n = 0;
    char *copy = no_nul(v, len) ? server_utf8_lossy(v, len, &n) : NULL;
    int same = copy && n == len && memcmp(copy, v, len) == 0;

    free(copy);
    return same;
}

/* ---------------------------------------------------------------------------
 * The graph */

/* server_render_fn: filters and serialises the current snapshot. Returns 0
 * with a new body, CINCY_ENOTFOUND when no graph is published yet, or
 * CINCY_ERROR (logged). */
/* A relay without graph-data of its own knows only the channels it fetched:
 * its nodes' channel lists name others too, but a query for one of those
 * would see only the part the fetched channels happened to include. Graph
 * and path queries for such a channel see an empty view. */
static int relays_unknown_channel(const server *s, const char *channel)
{
    const server_config *cfg = &s->cfg;

    if (!cfg->upstream_url || cfg->graph_data_kind != SERVER_GRAPH_DATA_DIRECTORY ||
        cfg->graph_data_dir)
        return 0;
    for (size_t i = 0; i < cfg->upstream_channels.n; i++)
        if (!strcmp(cfg->upstream_channels.items[i], channel))
            return 0;
    return 1;
}

static int render_graph(server_body **out, const char *channel, const char *arch, void *ctx)
{
    const server *s = ctx;
    graph_snapshot *full = graph_snapshot_current();
    graph_snapshot *view = NULL;
    char *json = NULL, msg[800];
    size_t len = 0;
    cincy_error err = {0};
    int error;

    if (!full)
        return CINCY_ENOTFOUND;
    if (relays_unknown_channel(s, channel))
        arch = ""; /* no node has an empty arch: the empty graph, in the usual shape */
    if ((error = policy_filter(&view, full, channel, arch, &err)) < 0) {
        cincy_log(CINCY_LOG_ERROR, "http", "filtering the graph failed: %s",
                  cincy_error_format(&err, msg, sizeof(msg)));
        goto cleanup;
    }
    if ((error = graph_snapshot_to_json(&json, &len, view, GRAPH_JSON_V1)) < 0) {
        cincy_log(CINCY_LOG_ERROR, "http", "writing graph json failed");
        goto cleanup;
    }
    if (!(*out = server_body_new(json, len, 1)))
        error = CINCY_ERROR;
cleanup:
    free(json);
    graph_snapshot_unref(view);
    graph_snapshot_unref(full);
    return error < 0 ? CINCY_ERROR : 0;
}

/* 304 when the client holds these bytes already, else the stored bytes (the
 * gzip variant when accepted), written zero-copy: the response takes over our
 * reference to the body and MHD drops it once the bytes are sent. */
static enum MHD_Result reply_body(server *s, struct MHD_Connection *conn, server_route route,
                                  const char *method, const char *url, const char *type,
                                  const char *cache_control, server_body *body)
{
    int gz = body->gz && server_accepts_gzip(request_header(conn, "Accept-Encoding"));
    const char *etag = gz ? body->etag_gz : body->etag;
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (server_etag_matches(request_header(conn, "If-None-Match"), etag)) {
        /* No Content-Length of ours: libmicrohttpd writes its own for a
         * 304 whatever we set, and two of them make browsers refuse the
         * answer (Chromium: ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH). */
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        r = with_header(r, MHD_HTTP_HEADER_ETAG, etag); /* MHD copies: body may go after */
        r = with_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
        ret = graph_reply(s, conn, route, method, url, MHD_HTTP_NOT_MODIFIED, GRAPH_VARY, r);
        server_body_unref(body);
        return ret;
    }
    r = MHD_create_response_from_buffer_with_free_callback_cls(
        gz ? body->gz_len : body->len, gz ? (void *)body->gz : (void *)body->data,
        server_body_release, body);
    if (!r) {
        server_body_unref(body);
        return MHD_NO;
    }
    /* From here r owns the reference; if a header fails, destroying r drops
     * it, and with_header touches nothing once r is NULL. */
    r = with_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    r = with_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, gz ? "gzip" : NULL);
    r = with_header(r, MHD_HTTP_HEADER_ETAG, etag);
    r = with_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    return graph_reply(s, conn, route, method, url, MHD_HTTP_OK, GRAPH_VARY, r);
}

/* The body cached under (key, arch) for the current graph, rendered by render
 * on a miss; 503 before the first graph. what names the body in a 500. */
static enum MHD_Result reply_cached(server *s, struct MHD_Connection *conn, server_route route,
                                    const char *method, const char *url, const char *type,
                                    const char *key, const char *arch, server_render_fn render,
                                    const char *what)
{
    /* Generation first, snapshot second (in render): the bytes are then at
     * least as new as the key they are cached under, never older. */
    uint64_t gen = graph_snapshot_generation();
    server_body *body = NULL;
    int error = gen ? server_cache_fetch(&body, &s->cache, gen, key, arch, render, s)
                    : CINCY_ENOTFOUND;
    char msg[64];

    if (error == CINCY_ENOTFOUND)
        return reply_error(s, conn, route, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "service_unavailable", "no graph loaded yet");
    if (error < 0) {
        snprintf(msg, sizeof(msg), "failed to build the %s", what);
        return reply_error(s, conn, route, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "failed_plugin_execution", msg);
    }
    return reply_body(s, conn, route, method, url, type, GRAPH_CACHE_CONTROL, body);
}

static enum MHD_Result handle_graph(server *s, struct MHD_Connection *conn, server_route route,
                                    const char *method, const char *url)
{
    graph_params p = {NULL, 0, "amd64", 5, 0};
    const char *type;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_empty(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, "GET");
    type = server_negotiate_type(request_header(conn, "Accept"));
    if (!type)
        return reply_error(s, conn, route, method, url, MHD_HTTP_NOT_ACCEPTABLE,
                           "invalid_content_type", "invalid Content-Type requested");
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_param, &p);
    if (!p.has_channel)
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "missing_params",
                           "mandatory client parameters missing: channel");
    if (!no_nul(p.channel, p.channel_len) || !policy_channel_valid(p.channel))
        return reply_invalid_param(s, conn, route, method, url, "channel", p.channel, p.channel_len,
                                   CHANNEL_REGEX);
    if (!no_nul(p.arch, p.arch_len) || !policy_arch_valid(p.arch))
        return reply_invalid_param(s, conn, route, method, url, "arch", p.arch, p.arch_len,
                                   ARCH_REGEX);
    return reply_cached(s, conn, route, method, url, type, p.channel, p.arch, render_graph,
                        "graph");
}

/* ---------------------------------------------------------------------------
 * Upgrade paths (docs/path.md): P/v1/path answers policy_path_json for the
 * current snapshot, P/v1/plan the same search with policy_plan_json's
 * estimate. channel and arch are checked exactly as for the graph, so the
 * routes agree on what a valid channel is; the search itself reports bad
 * versions and refusals in its own JSON, with a status from the reason. */

typedef struct query_value {
    const char *v; /* MHD's memory, NUL-terminated; NULL when absent */
    size_t len;    /* decoded bytes; may hold a NUL from "%00" */
} query_value;

typedef struct path_params {
    query_value channel, arch, from, to, risks, mode;
    query_value control_plane, workers, max_unavailable; /* P/v1/plan only */
} path_params;

static const struct {
    const char *key;
    size_t offset; /* of the query_value in path_params */
} path_keys[] = {
    {"channel", offsetof(path_params, channel)},
    {"arch", offsetof(path_params, arch)},
    {"from", offsetof(path_params, from)},
    {"to", offsetof(path_params, to)},
    {"risks", offsetof(path_params, risks)},
    {"mode", offsetof(path_params, mode)},
    {"control_plane", offsetof(path_params, control_plane)},
    {"workers", offsetof(path_params, workers)},
    {"max_unavailable", offsetof(path_params, max_unavailable)},
};

/* Last value wins, as for the graph (Q20). */
static enum MHD_Result collect_path_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                          size_t key_len, const char *value, size_t value_len)
{
    (void)kind;
    for (size_t i = 0; i < sizeof(path_keys) / sizeof(path_keys[0]); i++) {
        if (strlen(path_keys[i].key) == key_len && !memcmp(key, path_keys[i].key, key_len)) {
            query_value *qv = (query_value *)((char *)cls + path_keys[i].offset);
            qv->v = value ? value : "";
            qv->len = value ? value_len : 0;
        }
    }
    return MHD_YES;
}

/* 400 for a refusal of the query, 404 when a version or the way is missing. */
static unsigned path_status(policy_path_reason reason)
{
    switch (reason) {
    case POLICY_PATH_FOUND:
        return MHD_HTTP_OK;
    case POLICY_PATH_FROM_UNKNOWN:
    case POLICY_PATH_TO_UNKNOWN:
    case POLICY_PATH_NO_PATH:
        return MHD_HTTP_NOT_FOUND;
    default:
        return MHD_HTTP_BAD_REQUEST;
    }
}

/* Sets q from the risks and mode values; NULL, or the name of the bad one. */
static const char *path_options(policy_path_query *q, const path_params *p)
{
    q->accept_risks = 0;
    q->mode = POLICY_PATH_STANDARD;
    if (p->risks.v && !strcmp(p->risks.v, "accept") && p->risks.len == 6)
        q->accept_risks = 1;
    else if (p->risks.v && (strcmp(p->risks.v, "avoid") || p->risks.len != 5))
        return "risks";
    if (!p->mode.v || (!strcmp(p->mode.v, "standard") && p->mode.len == 8))
        return NULL;
    if (!strcmp(p->mode.v, "eus") && p->mode.len == 3)
        q->mode = POLICY_PATH_EUS;
    else if (!strcmp(p->mode.v, "ibu") && p->mode.len == 3)
        q->mode = POLICY_PATH_IBU;
    else
        return "mode";
    return NULL;
}

/* *out from a decimal value (absent: 0); -1 when it is not one. Values past
 * 1000000 are refused here: policy_plan_check names its own, lower limits. */
static int plan_number(unsigned *out, const query_value *v)
{
    unsigned long n = 0;

    *out = 0;
    if (!v->v)
        return 0;
    if (!v->len || v->len > 7 || strlen(v->v) != v->len)
        return -1;
    for (size_t i = 0; i < v->len; i++) {
        if (v->v[i] < '0' || v->v[i] > '9')
            return -1;
        n = n * 10 + (unsigned long)(v->v[i] - '0');
    }
    if (n > 1000000)
        return -1;
    *out = (unsigned)n;
    return 0;
}

/* The answer text for a search result: the plan for a found path on
 * P/v1/plan, the path JSON otherwise (a refusal reads the same on both). */
static char *path_answer(const policy_path *path, const policy_plan_input *plan)
{
    if (plan && path->reason == POLICY_PATH_FOUND)
        return policy_plan_json(path, plan);
    return policy_path_json(path);
}

static enum MHD_Result reply_path(server *s, struct MHD_Connection *conn, server_route route,
                                  const char *method, const char *url, const policy_path_query *q,
                                  const policy_plan_input *plan)
{
    uint64_t gen = graph_snapshot_generation(); /* first: see server_view_get */
    graph_snapshot *full = graph_snapshot_current(), *view = NULL;
    policy_path *path = NULL;
    cincy_error err = {0};
    char *json = NULL, msg[800];
    struct MHD_Response *r;
    unsigned code;

    if (!full)
        return reply_error(s, conn, route, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "service_unavailable", "no graph loaded yet");
    if (server_view_get(&view, &s->views, full, gen, q->channel,
                        relays_unknown_channel(s, q->channel) ? "" : q->arch, &err) < 0 ||
        policy_path_find_in_view(&path, view, q, &err) == CINCY_ERROR || !path ||
        !(json = path_answer(path, plan))) {
        cincy_log(CINCY_LOG_ERROR, "http", "path search failed: %s",
                  cincy_error_format(&err, msg, sizeof(msg)));
        graph_snapshot_unref(view);
        graph_snapshot_unref(full);
        policy_path_free(path);
        return reply_error(s, conn, route, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "failed_plugin_execution", "failed to search the path");
    }
    graph_snapshot_unref(view);
    graph_snapshot_unref(full);
    code = path_status(path->reason);
    policy_path_free(path);
    r = server_text_response(json, strlen(json), CT_JSON);
    free(json);
    return graph_reply(s, conn, route, method, url, code, CORS_VARY, r);
}

static enum MHD_Result handle_path(server *s, struct MHD_Connection *conn, server_route route,
                                   const char *method, const char *url)
{
    path_params p = {.arch = {"amd64", 5}};
    policy_path_query q = {0};
    policy_plan_input plan = {0};
    cincy_error err = {0};
    const char *bad;
    char msg[800];

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_empty(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, "GET");
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_path_param, &p);
    if (!p.channel.v)
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "missing_params",
                           "mandatory client parameters missing: channel");
    if (!no_nul(p.channel.v, p.channel.len) || !policy_channel_valid(p.channel.v))
        return reply_invalid_param(s, conn, route, method, url, "channel", p.channel.v,
                                   p.channel.len, CHANNEL_REGEX);
    if (!no_nul(p.arch.v, p.arch.len) || !policy_arch_valid(p.arch.v))
        return reply_invalid_param(s, conn, route, method, url, "arch", p.arch.v, p.arch.len,
                                   ARCH_REGEX);
    if ((bad = path_options(&q, &p)) != NULL) {
        const query_value *v = !strcmp(bad, "risks") ? &p.risks : &p.mode;
        return reply_bad_value(s, conn, route, method, url, bad, v->v, v->len,
                               !strcmp(bad, "risks") ? "is not avoid or accept"
                                                     : "is not standard, eus or ibu");
    }
    if (p.from.v && !utf8_text(p.from.v, p.from.len))
        return reply_bad_value(s, conn, route, method, url, "from", p.from.v, p.from.len,
                               "is not a version");
    if (p.to.v && !utf8_text(p.to.v, p.to.len))
        return reply_bad_value(s, conn, route, method, url, "to", p.to.v, p.to.len,
                               "is not a version, 4.y or latest");
    q.channel = p.channel.v;
    q.arch = p.arch.v;
    q.from = p.from.v;
    q.to = p.to.v;
    if (route != ROUTE_PLAN)
        return reply_path(s, conn, route, method, url, &q, NULL);
    if (plan_number(&plan.control_plane, &p.control_plane) < 0)
        return reply_bad_value(s, conn, route, method, url, "control_plane", p.control_plane.v,
                               p.control_plane.len, "is not a non-negative integer");
    if (plan_number(&plan.workers, &p.workers) < 0)
        return reply_bad_value(s, conn, route, method, url, "workers", p.workers.v, p.workers.len,
                               "is not a non-negative integer");
    if (plan_number(&plan.max_unavailable, &p.max_unavailable) < 0)
        return reply_bad_value(s, conn, route, method, url, "max_unavailable", p.max_unavailable.v,
                               p.max_unavailable.len, "is not a non-negative integer");
    if (policy_plan_check(&plan, &err) < 0)
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "invalid_params",
                           cincy_error_format(&err, msg, sizeof(msg)));
    return reply_path(s, conn, route, method, url, &q, &plan);
}

/* ---------------------------------------------------------------------------
 * The OpenAPI document: rendered at start, served from memory, no Accept
 * check, and text/plain like the reference (quirk Q4). */

static enum MHD_Result handle_openapi(server *s, struct MHD_Connection *conn, server_route route,
                                      const char *method, const char *url)
{
    struct MHD_Response *r;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_empty(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, "GET");
    r = MHD_create_response_from_buffer(s->openapi_len, s->openapi, MHD_RESPMEM_PERSISTENT);
    r = with_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_TEXT);
    return graph_reply(s, conn, route, method, url, MHD_HTTP_OK, CORS_VARY, r);
}

/* ---------------------------------------------------------------------------
 * The graph-data tarball (spec §1.8.2): built at load, served from memory with
 * its ETag. Never re-encoded, so Vary stays the CORS list alone. */

static enum MHD_Result handle_graph_data(server *s, struct MHD_Connection *conn, const char *method,
                                         const char *url)
{
    const server_route route = ROUTE_GRAPH_DATA;
    server_body *tar;
    struct MHD_Response *r;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_empty(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, "GET");
    if (!(tar = server_graph_data_get(s)))
        return reply_error(s, conn, route, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
                           "file_open_err", "graph-data tarball not available yet");
    if (server_etag_matches(request_header(conn, "If-None-Match"), tar->etag)) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT); /* see reply_body */
        r = with_header(r, MHD_HTTP_HEADER_ETAG, tar->etag); /* MHD copies */
        server_body_unref(tar);
        return graph_reply(s, conn, route, method, url, MHD_HTTP_NOT_MODIFIED, CORS_VARY, r);
    }
    r = MHD_create_response_from_buffer_with_free_callback_cls(tar->len, tar->data,
                                                               server_body_release, tar);
    if (!r) {
        server_body_unref(tar);
        return MHD_NO;
    }
    /* r owns the reference from here; MHD drops it once the bytes are sent. */
    r = with_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/gzip");
    r = with_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
                    "attachment; filename=\"graph-data.tar.gz\"");
    r = with_header(r, MHD_HTTP_HEADER_ETAG, tar->etag);
    return graph_reply(s, conn, route, method, url, MHD_HTTP_OK, CORS_VARY, r);
}

/* ---------------------------------------------------------------------------
 * What the web page asks besides the graph (docs/web-api.md): P/v1/channels
 * and P/v1/blocked. Both are rendered once per graph generation into the
 * response cache, under keys no channel name can take ('/' is not allowed
 * in one), and answered like a graph body: ETag, gzip, 304. */

#define CHANNELS_KEY "/channels"
#define BLOCKED_KEY "blocked/" /* + channel; arch is the cache's second key */

static int is_get_or_head(const char *method)
{
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* A relay without graph-data answers only the channels it fetched (see
 * relays_unknown_channel); NULL means every channel the graph names. */
static char *const *relay_channels(const server *s, size_t *n)
{
    const server_config *cfg = &s->cfg;

    *n = 0;
    if (!cfg->upstream_url || cfg->graph_data_kind != SERVER_GRAPH_DATA_DIRECTORY ||
        cfg->graph_data_dir)
        return NULL;
    *n = cfg->upstream_channels.n;
    return cfg->upstream_channels.items;
}

/* server_render_fn for both routes: key is CHANNELS_KEY or BLOCKED_KEY +
 * the requested channel. */
static int render_web_api(server_body **out, const char *key, const char *arch, void *ctx)
{
    const server *s = ctx;
    graph_snapshot *full = graph_snapshot_current();
    char *json = NULL;
    size_t n;

    if (!full)
        return CINCY_ENOTFOUND;
    if (!strcmp(key, CHANNELS_KEY)) {
        char *const *only = relay_channels(s, &n);
        json = policy_channels_json(full, only, n);
    } else {
        json = policy_removed_json(full, key + strlen(BLOCKED_KEY), arch);
    }
    graph_snapshot_unref(full);
    if (!json) {
        cincy_log(CINCY_LOG_ERROR, "http", "rendering %s failed: out of memory", key);
        return CINCY_ERROR;
    }
    *out = server_body_new(json, strlen(json), 1);
    free(json);
    return *out ? 0 : CINCY_ERROR;
}

static enum MHD_Result handle_channels(server *s, struct MHD_Connection *conn, const char *method,
                                       const char *url)
{
    if (!is_get_or_head(method))
        return reply_empty(s, conn, ROUTE_CHANNELS, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "GET, HEAD");
    return reply_cached(s, conn, ROUTE_CHANNELS, method, url, CT_JSON, CHANNELS_KEY, "",
                        render_web_api, "answer");
}

static enum MHD_Result handle_blocked(server *s, struct MHD_Connection *conn, const char *method,
                                      const char *url)
{
    const server_route route = ROUTE_BLOCKED;
    graph_params p = {NULL, 0, "amd64", 5, 0};
    enum MHD_Result ret;
    char *key;

    if (!is_get_or_head(method))
        return reply_empty(s, conn, route, method, url, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD");
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_param, &p);
    if (!p.has_channel)
        return reply_error(s, conn, route, method, url, MHD_HTTP_BAD_REQUEST, "missing_params",
                           "mandatory client parameters missing: channel");
    if (!no_nul(p.channel, p.channel_len) || !policy_channel_valid(p.channel))
        return reply_invalid_param(s, conn, route, method, url, "channel", p.channel, p.channel_len,
                                   CHANNEL_REGEX);
    if (!no_nul(p.arch, p.arch_len) || !policy_arch_valid(p.arch))
        return reply_invalid_param(s, conn, route, method, url, "arch", p.arch, p.arch_len,
                                   ARCH_REGEX);
    /* A key past the cache's size is rendered uncached by server_cache_fetch. */
    if (!(key = malloc(strlen(BLOCKED_KEY) + p.channel_len + 1)))
        return MHD_NO;
    sprintf(key, "%s%s", BLOCKED_KEY, p.channel);
    ret = reply_cached(s, conn, route, method, url, CT_JSON, key, p.arch, render_web_api, "answer");
    free(key);
    return ret;
}

/* ---------------------------------------------------------------------------
 * The web page: an exact match in the table read at start (server/web.c),
 * nothing else. index.html is revalidated on every load (it names the other
 * files); the rest may be kept a little while. */

#define WEB_CACHE_INDEX "no-cache"
#define WEB_CACHE_ASSET "public, max-age=300"

static enum MHD_Result handle_web(server *s, struct MHD_Connection *conn, const char *method,
                                  const char *url)
{
    const server_web_file *f = server_web_find(s->web, url);

    if (!f)
        return reply_empty(s, conn, ROUTE_GRAPH_OTHER, method, url, MHD_HTTP_NOT_FOUND, NULL);
    if (!is_get_or_head(method))
        return reply_empty(s, conn, ROUTE_WEB, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "GET, HEAD");
    return reply_body(s, conn, ROUTE_WEB, method, url, f->type,
                      !strcmp(f->path, "/index.html") ? WEB_CACHE_INDEX : WEB_CACHE_ASSET,
                      server_body_ref(f->body));
}

/* 1 when the request announces a body (which no cincy route reads). */
static int request_has_body(struct MHD_Connection *conn)
{
    const char *len = request_header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return request_header(conn, MHD_HTTP_HEADER_TRANSFER_ENCODING) || (len && strcmp(len, "0"));
}

int server_request_defer(struct MHD_Connection *conn, void **req_cls, size_t *upload_data_size)
{
    static int headers_seen; /* its address marks a request past its first call */

    if (!*req_cls && !request_has_body(conn)) {
        *req_cls = &headers_seen;
        return 1;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* cannot happen: a body is answered on the first call */
        return 1;
    }
    return 0;
}

/* No graph route reads a body: a GET or HEAD with one is answered 413 rather
 * than as if there were none. The body is not read; MHD closes the
 * connection after this. */
static enum MHD_Result reply_body_refused(server *s, struct MHD_Connection *conn,
                                          server_route route, const char *method, const char *url)
{
    static const char msg[] = "request body not accepted: graph endpoints take no body\n";

    return server_reply(s, conn, route, method, url, MHD_HTTP_CONTENT_TOO_LARGE,
                        server_text_response(msg, sizeof(msg) - 1, CT_TEXT));
}

/* MHD calls this first when the headers are in, then once more when the
 * request is complete. Answering a bodiless request on the second call keeps
 * the connection alive for the next one (an answer queued on the first call
 * makes MHD close it). A request with a body is answered at once instead, and
 * its connection closed: nothing here reads a body, so nothing waits for one. */
enum MHD_Result server_graph_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls)
{
    server *s = cls;
    server_route route;
    const char *acrm;

    (void)version;
    (void)upload_data;
    server_conn_request_begin(s, conn); /* headers are in: no slow-header deadline now */
    if (server_request_defer(conn, req_cls, upload_data_size))
        return MHD_YES;
    route = match_graph_route(s, url);
    if (!*req_cls && request_has_body(conn) && is_get_or_head(method))
        return reply_body_refused(s, conn, route, method, url); /* other methods: 405 */
    acrm = request_header(conn, "Access-Control-Request-Method");
    /* The CORS layer sits in front of the router, as actix-cors wraps the
     * reference's App: a preflight is answered for any path. */
    if (!strcmp(method, MHD_HTTP_METHOD_OPTIONS) && acrm)
        return reply_preflight(s, conn, route, method, url, acrm);
    switch (route) {
    case ROUTE_GRAPH_V1:
    case ROUTE_GRAPH_LEGACY:
        return handle_graph(s, conn, route, method, url);
    case ROUTE_OPENAPI_V1:
    case ROUTE_OPENAPI:
        return handle_openapi(s, conn, route, method, url);
    case ROUTE_GRAPH_DATA:
        return handle_graph_data(s, conn, method, url);
    case ROUTE_PATH:
    case ROUTE_PLAN:
        return handle_path(s, conn, route, method, url);
    case ROUTE_CHANNELS:
        return handle_channels(s, conn, method, url);
    case ROUTE_BLOCKED:
        return handle_blocked(s, conn, method, url);
    default:
        return handle_web(s, conn, method, url);
    }
}
