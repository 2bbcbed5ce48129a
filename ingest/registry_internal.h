/* ingest/registry_internal.h - the Docker Registry HTTP API v2 client shared
 * by the release scrape (registry.c) and the graph-data image source
 * (source_image.c); the client itself is registry_http.c.
 *
 * A reg_client holds what every request of one repository shares: where the
 * registry is, the credentials, the auth challenge seen so far, cached bearer
 * tokens and the counters. It is shared by the worker threads (its mutable
 * parts are behind a mutex or atomic). A reg_conn is one thread's connection:
 * a CURL easy handle (kept alive between requests) and a multi handle used to
 * stream blobs. Never included from outside ingest/.
 */
#ifndef CINCY_REGISTRY_INTERNAL_H
#define CINCY_REGISTRY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "ingest/ingest_internal.h"

/* Manifests and configs are a few KiB; these bound a hostile registry. */
#define REG_MANIFEST_MAX (4u << 20)
#define REG_CONFIG_MAX (8u << 20)
#define REG_TAGS_PAGE_MAX (16u << 20) /* one page of the tag list */
#define REG_TOKEN_MAX (1u << 20)      /* a token response */
#define REG_ERROR_BODY_MAX 4096       /* kept from a non-2xx body for the message */

/* Media types (what we ask for and recognise). */
#define REG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define REG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define REG_ACCEPT_MANIFESTS                                                                       \
    REG_MT_DOCKER_MANIFEST ", " REG_MT_OCI_MANIFEST ", " REG_MT_DOCKER_LIST ", " REG_MT_OCI_INDEX

/* A growable byte buffer born with a cap (appends past it fail). */
typedef struct reg_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len;
    size_t cap;   /* allocated */
    size_t limit; /* hard maximum of len */
    int overflow; /* an append was refused */
} reg_buf;

void reg_buf_init(reg_buf *b, size_t limit);
int reg_buf_append(reg_buf *b, const void *data, size_t n); /* 0, or -1 past the limit/OOM */
void reg_buf_clear(reg_buf *b);

typedef struct reg_token {
    char *scope; /* "repository:<repo>:pull" */
    char *token;
    double expiry; /* monotonic seconds */
} reg_token;

typedef struct reg_counters {
    atomic_size_t manifests; /* manifest GETs and HEADs */
    atomic_size_t blobs;     /* blob GETs (config and layers) */
    atomic_ullong bytes;     /* bytes received in bodies */
} reg_counters;

typedef struct reg_client {
    char *base;    /* "https://host:port" (scheme included) */
    char *host;    /* "host:port" as written, for pull specs and messages */
    char *repo;    /* "path/repo" */
    char *basic;   /* "user:password" from the auth file, or NULL */
    char *ca_file; /* copied from the config, or NULL */
    int insecure;
    long timeout;          /* seconds, per request */
    unsigned retries;      /* extra attempts */
    pthread_mutex_t lock;  /* guards the fields below */
    int challenge;         /* 0: none seen, 1: Basic, 2: Bearer */
    char *realm, *service; /* of the Bearer challenge */
    reg_token *tokens;     /* cached per scope */
    size_t ntokens;
    reg_counters count;
} reg_client;

/* Parses repository ("[http[s]://]host[:port]/path") and reads credentials
 * from cfg->auth_file (longest matching "auths" key). cfg may be NULL:
 * defaults. A bad repository string is CINCY_EINVALID; an unreadable or
 * malformed auth file is CINCY_EINVALID naming the file. */
int reg_client_new(reg_client **out, const char *repository, const ingest_registry_config *cfg,
                   cincy_error *err);
void reg_client_free(reg_client *cl); /* NULL-safe */

/* The "http://", "https://" prefix of repository split off: *plain = 1 for
 * http://. Returns the rest, or NULL for another scheme. */
const char *reg_strip_scheme(const char *repository, int *plain);

typedef struct reg_conn {
    reg_client *cl; /* borrowed */
    CURL *easy;
    CURLM *multi;
    CURLSH *share; /* one connection cache for easy and multi transfers */
} reg_conn;

int reg_conn_init(reg_conn *c, reg_client *cl, cincy_error *err);
void reg_conn_clear(reg_conn *c);

typedef struct reg_reply {
    long status;
    char *digest;       /* Docker-Content-Digest, or NULL */
    char *content_type; /* Content-Type, or NULL */
    char *link;         /* the next page's path+query from Link: <...>; rel="next", or NULL */
    reg_buf body;
} reg_reply;

void reg_reply_clear(reg_reply *r);

/* A request to <base><path> (path starts with "/v2/"), with auth and with
 * retries and backoff for connection errors, timeouts, 429 and 5xx. The body
 * goes into out->body up to limit bytes (more is CINCY_ETOOBIG). Returns 0
 * with out->status set for any final HTTP status (the caller decides what a
 * 404 means), CINCY_ERROR when the request still fails after the retries or
 * auth fails (err names the URL). method is "GET" or "HEAD". out is cleared
 * first. */
int reg_request(reg_conn *c, const char *method, const char *path, const char *accept, size_t limit,
                reg_reply *out, cincy_error *err);

/* Fetches /v2/<repo>/manifests/<ref> and checks its digest: ref itself when
 * it is a digest, else Docker-Content-Digest (which must be present or is
 * computed from the body). *digest_out receives "sha256:<hex>" (new string).
 * CINCY_ENOTFOUND on 404; CINCY_EINVALID on a digest mismatch (err names tag
 * and digest); CINCY_ERROR on a failed request. */
int reg_get_manifest(reg_conn *c, const char *ref, reg_reply *out, char **digest_out,
                     cincy_error *err);

