/* policy/plan.c - update plan estimates for a found path (issue 7,
 * docs/path.md "Plan").
 *
 * Every figure the estimate uses is in PLAN_FIGURES below, with where it
 * comes from; the JSON answer repeats the table as "assumptions" so a reader
 * of the answer sees the same reasoning as a reader of this file.
 *
 * Model, per hop of a standard path:
 *   - CVO phase: the payload is applied; no node reboots.
 *   - MCO phase: each pool drains and reboots its nodes max_unavailable at a
 *     time, so a pool takes ceil(nodes / max_unavailable) rounds; the
 *     control-plane ("master") pool always goes one node at a time. Pools
 *     update concurrently, so the minimum is the slowest pool's rounds at the
 *     minimum per round; the maximum assumes the pools end up one after the
 *     other (drains stalled by PodDisruptionBudgets do that in practice) at
 *     the maximum per round.
 * mode eus: every pool except the control plane is paused for the whole
 * path, so each hop's MCO phase is the control plane only, and the paused
 * pools update and reboot once, after the last hop ("pausedPools").
 * mode ibu: one jump of a single node with a seed image: no CVO phase and no
 * MCO drain rounds; the stages are the Lifecycle Agent's (rough figures).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

/* Node counts above these are typing mistakes, not clusters: refusing them
 * keeps every sum below far from overflow and the answer meaningful. */
#define PLAN_MAX_CONTROL_PLANE 15u
#define PLAN_MAX_POOL_NODES 10000u
#define PLAN_MAX_POOLS 32u

/* The one table of figures (minutes). */
static const struct {
    unsigned cvo_min, cvo_max;                 /* CVO phase per hop */
    unsigned node_min, node_max;               /* one MCO round: drain, OS update, reboot */
    unsigned ibu_prep_min, ibu_prep_max;       /* ibu Prep stage: seed image pull */
    unsigned ibu_upgrade_min, ibu_upgrade_max; /* ibu Upgrade stage, reboot included */
    unsigned default_control_plane;
} PLAN_FIGURES = {
    /* "このプロセスには 60 ~ 120 分かかる場合があります" (update-phases-cvo-mco,
     * 4.3.1 Cluster Version Operator target update payload deployment). */
    .cvo_min = 60,
    .cvo_max = 120,
    /* "ノードごとに完了するまでに 5 分以上かかる場合があります" (4.3.2 MCO node
     * updates): at least 5 minutes per node. The 15 minute upper figure is
     * ours (slow drains, bare-metal reboots), not the documentation's. */
    .node_min = 5,
    .node_max = 15,
    /* Rough: the image-based upgrade docs give no duration. The Upgrade
     * stage's default auto-rollback window is 1800 s after the first reboot
     * (sno-image-based-upgrade, ImageBasedUpgrade CR autoRollbackOnFailure),
     * so 30 minutes bounds it; the Prep stage (seed image pull, disk
     * cleanup) depends on the registry and is a guess. */
    .ibu_prep_min = 10,
    .ibu_prep_max = 60,
    .ibu_upgrade_min = 10,
    .ibu_upgrade_max = 30,
    .default_control_plane = 3,
};

static const char *const PLAN_ASSUMPTIONS[] = {
    "CVO phase 60-120 minutes per hop (OpenShift docs, update phases: CVO)",
    "MCO phase: at least 5 minutes per node (OpenShift docs, update phases: MCO); 15 minutes "
    "per node is cincy's upper figure",
    "a pool drains and reboots maxUnavailable nodes at a time: ceil(nodes / maxUnavailable) "
    "rounds; the control plane one node at a time",
    "pools update concurrently: minimum = slowest pool at 5 minutes a round; maximum = all "
    "pools one after the other at 15 minutes a round",
    "eus: non-control-plane pools are paused for the whole path and reboot once, after the "
    "last hop (OpenShift docs, EUS-to-EUS update)",
    "ibu: single node, no CVO phase and no MCO drain rounds; Prep 10-60 and Upgrade 10-30 "
    "minutes are rough (no documented duration; 30 minutes is the default auto-rollback "
    "window)",
};

static const char *const PLAN_CAVEATS[] = {
    "PodDisruptionBudgets can stall a drain indefinitely, more so with a high maxUnavailable",
    "nodes that are NotReady or SchedulingDisabled before the update reduce maxUnavailable's "
    "effect and lengthen the update: make every node available first",
    "RHEL compute machines are not updated by the MCO: they are updated separately (Ansible "
    "playbooks) and are not counted here",
    "with risks=accept, the conditional risks listed were accepted: check each one applies "
    "to this cluster before updating",
    "figures are estimates for planning a maintenance window, not guarantees",
};

typedef struct plan_range {
    unsigned long min, max;
} plan_range;

