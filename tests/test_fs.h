/* tests/test_fs.h - scratch directories and files for every module's tests.
 * Everything is static inline: test files are linked into one binary, so no
 * helper may be a global symbol, and unused ones must not warn. */
#ifndef CINCY_TEST_FS_H
#define CINCY_TEST_FS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* snprintf into an array, failing the test on truncation (a cut path would
 * make the test check the wrong file). */
#define TEST_SNPRINTF(buf, ...)                                                                    \
    cr_assert(snprintf(buf, sizeof(buf), __VA_ARGS__) < (int)sizeof(buf), "path too long")

/* A fresh directory under /tmp; the caller removes it with test_rm_rf. */
static inline void test_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/cincy-test-XXXXXX");
    cr_assert_not_null(mkdtemp(buf), "mkdtemp failed");
}

static inline void test_rm_rf(const char *path)
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
            TEST_SNPRINTF(sub, "%s/%s", path, de->d_name);
            test_rm_rf(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Writes content to <dir>/<rel>, creating parent directories. */
static inline void test_write(const char *dir, const char *rel, const char *content)
{
    char path[4096];
    FILE *f;

    TEST_SNPRINTF(path, "%s/%s", dir, rel);
    for (char *s = path + 1; *s; s++) { /* every missing parent, dir included */
        if (*s == '/') {
            *s = '\0';
            mkdir(path, 0755);
            *s = '/';
        }
    }
    f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    fputs(content, f);
    fclose(f);
}

/* Whole file as a new string (NULL if it cannot be read). */
static inline char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

#endif
