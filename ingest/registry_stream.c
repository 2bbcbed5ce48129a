/* ingest/registry_stream.c - a blob streamed through libarchive without
 * being held in memory. The transfer runs on the connection's curl multi
 * handle; the libarchive read callback (reg_stream_read) runs it until some
 * bytes arrived and hands them on. When more than a high-water mark waits,
 * the write callback pauses the transfer, so memory stays bounded whatever
 * the layer size. Every byte is hashed as it arrives; reg_stream_finish
 * reads the rest (hashing only) and compares the digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ingest/registry_internal.h"

/* A paused stream holds at most this much (plus one curl write, 16 KiB). */
#define STREAM_HIGH_WATER (256u << 10)

struct reg_stream {
    reg_conn *c;
    char *url;
    char digest[72];
    struct curl_slist *hdrs;
    reg_reply reply; /* headers, and the body of an error status */
    reg_hdr_ctx h;
    EVP_MD_CTX *md;
    long long got, max; /* body bytes received / allowed */
    char *buf;          /* received, not yet handed out */
    size_t len, cap;
    int attached; /* the easy handle is in the multi handle */
    int paused, done, draining, too_big;
    int handed; /* buf was handed out: drop it on the next read */
    CURLcode result;
    long status;
    char errmsg[256];
};

static size_t stream_write(char *ptr, size_t size, size_t n, void *ud)
{
    reg_stream *s = ud;
    size_t len = size * n;

    /* Asked at every write, not once: after a followed redirect the code
     * is the final response's. */
    curl_easy_getinfo(s->c->easy, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status != 200) { /* keep a little of an error body; the rest is dropped */
        (void)reg_buf_append(&s->reply.body, ptr, len);
        return len;
    }
    if (!s->draining && s->len >= STREAM_HIGH_WATER) {
        s->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (s->got + (long long)len > s->max) {
        s->too_big = 1;
        return 0;
    }
    s->got += (long long)len;
    atomic_fetch_add(&s->c->cl->count.bytes, len);
    if (!EVP_DigestUpdate(s->md, ptr, len))
        return 0;
    if (s->draining)
        return len;
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        char *p;
        while (cap < s->len + len)
            cap *= 2;
        if (!(p = realloc(s->buf, cap)))
            return 0;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, len);
    s->len += len;
    return len;
}

/* Runs the transfer until something arrived or it ended. */
static void stream_pump(reg_stream *s)
{
    while (!s->done && (s->len == 0 || s->draining)) {
        int running = 0, left;
        CURLMsg *m;
        if (curl_multi_perform(s->c->multi, &running) != CURLM_OK) {
            s->done = 1;
            s->result = CURLE_RECV_ERROR;
            break;
        }
        while ((m = curl_multi_info_read(s->c->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE) {
                s->done = 1;
                s->result = m->data.result;
            }
        if (s->done || (s->len > 0 && !s->draining))
            break;
        if (!running) { /* finished without a DONE message: cannot be, but never spin */
            s->done = 1;
            break;
        }
        curl_multi_poll(s->c->multi, NULL, 0, 1000, NULL);
    }
    if (s->done && s->status == 0)
        curl_easy_getinfo(s->c->easy, CURLINFO_RESPONSE_CODE, &s->status);
}

static void stream_detach(reg_stream *s)
{
    if (s->attached)
        curl_multi_remove_handle(s->c->multi, s->c->easy);
    s->attached = 0;
}

/* One attempt: set up and start the transfer, run it to the first byte. */
static int stream_start(reg_stream *s, cincy_error *err)
{
    reg_conn *c = s->c;
    const char *acc = "Accept: */*";
    int oom = 0;

    stream_detach(s);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    reg_reply_clear(&s->reply);
    reg_buf_init(&s->reply.body, REG_ERROR_BODY_MAX);
    free(s->h.www_auth);
    s->h.www_auth = NULL;
    s->got = 0;
    s->len = 0;
    s->paused = s->done = s->draining = s->too_big = s->handed = 0;
    s->status = 0;
    s->result = CURLE_OK;
    if (!EVP_DigestInit_ex(s->md, EVP_sha256(), NULL))
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "sha-256 init failed");
    reg_setup_common(c->easy, c->cl, c->share);
    if (!(s->hdrs = curl_slist_append(NULL, acc)))
        oom = 1;
    s->hdrs = reg_add_auth(c, s->hdrs, &oom);
    if (oom)
        return ingest_oom(err);
    curl_easy_setopt(c->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, s->hdrs);
    /* A layer may be large: bound stalls, not the total time. */
    curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_TIME, c->cl->timeout);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, reg_header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, &s->h);
    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "registry %s: curl multi failed",
                               c->cl->host);
    s->attached = 1;
    stream_pump(s);
    return 0;
}

