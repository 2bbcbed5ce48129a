/* tests/policy/test_plan.c - update plan estimates (policy/plan.c). Paths are
 * built by hand (hops with from/to/payload), so every figure below follows
 * from plan.c's table alone: CVO 60-120 per hop, 5-15 minutes per MCO round,
 * ceil(nodes / maxUnavailable) rounds, control plane one node at a time,
 * pools concurrent for the minimum and serial for the maximum. */
#include <jansson.h>

#include "policy_test_util.h"

/* A found path through versions "a b c" (2 hops) in mode. */
static policy_path *plan_path(const char *versions, policy_path_mode mode)
{
    policy_path *p = calloc(1, sizeof(*p));
    size_t n;
    char **v = tu_words(versions, &n);

    cr_assert_not_null(p);
    p->mode = mode;
    p->channel = tu_dup(mode == POLICY_PATH_EUS ? "eus-4.16" : "stable-4.16");
    p->arch = tu_dup("amd64");
    p->from = tu_dup(v[0]);
    p->to = tu_dup(v[n - 1]);
    p->reason = POLICY_PATH_FOUND;
    p->hops = calloc(n, sizeof(*p->hops));
    cr_assert_not_null(p->hops);
    for (size_t i = 0; i + 1 < n; i++) {
        policy_path_hop *h = &p->hops[p->nhops++];
        char payload[128];
        snprintf(payload, sizeof(payload), "quay.io/openshift-release-dev/ocp-release:%s",
                 v[i + 1]);
        h->from = tu_dup(v[i]);
        h->to = tu_dup(v[i + 1]);
        h->payload = tu_dup(payload);
        h->control_plane_only = mode == POLICY_PATH_EUS;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return p;
}

/* The "plan" object of policy_plan_json(p, in), checked first. */
static json_t *plan_of(const policy_path *p, const policy_plan_input *in, json_t **root)
{
    cincy_error e;
    char *text;
    json_error_t je;

    cr_assert_eq(policy_plan_check(in, &e), 0, "%s", tu_fmt(&e));
    text = policy_plan_json(p, in);
    cr_assert_not_null(text);
    *root = json_loads(text, 0, &je);
    cr_assert_not_null(*root, "%s: %s", je.text, text);
    free(text);
    return json_object_get(*root, "plan");
}

static json_int_t plan_int(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    cr_assert(json_is_integer(v), "%s.%s is not an integer", path1, path2 ? path2 : "");
    return json_integer_value(v);
}

static void plan_expect_range(json_t *o, const char *key, json_int_t min, json_int_t max)
{
    cr_expect_eq(plan_int(o, key, "min"), min, "%s.min", key);
    cr_expect_eq(plan_int(o, key, "max"), max, "%s.max", key);
}

Test(policy_plan, standard_rounds_per_hop)
{
    policy_path *p = plan_path("4.15.1 4.15.5 4.16.3", POLICY_PATH_STANDARD);
    policy_plan_input in = {.control_plane = 3, .workers = 6, .max_unavailable = 2};
    json_t *root, *plan = plan_of(p, &in, &root), *hops;

    cr_assert(json_is_object(plan));
    hops = json_object_get(plan, "hops");
    cr_assert_eq(json_array_size(hops), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *h = json_array_get(hops, i);
        plan_expect_range(h, "cvoMinutes", 60, 120);
        cr_expect_eq(plan_int(h, "mcoRounds", "master"), 3); /* one at a time */
        cr_expect_eq(plan_int(h, "mcoRounds", "worker"), 3); /* ceil(6 / 2) */
        /* concurrent: max(3, 3) * 5; serial: (3 + 3) * 15 */
        plan_expect_range(h, "mcoMinutes", 15, 90);
    }
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hops, 1), "to")), "4.16.3");
    plan_expect_range(plan, "totalMinutes", 2 * (60 + 15), 2 * (120 + 90));
    cr_expect_null(json_object_get(plan, "pausedPools"));
    cr_expect_eq(json_array_size(json_object_get(plan, "caveats")), 5);
    json_decref(root);
    policy_path_free(p);
}

Test(policy_plan, eus_workers_reboot_once)
{
    policy_path *p = plan_path("4.14.8 4.15.67 4.16.68", POLICY_PATH_EUS);
    policy_plan_pool infra = {"infra", 3, 1};
    policy_plan_input in = {
        .control_plane = 3, .workers = 6, .max_unavailable = 2, .pools = &infra, .npools = 1};
    json_t *root, *plan = plan_of(p, &in, &root), *hops, *paused;

    hops = json_object_get(plan, "hops");
    cr_assert_eq(json_array_size(hops), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *h = json_array_get(hops, i);
        cr_expect_eq(json_object_size(json_object_get(h, "mcoRounds")), 1, "control plane only");
        cr_expect_eq(plan_int(h, "mcoRounds", "master"), 3);
        plan_expect_range(h, "mcoMinutes", 15, 45);
    }
    paused = json_object_get(plan, "pausedPools");
    cr_assert(json_is_object(paused));
    cr_expect_eq(plan_int(paused, "unpauseAfterHop", NULL), 2);
    cr_expect_eq(plan_int(paused, "mcoRounds", "worker"), 3);
    cr_expect_eq(plan_int(paused, "mcoRounds", "infra"), 3);
    cr_expect_null(json_object_get(json_object_get(paused, "mcoRounds"), "master"));
    plan_expect_range(paused, "mcoMinutes", 15, 90);
    plan_expect_range(plan, "totalMinutes", 2 * (60 + 15) + 15, 2 * (120 + 45) + 90);
    json_decref(root);
    policy_path_free(p);
}

