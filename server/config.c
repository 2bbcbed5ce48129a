/* server/config.c - the YAML configuration file (config/cincy.yaml documents
 * every key).
 *
 * The file is loaded as a libyaml document and walked against a table of known
 * keys per section. Anything unexpected - an unknown or repeated key, a port
 * that is not 0..65535, a list where a path belongs - stops the load with the
 * file, the 1-based line and the dotted key name, because a server that starts
 * on a half-understood config is worse than one that refuses to start.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "server/server_internal.h"

#define CONFIG_FILE_MAX (1u << 20) /* configs are a few hundred bytes; this bounds a wrong path */
#define CONFIG_SHOW_MAX 64         /* how much of a bad value an error message repeats */

typedef enum {
    FIELD_SECTION,     /* a nested mapping, described by .sub */
    FIELD_LOGLEVEL,    /* cincy_log_level */
    FIELD_ADDRESS,     /* char *, numeric IPv4 or IPv6 */
    FIELD_PORT,        /* int 0..65535 */
    FIELD_THREADS,     /* unsigned 1..SERVER_THREADS_MAX */
    FIELD_PREFIX,      /* char *, normalised URL path prefix */
    FIELD_DIR,         /* char *, absolute path or NULL */
    FIELD_POLL,        /* unsigned seconds 1..86400 */
    FIELD_BOOL,        /* int 0/1 from true/false (YAML 1.2 core schema spellings) */
    FIELD_STRLIST,     /* server_strv: a sequence of non-empty scalars, or one scalar */
    FIELD_IMAGE,       /* sources.graph_data.image: host[:port]/repo:tag or @sha256:<hex> */
    FIELD_FILE,        /* char *, a path resolved against the config's directory */
    FIELD_URL,         /* char *, an http:// or https:// URL */
    FIELD_CONCURRENCY, /* unsigned 1..64 */
    FIELD_TIMEOUT,     /* unsigned seconds 1..3600 */
    FIELD_STRING,      /* char *, any non-empty text */
    FIELD_GD_DIR,      /* sources.graph_data.directory: a directory source */
    FIELD_GIT,         /* sources.graph_data.git: a mapping (git_keys) */
    FIELD_TARBALL,     /* sources.graph_data.tarball: a path or URL */
    FIELD_LOCATION,    /* git.url: a URL as written, a relative path resolved */
    FIELD_BRANCH,      /* git.branch */
    FIELD_COMMIT,      /* git.commit: 40 hex digits */
    FIELD_CONNECTIONS, /* unsigned 1..1000000 */
    FIELD_HEADER_SIZE, /* unsigned bytes 1024..1048576 */
} field_kind;

typedef struct key_spec {
    const char *name;
    field_kind kind;
    size_t offset;              /* of the field in server_config (not for sections) */
    const struct key_spec *sub; /* keys of a section, NULL-name terminated */
} key_spec;

