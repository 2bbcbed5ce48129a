/* ingest/ingest.h - reading the world: release records and graph-data.
 *
 * Ingest turns files (and later registries and git) into plain in-memory
 * records. It applies no policy: policy/ turns these records into a graph.
 * Every parse error names the file and, where there is one, the line.
 */
#ifndef CINCY_INGEST_H
#define CINCY_INGEST_H

#include <stddef.h>

#include "graph/graph.h"

/* ---------------------------------------------------------------------------
 * Releases. One record per release image, whatever its source. The directory
 * source reads this layout (docs/release-dir.md):
 *
 *   <root>/<any name>/release-metadata   exact bytes of the image's
 *                                         release-manifests/release-metadata
 *   <root>/<any name>/image.json         {"payload": "<registry>/<repo>@sha256:<hex>",
 *                                          "architecture": "amd64"}
 *
 * Subdirectories may be nested one level (e.g. <root>/<arch>/<name>/...).
 */
typedef struct ingest_release {
    char *version;     /* release-metadata "version", verbatim (validated semver) */
    char *payload;     /* pull spec, registry/repo@sha256:<hex> */
    char *arch;        /* amd64, arm64, ppc64le, s390x or multi */
    char *manifestref; /* "sha256:<hex>" from the payload's digest */
    char **previous;   /* release-metadata "previous" (semver strings) */
    size_t nprevious;
    char **next; /* release-metadata "next" */
    size_t nnext;
    char **meta_keys; /* release-metadata "metadata", file order */
    char **meta_values;
    size_t nmeta;
    char *source; /* where it came from (path), for error messages */
} ingest_release;

typedef struct ingest_releases {
    ingest_release *items;
    size_t count;
} ingest_releases;

/* Parses one release-metadata document (JSON, kind cincinnati-metadata-v0) into
 * the version/previous/next/meta fields of out; the other fields are left NULL.
 * file names the document in errors. Unknown top-level keys are ignored; a wrong
 * kind, a non-semver version or a non-string metadata value is CINCY_EINVALID. */
int ingest_release_metadata_parse(ingest_release *out, const char *json, size_t len,
                                  const char *file, cincy_error *err);
void ingest_release_clear(ingest_release *r); /* frees what r owns; NULL-safe */

/* Loads every release under root (layout above). A release directory that
 * fails to parse makes the whole load fail with its path in err: a release
 * directory is produced by tools, so a bad one is a bug worth stopping on. */
int ingest_releases_load_dir(ingest_releases **out, const char *root, cincy_error *err);
void ingest_releases_free(ingest_releases *rs); /* NULL-safe */

/* ---------------------------------------------------------------------------
 * Registry scrape (docs/registry.md): the release images of one repository in
 * a Docker Registry HTTP API v2 become release records (spec §3). Every tag
 * is listed (paginated); manifests are accepted as Docker schema 2, OCI image
 * manifest, Docker manifest list and OCI index; the config blob gives the
 * arch; layers are streamed from the top-most down through libarchive until
 * release-manifests/release-metadata is found. Every blob and manifest is
 * checked against its SHA-256 digest before what it holds is used.
 *
 * Failures: an unreachable registry, a failed tag listing, a 401 the
 * credentials do not cure, or a request that still fails after retries (5xx,
 * 429, timeout, reset, cut-short body) fails the whole scrape, so the caller
 * keeps its last good graph. Bad content in one image (digest mismatch,
 * broken gzip/tar, invalid release-metadata, oversized manifest) rejects
 * that tag with one warn line naming tag and digest; an image without
 * release-metadata, a multi shard and a signature tag (sha256-<hex>.sig) are
 * skipped with one info/debug line. An auth_file that cannot be read or
 * parsed is CINCY_EINVALID (not a silent fall-back to anonymous).
 * Thread: one scrape per config at a time; scrapes of different configs may
 * run concurrently.
 */
