/* ingest/check_files.c - `cincy check` for one channel or blocked-edges file.
 *
 * The loader's parsers (channel.c, block.c) stop at a file's first problem,
 * which is right for the server: the file is skipped either way. A person
 * fixing graph-data wants every problem at once, so these walkers read the
 * same YAML with the same helpers and keep going after each finding. Each
 * file ends with a safety net: if the walker found no error but the loader's
 * own parser rejects the file, that rejection is reported too, so the check
 * can never pass a file the server would skip.
 *
 * The record each walker appends holds what the cross-file checks in check.c
 * need: a channel's name and valid versions, a block's target, pattern and
 * risk. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"

#define FIELD_MAX 96

static const char *const channel_fields[] = {"name", "versions", "feeder", "tombstones"};
enum { CH_NAME, CH_VERSIONS, CH_COUNT = 4 };

/* Risk keys the server ignores but the graph-data schema (1.1.0) defines. */
static const char *const block_fields[] = {"to",      "from",          "url",     "name",
                                           "message", "matchingRules", "fixedIn", "autoExtend"};
enum { B_TO, B_FROM, B_URL, B_NAME, B_MESSAGE, B_RULES, B_FIXED_IN, B_AUTO_EXTEND, B_COUNT };

static const char *const rule_fields[] = {"type", "promql"};
enum { R_TYPE, R_PROMQL, R_COUNT };
static const char *const promql_fields[] = {"promql"};

static void oom(ingest_check_ctx *c)
{
    c->oom = 1;
}

static void err_at(ingest_check_ctx *c, ingest_yaml *y, const yaml_node_t *node, const char *field,
                   const char *fmt, const char *arg)
{
    ingest_check_add(c, INGEST_CHECK_ERROR, y->rel, node ? ingest_yaml_line(node) : 0, field, fmt,
                     arg);
}

/* Looks up names[] in the mapping map, reporting every key that is not a
 * string, appears twice, or is not in names. values[i] receives the first
 * value of names[i] or NULL, and keys[i] (when keys is not NULL) its key:
 * a block sequence or mapping starts on the line after its key, and the
 * key's line is the one a person looks for. prefix makes field names for
 * nested mappings ("matchingRules[0]."). */
static void walk_fields(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *map, const char *prefix,
                        const char *const *names, size_t n, yaml_node_t **values,
                        yaml_node_t **keys)
{
    char field[FIELD_MAX + INGEST_QUOTE_MAX];

    for (size_t i = 0; i < n; i++) {
        values[i] = NULL;
        if (keys)
            keys[i] = NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = ingest_yaml_node(y, p->key);
        size_t i, klen;
        const char *k;

        if (!key || key->type != YAML_SCALAR_NODE) {
            err_at(c, y, key, NULL, "%s", "mapping keys must be strings");
            continue;
        }
        k = (const char *)key->data.scalar.value;
        klen = key->data.scalar.length;
        for (i = 0; i < n && !(strlen(names[i]) == klen && memcmp(names[i], k, klen) == 0); i++)
            ;
        snprintf(field, sizeof(field), "%s%.*s", prefix,
                 (int)(klen < INGEST_QUOTE_MAX ? klen : INGEST_QUOTE_MAX), k);
        if (i == n)
            err_at(c, y, key, field, "unknown field '%s'", field);
        else if (values[i])
            err_at(c, y, key, field, "duplicate field '%s'", field);
        else if ((values[i] = ingest_yaml_node(y, p->value)) && keys)
            keys[i] = key;
    }
}

/* A required non-empty string field; NULL when absent or bad (reported). */
static char *string_field(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *node, const char *field)
{
    cincy_error e;
    char *s = NULL;

    if (!ingest_check_note(c, ingest_yaml_string(&s, y, node, field, &e), &e, INGEST_CHECK_ERROR,
                           field))
        return NULL;
    if (!s[0]) {
        err_at(c, y, node, field, "field '%s' must not be empty", field);
        free(s);
        return NULL;
    }
    return s;
}

