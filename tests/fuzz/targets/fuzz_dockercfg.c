/* tests/fuzz/targets/fuzz_dockercfg.c - a docker config.json / pull secret
 * (reg_load_credentials through reg_client_new) and the repository string.
 *
 * Input: the auth file; when it starts with '@', its first line (after the
 * '@') is the repository instead of the fixed ones. Invariants: a bad
 * repository or auth file is CINCY_EINVALID with a message (the auth file's
 * errors name the file); an accepted client has an http(s) base, a host and
 * a repository, and credentials that are NULL or hold "user:password" with
 * no NUL cut (what curl will send).
 */
#include "fuzz/targets/fuzz_util.h"
#include "ingest/registry_internal.h"

static const char *const fixed_repos[] = {"quay.io/openshift-release-dev/ocp-release",
                                          "http://127.0.0.1:5000/ns/repo",
                                          "https://registry.example:8443/a/b/c"};

static void check_client(const reg_client *cl, const char *path)
{
    (void)path;
    FUZZ_CHECK(cl->base && (strncmp(cl->base, "https://", 8) == 0 ||
                            strncmp(cl->base, "http://", 7) == 0));
    FUZZ_CHECK(cl->host && cl->host[0] && cl->repo && cl->repo[0]);
    FUZZ_CHECK(strstr(cl->base, cl->host) != NULL);
    if (cl->basic)
        FUZZ_CHECK(strchr(cl->basic, ':') != NULL);
}

static void try_repo(const char *repo, const char *path)
{
    ingest_registry_config cfg = {0};
    reg_client *cl = NULL;
    cincy_error err;

    cfg.repository = repo;
    cfg.auth_file = path;
    if (reg_client_new(&cl, repo, &cfg, &err) < 0) {
        FUZZ_CHECK(err.code == CINCY_EINVALID || err.code == CINCY_ETOOBIG);
        FUZZ_CHECK(err.msg[0]);
        return;
    }
    check_client(cl, path);
    reg_client_free(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[512];
    const uint8_t *body = data;
    size_t len = size;
    char *repo = NULL;

    fuzz_quiet();
    if (!path[0])
        snprintf(path, sizeof(path), "%s/auth.json", fuzz_tmpdir());
    if (size > 0 && data[0] == '@') {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t rl = nl ? (size_t)(nl - data) - 1 : size - 1;
        repo = fuzz_strndup(data + 1, rl);
        body = nl ? nl + 1 : data + size;
        len = size - (size_t)(body - data);
    }
    fuzz_write(fuzz_tmpdir(), "auth.json", body, len);
    if (repo) {
        try_repo(repo, path);
        free(repo);
    } else {
        for (size_t i = 0; i < sizeof(fixed_repos) / sizeof(*fixed_repos); i++)
            try_repo(fixed_repos[i], path);
    }
    return 0;
}
