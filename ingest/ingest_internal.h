/* ingest/ingest_internal.h - helpers shared by the ingest/ source files.
 * Never included from outside ingest/: file reading with size caps, sorted
 * directory listings, growable string arrays and the YAML document helpers
 * that the channel and blocked-edge parsers share. */
#ifndef CINCY_INGEST_INTERNAL_H
#define CINCY_INGEST_INTERNAL_H

#include <stddef.h>

#include <yaml.h>

#include "ingest/ingest.h"

/* ---------------------------------------------------------------------------
 * Files (ingest/fsutil.c)
 */

/* Reads the whole file at path into a new NUL-terminated buffer. Returns 0,
 * CINCY_ENOTFOUND (no such file), CINCY_ETOOBIG (larger than cap bytes) or
 * CINCY_ERROR (not a regular file, I/O). Errors name errname (the path the
 * user knows, e.g. "channels/x.yaml"). *out is untouched on failure. */
int ingest_read_file(char **out, size_t *out_len, const char *path, size_t cap, const char *errname,
                     cincy_error *err);

/* Writes len bytes to path (created or truncated, mode 0644). */
/* An archive entry's path as plain relative components ("./a//b/" -> "a/b")
 * in out (size bytes). A leading '/' is dropped when strip_root, else it is
 * refused. Returns -1 for a ".." component, a refused root or too long a
 * path: an archive never writes outside the directory it is unpacked in. */
int ingest_normalise_entry(char *out, size_t size, const char *in, int strip_root);
int ingest_write_file(const char *path, const char *data, size_t len, cincy_error *err);

/* mkdir -p: creates path and missing parents (mode 0755); existing is fine. */
int ingest_mkdir_p(const char *path, cincy_error *err);

/* Names in directory path, without "." and "..", sorted by strcmp. Returns 0,
 * CINCY_ENOTFOUND (no such directory) or CINCY_ERROR. Free with ingest_strv_free. */
int ingest_list_dir(char ***out, size_t *out_count, const char *path, cincy_error *err);

/* 1 when path is a directory / regular file (following symlinks). */
int ingest_is_dir(const char *path);
int ingest_is_file(const char *path);

/* "<a>/<b>" as a new string, or NULL on out of memory. */
char *ingest_path_join(const char *a, const char *b);

/* ---------------------------------------------------------------------------
 * Growable string arrays (ingest/fsutil.c). A NULL array with n == 0 is empty.
 */
typedef struct ingest_strv {
    char **items;
    size_t n;
    size_t cap;
} ingest_strv;

/* Appends a copy of s (len bytes). Returns 0 or CINCY_ERROR (out of memory). */
int ingest_strv_pushn(ingest_strv *v, const char *s, size_t len);
int ingest_strv_push(ingest_strv *v, const char *s);
/* Hands the array over (into *out and *n) and v is empty again. */
void ingest_strv_take(ingest_strv *v, char ***out, size_t *n);
void ingest_strv_clear(ingest_strv *v);
void ingest_strv_free(char **items, size_t n); /* frees each string and the array */

int ingest_oom(cincy_error *err); /* sets and returns CINCY_ERROR "out of memory" */

/* ---------------------------------------------------------------------------
 * YAML documents (ingest/yaml_doc.c): libyaml's document API with the checks
 * every graph-data file needs. Lines are 1-based (libyaml marks are 0-based).
 */
typedef struct ingest_yaml {
    yaml_document_t doc;
    int loaded;      /* doc must be deleted */
    const char *rel; /* file name for errors (borrowed) */
} ingest_yaml;

/* Loads exactly one YAML document whose root is a mapping. Errors: syntax
 * ("invalid yaml: ..." at the problem's line), empty input, a second document,
 * a non-mapping root. Call ingest_yaml_clear afterwards in every case. */
int ingest_yaml_load(ingest_yaml *y, const char *text, size_t len, const char *rel,
                     cincy_error *err);
void ingest_yaml_clear(ingest_yaml *y);

yaml_node_t *ingest_yaml_root(ingest_yaml *y);
yaml_node_t *ingest_yaml_node(ingest_yaml *y, int index); /* by libyaml node index */
int ingest_yaml_line(const yaml_node_t *node);            /* 1-based */

/* Finds the values of the named keys of a mapping in one pass. names has n
 * entries; values[i] receives the value node of names[i] or NULL. The key
 * node of the first key not in names goes to *unknown (NULL if none).
 * Duplicate keys and non-scalar keys are CINCY_EINVALID. */
int ingest_yaml_fields(ingest_yaml *y, yaml_node_t *map, const char *const *names, size_t n,
                       yaml_node_t **values, yaml_node_t **unknown, cincy_error *err);

/* Copies a scalar value into a new string. A non-scalar, a null (empty plain
 * scalar, "~", "null") or a value containing NUL is CINCY_EINVALID:
 * "field '<field>' must be a string". */
int ingest_yaml_string(char **out, ingest_yaml *y, yaml_node_t *node, const char *field,
                       cincy_error *err);

/* Like ingest_yaml_string, then checks the value is semver:
 * "field '<field>': '<v>' is not a valid version". */
int ingest_yaml_version(char **out, ingest_yaml *y, yaml_node_t *node, const char *field,
                        cincy_error *err);

/* Shared by the JSON readers: the message for a bad version, with the value
 * cut short so a hostile file cannot fill the log line. */