/* A version field; NULL when bad (reported with sev). */
static char *version_field(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *node,
                           const char *field, ingest_check_severity sev, graph_version *out_v)
{
    cincy_error e;
    char *s = NULL;

    if (!ingest_check_note(c, ingest_yaml_version(&s, y, node, field, &e), &e, sev, field))
        return NULL;
    if (out_v && graph_version_parse(out_v, s, NULL) < 0) { /* valid, so only out of memory */
        oom(c);
        free(s);
        return NULL;
    }
    return s;
}

static size_t error_count(const ingest_check_ctx *c)
{
    return c->report->errors;
}

/* ---------------------------------------------------------------------------
 * Channels
 */

/* The same version listed twice is harmless to the server, but it is almost
 * always a merge or copy mistake; "same" means the same canonical text, so
 * "4.16.0" and "4.16.0+amd64" are different entries. */
static void check_duplicate(ingest_check_ctx *c, ingest_yaml *y, const ingest_check_channel *ch,
                            const ingest_check_entry *e, yaml_node_t *node, const char *field)
{
    for (size_t i = 0; i < ch->nentries; i++) {
        const ingest_check_entry *o = &ch->entries[i];
        if (graph_version_cmp(&o->v, &e->v) == 0 &&
            strcmp(o->v.build ? o->v.build : "", e->v.build ? e->v.build : "") == 0) {
            ingest_check_add(c, INGEST_CHECK_ERROR, y->rel, ingest_yaml_line(node), field,
                             "field '%s': '%s' is listed twice (first at line %d)", field, e->text,
                             o->line);
            return;
        }
    }
}

static void walk_versions(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *seq,
                          ingest_check_channel *ch)
{
    yaml_node_item_t *start;
    size_t n;
    char field[FIELD_MAX];

    if (seq->type != YAML_SEQUENCE_NODE) {
        err_at(c, y, seq, "versions", "%s", "field 'versions' must be a sequence");
        return;
    }
    start = seq->data.sequence.items.start;
    n = (size_t)(seq->data.sequence.items.top - start);
    if (n && !(ch->entries = calloc(n, sizeof(*ch->entries)))) {
        oom(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *node = ingest_yaml_node(y, start[i]);
        ingest_check_entry e = {0};

        snprintf(field, sizeof(field), "versions[%zu]", i);
        if (!(e.text = version_field(c, y, node, field, INGEST_CHECK_ERROR, &e.v)))
            continue;
        e.line = ingest_yaml_line(node);
        check_duplicate(c, y, ch, &e, node, field);
        ch->entries[ch->nentries++] = e;
    }
}

/* What a client may put in ?channel= (spec §2.3); other names load fine but
 * can never be asked for. */
static int requestable_name(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || *s == '-' || *s == '.'))
            return 0;
    }
    return 1;
}

static void check_name(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *node, const char *name)
{
    const char *base = strrchr(y->rel, '/') ? strrchr(y->rel, '/') + 1 : y->rel;
    size_t n = strlen(name);

    if (!requestable_name(name))
        ingest_check_add(c, INGEST_CHECK_WARNING, y->rel, ingest_yaml_line(node), "name",
                         "field 'name': '%.*s' can never be requested: channel parameters are "
                         "limited to 0-9, a-z, '-' and '.'",
                         INGEST_QUOTE_MAX, name);
    /* The server goes by the name; a file named for another channel is
     * usually a copied file whose name was not updated. */
    if (strncmp(base, name, n) != 0 || strcmp(base + n, ".yaml") != 0)
        ingest_check_add(c, INGEST_CHECK_WARNING, y->rel, ingest_yaml_line(node), "name",
                         "field 'name': channel '%.*s' is in a file named %s", INGEST_QUOTE_MAX,
                         name, base);
}

