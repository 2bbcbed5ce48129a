/* ingest/upstream.c - graphs fetched from another Cincinnati service.
 *
 * The handle keeps, per channel/arch pair, the last body it parsed with its
 * ETag and SHA-256. A fetch asks every pair with If-None-Match, so an
 * unchanged upstream costs one 304 per pair and no parsing; an upstream that
 * sends no ETag still costs no parsing when its bytes hash as before. New
 * bodies are staged, merged with the held ones, and swapped in only when the
 * merge worked, so after any failure the next fetch asks exactly as this one
 * did. Requests go one after the other on one curl handle: a refresh is a
 * few dozen small GETs on one kept-alive connection, which needs no
 * concurrency and is gentle with a shared public service. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "ingest/upstream_internal.h"

#define DIGEST_LEN 32 /* SHA-256 */

typedef struct upstream_pair {
    upstream_pair_id id; /* channel and arch borrowed from the handle, request from below */
    char *request;       /* "<url>?channel=C&arch=A" */
    char *etag;          /* of the held body, or NULL when the upstream sent none */
    unsigned char digest[DIGEST_LEN];
    int held; /* body is the last good answer for this pair */
    upstream_body body;
} upstream_pair;

struct ingest_upstream {
    char *url;
    char **channels, **arches;
    size_t nchannels, narches;
    char *ca_file;
    int insecure;
    unsigned timeout_seconds;
    upstream_pair *pairs; /* channels outer, arches inner */
    size_t npairs;
};

/* ---------------------------------------------------------------------------
 * Configuration */

static int channel_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || *s == '-' || *s == '.'))
            return 0;
    }
    return 1;
}

static int arch_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z')))
            return 0;
    }
    return 1;
}

static int url_ok(const char *u)
{
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0))
        return 0;
    for (; *u; u++) {
        if ((unsigned char)*u <= ' ' || *u == 0x7f || *u == '#')
            return 0;
    }
    return 1;
}

/* Copies names[0..n) into *out after checking each with ok() and for
 * repeats; field names the config list in messages. */
static int copy_names(char ***out, const char *const *names, size_t n, int (*ok)(const char *),
                      const char *field, cincy_error *err)
{
    ingest_strv v = {0};

    for (size_t i = 0; i < n; i++) {
        if (!ok(names[i])) {
            ingest_strv_clear(&v);
            return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                   "upstream: %s[%zu]: '%.*s' is not a valid name", field, i,
                                   INGEST_QUOTE_MAX, names[i] ? names[i] : "");
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(names[k], names[i]) == 0) {
                ingest_strv_clear(&v);
                return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                       "upstream: %s[%zu]: '%s' repeats %s[%zu]", field, i,
                                       names[i], field, k);
            }
        }
        if (ingest_strv_push(&v, names[i]) < 0) {
            ingest_strv_clear(&v);
            return ingest_oom(err);
        }
    }
    ingest_strv_take(&v, out, &n);
    return CINCY_OK;
}

/* "<url>?channel=C&arch=A" ('&' when url has a query already). The names
 * were checked to need no escaping. */
static char *request_url(const char *url, const char *channel, const char *arch)
{
    size_t len = strlen(url) + strlen(channel) + strlen(arch) + 16;
    char *s = malloc(len);

    if (s)
        snprintf(s, len, "%s%cchannel=%s&arch=%s", url, strchr(url, '?') ? '&' : '?', channel,
                 arch);
    return s;
}

static int make_pairs(ingest_upstream *up, cincy_error *err)
{
    up->npairs = 0;
    if (!(up->pairs = calloc(up->nchannels * up->narches, sizeof(*up->pairs))))
        return ingest_oom(err);
    for (size_t c = 0; c < up->nchannels; c++) {
        for (size_t a = 0; a < up->narches; a++) {
            upstream_pair *p = &up->pairs[up->npairs];
            p->id.channel = up->channels[c];
            p->id.arch = up->arches[a];
            if (!(p->request = request_url(up->url, up->channels[c], up->arches[a])))
                return ingest_oom(err);
            p->id.request = p->request;
            up->npairs++;
        }
    }
    return CINCY_OK;
}