int reg_stream_open(reg_stream **out, reg_conn *c, const char *digest, long long max,
                    cincy_error *err)
{
    reg_client *cl = c->cl;
    reg_stream *s = calloc(1, sizeof(*s));
    unsigned attempt = 0, reauth = 0;
    int error = 0;

    if (!s)
        return ingest_oom(err);
    s->c = c;
    s->max = max;
    s->h.reply = &s->reply;
    snprintf(s->digest, sizeof(s->digest), "%s", digest);
    if (!(s->md = EVP_MD_CTX_new()) ||
        !(s->url = reg_printf("%s/v2/%s/blobs/%s", cl->base, cl->repo, digest))) {
        error = ingest_oom(err);
        goto fail;
    }
    for (;;) {
        if ((error = reg_ensure_token(c, err)) < 0 || (error = stream_start(s, err)) < 0)
            goto fail;
        if (s->status == 200 && (s->len > 0 || (s->done && s->result == CURLE_OK)))
            break; /* body flowing (or an empty blob) */
        if (s->done && s->result == CURLE_OK && s->status == 401 && reauth++ == 0) {
            if ((error = reg_note_challenge(c, s->h.www_auth, s->url, err)) < 0)
                goto fail;
            continue;
        }
        if ((s->done && s->result != CURLE_OK && reg_retryable_curl(s->result)) ||
            reg_retryable_status(s->status)) {
            if (attempt < cl->retries) {
                cincy_log(CINCY_LOG_WARN, "ingest",
                          "registry request failed, retrying\tregistry=%s url=%s error=\"%s\" "
                          "attempt=%u",
                          cl->host, s->url,
                          s->result != CURLE_OK ? curl_easy_strerror(s->result)
                                                : "http error status",
                          attempt + 1);
                reg_backoff_sleep(attempt++);
                continue;
            }
        }
        if (s->result != CURLE_OK)
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0,
                                    "registry %s: GET %s: %s (after %u attempts)", cl->host, s->url,
                                    curl_easy_strerror(s->result), attempt + 1);
        else
            error = cincy_error_set(err, s->status == 404 ? CINCY_EINVALID : CINCY_ERROR, NULL, 0,
                                    "registry %s: GET %s: http status %ld%s", cl->host, s->url,
                                    s->status, s->status == 404 ? " (blob unknown)" : "");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    reg_stream_close(s);
    return error;
}

ssize_t reg_stream_read(reg_stream *s, const void **buf)
{
    if (s->handed) /* the previous chunk was consumed */
        s->len = 0;
    s->handed = 0;
    if (s->paused) {
        s->paused = 0;
        curl_easy_pause(s->c->easy, CURLPAUSE_CONT); /* may call stream_write at once */
    }
    stream_pump(s);
    if (s->len > 0) {
        *buf = s->buf;
        s->handed = 1;
        return (ssize_t)s->len;
    }
    if (s->result != CURLE_OK || s->status != 200) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", s->url,
                 s->too_big              ? "blob larger than its manifest says"
                 : s->result != CURLE_OK ? curl_easy_strerror(s->result)
                                         : "unexpected http status");
        return -1;
    }
    return 0;
}

const char *reg_stream_error(const reg_stream *s)
{
    return s->errmsg[0] ? s->errmsg : "read failed";
}

int reg_stream_finish(reg_stream *s, cincy_error *err)
{
    reg_client *cl = s->c->cl;
    char computed[72];

    s->draining = 1;
    s->len = 0;
    if (s->paused) {
        s->paused = 0;
        curl_easy_pause(s->c->easy, CURLPAUSE_CONT);
    }
    stream_pump(s);
    if (s->too_big)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "registry %s: blob %s: larger than %lld bytes", cl->host, s->digest,
                               s->max);
    if (s->result != CURLE_OK)
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "registry %s: GET %s: %s", cl->host,
                               s->url, curl_easy_strerror(s->result));
    reg_digest_final(computed, s->md);
    if (strcmp(computed, s->digest) != 0)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "registry %s: blob %s: digest mismatch (got %s after %lld bytes)",
                               cl->host, s->digest, computed, s->got);
    return 0;
}

void reg_stream_close(reg_stream *s)
{
    if (!s)
        return;
    stream_detach(s);
    curl_slist_free_all(s->hdrs);
    reg_reply_clear(&s->reply);
    free(s->h.www_auth);
    EVP_MD_CTX_free(s->md);
    free(s->buf);
    free(s->url);
    free(s);
}
