/* tests/fuzz/targets/fuzz_util.h - what the fuzz harnesses share: a scratch
 * directory made once per process, file writing, NUL-terminated copies of
 * the input and the invariant check that stops the fuzzer.
 *
 * Every harness is one translation unit with one non-static entry point,
 * LLVMFuzzerTestOneInput. The replay build (cincy-tests) renames that symbol
 * to fuzz_<name>_one, so everything here is static: many harnesses are linked
 * into one binary there. A harness must not keep state between inputs that
 * changes what the next input does (libFuzzer assumes it does not), except
 * caches set up once (the tmpdir, a fixed graph, a server).
 */
#ifndef CINCY_FUZZ_UTIL_H
#define CINCY_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/graph.h"

/* A violated invariant: a wrong answer the code did not report. Traps so
 * that libFuzzer saves the input and the replay test fails. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Setup steps that must work (a full disk, not the input, makes them fail). */
#define FUZZ_SETUP(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz setup failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static inline void fuzz_rm_rf(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &st) < 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    if ((d = opendir(path)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char sub[4096];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < (int)sizeof(sub))
                fuzz_rm_rf(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

static char fuzz_tmp[256];

static inline void fuzz_tmp_cleanup(void)
{
    if (fuzz_tmp[0])
        fuzz_rm_rf(fuzz_tmp);
}

/* The per-process scratch directory, made on first use and removed at exit. */
static inline const char *fuzz_tmpdir(void)
{
    if (!fuzz_tmp[0]) {
        snprintf(fuzz_tmp, sizeof(fuzz_tmp), "/tmp/cincy-fuzz-XXXXXX");
        FUZZ_SETUP(mkdtemp(fuzz_tmp) != NULL);
        atexit(fuzz_tmp_cleanup);
    }
    return fuzz_tmp;
}

/* Writes len bytes to <dir>/<rel>, creating parents. */
static inline void fuzz_write(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[4096];
    FILE *f;

    FUZZ_SETUP(snprintf(path, sizeof(path), "%s/%s", dir, rel) < (int)sizeof(path));
    for (char *s = path + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    }
    f = fopen(path, "wb");
    FUZZ_SETUP(f != NULL);
    FUZZ_SETUP(len == 0 || fwrite(data, 1, len, f) == len);
    FUZZ_SETUP(fclose(f) == 0);
}

static inline void fuzz_write_str(const char *dir, const char *rel, const char *text)
{
    fuzz_write(dir, rel, text, strlen(text));
}

/* A NUL-terminated copy of the input (parsers taking C strings). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_SETUP(s != NULL);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits the input at the first occurrence of sep (a byte string): the part
 * before goes to *a, the rest to *b (empty when sep is absent). Returns the
 * number of parts found (1 or 2). Lets one input carry several documents. */
static inline int fuzz_split(const uint8_t *data, size_t size, const char *sep, const uint8_t **a,
                      size_t *alen, const uint8_t **b, size_t *blen)
{
    size_t n = strlen(sep);
    for (size_t i = 0; n && i + n <= size; i++)
        if (memcmp(data + i, sep, n) == 0) {
            *a = data;
            *alen = i;
            *b = data + i + n;
            *blen = size - i - n;
            return 2;
        }
    *a = data;
    *alen = size;
    *b = data + size;
    *blen = 0;
    return 1;
}

/* Quiet logs: a fuzzer feeds millions of bad files, each worth a warning. */
static inline void fuzz_quiet(void)
{
    static int done;
    if (!done) {
        cincy_log_set_level(CINCY_LOG_ERROR);
        done = 1;
    }
}

/* 1 when s is valid UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), as graph_snapshot_to_json requires of every string. */
static inline int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07;
        else
            return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

#endif
