/* tests/registry/registry_fixture.h - a real Docker registry for tests and
 * benchmarks: Debian's docker-registry on a free loopback port over a
 * temporary storage directory, optionally behind basic auth (htpasswd), TLS
 * (a CA and server certificate generated per run) or a bearer-token front
 * (an in-process proxy with its own token endpoint), and a pusher that builds
 * real images (gzip tar layers, config blob, Docker schema 2 or OCI manifest,
 * manifest lists / OCI indexes) and pushes them through the registry API.
 *
 * A fault proxy can sit in front of any registry: it answers matching
 * requests with a status, a delay or a cut-short body.
 *
 * registry_fixture.c is compiled into cincy-tests (by the tests glob) and,
 * with bench/regpush.c, into cincy-regpush. Functions return 0 or -1 and print
 * why on stderr; they never call Criterion, so the bench tool can use them too.
 * No registry outlives the process that started it: an atexit handler kills
 * what is left, and the registry dies with its parent (PR_SET_PDEATHSIG), so
 * a test that fails an assertion leaves nothing behind.
 *
 * Pushes always go to the registry itself (with its credentials and CA),
 * never through the token front or a fault proxy. The push functions may be
 * called from several threads at once on one treg.
 */
#ifndef CINCY_REGISTRY_FIXTURE_H
#define CINCY_REGISTRY_FIXTURE_H

#include <stddef.h>

typedef struct treg treg;

typedef struct treg_options {
    int basic_auth; /* htpasswd: user "cincy", password "s3cret" */
    int tls;        /* https with a CA generated under workdir */
    int token_auth; /* clients must get a bearer token (WWW-Authenticate: Bearer
                     * realm=...,service=...,scope=...) with basic credentials
                     * user "cincy" / "s3cret" at the realm; http only,
                     * not with tls */
    int port;       /* registry port; 0: a free one */
} treg_options;

/* Starts a registry under workdir (created; storage, config, certs and the
 * auth file go there), waits until GET /v2/ answers. opt may be NULL.
 * Call it from a thread that outlives the registry: PR_SET_PDEATHSIG kills
 * the registry when the thread that started it exits. */
int treg_start(treg **out, const char *workdir, const treg_options *opt);
/* A handle on a registry someone else runs (url "http://127.0.0.1:5000";
 * https is not verified), for pushing only: no storage, no pause/resume.
 * userpwd "user:password" or NULL. treg_stop frees it and stops nothing. */
int treg_attach(treg **out, const char *url, const char *userpwd);
/* Stops the registry process (and the token front); the storage stays.
 * Also frees the calling thread's push connection. NULL-safe. */
void treg_stop(treg *r);
/* Stops only the registry process / starts it again on the same port and
 * storage (for "registry down" tests). While paused, the registry's port
 * refuses connections; a token front or fault proxy answers 502. */
int treg_pause(treg *r);
int treg_resume(treg *r);

/* "127.0.0.1:PORT": what clients put before the repository name. With
 * token_auth this is the token proxy's address. */
const char *treg_host(const treg *r);
/* The repository prefix for a client config: "http://127.0.0.1:PORT" for a
 * plain registry, "127.0.0.1:PORT" (https) with tls. */
const char *treg_location(const treg *r);
const char *treg_ca_file(const treg *r);   /* PEM CA with tls, else NULL */
const char *treg_auth_file(const treg *r); /* docker config.json holding the
                                            * credentials, or NULL without auth */
const char *treg_storage_dir(const treg *r); /* NULL when attached */
/* The registry itself, "http(s)://127.0.0.1:PORT", bypassing any token front. */
const char *treg_registry_url(const treg *r);
/* The registry process id, 0 while paused or when attached. */
int treg_pid(const treg *r);
/* Requests to the token front's /token endpoint so far (any outcome);
 * 0 without token_auth. */
size_t treg_token_requests(const treg *r);

/* One release (or other) image. Files are put in one layer; more filler
 * layers can go under it. */
typedef struct treg_file {
    const char *path; /* in the layer, e.g. "release-manifests/release-metadata" */
    const char *data;
    size_t len;       /* 0: strlen(data) */
} treg_file;