static void walk_channel(ingest_check_ctx *c, ingest_yaml *y, ingest_check_channel *ch)
{
    yaml_node_t *root = ingest_yaml_root(y), *values[CH_COUNT];

    walk_fields(c, y, root, "", channel_fields, CH_COUNT, values, NULL);
    for (int i = CH_NAME; i <= CH_VERSIONS; i++) {
        if (!values[i])
            err_at(c, y, root, channel_fields[i], "missing field '%s'", channel_fields[i]);
    }
    if (values[CH_NAME] && (ch->name = string_field(c, y, values[CH_NAME], "name"))) {
        ch->name_line = ingest_yaml_line(values[CH_NAME]);
        check_name(c, y, values[CH_NAME], ch->name);
    }
    if (values[CH_VERSIONS])
        walk_versions(c, y, values[CH_VERSIONS], ch);
}

/* The loader's verdict, reported only if the walker missed it (see top). */
static void safety_net(ingest_check_ctx *c, const char *text, size_t len, const char *rel,
                       int is_channel)
{
    cincy_error e;
    int rc;

    cincy_error_clear(&e);
    if (is_channel) {
        ingest_channel ch;
        if ((rc = ingest_channel_parse(&ch, text, len, rel, &e)) == CINCY_OK)
            ingest_channel_clear(&ch);
    } else {
        ingest_block b;
        if ((rc = ingest_block_parse(&b, text, len, rel, &e)) == CINCY_OK)
            ingest_block_clear(&b);
    }
    ingest_check_note(c, rc, &e, INGEST_CHECK_ERROR, NULL);
}

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    void *a;

    if (n < *cap)
        return 0;
    if (!(a = realloc(*items, (*cap ? *cap * 2 : 16) * size)))
        return -1;
    *items = a;
    *cap = *cap ? *cap * 2 : 16;
    return 0;
}

void ingest_check_channel_file(ingest_check_ctx *c, const char *text, size_t len, const char *rel)
{
    ingest_check_channel ch = {0};
    ingest_yaml y;
    cincy_error e;
    size_t before = error_count(c);

    if (!(ch.file = strdup(rel))) {
        oom(c);
        return;
    }
    if (ingest_check_note(c, ingest_yaml_load(&y, text, len, rel, &e), &e, INGEST_CHECK_ERROR,
                          NULL))
        walk_channel(c, &y, &ch);
    ingest_yaml_clear(&y);
    if (error_count(c) == before)
        safety_net(c, text, len, rel, 1);
    if (grow((void **)&c->channels, &c->capchannels, c->nchannels, sizeof(ch)) < 0) {
        oom(c);
        ingest_check_channel_clear(&ch);
        return;
    }
    c->channels[c->nchannels++] = ch;
}

void ingest_check_channel_clear(ingest_check_channel *ch)
{
    if (!ch)
        return;
    free(ch->file);
    free(ch->name);
    for (size_t i = 0; i < ch->nentries; i++) {
        free(ch->entries[i].text);
        graph_version_clear(&ch->entries[i].v);
    }
    free(ch->entries);
    memset(ch, 0, sizeof(*ch));
}

/* ---------------------------------------------------------------------------
 * Blocked edges
 */

static char *regex_field(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *node)
{
    char *s = string_field(c, y, node, "from");
    char why[128];
    regex_t re;
    int rc;

    if (!s)
        return NULL;
    if ((rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB)) == 0) {
        regfree(&re);
        return s;
    }
    if (rc == REG_ESPACE) {
        oom(c);
    } else {
        regerror(rc, &re, why, sizeof(why));
        ingest_check_add(c, INGEST_CHECK_ERROR, y->rel, ingest_yaml_line(node), "from",
                         "field 'from': '%.*s' is not a valid regular expression: %s",
                         INGEST_QUOTE_MAX, s, why);
    }
    free(s);
    return NULL;
}

