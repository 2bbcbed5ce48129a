/* tests/fuzz/targets/fuzz_release_metadata.c - the release-metadata document
 * of a release image (ingest_release_metadata_parse), then the graph built
 * from the world's releases plus this one (amd64).
 *
 * Invariants: an accepted document has a semver version, semver previous and
 * next entries and non-NULL metadata keys and values; the build either fails
 * with a message (a cycle, a version that already has another payload) or
 * gives a graph that serialises, holds the new node "<x.y.z[-pre]>+amd64"
 * (unless metadata marks it a multi shard) and every edge its previous list
 * names from a known node.
 */
#include "fuzz/targets/fuzz_world.h"

#define FUZZ_PAYLOAD                                                                               \
    "quay.io/fuzz/release@sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void check_fields(const ingest_release *r)
{
    graph_version v;

    FUZZ_CHECK(r->version && graph_version_parse(&v, r->version, NULL) == 0);
    graph_version_clear(&v);
    for (size_t i = 0; i < r->nprevious; i++) {
        FUZZ_CHECK(graph_version_parse(&v, r->previous[i], NULL) == 0);
        graph_version_clear(&v);
    }
    for (size_t i = 0; i < r->nnext; i++) {
        FUZZ_CHECK(graph_version_parse(&v, r->next[i], NULL) == 0);
        graph_version_clear(&v);
    }
    for (size_t i = 0; i < r->nmeta; i++)
        FUZZ_CHECK(r->meta_keys[i] && r->meta_values[i]);
}

/* The node name policy gives r on amd64: its version with build "amd64". */
static char *node_name(const ingest_release *r)
{
    graph_version v;
    char *name;

    FUZZ_SETUP(graph_version_parse(&v, r->version, NULL) == 0);
    free(v.build);
    v.build = strdup("amd64");
    name = graph_version_format(&v);
    graph_version_clear(&v);
    FUZZ_SETUP(name != NULL);
    return name;
}

static int is_shard(const ingest_release *r)
{
    for (size_t i = 0; i < r->nmeta; i++)
        if (strcmp(r->meta_keys[i], "release.openshift.io/architecture") == 0)
            return 1;
    return 0;
}

static void check_graph(const graph_snapshot *full, const ingest_release *r)
{
    char *name = node_name(r);
    size_t node;

    if (is_shard(r)) {
        free(name);
        return;
    }
    FUZZ_CHECK(graph_snapshot_find(full, name, &node) == 0);
    FUZZ_CHECK(strcmp(graph_snapshot_node_payload(full, node), FUZZ_PAYLOAD) == 0);
    free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_world *w = fuzz_world_get();
    ingest_release r = {0};
    ingest_releases rs;
    graph_snapshot *full = NULL;
    cincy_error err;

    if (ingest_release_metadata_parse(&r, (const char *)data, size, "release-metadata", &err) < 0) {
        FUZZ_CHECK(err.code == CINCY_EINVALID || err.code == CINCY_ETOOBIG);
        FUZZ_CHECK(err.msg[0]);
        ingest_release_clear(&r);
        return 0;
    }
    check_fields(&r);
    FUZZ_SETUP((r.payload = strdup(FUZZ_PAYLOAD)) && (r.arch = strdup("amd64")) &&
               (r.manifestref = strdup(strchr(FUZZ_PAYLOAD, '@') + 1)) &&
               (r.source = strdup("fuzz")));
    rs.count = w->releases->count + 1;
    rs.items = calloc(rs.count, sizeof(*rs.items));
    FUZZ_SETUP(rs.items != NULL);
    memcpy(rs.items, w->releases->items, w->releases->count * sizeof(*rs.items));
    rs.items[rs.count - 1] = r; /* borrowed */
    if (policy_build(&full, &rs, w->gd, NULL, &err) == 0) {
        fuzz_check_snapshot(full, w->gd);
        check_graph(full, &r);
        graph_snapshot_unref(full);
    } else {
        FUZZ_CHECK(err.code != CINCY_OK && err.msg[0]);
    }
    free(rs.items);
    ingest_release_clear(&r);
    return 0;
}
