/* server/web.c - static files of web.directory, served on the graph port.
 *
 * Only regular files below the directory are served: a path segment that is
 * empty or starts with '.' (so "..", ".git", ".env") is refused before the
 * file system is touched, which keeps every request inside web.directory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_internal.h"

#define WEB_PATH_MAX 1024 /* deeper or longer paths are not ours */

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(content_types) / sizeof(content_types[0]); i++) {
        if (!strcmp(dot, content_types[i].ext))
            return content_types[i].type;
    }
    return "application/octet-stream";
}

/* 1 when rel ("a/b.js") is a path we may join to web.directory. */
static int safe_relative(const char *rel)
{
    const char *seg = rel;

    if (!rel[0] || strlen(rel) >= WEB_PATH_MAX)
        return 0;
    for (const char *p = rel;; p++) {
        if (*p == '/' || *p == '\0') {
            if (p == seg || seg[0] == '.')
                return 0; /* "", ".", "..", hidden files */
            if (*p == '\0')
                return 1;
            seg = p + 1;
        } else if ((unsigned char)*p < 0x20 || *p == '\\') {
            return 0;
        }
    }
}

int server_web_open(const server *s, const char *url, int *out_fd, uint64_t *out_size,
                    const char **out_type)
{
    char path[WEB_PATH_MAX + 4096];
    const char *rel;
    struct stat st;
    int fd;

    if (!s->cfg.web_dir || url[0] != '/')
        return CINCY_ENOTFOUND;
    rel = strcmp(url, "/") == 0 ? "index.html" : url + 1;
    if (!safe_relative(rel))
        return CINCY_ENOTFOUND;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->cfg.web_dir, rel) >= sizeof(path))
        return CINCY_ENOTFOUND;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CINCY_ENOTFOUND;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CINCY_ENOTFOUND;
    }
    *out_fd = fd;
    *out_size = (uint64_t)st.st_size;
    *out_type = type_of(rel);
    return 0;
}
