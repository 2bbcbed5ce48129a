/* ingest/release.c - release records: the release-metadata document (spec §3.4)
 * and the release directory source (docs/release-dir.md).
 *
 * release-metadata is the JSON file every OpenShift release image carries in
 * release-manifests/. Its checks are the reference's: kind must be exactly
 * cincinnati-metadata-v0, versions must be semver, metadata values strings;
 * unknown keys are ignored so newer tooling can add fields. A release
 * directory pairs that document with image.json, which says where the image
 * lives; it is written by tools, so any bad directory stops the load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ingest_internal.h"

#define METADATA_KIND "cincinnati-metadata-v0"
/* A real release-metadata is under 2 KiB (a version, a few dozen previous
 * versions, two metadata keys). 1 MiB holds thousands of previous entries and
 * still bounds the memory one hostile image can make us spend. */
#define RELEASE_METADATA_MAX (1u << 20)
/* image.json is two short strings. */
#define IMAGE_JSON_MAX (64u << 10)
/* Architecture names are short words (amd64, ppc64le, multi). */
#define ARCH_MAX 32

static int quoted_version_error(cincy_error *err, const char *file, const char *field,
                                const char *v)
{
    return cincy_error_set(err, CINCY_EINVALID, file, 0,
                           "field '%s': '%.*s%s' is not a valid version", field, INGEST_QUOTE_MAX,
                           v, strlen(v) > INGEST_QUOTE_MAX ? "..." : "");
}

static int check_version(const char *v, const char *file, const char *field, cincy_error *err)
{
    graph_version parsed;
    int error = graph_version_parse(&parsed, v, NULL);

    if (error == CINCY_EINVALID)
        return quoted_version_error(err, file, field, v);
    if (error < 0)
        return ingest_oom(err);
    graph_version_clear(&parsed);
    return CINCY_OK;
}

/* previous / next: an optional array of semver strings. */
static int parse_version_list(char ***out, size_t *out_n, json_t *root, const char *name,
                              const char *file, cincy_error *err)
{
    ingest_strv list = {0};
    json_t *arr = json_object_get(root, name), *item;
    size_t i;
    char field[32];
    int error = CINCY_OK;

    if (!arr)
        return CINCY_OK;
    if (!json_is_array(arr))
        return cincy_error_set(err, CINCY_EINVALID, file, 0, "field '%s' must be an array", name);
    json_array_foreach(arr, i, item)
    {
        snprintf(field, sizeof(field), "%s[%zu]", name, i);
        if (!json_is_string(item)) {
            error =
                cincy_error_set(err, CINCY_EINVALID, file, 0, "field '%s' must be a string", field);
            goto cleanup;
        }
        if ((error = check_version(json_string_value(item), file, field, err)) < 0)
            goto cleanup;
        if ((error = ingest_strv_push(&list, json_string_value(item))) < 0) {
            ingest_oom(err);
            goto cleanup;
        }
    }
    ingest_strv_take(&list, out, out_n);

cleanup:
    ingest_strv_clear(&list);
    return error;
}

/* metadata: an optional object of string values, file order kept. */
static int parse_metadata(ingest_release *r, json_t *root, const char *file, cincy_error *err)
{
    ingest_strv keys = {0}, values = {0};
    json_t *obj = json_object_get(root, "metadata"), *v;
    const char *k;
    int error = CINCY_OK;

    if (!obj)
        return CINCY_OK;
    if (!json_is_object(obj))
        return cincy_error_set(err, CINCY_EINVALID, file, 0, "field 'metadata' must be an object");
    json_object_foreach(obj, k, v)
    {
        if (!json_is_string(v)) {
            error = cincy_error_set(err, CINCY_EINVALID, file, 0,
                                    "field 'metadata.%.*s' must be a string", INGEST_QUOTE_MAX, k);
            goto cleanup;
        }
        if ((error = ingest_strv_push(&keys, k)) < 0 ||
            (error = ingest_strv_push(&values, json_string_value(v))) < 0) {
            ingest_oom(err);
            goto cleanup;
        }
    }
    ingest_strv_take(&keys, &r->meta_keys, &r->nmeta);
    ingest_strv_take(&values, &r->meta_values, &r->nmeta);

cleanup:
    ingest_strv_clear(&keys);
    ingest_strv_clear(&values);
    return error;
}

/* Returns the string member name of root, or sets err: missing / not a string. */
static int get_string(const char **out, json_t *root, const char *name, const char *file,
                      cincy_error *err)
{
    json_t *v = json_object_get(root, name);

    if (!v)
        return cincy_error_set(err, CINCY_EINVALID, file, 0, "missing field '%s'", name);
    if (!json_is_string(v))
        return cincy_error_set(err, CINCY_EINVALID, file, 0, "field '%s' must be a string", name);
    *out = json_string_value(v);
    return CINCY_OK;
}

