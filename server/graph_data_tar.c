/* server/graph_data_tar.c - the graph-data in use as a gzip'd tar (spec
 * §1.8.2, GET P/graph-data).
 *
 * The archive is built once per successful load from the directory that was
 * loaded and then only referenced, like a graph body: requests hold their own
 * reference while libmicrohttpd writes it. It is deterministic (sorted paths,
 * mtime 0, owner 0:0, mode 0644, no gzip timestamp) so unchanged graph-data
 * gives the same bytes and so the same ETag across reloads and restarts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "server/server_internal.h"

#define TAR_FILE_MAX (64u << 20) /* graph-data files are KBs; refuse absurd ones */

typedef struct path_list {
    char **items;
    size_t count, cap;
} path_list;

typedef struct membuf {
    unsigned char *data;
    size_t len, cap;
} membuf;

static void path_list_free(path_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

static int path_list_add(path_list *l, const char *rel)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return CINCY_ERROR;
        l->items = items;
        l->cap = cap;
    }
    if (!(l->items[l->count] = strdup(rel)))
        return CINCY_ERROR;
    l->count++;
    return 0;
}

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Adds rel when root/rel is a regular file; a missing optional file is fine. */
static int add_if_file(path_list *l, const char *root, const char *rel)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
        return 0;
    return is_regular(path) ? path_list_add(l, rel) : 0;
}

/* Adds sub/NAME.yaml for each regular file of root/sub (none when absent). */
static int add_yaml_dir(path_list *l, const char *root, const char *sub)
{
    char path[4096], rel[4096];
    struct dirent *de;
    DIR *d;
    int error = 0;

    snprintf(path, sizeof(path), "%s/%s", root, sub);
    if (!(d = opendir(path)))
        return 0;
    while (!error && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
            continue;
        if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", sub, de->d_name) >= sizeof(rel))
            continue;
        error = add_if_file(l, root, rel);
    }
    closedir(d);
    return error;
}

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static la_ssize_t mem_write(struct archive *a, void *cls, const void *buf, size_t len)
{
    membuf *m = cls;

    (void)a;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        unsigned char *data;
        while (cap < m->len + len)
            cap *= 2;
        if (!(data = realloc(m->data, cap)))
            return -1;
        m->data = data;
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return (la_ssize_t)len;
}

/* Reads root/rel whole into a new buffer. */
static int read_file(unsigned char **out, size_t *out_len, const char *root, const char *rel,
                     cincy_error *err)
{
    char path[4096];
    unsigned char *data = NULL;
    struct stat st;
    FILE *f;
    int error = 0;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (!(f = fopen(path, "rb")))
        return cincy_error_set(err, CINCY_ERROR, path, 0, "cannot open: %s", strerror(errno));
    if (fstat(fileno(f), &st) < 0 || st.st_size < 0 || (size_t)st.st_size > TAR_FILE_MAX) {
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "cannot size, or too large");
        goto cleanup;
    }
    if (!(data = malloc((size_t)st.st_size + 1))) {
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "out of memory");
        goto cleanup;
    }
    if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        error = cincy_error_set(err, CINCY_ERROR, path, 0, "short read");
        goto cleanup;
    }
    *out = data;
    *out_len = (size_t)st.st_size;
    data = NULL;
cleanup:
    free(data);
    fclose(f);
    return error;
}

static int write_entry(struct archive *a, const char *root, const char *rel, cincy_error *err)
{
    struct archive_entry *e = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    int error;

    if ((error = read_file(&data, &len, root, rel, err)) < 0)
        return error;
    if (!(e = archive_entry_new())) {
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    archive_entry_set_pathname(e, rel);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        (len && archive_write_data(a, data, len) != (la_ssize_t)len))
        error = cincy_error_set(err, CINCY_ERROR, rel, 0, "tar: %s", archive_error_string(a));
cleanup:
    archive_entry_free(e);
    free(data);
    return error;
}

int server_graph_data_tar(server_body **out, const char *dir, cincy_error *err)
{
    path_list paths = {NULL, 0, 0};
    membuf mem = {NULL, 0, 0};
    struct archive *a = NULL;
    int error;

    *out = NULL;
    if ((error = add_if_file(&paths, dir, "version")) < 0 ||
        (error = add_if_file(&paths, dir, "LICENSE")) < 0 ||
        (error = add_if_file(&paths, dir, "raw/metadata.json")) < 0 ||
        (error = add_yaml_dir(&paths, dir, "channels")) < 0 ||
        (error = add_yaml_dir(&paths, dir, "blocked-edges")) < 0) {
        error = cincy_error_set(err, CINCY_ERROR, dir, 0, "out of memory");
        goto cleanup;
    }
    qsort(paths.items, paths.count, sizeof(*paths.items), cmp_paths);
    /* pax_restricted is ustar unless a name needs more; no gzip timestamp,
     * or the bytes would change every load. */
    if (!(a = archive_write_new()) || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_options(a, "gzip:!timestamp") != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, &mem, NULL, mem_write, NULL) != ARCHIVE_OK) {
        error = cincy_error_set(err, CINCY_ERROR, dir, 0, "tar: %s",
                                a ? archive_error_string(a) : "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < paths.count; i++)
        if ((error = write_entry(a, dir, paths.items[i], err)) < 0)
            goto cleanup;
    if (archive_write_close(a) != ARCHIVE_OK) {
        error = cincy_error_set(err, CINCY_ERROR, dir, 0, "tar: %s", archive_error_string(a));
        goto cleanup;
    }
    if (!(*out = server_body_new((const char *)mem.data, mem.len, 0 /* already gzip */)))
        error = cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
cleanup:
    if (a)
        archive_write_free(a);
    free(mem.data);
    path_list_free(&paths);
    return error;
}

void server_graph_data_set(server *s, server_body *tar)
{
    server_body *old;

    pthread_mutex_lock(&s->tar_lock);
    old = s->graph_data_tar;
    s->graph_data_tar = tar;
    pthread_mutex_unlock(&s->tar_lock);
    server_body_unref(old); /* responses in flight hold their own references */
}

server_body *server_graph_data_get(server *s)
{
    server_body *b;

    pthread_mutex_lock(&s->tar_lock);
    b = server_body_ref(s->graph_data_tar);
    pthread_mutex_unlock(&s->tar_lock);
    return b;
}
