/* ingest/fsutil.c - the file-system chores every ingest source shares.
 * Reading is capped (STYLE 2.12): every file ingest reads comes from outside,
 * so a caller names the largest size it is willing to hold in memory. Listings
 * are sorted so that load order, and with it log and error order, never
 * depends on the file system. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest_internal.h"

int ingest_oom(cincy_error *err)
{
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
}

int ingest_read_file(char **out, size_t *out_len, const char *path, size_t cap, const char *errname,
                     cincy_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, error = CINCY_OK;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return cincy_error_set(err, CINCY_ENOTFOUND, errname, 0, "no such file");
        return cincy_error_set(err, CINCY_ERROR, errname, 0, "cannot open: %s", strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        error = cincy_error_set(err, CINCY_ERROR, errname, 0, "not a regular file");
        goto cleanup;
    }
    if ((unsigned long long)st.st_size > cap) {
        error = cincy_error_set(err, CINCY_ETOOBIG, errname, 0,
                                "file is %lld bytes, more than the %zu allowed",
                                (long long)st.st_size, cap);
        goto cleanup;
    }
    /* One byte more than the size we saw, so a file growing under us shows
     * up as a short read past the cap rather than silent truncation. */
    if (!(buf = malloc((size_t)st.st_size + 2))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    for (;;) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            error =
                cincy_error_set(err, CINCY_ERROR, errname, 0, "read failed: %s", strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > (size_t)st.st_size) {
            error = cincy_error_set(err, CINCY_ERROR, errname, 0, "file changed while read");
            goto cleanup;
        }
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    buf = NULL;

cleanup:
    free(buf);
    close(fd);
    return error;
}

int ingest_write_file(const char *path, const char *data, size_t len, cincy_error *err)
{
    size_t done = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0)
        return cincy_error_set(err, CINCY_ERROR, path, 0, "cannot create: %s", strerror(errno));
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return cincy_error_set(err, CINCY_ERROR, path, 0, "write failed: %s", strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) < 0)
        return cincy_error_set(err, CINCY_ERROR, path, 0, "write failed: %s", strerror(errno));
    return CINCY_OK;
}

int ingest_mkdir_p(const char *path, cincy_error *err)
{
    char *p = strdup(path);
    int error = CINCY_OK;

    if (!p)
        return ingest_oom(err);
    if (!p[0]) {
        free(p);
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "empty directory name");
    }
    /* Create each prefix in turn; EEXIST on a directory is what -p means. */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && (errno != EEXIST || !ingest_is_dir(p))) {
            error = cincy_error_set(err, CINCY_ERROR, p, 0, "cannot create directory: %s",
                                    strerror(errno == EEXIST ? ENOTDIR : errno));
            break;
        }
        *s = saved;
        if (saved == '\0')
            break;
    }
    free(p);
    return error;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ingest_list_dir(char ***out, size_t *out_count, const char *path, cincy_error *err)
{
    ingest_strv names = {0};
    struct dirent *de;
    int error = CINCY_OK;
    DIR *d = opendir(path);

    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return cincy_error_set(err, CINCY_ENOTFOUND, path, 0, "no such directory");
        return cincy_error_set(err, CINCY_ERROR, path, 0, "cannot open directory: %s",
                               strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((error = ingest_strv_push(&names, de->d_name)) < 0) {
            ingest_oom(err);
            goto cleanup;
        }
    }
    if (names.n > 1)
        qsort(names.items, names.n, sizeof(*names.items), cmp_str);
    ingest_strv_take(&names, out, out_count);

cleanup:
    closedir(d);
    ingest_strv_clear(&names);
    return error;
}

int ingest_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ingest_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *ingest_path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = malloc(na + nb + 2);

    if (!p)
        return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

int ingest_strv_pushn(ingest_strv *v, const char *s, size_t len)
{
    char *copy;

    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        char **items = realloc(v->items, cap * sizeof(*items));
        if (!items)
            return CINCY_ERROR;
        v->items = items;
        v->cap = cap;
    }
    if (!(copy = malloc(len + 1)))
        return CINCY_ERROR;
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->items[v->n++] = copy;
    return CINCY_OK;
}

int ingest_strv_push(ingest_strv *v, const char *s)
{
    return ingest_strv_pushn(v, s, strlen(s));
}

void ingest_strv_take(ingest_strv *v, char ***out, size_t *n)
{
    *out = v->items;
    *n = v->n;
    v->items = NULL;
    v->n = v->cap = 0;
}

void ingest_strv_clear(ingest_strv *v)
{
    ingest_strv_free(v->items, v->n);
    v->items = NULL;
    v->n = v->cap = 0;
}

void ingest_strv_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

int ingest_normalise_entry(char *out, size_t size, const char *in, int strip_root)
{
    size_t o = 0;

    if (*in == '/' && !strip_root)
        return -1;
    while (*in == '/')
        in++;
    while (*in) {
        size_t len = strcspn(in, "/");
        if (len == 2 && in[0] == '.' && in[1] == '.')
            return -1;
        if (len > 0 && !(len == 1 && in[0] == '.')) {
            if (o + len + 2 > size)
                return -1;
            if (o)
                out[o++] = '/';
            memcpy(out + o, in, len);
            o += len;
        }
        in += len;
        while (*in == '/')
            in++;
    }
    out[o] = '\0';
    return 0;
}
