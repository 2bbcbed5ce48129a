/* bench/pathbench.c - path-query time on the full bundled graph (issue 7).
 *
 *   cincy-pathbench --graph-data DIR --releases DIR [--pairs N] [--seed S]
 *                   [--arch A] [CHANNEL...]
 *
 * Builds the full snapshot once (policy_build, as cincy does at start), then
 * for each channel (default: stable-4.16 eus-4.16 fast-4.18) builds its view
 * once and times policy_path_find_in_view on N random (from, to) pairs of the
 * view's nodes (from older than to; fixed seed, so runs compare), standard
 * mode, risks avoided. As a reference, the same pairs are timed with
 * policy_path_find, which rebuilds the view on every query (a server without
 * a per-channel view cache); the ratio says what the cache is worth.
 * Prints one line per channel and method: median and p99 in microseconds,
 * queries per second, and how many pairs had a path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"
#include "policy/policy.h"

typedef struct bench_pair {
    const char *from, *to;
} bench_pair;

typedef struct bench_stats {
    double median_us, p99_us, qps;
    size_t found;
} bench_stats;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int die(const char *what, const cincy_error *e)
{
    char buf[1024];
    fprintf(stderr, "pathbench: %s: %s\n", what, cincy_error_format(e, buf, sizeof(buf)));
    return 1;
}

/* xorshift64: a fixed, portable sequence for a given seed. */
static unsigned long long next_rand(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n pairs of distinct view nodes, from older than to (indices are in semver
 * order), or NULL when the view has fewer than two nodes. */
static bench_pair *random_pairs(const graph_snapshot *view, size_t n, unsigned long long *seed)
{
    size_t nodes = graph_snapshot_node_count(view);
    bench_pair *pairs;

    if (nodes < 2 || !(pairs = calloc(n, sizeof(*pairs))))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t a = next_rand(seed) % nodes, b = next_rand(seed) % (nodes - 1);
        b += b >= a; /* distinct from a */
        pairs[i].from = graph_snapshot_node_version(view, a < b ? a : b);
        pairs[i].to = graph_snapshot_node_version(view, a < b ? b : a);
    }
    return pairs;
}

/* Times every pair; in_view selects policy_path_find_in_view on view, else
 * policy_path_find on full. Returns -1 on out of memory. */
static int time_pairs(bench_stats *st, const graph_snapshot *full, const graph_snapshot *view,
                      const char *channel, const char *arch, const bench_pair *pairs, size_t n,
                      int in_view)
{
    double *us = calloc(n, sizeof(*us)), total = 0;

    if (!us)
        return -1;
    st->found = 0;
    for (size_t i = 0; i < n; i++) {
        policy_path_query q = {.channel = channel,
                               .arch = arch,
                               .from = pairs[i].from,
                               .to = pairs[i].to,
                               .mode = POLICY_PATH_STANDARD};
        policy_path *p = NULL;
        cincy_error e;
        double t0 = now_us();
        int rc = in_view ? policy_path_find_in_view(&p, view, &q, &e)
                         : policy_path_find(&p, full, &q, &e);
        us[i] = now_us() - t0;
        total += us[i];
        if (rc == CINCY_ERROR) {
            free(us);
            return -1;
        }
        st->found += rc == 0;
        policy_path_free(p);
    }
    qsort(us, n, sizeof(*us), cmp_double);
    st->median_us = us[n / 2];
    st->p99_us = us[n * 99 / 100 < n ? n * 99 / 100 : n - 1];
    st->qps = total > 0 ? n / (total / 1e6) : 0;
    free(us);
    return 0;
}

static void print_stats(const char *channel, const char *method, size_t n, const bench_stats *st)
{
    printf("%-12s %-22s pairs=%-5zu found=%-5zu median %9.1f us  p99 %9.1f us  %10.0f queries/s\n",
           channel, method, n, st->found, st->median_us, st->p99_us, st->qps);
}