typedef struct ingest_registry_config {
    const char *repository;   /* "host[:port]/path/repo"; an "http://" prefix means plain
                               * HTTP, "https://" (the default) may be written */
    const char *auth_file;    /* docker config.json / pull secret, or NULL: anonymous */
    const char *ca_file;      /* extra PEM CA bundle on top of the system CAs, or NULL */
    int insecure;             /* 1: do not verify TLS certificates (test registries) */
    const char *cache_dir;    /* on-disk cache keyed by manifest digest, or NULL */
    unsigned concurrency;     /* requests in flight; 0: 8 */
    unsigned timeout_seconds; /* per request; 0: 60 */
    unsigned retries;         /* extra attempts per request, with backoff; 0: 2 */
    int trust_tags;           /* 1 (with cache_dir): a tag seen by the last scrape is taken to
                               * name the same image still and is not asked again; only new
                               * tags cost requests. For repositories whose tags never move
                               * (OpenShift's release tags): a moved tag goes unnoticed. */
} ingest_registry_config;

typedef struct ingest_scrape_stats {
    size_t tags;              /* tags listed */
    size_t releases;          /* release records produced */
    size_t skipped;           /* tags skipped: signatures, no metadata, multi shards */
    size_t rejected;          /* tags with bad content (digest mismatch, bad archive/metadata) */
    size_t manifests_fetched; /* manifest GETs (retries not counted) */
    size_t blobs_fetched;     /* config and layer blobs read (0 on a warm rescrape) */
    size_t cache_hits;        /* manifests whose release came from cache_dir */
    unsigned long long bytes_fetched;
} ingest_scrape_stats;

/* Scrapes cfg->repository into *out (payload "host[:port]/repo@sha256:<hex>",
 * manifestref, arch; multi for lists of more than one entry). stats may be
 * NULL. Returns 0, or < 0 with err naming the registry, repository and, where
 * there is one, the tag and the request that failed. */
int ingest_registry_scrape(ingest_releases **out, const ingest_registry_config *cfg,
                           ingest_scrape_stats *stats, cincy_error *err);

/* Appends every record of src to dst (moving, src is left empty). */
int ingest_releases_merge(ingest_releases *dst, ingest_releases *src, cincy_error *err);

/* ---------------------------------------------------------------------------
 * Graph-data in the layout of openshift/cincinnati-graph-data:
 *   version, channels/<name>.yaml, blocked-edges/<name>.yaml, raw/metadata.json
 */
typedef struct ingest_channel {
    char *name;      /* "name:" from the file (the file name is not used) */
    char **versions; /* "versions:", file order, each a valid semver string */
    size_t nversions;
    char *file; /* "channels/stable-4.16.yaml" */
} ingest_channel;

typedef struct ingest_block {
    char *to;        /* target version (semver string) */
    char *from;      /* regular expression over source "x.y.z+arch" strings */
    int is_risk;     /* 0: pure block (remove edges); 1: conditional risk */
    graph_risk risk; /* when is_risk */
    char *file;      /* "blocked-edges/4.16.0-Foo.yaml" */
} ingest_block;

typedef struct ingest_raw_meta {
    char *version; /* key of raw/metadata.json, a valid semver string */
    char **keys;
    char **values;
    size_t n;
} ingest_raw_meta;

typedef struct ingest_graph_data {
    char *schema_version;     /* contents of "version", trimmed, e.g. "1.1.0" */
    ingest_channel *channels; /* sorted by file name */
    size_t nchannels;
    ingest_block *blocks; /* sorted by file name */
    size_t nblocks;
    ingest_raw_meta *raw; /* file order */
    size_t nraw;
    char *root; /* directory it was read from */
} ingest_graph_data;

/* Loads graph-data from dir. Fatal (CINCY_EINVALID, nothing returned): missing
 * version file, channels/ or blocked-edges/ directory, or raw/metadata.json; a
 * schema version that is not semver or whose major is not 1; raw/metadata.json
 * that is not a JSON object of objects of strings. Per-file problems in channels/
 * and blocked-edges/ (bad YAML, wrong shape, bad version, bad regex) skip that
 * file with a warning naming file and line, as the reference does; .yml and
 * other extensions are ignored. */
int ingest_graph_data_load_dir(ingest_graph_data **out, const char *dir, cincy_error *err);
/* The same with flags. INGEST_GD_STRICT: a file in channels/ or blocked-edges/
 * that cannot be read or parsed fails the whole load with its error (file,
 * line, field) instead of being skipped, so a refresh keeps its last good
 * graph rather than serving one without that channel or block. */