typedef struct treg_image {
    const char *arch;       /* config "architecture" (amd64, arm64, ppc64le, s390x) */
    const char *os;         /* default "linux" */
    const treg_file *files; /* the top-most layer's files */
    size_t nfiles;
    size_t filler_layers;   /* layers below the top one with unrelated files */
    int top_layer_first;    /* put the files layer first (bottom) instead of last */
    int oci;                /* OCI media types instead of Docker schema 2 */
    int shared_config;      /* config without rootfs.diff_ids/history, so one
                             * config blob serves every image of an arch (the
                             * bench tool; tools checking diff_ids reject it) */
} treg_image;

/* release-metadata JSON for version with previous (comma-separated list, may
 * be "") and an optional "release.openshift.io/architecture" value (NULL for
 * none). Returns a malloc'd string. */
char *treg_release_metadata(const char *version, const char *previous, const char *arch_meta);

/* Pushes img as repo:tag (tag NULL: by digest only). digest receives the
 * manifest digest "sha256:<64 hex>". */
int treg_push_image(treg *r, const char *repo, const char *tag, const treg_image *img,
                    char digest[72]);
/* Shorthand: a release image whose top layer holds
 * release-manifests/release-metadata for version/previous, above one filler
 * layer. */
int treg_push_release(treg *r, const char *repo, const char *tag, const char *arch,
                      const char *version, const char *previous, int oci, char digest[72]);
/* Pushes a manifest list (oci: OCI index) of already pushed manifests
 * (their media type and size are read back from the registry). */
int treg_push_index(treg *r, const char *repo, const char *tag, const char *const *digests,
                    const char *const *arches, size_t n, int oci, char digest[72]);
/* A cosign-style signature tag "sha256-<hex>.sig" for target_digest: an OCI
 * manifest with one application/vnd.dev.cosign.simplesigning.v1+json layer. */
int treg_push_signature(treg *r, const char *repo, const char *target_digest);
/* A graph-data image: every regular file under dir goes into one layer under
 * var/lib/cincinnati-graph-data/ (as OSUS's graph-data images carry it). */
int treg_push_graph_data(treg *r, const char *repo, const char *tag, const char *dir,
                         char digest[72]);

/* Damages a stored blob in place: truncate != 0 cuts it to half its size,
 * else flips bytes in the middle (the registry then serves bytes that no
 * longer match the digest). */
int treg_damage_blob(treg *r, const char *digest, int truncate);
/* The layer digests of the manifest at digest, top-most last; n receives the
 * count (up to max). */
int treg_manifest_layers(treg *r, const char *repo, const char *digest, char (*layers)[72],
                         size_t max, size_t *n);

/* A fault proxy in front of r (in front of the token front with token_auth;
 * plain http even when r uses tls): clients use treg_proxy_location(), and
 * r's auth file also holds credentials for the proxy's host. PATH is the
 * request path without the query. Rules are tried in order against
 * "METHOD PATH" (substring); a rule fires for its first `times` matches
 * (0: always); the first rule that still fires wins. STATUS answers without
 * forwarding; DELAY waits, then forwards; TRUNCATE forwards and announces the
 * full Content-Length but closes after half the body. */
typedef enum { TREG_FAULT_STATUS, TREG_FAULT_DELAY, TREG_FAULT_TRUNCATE } treg_fault_kind;
typedef struct treg_fault {
    const char *match;  /* e.g. "GET /v2/rel/blobs/"; NULL or "": every request */
    treg_fault_kind kind;
    int status;         /* TREG_FAULT_STATUS: e.g. 503 */
    unsigned delay_ms;  /* TREG_FAULT_DELAY: before answering */
    unsigned times;
} treg_fault;
typedef struct treg_proxy treg_proxy;
int treg_proxy_start(treg_proxy **out, treg *r, const treg_fault *rules, size_t nrules);
const char *treg_proxy_location(const treg_proxy *p); /* "http://127.0.0.1:PORT" */
const char *treg_proxy_host(const treg_proxy *p);     /* "127.0.0.1:PORT" */
/* Requests the proxy has received (forwarded or answered by a rule) whose
 * "METHOD PATH" contains match ("" counts all). */
size_t treg_proxy_count(const treg_proxy *p, const char *match);
/* How many times rule number `rule` (0-based) has fired. */
unsigned treg_proxy_fired(const treg_proxy *p, size_t rule);
void treg_proxy_stop(treg_proxy *p); /* NULL-safe */

#endif
