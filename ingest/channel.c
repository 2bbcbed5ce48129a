/* ingest/channel.c - one graph-data channel file (spec §2.3).
 *
 *   name: stable-4.16        the channel's identity (the file name is not used)
 *   versions: [4.15.0, ...]  semver strings, file order kept
 *   feeder: ...              ignored, any shape (promotion tooling reads it)
 *   tombstones: ...          ignored, any shape
 *
 * Any other key, or one bad version, makes the whole file invalid, as in the
 * reference: a half-read channel would silently drop releases from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_internal.h"

enum { F_NAME, F_VERSIONS, F_FEEDER, F_TOMBSTONES, F_COUNT };
static const char *const channel_fields[F_COUNT] = {"name", "versions", "feeder", "tombstones"};

static int parse_versions(ingest_strv *out, ingest_yaml *y, yaml_node_t *seq, cincy_error *err)
{
    char field[32];
    int error;

    if (seq->type != YAML_SEQUENCE_NODE)
        return cincy_error_set(err, CINCY_EINVALID, y->rel, ingest_yaml_line(seq),
                               "field 'versions' must be a sequence");
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        char *v = NULL;

        snprintf(field, sizeof(field), "versions[%zu]",
                 (size_t)(it - seq->data.sequence.items.start));
        if ((error = ingest_yaml_version(&v, y, ingest_yaml_node(y, *it), field, err)) < 0)
            return error;
        error = ingest_strv_push(out, v);
        free(v);
        if (error < 0)
            return ingest_oom(err);
    }
    return CINCY_OK;
}

int ingest_channel_parse(ingest_channel *out, const char *yaml, size_t len, const char *rel,
                         cincy_error *err)
{
    ingest_yaml y;
    yaml_node_t *root, *values[F_COUNT], *unknown;
    ingest_channel c = {0};
    ingest_strv versions = {0};
    int error;

    if ((error = ingest_yaml_load(&y, yaml, len, rel, err)) < 0)
        goto cleanup;
    root = ingest_yaml_root(&y);
    if ((error = ingest_yaml_fields(&y, root, channel_fields, F_COUNT, values, &unknown, err)) < 0)
        goto cleanup;
    if (unknown) {
        error = cincy_error_set(err, CINCY_EINVALID, rel, ingest_yaml_line(unknown),
                                "unknown field '%.*s'", INGEST_QUOTE_MAX,
                                (const char *)unknown->data.scalar.value);
        goto cleanup;
    }
    for (int i = F_NAME; i <= F_VERSIONS; i++) {
        if (!values[i]) {
            error = cincy_error_set(err, CINCY_EINVALID, rel, ingest_yaml_line(root),
                                    "missing field '%s'", channel_fields[i]);
            goto cleanup;
        }
    }
    if ((error = ingest_yaml_string(&c.name, &y, values[F_NAME], "name", err)) < 0)
        goto cleanup;
    if (!c.name[0]) {
        error = cincy_error_set(err, CINCY_EINVALID, rel, ingest_yaml_line(values[F_NAME]),
                                "field 'name' must not be empty");
        goto cleanup;
    }
    if ((error = parse_versions(&versions, &y, values[F_VERSIONS], err)) < 0)
        goto cleanup;
    if (!(c.file = strdup(rel))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    ingest_strv_take(&versions, &c.versions, &c.nversions);
    *out = c;
    memset(&c, 0, sizeof(c));

cleanup:
    ingest_yaml_clear(&y);
    ingest_strv_clear(&versions);
    ingest_channel_clear(&c);
    return error;
}

void ingest_channel_clear(ingest_channel *c)
{
    if (!c)
        return;
    free(c->name);
    ingest_strv_free(c->versions, c->nversions);
    free(c->file);
    memset(c, 0, sizeof(*c));
}
