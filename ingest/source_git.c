/* ingest/source_git.c - graph-data from a git repository, through libgit2.
 * The first fetch makes a bare repository at <cache_dir>/repo.git; every fetch
 * updates its refs/remotes/origin/<branch> from the location, so only new
 * objects cross the network. The wanted commit's tree is written out to
 * <cache_dir>/trees/<commit> (only the paths the server reads), and the trees
 * of earlier fetches are removed once a new one is complete: the caller
 * promises not to use an old directory after the next fetch. No git binary
 * is needed at run time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "ingest/ingest_internal.h"

/* A graph-data blob is a few KB (raw/metadata.json a few MB); the caps stop a
 * hostile or mistaken repository from filling the disk of the cache. */
#define GIT_BLOB_CAP (64u * 1024 * 1024)
#define GIT_TREE_CAP (512u * 1024 * 1024)

/* Turns the last libgit2 error into err, naming the source's location. */
static int git_fail(cincy_error *err, const ingest_source *src, const char *what)
{
    const git_error *e = git_error_last();
    return cincy_error_set(err, CINCY_ERROR, NULL, 0, "git '%s': %s: %s", src->location, what,
                           e && e->message ? e->message : "unknown error");
}

static int is_commit_id(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return i == GIT_OID_HEXSZ;
}

/* Opens <cache_dir>/repo.git (created bare on first use) and an in-memory
 * remote for the location. The remote is not stored in the repository's
 * config, so a changed location simply takes effect; insteadOf rewriting is
 * skipped because it goes through libgit2 1.5's config regex code, which
 * leaks a pcre2 match block per call (libgit2 PR #6382). */
static int open_repo(git_repository **out, git_remote **out_remote, const ingest_source *src,
                     cincy_error *err)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_remote_create_options opts;
    char *path = ingest_path_join(src->cache_dir, "repo.git");
    int error = 0;

    if (!path)
        return ingest_oom(err);
    if ((error = ingest_mkdir_p(src->cache_dir, err)) < 0)
        goto cleanup;
    if (ingest_is_dir(path) ? git_repository_open_bare(&repo, path) < 0
                            : git_repository_init(&repo, path, 1) < 0) {
        error = git_fail(err, src, "open cache");
        goto cleanup;
    }
    git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    opts.repository = repo;
    opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (git_remote_create_with_opts(&remote, src->location, &opts) < 0) {
        error = git_fail(err, src, "remote");
        goto cleanup;
    }
    *out = repo;
    *out_remote = remote;
    repo = NULL;
    remote = NULL;
cleanup:
    git_remote_free(remote);
    git_repository_free(repo);
    free(path);
    return error;
}

/* Fetches the remote's branches into refs/remotes/origin/. *out_head receives the remote's default
 * branch as "refs/remotes/origin/<name>" when want_head is set. */
static int fetch_remote(char **out_head, git_remote *remote, int want_head,
                        const ingest_source *src, cincy_error *err)
{
    static char *spec[] = {"+refs/heads/*:refs/remotes/origin/*"};
    git_strarray refspecs = {spec, 1};
    git_remote_callbacks cb;
    git_fetch_options opts;
    git_buf head = {0};
    char *name = NULL;
    int error = 0;

    /* The _INIT macros leave fields out, which -Wextra rejects. */
    git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
    git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);

    if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0)
        return git_fail(err, src, "connect");
    if (want_head) {
        const char *prefix = "refs/heads/";
        if (git_remote_default_branch(&head, remote) < 0) {
            error = git_fail(err, src, "default branch");
            goto cleanup;
        }
        if (strncmp(head.ptr, prefix, strlen(prefix)) != 0) {
            error = cincy_error_set(err, CINCY_ERROR, NULL, 0,
                                    "git '%s': default branch '%s' is not a branch", src->location,
                                    head.ptr);
            goto cleanup;
        }
        if (!(name = malloc(strlen(head.ptr) + 32))) {
            error = ingest_oom(err);
            goto cleanup;
        }
        sprintf(name, "refs/remotes/origin/%s", head.ptr + strlen(prefix));
    }
    opts.prune = GIT_FETCH_PRUNE;
    if (git_remote_download(remote, &refspecs, &opts) < 0 ||
        git_remote_update_tips(remote, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, "cincy fetch") < 0) {
        error = git_fail(err, src, "fetch");
        goto cleanup;
    }
    if (out_head) {
        *out_head = name;
        name = NULL;
    }
