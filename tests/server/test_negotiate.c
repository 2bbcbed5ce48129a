/* tests/server/test_negotiate.c - the header readers of server/negotiate.c and
 * the response cache of server/cache.c, called directly: tables of header
 * values with the answer each must get, and the cache's once-per-key render
 * under concurrent callers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zlib.h>

#include "server/server_internal.h"

#define CT_VND "application/vnd.redhat.cincinnati.v1+json"

/* §1.4 table, one row per line of the spec plus the cases it names. */
Test(server_negotiate, accept_table_exact_bytes)
{
    static const struct {
        const char *accept;
        const char *type; /* NULL: 406 */
    } rows[] = {
        {NULL, CT_VND},
        {"application/json", "application/json"},
        {CT_VND, CT_VND},
        {"*", "application/json"},
        {"*/*", "application/json"},
        {"application/*", "application/json"},
        {"application/json, text/plain", NULL},
        {"application/json;q=0.9", NULL},
        {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", NULL},
        {"Application/JSON", NULL},
        {"", NULL},
        {"application/json ", NULL},
        {CT_VND "; charset=utf-8", NULL},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = server_negotiate_type(rows[i].accept);
        if (rows[i].type)
            cr_assert_str_eq(got, rows[i].type, "row %zu", i);
        else
            cr_assert_null(got, "row %zu (%s) got %s", i, rows[i].accept, got);
    }
}

Test(server_negotiate, accept_encoding_gzip_and_q_values)
{
    static const struct {
        const char *value;
        int gzip;
    } rows[] = {
        {NULL, 0},
        {"", 0},
        {"gzip", 1},
        {"GZIP", 1},
        {"x-gzip", 1},
        {"gzip, deflate, br", 1}, /* Go's and browsers' defaults */
        {"deflate, br", 0},
        {"identity", 0},
        {"gzip;q=0", 0},
        {"gzip; q=0.000", 0},
        {"gzip;q=0.001", 1},
        {"gzip;Q=1", 1},
        {"gzip;q=1.000", 1},
        {"gzip;q=1.5", 0}, /* not a qvalue: read as 0, identity is always safe */
        {"gzip;q=", 0},
        {"gzip;q=abc", 0},
        {"deflate, gzip;q=0.5", 1},
        {"*", 1},
        {"*;q=0", 0},
        {"*, gzip;q=0", 0}, /* named beats the wildcard */
        {"gzip;q=0, *", 0},
        {"*;q=0, gzip", 1},
        {" gzip ; q=0.8 , identity", 1},
        {"gzipx", 0},
        {"xgzip", 0},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        cr_assert_eq(server_accepts_gzip(rows[i].value), rows[i].gzip, "row %zu: %s", i,
                     rows[i].value ? rows[i].value : "(none)");
}

Test(server_negotiate, if_none_match_weak_comparison)
{
    static const char *etag = "\"abc\"";
    static const struct {
        const char *value;
        int match;
    } rows[] = {
        {NULL, 0},
        {"", 0},
        {"\"abc\"", 1},
        {"W/\"abc\"", 1},
        {"\"x\", \"abc\"", 1},
        {"\"x\",W/\"abc\" ", 1},
        {"*", 1},
        {" * ", 1},
        {"\"abcd\"", 0},
        {"\"ab\"", 0},
        {"abc", 0},                 /* unquoted: malformed, ignored */
        {"\"x\", abc, \"abc\"", 0}, /* malformed part: the whole header is ignored */
        {"\"abc", 0},
        {"w/\"abc\"", 0}, /* the weak prefix is case-sensitive */
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        cr_assert_eq(server_etag_matches(rows[i].value, etag), rows[i].match, "row %zu: %s", i,
                     rows[i].value ? rows[i].value : "(none)");
}

Test(server_negotiate, utf8_lossy_like_rust)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
        size_t out_len;
    } rows[] = {
        {"stable-4.1", 10, "stable-4.1", 10},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9", 5},
        {"a\xff"
         "b",
         3,
         "a\xef\xbf\xbd"
         "b",
         5},
        {"a\x00"
         "b",
         3,
         "a\x00"
         "b",
         3},                                /* NUL kept, not a terminator */
        {"\xc3", 1, "\xef\xbf\xbd", 3},     /* truncated 2-byte */
        {"\xe2\x82", 2, "\xef\xbf\xbd", 3}, /* one maximal subpart, one U+FFFD */
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9}, /* surrogate: 3 */
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},                 /* overlong lead bytes */
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12},
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4},
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t n = 99;
        char *got = server_utf8_lossy(rows[i].in, rows[i].len, &n);
        cr_assert_not_null(got);
        cr_assert_eq(n, rows[i].out_len, "row %zu: length %zu", i, n);
        cr_assert(!memcmp(got, rows[i].out, n), "row %zu", i);
        cr_assert_eq(got[n], '\0');
        free(got);
    }
}

