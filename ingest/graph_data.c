/* ingest/graph_data.c - loads a cincinnati-graph-data directory (spec §2.1-§2.7).
 *
 * The layout is version, channels/<name>.yaml, blocked-edges/<name>.yaml and
 * raw/metadata.json. Whole-directory problems (a missing path, an unsupported
 * schema, a malformed raw/metadata.json) fail the load so the server keeps its
 * previous graph. A bad channel or blocked-edge file is only skipped with a
 * warning: the reference does the same, and one typo in 1700 files should not
 * stop every other risk from being served. Files are read in sorted name
 * order so the result, and the log, never depend on the file system. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ingest_internal.h"

/* "1.1.0\n" in practice; anything near this size is not a version file. */
#define GD_VERSION_MAX 1024
/* The largest real channel or blocked-edge file is about 3 KiB. 1 MiB leaves
 * room for channels listing every release ever, and bounds what a hostile
 * graph-data push can make us parse per file. */
#define GD_YAML_MAX (1u << 20)
/* raw/metadata.json holds four entries today; 16 MiB still bounds memory. */
#define GD_RAW_MAX (16u << 20)

static const char *const required_paths[] = {"version", "channels", "blocked-edges",
                                             "raw/metadata.json"};

/* Checked before anything is parsed, so a half-copied directory is reported
 * by the missing path rather than by whatever parse happens to fail first. */
static int check_layout(const char *dir, cincy_error *err)
{
    if (!ingest_is_dir(dir))
        return cincy_error_set(err, CINCY_EINVALID, dir, 0, "graph-data directory does not exist");
    for (size_t i = 0; i < sizeof(required_paths) / sizeof(*required_paths); i++) {
        char *p = ingest_path_join(dir, required_paths[i]);
        int dir_wanted = i == 1 || i == 2;
        int ok;

        if (!p)
            return ingest_oom(err);
        ok = dir_wanted ? ingest_is_dir(p) : ingest_is_file(p);
        free(p);
        if (!ok)
            return cincy_error_set(err, CINCY_EINVALID, required_paths[i], 0,
                                   "required %s missing from graph-data directory '%s'",
                                   dir_wanted ? "directory" : "file", dir);
    }
    return CINCY_OK;
}

/* Reads a required file; any failure (even a vanished file) is fatal. */
static int read_required(char **out, size_t *len, const char *dir, const char *rel, size_t cap,
                         cincy_error *err)
{
    char *p = ingest_path_join(dir, rel);
    int error;

    if (!p)
        return ingest_oom(err);
    error = ingest_read_file(out, len, p, cap, rel, err);
    free(p);
    if (error == CINCY_ENOTFOUND)
        error = cincy_error_set(err, CINCY_EINVALID, rel, 0,
                                "required file missing from graph-data directory '%s'", dir);
    return error;
}