/* One channel: view built once, then both methods on the same pairs. */
static int bench_channel(const graph_snapshot *full, const char *channel, const char *arch,
                         size_t n, unsigned long long *seed)
{
    graph_snapshot *view = NULL;
    bench_pair *pairs;
    bench_stats in_view, rebuilt;
    cincy_error e;
    double t0 = now_us();

    if (policy_filter(&view, full, channel, arch, &e) != 0)
        return die(channel, &e);
    printf("%-12s view: %zu nodes, %zu edges, %zu conditional edges, built in %.0f us\n", channel,
           graph_snapshot_node_count(view), graph_snapshot_edge_count(view),
           graph_snapshot_cond_edge_count(view), now_us() - t0);
    if (!(pairs = random_pairs(view, n, seed))) {
        printf("%-12s skipped: fewer than two nodes\n", channel);
        graph_snapshot_unref(view);
        return 0;
    }
    if (time_pairs(&in_view, full, view, channel, arch, pairs, n, 1) < 0 ||
        time_pairs(&rebuilt, full, view, channel, arch, pairs, n, 0) < 0) {
        fprintf(stderr, "pathbench: out of memory\n");
        free(pairs);
        graph_snapshot_unref(view);
        return 1;
    }
    print_stats(channel, "find_in_view (cached)", n, &in_view);
    print_stats(channel, "find (view per query)", n, &rebuilt);
    printf("%-12s ratio (view per query / cached view) median %.1fx\n", channel,
           in_view.median_us > 0 ? rebuilt.median_us / in_view.median_us : 0);
    free(pairs);
    graph_snapshot_unref(view);
    return 0;
}

int main(int argc, char **argv)
{
    const char *gd_dir = NULL, *rel_dir = NULL, *arch = "amd64";
    const char *defaults[] = {"stable-4.16", "eus-4.16", "fast-4.18"};
    const char **channels = defaults;
    size_t nchannels = 3, npairs = 1000;
    unsigned long long seed = 20261124;
    ingest_graph_data *gd = NULL;
    ingest_releases *rs = NULL;
    graph_snapshot *full = NULL;
    cincy_error e;
    int i = 1, rc = 0;
    double t0;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "pathbench: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--graph-data") == 0)
            gd_dir = v;
        else if (strcmp(argv[i], "--releases") == 0)
            rel_dir = v;
        else if (strcmp(argv[i], "--arch") == 0)
            arch = v;
        else if (strcmp(argv[i], "--pairs") == 0)
            npairs = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "pathbench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!gd_dir || !rel_dir || npairs == 0 || seed == 0) {
        fprintf(stderr, "usage: cincy-pathbench --graph-data DIR --releases DIR [--pairs N>0] "
                        "[--seed S>0] [--arch A] [CHANNEL...]\n");
        return 2;
    }
    if (i < argc) {
        channels = (const char **)&argv[i];
        nchannels = (size_t)(argc - i);
    }
    t0 = now_us();
    if (ingest_graph_data_load_dir(&gd, gd_dir, &e) != 0)
        return die(gd_dir, &e);
    if (ingest_releases_load_dir(&rs, rel_dir, &e) != 0) {
        ingest_graph_data_free(gd);
        return die(rel_dir, &e);
    }
    if (policy_build(&full, rs, gd, NULL, &e) != 0) {
        rc = die("policy_build", &e);
    } else {
        printf("full graph: %zu nodes, %zu edges, built in %.0f ms; %zu pairs per channel, "
               "seed %llu, arch %s, standard mode, risks avoided\n",
               graph_snapshot_node_count(full), graph_snapshot_edge_count(full),
               (now_us() - t0) / 1e3, npairs, seed, arch);
        for (size_t c = 0; c < nchannels && rc == 0; c++)
            rc = bench_channel(full, channels[c], arch, npairs, &seed);
    }
    graph_snapshot_unref(full);
    ingest_releases_free(rs);
    ingest_graph_data_free(gd);
    return rc;
}
