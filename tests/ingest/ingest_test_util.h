/* tests/ingest/ingest_test_util.h - scratch directories and file helpers for ingest tests.
 * Everything is static inline: test files are linked into one binary, so no
 * helper may be a global symbol, and unused ones must not warn. */
#ifndef CINCY_INGEST_TEST_UTIL_H
#define CINCY_INGEST_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "test_fs.h"

#define TDATA CINCY_SOURCE_DIR "/tests/data/ingest"

/* Number of regular files under path, recursively. */
static inline size_t test_count_files(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    size_t n = 0;

    if (lstat(path, &st) < 0)
        return 0;
    if (S_ISREG(st.st_mode))
        return 1;
    if (!S_ISDIR(st.st_mode) || !(d = opendir(path)))
        return 0;
    while ((de = readdir(d)) != NULL) {
        char sub[4096];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        TEST_SNPRINTF(sub, "%s/%s", path, de->d_name);
        n += test_count_files(sub);
    }
    closedir(d);
    return n;
}

/* A minimal valid graph-data tree under dir with the given version file. */
static inline void test_graph_data_skeleton(const char *dir, const char *version)
{
    test_write(dir, "version", version);
    test_write(dir, "channels/stable-4.16.yaml", "name: stable-4.16\nversions: [4.16.0]\n");
    test_write(dir, "blocked-edges/4.16.0.yaml", "to: 4.16.0\nfrom: .*\n");
    test_write(dir, "raw/metadata.json", "{}\n");
}

static inline const char *test_fmt(const cincy_error *e)
{
    static char buf[1024]; /* Criterion runs each test in its own process */
    return cincy_error_format(e, buf, sizeof(buf));
}

#endif
