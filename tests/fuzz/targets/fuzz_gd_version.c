/* tests/fuzz/targets/fuzz_gd_version.c - the graph-data `version` file, read
 * by ingest_graph_data_load from a directory whose other files are fixed.
 *
 * Invariants: the load succeeds exactly when the trimmed text is a semver
 * with major 1 (the schema versions the reader knows); then schema_version
 * is that trimmed text, and otherwise the error names the version file.
 */
#include "fuzz/targets/fuzz_world.h"

static char dir[512];

/* What the loader should accept: surrounding whitespace trimmed, one line of
 * semver with major 1. Returns the trimmed text (new string) or NULL. */
static char *expected(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size), *start = text, *end;
    graph_version v;
    char *out = NULL;

    if (memchr(data, '\0', size)) {
        free(text);
        return NULL;
    }
    while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
        start++;
    end = start + strlen(start);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    *end = '\0';
    if (graph_version_parse(&v, start, NULL) == 0) {
        if (v.major == 1)
            out = strdup(start);
        graph_version_clear(&v);
    }
    free(text);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_graph_data *gd = NULL;
    cincy_error err;
    char *want;
    int rc;

    fuzz_quiet();
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/gd", fuzz_tmpdir());
        fuzz_world_write_gd(dir, "1.0.0\n");
    }
    fuzz_write(dir, "version", data, size);
    rc = ingest_graph_data_load(&gd, dir, INGEST_GD_STRICT, &err);
    want = expected(data, size);
    if (rc == 0) {
        FUZZ_CHECK(gd->schema_version && gd->nchannels == 2 && gd->nblocks == 2);
        /* Not stricter than semver: a version the loader takes is one we take. */
        FUZZ_CHECK(want && strcmp(gd->schema_version, want) == 0);
    } else {
        FUZZ_CHECK(err.msg[0] && strstr(err.file, "version") != NULL);
    }
    free(want);
    ingest_graph_data_free(gd);
    return 0;
}