typedef struct plan_pool {
    const char *name;
    unsigned nodes, max_unavailable;
} plan_pool;

int policy_plan_check(const policy_plan_input *in, cincy_error *err)
{
    if (!in)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "plan input missing");
    if (in->control_plane > PLAN_MAX_CONTROL_PLANE)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "control_plane: %u nodes, at most %u allowed", in->control_plane,
                               PLAN_MAX_CONTROL_PLANE);
    if (in->workers > PLAN_MAX_POOL_NODES)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                               "workers: %u nodes, at most %u allowed", in->workers,
                               PLAN_MAX_POOL_NODES);
    if (in->max_unavailable > PLAN_MAX_POOL_NODES)
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "max_unavailable: %u, at most %u",
                               in->max_unavailable, PLAN_MAX_POOL_NODES);
    if (in->npools > PLAN_MAX_POOLS || (in->npools && !in->pools))
        return cincy_error_set(err, CINCY_EINVALID, NULL, 0, "pools: %zu pools, at most %u allowed",
                               in->npools, PLAN_MAX_POOLS);
    for (size_t i = 0; i < in->npools; i++) {
        const policy_plan_pool *pp = &in->pools[i];
        if (!pp->name || !pp->name[0] || strcmp(pp->name, "master") == 0 ||
            strcmp(pp->name, "worker") == 0)
            return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                   "pools[%zu].name: '%s' (must be set and not master or worker, "
                                   "which control_plane and workers describe)",
                                   i, pp->name ? pp->name : "");
        if (pp->nodes > PLAN_MAX_POOL_NODES)
            return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                   "pools[%zu].nodes (%s): %u nodes, at most %u allowed", i,
                                   pp->name, pp->nodes, PLAN_MAX_POOL_NODES);
        if (pp->max_unavailable < 1 || pp->max_unavailable > PLAN_MAX_POOL_NODES)
            return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                   "pools[%zu].max_unavailable (%s): %u, must be 1..%u", i,
                                   pp->name, pp->max_unavailable, PLAN_MAX_POOL_NODES);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(in->pools[j].name, pp->name) == 0)
                return cincy_error_set(err, CINCY_EINVALID, NULL, 0,
                                       "pools[%zu].name: '%s' repeats pools[%zu]", i, pp->name, j);
        }
    }
    return 0;
}

static unsigned pool_rounds(const plan_pool *pp)
{
    return pp->nodes ? (pp->nodes + pp->max_unavailable - 1) / pp->max_unavailable : 0;
}

/* The pools of in, control plane first; returns how many (at most
 * PLAN_MAX_POOLS + 2). */
static size_t plan_pools(plan_pool *out, const policy_plan_input *in)
{
    size_t n = 0;

    out[n++] = (plan_pool){
        "master", in->control_plane ? in->control_plane : PLAN_FIGURES.default_control_plane, 1};
    out[n++] = (plan_pool){"worker", in->workers, in->max_unavailable ? in->max_unavailable : 1};
    for (size_t i = 0; i < in->npools; i++)
        out[n++] = (plan_pool){in->pools[i].name, in->pools[i].nodes, in->pools[i].max_unavailable};
    return n;
}

/* MCO minutes of pools[first..n): the slowest pool at the minimum per round
 * (concurrent pools), every round one after the other at the maximum. */
static plan_range mco_range(const plan_pool *pools, size_t first, size_t n)
{
    unsigned long slowest = 0, all = 0;

    for (size_t i = first; i < n; i++) {
        unsigned r = pool_rounds(&pools[i]);
        slowest = r > slowest ? r : slowest;
        all += r;
    }
    return (plan_range){slowest * PLAN_FIGURES.node_min, all * PLAN_FIGURES.node_max};
}

/* ---------------------------------------------------------------------------
 * JSON */

