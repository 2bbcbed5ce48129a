/* ingest/block.c - one graph-data blocked-edges file: a pure block or a risk (spec §2.5, §2.6).
 *
 * The reference tries each file as both kinds; we decide by its keys:
 *   pure block   exactly `to` and `from`, nothing else;
 *   risk         `to`, `from`, `url`, `name`, `message`, `matchingRules`; any
 *                extra key (`fixedIn`, `autoExtend`, ...) is ignored;
 *   neither      anything else (e.g. `to`+`from`+`fixedIn`), an error here.
 * A risk's url, name and message must also be non-empty and its url http(s),
 * as the cluster API requires; the reference would serve such a risk and
 * clusters would fail to store it.
 * `from` is checked to compile as a POSIX extended regex and then dropped:
 * policy compiles the patterns it applies, so holding compiled ones here
 * would only cost memory for 1700 files. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"

enum { B_TO, B_FROM, B_URL, B_NAME, B_MESSAGE, B_RULES, B_COUNT };
static const char *const block_fields[B_COUNT] = {"to",   "from",    "url",
                                                  "name", "message", "matchingRules"};

enum { R_TYPE, R_PROMQL, R_COUNT };
static const char *const rule_fields[R_COUNT] = {"type", "promql"};
static const char *const promql_fields[1] = {"promql"};

static int check_regex(ingest_yaml *y, yaml_node_t *node, const char *pattern, cincy_error *err)
{
    regex_t re;
    char why[128];
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);

    if (rc == 0) {
        regfree(&re);
        return CINCY_OK;
    }
    regerror(rc, &re, why, sizeof(why));
    return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(node),
                           "field 'from': '%.*s' is not a valid regular expression: %s",
                           INGEST_QUOTE_MAX, pattern, why);
}

static int parse_promql(char **out, ingest_yaml *y, yaml_node_t *rule, yaml_node_t *node,
                        const char *field, cincy_error *err)
{
    yaml_node_t *query;
    char sub[64];
    int error;

    if (!node)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(rule),
                               "missing field '%s.promql'", field);
    if (node->type != YAML_MAPPING_NODE)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(node),
                               "field '%s.promql' must be a mapping", field);
    if ((error = ingest_yaml_fields(y, node, promql_fields, 1, &query, NULL, err)) < 0)
        return error;
    snprintf(sub, sizeof(sub), "%s.promql.promql", field);
    if (!query)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(node),
                               "missing field '%s'", sub);
    if ((error = ingest_yaml_string(out, y, query, sub, err)) < 0)
        return error;
    /* The response omits an empty query, and a PromQL rule without one is a
     * risk no cluster could ever evaluate. */
    if (!(*out)[0]) {
        free(*out);
        *out = NULL;
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(query),
                               "field '%s' must not be empty", sub);
    }
    return CINCY_OK;
}

/* Keeps `type` and `promql.promql` only; other rule properties are dropped. */
static int parse_rule(graph_rule *out, ingest_yaml *y, yaml_node_t *node, size_t i,
                      cincy_error *err)
{
    yaml_node_t *values[R_COUNT];
    char field[48], tfield[64];
    char *type = NULL;
    int error;

    snprintf(field, sizeof(field), "matchingRules[%zu]", i);
    if (!node || node->type != YAML_MAPPING_NODE)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, node ? ingest_yaml_line(node) : 0,
                               "field '%s' must be a mapping", field);
    if ((error = ingest_yaml_fields(y, node, rule_fields, R_COUNT, values, NULL, err)) < 0)
        return error;
    snprintf(tfield, sizeof(tfield), "%s.type", field);
    if (!values[R_TYPE])
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(node),
                               "missing field '%s'", tfield);
    if ((error = ingest_yaml_string(&type, y, values[R_TYPE], tfield, err)) < 0)
        return error;
    if (strcmp(type, "Always") == 0) {
        out->type = GRAPH_RULE_ALWAYS;
    } else if (strcmp(type, "PromQL") == 0) {
        out->type = GRAPH_RULE_PROMQL;
        error = parse_promql(&out->promql, y, node, values[R_PROMQL], field, err);
    } else {
        error = cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(values[R_TYPE]),
                                "field '%s': unknown rule type '%.*s' (expected Always or PromQL)",
                                tfield, INGEST_QUOTE_MAX, type);
    }
    free(type);
    return error;
}