#define INGEST_GD_STRICT 1u
int ingest_graph_data_load(ingest_graph_data **out, const char *dir, unsigned flags,
                           cincy_error *err);
void ingest_graph_data_free(ingest_graph_data *gd); /* NULL-safe */

/* Stricter parse of one channel / blocked-edge file, used by the loader and by
 * tests: returns CINCY_EINVALID with file:line on any problem. rel names the
 * file in messages ("channels/x.yaml"). */
int ingest_channel_parse(ingest_channel *out, const char *yaml, size_t len, const char *rel,
                         cincy_error *err);
void ingest_channel_clear(ingest_channel *c);
int ingest_block_parse(ingest_block *out, const char *yaml, size_t len, const char *rel,
                       cincy_error *err);
void ingest_block_clear(ingest_block *b);

/* ---------------------------------------------------------------------------
 * Checking graph-data (`cincy check`, ingest/check.c). Unlike the loader,
 * which skips a bad file at its first problem, the check reads every file the
 * loader reads and reports every problem it can find, each with file, line
 * and field, plus cross-file problems the loader cannot see (two channels with
 * one name, a risk name reused with a different url, a block whose target is
 * in no channel).
 *
 * An error is something the server rejects or skips, a key no reader defines
 * (a typo whose value is lost), or data that contradicts itself (one risk
 * name with two urls); a warning is accepted but probably a mistake (a .yml
 * file the server never reads, a `from` that matches no version in any
 * channel).
 */
typedef enum { INGEST_CHECK_ERROR, INGEST_CHECK_WARNING } ingest_check_severity;

typedef struct ingest_check_finding {
    ingest_check_severity severity;
    char *file;    /* relative to the checked directory: "channels/x.yaml", "version" */
    int line;      /* 1-based; 0 when the problem has no line (a missing file) */
    char *field;   /* "versions[3]", "matchingRules[0].promql.promql"; NULL for the whole file */
    char *message; /* one line, the field named in it: "field 'to': '4.x' is not a valid version" */
} ingest_check_finding;

typedef struct ingest_check_report {
    ingest_check_finding *findings; /* sorted by file, then line, then the order found */
    size_t count;
    size_t errors;   /* findings with INGEST_CHECK_ERROR */
    size_t warnings; /* findings with INGEST_CHECK_WARNING */
    char *dir;       /* the directory as given */
} ingest_check_report;

/* Checks the graph-data in dir. Problems in the data are findings, not
 * failures: the call returns 0 with a report even when every file is broken.
 * It fails only when dir is not a readable directory (CINCY_ENOTFOUND, err
 * names dir) or on out of memory (CINCY_ERROR). Free with
 * ingest_check_report_free. Thread: any (no shared state). */
int ingest_check_dir(ingest_check_report **out, const char *dir, cincy_error *err);
void ingest_check_report_free(ingest_check_report *r); /* NULL-safe */

/* The report as text, one finding a line, then a summary:
 *   channels/stable-4.16.yaml:12: field 'versions[10]': '4.16.x' is not a valid version
 *   channels/eus-4.16.yml: warning: ignored: the server reads only .yaml files
 *   1 error, 1 warning in DIR
 * Errors read exactly like the loader's "skipping ..." log lines. Returns a
 * new string, or NULL on out of memory. */
char *ingest_check_report_text(const ingest_check_report *r);
/* The report as JSON: {"errors":N,"warnings":M,"findings":[{"severity":
 * "error"|"warning","file","line","field" (string or null),"message"}]},
 * newline-terminated. Returns a new string, or NULL on out of memory. */
char *ingest_check_report_json(const ingest_check_report *r);

/* ---------------------------------------------------------------------------
 * Demo data: writes release directories (layout above) for every version
 * listed in gd's channels, for amd64, arm64, s390x, ppc64le and multi.
 * previous = every lower version of the same major.minor, plus every version
 * of the previous minor listed in a channel file of this minor. Payload
 * digests are sha256("<arch>/<version>") so output is deterministic.
 * *out_count receives the number of releases written. */
int ingest_demo_write(const ingest_graph_data *gd, const char *out_dir, size_t *out_count,
                      cincy_error *err);