static int load_json(json_t **out, const char *text, size_t len, const char *file, cincy_error *err)
{
    json_error_t jerr;
    json_t *root;

    graph_json_oom_reset();
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (graph_json_oom_seen()) { /* jansson's own verdict is unreliable then */
        json_decref(root);
        return ingest_oom(err);
    }
    if (!root)
        return cincy_error_set(err, CINCY_EINVALID, file, jerr.line > 0 ? jerr.line : 0,
                               "invalid json: %s", jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return cincy_error_set(err, CINCY_EINVALID, file, 0, "top level must be an object");
    }
    *out = root;
    return CINCY_OK;
}

int ingest_release_metadata_parse(ingest_release *out, const char *json, size_t len,
                                  const char *file, cincy_error *err)
{
    ingest_release r = {0};
    json_t *root = NULL;
    const char *kind = NULL, *version = NULL;
    int error;

    if ((error = load_json(&root, json, len, file, err)) < 0 ||
        (error = get_string(&kind, root, "kind", file, err)) < 0)
        goto cleanup;
    if (strcmp(kind, METADATA_KIND) != 0) {
        error = cincy_error_set(err, CINCY_EINVALID, file, 0,
                                "field 'kind': '%.*s' is not '" METADATA_KIND "'", INGEST_QUOTE_MAX,
                                kind);
        goto cleanup;
    }
    if ((error = get_string(&version, root, "version", file, err)) < 0 ||
        (error = check_version(version, file, "version", err)) < 0)
        goto cleanup;
    if (!(r.version = strdup(version))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    if ((error = parse_version_list(&r.previous, &r.nprevious, root, "previous", file, err)) < 0 ||
        (error = parse_version_list(&r.next, &r.nnext, root, "next", file, err)) < 0 ||
        (error = parse_metadata(&r, root, file, err)) < 0)
        goto cleanup;
    *out = r;
    memset(&r, 0, sizeof(r));

cleanup:
    json_decref(root);
    ingest_release_clear(&r);
    return error;
}

void ingest_release_clear(ingest_release *r)
{
    if (!r)
        return;
    free(r->version);
    free(r->payload);
    free(r->arch);
    free(r->manifestref);
    ingest_strv_free(r->previous, r->nprevious);
    ingest_strv_free(r->next, r->nnext);
    ingest_strv_free(r->meta_keys, r->nmeta);
    ingest_strv_free(r->meta_values, r->nmeta);
    free(r->source);
    memset(r, 0, sizeof(*r));
}

/* A pull spec by digest: "<name>@sha256:<64 lowercase hex>", printable ASCII
 * without spaces. Returns the "sha256:..." part, or NULL. */
static const char *payload_digest(const char *payload)
{
    const char *at = strrchr(payload, '@');

    for (const char *p = payload; *p; p++) {
        if (*p <= ' ' || *p > '~')
            return NULL;
    }
    if (!at || at == payload || strncmp(at + 1, "sha256:", 7) != 0)
        return NULL;
    for (int i = 0; i < 64; i++) {
        char c = at[8 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return NULL;
    }
    return at[8 + 64] == '\0' ? at + 1 : NULL;
}

static int valid_arch(const char *a)
{
    size_t n = strlen(a);

    if (n == 0 || n > ARCH_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'z')))
            return 0;
    }
    return 1;
}

static int parse_image_json(ingest_release *r, const char *text, size_t len, const char *file,
                            cincy_error *err)
{
    json_t *root = NULL;
    const char *payload = NULL, *arch = NULL, *digest;
    int error;

    if ((error = load_json(&root, text, len, file, err)) < 0 ||
        (error = get_string(&payload, root, "payload", file, err)) < 0 ||
        (error = get_string(&arch, root, "architecture", file, err)) < 0)
        goto cleanup;
    if (!(digest = payload_digest(payload))) {
        error = cincy_error_set(err, CINCY_EINVALID, file, 0,
                                "field 'payload': '%.*s' is not a pull spec by digest "
                                "(<repository>@sha256:<64 hex digits>)",
                                INGEST_QUOTE_MAX * 2, payload);
        goto cleanup;
    }
    if (!valid_arch(arch)) {
        error = cincy_error_set(err, CINCY_EINVALID, file, 0,
                                "field 'architecture': '%.*s' is not a lowercase word of "
                                "letters and digits",
                                INGEST_QUOTE_MAX, arch);
        goto cleanup;
    }
    if (!(r->payload = strdup(payload)) || !(r->arch = strdup(arch)) ||
        !(r->manifestref = strdup(digest)))
        error = ingest_oom(err);

cleanup:
    json_decref(root);
    return error;
}