static int parse_rules(graph_risk *risk, ingest_yaml *y, yaml_node_t *seq, cincy_error *err)
{
    size_t n;
    int error;

    if (seq->type != YAML_SEQUENCE_NODE)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(seq),
                               "field 'matchingRules' must be a sequence");
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    /* The cluster API requires at least one rule per risk (MinItems=1), so an
     * empty list would only surface later as a rejected graph on clusters. */
    if (n == 0)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(seq),
                               "field 'matchingRules' must not be empty");
    if (!(risk->rules = calloc(n, sizeof(*risk->rules))))
        return ingest_oom(err);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *node = ingest_yaml_node(y, seq->data.sequence.items.start[i]);
        risk->nrules = i + 1; /* so graph_risk_clear frees what was filled */
        if ((error = parse_rule(&risk->rules[i], y, node, i, err)) < 0)
            return error;
    }
    return CINCY_OK;
}

/* url, name and message go to the cluster's status, whose API requires each
 * to be non-empty (MinLength=1): a status update carrying an empty one is
 * refused, so such a risk could never reach a cluster. */
static int risk_string(char **out, ingest_yaml *y, yaml_node_t *node, const char *field,
                       cincy_error *err)
{
    int error;

    if ((error = ingest_yaml_string(out, y, node, field, err)) < 0)
        return error;
    if (!(*out)[0])
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(node),
                               "field '%s' must not be empty", field);
    return CINCY_OK;
}

/* The status API declares a risk's url a URI (Format=uri). We ask for what
 * every real risk has: http(s)://, a host, no whitespace or control bytes. */
int ingest_risk_url_valid(const char *url)
{
    const char *host;

    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return 0;
    if (!*host || strchr("/?#:@", *host))
        return 0;
    for (const char *p = url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    }
    return 1;
}

static int parse_risk(graph_risk *risk, ingest_yaml *y, yaml_node_t *root, yaml_node_t **values,
                      cincy_error *err)
{
    int error;

    for (int i = B_URL; i <= B_RULES; i++) {
        if (!values[i])
            return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(root),
                                   "neither a pure block (only 'to' and 'from') nor a risk: "
                                   "missing field '%s'",
                                   block_fields[i]);
    }
    if ((error = risk_string(&risk->url, y, values[B_URL], "url", err)) < 0 ||
        (error = risk_string(&risk->name, y, values[B_NAME], "name", err)) < 0 ||
        (error = risk_string(&risk->message, y, values[B_MESSAGE], "message", err)) < 0)
        return error;
    if (!ingest_risk_url_valid(risk->url))
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(values[B_URL]),
                               "field 'url': '%.*s' is not an http or https URL", INGEST_QUOTE_MAX,
                               risk->url);
    return parse_rules(risk, y, values[B_RULES], err);
}

int ingest_block_parse(ingest_block *out, const char *yaml, size_t len, const char *rel,
                       cincy_error *err)
{
    ingest_yaml y;
    yaml_node_t *root, *values[B_COUNT], *unknown;
    ingest_block b = {0};
    int error;

    if ((error = ingest_yaml_load(&y, yaml, len, rel, err)) < 0)
        goto cleanup;
    root = ingest_yaml_root(&y);
    if ((error = ingest_yaml_fields(&y, root, block_fields, B_COUNT, values, &unknown, err)) < 0)
        goto cleanup;
    for (int i = B_TO; i <= B_FROM; i++) {
        if (!values[i]) {
            error = cincy_error_set(err, CINCY_EINVALID, rel, ingest_yaml_line(root),
                                    "missing field '%s'", block_fields[i]);
            goto cleanup;
        }
    }
    if ((error = ingest_yaml_version(&b.to, &y, values[B_TO], "to", err)) < 0 ||
        (error = ingest_yaml_string(&b.from, &y, values[B_FROM], "from", err)) < 0 ||
        (error = check_regex(&y, values[B_FROM], b.from, err)) < 0)
        goto cleanup;
    b.is_risk = unknown || values[B_URL] || values[B_NAME] || values[B_MESSAGE] || values[B_RULES];
    if (b.is_risk && (error = parse_risk(&b.risk, &y, root, values, err)) < 0)
        goto cleanup;
    if (!(b.file = strdup(rel))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    *out = b;
    memset(&b, 0, sizeof(b));

cleanup:
    ingest_yaml_clear(&y);
    ingest_block_clear(&b);
    return error;
}

void ingest_block_clear(ingest_block *b)
{
    if (!b)
        return;
    free(b->to);
    free(b->from);
    graph_risk_clear(&b->risk);
    free(b->file);
    memset(b, 0, sizeof(*b));
}