/* Fetches the blob digest whole (configs; limit bounds it) and checks the
 * digest: CINCY_EINVALID on mismatch. */
int reg_get_blob(reg_conn *c, const char *digest, size_t limit, reg_buf *out, cincy_error *err);

/* A blob streamed through libarchive's read callback: bytes are hashed as
 * they arrive and handed on without being kept. */
typedef struct reg_stream reg_stream;

/* Starts GET of the blob and waits for its status. Retries (with backoff) a
 * failure seen before any body byte was handed out. max bounds the bytes.
 * Not counted in cl->count.blobs: the caller counts once per blob, however
 * often a broken transfer makes it start again. */
int reg_stream_open(reg_stream **out, reg_conn *c, const char *digest, long long max,
                    cincy_error *err);
/* libarchive-style read: *buf points at the next bytes (valid until the next
 * call); returns their count, 0 at the end, -1 on a transfer error. */
ssize_t reg_stream_read(reg_stream *s, const void **buf);
/* Reads (and hashes) the rest of the body, then compares the digest: 0,
 * CINCY_EINVALID on mismatch or short body, CINCY_ERROR on transfer error.
 * err names the digest. */
int reg_stream_finish(reg_stream *s, cincy_error *err);
/* The transfer error text after reg_stream_read returned -1. */
const char *reg_stream_error(const reg_stream *s);
void reg_stream_close(reg_stream *s); /* NULL-safe */

/* ---------------------------------------------------------------------------
 * Plumbing shared by registry_http.c, registry_auth.c and registry_stream.c.
 */

/* Header capture for one request: Docker-Content-Digest, Content-Type and
 * Link go into reply; WWW-Authenticate (new string) into www_auth. */
typedef struct reg_hdr_ctx {
    reg_reply *reply;
    char *www_auth; /* WWW-Authenticate of the final response */
} reg_hdr_ctx;

size_t reg_header_cb(char *line, size_t size, size_t n, void *ud); /* ud: reg_hdr_ctx */
size_t reg_body_cb(char *ptr, size_t size, size_t n, void *ud);    /* ud: reg_reply */
/* curl_easy_reset, then what every request sets: protocols, redirects,
 * connect timeout, TLS (CAs or insecure), the connection's share. */
void reg_setup_common(CURL *e, const reg_client *cl, CURLSH *share);
/* Reads auth_file into cl->basic (registry_auth.c). */
int reg_load_credentials(reg_client *cl, const char *path, cincy_error *err);
/* Adds the Authorization the last challenge asks for (a Bearer header to
 * hdrs; Basic is set on c->easy). Sets *oom on out of memory. */
struct curl_slist *reg_add_auth(reg_conn *c, struct curl_slist *hdrs, int *oom);
/* With a Bearer challenge seen but no valid token, gets one now. */
int reg_ensure_token(reg_conn *c, cincy_error *err);
/* Records a 401's challenge (and fetches a token for Bearer). Returns 0
 * when trying again may succeed; url names the request in errors. */
int reg_note_challenge(reg_conn *c, const char *www_auth, const char *url, cincy_error *err);
int reg_retryable_curl(CURLcode rc);                 /* connection errors, timeouts, cut bodies */
int reg_retryable_status(long status);               /* 429 and 5xx */
void reg_backoff_sleep(unsigned attempt);            /* 200 ms << attempt, at most 5 s */
void reg_digest_final(char out[72], EVP_MD_CTX *md); /* "sha256:<hex>" */

/* 1 when d is "sha256:" and 64 lower-case hex digits. */
int reg_digest_valid(const char *d);

/* printf into a new string, or NULL on out of memory. */
char *reg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------------------
 * Images (registry_image.c)
 */

#define REG_METADATA_PATH "release-manifests/release-metadata"

/* What a manifest digest tells about a release (what the cache keeps). */
typedef struct reg_image_info {
    char *arch;     /* from the config blob or the list; "multi" for lists of > 1 */
    char *metadata; /* raw release-metadata, or NULL: the image has none */
    size_t metadata_len;
} reg_image_info;

void reg_image_info_clear(reg_image_info *i);

/* Config digest -> arch for one scrape: images of one pipeline often share
 * a config, and a config is content addressed. Thread: any (own lock). */
#define REG_MEMO_BUCKETS 1024
typedef struct reg_memo_entry {
    struct reg_memo_entry *next;
    char digest[72];
    char arch[33];
} reg_memo_entry;
typedef struct reg_memo {
    pthread_mutex_t lock;
    reg_memo_entry *buckets[REG_MEMO_BUCKETS];
} reg_memo;

void reg_memo_init(reg_memo *memo);
void reg_memo_clear(reg_memo *memo);

/* Fills info from the manifest r (fetched for tag, digest verified): arch and
 * release-metadata (NULL when no layer has it). CINCY_EINVALID or
 * CINCY_ETOOBIG: bad content, err names tag and digest (reject the tag);
 * CINCY_ERROR: a request failed after its retries (fail the scrape). */
int reg_inspect(reg_image_info *info, reg_memo *memo, reg_conn *c, const reg_reply *r,
                const char *tag, const char *digest, cincy_error *err);

/* A libarchive reader (any filter, tar) over the stream s. Returns 0, or -1
 * with *out set when opening failed (read archive_error_string, then free)
 * or NULL on out of memory. */
struct archive;
int reg_archive_open(struct archive **out, reg_stream *s);

/* Monotonic seconds. */
double reg_now(void);

/* Tag list page size; tests set it small to exercise pagination. */
extern unsigned reg_tags_page_size;

#endif
