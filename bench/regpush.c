/* bench/regpush.c - fills a registry with synthetic OpenShift release images
 * for scrape benchmarks, or runs a registry for bench scripts.
 *
 *   cincy-regpush --registry http://127.0.0.1:PORT --repo NAME --count N
 *                 [--arches amd64,arm64,...] [--jobs J] [--filler L] [--oci]
 *                 [--user USER:PASSWORD]
 *   cincy-regpush --serve DIR [--port P] [--basic-auth] [--tls]
 *
 * Push mode: N images in all, version after version, one image per arch of
 * each version (tag "<version>-<arch>"), so N/len(arches) versions
 * 4.<minor>.<z> spread over up to 20 minors. Each release-metadata lists the
 * previous up to 6 z-streams of its minor and 3 of the minor before, as real
 * releases do. Layers are tiny: a filler layer shared by every image and the
 * top layer (release-metadata plus a per-arch image-references, so no two
 * images share it); the config blob is shared per arch (shared_config),
 * so an image costs 4 requests: HEAD, POST and PUT of the top layer and the
 * manifest PUT. Prints the rate on stdout.
 *
 * Serve mode: starts a registry in DIR (registry_fixture.h), prints one line
 * "location=... host=... storage=... pid=..." (plus auth_file=, ca_file=) and
 * runs until SIGINT or SIGTERM, then stops the registry.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry_fixture.h"

#define MAX_ARCHES 16
#define MAX_MINORS 20

typedef struct plan {
    treg *reg;
    const char *repo;
    const char *arches[MAX_ARCHES];
    size_t narches;
    size_t count;      /* images to push */
    size_t per_minor;  /* z-streams per minor */
    size_t filler;     /* filler layers per image */
    int oci;
    atomic_size_t next;   /* next image index to push */
    atomic_size_t pushed;
    atomic_int failed;
} plan;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void version_of(const plan *pl, size_t k, char *out, size_t size)
{
    snprintf(out, size, "4.%zu.%zu", 1 + k / pl->per_minor, k % pl->per_minor);
}

/* Up to 6 earlier z-streams of the same minor, then 3 of the minor before
 * around the same z (as 4.16.z accepts updates from recent 4.15.z). */
static void previous_of(const plan *pl, size_t k, char *out, size_t size)
{
    size_t minor = 1 + k / pl->per_minor, z = k % pl->per_minor, n = 0;
    out[0] = '\0';
    for (size_t p = z > 6 ? z - 6 : 0; p < z; p++)
        n += (size_t)snprintf(out + n, size - n, "%s4.%zu.%zu", n ? "," : "", minor, p);
    if (minor > 1) {
        size_t top = z < pl->per_minor ? z : pl->per_minor - 1;
        for (size_t p = top > 2 ? top - 2 : 0; p <= top; p++)
            n += (size_t)snprintf(out + n, size - n, "%s4.%zu.%zu", n ? "," : "", minor - 1, p);
    }
}

static int push_one(plan *pl, size_t i)
{
    size_t k = i / pl->narches;
    const char *arch = pl->arches[i % pl->narches];
    char version[32], previous[512], tag[64], refs[256];
    char *meta;
    int rc;

    version_of(pl, k, version, sizeof(version));
    previous_of(pl, k, previous, sizeof(previous));
    snprintf(tag, sizeof(tag), "%s-%s", version, arch);
    if ((meta = treg_release_metadata(version, previous, NULL)) == NULL)
        return -1;
    snprintf(refs, sizeof(refs),
             "{\"kind\":\"ImageStream\",\"apiVersion\":\"image.openshift.io/v1\","
             "\"metadata\":{\"name\":\"%s\",\"annotations\":{\"arch\":\"%s\"}}}\n",
             version, arch);
    {
        treg_file f[2] = {{"release-manifests/image-references", refs, 0},
                          {"release-manifests/release-metadata", meta, 0}};
        treg_image img = {.arch = arch, .files = f, .nfiles = 2, .filler_layers = pl->filler,
                          .oci = pl->oci, .shared_config = 1};
        rc = treg_push_image(pl->reg, pl->repo, tag, &img, NULL);
    }
    free(meta);
    if (rc < 0)
        fprintf(stderr, "regpush: push of %s:%s failed\n", pl->repo, tag);
    return rc;
}

