/* tests/fuzz/targets/fuzz_server.h - the in-process cincy server the HTTP
 * harnesses talk to: the fuzz world's graph-data and releases, served on a
 * free loopback port (one server per process, started on first use), and
 * one raw request per call over a fresh connection.
 *
 * The request bytes come from the input, so the whole stack is exercised:
 * libmicrohttpd's request line and header parsing, then cincy's routing,
 * query decoding and negotiation. CR and LF are removed from what goes into
 * the request line and headers: with them an input could announce a body
 * and make the server wait for it, which is a slow client (the limits'
 * tests cover those), not a parsing bug.
 */
#ifndef CINCY_FUZZ_SERVER_H
#define CINCY_FUZZ_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "fuzz/targets/fuzz_world.h"
#include "server/server.h"

static server *fuzz_srv;

static inline int fuzz_server_port(void)
{
    server_config cfg;
    cincy_error err;
    fuzz_world *w;

    if (fuzz_srv)
        return server_graph_port(fuzz_srv);
    w = fuzz_world_get();
    FUZZ_SETUP(server_config_defaults(&cfg) == 0);
    cfg.graph_port = 0;
    cfg.status_port = 0;
    cfg.threads = 2;
    cfg.graph_data_dir = strdup(w->gd_dir);
    cfg.releases_dir = strdup(w->rel_dir);
    FUZZ_SETUP(cfg.graph_data_dir && cfg.releases_dir);
    FUZZ_SETUP(server_start(&fuzz_srv, &cfg, &err) == 0);
    server_config_clear(&cfg);
    FUZZ_SETUP(server_reload(fuzz_srv, &err) == 0);
    return server_graph_port(fuzz_srv);
}

/* Appends n bytes of s to buf at *len without CR and LF. */
static inline void fuzz_put_line(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *len + 1 < cap; i++)
        if (s[i] != '\r' && s[i] != '\n')
            buf[(*len)++] = s[i];
}

static inline void fuzz_put(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n < cap) {
        memcpy(buf + *len, s, n);
        *len += n;
    }
}

typedef struct fuzz_response {
    int status;      /* 0 when no status line came back */
    char *head;      /* status line and headers, NUL-terminated */
    char *body;      /* NUL-terminated (the body may hold NULs: use body_len) */
    size_t body_len;
    char *raw;
} fuzz_response;

static inline void fuzz_response_clear(fuzz_response *r)
{
    free(r->raw);
    memset(r, 0, sizeof(*r));
}

/* Sends req (len bytes) and reads the whole answer (the request asks for
 * Connection: close). A server that does not answer within 10 s is wedged. */
static inline void fuzz_http(fuzz_response *out, const char *req, size_t len)
{
    struct sockaddr_in a = {0};
    struct timeval tv = {10, 0};
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1), *sep;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t got;

    memset(out, 0, sizeof(*out));
    FUZZ_SETUP(fd >= 0 && buf);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)fuzz_server_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    FUZZ_SETUP(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early on a bad request */
        off += (size_t)w;
    }
    /* No shutdown(SHUT_WR): libmicrohttpd may read the EOF before it has
     * answered and then drop the connection. Connection: close ends it. */
    while ((got = recv(fd, buf + n, cap - n, 0)) > 0) {
        n += (size_t)got;
        if (n == cap)
            FUZZ_SETUP((buf = realloc(buf, (cap *= 2) + 1)) != NULL);
    }
    /* A timeout (EAGAIN) leaves status 0: the harness decides what it means. */
    close(fd);
    buf[n] = '\0';
    out->raw = buf;
    if (n >= 12 && strncmp(buf, "HTTP/1.", 7) == 0)
        out->status = atoi(buf + 9);
    sep = strstr(buf, "\r\n\r\n");
    out->head = buf;
    if (sep) {
        *sep = '\0';
        out->body = sep + 4;
        out->body_len = n - (size_t)(sep + 4 - buf);
    } else {
        out->body = buf + n;
    }
}

/* fuzz_http, once more when nothing came back: on a loaded machine a
 * connection is now and then dropped unanswered, which says nothing about
 * the request. A request that is never answered fails both times. */
static inline void fuzz_http_twice(fuzz_response *out, const char *req, size_t len)
{
    fuzz_http(out, req, len);
    if (out->status == 0) {
        fuzz_response_clear(out);
        fuzz_http(out, req, len);
    }
}

/* Count of c in n bytes at s. */
static inline size_t fuzz_count(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

/* The value of header name in a response head (case-insensitive), copied
 * into out; "" when absent. */
static inline void fuzz_header(const fuzz_response *r, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl, *end;
            while (*v == ' ')
                v++;
            end = strstr(v, "\r\n");
            snprintf(out, size, "%.*s", (int)(end ? (size_t)(end - v) : strlen(v)), v);
            return;
        }
    }
}

#endif
