/* tests/oom/src/oom_alloc.c - the failing allocator behind cincy-oomtest.
 *
 * DESIGN. The linker's --wrap turns every call to malloc, calloc, realloc,
 * strdup, strndup and free in the objects of the test executable (our static
 * libraries included) into a call to __wrap_<name>; __real_<name> is libc's
 * (under ASan, ASan's interceptor). Each wrapper asks should_fail() first:
 * on an armed thread the allocation is counted, and the one the test chose
 * (or every one from it on) returns NULL with errno ENOMEM, as a real
 * failure would. Unarmed threads pass straight through.
 *
 * The live set records each block the armed thread allocates; a free from any
 * thread removes it. It is an open-addressing table stamped with an epoch, so
 * oom_arm empties it in O(1) instead of clearing megabytes per run. A block
 * allocated by a shared library and freed by us is simply not found.
 */
#include "oom_alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define OOM_ASAN 1
#else
#define OOM_ASAN 0
#endif

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);

/* ---------------------------------------------------------------------------
 * Per-thread arming */

typedef struct oom_thread_state {
    int armed;
    oom_mode mode;
    uint64_t fail_at;    /* allocation number that fails; 0: none */
    uint64_t count;      /* allocations asked for since oom_arm */
    uint64_t failures;   /* allocations failed since oom_arm */
    void *failed_caller; /* who asked for the first failed one */
} oom_thread_state;

static _Thread_local oom_thread_state self;

/* Called for every allocation made to fail: `break oom_failing` in gdb stops
 * right there (docs/testing.md). */
__attribute__((noinline)) void oom_failing(void);
__attribute__((noinline)) void oom_failing(void)
{
    __asm__ volatile(""); /* keeps the call from being folded away */
}

/* Counts one allocation of the calling thread; 1 when it must fail. */
static int should_fail(void *caller)
{
    if (!self.armed)
        return 0;
    self.count++;
    if (!self.fail_at || self.count < self.fail_at ||
        (self.mode == OOM_FAIL_NTH && self.count != self.fail_at))
        return 0;
    if (!self.failures++) {
        self.failed_caller = caller;
#if OOM_ASAN
        if (getenv("CINCY_OOM_STACK")) /* docs/testing.md: where did N fail? */
            __sanitizer_print_stack_trace();
#endif
    }
    oom_failing();
    errno = ENOMEM;
    return 1;
}

/* ---------------------------------------------------------------------------
 * The live set */

#define LIVE_BITS 20
#define LIVE_CAP ((size_t)1 << LIVE_BITS)
#define LIVE_TOMB ((uintptr_t)1) /* a removed entry: probing goes on past it */

typedef struct live_entry {
    uintptr_t ptr;  /* 0 or stale epoch: empty */
    size_t size;
    uint32_t epoch; /* the entry counts only when it equals live_epoch */
} live_entry;

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static live_entry *live; /* LIVE_CAP entries, from __real_calloc */
static uint32_t live_epoch = 1;
static size_t live_count; /* blocks in the set */
static size_t live_used;  /* slots taken this epoch, tombstones included */