/* ---------------------------------------------------------------------------
 * Bodies and the cache */

Test(server_cache, body_etag_and_gzip_variant)
{
    char big[4096];
    server_body *a, *b, *tiny;
    unsigned char back[sizeof(big)];
    uLongf back_len = sizeof(back);
    z_stream z;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = "{\"version\":1,\"nodes\":[]}"[i % 24];
    a = server_body_new(big, sizeof(big), 1);
    b = server_body_new(big, sizeof(big), 1);
    cr_assert_not_null(a);
    /* a strong tag of 32 hex digits, a function of the bytes only */
    cr_assert_eq(strlen(a->etag), 34);
    cr_assert_eq(a->etag[0], '"');
    cr_assert_eq(a->etag[33], '"');
    cr_assert_str_eq(a->etag, b->etag);
    cr_assert_eq(strncmp(a->etag_gz, a->etag, 33), 0);
    cr_assert_str_eq(a->etag_gz + 33, "-gzip\"");
    /* the gzip variant inflates to the identity bytes */
    cr_assert_not_null(a->gz);
    cr_assert_lt(a->gz_len, a->len);
    memset(&z, 0, sizeof(z));
    cr_assert_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = a->gz;
    z.avail_in = (uInt)a->gz_len;
    z.next_out = back;
    z.avail_out = (uInt)back_len;
    cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    cr_assert_eq(z.total_out, sizeof(big));
    inflateEnd(&z);
    cr_assert(!memcmp(back, big, sizeof(big)));
    /* a body gzip cannot shrink has no gzip variant */
    tiny = server_body_new("{}", 2, 1);
    cr_assert_null(tiny->gz);
    cr_assert_str_neq(tiny->etag, a->etag);
    server_body_unref(tiny);
    server_body_unref(b);
    server_body_unref(a);
}

typedef struct render_probe {
    atomic_int calls;
    int fail;         /* return CINCY_ERROR instead of a body */
    useconds_t delay; /* so concurrent callers really overlap */
} render_probe;

static int probe_render(server_body **out, const char *channel, const char *arch, void *ctx)
{
    render_probe *p = ctx;
    char text[256];

    atomic_fetch_add(&p->calls, 1);
    usleep(p->delay);
    if (p->fail)
        return CINCY_ERROR;
    snprintf(text, sizeof(text), "{\"channel\":\"%s\",\"arch\":\"%s\"}", channel, arch);
    *out = server_body_new(text, strlen(text), 1);
    return *out ? 0 : CINCY_ERROR;
}

typedef struct fetch_job {
    server_cache *cache;
    render_probe *probe;
    pthread_barrier_t *start;
    server_body *got;
    int error;
} fetch_job;

static void *fetch_thread(void *arg)
{
    fetch_job *j = arg;

    pthread_barrier_wait(j->start);
    j->error =
        server_cache_fetch(&j->got, j->cache, 1, "stable-4.2", "amd64", probe_render, j->probe);
    return NULL;
}

/* Concurrent first requests: one render, every caller gets the same entry. */
Test(server_cache, concurrent_first_fetches_render_once)
{
    enum { N = 8 };
    static server_cache cache;
    render_probe probe = {0, 0, 100000};
    pthread_barrier_t start;
    pthread_t th[N];
    fetch_job jobs[N];

    server_cache_init(&cache);
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        jobs[i] = (fetch_job){&cache, &probe, &start, NULL, -99};
        cr_assert_eq(pthread_create(&th[i], NULL, fetch_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&probe.calls), 1);
    cr_assert_eq(cache.renders, 1);
    cr_assert_eq(cache.misses, 1);
    cr_assert_eq(cache.hits, N - 1);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(jobs[i].error, 0);
        cr_assert_eq(jobs[i].got, jobs[0].got, "thread %d got another entry", i);
        server_body_unref(jobs[i].got);
    }
    pthread_barrier_destroy(&start);
    server_cache_destroy(&cache);
}