int ingest_upstream_new(ingest_upstream **out, const ingest_upstream_config *cfg, cincy_error *err)
{
    static const char *const default_arch[] = {"amd64"};
    ingest_upstream *up = calloc(1, sizeof(*up));
    int error;

    if (!up)
        return ingest_oom(err);
    if (!url_ok(cfg->url)) {
        error = cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                "upstream: url: '%.*s' is not an http(s) URL without a fragment",
                                INGEST_QUOTE_MAX * 2, cfg->url ? cfg->url : "");
        goto cleanup;
    }
    if (cfg->nchannels == 0) {
        error = cincy_error_set(err, CINCY_EINVALID, NULL, 0, "upstream: channels: none given");
        goto cleanup;
    }
    if (!(up->url = strdup(cfg->url)) || (cfg->ca_file && !(up->ca_file = strdup(cfg->ca_file)))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    up->insecure = cfg->insecure;
    up->timeout_seconds = cfg->timeout_seconds ? cfg->timeout_seconds : 60;
    up->nchannels = cfg->nchannels;
    up->narches = cfg->narches ? cfg->narches : 1;
    if ((error = copy_names(&up->channels, cfg->channels, up->nchannels, channel_ok, "channels",
                            err)) < 0 ||
        (error = copy_names(&up->arches, cfg->narches ? cfg->arches : default_arch, up->narches,
                            arch_ok, "arches", err)) < 0 ||
        (error = make_pairs(up, err)) < 0)
        goto cleanup;
    *out = up;
    up = NULL;
cleanup:
    ingest_upstream_free(up);
    return error;
}

void ingest_upstream_free(ingest_upstream *up)
{
    if (!up)
        return;
    for (size_t i = 0; i < up->npairs; i++) {
        free(up->pairs[i].request);
        free(up->pairs[i].etag);
        upstream_body_clear(&up->pairs[i].body);
    }
    free(up->pairs);
    ingest_strv_free(up->channels, up->channels ? up->nchannels : 0);
    ingest_strv_free(up->arches, up->arches ? up->narches : 0);
    free(up->url);
    free(up->ca_file);
    free(up);
}

/* ---------------------------------------------------------------------------
 * HTTP */

typedef struct response {
    char *data; /* body after gzip decoding, NUL-terminated */
    size_t len;
    int too_big;
    char *etag;       /* of the final response */
    char status[128]; /* its status line, "HTTP/1.1 404 Not Found" */
} response;

static void response_clear(response *r)
{
    free(r->data);
    free(r->etag);
    memset(r, 0, sizeof(*r));
}

static size_t body_cb(char *ptr, size_t size, size_t n, void *ud)
{
    response *r = ud;
    size_t add = size * n;
    char *grown;

    if (r->len + add > UPSTREAM_BODY_MAX) {
        r->too_big = 1;
        return 0; /* curl stops with a write error */
    }
    if (!(grown = realloc(r->data, r->len + add + 1)))
        return 0;
    memcpy(grown + r->len, ptr, add);
    r->len += add;
    grown[r->len] = '\0';
    r->data = grown;
    return add;
}

static size_t trimmed_len(const char *s, size_t len)
{
    while (len && (s[len - 1] == '\r' || s[len - 1] == '\n' || s[len - 1] == ' '))
        len--;
    return len;
}

static size_t header_cb(char *line, size_t size, size_t n, void *ud)
{
    response *r = ud;
    size_t len = size * n;

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response (redirect, 100) */
        snprintf(r->status, sizeof(r->status), "%.*s", (int)trimmed_len(line, len), line);
        free(r->etag);
        r->etag = NULL;
        free(r->data); /* a redirect's body is not the graph */
        r->data = NULL;
        r->len = 0;
    } else if (len > 5 && strncasecmp(line, "etag:", 5) == 0) {
        const char *v = line + 5;
        size_t vlen = len - 5;
        while (vlen && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }
        free(r->etag);
        r->etag = strndup(v, trimmed_len(v, vlen)); /* NULL on OOM: no validator next time */
    }
    return len;
}