static int put(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *range_json(plan_range r)
{
    return json_pack("{s:I, s:I}", "min", (json_int_t)r.min, "max", (json_int_t)r.max);
}

static json_t *strings_json(const char *const *list, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, json_string(list[i])) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* {"master": 3, "worker": 3, ...}: MCO rounds of pools[first..n). */
static json_t *rounds_json(const plan_pool *pools, size_t first, size_t n)
{
    json_t *o = json_object();

    for (size_t i = first; o && i < n; i++) {
        if (put(o, pools[i].name, json_integer(pool_rounds(&pools[i]))) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *input_json(const plan_pool *pools, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        json_t *v =
            json_pack("{s:s, s:I, s:I}", "name", pools[i].name, "nodes", (json_int_t)pools[i].nodes,
                      "maxUnavailable", (json_int_t)pools[i].max_unavailable);
        if (json_array_append_new(arr, v) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static void add(plan_range *total, plan_range r)
{
    total->min += r.min;
    total->max += r.max;
}

/* One hop's entry; adds its minutes to *total. */
static json_t *hop_json(const policy_path *p, size_t i, const plan_pool *pools, size_t npools,
                        plan_range *total)
{
    const policy_path_hop *h = &p->hops[i];
    json_t *o = json_pack("{s:s, s:s}", "from", h->from, "to", h->to);
    int bad = !o;

    if (p->mode == POLICY_PATH_IBU) {
        plan_range prep = {PLAN_FIGURES.ibu_prep_min, PLAN_FIGURES.ibu_prep_max};
        plan_range up = {PLAN_FIGURES.ibu_upgrade_min, PLAN_FIGURES.ibu_upgrade_max};
        bad = bad || put(o, "ibuPrepMinutes", range_json(prep)) < 0;
        bad = bad || put(o, "ibuUpgradeMinutes", range_json(up)) < 0;
        bad = bad || put(o, "rough", json_true()) < 0;
        add(total, prep);
        add(total, up);
    } else {
        /* eus: only the control plane (pools[0]) updates during a hop. */
        size_t n = p->mode == POLICY_PATH_EUS ? 1 : npools;
        plan_range cvo = {PLAN_FIGURES.cvo_min, PLAN_FIGURES.cvo_max};
        plan_range mco = mco_range(pools, 0, n);
        bad = bad || put(o, "cvoMinutes", range_json(cvo)) < 0;
        bad = bad || put(o, "mcoRounds", rounds_json(pools, 0, n)) < 0;
        bad = bad || put(o, "mcoMinutes", range_json(mco)) < 0;
        add(total, cvo);
        add(total, mco);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *plan_object(const policy_path *p, const policy_plan_input *in)
{
    plan_pool pools[PLAN_MAX_POOLS + 2];
    size_t npools = plan_pools(pools, in);
    plan_range total = {0, 0};
    json_t *plan = json_object(), *hops = NULL;
    int bad =
        !plan || put(plan, "pools",
                     p->mode == POLICY_PATH_IBU ? json_pack("[{s:s, s:i, s:i}]", "name", "master",
                                                            "nodes", 1, "maxUnavailable", 1)
                                                : input_json(pools, npools)) < 0;

    bad = bad || put(plan, "hops", hops = json_array()) < 0;
    for (size_t i = 0; !bad && i < p->nhops; i++)
        bad = json_array_append_new(hops, hop_json(p, i, pools, npools, &total)) < 0;
    if (p->mode == POLICY_PATH_EUS && p->nhops) {
        plan_range once = mco_range(pools, 1, npools);
        bad = bad ||
              put(plan, "pausedPools",
                  json_pack("{s:I, s:o, s:o}", "unpauseAfterHop", (json_int_t)p->nhops, "mcoRounds",
                            rounds_json(pools, 1, npools), "mcoMinutes", range_json(once))) < 0;
        add(&total, once);
    }
    bad = bad || put(plan, "totalMinutes", range_json(total)) < 0;
    bad = bad || put(plan, "assumptions",
                     strings_json(PLAN_ASSUMPTIONS,
                                  sizeof(PLAN_ASSUMPTIONS) / sizeof(PLAN_ASSUMPTIONS[0]))) < 0;
    bad =
        bad || put(plan, "caveats",
                   strings_json(PLAN_CAVEATS, sizeof(PLAN_CAVEATS) / sizeof(PLAN_CAVEATS[0]))) < 0;
    if (bad) {
        json_decref(plan);
        return NULL;
    }
    return plan;
}

char *policy_plan_json(const policy_path *p, const policy_plan_input *in)
{
    char *path_text = policy_path_json(p), *text = NULL;
    json_t *root;
    cincy_error e;

    if (!path_text)
        return NULL;
    /* jansson can fail an allocation inside json_loads or json_dumps and
     * still return a value with a hole: any one fails the answer
     * (graph/json_oom.c, tests/oom). */
    graph_json_oom_reset();
    /* The path answer is parsed back rather than rebuilt, so path and plan
     * can never disagree on the path part. */
    root = json_loads(path_text, 0, NULL);
    free(path_text);
    if (!root)
        return NULL;
    if (p->reason != POLICY_PATH_FOUND || policy_plan_check(in, &e) != 0) {
        /* No path or unchecked bad input: no estimate rather than a wrong one. */
        if (json_object_set_new(root, "plan", json_null()) == 0)
            text = json_dumps(root, JSON_COMPACT);
    } else if (put(root, "plan", plan_object(p, in)) == 0) {
        text = json_dumps(root, JSON_COMPACT);
    }
    json_decref(root);
    if (text && graph_json_oom_seen()) {
        free(text);
        text = NULL;
    }
    return text;
}