static int load_schema_version(ingest_graph_data *gd, const char *dir, cincy_error *err)
{
    char *text = NULL, *s, *end;
    size_t len;
    graph_version v = {0};
    int error, line = 1; /* of the version text, for errors */

    if ((error = read_required(&text, &len, dir, "version", GD_VERSION_MAX, err)) < 0)
        return error;
    for (s = text; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
        line += *s == '\n';
    for (end = text + len;
         end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r');
         end--)
        ;
    *end = '\0';
    if (!*s)
        line = 1; /* an empty file: blank lines are not where the error is */
    if (memchr(text, '\0', (size_t)(end - text)) || graph_version_parse(&v, s, NULL) < 0) {
        error = cincy_error_set(err, CINCY_EINVALID, "version", line,
                                "'%.*s' is not a valid schema version", INGEST_QUOTE_MAX, s);
        goto cleanup;
    }
    if (v.major != 1) {
        error = cincy_error_set(err, CINCY_EINVALID, "version", line,
                                "graph-data schema %s is not supported (this server reads 1.x)", s);
        goto cleanup;
    }
    /* The reference accepts newer minors too (spec §2.2, quirk Q10); we follow
     * it, since refusing would stop all updates over a feature we can skip. */
    if (v.minor > 2)
        cincy_log(CINCY_LOG_WARN, "ingest",
                  "graph-data schema %s is newer than 1.2 and may use unsupported features", s);
    if (!(gd->schema_version = strdup(s)))
        error = ingest_oom(err);

cleanup:
    graph_version_clear(&v);
    free(text);
    return error;
}

/* The reference reads a file when its extension matches the unanchored
 * regex `ya+ml` (so `.yaml` and `.yaaml`, never `.yml`). Like Rust's
 * Path::extension, a leading dot (".yaml") is a name, not an extension. */
int ingest_has_yaml_extension(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (!dot || dot == name)
        return 0;
    for (const char *p = strchr(dot + 1, 'y'); p; p = strchr(p + 1, 'y')) {
        const char *q = p + 1;
        if (*q != 'a')
            continue;
        while (*q == 'a')
            q++;
        if (q[0] == 'm' && q[1] == 'l')
            return 1;
    }
    return 0;
}

typedef int (*parse_fn)(ingest_graph_data *gd, const char *text, size_t len, const char *rel,
                        cincy_error *err);

static int add_channel(ingest_graph_data *gd, const char *text, size_t len, const char *rel,
                       cincy_error *err)
{
    ingest_channel c;
    int error;

    if ((error = ingest_channel_parse(&c, text, len, rel, err)) < 0)
        return error;
    if ((gd->nchannels & (gd->nchannels - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        ingest_channel *a =
            realloc(gd->channels, (gd->nchannels ? gd->nchannels * 2 : 1) * sizeof(*a));
        if (!a) {
            ingest_channel_clear(&c);
            return ingest_oom(err);
        }
        gd->channels = a;
    }
    gd->channels[gd->nchannels++] = c;
    return CINCY_OK;
}

static int add_block(ingest_graph_data *gd, const char *text, size_t len, const char *rel,
                     cincy_error *err)
{
    ingest_block b;
    int error;

    if ((error = ingest_block_parse(&b, text, len, rel, err)) < 0)
        return error;
    if ((gd->nblocks & (gd->nblocks - 1)) == 0) {
        ingest_block *a = realloc(gd->blocks, (gd->nblocks ? gd->nblocks * 2 : 1) * sizeof(*a));
        if (!a) {
            ingest_block_clear(&b);
            return ingest_oom(err);
        }
        gd->blocks = a;
    }
    gd->blocks[gd->nblocks++] = b;
    return CINCY_OK;
}

static void warn_skipped(const cincy_error *e)
{
    char buf[1024];
    cincy_log(CINCY_LOG_WARN, "ingest", "skipping %s", cincy_error_format(e, buf, sizeof(buf)));
}

/* How a load treats a bad file in channels/ or blocked-edges/. */
typedef struct load_mode {
    int strict;     /* 1: the first bad file fails the load */
    size_t skipped; /* files skipped so far (lenient mode) */
} load_mode;

/* Reads and parses one candidate file. A file that cannot be read (vanished,
 * not a regular file, over the cap) or that parses as CINCY_EINVALID is logged
 * and skipped, or in strict mode fails the load with its error; the parsers
 * return CINCY_ERROR only when out of memory, and that always fails it. */
static int load_one(ingest_graph_data *gd, const char *path, const char *rel, parse_fn parse,
                    load_mode *mode, cincy_error *err)
{
    cincy_error e;
    char *text = NULL;
    size_t len;
    int error;

    cincy_error_clear(&e);
    error = ingest_read_file(&text, &len, path, GD_YAML_MAX, rel, &e);
    if (error == CINCY_OK) {
        error = parse(gd, text, len, rel, &e);
        free(text);
        if (error == CINCY_OK)
            return CINCY_OK;
    } else {
        error = CINCY_EINVALID; /* unreadable, vanished, too big: a bad file like any other */
    }
    if (error != CINCY_EINVALID || mode->strict) {
        if (err)
            *err = e;
        return error;
    }
    warn_skipped(&e);
    mode->skipped++;
    return CINCY_OK;
}

static int load_yaml_dir(ingest_graph_data *gd, const char *dir, const char *sub, parse_fn parse,
                         load_mode *mode, cincy_error *err)
{
    char **names = NULL, *subdir = NULL, *path = NULL, *rel = NULL;
    size_t n = 0;
    int error;

    if (!(subdir = ingest_path_join(dir, sub))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if ((error = ingest_list_dir(&names, &n, subdir, err)) < 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (!ingest_has_yaml_extension(names[i])) {
            cincy_log(CINCY_LOG_DEBUG, "ingest", "ignoring %s/%s: not a .yaml file", sub, names[i]);
            continue;
        }
        if (!(path = ingest_path_join(subdir, names[i])) ||
            !(rel = ingest_path_join(sub, names[i]))) {
            error = ingest_oom(err);
            goto cleanup;
        }
        if ((error = load_one(gd, path, rel, parse, mode, err)) < 0)
            goto cleanup;
        free(path);
        free(rel);
        path = rel = NULL;
    }

cleanup:
    free(path);
    free(rel);
    free(subdir);
    ingest_strv_free(names, n);
    return error;
}

/* One entry of raw/metadata.json: a flat object of strings. */
static int raw_entry(ingest_raw_meta *out, const char *version, json_t *obj, cincy_error *err)
{
    ingest_strv keys = {0}, values = {0};
    const char *k;
    json_t *v;

    if (!json_is_object(obj))
        return cincy_error_set(err, CINCY_EINVALID, "raw/metadata.json", 0,
                               "field '%.*s' must be an object", INGEST_QUOTE_MAX, version);
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v)) {
            ingest_strv_clear(&keys);
            ingest_strv_clear(&values);
            return cincy_error_set(err, CINCY_EINVALID, "raw/metadata.json", 0,
                                   "field '%.*s' key '%.*s' must be a string", INGEST_QUOTE_MAX,
                                   version, INGEST_QUOTE_MAX, k);
        }
        if (ingest_strv_push(&keys, k) < 0 ||
            ingest_strv_pushn(&values, json_string_value(v), json_string_length(v)) < 0) {
            ingest_strv_clear(&keys);
            ingest_strv_clear(&values);
            return ingest_oom(err);
        }
    }
    memset(out, 0, sizeof(*out));
    if (!(out->version = strdup(version))) {
        ingest_strv_clear(&keys);
        ingest_strv_clear(&values);
        return ingest_oom(err);
    }
    ingest_strv_take(&keys, &out->keys, &out->n);
    ingest_strv_take(&values, &out->values, &out->n);
    return CINCY_OK;
}

static void raw_meta_clear(ingest_raw_meta *r)
{
    free(r->version);
    ingest_strv_free(r->keys, r->n);
    ingest_strv_free(r->values, r->n);
}

static int load_raw(ingest_graph_data *gd, const char *dir, cincy_error *err)
{
    char *text = NULL;
    size_t len;
    json_error_t jerr;
    json_t *root = NULL, *obj;
    const char *key;
    int error;

    if ((error = read_required(&text, &len, dir, "raw/metadata.json", GD_RAW_MAX, err)) < 0)
        return error;
    graph_json_oom_reset();
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (graph_json_oom_seen()) { /* jansson's own verdict is unreliable then */
        error = ingest_oom(err);
        goto cleanup;
    }
    if (!root) {
        error = cincy_error_set(err, CINCY_EINVALID, "raw/metadata.json", jerr.line,
                                "invalid json: %s", jerr.text);
        goto cleanup;
    }
    if (!json_is_object(root)) {
        error = cincy_error_set(err, CINCY_EINVALID, "raw/metadata.json", 0,
                                "top level must be an object");
        goto cleanup;
    }
    if (json_object_size(root) && !(gd->raw = calloc(json_object_size(root), sizeof(*gd->raw)))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    json_object_foreach(root, key, obj)
    {
        ingest_raw_meta entry;
        graph_version v;

        if ((error = raw_entry(&entry, key, obj, err)) < 0)
            goto cleanup;
        /* Types are checked first, as the reference deserialises the whole
         * map before it looks at versions. */
        if ((error = graph_version_parse(&v, key, NULL)) == CINCY_ERROR) {
            raw_meta_clear(&entry); /* out of memory: not a reason to drop the entry */
            error = ingest_oom(err);
            goto cleanup;
        }
        if (error < 0) {
            cincy_log(CINCY_LOG_WARN, "ingest",
                      "raw/metadata.json: ignoring entry '%.*s': not a valid version",
                      INGEST_QUOTE_MAX, key);
            raw_meta_clear(&entry);
            error = 0; /* a skipped entry does not fail the load */
            continue;
        }
        graph_version_clear(&v);
        gd->raw[gd->nraw++] = entry;
    }

cleanup:
    json_decref(root);
    free(text);
    return error;
}

int ingest_graph_data_load_dir(ingest_graph_data **out, const char *dir, cincy_error *err)
{
    return ingest_graph_data_load(out, dir, 0, err);
}

int ingest_graph_data_load(ingest_graph_data **out, const char *dir, unsigned flags,
                           cincy_error *err)
{
    ingest_graph_data *gd = NULL;
    load_mode mode = {(flags & INGEST_GD_STRICT) != 0, 0};
    size_t risks = 0;
    int error;

    if ((error = check_layout(dir, err)) < 0)
        return error;
    if (!(gd = calloc(1, sizeof(*gd))) || !(gd->root = strdup(dir))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if ((error = load_schema_version(gd, dir, err)) < 0 ||
        (error = load_yaml_dir(gd, dir, "channels", add_channel, &mode, err)) < 0 ||
        (error = load_yaml_dir(gd, dir, "blocked-edges", add_block, &mode, err)) < 0 ||
        (error = load_raw(gd, dir, err)) < 0)
        goto cleanup;
    for (size_t i = 0; i < gd->nblocks; i++)
        risks += gd->blocks[i].is_risk ? 1 : 0;
    cincy_log(CINCY_LOG_INFO, "ingest",
              "loaded graph-data\tschema=%s channels=%zu blocks=%zu risks=%zu raw=%zu skipped=%zu",
              gd->schema_version, gd->nchannels, gd->nblocks - risks, risks, gd->nraw,
              mode.skipped);
    *out = gd;
    gd = NULL;

cleanup:
    ingest_graph_data_free(gd);
    return error;
}

void ingest_graph_data_free(ingest_graph_data *gd)
{
    if (!gd)
        return;
    free(gd->schema_version);
    for (size_t i = 0; i < gd->nchannels; i++)
        ingest_channel_clear(&gd->channels[i]);
    free(gd->channels);
    for (size_t i = 0; i < gd->nblocks; i++)
        ingest_block_clear(&gd->blocks[i]);
    free(gd->blocks);
    for (size_t i = 0; i < gd->nraw; i++)
        raw_meta_clear(&gd->raw[i]);
    free(gd->raw);
    free(gd->root);
    free(gd);
}
