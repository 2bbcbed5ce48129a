/* ingest/yaml_doc.c - one YAML document, loaded with libyaml, checked field by field.
 * Channel and blocked-edge files are small mappings, so the document API is
 * enough: load the tree, then look fields up. Every check here reports the
 * 1-based line of the node it rejects, which is what a graph-data author needs
 * to find the mistake. Aliases are resolved by libyaml to shared node indices
 * and nothing here walks a tree recursively, so hostile nesting or alias
 * bombs cost nothing beyond the file-size cap the caller applied. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "ingest/ingest_internal.h"

/* libyaml reader errors (bad UTF-8) carry a byte offset but no line. */
static int line_of_offset(const char *text, size_t len, size_t offset)
{
    int line = 1;

    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n')
            line++;
    }
    return line;
}

static int parser_error(const yaml_parser_t *p, const char *text, size_t len, const char *rel,
                        cincy_error *err)
{
    int line;

    if (p->error == YAML_MEMORY_ERROR)
        return ingest_oom(err);
    if (p->error == YAML_READER_ERROR)
        line = line_of_offset(text, len, p->problem_offset);
    else
        line = (int)p->problem_mark.line + 1;
    if (p->context)
        return cincy_error_set(err, CINCY_EINVALID, rel, line, "invalid yaml: %s %s",
                               p->problem ? p->problem : "syntax error", p->context);
    return cincy_error_set(err, CINCY_EINVALID, rel, line, "invalid yaml: %s",
                           p->problem ? p->problem : "syntax error");
}

/* The reference reads each file as exactly one document; a second one is
 * more likely a botched merge than intent, so it is an error, not ignored. */
static int check_single_document(yaml_parser_t *p, const char *text, size_t len, const char *rel,
                                 cincy_error *err)
{
    yaml_document_t extra;
    yaml_node_t *root;
    int error = CINCY_OK;

    if (!yaml_parser_load(p, &extra))
        return parser_error(p, text, len, rel, err);
    root = yaml_document_get_root_node(&extra);
    if (root)
        error = cincy_error_set(err, CINCY_EINVALID, rel, ingest_yaml_line(root),
                                "more than one yaml document");
    yaml_document_delete(&extra);
    return error;
}

int ingest_yaml_load(ingest_yaml *y, const char *text, size_t len, const char *rel,
                     cincy_error *err)
{
    yaml_parser_t parser;
    yaml_node_t *root;
    int error = CINCY_OK;

    memset(y, 0, sizeof(*y));
    y->rel = rel;
    if (!yaml_parser_initialize(&parser))
        return ingest_oom(err);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        error = parser_error(&parser, text, len, rel, err);
        goto cleanup;
    }
    y->loaded = 1;
    root = yaml_document_get_root_node(&y->doc);
    if (!root) {
        error = cincy_error_set(err, CINCY_EINVALID, rel, 0, "empty document");
        goto cleanup;
    }
    if ((error = check_single_document(&parser, text, len, rel, err)) < 0)
        goto cleanup;
    if (root->type != YAML_MAPPING_NODE)
        error = cincy_error_set(err, CINCY_EINVALID, rel, ingest_yaml_line(root),
                                "top level must be a mapping");

cleanup:
    yaml_parser_delete(&parser);
    return error;
}

void ingest_yaml_clear(ingest_yaml *y)
{
    if (y && y->loaded) {
        yaml_document_delete(&y->doc);
        y->loaded = 0;
    }
}

yaml_node_t *ingest_yaml_root(ingest_yaml *y)
{
    return yaml_document_get_root_node(&y->doc);
}

yaml_node_t *ingest_yaml_node(ingest_yaml *y, int index)
{
    return yaml_document_get_node(&y->doc, index);
}

int ingest_yaml_line(const yaml_node_t *node)
{
    return (int)node->start_mark.line + 1;
}

static int scalar_is(const yaml_node_t *n, const char *s)
{
    size_t len = strlen(s);
    return n->data.scalar.length == len && memcmp(n->data.scalar.value, s, len) == 0;
}

int ingest_yaml_fields(ingest_yaml *y, yaml_node_t *map, const char *const *names, size_t n,
                       yaml_node_t **values, yaml_node_t **unknown, cincy_error *err)
{
    for (size_t i = 0; i < n; i++)
        values[i] = NULL;
    if (unknown)
        *unknown = NULL;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *key = ingest_yaml_node(y, pair->key);
        size_t i;

        if (!key || key->type != YAML_SCALAR_NODE)
            return cincy_error_set(err, CINCY_EINVALID, y->rel, key ? ingest_yaml_line(key) : 0,
                                   "mapping keys must be strings");
        for (i = 0; i < n && !scalar_is(key, names[i]); i++)
            ;
        if (i == n) {
            if (unknown && !*unknown)
                *unknown = key;
            continue;
        }
        if (values[i])
            return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(key),
                                   "duplicate field '%s'", names[i]);
        values[i] = ingest_yaml_node(y, pair->value);
    }
    return CINCY_OK;
}

/* YAML 1.1 core-schema nulls as a plain scalar: `key:`, `key: ~`, `key: null`. */
static int is_null(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return n->data.scalar.length == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
           scalar_is(n, "Null") || scalar_is(n, "NULL");
}

int ingest_yaml_string(char **out, ingest_yaml *y, yaml_node_t *node, const char *field,
                       cincy_error *err)
{
    char *s;

    if (!node || node->type != YAML_SCALAR_NODE || is_null(node) ||
        memchr(node->data.scalar.value, '\0', node->data.scalar.length))
        return cincy_error_set(err, CINCY_EINVALID, y->rel, node ? ingest_yaml_line(node) : 0,
                               "field '%s' must be a string", field);
    if (!(s = strndup((const char *)node->data.scalar.value, node->data.scalar.length)))
        return ingest_oom(err);
    *out = s;
    return CINCY_OK;
}

int ingest_yaml_version(char **out, ingest_yaml *y, yaml_node_t *node, const char *field,
                        cincy_error *err)
{
    graph_version v;
    char *s = NULL;
    int error;

    if ((error = ingest_yaml_string(&s, y, node, field, err)) < 0)
        return error;
    if ((error = graph_version_parse(&v, s, NULL)) < 0) {
        if (error != CINCY_EINVALID) {
            free(s);
            return ingest_oom(err);
        }
        error = cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(node),
                                "field '%s': '%.*s%s' is not a valid version", field,
                                INGEST_QUOTE_MAX, s, strlen(s) > INGEST_QUOTE_MAX ? "..." : "");
        free(s);
        return error;
    }
    graph_version_clear(&v);
    *out = s;
    return CINCY_OK;
}