static const key_spec graph_keys[] = {
    {"address", FIELD_ADDRESS, offsetof(server_config, graph_address), NULL},
    {"port", FIELD_PORT, offsetof(server_config, graph_port), NULL},
    {"path_prefix", FIELD_PREFIX, offsetof(server_config, path_prefix), NULL},
    {"threads", FIELD_THREADS, offsetof(server_config, threads), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec status_keys[] = {
    {"address", FIELD_ADDRESS, offsetof(server_config, status_address), NULL},
    {"port", FIELD_PORT, offsetof(server_config, status_port), NULL},
    {"refresh_token", FIELD_STRING, offsetof(server_config, refresh_token), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec releases_keys[] = {
    {"directory", FIELD_DIR, offsetof(server_config, releases_dir), NULL},
    {"registry", FIELD_STRLIST, offsetof(server_config, release_registries), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec git_keys[] = {
    {"url", FIELD_LOCATION, offsetof(server_config, graph_data_location), NULL},
    {"branch", FIELD_BRANCH, offsetof(server_config, graph_data_reference), NULL},
    {"commit", FIELD_COMMIT, offsetof(server_config, graph_data_reference), NULL},
    {NULL, 0, 0, NULL},
};
/* Exactly one of these per graph_data mapping (parse_ctx.gd_kind). */
static const key_spec graph_data_keys[] = {
    {"directory", FIELD_GD_DIR, offsetof(server_config, graph_data_dir), NULL},
    {"git", FIELD_GIT, 0, git_keys},
    {"tarball", FIELD_TARBALL, offsetof(server_config, graph_data_location), NULL},
    {"image", FIELD_IMAGE, offsetof(server_config, graph_data_location), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec upstream_keys[] = {
    {"url", FIELD_URL, offsetof(server_config, upstream_url), NULL},
    {"channels", FIELD_STRLIST, offsetof(server_config, upstream_channels), NULL},
    {"arches", FIELD_STRLIST, offsetof(server_config, upstream_arches), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec sources_keys[] = {
    {"releases", FIELD_SECTION, 0, releases_keys},
    {"graph_data", FIELD_SECTION, 0, graph_data_keys},
    {"poll_seconds", FIELD_POLL, offsetof(server_config, poll_seconds), NULL},
    {"upstream", FIELD_SECTION, 0, upstream_keys},
    {"allow_channel_removal", FIELD_BOOL, offsetof(server_config, allow_channel_removal), NULL},
    {"skip_invalid_files", FIELD_BOOL, offsetof(server_config, skip_invalid_files), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec registry_keys[] = {
    {"auth_file", FIELD_FILE, offsetof(server_config, registry_auth_file), NULL},
    {"ca_file", FIELD_FILE, offsetof(server_config, registry_ca_file), NULL},
    {"insecure", FIELD_BOOL, offsetof(server_config, registry_insecure), NULL},
    {"immutable_tags", FIELD_BOOL, offsetof(server_config, registry_immutable_tags), NULL},
    {"concurrency", FIELD_CONCURRENCY, offsetof(server_config, registry_concurrency), NULL},
    {"timeout_seconds", FIELD_TIMEOUT, offsetof(server_config, registry_timeout), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec web_keys[] = {
    {"directory", FIELD_DIR, offsetof(server_config, web_dir), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec limits_keys[] = {
    {"max_connections", FIELD_CONNECTIONS, offsetof(server_config, max_connections), NULL},
    {"max_connections_per_client", FIELD_CONNECTIONS,
     offsetof(server_config, max_connections_per_client), NULL},
    {"max_header_bytes", FIELD_HEADER_SIZE, offsetof(server_config, max_header_bytes), NULL},
    {"idle_timeout_seconds", FIELD_TIMEOUT, offsetof(server_config, idle_timeout), NULL},
    {"request_timeout_seconds", FIELD_TIMEOUT, offsetof(server_config, request_timeout), NULL},
    {NULL, 0, 0, NULL},
};
static const key_spec top_keys[] = {
    {"log_level", FIELD_LOGLEVEL, offsetof(server_config, log_level), NULL},
    {"graph", FIELD_SECTION, 0, graph_keys},
    {"status", FIELD_SECTION, 0, status_keys},
    {"sources", FIELD_SECTION, 0, sources_keys},
    {"web", FIELD_SECTION, 0, web_keys},
    {"registry", FIELD_SECTION, 0, registry_keys},
    {"state_dir", FIELD_DIR, offsetof(server_config, state_dir), NULL},
    {"limits", FIELD_SECTION, 0, limits_keys},
    {"shutdown_grace_seconds", FIELD_TIMEOUT, offsetof(server_config, shutdown_grace), NULL},
    {NULL, 0, 0, NULL},
};

typedef struct parse_ctx {
    server_config *cfg;
    yaml_document_t *doc;
    const char *file;     /* names the config in errors */
    const char *base_dir; /* relative directories resolve against it */
    cincy_error *err;
    const char *gd_kind; /* the graph_data key already given in this file, or NULL */
    const char *git_ref; /* "branch" or "commit" once one is given in git */
    int key_line;        /* line of the key whose value is being set */
} parse_ctx;

/* ---------------------------------------------------------------------------
 * Small helpers */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Frees the char * field at offset and stores v (which it takes over). */
static void set_string_field(server_config *cfg, size_t offset, char *v)
{
    char **slot = (char **)((char *)cfg + offset);
    free(*slot);
    *slot = v;
}

/* Spec §1.2: exactly one leading '/', none trailing. Unlike the reference,
 * "" and "/" give no prefix at all rather than routes like "//graph". */
static char *normalise_prefix(const char *p)
{
    size_t start = 0, end = strlen(p);
    char *out;

    while (start < end && p[start] == '/')
        start++;
    while (end > start && p[end - 1] == '/')
        end--;
    if (start == end)
        return strdup("");
    out = malloc(end - start + 2);
    if (!out)
        return NULL;
    out[0] = '/';
    memcpy(out + 1, p + start, end - start);
    out[end - start + 1] = '\0';
    return out;
}

/* path itself when absolute, else base_dir/path, base_dir defaulting to the
 * working directory. The result is not canonicalised: the directory need not
 * exist yet (demo releases are generated at build time). */
static char *resolve_path(const char *base_dir, const char *path)
{
    char cwd[4096];
    char *out;
    size_t n;

    if (path[0] == '/')
        return strdup(path);
    if (!base_dir || base_dir[0] != '/') {
        if (!getcwd(cwd, sizeof(cwd)))
            return NULL;
        if (base_dir && base_dir[0] && strcmp(base_dir, ".") != 0) {
            n = strlen(cwd);
            snprintf(cwd + n, sizeof(cwd) - n, "/%s", base_dir);
        }
        base_dir = cwd;
    }
    n = strlen(base_dir) + strlen(path) + 2;
    out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", base_dir, base_dir[strlen(base_dir) - 1] == '/' ? "" : "/",
                 path);
    return out;
}

/* "scheme://..." or scp-like "host:path" stay as written; anything else is a
 * local path. */
static int is_url(const char *s)
{
    const char *colon = strchr(s, ':'), *slash = strchr(s, '/');

    return strstr(s, "://") || (colon && (!slash || colon < slash));
}

/* host[:port]/path[:tag] or host[:port]/path@sha256:<64 hex>, optionally
 * after http:// or https://. The host part must hold a '.' or ':' or be
 * "localhost", as docker tells a registry from a Docker Hub namespace. */
static int is_image_ref(const char *s)
{
    const char *host = s, *slash, *at;
    size_t n;

    if (!strncmp(s, "http://", 7))
        host = s + 7;
    else if (!strncmp(s, "https://", 8))
        host = s + 8;
    if (!(slash = strchr(host, '/')) || slash == host || !slash[1])
        return 0;
    n = (size_t)(slash - host);
    if (!memchr(host, '.', n) && !memchr(host, ':', n) &&
        !(n == 9 && !strncmp(host, "localhost", 9)))
        return 0;
    if ((at = strchr(slash, '@')) != NULL) {
        if (strncmp(at, "@sha256:", 8) != 0)
            return 0;
        n = strspn(at + 8, "0123456789abcdef");
        return n == 64 && !at[8 + n];
    }
    return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/") ==
           strlen(host);
}

static int is_commit_id(const char *s)
{
    size_t n = strspn(s, "0123456789abcdefABCDEF");

    return n == 40 && !s[n];
}

static int is_null_scalar(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1; /* libyaml marks are 0-based */
}

static const char *node_kind_name(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping" : "a list";
}

/* Parses a whole decimal integer in [lo, hi]. Returns 1 when it is one. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s[0] || s[0] == '+' || s[0] == ' ')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static void join_path(char *out, size_t size, const char *path, const char *key)
{
    if (path[0])
        snprintf(out, size, "%s.%s", path, key);
    else
        snprintf(out, size, "%s", key);
}

/* ---------------------------------------------------------------------------
 * Fields */

static int walk_mapping(parse_ctx *p, const yaml_node_t *map, const char *path,
                        const key_spec *keys);

static int set_prefix(parse_ctx *p, const key_spec *k, const yaml_node_t *v, const char *s)
{
    char *copy = normalise_prefix(s);

    if (!copy)
        return cincy_error_set(p->err, CINCY_ERROR, p->file, line_of(v), "out of memory");
    set_string_field(p->cfg, k->offset, copy);
    return 0;
}

static int set_scalar_field(parse_ctx *p, const key_spec *k, const char *name, const yaml_node_t *v)
{
    const char *s = (const char *)v->data.scalar.value;
    char *copy;
    long n;
    unsigned char addr[16];
    server_config *cfg = p->cfg;

    switch (k->kind) {
    case FIELD_LOGLEVEL:
        if (cincy_log_level_parse(&cfg->log_level, s) < 0)
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected one of debug, info, warn, error, "
                                   "got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        return 0;
    case FIELD_PORT:
        if (!parse_int(s, 0, 65535, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected an integer from 0 to 65535, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        *(int *)((char *)cfg + k->offset) = (int)n;
        return 0;
    case FIELD_THREADS:
        if (!parse_int(s, 1, SERVER_THREADS_MAX, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected an integer from 1 to %d, got '%.*s'", name,
                                   SERVER_THREADS_MAX, CONFIG_SHOW_MAX, s);
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case FIELD_POLL:
        if (!parse_int(s, 1, 86400, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected whole seconds from 1 to 86400, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case FIELD_BOOL:
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            *(int *)((char *)cfg + k->offset) = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
            *(int *)((char *)cfg + k->offset) = 0;
        else
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected true or false, got '%.*s'", name,
                                   CONFIG_SHOW_MAX, s);
        return 0;
    case FIELD_CONCURRENCY:
        if (!parse_int(s, 1, 64, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected an integer from 1 to 64, got '%.*s'", name,
                                   CONFIG_SHOW_MAX, s);
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case FIELD_CONNECTIONS:
        if (!parse_int(s, 1, 1000000, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected an integer from 1 to 1000000, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case FIELD_HEADER_SIZE:
        if (!parse_int(s, 1024, 1048576, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected bytes from 1024 to 1048576, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case FIELD_TIMEOUT:
        if (!parse_int(s, 1, 3600, &n))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected whole seconds from 1 to 3600, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case FIELD_IMAGE:
        if (!is_image_ref(s))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected an image reference "
                                   "host[:port]/repository:tag or host[:port]/repository@sha256:"
                                   "<64 hex>, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        copy = strdup(s);
        break;
    case FIELD_FILE:
        copy = resolve_path(p->base_dir, s);
        break;
    case FIELD_URL:
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected an http:// or https:// URL, got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        copy = strdup(s);
        break;
    case FIELD_STRING:
        copy = strdup(s);
        break;
    case FIELD_ADDRESS:
        if (inet_pton(AF_INET, s, addr) != 1 && inet_pton(AF_INET6, s, addr) != 1)
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': '%.*s' is not an IPv4 or IPv6 address", name,
                                   CONFIG_SHOW_MAX, s);
        copy = strdup(s);
        break;
    case FIELD_PREFIX:
        return set_prefix(p, k, v, s);
    case FIELD_DIR:
    case FIELD_GD_DIR:
        copy = resolve_path(p->base_dir, s);
        break;
    case FIELD_TARBALL:
    case FIELD_LOCATION:
        copy = is_url(s) ? strdup(s) : resolve_path(p->base_dir, s);
        break;
    case FIELD_BRANCH:
    case FIELD_COMMIT:
        if (p->git_ref)
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, p->key_line,
                                   "field '%s': give either branch or commit, not both", name);
        if (k->kind == FIELD_COMMIT && !is_commit_id(s))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected a full commit id (40 hex digits), "
                                   "got '%.*s'",
                                   name, CONFIG_SHOW_MAX, s);
        p->git_ref = k->name;
        copy = strdup(s);
        break;
    default:
        assert(!"section handled by the caller");
        return CINCY_ERROR;
    }
    if (!copy)
        return cincy_error_set(p->err, CINCY_ERROR, p->file, line_of(v), "out of memory");
    set_string_field(cfg, k->offset, copy);
    return 0;
}

/* Kinds stored as text, where a quoted '' is as bad as no value. */
static int is_text_kind(field_kind kind)
{
    return kind == FIELD_DIR || kind == FIELD_STRING || kind == FIELD_GD_DIR ||
           kind == FIELD_TARBALL || kind == FIELD_LOCATION || kind == FIELD_BRANCH ||
           kind == FIELD_COMMIT || kind == FIELD_IMAGE || kind == FIELD_FILE || kind == FIELD_URL;
}

/* A graph_data kind key: only one per mapping, and it replaces whatever
 * source the values parsed over had. */
static int choose_graph_data(parse_ctx *p, const key_spec *k, const char *name)
{
    server_config *cfg = p->cfg;

    if (p->gd_kind)
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, p->key_line,
                               "field '%s': give only one of directory, git, tarball or image "
                               "('%s' is given too)",
                               name, p->gd_kind);
    p->gd_kind = k->name;
    cfg->graph_data_kind = k->kind == FIELD_GIT       ? SERVER_GRAPH_DATA_GIT
                           : k->kind == FIELD_TARBALL ? SERVER_GRAPH_DATA_TARBALL
                           : k->kind == FIELD_IMAGE   ? SERVER_GRAPH_DATA_IMAGE
                                                      : SERVER_GRAPH_DATA_DIRECTORY;
    set_string_field(cfg, offsetof(server_config, graph_data_dir), NULL);
    set_string_field(cfg, offsetof(server_config, graph_data_location), NULL);
    set_string_field(cfg, offsetof(server_config, graph_data_reference), NULL);
    return 0;
}

static int set_git(parse_ctx *p, const key_spec *k, const char *name, const yaml_node_t *v)
{
    int line = p->key_line, error;

    if (v->type != YAML_MAPPING_NODE)
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                               "field '%s': expected a mapping with url and optionally branch or "
                               "commit",
                               name);
    if ((error = walk_mapping(p, v, name, k->sub)) < 0)
        return error;
    if (!p->cfg->graph_data_location)
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, line, "field '%s': url is required",
                               name);
    return 0;
}

static void strv_clear(server_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->n = 0;
}

/* A list of non-empty scalars ("key: [a, b]" or a block sequence), or one
 * scalar for a list of one. It replaces the list the values parsed over had. */
static int set_strlist(parse_ctx *p, const key_spec *k, const char *name, const yaml_node_t *v)
{
    server_strv *out = (server_strv *)((char *)p->cfg + k->offset), list = {NULL, 0};
    const yaml_node_item_t *items = NULL;
    size_t count = 1;

    if (v->type == YAML_MAPPING_NODE)
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                               "field '%s': expected a list of values, got a mapping", name);
    if (v->type == YAML_SEQUENCE_NODE) {
        items = v->data.sequence.items.start;
        count = (size_t)(v->data.sequence.items.top - items);
    } else if (is_null_scalar(v)) {
        count = 0; /* "registry:" with nothing: no repositories */
    }
    if (count && !(list.items = calloc(count, sizeof(char *))))
        return cincy_error_set(p->err, CINCY_ERROR, p->file, line_of(v), "out of memory");
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = items ? yaml_document_get_node(p->doc, items[i]) : v;

        if (item->type != YAML_SCALAR_NODE || !item->data.scalar.value[0] || is_null_scalar(item)) {
            strv_clear(&list);
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(item),
                                   "field '%s[%zu]': expected a non-empty value", name, i);
        }
        if (!(list.items[i] = strdup((const char *)item->data.scalar.value))) {
            strv_clear(&list);
            return cincy_error_set(p->err, CINCY_ERROR, p->file, line_of(item), "out of memory");
        }
        list.n++;
    }
    strv_clear(out);
    *out = list;
    return 0;
}

static int set_field(parse_ctx *p, const key_spec *k, const char *name, const yaml_node_t *v)
{
    int error;

    if (k->kind == FIELD_GD_DIR || k->kind == FIELD_GIT || k->kind == FIELD_TARBALL ||
        k->kind == FIELD_IMAGE) {
        if ((error = choose_graph_data(p, k, name)) < 0)
            return error;
        if (k->kind == FIELD_GIT)
            return set_git(p, k, name, v);
    }
    if (k->kind == FIELD_STRLIST)
        return set_strlist(p, k, name, v);
    if (k->kind == FIELD_SECTION) {
        if (is_null_scalar(v))
            return 0; /* "web:" with nothing under it: keep what is there */
        if (v->type != YAML_MAPPING_NODE)
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                                   "field '%s': expected a mapping of keys", name);
        return walk_mapping(p, v, name, k->sub);
    }
    if ((k->kind == FIELD_DIR || k->kind == FIELD_GD_DIR) && is_null_scalar(v)) {
        set_string_field(p->cfg, k->offset, NULL); /* "directory:" switches the source off */
        return 0;
    }
    if (v->type != YAML_SCALAR_NODE)
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                               "field '%s': expected a single value, got %s", name,
                               node_kind_name(v));
    if (is_null_scalar(v) && k->kind == FIELD_PREFIX)
        return set_prefix(p, k, v, ""); /* "path_prefix:" or "~": no prefix */
    if (is_null_scalar(v))
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v),
                               "field '%s': a value is required", name);
    if (is_text_kind(k->kind) && !v->data.scalar.value[0])
        return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(v), "field '%s': %s", name,
                               k->kind == FIELD_DIR || k->kind == FIELD_GD_DIR ||
                                       k->kind == FIELD_TARBALL
                                   ? "a path is required"
                                   : "a value is required");
    return set_scalar_field(p, k, name, v);
}

static void list_keys(char *out, size_t size, const key_spec *keys)
{
    size_t pos = 0;

    out[0] = '\0';
    for (const key_spec *k = keys; k->name && pos < size; k++)
        pos += (size_t)snprintf(out + pos, size - pos, "%s%s", k == keys ? "" : ", ", k->name);
}

static int walk_mapping(parse_ctx *p, const yaml_node_t *map, const char *path,
                        const key_spec *keys)
{
    unsigned seen = 0; /* bit i: keys[i] already set in this mapping */

    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *kn = yaml_document_get_node(p->doc, pair->key);
        yaml_node_t *vn = yaml_document_get_node(p->doc, pair->value);
        const char *key;
        char name[256], expected[256];
        size_t i;
        int error;

        if (kn->type != YAML_SCALAR_NODE)
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(kn),
                                   "keys must be plain words, got %s", node_kind_name(kn));
        key = (const char *)kn->data.scalar.value;
        for (i = 0; keys[i].name && strcmp(keys[i].name, key) != 0; i++)
            ;
        if (!keys[i].name) {
            list_keys(expected, sizeof(expected), keys);
            if (path[0])
                return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(kn),
                                       "unknown key '%.*s' in '%s' (expected one of %s)",
                                       CONFIG_SHOW_MAX, key, path, expected);
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(kn),
                                   "unknown key '%.*s' (expected one of %s)", CONFIG_SHOW_MAX, key,
                                   expected);
        }
        join_path(name, sizeof(name), path, key);
        if (seen & (1u << i))
            return cincy_error_set(p->err, CINCY_EINVALID, p->file, line_of(kn),
                                   "key '%s' given twice", name);
        seen |= 1u << i;
        p->key_line = line_of(kn);
        if ((error = set_field(p, &keys[i], name, vn)) < 0)
            return error;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Public */

int server_config_defaults(server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->graph_port = SERVER_DEFAULT_GRAPH_PORT;
    cfg->status_port = SERVER_DEFAULT_STATUS_PORT;
    cfg->threads = 4;
    cfg->poll_seconds = 300;
    cfg->registry_concurrency = 8;
    cfg->registry_timeout = 60;
    cfg->max_connections = 1000;
    cfg->max_connections_per_client = 64;
    cfg->max_header_bytes = 8192;
    cfg->idle_timeout = 30;
    cfg->request_timeout = 10;
    cfg->shutdown_grace = 20;
    cfg->log_level = CINCY_LOG_INFO;
    cfg->graph_address = strdup("127.0.0.1");
    cfg->status_address = strdup("127.0.0.1");
    cfg->path_prefix = strdup("/api/upgrades_info");
    if (!cfg->graph_address || !cfg->status_address || !cfg->path_prefix) {
        server_config_clear(cfg);
        return CINCY_ERROR;
    }
    return 0;
}

void server_config_clear(server_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->graph_address);
    free(cfg->status_address);
    free(cfg->path_prefix);
    free(cfg->releases_dir);
    free(cfg->graph_data_dir);
    free(cfg->web_dir);
    free(cfg->file);
    free(cfg->refresh_token);
    free(cfg->graph_data_location);
    free(cfg->graph_data_reference);
    free(cfg->state_dir);
    strv_clear(&cfg->release_registries);
    strv_clear(&cfg->upstream_channels);
    strv_clear(&cfg->upstream_arches);
    free(cfg->upstream_url);
    free(cfg->registry_auth_file);
    free(cfg->registry_ca_file);
    memset(cfg, 0, sizeof(*cfg));
}

/* Deep copy into out, whose items pointer is a shallow copy of src's: on
 * failure out holds what was copied (freed by server_config_clear). */
static int strv_copy(server_strv *out, const server_strv *src)
{
    out->items = NULL;
    out->n = 0;
    if (!src->n)
        return 0;
    if (!(out->items = calloc(src->n, sizeof(char *))))
        return CINCY_ERROR;
    for (size_t i = 0; i < src->n; i++) {
        if (!(out->items[i] = strdup(src->items[i])))
            return CINCY_ERROR;
        out->n++;
    }
    return 0;
}

int server_config_copy(server_config *out, const server_config *src)
{
    *out = *src;
    out->graph_address = dup_or_null(src->graph_address);
    out->status_address = dup_or_null(src->status_address);
    out->path_prefix = dup_or_null(src->path_prefix);
    out->releases_dir = dup_or_null(src->releases_dir);
    out->graph_data_dir = dup_or_null(src->graph_data_dir);
    out->web_dir = dup_or_null(src->web_dir);
    out->file = dup_or_null(src->file);
    out->refresh_token = dup_or_null(src->refresh_token);
    out->graph_data_location = dup_or_null(src->graph_data_location);
    out->graph_data_reference = dup_or_null(src->graph_data_reference);
    out->state_dir = dup_or_null(src->state_dir);
    out->registry_auth_file = dup_or_null(src->registry_auth_file);
    out->registry_ca_file = dup_or_null(src->registry_ca_file);
    out->upstream_url = dup_or_null(src->upstream_url);
    if (strv_copy(&out->release_registries, &src->release_registries) < 0 ||
        strv_copy(&out->upstream_channels, &src->upstream_channels) < 0 ||
        strv_copy(&out->upstream_arches, &src->upstream_arches) < 0 ||
        (src->upstream_url && !out->upstream_url) ||
        (src->registry_auth_file && !out->registry_auth_file) ||
        (src->registry_ca_file && !out->registry_ca_file) ||
        (src->graph_address && !out->graph_address) ||
        (src->status_address && !out->status_address) || (src->path_prefix && !out->path_prefix) ||
        (src->releases_dir && !out->releases_dir) ||
        (src->graph_data_dir && !out->graph_data_dir) || (src->web_dir && !out->web_dir) ||
        (src->file && !out->file) || (src->refresh_token && !out->refresh_token) ||
        (src->graph_data_location && !out->graph_data_location) ||
        (src->graph_data_reference && !out->graph_data_reference) ||
        (src->state_dir && !out->state_dir)) {
        server_config_clear(out);
        return CINCY_ERROR;
    }
    return 0;
}

static int yaml_failure(const yaml_parser_t *parser, const char *file, cincy_error *err)
{
    int line = (int)parser->problem_mark.line + 1;

    if (parser->error == YAML_MEMORY_ERROR)
        return cincy_error_set(err, CINCY_ERROR, file, 0, "out of memory");
    if (parser->context)
        return cincy_error_set(err, CINCY_EINVALID, file, line, "invalid yaml: %s %s",
                               parser->problem ? parser->problem : "syntax error", parser->context);
    return cincy_error_set(err, CINCY_EINVALID, file, line, "invalid yaml: %s",
                           parser->problem ? parser->problem : "syntax error");
}

int server_config_parse(server_config *cfg, const char *yaml, size_t len, const char *file,
                        const char *base_dir, cincy_error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    server_config tmp;
    parse_ctx p;
    int have_doc = 0, error;

    if (!file)
        file = "config";
    if ((error = server_config_copy(&tmp, cfg)) < 0)
        return cincy_error_set(err, CINCY_ERROR, file, 0, "out of memory");
    if (!yaml_parser_initialize(&parser)) {
        error = cincy_error_set(err, CINCY_ERROR, file, 0, "out of memory");
        goto cleanup;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        error = yaml_failure(&parser, file, err);
        goto cleanup;
    }
    have_doc = 1;
    p = (parse_ctx){&tmp, &doc, file, base_dir, err, NULL, NULL, 0};
    root = yaml_document_get_root_node(&doc);
    if (root && !is_null_scalar(root)) {
        if (root->type != YAML_MAPPING_NODE) {
            error = cincy_error_set(err, CINCY_EINVALID, file, line_of(root),
                                    "expected a mapping of keys at the top level");
            goto cleanup;
        }
        if ((error = walk_mapping(&p, root, "", top_keys)) < 0)
            goto cleanup;
    }
    server_config_clear(cfg);
    *cfg = tmp; /* cfg changes only when the whole file was understood */
    memset(&tmp, 0, sizeof(tmp));
    error = 0;
cleanup:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    server_config_clear(&tmp);
    return error;
}

static char *join2(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *out = malloc(n);

    if (out)
        snprintf(out, n, "%s/%s", a, b);
    return out;
}

char *server_state_dir(const server_config *cfg)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    struct stat st;

    if (cfg->state_dir)
        return strdup(cfg->state_dir);
    if (xdg && xdg[0] == '/') /* the XDG spec says to ignore a relative one */
        return join2(xdg, "cincy");
    if (stat("/var/lib/cincy", &st) == 0 && S_ISDIR(st.st_mode) &&
        access("/var/lib/cincy", W_OK) == 0)
        return strdup("/var/lib/cincy");
    if (!home || !home[0])
        return NULL;
    return join2(home, ".local/state/cincy");
}

/* Reads the whole file into a new NUL-terminated buffer, at most CONFIG_FILE_MAX. */
static int read_file(char **out, size_t *out_len, const char *path, cincy_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len;
    int error = 0;

    if (!f)
        return cincy_error_set(err, CINCY_ENOTFOUND, path, 0, "cannot read config file: %s",
                               strerror(errno));
    if (!(buf = malloc(CONFIG_FILE_MAX + 1))) {
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "out of memory");
        goto cleanup;
    }
    len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "cannot read config file: %s",
                                strerror(errno));
        goto cleanup;
    }
    if (len > CONFIG_FILE_MAX) {
        error = cincy_error_set(err, CINCY_ETOOBIG, path, 0, "config file is larger than %u bytes",
                                CONFIG_FILE_MAX);
        goto cleanup;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
cleanup:
    free(buf);
    fclose(f);
    return error;
}

int server_config_load(server_config *cfg, const char *path, cincy_error *err)
{
    char *text = NULL, *dir = NULL, *slash;
    size_t len = 0;
    int error;

    if ((error = server_config_defaults(cfg)) < 0)
        return cincy_error_set(err, CINCY_ERROR, path, 0, "out of memory");
    if (!(dir = strdup(path))) {
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "out of memory");
        goto cleanup;
    }
    slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0'; /* "/cincy.yaml" lives in "/" */
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    if ((error = read_file(&text, &len, path, err)) < 0 ||
        (error = server_config_parse(cfg, text, len, path, dir, err)) < 0)
        goto cleanup;
    if (!(cfg->file = strdup(path)))
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "out of memory");
cleanup:
    free(text);
    free(dir);
    return error;
}