static int set_headers(struct curl_slist **out, const upstream_pair *p, cincy_error *err)
{
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json"), *t;
    char *line;

    if (!h)
        return ingest_oom(err);
    if (p->held && p->etag) {
        if (!(line = malloc(strlen(p->etag) + 16))) {
            curl_slist_free_all(h);
            return ingest_oom(err);
        }
        sprintf(line, "If-None-Match: %s", p->etag);
        t = curl_slist_append(h, line);
        free(line);
        if (!t) {
            curl_slist_free_all(h);
            return ingest_oom(err);
        }
        h = t;
    }
    *out = h;
    return CINCY_OK;
}

static void set_options(CURL *c, const ingest_upstream *up, const upstream_pair *p,
                        struct curl_slist *headers, response *r, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_URL, p->id.request);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* the CVO follows redirects too */
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)up->timeout_seconds);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip"); /* decoded by curl */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cincy");
    if (up->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, up->ca_file);
    if (up->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* GETs one pair into r. Returns 0 with *status 200 or 304; any other
 * outcome is an error naming the request. */
static int get_pair(long *status, CURL *c, const ingest_upstream *up, const upstream_pair *p,
                    response *r, cincy_error *err)
{
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc;
    int error;

    if ((error = set_headers(&headers, p, err)) < 0)
        return error;
    set_options(c, up, p, headers, r, errbuf);
    rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (r->too_big)
        return cincy_error_set(err, CINCY_ETOOBIG, NULL, 0,
                               "upstream %s: body larger than %u bytes", p->id.request,
                               UPSTREAM_BODY_MAX);
    if (rc != CURLE_OK)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "upstream %s: %s", p->id.request,
                               errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (*status == 200 || (*status == 304 && p->held && p->etag))
        return CINCY_OK;
    if (*status == 404)
        return cincy_error_set(err, CINCY_ENOTFOUND, NULL, 0,
                               "upstream %s: %s (is channel '%s' served for arch '%s'?)",
                               p->id.request, r->status, p->id.channel, p->id.arch);
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "upstream %s: %s%s", p->id.request,
                           r->status[0] ? r->status : "no status line",
                           *status == 304 ? " without If-None-Match" : "");
}

/* ---------------------------------------------------------------------------
 * Fetch */

typedef enum { STAGE_NOT_MODIFIED, STAGE_SAME_BODY, STAGE_NEW_BODY } stage_kind;

typedef struct stage {
    stage_kind kind;
    char *etag;                       /* SAME_BODY, NEW_BODY: the response's */
    unsigned char digest[DIGEST_LEN]; /* NEW_BODY */
    upstream_body body;               /* NEW_BODY */
} stage;

static void stages_free(stage *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].etag);
        upstream_body_clear(&s[i].body);
    }
    free(s);
}

static int fetch_pair(stage *s, CURL *c, const ingest_upstream *up, const upstream_pair *p,
                      ingest_upstream_stats *st, cincy_error *err)
{
    response r = {0};
    long status = 0;
    int error;

    st->requests++;
    if ((error = get_pair(&status, c, up, p, &r, err)) < 0)
        goto cleanup;
    if (status == 304) {
        s->kind = STAGE_NOT_MODIFIED;
        st->not_modified++;
        goto cleanup;
    }
    st->bytes += r.len;
    if (!EVP_Digest(r.data ? r.data : "", r.len, s->digest, NULL, EVP_sha256(), NULL)) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "sha-256 failed");
        goto cleanup;
    }
    s->etag = r.etag;
    r.etag = NULL;
    if (p->held && memcmp(s->digest, p->digest, DIGEST_LEN) == 0) {
        s->kind = STAGE_SAME_BODY;
        st->same_body++;
        goto cleanup;
    }
    if ((error = upstream_body_parse(&s->body, r.data ? r.data : "", r.len, &p->id, err)) < 0)
        goto cleanup;
    if (s->body.nnodes == 0)
        cincy_log(CINCY_LOG_WARN, "ingest",
                  "upstream serves an empty graph; is the channel name right?\trequest=%s",
                  p->id.request);
    s->kind = STAGE_NEW_BODY;
    st->changed++;