cleanup:
    git_remote_disconnect(remote);
    git_buf_dispose(&head);
    free(name);
    return error;
}

/* The commit the config asks for: a pinned id (fetched only when not yet in
 * the cache), a branch, or the remote's default branch. */
static int resolve_commit(git_oid *out, git_repository *repo, git_remote *remote,
                          const ingest_source *src, cincy_error *err)
{
    git_reference *ref = NULL, *resolved = NULL;
    git_commit *commit = NULL;
    char *refname = NULL;
    int error = 0;

    if (src->reference && is_commit_id(src->reference)) {
        git_oid oid;
        if (git_oid_fromstr(&oid, src->reference) < 0)
            return git_fail(err, src, "commit id");
        if (git_commit_lookup(&commit, repo, &oid) < 0) {
            if ((error = fetch_remote(NULL, remote, 0, src, err)) < 0)
                return error;
            if (git_commit_lookup(&commit, repo, &oid) < 0)
                return cincy_error_set(err, CINCY_ENOTFOUND, NULL, 0,
                                       "git '%s': commit %s not found", src->location,
                                       src->reference);
        }
        git_commit_free(commit);
        *out = oid;
        return 0;
    }
    if ((error = fetch_remote(&refname, remote, src->reference == NULL, src, err)) < 0)
        return error;
    if (src->reference) {
        const char *branch = src->reference;
        if (strncmp(branch, "refs/heads/", 11) == 0) /* "refs/heads/master" means "master" */
            branch += 11;
        if (!(refname = malloc(strlen(branch) + 32)))
            return ingest_oom(err);
        sprintf(refname, "refs/remotes/origin/%s", branch);
    }
    if (git_reference_lookup(&ref, repo, refname) < 0) {
        error = cincy_error_set(
            err, CINCY_ENOTFOUND, NULL, 0, "git '%s': branch '%s' not found", src->location,
            src->reference ? src->reference : refname + strlen("refs/remotes/origin/"));
        goto cleanup;
    }
    if (git_reference_resolve(&resolved, ref) < 0 ||
        git_commit_lookup(&commit, repo, git_reference_target(resolved)) < 0) {
        error = git_fail(err, src, refname);
        goto cleanup;
    }
    git_oid_cpy(out, git_commit_id(commit));
cleanup:
    git_commit_free(commit);
    git_reference_free(resolved);
    git_reference_free(ref);
    free(refname);
    return error;
}

typedef struct tree_writer {
    git_repository *repo;
    const ingest_source *src;
    const char *dir; /* the tree being written */
    size_t total;    /* bytes written so far */
    cincy_error *err;
    int error; /* first failure; stops the walk */
} tree_writer;

static int write_blob(tree_writer *w, const char *rel, const git_tree_entry *entry)
{
    git_blob *blob = NULL;
    char *path = NULL;
    git_object_size_t size;
    int error = 0;

    if (git_blob_lookup(&blob, w->repo, git_tree_entry_id(entry)) < 0)
        return git_fail(w->err, w->src, rel);
    size = git_blob_rawsize(blob);
    if (size > GIT_BLOB_CAP || w->total + size > GIT_TREE_CAP) {
        error = cincy_error_set(w->err, CINCY_ETOOBIG, rel, 0,
                                "git '%s': file or tree is too large", w->src->location);
        goto cleanup;
    }
    w->total += (size_t)size;
    if (!(path = ingest_path_join(w->dir, rel))) {
        error = ingest_oom(w->err);
        goto cleanup;
    }
    error = ingest_write_file(path, git_blob_rawcontent(blob), (size_t)size, w->err);
cleanup:
    free(path);
    git_blob_free(blob);
    return error;
}

