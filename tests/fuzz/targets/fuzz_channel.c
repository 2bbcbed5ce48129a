/* tests/fuzz/targets/fuzz_channel.c - a graph-data channel file
 * (ingest_channel_parse), then the graph built with it.
 *
 * Invariants: an accepted file has a non-empty name and only versions that
 * parse as semver; the full graph built with the channel added serialises;
 * for a name a client can ask for (policy_channel_valid) that is not one of
 * the fixed channels, the amd64 view holds exactly the world's versions the
 * file lists (semver-equal ignoring build, build absent or "amd64").
 */
#include "fuzz/targets/fuzz_world.h"

static const char *const world_versions[] = {"4.1.0", "4.1.1", "4.2.0", "4.2.1"};
#define NWORLD (sizeof(world_versions) / sizeof(*world_versions))

/* 1 when the channel entry e covers the amd64 node of world version w. */
static int covers(const char *e, const char *w)
{
    graph_version ve, vw;
    int yes;

    FUZZ_CHECK(graph_version_parse(&ve, e, NULL) == 0);
    FUZZ_SETUP(graph_version_parse(&vw, w, NULL) == 0);
    yes = graph_version_cmp(&ve, &vw) == 0 && (!ve.build || strcmp(ve.build, "amd64") == 0);
    graph_version_clear(&ve);
    graph_version_clear(&vw);
    return yes;
}

static void check_view(const graph_snapshot *full, const ingest_channel *ch)
{
    graph_snapshot *view = NULL;
    size_t want = 0;
    cincy_error err;

    FUZZ_CHECK(policy_filter(&view, full, ch->name, "amd64", &err) == 0);
    for (size_t w = 0; w < NWORLD; w++) {
        int listed = 0;
        size_t at;
        for (size_t e = 0; e < ch->nversions && !listed; e++)
            listed = covers(ch->versions[e], world_versions[w]);
        want += (size_t)listed;
        FUZZ_CHECK((graph_snapshot_find(view, world_versions[w], &at) == 0) == listed);
    }
    FUZZ_CHECK(graph_snapshot_node_count(view) == want);
    graph_snapshot_unref(view);
}

static void build_with(const ingest_channel *ch)
{
    fuzz_world *w = fuzz_world_get();
    ingest_graph_data gd = *w->gd;
    ingest_channel *chans = calloc(gd.nchannels + 1, sizeof(*chans));
    graph_snapshot *full = NULL;
    cincy_error err;

    FUZZ_SETUP(chans != NULL);
    memcpy(chans, gd.channels, gd.nchannels * sizeof(*chans));
    chans[gd.nchannels] = *ch; /* borrowed: freed by the caller */
    gd.channels = chans;
    gd.nchannels++;
    /* Every version was checked, so the build may fail only on memory. */
    FUZZ_CHECK(policy_build(&full, w->releases, &gd, NULL, &err) == 0);
    fuzz_check_snapshot(full, &gd);
    if (policy_channel_valid(ch->name) && strcmp(ch->name, "stable-4.1") != 0 &&
        strcmp(ch->name, "stable-4.2") != 0)
        check_view(full, ch);
    graph_snapshot_unref(full);
    free(chans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ingest_channel ch;
    cincy_error err;

    fuzz_quiet();
    if (ingest_channel_parse(&ch, (const char *)data, size, "channels/fuzz.yaml", &err) < 0) {
        FUZZ_CHECK(err.code == CINCY_EINVALID || err.code == CINCY_ETOOBIG);
        FUZZ_CHECK(strcmp(err.file, "channels/fuzz.yaml") == 0 && err.msg[0]);
        return 0;
    }
    FUZZ_CHECK(ch.name && ch.name[0] && strcmp(ch.file, "channels/fuzz.yaml") == 0);
    for (size_t i = 0; i < ch.nversions; i++) {
        graph_version v;
        FUZZ_CHECK(graph_version_parse(&v, ch.versions[i], NULL) == 0);
        graph_version_clear(&v);
    }
    build_with(&ch);
    ingest_channel_clear(&ch);
    return 0;
}