Test(server_cache, failures_generations_and_long_keys)
{
    static server_cache cache;
    render_probe probe = {0, 1, 0};
    char long_channel[SERVER_CACHE_KEY_MAX + 8];
    server_body *a = NULL, *b = NULL, *held = NULL;

    server_cache_init(&cache);
    /* a failed render is not cached: the next request renders again */
    cr_assert_eq(server_cache_fetch(&a, &cache, 1, "c", "amd64", probe_render, &probe),
                 CINCY_ERROR);
    cr_assert_null(a);
    probe.fail = 0;
    cr_assert_eq(server_cache_fetch(&a, &cache, 1, "c", "amd64", probe_render, &probe), 0);
    cr_assert_eq(atomic_load(&probe.calls), 2);
    cr_assert_eq(server_cache_fetch(&b, &cache, 1, "c", "amd64", probe_render, &probe), 0);
    cr_assert_eq(a, b);
    cr_assert_eq(atomic_load(&probe.calls), 2);
    server_body_unref(b);
    held = a; /* a response still writing the old generation's bytes */
    /* a new generation renders afresh and drops the old entry from the cache */
    cr_assert_eq(server_cache_fetch(&b, &cache, 2, "c", "amd64", probe_render, &probe), 0);
    cr_assert_neq(b, held);
    cr_assert_eq(atomic_load(&probe.calls), 3);
    cr_assert_str_eq(held->data, "{\"channel\":\"c\",\"arch\":\"amd64\"}"); /* ASan: still alive */
    server_body_unref(held);
    server_body_unref(b);
    /* a request that read an older generation is served, not cached */
    cr_assert_eq(server_cache_fetch(&a, &cache, 1, "d", "amd64", probe_render, &probe), 0);
    server_body_unref(a);
    cr_assert_eq(server_cache_fetch(&a, &cache, 2, "d", "amd64", probe_render, &probe), 0);
    server_body_unref(a);
    cr_assert_eq(atomic_load(&probe.calls), 5);
    /* a key too long to cache renders every time */
    memset(long_channel, 'a', sizeof(long_channel) - 1);
    long_channel[sizeof(long_channel) - 1] = '\0';
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(server_cache_fetch(&a, &cache, 2, long_channel, "amd64", probe_render, &probe),
                     0);
        server_body_unref(a);
    }
    cr_assert_eq(atomic_load(&probe.calls), 7);
    server_cache_destroy(&cache);
}

/* The ring evicts the oldest key once every slot is used; an evicted body a
 * response still holds stays valid. */
Test(server_cache, eviction_keeps_held_bodies_alive)
{
    static server_cache cache;
    render_probe probe = {0, 0, 0};
    server_body *first = NULL, *b = NULL;
    char channel[32];

    server_cache_init(&cache);
    cr_assert_eq(server_cache_fetch(&first, &cache, 1, "ch-0", "amd64", probe_render, &probe), 0);
    for (int i = 1; i <= SERVER_CACHE_SLOTS; i++) {
        snprintf(channel, sizeof(channel), "ch-%d", i);
        cr_assert_eq(server_cache_fetch(&b, &cache, 1, channel, "amd64", probe_render, &probe), 0);
        server_body_unref(b);
    }
    cr_assert_eq(cache.used, SERVER_CACHE_SLOTS);
    cr_assert_str_eq(first->data, "{\"channel\":\"ch-0\",\"arch\":\"amd64\"}");
    /* ch-0 was pushed out: fetching it renders again */
    cr_assert_eq(server_cache_fetch(&b, &cache, 1, "ch-0", "amd64", probe_render, &probe), 0);
    cr_assert_neq(b, first);
    cr_assert_eq(atomic_load(&probe.calls), SERVER_CACHE_SLOTS + 2);
    server_body_unref(b);
    server_body_unref(first);
    server_cache_destroy(&cache);
}
