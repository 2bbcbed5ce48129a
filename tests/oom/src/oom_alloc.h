/* tests/oom/src/oom_alloc.h - a failing allocator for allocation-failure tests.
 *
 * cincy-oomtest is linked with -Wl,--wrap=malloc,... so every allocation our
 * static libraries (graph, ingest, policy, server) make goes through the
 * wrappers in oom_alloc.c; jansson's allocations come here too through
 * json_set_alloc_funcs. Shared libraries (libc internals such as realpath,
 * regcomp and open_memstream, libyaml, libarchive, zlib, OpenSSL, libcurl,
 * libmicrohttpd) call libc's malloc directly and are never failed.
 *
 * Arming is per thread (thread-local): only the thread that runs the
 * pipeline counts and fails allocations; libmicrohttpd's request threads
 * allocate normally. While armed, every successful allocation of that thread
 * is also recorded in a live set (pointer, size) that frees from any thread
 * remove, so oom_live() after a failed run is the number of blocks it leaked.
 */
#ifndef CINCY_OOM_ALLOC_H
#define CINCY_OOM_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    OOM_FAIL_NTH,     /* only the n-th allocation fails (a transient failure) */
    OOM_FAIL_FROM_NTH /* the n-th and every later one fail (memory stays short) */
} oom_mode;

/* Installs jansson's hooks and the live set. Call first thing in main, before
 * any JSON value exists (jansson must free with the allocator it used). */
void oom_init(void);

/* Arms the calling thread: counting restarts at 1 and allocation number
 * fail_at fails (mode as above); fail_at 0 fails nothing but still counts and
 * records, which is how the reference run measures a pipeline. The live set
 * is emptied. */
void oom_arm(uint64_t fail_at, oom_mode mode);
/* Disarms the calling thread; returns the allocations it counted. */
uint64_t oom_disarm(void);
/* Allocations the armed thread failed since oom_arm (0: the pipeline never
 * reached allocation number fail_at). */
uint64_t oom_failures(void);
/* The code address that asked for the first failed allocation (for reports). */
void *oom_failed_caller(void);

/* Blocks recorded since the last oom_arm that are still allocated. */
size_t oom_live(void);
/* Prints up to max live blocks (size, allocation stack when built with ASan)
 * to stderr, each line prefixed with what. */
void oom_live_report(const char *what, size_t max);
/* Forgets the live set (after a run that keeps what it built, a publish). */
void oom_live_forget(void);

/* Prints "file:line function" of a code address to buf (ASan's symboliser
 * when present, else the raw address). Returns buf. */
const char *oom_symbolize(void *pc, char *buf, size_t size);

#endif
