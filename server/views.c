/* server/views.c - the channel/arch views path queries search.
 *
 * A path query searches the graph one client sees (policy_filter of channel
 * and arch). Building that view costs milliseconds on the full graph, the
 * search itself tens of microseconds (bench/run path), so views are kept per
 * (graph generation, channel, arch) and shared by reference. A reload makes
 * every entry stale; stale entries are dropped when next looked at. Building
 * happens outside the lock: two first requests for one view may both build
 * it, and the second simply keeps its own.
 */
#include <string.h>

#include "policy/policy.h"
#include "server/server_internal.h"

void server_views_init(server_views *v)
{
    memset(v, 0, sizeof(*v));
    pthread_mutex_init(&v->lock, NULL);
}

void server_views_destroy(server_views *v)
{
    for (size_t i = 0; i < SERVER_VIEWS_SLOTS; i++)
        graph_snapshot_unref(v->slots[i].view);
    pthread_mutex_destroy(&v->lock);
}

static int fits(const char *channel, const char *arch)
{
    return strlen(channel) < sizeof(((server_view_slot *)0)->channel) &&
           strlen(arch) < sizeof(((server_view_slot *)0)->arch);
}

int server_view_get(graph_snapshot **out, server_views *v, const graph_snapshot *full,
                    uint64_t generation, const char *channel, const char *arch, cincy_error *err)
{
    graph_snapshot *view = NULL;
    size_t victim = 0;
    int error;

    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < SERVER_VIEWS_SLOTS; i++) {
        server_view_slot *sl = &v->slots[i];

        if (sl->view && sl->generation != generation) { /* a reload made it stale */
            graph_snapshot_unref(sl->view);
            sl->view = NULL;
        }
        if (sl->view && !strcmp(sl->channel, channel) && !strcmp(sl->arch, arch)) {
            sl->used = ++v->clock;
            *out = graph_snapshot_ref(sl->view);
            pthread_mutex_unlock(&v->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&v->lock);

    if ((error = policy_filter(&view, full, channel, arch, err)) < 0)
        return error;
    if (fits(channel, arch)) {
        pthread_mutex_lock(&v->lock);
        for (size_t i = 1; i < SERVER_VIEWS_SLOTS && v->slots[victim].view; i++)
            if (!v->slots[i].view || v->slots[i].used < v->slots[victim].used)
                victim = i; /* a free slot, else the least recently used */
        graph_snapshot_unref(v->slots[victim].view);
        v->slots[victim].view = graph_snapshot_ref(view);
        v->slots[victim].generation = generation;
        v->slots[victim].used = ++v->clock;
        strcpy(v->slots[victim].channel, channel);
        strcpy(v->slots[victim].arch, arch);
        pthread_mutex_unlock(&v->lock);
    }
    *out = view;
    return 0;
}
