/* tests/policy/test_spec_cvo.c - every bundled response is one the CVO accepts (spec §4).
 *
 * The cluster-version operator rejects a whole graph for one bad node, edge or
 * risk (§4.2), and silently drops conditional updates it cannot use (§4.3).
 * This test builds the full bundled graph (config/graph-data plus the demo
 * releases) once, then for every channel file's name x {amd64, arm64,
 * ppc64le, s390x, multi} runs policy_filter and graph_snapshot_to_json and
 * checks the body the way the CVO reads it, plus the §4.5 server obligations:
 *   - exactly the keys version (1), nodes, edges, conditionalEdges;
 *   - node versions strict SemVer, no 'v', no "+arch", unique; payload a
 *     digest pull spec whose digest is the manifestref (§3.7);
 *   - metadata values strings only; url an absolute URL;
 *     release.openshift.io/architecture only "multi" (and on every multi node);
 *     channels non-empty, no empty entries, holding the requested channel;
 *   - edges [int, int] in range, no self-loop, no duplicate; edges plus
 *     conditional pairs acyclic;
 *   - conditional from/to exact node versions; a pair in at most one group and
 *     never also an edge; 1..200 risks per group, names unique in the group;
 *     url/name/message non-empty; matchingRules non-empty; Always without
 *     promql, PromQL with a non-empty query; one risk name, one content.
 * The checks read the JSON text, independently of cincy's own helpers, so a
 * bug shared by the writer and a helper cannot hide; and the checker is
 * itself run on bodies that break each rule (checker_rejects_bad_bodies).
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>

#include <jansson.h>

#include "spec_test_util.h"

#define MAX_RISKS_PER_UPDATE 200 /* openshift/api ConditionalUpdate.risks MaxItems */

static const char *const arches[] = {"amd64", "arm64", "ppc64le", "s390x", "multi"};

/* What one response is checked against, and totals for the summary. */
typedef struct cvo_check {
    const char *channel, *arch;
    regex_t semver, digest;
    jmp_buf fail;   /* check_fail jumps back to check_response */
    char why[1024]; /* the first problem found */
    /* per response; check_release frees them whether or not a check failed */
    json_t *root;
    size_t n;              /* nodes in the current response */
    unsigned char *edge;   /* n x n: 1 edge */
    unsigned char *cond;   /* n x n: 1 conditional pair */
    json_t *index;         /* version -> node index */
    json_t *risk_by_name;  /* name -> first risk object seen in this response */
    json_t *group_names;   /* risk names of the current group */
    size_t *indeg, *queue; /* check_acyclic */
    /* totals */
    size_t responses, nonempty, nodes, edges, groups, pairs, risks, multi_nodes;
} cvo_check;

/* SemVer 2.0 without build metadata (the arch must have been stripped):
 * numeric parts without leading zeros, pre-release identifiers alphanumeric
 * or numeric without leading zeros. Anchored, so a 'v' prefix fails. */
#define NUM "(0|[1-9][0-9]*)"
#define PRE_ID "(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
static const char semver_re[] = "^" NUM "\\." NUM "\\." NUM "(-" PRE_ID "(\\." PRE_ID ")*)?$";

/* An absolute URL as url.Parse and the status API's Format=uri accept it:
 * scheme "://" authority, no whitespace or control characters, %XX escapes
 * well formed, host of RFC 3986 characters, port (if any) digits. */
