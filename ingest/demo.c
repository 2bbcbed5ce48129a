/* ingest/demo.c - made-up release records for every version graph-data lists.
 *
 * Without a registry there are no release images, so a fresh checkout would
 * serve an empty graph. This writes one release directory (docs/release-dir.md)
 * per listed version and architecture, with edges shaped like the real ones:
 * previous = every lower listed version of the same major.minor, plus the
 * versions of the previous minor that a channel of this minor lists (how
 * stable-4.16 lists the 4.15.z that may update to 4.16). Payload digests are
 * sha256("<arch>/<version>") and errata numbers hash the version, so the
 * output is byte-for-byte deterministic.
 *
 * Versions are taken without build metadata: a channel entry "4.2.14+amd64"
 * pins a channel to one arch of release 4.2.14, it is not another release.
 * Writing it separately would give 4.2.14+amd64 two payloads. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "ingest/ingest_internal.h"

static const char *const demo_arches[] = {"amd64", "arm64", "multi", "ppc64le", "s390x"};
#define NARCHES (sizeof(demo_arches) / sizeof(*demo_arches))

typedef struct demo_version {
    char *text; /* version without build metadata, also the directory name */
    graph_version v;
} demo_version;

typedef struct demo_channel {
    int has_minor; /* name ends in "-<major>.<minor>" */
    uint64_t major, minor;
    size_t *idx; /* listed versions as indices into the version table */
    size_t n;
} demo_channel;

typedef struct demo_state {
    demo_version *vers; /* sorted by text (strcmp), unique */
    size_t nvers;
    const demo_version **order; /* vers by precedence, ties by text */
    demo_channel *chans;
    size_t nchans;
    char *buf; /* the document being written */
    size_t len, cap;
} demo_state;

/* Longest version written; real ones are under 40 characters. Bounds the
 * fixed buffers in write_release. */
#define DEMO_VERSION_MAX 100

/* Versions become directory names, so only semver's own characters pass. */
static int safe_name(const char *s, size_t n)
{
    if (n > DEMO_VERSION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '-'))
            return 0;
    }
    return n > 0;
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_precedence(const void *a, const void *b)
{
    const demo_version *x = *(const demo_version *const *)a;
    const demo_version *y = *(const demo_version *const *)b;
    int c = graph_version_cmp(&x->v, &y->v);
    return c ? c : strcmp(x->text, y->text);
}

/* Distinct listed versions, build metadata stripped; unparsable ones skipped. */
static int collect_versions(demo_state *st, const ingest_graph_data *gd, cincy_error *err)
{
    ingest_strv all = {0};
    int error = CINCY_OK;

    for (size_t c = 0; c < gd->nchannels; c++) {
        for (size_t i = 0; i < gd->channels[c].nversions; i++) {
            const char *s = gd->channels[c].versions[i];
            size_t n = strcspn(s, "+");
            if (!safe_name(s, n)) {
                cincy_log(CINCY_LOG_DEBUG, "ingest", "demo: skipping version '%s'", s);
                continue;
            }
            if (ingest_strv_pushn(&all, s, n) < 0) {
                error = ingest_oom(err);
                goto cleanup;
            }
        }
    }
    if (all.n > 1)
        qsort(all.items, all.n, sizeof(*all.items), cmp_text);
    if (all.n && !(st->vers = calloc(all.n, sizeof(*st->vers)))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < all.n; i++) {
        demo_version *d = &st->vers[st->nvers];
        if (st->nvers && strcmp(st->vers[st->nvers - 1].text, all.items[i]) == 0)
            continue;
        if (graph_version_parse(&d->v, all.items[i], NULL) < 0)
            continue;
        d->text = all.items[i];
        all.items[i] = NULL; /* moved into the table */
        st->nvers++;
    }

cleanup:
    ingest_strv_clear(&all);
    return error;
}

static int sort_by_precedence(demo_state *st, cincy_error *err)
{
    if (st->nvers && !(st->order = malloc(st->nvers * sizeof(*st->order))))
        return ingest_oom(err);
    for (size_t i = 0; i < st->nvers; i++)
        st->order[i] = &st->vers[i];
    if (st->nvers > 1)
        qsort(st->order, st->nvers, sizeof(*st->order), cmp_precedence);
    return CINCY_OK;
}

