/* tests/fuzz/targets/fuzz_raw_metadata.c - graph-data raw/metadata.json, read
 * by ingest_graph_data_load, then the graph built from the world's releases
 * with it.
 *
 * Invariants: an accepted file gives entries keyed by valid versions with
 * non-NULL keys and values; the build either succeeds and serialises (so no
 * value that is not UTF-8 got in) with every channel view consistent, or
 * fails with a message (an edge label naming a bad version or regex).
 */
#include "fuzz/targets/fuzz_world.h"

static char dir[512];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_world *w = fuzz_world_get();
    ingest_graph_data *gd = NULL;
    graph_snapshot *full = NULL;
    cincy_error err;

    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/gd", fuzz_tmpdir());
        fuzz_world_write_gd(dir, "1.0.0\n");
    }
    fuzz_write(dir, "raw/metadata.json", data, size);
    if (ingest_graph_data_load(&gd, dir, INGEST_GD_STRICT, &err) < 0) {
        FUZZ_CHECK(err.msg[0] && strcmp(err.file, "raw/metadata.json") == 0);
        return 0;
    }
    for (size_t i = 0; i < gd->nraw; i++) {
        graph_version v;
        FUZZ_CHECK(graph_version_parse(&v, gd->raw[i].version, NULL) == 0);
        graph_version_clear(&v);
        for (size_t k = 0; k < gd->raw[i].n; k++)
            FUZZ_CHECK(gd->raw[i].keys[k] && gd->raw[i].values[k]);
    }
    if (policy_build(&full, w->releases, gd, NULL, &err) == 0) {
        fuzz_check_snapshot(full, gd);
        graph_snapshot_unref(full);
    } else {
        FUZZ_CHECK(err.code != CINCY_OK && err.msg[0]);
    }
    ingest_graph_data_free(gd);
    return 0;
}