static void walk_promql(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *rule, yaml_node_t *node,
                        const char *field, graph_rule *out, int *ok)
{
    char sub[FIELD_MAX + 8], query[FIELD_MAX + 16];
    yaml_node_t *value;

    snprintf(sub, sizeof(sub), "%s.promql", field);
    snprintf(query, sizeof(query), "%s.promql.promql", field);
    if (!node) {
        err_at(c, y, rule, sub, "missing field '%s'", sub);
        *ok = 0;
        return;
    }
    if (node->type != YAML_MAPPING_NODE) {
        err_at(c, y, node, sub, "field '%s' must be a mapping", sub);
        *ok = 0;
        return;
    }
    snprintf(sub, sizeof(sub), "%s.promql.", field);
    walk_fields(c, y, node, sub, promql_fields, 1, &value, NULL);
    if (!value) {
        err_at(c, y, node, query, "missing field '%s'", query);
        *ok = 0;
    } else if (!(out->promql = string_field(c, y, value, query))) {
        *ok = 0;
    }
}

static void walk_rule(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *node, size_t i,
                      graph_rule *out, int *ok)
{
    yaml_node_t *values[R_COUNT], *keys[R_COUNT];
    char field[FIELD_MAX], prefix[FIELD_MAX + 1], tfield[FIELD_MAX + 8];
    char *type;

    snprintf(field, sizeof(field), "matchingRules[%zu]", i);
    if (!node || node->type != YAML_MAPPING_NODE) {
        err_at(c, y, node, field, "field '%s' must be a mapping", field);
        *ok = 0;
        return;
    }
    snprintf(prefix, sizeof(prefix), "%s.", field);
    walk_fields(c, y, node, prefix, rule_fields, R_COUNT, values, keys);
    snprintf(tfield, sizeof(tfield), "%s.type", field);
    if (!values[R_TYPE]) {
        err_at(c, y, node, tfield, "missing field '%s'", tfield);
        *ok = 0;
        return;
    }
    if (!(type = string_field(c, y, values[R_TYPE], tfield))) {
        *ok = 0;
        return;
    }
    if (strcmp(type, "PromQL") == 0) {
        out->type = GRAPH_RULE_PROMQL;
        walk_promql(c, y, node, values[R_PROMQL], field, out, ok);
    } else if (strcmp(type, "Always") == 0) {
        out->type = GRAPH_RULE_ALWAYS;
        /* Dropped by the server; an author who wrote a query meant PromQL. */
        if (values[R_PROMQL]) {
            snprintf(tfield, sizeof(tfield), "%s.promql", field);
            ingest_check_add(c, INGEST_CHECK_WARNING, y->rel, ingest_yaml_line(keys[R_PROMQL]),
                             tfield, "field '%s' is ignored for type Always", tfield);
        }
    } else {
        ingest_check_add(c, INGEST_CHECK_ERROR, y->rel, ingest_yaml_line(values[R_TYPE]), tfield,
                         "field '%s': unknown rule type '%.*s' (expected Always or PromQL)", tfield,
                         INGEST_QUOTE_MAX, type);
        *ok = 0;
    }
    free(type);
}

static void walk_rules(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *key, yaml_node_t *seq,
                       ingest_check_block *b)
{
    size_t n;
    int ok = 1;

    b->rules_line = ingest_yaml_line(key);
    if (seq->type != YAML_SEQUENCE_NODE) {
        err_at(c, y, seq, "matchingRules", "%s", "field 'matchingRules' must be a sequence");
        return;
    }
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    /* The cluster API requires at least one rule per risk (block.c). */
    if (n == 0) {
        err_at(c, y, key, "matchingRules", "%s", "field 'matchingRules' must not be empty");
        return;
    }
    if (!(b->risk.rules = calloc(n, sizeof(*b->risk.rules)))) {
        oom(c);
        return;
    }
    b->risk.nrules = n;
    for (size_t i = 0; i < n; i++)
        walk_rule(c, y, ingest_yaml_node(y, seq->data.sequence.items.start[i]), i,
                  &b->risk.rules[i], &ok);
    b->rules_ok = ok;
}

