/* tests/test_cli.h - runs the built `cincy` binary and captures what it
 * printed, for the tests of its commands. Static inline, like test_fs.h:
 * every test file is linked into one binary. */
#ifndef CINCY_TEST_CLI_H
#define CINCY_TEST_CLI_H

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "test_fs.h"

extern char **environ;

typedef struct cli_result {
    int code;  /* exit status, or -1 if killed by a signal */
    char *out; /* stdout */
    char *err; /* stderr */
} cli_result;

/* Runs CINCY_BINARY with args (NULL-terminated, argv[0] excluded, at most 30). */
static inline cli_result cli_run(const char *const *args)
{
    char dir[256], out[512], err[512];
    char *argv[32] = {CINCY_BINARY};
    posix_spawn_file_actions_t fa;
    cli_result res;
    pid_t pid;
    int status, n = 1;

    for (; args[n - 1]; n++) {
        cr_assert_lt(n, 31, "too many arguments");
        argv[n] = (char *)args[n - 1];
    }
    argv[n] = NULL;
    test_tmpdir(dir, sizeof(dir));
    TEST_SNPRINTF(out, "%s/out", dir);
    TEST_SNPRINTF(err, "%s/err", dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_eq(posix_spawn(&pid, CINCY_BINARY, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    res.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    res.out = test_slurp(out);
    res.err = test_slurp(err);
    cr_assert(res.out && res.err);
    test_rm_rf(dir);
    return res;
}

static inline void cli_free(cli_result *r)
{
    free(r->out);
    free(r->err);
}

#endif