static void *worker(void *arg)
{
    plan *pl = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&pl->next, 1);
        if (i >= pl->count || atomic_load(&pl->failed))
            break;
        if (push_one(pl, i) < 0) {
            atomic_store(&pl->failed, 1);
            break;
        }
        atomic_fetch_add(&pl->pushed, 1);
    }
    return NULL;
}

static int split_arches(plan *pl, char *list)
{
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (pl->narches == MAX_ARCHES) {
            fprintf(stderr, "regpush: more than %d arches\n", MAX_ARCHES);
            return -1;
        }
        pl->arches[pl->narches++] = tok;
    }
    return pl->narches ? 0 : -1;
}

static int serve(const char *dir, const treg_options *opt)
{
    sigset_t set;
    treg *r = NULL;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (treg_start(&r, dir, opt) < 0)
        return 1;
    printf("location=%s host=%s registry=%s storage=%s pid=%d", treg_location(r), treg_host(r),
           treg_registry_url(r), treg_storage_dir(r), treg_pid(r));
    if (treg_auth_file(r))
        printf(" auth_file=%s", treg_auth_file(r));
    if (treg_ca_file(r))
        printf(" ca_file=%s", treg_ca_file(r));
    printf("\n");
    fflush(stdout);
    sigwait(&set, &sig);
    treg_stop(r);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: cincy-regpush --registry URL --repo NAME --count N [--arches a,b,...]\n"
            "                     [--jobs J] [--filler L] [--oci] [--user USER:PASSWORD]\n"
            "       cincy-regpush --serve DIR [--port P] [--basic-auth] [--tls]\n");
}

int main(int argc, char **argv)
{
    static plan pl;
    const char *url = NULL, *serve_dir = NULL, *user = NULL;
    char default_arches[] = "amd64";
    char *arches = default_arches;
    treg_options opt = {0};
    size_t jobs = 1, versions, minors;
    pthread_t threads[64];
    double t0, secs;

    pl.filler = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--registry") == 0 && v)
            url = v;
        else if (strcmp(a, "--repo") == 0 && v)
            pl.repo = v;
        else if (strcmp(a, "--count") == 0 && v)
            pl.count = strtoul(v, NULL, 10);
        else if (strcmp(a, "--arches") == 0 && v)
            arches = argv[i + 1];
        else if (strcmp(a, "--jobs") == 0 && v)
            jobs = strtoul(v, NULL, 10);
        else if (strcmp(a, "--filler") == 0 && v)
            pl.filler = strtoul(v, NULL, 10);
        else if (strcmp(a, "--user") == 0 && v)
            user = v;
        else if (strcmp(a, "--serve") == 0 && v)
            serve_dir = v;
        else if (strcmp(a, "--port") == 0 && v)
            opt.port = atoi(v);
        else if ((takes = 0), strcmp(a, "--oci") == 0)
            pl.oci = 1;
        else if (strcmp(a, "--basic-auth") == 0)
            opt.basic_auth = 1;
        else if (strcmp(a, "--tls") == 0)
            opt.tls = 1;
        else {
            usage();
            return 2;
        }
        i += takes;
    }
    if (serve_dir)
        return serve(serve_dir, &opt);
    if (!url || !pl.repo || pl.count == 0 || jobs == 0 || jobs > 64 ||
        split_arches(&pl, arches) < 0) {
        usage();
        return 2;
    }
    versions = (pl.count + pl.narches - 1) / pl.narches;
    pl.per_minor = (versions + MAX_MINORS - 1) / MAX_MINORS;
    if (pl.per_minor < 10)
        pl.per_minor = 10;
    minors = (versions + pl.per_minor - 1) / pl.per_minor;
    if (treg_attach(&pl.reg, url, user) < 0)
        return 1;
    t0 = now_s();
    for (size_t j = 0; j < jobs; j++)
        pthread_create(&threads[j], NULL, worker, &pl);
    for (size_t j = 0; j < jobs; j++)
        pthread_join(threads[j], NULL);
    secs = now_s() - t0;
    treg_stop(pl.reg);
    printf("pushed %zu of %zu images (%zu versions 4.1-4.%zu x %zu arches) to %s/%s "
           "in %.2f s: %.1f images/s with %zu jobs\n",
           atomic_load(&pl.pushed), pl.count, versions, minors, pl.narches, url, pl.repo, secs,
           (double)atomic_load(&pl.pushed) / secs, jobs);
    return atomic_load(&pl.failed) ? 1 : 0;
}