/* ---------------------------------------------------------------------------
 * Graph-data sources (docs/sources.md): where graph-data comes from and how
 * its revision is told apart, so the refresh loop rebuilds only on change.
 *   directory: a local tree; revision = SHA-256 over the sorted paths and
 *              contents of the files the server reads.
 *   git:       a repository URL (path, file://, https://) fetched with libgit2
 *              into cache_dir; reference = branch name or full commit id;
 *              revision = commit id.
 *   tarball:   a local .tar.gz or an http(s):// URL (libcurl, ETag and
 *              If-Modified-Since); revision = SHA-256 of the archive bytes.
 *              A single top-level directory in the archive is stripped.
 *   image:     a graph-data container image "host[:port]/repo:tag" (or
 *              "@sha256:<hex>"), as oc-mirror and the OSUS operator use: its
 *              layers carry the tree under var/lib/cincinnati-graph-data/;
 *              revision = manifest digest. Registry access as the scrape.
 * Thread: one source is used by one thread at a time.
 */
typedef enum {
    INGEST_SOURCE_DIRECTORY,
    INGEST_SOURCE_GIT,
    INGEST_SOURCE_TARBALL,
    INGEST_SOURCE_IMAGE,
} ingest_source_kind;

typedef struct ingest_source_config {
    ingest_source_kind kind;
    const char *location;                   /* directory path, git URL, or tarball path/URL */
    const char *reference;                  /* git: branch or commit id (NULL: the remote's HEAD) */
    const char *cache_dir;                  /* git, tarball, image: where fetched data is kept */
    const ingest_registry_config *registry; /* image: auth, CA, TLS, timeouts (its
                                             * repository is unused); NULL: defaults */
} ingest_source_config;

typedef struct ingest_source ingest_source;

/* Copies cfg (nothing is fetched yet). CINCY_EINVALID for a bad config. */
int ingest_source_new(ingest_source **out, const ingest_source_config *cfg, cincy_error *err);
void ingest_source_free(ingest_source *src); /* NULL-safe */

/* Looks at the source. When its revision differs from known (NULL: none
 * known yet), materialises the graph-data tree and sets *out_revision and
 * *out_dir (new malloc'd strings; out_dir is a directory that stays valid
 * until the next fetch of this source) and *changed = 1. When the revision
 * is unchanged sets *changed = 0 and touches nothing else. On failure
 * (unreachable remote, bad archive, missing branch) returns < 0 with err set
 * and leaves every output untouched. */
int ingest_source_fetch(ingest_source *src, const char *known, char **out_revision, char **out_dir,
                        int *changed, cincy_error *err);

/* ---------------------------------------------------------------------------
 * Upstream Cincinnati service (ingest/upstream.c, upstream_parse.c;
 * docs/upstream.md): the graphs another Cincinnati service serves (OpenShift's
 * https://api.openshift.com/api/upgrades_info/v1/graph, or another cincy) for
 * configured channels and arches, as records policy_build_upstream relays.
 *
 * A fetch GETs "<url>?channel=C&arch=A" for every configured pair (channels
 * outer, arches inner), one after the other on one connection, with
 * Accept: application/json, gzip accepted, redirects followed, and
 * If-None-Match carrying the ETag of the body held for that pair. A 304, or a
 * 200 whose bytes hash like the held body's, leaves that pair as it was; when
 * every pair is unchanged the fetch reports so and parses nothing.
 *
 * Each body is parsed strictly (spec §1.5): nodes {version (canonical semver,
 * no build), payload (non-empty), metadata (strings only)}, edges as in-range
 * index pairs, conditionalEdges {edges [{from,to}], risks [{url, name,
 * message, matchingRules [{type Always | PromQL, promql {promql}}]}]}; unknown
 * keys are ignored, duplicate keys and versions are errors. A conditional
 * pair naming a version absent from the same response (the reference's quirk
 * Q9) is skipped with a warning. Errors name the request URL (which carries
 * channel and arch) and the JSON path:
 *   upstream https://h/v1/graph?channel=stable-4.2&arch=amd64: nodes[3].payload: not a string
 *   upstream https://h/v1/graph?channel=stable-4.2&arch=amd64: HTTP/1.1 503 Service Unavailable
 * Any failure (connection, non-2xx, bad body, conflicting payloads) fails the
 * whole fetch and keeps the held state, so the next fetch asks again.
 * Thread: one fetch per handle at a time; the results are plain data.
 */