static int find_version(const demo_state *st, const char *s, size_t n, size_t *out)
{
    size_t lo = 0, hi = st->nvers;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(st->vers[mid].text, s, n);
        if (c == 0 && st->vers[mid].text[n] != '\0')
            c = 1;
        if (c == 0) {
            *out = mid;
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* "stable-4.16" -> 4, 16. Anything else after the last '-' -> no minor. */
static void channel_minor(demo_channel *dc, const char *name)
{
    const char *dash = strrchr(name, '-');
    char *end;

    if (!dash || dash[1] < '0' || dash[1] > '9')
        return;
    dc->major = strtoull(dash + 1, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return;
    dc->minor = strtoull(end + 1, &end, 10);
    dc->has_minor = *end == '\0';
}

static int index_channels(demo_state *st, const ingest_graph_data *gd, cincy_error *err)
{
    if (gd->nchannels && !(st->chans = calloc(gd->nchannels, sizeof(*st->chans))))
        return ingest_oom(err);
    st->nchans = gd->nchannels;
    for (size_t c = 0; c < gd->nchannels; c++) {
        const ingest_channel *ch = &gd->channels[c];
        demo_channel *dc = &st->chans[c];

        channel_minor(dc, ch->name);
        if (!dc->has_minor || ch->nversions == 0)
            continue;
        if (!(dc->idx = malloc(ch->nversions * sizeof(*dc->idx))))
            return ingest_oom(err);
        for (size_t i = 0; i < ch->nversions; i++) {
            const char *s = ch->versions[i];
            if (find_version(st, s, strcspn(s, "+"), &dc->idx[dc->n]))
                dc->n++;
        }
    }
    return CINCY_OK;
}

/* Marks the previous versions of vers[i] in mark (nvers entries). */
static void mark_previous(const demo_state *st, size_t i, unsigned char *mark)
{
    const graph_version *v = &st->vers[i].v;

    memset(mark, 0, st->nvers);
    for (size_t j = 0; j < st->nvers; j++) {
        const graph_version *w = &st->vers[j].v;
        if (w->major == v->major && w->minor == v->minor && graph_version_cmp(w, v) < 0)
            mark[j] = 1;
    }
    if (v->minor == 0)
        return;
    for (size_t c = 0; c < st->nchans; c++) {
        const demo_channel *dc = &st->chans[c];
        if (!dc->has_minor || dc->major != v->major || dc->minor != v->minor)
            continue;
        for (size_t k = 0; k < dc->n; k++) {
            const graph_version *w = &st->vers[dc->idx[k]].v;
            if (w->major == v->major && w->minor == v->minor - 1)
                mark[dc->idx[k]] = 1;
        }
    }
}

static int buf_add(demo_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int buf_add(demo_state *st, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        /* buf is NULL before the first growth: NULL + 0 is undefined in C. */
        n = vsnprintf(st->buf ? st->buf + st->len : NULL, st->cap - st->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return CINCY_ERROR;
        if ((size_t)n < st->cap - st->len) {
            st->len += (size_t)n;
            return CINCY_OK;
        }
        size_t cap = (st->cap + (size_t)n + 1) * 2;
        char *b = realloc(st->buf, cap);
        if (!b)
            return CINCY_ERROR;
        st->buf = b;
        st->cap = cap;
    }
}

static void sha256(unsigned char md[32], const char *s)
{
    unsigned int n = 32;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
}

/* Version strings are plain [0-9A-Za-z.-] (safe_name), so no JSON escaping. */
static int format_metadata(demo_state *st, const char *arch, size_t i, const unsigned char *mark)
{
    const char *version = st->vers[i].text;
    unsigned char md[32];
    unsigned errata;
    int first = 1, error;

    sha256(md, version);
    errata = (((unsigned)md[0] << 16) | ((unsigned)md[1] << 8) | md[2]) % 100000u;
    st->len = 0;
    error = buf_add(st,
                    "{\n  \"kind\": \"cincinnati-metadata-v0\",\n  \"version\": \"%s\",\n"
                    "  \"previous\": [",
                    version);
    for (size_t k = 0; k < st->nvers && error == 0; k++) {
        if (!mark[st->order[k] - st->vers])
            continue;
        error = buf_add(st, "%s\n    \"%s\"", first ? "" : ",", st->order[k]->text);
        first = 0;
    }
    if (error == 0)
        error = buf_add(st,
                        "%s],\n  \"next\": [],\n  \"metadata\": {\n"
                        "    \"url\": \"https://access.redhat.com/errata/RHBA-DEMO:%05u\"%s\n"
                        "  }\n}\n",
                        first ? "" : "\n  ", errata,
                        strcmp(arch, "multi") == 0
                            ? ",\n    \"release.openshift.io/architecture\": \"multi\""
                            : "");
    return error;
}

static int write_release(demo_state *st, const char *out_dir, const char *arch, size_t i,
                         const unsigned char *mark, cincy_error *err)
{
    char dir[4096], path[4200], key[128], image[512];
    unsigned char md[32];
    char hex[65];
    int n, error;

    snprintf(key, sizeof(key), "%s/%s", arch, st->vers[i].text);
    n = snprintf(dir, sizeof(dir), "%s/%s", out_dir, key);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return cincy_error_set(err, CINCY_EINVALID, out_dir, 0, "output path too long");
    sha256(md, key);
    for (int b = 0; b < 32; b++)
        snprintf(hex + 2 * b, 3, "%02x", md[b]);
    n = snprintf(image, sizeof(image),
                 "{\n  \"payload\": \"quay.io/openshift-release-dev/ocp-release@sha256:%s\",\n"
                 "  \"architecture\": \"%s\"\n}\n",
                 hex, arch);
    /* One mkdir per release; the walk up the path only when a parent is missing. */
    if (mkdir(dir, 0755) < 0 && errno != EEXIST && (error = ingest_mkdir_p(dir, err)) < 0)
        return error;
    if (format_metadata(st, arch, i, mark) < 0)
        return ingest_oom(err);
    snprintf(path, sizeof(path), "%s/release-metadata", dir);
    if ((error = ingest_write_file(path, st->buf, st->len, err)) < 0)
        return error;
    snprintf(path, sizeof(path), "%s/image.json", dir);
    return ingest_write_file(path, image, (size_t)n, err);
}

static void demo_state_clear(demo_state *st)
{
    for (size_t i = 0; i < st->nvers; i++) {
        free(st->vers[i].text);
        graph_version_clear(&st->vers[i].v);
    }
    free(st->vers);
    free(st->order);
    for (size_t c = 0; c < st->nchans; c++)
        free(st->chans[c].idx);
    free(st->chans);
    free(st->buf);
}

int ingest_demo_write(const ingest_graph_data *gd, const char *out_dir, size_t *out_count,
                      cincy_error *err)
{
    demo_state st = {0};
    unsigned char *mark = NULL;
    size_t written = 0;
    int error;

    if ((error = collect_versions(&st, gd, err)) < 0 ||
        (error = sort_by_precedence(&st, err)) < 0 || (error = index_channels(&st, gd, err)) < 0 ||
        (error = ingest_mkdir_p(out_dir, err)) < 0)
        goto cleanup;
    if (st.nvers && !(mark = malloc(st.nvers))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    for (size_t k = 0; k < st.nvers; k++) {
        size_t i = (size_t)(st.order[k] - st.vers);
        mark_previous(&st, i, mark);
        for (size_t a = 0; a < NARCHES; a++) {
            if ((error = write_release(&st, out_dir, demo_arches[a], i, mark, err)) < 0)
                goto cleanup;
            written++;
        }
    }
    cincy_log(CINCY_LOG_INFO, "ingest", "wrote demo release records\tversions=%zu releases=%zu",
              st.nvers, written);
    *out_count = written;

cleanup:
    free(mark);
    demo_state_clear(&st);
    return error;
}