static void check_url(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *node, const char *url)
{
    if (!ingest_risk_url_valid(url))
        ingest_check_add(c, INGEST_CHECK_ERROR, y->rel, ingest_yaml_line(node), "url",
                         "field 'url': '%.*s' is not an http or https URL", INGEST_QUOTE_MAX, url);
}

static void walk_risk(ingest_check_ctx *c, ingest_yaml *y, yaml_node_t *root, yaml_node_t **values,
                      yaml_node_t **keys, ingest_check_block *b)
{
    for (int i = B_URL; i <= B_RULES; i++) {
        if (!values[i])
            err_at(c, y, root, block_fields[i],
                   "neither a pure block (only 'to' and 'from') nor a risk: missing field '%s'",
                   block_fields[i]);
    }
    if (values[B_URL] && (b->risk.url = string_field(c, y, values[B_URL], "url"))) {
        b->url_line = ingest_yaml_line(values[B_URL]);
        check_url(c, y, values[B_URL], b->risk.url);
    }
    if (values[B_NAME])
        b->risk.name = string_field(c, y, values[B_NAME], "name");
    if (values[B_MESSAGE] && (b->risk.message = string_field(c, y, values[B_MESSAGE], "message")))
        b->message_line = ingest_yaml_line(values[B_MESSAGE]);
    if (values[B_RULES])
        walk_rules(c, y, keys[B_RULES], values[B_RULES], b);
    /* Ignored by the server, read by the graph-data tooling. */
    if (values[B_FIXED_IN]) {
        char *v = version_field(c, y, values[B_FIXED_IN], "fixedIn", INGEST_CHECK_WARNING, NULL);
        free(v);
    }
}

static void walk_block(ingest_check_ctx *c, ingest_yaml *y, ingest_check_block *b)
{
    yaml_node_t *root = ingest_yaml_root(y), *values[B_COUNT], *keys[B_COUNT];

    walk_fields(c, y, root, "", block_fields, B_COUNT, values, keys);
    for (int i = B_TO; i <= B_FROM; i++) {
        if (!values[i])
            err_at(c, y, root, block_fields[i], "missing field '%s'", block_fields[i]);
    }
    if (values[B_TO] &&
        (b->to = version_field(c, y, values[B_TO], "to", INGEST_CHECK_ERROR, &b->to_v)))
        b->to_line = ingest_yaml_line(values[B_TO]);
    if (values[B_FROM] && (b->from = regex_field(c, y, values[B_FROM])))
        b->from_line = ingest_yaml_line(values[B_FROM]);
    for (int i = B_URL; i < B_COUNT; i++)
        b->is_risk |= values[i] != NULL;
    if (b->is_risk)
        walk_risk(c, y, root, values, keys, b);
}

void ingest_check_block_file(ingest_check_ctx *c, const char *text, size_t len, const char *rel)
{
    ingest_check_block b = {0};
    ingest_yaml y;
    cincy_error e;
    size_t before = error_count(c);

    if (!(b.file = strdup(rel))) {
        oom(c);
        return;
    }
    if (ingest_check_note(c, ingest_yaml_load(&y, text, len, rel, &e), &e, INGEST_CHECK_ERROR,
                          NULL))
        walk_block(c, &y, &b);
    ingest_yaml_clear(&y);
    if (error_count(c) == before)
        safety_net(c, text, len, rel, 0);
    if (grow((void **)&c->blocks, &c->capblocks, c->nblocks, sizeof(b)) < 0) {
        oom(c);
        ingest_check_block_clear(&b);
        return;
    }
    c->blocks[c->nblocks++] = b;
}

void ingest_check_block_clear(ingest_check_block *b)
{
    if (!b)
        return;
    free(b->file);
    free(b->to);
    graph_version_clear(&b->to_v);
    free(b->from);
    graph_risk_clear(&b->risk);
    memset(b, 0, sizeof(*b));
}