#define INGEST_QUOTE_MAX 80

/* ---------------------------------------------------------------------------
 * The graph-data check (ingest/check.c, check_files.c, check_report.c).
 * check_files.c reads one channel or blocked-edge file into a record and
 * reports that file's own problems; check.c walks the directory and compares
 * the records with each other; check_report.c sorts and prints.
 */
typedef struct ingest_check_entry {
    char *text;      /* a valid version entry, as written */
    graph_version v; /* parsed */
    int line;
} ingest_check_entry;

typedef struct ingest_check_channel {
    char *file; /* "channels/stable-4.16.yaml" */
    char *name; /* NULL when missing or not a usable string */
    int name_line;
    ingest_check_entry *entries; /* the valid versions only, file order */
    size_t nentries;
} ingest_check_channel;

typedef struct ingest_check_block {
    char *file; /* "blocked-edges/4.16.0-Foo.yaml" */
    char *to;   /* NULL when missing or not a version */
    graph_version to_v;
    int to_line;
    char *from; /* NULL when missing or not a valid regex */
    int from_line;
    int is_risk;     /* has any risk field */
    graph_risk risk; /* url/name/message NULL when missing or bad */
    int url_line, message_line, rules_line;
    int rules_ok; /* matchingRules present and every rule valid */
} ingest_check_block;

typedef struct ingest_check_ctx {
    ingest_check_report *report;
    int oom;                        /* sticky: an allocation failed, the report is incomplete */
    ingest_check_channel *channels; /* in file-name order */
    size_t nchannels, capchannels;
    ingest_check_block *blocks; /* in file-name order */
    size_t nblocks, capblocks;
} ingest_check_ctx;

/* Adds a finding; on out of memory sets c->oom instead. field may be NULL. */
void ingest_check_add(ingest_check_ctx *c, ingest_check_severity sev, const char *file, int line,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Turns a failed ingest_* call into a finding of the given severity (its
 * file, line and message as set in e), or sets c->oom when rc says out of
 * memory. Returns 1 when rc is CINCY_OK, else 0. */
int ingest_check_note(ingest_check_ctx *c, int rc, const cincy_error *e, ingest_check_severity sev,
                      const char *field);

/* Check one file's text and append its record to c (check_files.c). */
void ingest_check_channel_file(ingest_check_ctx *c, const char *text, size_t len, const char *rel);
void ingest_check_block_file(ingest_check_ctx *c, const char *text, size_t len, const char *rel);
void ingest_check_channel_clear(ingest_check_channel *ch);
void ingest_check_block_clear(ingest_check_block *b);

/* Sorts r's findings by file, then line, stable (check_report.c). */
void ingest_check_report_sort(ingest_check_report *r);

/* ---------------------------------------------------------------------------
 * Graph-data sources (ingest/source.c, source_git.c, source_tarball.c,
 * source_image.c).
 * source.c checks the config, hashes directories and dispatches; each kind's
 * file fetches and materialises into src->cache_dir.
 */
struct ingest_source {
    ingest_source_kind kind;
    char *location;  /* copied from the config */
    char *reference; /* git only; NULL: the remote's HEAD */
    char *cache_dir; /* git and tarball; NULL for a directory */
    char *etag;      /* tarball URL: validators of the last 200 response */
    char *last_modified;
    ingest_registry_config registry; /* image: a copy; its strings are owned below */
    char *reg_auth_file, *reg_ca_file;
};

/* Kind-specific fetches, with ingest_source_fetch's contract. */
int ingest_source_git_fetch(ingest_source *src, const char *known, char **out_revision,
                            char **out_dir, int *changed, cincy_error *err);
int ingest_source_tarball_fetch(ingest_source *src, const char *known, char **out_revision,
                                char **out_dir, int *changed, cincy_error *err);
int ingest_source_image_fetch(ingest_source *src, const char *known, char **out_revision,
                              char **out_dir, int *changed, cincy_error *err);

/* Lower-case hex of a SHA-256 digest (32 bytes) into out (65 bytes). */
void ingest_hex(char *out, const unsigned char *digest, size_t len);

/* Removes path and everything below it (no symlink is followed). Missing is
 * fine. Returns 0 or CINCY_ERROR naming the path that could not go. */
int ingest_rm_rf(const char *path, cincy_error *err);

/* Removes every entry of dir except the one named keep (may be NULL):
 * the trees of earlier fetches. Best effort: failures are ignored, a later
 * fetch tries again. */
void ingest_source_prune(const char *dir, const char *keep);

/* 1 when the top-level entry name of a graph-data tree is one the server
 * reads (version, LICENSE, channels, blocked-edges, raw). */
int ingest_source_wanted(const char *name);

/* 1 when the server reads a file of this name in channels/ or blocked-edges/:
 * its extension matches the reference's unanchored regex `ya+ml` (so `.yaml`
 * and `.yaaml`, never `.yml`); a leading dot (".yaml") is a name, not an
 * extension, as with Rust's Path::extension (graph_data.c; cincy check too). */
int ingest_has_yaml_extension(const char *name);

/* 1 when a risk's url is one the cluster API accepts: http(s)://, a host, no
 * whitespace or control bytes (block.c; cincy check uses the same rule). */
int ingest_risk_url_valid(const char *url);

#endif