Test(policy_plan, extra_pools_and_defaults)
{
    policy_path *p = plan_path("4.16.1 4.16.3", POLICY_PATH_STANDARD);
    policy_plan_pool pools[] = {{"infra", 7, 3}, {"storage", 2, 1}};
    policy_plan_input in = {.pools = pools, .npools = 2}; /* compact: 3 masters, 0 workers */
    json_t *root, *plan = plan_of(p, &in, &root), *h, *input;

    input = json_object_get(plan, "pools");
    cr_assert_eq(json_array_size(input), 4);
    cr_expect_eq(plan_int(json_array_get(input, 0), "nodes", NULL), 3);
    cr_expect_eq(plan_int(json_array_get(input, 1), "nodes", NULL), 0);
    cr_expect_eq(plan_int(json_array_get(input, 1), "maxUnavailable", NULL), 1);
    h = json_array_get(json_object_get(plan, "hops"), 0);
    cr_expect_eq(plan_int(h, "mcoRounds", "master"), 3);
    cr_expect_eq(plan_int(h, "mcoRounds", "worker"), 0);
    cr_expect_eq(plan_int(h, "mcoRounds", "infra"), 3); /* ceil(7 / 3) */
    cr_expect_eq(plan_int(h, "mcoRounds", "storage"), 2);
    plan_expect_range(h, "mcoMinutes", 3 * 5, (3 + 0 + 3 + 2) * 15);
    plan_expect_range(plan, "totalMinutes", 60 + 15, 120 + 120);
    json_decref(root);
    policy_path_free(p);
}

Test(policy_plan, ibu_single_jump_is_rough)
{
    policy_path *p = plan_path("4.14.13 4.16.3", POLICY_PATH_IBU);
    policy_plan_input in = {.control_plane = 1};
    json_t *root, *plan = plan_of(p, &in, &root), *h;

    h = json_array_get(json_object_get(plan, "hops"), 0);
    cr_expect_null(json_object_get(h, "cvoMinutes"));
    cr_expect_null(json_object_get(h, "mcoRounds"));
    cr_expect(json_is_true(json_object_get(h, "rough")));
    plan_expect_range(h, "ibuPrepMinutes", 10, 60);
    plan_expect_range(h, "ibuUpgradeMinutes", 10, 30);
    plan_expect_range(plan, "totalMinutes", 20, 90);
    cr_expect_eq(plan_int(json_array_get(json_object_get(plan, "pools"), 0), "nodes", NULL), 1);
    json_decref(root);
    policy_path_free(p);
}

Test(policy_plan, path_part_equals_path_json)
{
    policy_path *p = plan_path("4.15.1 4.16.3", POLICY_PATH_STANDARD);
    policy_plan_input in = {.workers = 2};
    json_t *root, *plan = plan_of(p, &in, &root), *path;
    char *text = policy_path_json(p);

    cr_assert(json_is_object(plan));
    path = json_loads(text, 0, NULL);
    cr_assert_not_null(path);
    json_object_del(root, "plan");
    cr_expect(json_equal(root, path), "path part differs from policy_path_json");
    json_decref(path);
    free(text);
    json_decref(root);
    policy_path_free(p);
}

Test(policy_plan, zero_hops_and_no_path)
{
    policy_path *p = plan_path("4.16.3", POLICY_PATH_STANDARD);
    policy_plan_input in = {.workers = 3};
    json_t *root, *plan = plan_of(p, &in, &root);

    cr_expect_eq(json_array_size(json_object_get(plan, "hops")), 0);
    plan_expect_range(plan, "totalMinutes", 0, 0);
    json_decref(root);
    p->reason = POLICY_PATH_NO_PATH;
    plan = plan_of(p, &in, &root);
    cr_expect(json_is_null(plan), "no estimate without a path");
    json_decref(root);
    policy_path_free(p);
}

/* policy_plan_check fails naming want. */
static void plan_expect_invalid(const policy_plan_input *in, const char *want)
{
    cincy_error e;

    cr_expect_eq(policy_plan_check(in, &e), CINCY_EINVALID, "expected %s refused", want);
    cr_expect(strstr(e.msg, want) != NULL, "'%s' does not name %s", e.msg, want);
}

Test(policy_plan, invalid_input_names_the_field)
{
    policy_plan_pool zero = {"infra", 3, 0}, huge = {"infra", 100000, 1};
    policy_plan_pool dup[] = {{"infra", 3, 1}, {"infra", 2, 1}}, worker = {"worker", 3, 1};
    policy_path *p = plan_path("4.15.1 4.16.3", POLICY_PATH_STANDARD);
    char *text;

    plan_expect_invalid(&(policy_plan_input){.pools = &zero, .npools = 1},
                        "pools[0].max_unavailable");
    plan_expect_invalid(&(policy_plan_input){.pools = &huge, .npools = 1}, "pools[0].nodes");
    plan_expect_invalid(&(policy_plan_input){.workers = 100000}, "workers");
    plan_expect_invalid(&(policy_plan_input){.workers = 3, .max_unavailable = 100000},
                        "max_unavailable");
    plan_expect_invalid(&(policy_plan_input){.control_plane = 100}, "control_plane");
    plan_expect_invalid(&(policy_plan_input){.pools = dup, .npools = 2}, "pools[1].name");
    plan_expect_invalid(&(policy_plan_input){.pools = &worker, .npools = 1}, "pools[0].name");
    plan_expect_invalid(NULL, "plan input");
    /* Unchecked bad input gives no estimate rather than a wrong one. */
    text = policy_plan_json(p, &(policy_plan_input){.pools = &zero, .npools = 1});
    cr_assert_not_null(text);
    cr_expect(strstr(text, "\"plan\":null") != NULL, "%s", text);
    free(text);
    policy_path_free(p);
}
