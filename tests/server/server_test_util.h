/* tests/server/server_test_util.h - scratch files, free ports and a small
 * libcurl client for the server tests. Everything is static inline: test
 * files are linked into one binary, so no helper may be a global symbol, and
 * unused ones must not warn. */
#ifndef CINCY_SERVER_TEST_UTIL_H
#define CINCY_SERVER_TEST_UTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "test_fs.h"

/* ---------------------------------------------------------------------------
 * Ports (files and scratch directories: tests/test_fs.h) */

/* A port nobody listens on right now (bind port 0, read it, close). */
static inline int stest_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---------------------------------------------------------------------------
 * HTTP */

typedef struct stest_buf {
    char *data;
    size_t len;
} stest_buf;

typedef struct stest_resp {
    long status;    /* -1: no connection */
    stest_buf head; /* raw header block */
    stest_buf body; /* NUL-terminated */
} stest_resp;

static inline size_t stest_collect(char *p, size_t size, size_t n, void *ud)
{
    stest_buf *b = ud;
    char *grown = realloc(b->data, b->len + size * n + 1);

    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, p, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

static inline void stest_resp_free(stest_resp *r)
{
    free(r->head.data);
    free(r->body.data);
    memset(r, 0, sizeof(*r));
}

/* Sends method to url with the extra headers (NULL-terminated, may be NULL).
 * Unless a header names Accept, no Accept header is sent (curl's default
 * "*" "/" "*" would hide the absent-Accept case). Returns status -1 when the
 * connection failed. The URL path is sent as is ("/../" is not folded). */
static inline stest_resp stest_request(const char *method, const char *url,
                                       const char *const *headers)
{
    stest_resp r = {-1, {NULL, 0}, {NULL, 0}};
    struct curl_slist *list = NULL;
    int has_accept = 0;
    CURL *c = curl_easy_init();

    cr_assert_not_null(c);
    for (size_t i = 0; headers && headers[i]; i++) {
        has_accept |= !strncasecmp(headers[i], "Accept:", 7);
        list = curl_slist_append(list, headers[i]);
    }
    if (!has_accept)
        list = curl_slist_append(list, "Accept:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stest_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, stest_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.head);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (!r.body.data)
        r.body.data = calloc(1, 1);
    if (!r.head.data)
        r.head.data = calloc(1, 1);
    return r;
}

static inline stest_resp stest_get(const char *url)
{
    return stest_request("GET", url, NULL);
}

/* Value of the response header name (case-insensitive) copied into buf, or
 * NULL when absent. */
static inline const char *stest_header(const stest_resp *r, const char *name, char *buf,
                                       size_t size)
{
    size_t n = strlen(name);

    for (const char *line = r->head.data; line && *line;) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > n && !strncasecmp(line, name, n) && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, size, "%.*s", (int)(len - (size_t)(v - line)), v);
            return buf;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

#endif