static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int url_ok(const char *u)
{
    const char *p = u, *auth, *end, *host, *colon;

    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0)
        return 0;
    for (const char *q = u; *q; q++) {
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return 0;
        if (*q == '%' && !(is_hex(q[1]) && is_hex(q[2])))
            return 0;
    }
    auth = p + 3;
    end = auth + strcspn(auth, "/?#");
    host = auth;
    for (const char *q = auth; q < end; q++) {
        if (*q == '@')
            host = q + 1;
    }
    colon = NULL;
    for (const char *q = host; q < end; q++) {
        if (*q == ':')
            colon = q;
        else if (!(strchr("-._~!$&'()*+,;=", *q) || (*q >= 'a' && *q <= 'z') ||
                   (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')))
            return 0;
    }
    if ((colon ? colon : end) == host)
        return 0; /* no host */
    for (const char *q = colon ? colon + 1 : end; q < end; q++) {
        if (*q < '0' || *q > '9')
            return 0;
    }
    return 1;
}

Test(policy_spec_cvo, url_checker_self_test)
{
    cr_assert(url_ok("https://access.redhat.com/errata/RHBA-2024:0001"));
    cr_assert(url_ok("http://user@host:8080/p?q=1#f"));
    cr_assert(url_ok("https://issues.redhat.com/browse/OCPBUGS-1%20x"));
    cr_assert_not(url_ok("access.redhat.com/errata"));
    cr_assert_not(url_ok("https://"));
    cr_assert_not(url_ok("https://host:port/"));
    cr_assert_not(url_ok("https://a b/"));
    cr_assert_not(url_ok("https://host/%zz"));
    cr_assert_not(url_ok("https://host/\tx"));
    cr_assert_not(url_ok(""));
}

/* Records the first problem and abandons the response. The checks report
 * rather than assert so that the checker itself can be tested on bad bodies;
 * CHECK keeps the call sites one line. */
static void check_fail(cvo_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check_fail(cvo_check *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    longjmp(c->fail, 1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_fail(c, __VA_ARGS__);                                                            \
    } while (0)

static const char *str_member(cvo_check *c, json_t *obj, const char *key, const char *where)
{
    json_t *v = json_object_get(obj, key);

    CHECK(json_is_string(v), "%s: '%s' is not a string", where, key);
    return json_string_value(v);
}

static void check_channels(cvo_check *c, const char *version, const char *value)
{
    size_t clen = strlen(c->channel);
    int found = 0;

    CHECK(value[0] != '\0', "node %s: empty channels value", version);
    for (const char *p = value;;) {
        size_t n = strcspn(p, ",");
        CHECK(n > 0, "node %s: empty entry in channels '%s'", version, value);
        for (size_t i = 0; i < n; i++)
            CHECK(p[i] != ' ', "node %s: space in channels '%s'", version, value);
        found |= n == clen && strncmp(p, c->channel, n) == 0;
        if (!p[n])
            break;
        p += n + 1;
    }
    CHECK(found, "node %s: channels '%s' lacks the requested channel", version, value);
}

static void check_metadata(cvo_check *c, const char *version, const char *payload, json_t *meta)
{
    const char *key, *digest = strrchr(payload, '@');
    json_t *v;
    int has_multi = 0;

    CHECK(json_is_object(meta), "node %s: metadata is not an object", version);
    json_object_foreach(meta, key, v)
    {
        CHECK(json_is_string(v), "node %s: metadata '%s' is not a string", version, key);
    }
    if ((v = json_object_get(meta, "url")))
        CHECK(url_ok(json_string_value(v)), "node %s: url '%s' is not a URL", version,
              json_string_value(v));
    if ((v = json_object_get(meta, "release.openshift.io/architecture"))) {
        CHECK(strcmp(json_string_value(v), "multi") == 0,
              "node %s: release.openshift.io/architecture is '%s', not 'multi'", version,
              json_string_value(v));
        has_multi = 1;
    }
    /* §4.3: a multi payload must say so, or the CVO treats it as single-arch */
    CHECK(has_multi == (strcmp(c->arch, "multi") == 0), "node %s: architecture key %s", version,
          has_multi ? "on a single-arch node" : "missing on a multi node");
    c->multi_nodes += (size_t)has_multi;
    v = json_object_get(meta, POLICY_KEY_CHANNELS);
    CHECK(v != NULL, "node %s: no channels key", version);
    check_channels(c, version, json_string_value(v));
    CHECK(json_object_get(meta, POLICY_KEY_ARCH) == NULL, "node %s: release.arch served", version);
    /* §3.5, §3.7: the manifestref is the payload's digest */
    v = json_object_get(meta, POLICY_KEY_MANIFESTREF);
    CHECK(v && digest && strcmp(json_string_value(v), digest + 1) == 0,
          "node %s: manifestref does not match payload %s", version, payload);
}

static void check_nodes(cvo_check *c, json_t *nodes)
{
    size_t i;
    json_t *node;

    json_array_foreach(nodes, i, node)
    {
        const char *version, *payload;

        CHECK(json_is_object(node) && json_object_size(node) == 3,
              "node %zu: not an object of version, payload, metadata", i);
        version = str_member(c, node, "version", "node");
        payload = str_member(c, node, "payload", version);
        CHECK(regexec(&c->semver, version, 0, NULL, 0) == 0,
              "node %zu: '%s' is not strict semver without build", i, version);
        CHECK(json_object_get(c->index, version) == NULL, "duplicate node version %s", version);
        json_object_set_new(c->index, version, json_integer((json_int_t)i));
        CHECK(regexec(&c->digest, payload, 0, NULL, 0) == 0,
              "node %s: payload '%s' is not a digest pull spec", version, payload);
        check_metadata(c, version, payload, json_object_get(node, "metadata"));
    }
}

static void check_edges(cvo_check *c, json_t *edges)
{
    size_t i;
    json_t *e;

    json_array_foreach(edges, i, e)
    {
        json_t *f = json_array_get(e, 0), *t = json_array_get(e, 1);
        json_int_t from, to;

        CHECK(json_is_array(e) && json_array_size(e) == 2 && json_is_integer(f) &&
                  json_is_integer(t),
              "edge %zu is not [int, int]", i);
        from = json_integer_value(f);
        to = json_integer_value(t);
        CHECK(from >= 0 && to >= 0 && (size_t)from < c->n && (size_t)to < c->n,
              "edge %zu [%lld, %lld] out of range (%zu nodes)", i, (long long)from, (long long)to,
              c->n);
        CHECK(from != to, "edge %zu is a self-loop", i);
        CHECK(!c->edge[(size_t)from * c->n + (size_t)to], "edge %zu duplicated", i);
        c->edge[(size_t)from * c->n + (size_t)to] = 1;
    }
}

static void check_rule(cvo_check *c, json_t *rule, const char *name)
{
    const char *type = str_member(c, rule, "type", name);
    json_t *promql = json_object_get(rule, "promql");

    if (strcmp(type, "Always") == 0) {
        CHECK(promql == NULL && json_object_size(rule) == 1, "risk %s: Always rule with promql",
              name);
        return;
    }
    CHECK(strcmp(type, "PromQL") == 0, "risk %s: rule type '%s'", name, type);
    CHECK(json_is_object(promql) && json_object_size(rule) == 2,
          "risk %s: PromQL rule without promql object", name);
    CHECK(json_string_length(json_object_get(promql, "promql")) > 0,
          "risk %s: PromQL rule with an empty or missing query", name);
}

/* One name must mean one risk everywhere in a response: graph-data tooling
 * enforces it, and a cluster shows risks by name. */
static void check_risk_consistent(cvo_check *c, json_t *risk, const char *name)
{
    json_t *seen = json_object_get(c->risk_by_name, name);

    if (!seen) {
        json_object_set(c->risk_by_name, name, risk);
        return;
    }
    CHECK(json_equal(seen, risk), "risk %s has two different contents", name);
}

static void check_risks(cvo_check *c, json_t *risks, size_t g)
{
    json_t *risk;
    size_t i;

    CHECK(json_is_array(risks) && json_array_size(risks) >= 1 &&
              json_array_size(risks) <= MAX_RISKS_PER_UPDATE,
          "group %zu: %zu risks (1..200 allowed)", g, json_array_size(risks));
    json_object_clear(c->group_names);
    json_array_foreach(risks, i, risk)
    {
        const char *name, *url, *message;
        json_t *rules = json_object_get(risk, "matchingRules"), *rule;
        size_t k;

        CHECK(json_is_object(risk) && json_object_size(risk) == 4,
              "group %zu risk %zu: not url, name, message, matchingRules", g, i);
        name = str_member(c, risk, "name", "risk");
        url = str_member(c, risk, "url", name);
        message = str_member(c, risk, "message", name);
        CHECK(name[0] && url[0] && message[0], "group %zu risk %zu: empty name, url or message", g,
              i);
        CHECK(url_ok(url), "risk %s: url '%s' is not a URL", name, url);
        CHECK(json_object_get(c->group_names, name) == NULL, "group %zu: risk name %s twice", g,
              name);
        json_object_set_new(c->group_names, name, json_true());
        CHECK(json_is_array(rules) && json_array_size(rules) > 0, "risk %s: no matchingRules",
              name);
        json_array_foreach(rules, k, rule)
        {
            CHECK(json_is_object(rule), "risk %s: rule %zu is not an object", name, k);
            check_rule(c, rule, name);
        }
        check_risk_consistent(c, risk, name);
        c->risks++;
    }
}

static size_t node_index(cvo_check *c, json_t *obj, const char *key, size_t g)
{
    const char *v = str_member(c, obj, key, "conditional edge");
    json_t *idx = json_object_get(c->index, v);

    CHECK(idx != NULL, "group %zu: conditional %s '%s' is not a node version", g, key, v);
    return (size_t)json_integer_value(idx);
}

static void check_conditional(cvo_check *c, json_t *groups)
{
    size_t g, i;
    json_t *group, *pair;

    json_array_foreach(groups, g, group)
    {
        json_t *edges = json_object_get(group, "edges");

        CHECK(json_is_object(group) && json_object_size(group) == 2, "group %zu: not edges, risks",
              g);
        CHECK(json_is_array(edges) && json_array_size(edges) > 0, "group %zu: no edges", g);
        json_array_foreach(edges, i, pair)
        {
            size_t from, to;
            const char *fs, *ts;

            CHECK(json_is_object(pair) && json_object_size(pair) == 2,
                  "group %zu: edge %zu is not {from, to}", g, i);
            from = node_index(c, pair, "from", g);
            to = node_index(c, pair, "to", g);
            fs = json_string_value(json_object_get(pair, "from"));
            ts = json_string_value(json_object_get(pair, "to"));
            CHECK(from != to, "group %zu: self-loop", g);
            /* §4.3: a pair in two groups, or also unconditional, gets dropped */
            CHECK(!c->cond[from * c->n + to], "pair %s -> %s in two groups", fs, ts);
            CHECK(!c->edge[from * c->n + to], "pair %s -> %s both edge and conditional", fs, ts);
            c->cond[from * c->n + to] = 1;
            c->pairs++;
        }
        check_risks(c, json_object_get(group, "risks"), g);
        c->groups++;
    }
}

/* Kahn's algorithm over edges and conditional pairs together: an update path
 * that loops would let a cluster "update" back to where it was. */
static void check_acyclic(cvo_check *c)
{
    size_t head = 0, tail = 0;

    c->indeg = calloc(c->n ? c->n : 1, sizeof(*c->indeg));
    c->queue = malloc((c->n ? c->n : 1) * sizeof(*c->queue));
    cr_assert(c->indeg && c->queue);
    for (size_t i = 0; i < c->n * c->n; i++) {
        if (c->edge[i] || c->cond[i])
            c->indeg[i % c->n]++;
    }
    for (size_t v = 0; v < c->n; v++) {
        if (c->indeg[v] == 0)
            c->queue[tail++] = v;
    }
    while (head < tail) {
        size_t v = c->queue[head++];
        for (size_t w = 0; w < c->n; w++) {
            if ((c->edge[v * c->n + w] || c->cond[v * c->n + w]) && --c->indeg[w] == 0)
                c->queue[tail++] = w;
        }
    }
    CHECK(tail == c->n, "the update graph has a cycle (%zu of %zu nodes sorted)", tail, c->n);
}

static void check_body(cvo_check *c, const char *body)
{
    json_error_t jerr;
    json_t *root, *nodes;

    c->root = root = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(root != NULL, "body is not JSON: %s", jerr.text);
    CHECK(json_is_object(root) && json_object_size(root) == 4, "top level is not the four keys");
    CHECK(json_is_integer(json_object_get(root, "version")) &&
              json_integer_value(json_object_get(root, "version")) == 1,
          "version is not 1");
    nodes = json_object_get(root, "nodes");
    CHECK(json_is_array(nodes), "nodes is not an array");
    CHECK(json_is_array(json_object_get(root, "edges")), "edges is not an array");
    CHECK(json_is_array(json_object_get(root, "conditionalEdges")),
          "conditionalEdges is not an array");
    c->n = json_array_size(nodes);
    c->edge = calloc(c->n * c->n + 1, 1);
    c->cond = calloc(c->n * c->n + 1, 1);
    c->index = json_object();
    c->risk_by_name = json_object();
    c->group_names = json_object();
    cr_assert(c->edge && c->cond && c->index && c->risk_by_name && c->group_names);

    check_nodes(c, nodes);
    check_edges(c, json_object_get(root, "edges"));
    check_conditional(c, json_object_get(root, "conditionalEdges"));
    check_acyclic(c);

    c->nonempty += c->n > 0;
    c->nodes += c->n;
    c->edges += json_array_size(json_object_get(root, "edges"));
}

static void check_release(cvo_check *c)
{
    free(c->edge);
    free(c->cond);
    free(c->indeg);
    free(c->queue);
    json_decref(c->index);
    json_decref(c->risk_by_name);
    json_decref(c->group_names);
    json_decref(c->root);
    c->edge = c->cond = NULL;
    c->indeg = c->queue = NULL;
    c->index = c->risk_by_name = c->group_names = c->root = NULL;
    c->n = 0;
}

/* 1 when body passes every check; else 0 with the first problem in c->why.
 * Everything check_body allocates hangs off c, so a longjmp leaks nothing. */
static int check_response(cvo_check *c, const char *channel, const char *arch, const char *body)
{
    c->channel = channel;
    c->arch = arch;
    c->why[0] = '\0';
    c->responses++;
    if (setjmp(c->fail) == 0)
        check_body(c, body);
    check_release(c);
    return c->why[0] == '\0';
}

static void check_init(cvo_check *c)
{
    memset(c, 0, sizeof(*c));
    cr_assert_eq(regcomp(&c->semver, semver_re, REG_EXTENDED | REG_NOSUB), 0);
    cr_assert_eq(regcomp(&c->digest, "^[^@ ]+@sha256:[0-9a-f]{64}$", REG_EXTENDED | REG_NOSUB), 0);
}

static void check_fini(cvo_check *c)
{
    regfree(&c->semver);
    regfree(&c->digest);
}

/* Bodies for the checker's own test, each breaking one rule. */
#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NODE(v, extra)                                                                             \
    "{\"version\":\"" v "\",\"payload\":\"q.io/r@sha256:" H64 "\",\"metadata\":{"                  \
    "\"io.openshift.upgrades.graph.release.manifestref\":\"sha256:" H64 "\","                      \
    "\"io.openshift.upgrades.graph.release.channels\":\"stable-4.14\"" extra "}}"
#define TWO NODE("4.14.0", "") "," NODE("4.14.1", "")
#define RISK(name, url, rules)                                                                     \
    "{\"url\":\"" url "\",\"name\":\"" name "\",\"message\":\"m\",\"matchingRules\":[" rules "]}"
#define ALWAYS "{\"type\":\"Always\"}"
#define RISK_R RISK("R", "https://a.invalid/", ALWAYS)
#define CE(from, to, risks)                                                                        \
    "{\"edges\":[{\"from\":\"" from "\",\"to\":\"" to "\"}],\"risks\":[" risks "]}"
#define BODY(nodes, edges, cond)                                                                   \
    "{\"version\":1,\"nodes\":[" nodes "],\"edges\":[" edges "],\"conditionalEdges\":[" cond "]}"

static const struct {
    const char *body;
    const char *why;
} bad_bodies[] = {
    {BODY(TWO, "[0,1]", CE("4.14.0", "4.14.1", RISK_R)),
     "pair 4.14.0 -> 4.14.1 both edge and conditional"},
    {BODY(TWO, "", CE("4.14.0", "4.14.1", RISK_R) "," CE("4.14.0", "4.14.1", RISK_R)),
     "pair 4.14.0 -> 4.14.1 in two groups"},
    {BODY(TWO, "", CE("4.14.0", "4.14.1+amd64", RISK_R)),
     "group 0: conditional to '4.14.1+amd64' is not a node version"},
    {BODY(TWO, "", CE("4.14.0", "4.14.1", RISK_R "," RISK_R)), "group 0: risk name R twice"},
    {BODY(TWO, "",
          CE("4.14.0", "4.14.1",
             RISK("R", "https://a.invalid/", "{\"type\":\"Always\",\"promql\":{}}"))),
     "risk R: Always rule with promql"},
    {BODY(
         TWO, "",
         CE("4.14.0", "4.14.1",
            RISK("R", "https://a.invalid/", "{\"type\":\"PromQL\",\"promql\":{\"promql\":\"\"}}"))),
     "risk R: PromQL rule with an empty or missing query"},
    {BODY(TWO, "", CE("4.14.0", "4.14.1", RISK("R", "https://a.invalid/", ""))),
     "risk R: no matchingRules"},
    {BODY(TWO, "", CE("4.14.0", "4.14.1", RISK("", "https://a.invalid/", ALWAYS))),
     "group 0 risk 0: empty name, url or message"},
    {BODY(TWO, "", CE("4.14.0", "4.14.1", RISK("R", "issues.invalid/1", ALWAYS))),
     "risk R: url 'issues.invalid/1' is not a URL"},
    {BODY(TWO "," NODE("4.14.2", ""), "[0,1]",
          CE("4.14.0", "4.14.2", RISK_R) "," CE("4.14.1", "4.14.2",
                                                RISK("R", "https://b.invalid/", ALWAYS))),
     "risk R has two different contents"},
    {BODY(TWO, "[0,1],[1,0]", ""), "the update graph has a cycle (0 of 2 nodes sorted)"},
    {BODY(TWO, "[0,1]", CE("4.14.1", "4.14.0", RISK_R)),
     "the update graph has a cycle (0 of 2 nodes sorted)"},
    {BODY(TWO, "[0,1],[0,1]", ""), "edge 1 duplicated"},
    {BODY(TWO, "[0,2]", ""), "edge 0 [0, 2] out of range (2 nodes)"},
    {BODY(TWO, "[0,1,1]", ""), "edge 0 is not [int, int]"},
    {BODY(TWO, "[\"0\",1]", ""), "edge 0 is not [int, int]"},
    {BODY(NODE("4.14.0", "") "," NODE("4.14.0", ""), "", ""), "duplicate node version 4.14.0"},
    {BODY(NODE("v4.14.0", ""), "", ""), "node 0: 'v4.14.0' is not strict semver without build"},
    {BODY(NODE("4.14.0+amd64", ""), "", ""),
     "node 0: '4.14.0+amd64' is not strict semver without build"},
    {BODY(NODE("4.14.00", ""), "", ""), "node 0: '4.14.00' is not strict semver without build"},
    {BODY(NODE("4.14.0", ",\"release.openshift.io/architecture\":\"amd64\""), "", ""),
     "node 4.14.0: release.openshift.io/architecture is 'amd64', not 'multi'"},
    {BODY(NODE("4.14.0", ",\"url\":\"errata\""), "", ""), "node 4.14.0: url 'errata' is not a URL"},
    {BODY(NODE("4.14.0", ",\"k\":1"), "", ""), "node 4.14.0: metadata 'k' is not a string"},
    {BODY(NODE("4.14.0", ",\"io.openshift.upgrades.graph.release.arch\":\"amd64\""), "", ""),
     "node 4.14.0: release.arch served"},
    {"{\"version\":1,\"nodes\":[],\"edges\":[]}", "top level is not the four keys"},
    {"{\"version\":1,\"nodes\":[],\"edges\":[],\"conditionalEdges\":[],\"nodes\":[]}",
     "body is not JSON: duplicate object key near '\"nodes\"'"},
};

Test(policy_spec_cvo, checker_rejects_bad_bodies)
{
    cvo_check c;

    check_init(&c);
    cr_assert(check_response(&c, "stable-4.14", "amd64", BODY(TWO, "[0,1]", "")), "%s", c.why);
    cr_assert(
        check_response(&c, "stable-4.14", "amd64", BODY(TWO, "", CE("4.14.0", "4.14.1", RISK_R))),
        "%s", c.why);
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(*bad_bodies); i++) {
        cr_assert_not(check_response(&c, "stable-4.14", "amd64", bad_bodies[i].body),
                      "case %zu passed", i);
        cr_assert_str_eq(c.why, bad_bodies[i].why, "case %zu", i);
    }
    /* the channels value must hold the requested channel */
    cr_assert_not(check_response(&c, "fast-4.14", "amd64", BODY(TWO, "", "")));
    cr_assert_str_eq(c.why, "node 4.14.0: channels 'stable-4.14' lacks the requested channel");
    /* a multi response needs the architecture key on every node */
    cr_assert_not(check_response(&c, "stable-4.14", "multi", BODY(TWO, "", "")));
    cr_assert_str_eq(c.why, "node 4.14.0: architecture key missing on a multi node");
    check_fini(&c);
}

/* §4.2, §4.3, §4.5 over the whole bundled data set: 76 channels x 5 arches. */
Test(policy_spec_cvo, every_bundled_channel_and_arch_is_valid_for_the_cvo, .timeout = 900)
{
    ingest_graph_data *gd = NULL;
    graph_snapshot *full = spec_build_full(&gd);
    cvo_check c;

    check_init(&c);
    cr_assert_eq(gd->nchannels, 76);
    for (size_t ch = 0; ch < gd->nchannels; ch++) {
        for (size_t a = 0; a < sizeof(arches) / sizeof(*arches); a++) {
            char *body = spec_filter_json(full, gd->channels[ch].name, arches[a]);
            if (!check_response(&c, gd->channels[ch].name, arches[a], body))
                cr_assert_fail("channel=%s arch=%s: %s", gd->channels[ch].name, arches[a], c.why);
            free(body);
        }
    }
    cr_log_info("checked %zu responses (%zu non-empty): %zu nodes, %zu edges, %zu conditional "
                "groups, %zu pairs, %zu risk entries, %zu multi nodes",
                c.responses, c.nonempty, c.nodes, c.edges, c.groups, c.pairs, c.risks,
                c.multi_nodes);
    /* Every channel file lists versions, and the demo data holds every listed
     * version for every arch, so no response is empty. */
    cr_assert_eq(c.responses, 76 * 5);
    cr_assert_eq(c.nonempty, 76 * 5);
    cr_assert_gt(c.pairs, 1000, "conditional pairs: %zu", c.pairs);
    cr_assert_gt(c.multi_nodes, 1000);
    check_fini(&c);
    graph_snapshot_unref(full);
    ingest_graph_data_free(gd);
}