static int tree_cb(const char *root, const git_tree_entry *entry, void *payload)
{
    tree_writer *w = payload;
    const char *name = git_tree_entry_name(entry);
    git_filemode_t mode = git_tree_entry_filemode(entry);
    char *rel = NULL, *path = NULL;

    if (*root == '\0' && !ingest_source_wanted(name))
        return 1; /* skip: not graph-data the server reads */
    /* libgit2 does not vet names read from a tree; never let one climb out. */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') ||
        strcmp(name, ".git") == 0) {
        w->error =
            cincy_error_set(w->err, CINCY_EINVALID, NULL, 0,
                            "git '%s': bad path name '%s%s' in tree", w->src->location, root, name);
        return -1;
    }
    if (!(rel = malloc(strlen(root) + strlen(name) + 1))) {
        w->error = ingest_oom(w->err);
        return -1;
    }
    sprintf(rel, "%s%s", root, name);
    if (mode == GIT_FILEMODE_TREE) {
        if (!(path = ingest_path_join(w->dir, rel)))
            w->error = ingest_oom(w->err);
        else
            w->error = ingest_mkdir_p(path, w->err);
    } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
        w->error = write_blob(w, rel, entry);
    }
    /* Symlinks and submodules are skipped: graph-data has none. */
    free(path);
    free(rel);
    return w->error < 0 ? -1 : 0;
}

/* Writes commit oid's tree to <cache_dir>/trees/<hex>; *out is that path. */
static int materialise(char **out, git_repository *repo, const git_oid *oid,
                       const ingest_source *src, const char *hex, cincy_error *err)
{
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    char *trees = ingest_path_join(src->cache_dir, "trees"), *dir = NULL;
    tree_writer w = {0};
    int error = 0;

    if (!trees || !(dir = ingest_path_join(trees, hex))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    /* A tree for this commit may be left from a run that stopped half way. */
    if ((error = ingest_rm_rf(dir, err)) < 0 || (error = ingest_mkdir_p(dir, err)) < 0)
        goto cleanup;
    if (git_commit_lookup(&commit, repo, oid) < 0 || git_commit_tree(&tree, commit) < 0) {
        error = git_fail(err, src, "read commit");
        goto cleanup;
    }
    w.repo = repo;
    w.src = src;
    w.dir = dir;
    w.err = err;
    if (git_tree_walk(tree, GIT_TREEWALK_PRE, tree_cb, &w) < 0) {
        error = w.error < 0 ? w.error : git_fail(err, src, "read tree");
        goto cleanup;
    }
    *out = dir;
    dir = NULL;
cleanup:
    if (dir)
        ingest_rm_rf(dir, NULL);
    free(dir);
    free(trees);
    git_tree_free(tree);
    git_commit_free(commit);
    return error;
}

int ingest_source_git_fetch(ingest_source *src, const char *known, char **out_revision,
                            char **out_dir, int *changed, cincy_error *err)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_oid oid;
    char hex[GIT_OID_HEXSZ + 1];
    char *rev = NULL, *dir = NULL, *trees = NULL;
    int error;

    /* libgit2 counts init/shutdown pairs, so this is safe beside other users. */
    if (git_libgit2_init() < 0)
        return git_fail(err, src, "init");
    if ((error = open_repo(&repo, &remote, src, err)) < 0 ||
        (error = resolve_commit(&oid, repo, remote, src, err)) < 0)
        goto cleanup;
    git_oid_tostr(hex, sizeof(hex), &oid);
    if (known && strcmp(known, hex) == 0) {
        *changed = 0;
        goto cleanup;
    }
    if ((error = materialise(&dir, repo, &oid, src, hex, err)) < 0)
        goto cleanup;
    if (!(rev = strdup(hex)) || !(trees = ingest_path_join(src->cache_dir, "trees"))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    ingest_source_prune(trees, hex);
    *out_revision = rev;
    *out_dir = dir;
    *changed = 1;
    rev = NULL;
    dir = NULL;
cleanup:
    free(trees);
    free(rev);
    free(dir);
    git_remote_free(remote);
    git_repository_free(repo);
    git_libgit2_shutdown();
    return error;
}