/* Reads <dir>/<name>; errors name the full path so the file can be found. */
static int read_member(char **text, size_t *len, char **path, const char *dir, const char *name,
                       size_t cap, cincy_error *err)
{
    int error;

    if (!(*path = ingest_path_join(dir, name)))
        return ingest_oom(err);
    error = ingest_read_file(text, len, *path, cap, *path, err);
    if (error == CINCY_ENOTFOUND)
        error = cincy_error_set(err, CINCY_EINVALID, *path, 0, "missing file");
    return error;
}

static int load_release(ingest_release *out, const char *dir, cincy_error *err)
{
    ingest_release r = {0};
    char *text = NULL, *path = NULL;
    size_t len;
    int error;

    if ((error = read_member(&text, &len, &path, dir, "release-metadata", RELEASE_METADATA_MAX,
                             err)) < 0 ||
        (error = ingest_release_metadata_parse(&r, text, len, path, err)) < 0)
        goto cleanup;
    free(text);
    free(path);
    text = path = NULL;
    if ((error = read_member(&text, &len, &path, dir, "image.json", IMAGE_JSON_MAX, err)) < 0 ||
        (error = parse_image_json(&r, text, len, path, err)) < 0)
        goto cleanup;
    if (!(r.source = strdup(dir))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    *out = r;
    memset(&r, 0, sizeof(r));

cleanup:
    free(text);
    free(path);
    ingest_release_clear(&r);
    return error;
}

/* A release directory is one holding a release-metadata file. */
static int is_release_dir(const char *dir, int *out, cincy_error *err)
{
    char *p = ingest_path_join(dir, "release-metadata");

    if (!p)
        return ingest_oom(err);
    *out = ingest_is_file(p);
    free(p);
    return CINCY_OK;
}

/* Adds dir if it is a release directory; at depth 0 also looks one level down.
 * Hidden entries (".stamp", ".git") and plain files are not releases. */
static int collect(ingest_strv *dirs, const char *dir, int depth, cincy_error *err)
{
    char **names = NULL, *sub = NULL;
    size_t n = 0;
    int is_release = 0, error;

    if ((error = is_release_dir(dir, &is_release, err)) < 0)
        return error;
    if (is_release)
        return ingest_strv_push(dirs, dir) < 0 ? ingest_oom(err) : CINCY_OK;
    if (depth > 0) {
        cincy_log(CINCY_LOG_DEBUG, "ingest", "ignoring %s: no release-metadata", dir);
        return CINCY_OK;
    }
    if ((error = ingest_list_dir(&names, &n, dir, err)) < 0)
        return error;
    for (size_t i = 0; i < n; i++) {
        if (names[i][0] == '.')
            continue;
        if (!(sub = ingest_path_join(dir, names[i]))) {
            error = ingest_oom(err);
            break;
        }
        if (ingest_is_dir(sub) && (error = collect(dirs, sub, depth + 1, err)) < 0)
            break;
        free(sub);
        sub = NULL;
    }
    free(sub);
    ingest_strv_free(names, n);
    return error;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ingest_releases_load_dir(ingest_releases **out, const char *root, cincy_error *err)
{
    ingest_strv dirs = {0};
    char **names = NULL;
    size_t n = 0;
    ingest_releases *rs = NULL;
    int error;

    /* Walk the root's children (depth 1) and their children (depth 2). */
    if ((error = ingest_list_dir(&names, &n, root, err)) < 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        char *sub;
        if (names[i][0] == '.')
            continue;
        if (!(sub = ingest_path_join(root, names[i]))) {
            error = ingest_oom(err);
            goto cleanup;
        }
        error = ingest_is_dir(sub) ? collect(&dirs, sub, 0, err) : CINCY_OK;
        free(sub);
        if (error < 0)
            goto cleanup;
    }
    if (dirs.n > 1)
        qsort(dirs.items, dirs.n, sizeof(*dirs.items), cmp_path);
    if (!(rs = calloc(1, sizeof(*rs))) ||
        (dirs.n && !(rs->items = calloc(dirs.n, sizeof(*rs->items))))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < dirs.n; i++) {
        if ((error = load_release(&rs->items[i], dirs.items[i], err)) < 0)
            goto cleanup;
        rs->count = i + 1;
    }
    cincy_log(CINCY_LOG_INFO, "ingest", "loaded release records\tcount=%zu", rs->count);
    *out = rs;
    rs = NULL;

cleanup:
    ingest_releases_free(rs);
    ingest_strv_clear(&dirs);
    ingest_strv_free(names, n);
    return error;
}

void ingest_releases_free(ingest_releases *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->count; i++)
        ingest_release_clear(&rs->items[i]);
    free(rs->items);
    free(rs);
}
