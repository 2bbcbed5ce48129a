/* server/web.c - the files of web.directory, served on the graph port.
 *
 * The directory is read once, at start, into a table of (URL path, bytes,
 * content type, ETag). A request is answered only when its decoded path is a
 * key of that table, so no part of a request path ever reaches the file
 * system: "..", "%2e%2e", "//etc/passwd", a file added after start, all are
 * simply not keys. Reading skips what a page has no business serving: names
 * starting with '.' (.git, .env), symlinks leading outside the directory,
 * anything that is not a regular file, and files past the size limits
 * (logged). A change to the page needs a restart, like a config change.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_internal.h"

#define WEB_DEPTH_MAX 16 /* directories deeper than this are not a web page */

static const struct {
    const char *ext;
    const char *type;
    int text; /* worth compressing */
} content_types[] = {
    {".html", "text/html; charset=utf-8", 1},
    {".js", "text/javascript; charset=utf-8", 1},
    {".mjs", "text/javascript; charset=utf-8", 1},
    {".css", "text/css; charset=utf-8", 1},
    {".svg", "image/svg+xml", 1},
    {".json", "application/json", 1},
    {".map", "application/json", 1},
    {".txt", "text/plain; charset=utf-8", 1},
    {".png", "image/png", 0},
    {".ico", "image/x-icon", 0},
    {".woff2", "font/woff2", 0},
};

/* Content type of path and whether it is text; octet-stream otherwise. */
static const char *type_of(const char *path, int *text)
{
    const char *dot = strrchr(path, '.');

    *text = 0;
    for (size_t i = 0; dot && i < sizeof(content_types) / sizeof(content_types[0]); i++) {
        if (!strcmp(dot, content_types[i].ext)) {
            *text = content_types[i].text;
            return content_types[i].type;
        }
    }
    return "application/octet-stream";
}

typedef struct web_load {
    server_web *w;
    size_t cap;
    char root[PATH_MAX]; /* realpath of web.directory */
    size_t root_len;
} web_load;

static void web_file_clear(server_web_file *f)
{
    free(f->path);
    server_body_unref(f->body);
}

void server_web_free(server_web *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        web_file_clear(&w->files[i]);
    free(w->files);
    free(w);
}

/* 1 when real (a realpath) is root or below it. */
static int inside_root(const web_load *l, const char *real)
{
    return !strncmp(real, l->root, l->root_len) &&
           (real[l->root_len] == '/' || real[l->root_len] == '\0');
}

/* Reads the whole file at path (size bytes per fstat) into a new buffer. */
static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t got = 0;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (buf = malloc((size_t)st.st_size + 1))) {
        while (got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    close(fd);
    if (buf && got != (size_t)st.st_size) {
        free(buf);
        return NULL; /* changed while read: skip it rather than serve half */
    }
    *len = got;
    return buf;
}

/* Adds the regular file at path (real: its realpath) as URL url. Returns 0
 * (added or skipped with a warning) or CINCY_ERROR (out of memory). */
static int add_file(web_load *l, const char *path, const char *url, off_t size)
{
    server_web *w = l->w;
    server_web_file *f;
    size_t len = 0;
    char *data;
    int text;

    if (w->n >= SERVER_WEB_FILES_MAX || (uint64_t)size > SERVER_WEB_FILE_MAX ||
        w->bytes + (uint64_t)size > SERVER_WEB_TOTAL_MAX) {
        cincy_log(CINCY_LOG_WARN, "web",
                  "file not served: past the limits of %u files, %u bytes each, %u in all"
                  "\tfile=\"%s\" size=%lld",
                  SERVER_WEB_FILES_MAX, SERVER_WEB_FILE_MAX, SERVER_WEB_TOTAL_MAX, path,
                  (long long)size);
        return CINCY_OK;
    }
    if (!(data = read_file(path, &len))) {
        cincy_log(CINCY_LOG_WARN, "web", "file not served: cannot read it\tfile=\"%s\"", path);
        return CINCY_OK;
    }
    if (w->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        server_web_file *p = realloc(w->files, cap * sizeof(*p));
        if (!p) {
            free(data);
            return CINCY_ERROR;
        }
        w->files = p;
        l->cap = cap;
    }
    f = &w->files[w->n];
    f->type = type_of(url, &text);
    f->path = strdup(url);
    f->body = server_body_new(data, len, text);
    free(data);
    if (!f->path || !f->body) {
        web_file_clear(f);
        return CINCY_ERROR;
    }
    w->n++;
    w->bytes += len;
    return CINCY_OK;
}

static int load_dir(web_load *l, const char *dir, const char *url, int depth);

/* One directory entry: a file, a directory to enter, or something skipped. */
static int load_entry(web_load *l, const char *dir, const char *url, const char *name, int depth)
{
    char path[PATH_MAX], sub[PATH_MAX], real[PATH_MAX];
    struct stat st;

    if (name[0] == '.')
        return CINCY_OK; /* ".", "..", .git, .env, editor droppings */
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
        (size_t)snprintf(sub, sizeof(sub), "%s/%s", url, name) >= sizeof(sub) ||
        lstat(path, &st) != 0)
        return CINCY_OK;
    if (S_ISLNK(st.st_mode)) {
        if (!realpath(path, real) || !inside_root(l, real) || stat(real, &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            cincy_log(CINCY_LOG_WARN, "web",
                      "symlink not served: it leads outside web.directory or to no file"
                      "\tfile=\"%s\"",
                      path);
            return CINCY_OK;
        }
        return add_file(l, real, sub, st.st_size);
    }
    if (S_ISDIR(st.st_mode))
        return load_dir(l, path, sub, depth + 1);
    return S_ISREG(st.st_mode) ? add_file(l, path, sub, st.st_size) : CINCY_OK;
}

static int load_dir(web_load *l, const char *dir, const char *url, int depth)
{
    DIR *d;
    struct dirent *e;
    int error = CINCY_OK;

    if (depth > WEB_DEPTH_MAX || !(d = opendir(dir)))
        return CINCY_OK;
    while (error == CINCY_OK && (e = readdir(d)) != NULL)
        error = load_entry(l, dir, url, e->d_name, depth);
    closedir(d);
    return error;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const server_web_file *)a)->path, ((const server_web_file *)b)->path);
}

int server_web_load(server_web **out, const char *dir, cincy_error *err)
{
    web_load l;
    struct stat st;
    int error;

    memset(&l, 0, sizeof(l));
    *out = NULL;
    if (!dir || !realpath(dir, l.root) || stat(l.root, &st) != 0 || !S_ISDIR(st.st_mode))
        return cincy_error_set(err, CINCY_ENOTFOUND, dir, 0, "web directory not found");
    l.root_len = strlen(l.root);
    if (!(l.w = calloc(1, sizeof(*l.w))))
        return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
    if ((error = load_dir(&l, l.root, "", 0)) < 0) {
        server_web_free(l.w);
        return cincy_error_set(err, error, NULL, 0, "out of memory");
    }
    qsort(l.w->files, l.w->n, sizeof(*l.w->files), cmp_file);
    cincy_log(CINCY_LOG_INFO, "web", "web page loaded\tdirectory=\"%s\" files=%zu bytes=%zu", dir,
              l.w->n, l.w->bytes);
    *out = l.w;
    return CINCY_OK;
}

const server_web_file *server_web_find(const server_web *w, const char *url)
{
    server_web_file key;

    if (!w || !url)
        return NULL;
    key.path = (char *)(strcmp(url, "/") == 0 ? "/index.html" : url);
    return bsearch(&key, w->files, w->n, sizeof(*w->files), cmp_file);
}