cleanup:
    response_clear(&r);
    return error;
}

/* The held bodies with the staged ones in their place. */
static int merge_views(ingest_upstream_graph **out, const ingest_upstream *up, const stage *s,
                       cincy_error *err)
{
    const upstream_body **bodies = calloc(up->npairs, sizeof(*bodies));
    upstream_pair_id *ids = calloc(up->npairs, sizeof(*ids));
    int error;

    if (!bodies || !ids) {
        error = ingest_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < up->npairs; i++) {
        bodies[i] = s && s[i].kind == STAGE_NEW_BODY ? &s[i].body : &up->pairs[i].body;
        ids[i] = up->pairs[i].id;
    }
    error = upstream_merge(out, bodies, ids, up->npairs, err);
cleanup:
    free(bodies);
    free(ids);
    return error;
}

/* Swaps the staged state in (every fetch succeeded and merged). */
static void commit(ingest_upstream *up, stage *s)
{
    for (size_t i = 0; i < up->npairs; i++) {
        upstream_pair *p = &up->pairs[i];
        if (s[i].kind == STAGE_NOT_MODIFIED)
            continue;
        free(p->etag);
        p->etag = s[i].etag;
        s[i].etag = NULL;
        if (s[i].kind == STAGE_NEW_BODY) {
            upstream_body_clear(&p->body);
            p->body = s[i].body;
            memset(&s[i].body, 0, sizeof(s[i].body));
            memcpy(p->digest, s[i].digest, DIGEST_LEN);
            p->held = 1;
        }
    }
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int ingest_upstream_fetch(ingest_upstream_graph **out, int *changed, ingest_upstream *up,
                          ingest_upstream_stats *stats, cincy_error *err)
{
    ingest_upstream_stats st = {0};
    ingest_upstream_graph *g = NULL;
    stage *s = calloc(up->npairs, sizeof(*s));
    struct timespec t0;
    CURL *c = NULL;
    int error = CINCY_OK;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!s || !(c = curl_easy_init())) {
        error = s ? cincy_error_set(err, CINCY_ERROR, NULL, 0, "upstream: curl init failed")
                  : ingest_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < up->npairs && error == CINCY_OK; i++)
        error = fetch_pair(&s[i], c, up, &up->pairs[i], &st, err);
    if (error < 0 || (st.changed && (error = merge_views(&g, up, s, err)) < 0))
        goto cleanup;
    commit(up, s);
    cincy_log(CINCY_LOG_INFO, "ingest",
              "fetched upstream graphs\turl=%s requests=%zu not_modified=%zu same_body=%zu "
              "changed=%zu bytes=%llu ms=%.1f",
              up->url, st.requests, st.not_modified, st.same_body, st.changed, st.bytes,
              ms_since(&t0));
    *changed = st.changed > 0;
    *out = g;
cleanup:
    if (stats)
        *stats = st;
    curl_easy_cleanup(c);
    stages_free(s, up->npairs);
    return error;
}

int ingest_upstream_current(ingest_upstream_graph **out, const ingest_upstream *up,
                            cincy_error *err)
{
    for (size_t i = 0; i < up->npairs; i++) {
        if (!up->pairs[i].held)
            return cincy_error_set(err, CINCY_ENOTFOUND, NULL, 0,
                                   "upstream %s: nothing fetched yet", up->pairs[i].id.request);
    }
    return merge_views(out, up, NULL, err);
}
