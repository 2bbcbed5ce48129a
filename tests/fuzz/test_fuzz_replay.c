/* tests/fuzz/test_fuzz_replay.c - replays every fuzz corpus through its
 * harness under the test build's ASan/UBSan, without libFuzzer.
 *
 * The harnesses (tests/fuzz/targets/fuzz_<name>.c) are compiled into
 * cincy-tests with LLVMFuzzerTestOneInput renamed to fuzz_<name>_one
 * (CMakeLists.txt). Each Test feeds its target every file of
 * tests/fuzz/corpus/<name>/ (the minimised corpus, crash-* regressions
 * included) and of tests/fuzz/crashes/<name>/ if there is one. A harness
 * aborts on a violated invariant and the sanitizers report memory errors,
 * so a regression fails the test; a missing or empty corpus fails too.
 * Criterion runs each Test in its own process: a harness's one-time setup
 * (a scratch directory, a server) is per target.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

/* Feeds every regular file of dir to fn; returns the number fed. */
static size_t replay_dir(const char *dir, fuzz_fn fn)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        FILE *f;
        long len;
        uint8_t *buf;

        if (de->d_name[0] == '.')
            continue;
        cr_assert(snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path));
        f = fopen(path, "rb");
        cr_assert_not_null(f, "cannot open %s", path);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc(len > 0 ? (size_t)len : 1);
        cr_assert_not_null(buf);
        cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len, "short read of %s", path);
        fclose(f);
        fn(buf, (size_t)len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *name, fuzz_fn fn)
{
    char dir[1024];
    size_t n;

    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", CINCY_SOURCE_DIR, name);
    n = replay_dir(dir, fn);
    cr_assert_gt(n, 0, "no corpus in %s", dir);
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/crashes/%s", CINCY_SOURCE_DIR, name);
    replay_dir(dir, fn);
}

#define REPLAY(name)                                                                               \
    int fuzz_##name##_one(const uint8_t *data, size_t size);                                       \
    Test(fuzz_replay, name, .timeout = 120) { replay(#name, fuzz_##name##_one); }

REPLAY(version)
REPLAY(channel)
REPLAY(block)
REPLAY(raw_metadata)
REPLAY(gd_version)
REPLAY(release_metadata)
REPLAY(config)
REPLAY(upstream)
REPLAY(dockercfg)
REPLAY(tar)
REPLAY(manifest)
REPLAY(www_auth)
REPLAY(query)
REPLAY(path)