typedef struct ingest_upstream_config {
    const char *url;             /* graph endpoint, http(s)://host[:port]/path[?query];
                                  * channel and arch are appended to the query */
    const char *const *channels; /* names matching ^[0-9a-z\-\.]+$, at least one */
    size_t nchannels;
    const char *const *arches; /* names matching ^[0-9a-z]+$; NULL or 0: {"amd64"} */
    size_t narches;
    const char *ca_file;      /* extra PEM CA bundle, or NULL: the system CAs */
    int insecure;             /* 1: do not verify TLS certificates (tests) */
    unsigned timeout_seconds; /* per request; 0: 60 */
} ingest_upstream_config;

/* One conditionalEdges group's risks, in served order. */
typedef struct ingest_upstream_risks {
    graph_risk *items;
    size_t n;
} ingest_upstream_risks;

/* A conditional update pair as served. Its strings and risks are borrowed
 * from the graph that holds it (tens of thousands of pairs share a few
 * hundred risk lists). */
typedef struct ingest_upstream_cond {
    const char *arch;       /* the arch queried (the releases' arch) */
    const char *from, *to;  /* node versions as served (no "+arch") */
    size_t from_release;    /* index in ingest_upstream_graph.releases of from (same arch) */
    size_t to_release;      /* ... and of to */
    const graph_risk *risks; /* served order, at least one: an entry of risk_lists */
    size_t nrisks;
} ingest_upstream_cond;

/* Every pair's graph merged: a node served in several channels is one record.
 * Release records: version as served, payload, arch = the arch queried,
 * manifestref = metadata io.openshift.upgrades.graph.release.manifestref or
 * else the payload's "sha256:<hex>" digest (NULL if neither), metadata keys
 * and values exactly as served (channels key included), previous = sources
 * of its served edges (a set), next empty, source = the first request URL
 * that served it. Records are sorted by arch, then version string. */
typedef struct ingest_upstream_graph {
    ingest_releases releases;
    char **seen_in;               /* per release: the fetched channels that served it,
                                   * comma-joined in config order ("stable-4.1,stable-4.2") */
    ingest_upstream_cond *conds;  /* one per (arch, from, to), sorted by release index */
    size_t nconds;
    ingest_upstream_risks *risk_lists; /* what conds[].risks point into */
    size_t nrisk_lists;
    size_t pairs;                 /* channel/arch pairs merged */
} ingest_upstream_graph;

typedef struct ingest_upstream_stats {
    size_t requests;          /* GETs sent by this fetch */
    size_t not_modified;      /* answered 304 */
    size_t same_body;         /* answered 200 with the bytes already held */
    size_t changed;           /* answered with a new body (parsed) */
    unsigned long long bytes; /* body bytes received (after gzip decoding) */
} ingest_upstream_stats;

typedef struct ingest_upstream ingest_upstream;

/* Checks and copies cfg; nothing is fetched yet. CINCY_EINVALID names the bad
 * field (a url that is not http(s), a channel or arch the query would not
 * carry unchanged, a channel listed twice). */
int ingest_upstream_new(ingest_upstream **out, const ingest_upstream_config *cfg, cincy_error *err);
void ingest_upstream_free(ingest_upstream *up); /* NULL-safe */

/* Fetches every pair. When any pair's body changed since the last successful
 * fetch (always on the first), sets *changed = 1 and *out to a new merged
 * graph (free with ingest_upstream_graph_free). When every pair is unchanged,
 * sets *changed = 0 and *out = NULL. stats may be NULL. On failure returns
 * < 0 with err set, *out and *changed untouched, and the held state as
 * before the call. */
int ingest_upstream_fetch(ingest_upstream_graph **out, int *changed, ingest_upstream *up,
                          ingest_upstream_stats *stats, cincy_error *err);
/* The merged graph of the bodies held now, without any request: for a
 * rebuild that another input (local graph-data) asked for. CINCY_ENOTFOUND
 * before the first successful fetch. */
int ingest_upstream_current(ingest_upstream_graph **out, const ingest_upstream *up,
                            cincy_error *err);
void ingest_upstream_graph_free(ingest_upstream_graph *g); /* NULL-safe */

#endif
