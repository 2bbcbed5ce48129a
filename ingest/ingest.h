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
    char *version;      /* release-metadata "version", verbatim (validated semver) */
    char *payload;      /* pull spec, registry/repo@sha256:<hex> */
    char *arch;         /* amd64, arm64, ppc64le, s390x or multi */
    char *manifestref;  /* "sha256:<hex>" from the payload's digest */
    char **previous;    /* release-metadata "previous" (semver strings) */
    size_t nprevious;
    char **next;        /* release-metadata "next" */
    size_t nnext;
    char **meta_keys;   /* release-metadata "metadata", file order */
    char **meta_values;
    size_t nmeta;
    char *source;       /* where it came from (path), for error messages */
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
 * Graph-data in the layout of openshift/cincinnati-graph-data:
 *   version, channels/<name>.yaml, blocked-edges/<name>.yaml, raw/metadata.json
 */
typedef struct ingest_channel {
    char *name;       /* "name:" from the file (the file name is not used) */
    char **versions;  /* "versions:", file order, each a valid semver string */
    size_t nversions;
    char *file;       /* "channels/stable-4.16.yaml" */
} ingest_channel;

typedef struct ingest_block {
    char *to;         /* target version (semver string) */
    char *from;       /* regular expression over source "x.y.z+arch" strings */
    int is_risk;      /* 0: pure block (remove edges); 1: conditional risk */
    graph_risk risk;  /* when is_risk */
    char *file;       /* "blocked-edges/4.16.0-Foo.yaml" */
} ingest_block;

typedef struct ingest_raw_meta {
    char *version;    /* key of raw/metadata.json, a valid semver string */
    char **keys;
    char **values;
    size_t n;
} ingest_raw_meta;

typedef struct ingest_graph_data {
    char *schema_version;      /* contents of "version", trimmed, e.g. "1.1.0" */
    ingest_channel *channels;  /* sorted by file name */
    size_t nchannels;
    ingest_block *blocks;      /* sorted by file name */
    size_t nblocks;
    ingest_raw_meta *raw;      /* file order */
    size_t nraw;
    char *root;                /* directory it was read from */
} ingest_graph_data;

/* Loads graph-data from dir. Fatal (CINCY_EINVALID, nothing returned): missing
 * version file, channels/ or blocked-edges/ directory, or raw/metadata.json; a
 * schema version that is not semver or whose major is not 1; raw/metadata.json
 * that is not a JSON object of objects of strings. Per-file problems in channels/
 * and blocked-edges/ (bad YAML, wrong shape, bad version, bad regex) skip that
 * file with a warning naming file and line, as the reference does; .yml and
 * other extensions are ignored. */
int ingest_graph_data_load_dir(ingest_graph_data **out, const char *dir, cincy_error *err);
void ingest_graph_data_free(ingest_graph_data *gd); /* NULL-safe */

/* Stricter parse of one channel / blocked-edge file, used by the loader and by
 * tests: returns CINCY_EINVALID with file:line on any problem. rel names the
 * file in messages ("channels/x.yaml"). */
int ingest_channel_parse(ingest_channel *out, const char *yaml, size_t len,
                         const char *rel, cincy_error *err);
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
 * Thread: one source is used by one thread at a time.
 */
typedef enum {
    INGEST_SOURCE_DIRECTORY,
    INGEST_SOURCE_GIT,
    INGEST_SOURCE_TARBALL,
} ingest_source_kind;

typedef struct ingest_source_config {
    ingest_source_kind kind;
    const char *location;  /* directory path, git URL, or tarball path/URL */
    const char *reference; /* git: branch or commit id (NULL: the remote's HEAD) */
    const char *cache_dir; /* git and tarball: where fetched data is kept */
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
int ingest_source_fetch(ingest_source *src, const char *known, char **out_revision,
                        char **out_dir, int *changed, cincy_error *err);

#endif