static size_t live_slot(uintptr_t p)
{
    return (size_t)(((uint64_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - LIVE_BITS));
}

static void live_add(void *p, size_t size)
{
    size_t i;

    if (!p || !live)
        return;
    pthread_mutex_lock(&live_lock);
    if (live_used >= LIVE_CAP / 4 * 3) {
        /* a run this large needs a bigger table, not a silent miscount */
        fprintf(stderr, "oom_alloc: live set full (%zu slots): raise LIVE_BITS\n", live_used);
        abort();
    }
    for (i = live_slot((uintptr_t)p); live[i].epoch == live_epoch; i = (i + 1) & (LIVE_CAP - 1))
        ;
    live[i] = (live_entry){(uintptr_t)p, size, live_epoch};
    live_count++;
    live_used++;
    pthread_mutex_unlock(&live_lock);
}

/* Removes p; 1 when it was in the set. */
static int live_remove(void *p)
{
    int found = 0;

    if (!p || !live)
        return 0;
    pthread_mutex_lock(&live_lock);
    if (live_count) {
        for (size_t i = live_slot((uintptr_t)p); live[i].epoch == live_epoch;
             i = (i + 1) & (LIVE_CAP - 1)) {
            if (live[i].ptr == (uintptr_t)p) {
                live[i].ptr = LIVE_TOMB;
                live_count--;
                found = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&live_lock);
    return found;
}

static void live_reset(void)
{
    pthread_mutex_lock(&live_lock);
    live_epoch++;
    live_count = 0;
    live_used = 0;
    pthread_mutex_unlock(&live_lock);
}

/* ---------------------------------------------------------------------------
 * The wrappers */

static void *oom_malloc(size_t size, void *caller)
{
    void *p;

    if (should_fail(caller))
        return NULL;
    p = __real_malloc(size);
    if (self.armed)
        live_add(p, size);
    return p;
}

void *__wrap_malloc(size_t size)
{
    return oom_malloc(size, __builtin_return_address(0));
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p;

    if (should_fail(__builtin_return_address(0)))
        return NULL;
    p = __real_calloc(n, size);
    if (self.armed)
        live_add(p, n * size);
    return p;
}

void *__wrap_realloc(void *old, size_t size)
{
    void *p;
    int tracked;

    if (old && size == 0) { /* glibc frees old: not an allocation */
        live_remove(old);
        return __real_realloc(old, 0);
    }
    if (should_fail(__builtin_return_address(0)))
        return NULL; /* old stays allocated and tracked, as with a real failure */
    tracked = live_remove(old);
    p = __real_realloc(old, size);
    if (!p && tracked)
        live_add(old, 0); /* a real failure: old is still ours */
    /* A block that existed before arming and grows during the run is state
     * the run keeps, not something it allocated: only follow new or tracked
     * blocks. */
    if (p && self.armed && (!old || tracked))
        live_add(p, size);
    return p;
}

void __wrap_free(void *p)
{
    live_remove(p);
    __real_free(p);
}

char *__wrap_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = oom_malloc(n, __builtin_return_address(0));

    if (p)
        memcpy(p, s, n);
    return p;
}

char *__wrap_strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *p = oom_malloc(n + 1, __builtin_return_address(0));

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* jansson's hooks: the same counting, the same live set. */
static void *json_hook_malloc(size_t size)
{
    return oom_malloc(size, __builtin_return_address(0));
}

static void json_hook_free(void *p)
{
    __wrap_free(p);
}

/* ---------------------------------------------------------------------------
 * Control */

void oom_init(void)
{
    live = __real_calloc(LIVE_CAP, sizeof(*live));
    if (!live) {
        fprintf(stderr, "oom_alloc: cannot allocate the live set\n");
        abort();
    }
    json_set_alloc_funcs(json_hook_malloc, json_hook_free);
}

void oom_arm(uint64_t fail_at, oom_mode mode)
{
    live_reset();
    self = (oom_thread_state){1, mode, fail_at, 0, 0, NULL};
}

uint64_t oom_disarm(void)
{
    self.armed = 0;
    return self.count;
}

uint64_t oom_failures(void)
{
    return self.failures;
}

void *oom_failed_caller(void)
{
    return self.failed_caller;
}

size_t oom_live(void)
{
    size_t n;

    pthread_mutex_lock(&live_lock);
    n = live_count;
    pthread_mutex_unlock(&live_lock);
    return n;
}

void oom_live_forget(void)
{
    live_reset();
}

const char *oom_symbolize(void *pc, char *buf, size_t size)
{
#if OOM_ASAN
    __sanitizer_symbolize_pc(pc, "%F %L", buf, size);
#else
    snprintf(buf, size, "%p", pc);
#endif
    return buf;
}

static void report_block(const char *what, const live_entry *e)
{
    fprintf(stderr, "%s: leaked %zu bytes at %p\n", what, e->size, (void *)e->ptr);
#if OOM_ASAN
    void *trace[16];
    int tid;
    size_t n = __asan_get_alloc_stack((void *)e->ptr, trace, 16, &tid);
    char frame[512];

    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "    #%zu %s\n", i, oom_symbolize(trace[i], frame, sizeof(frame)));
#endif
}

void oom_live_report(const char *what, size_t max)
{
    size_t shown = 0;
    live_entry copy[64];

    if (max > 64)
        max = 64;
    /* Copy under the lock, print after: printing may allocate. */
    pthread_mutex_lock(&live_lock);
    for (size_t i = 0; i < LIVE_CAP && shown < max; i++)
        if (live[i].epoch == live_epoch && live[i].ptr != LIVE_TOMB)
            copy[shown++] = live[i];
    pthread_mutex_unlock(&live_lock);
    for (size_t i = 0; i < shown; i++)
        report_block(what, &copy[i]);
}
