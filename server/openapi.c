/* server/openapi.c - the OpenAPI document served at P/openapi and P/v1/openapi.
 *
 * The template is server/openapi.json, compiled in as bytes (CMakeLists.txt
 * generates openapi_json.h from it). Like the reference (spec §1.8.1), every
 * path key gets the path prefix, and each mandatory client parameter (cincy
 * has one: channel) is appended as a required query parameter to the legacy
 * /graph path item only; /v1/graph does not list it (quirk Q4, kept). The
 * document is rendered once at start and served from memory.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openapi_json.h" /* static const unsigned char openapi_json[] */
#include "server/server_internal.h"

#define LEGACY_GRAPH_PATH "/graph"

/* {"in":"query","name":<name>,"required":true,"schema":{"type":"string"}} */
static json_t *mandatory_param(const char *name)
{
    return json_pack("{s:s, s:s, s:b, s:{s:s}}", "in", "query", "name", name, "required", 1,
                     "schema", "type", "string");
}

/* A new paths object with every key prefixed; the channel parameter goes on
 * the legacy path item. Returns NULL when the template is not as expected or
 * memory runs out. */
static json_t *rewrite_paths(json_t *paths, const char *prefix)
{
    json_t *out = json_object(), *item;
    const char *key;

    if (!out || !json_is_object(paths))
        goto fail;
    json_object_foreach(paths, key, item)
    {
        char *full = malloc(strlen(prefix) + strlen(key) + 1);
        int error;
        if (!full)
            goto fail;
        strcpy(full, prefix);
        strcat(full, key);
        if (!strcmp(key, LEGACY_GRAPH_PATH)) {
            json_t *params = json_object_get(item, "parameters");
            if (!params) {
                params = json_array();
                json_object_set_new(item, "parameters", params);
            }
            if (!json_is_array(params) || json_array_append_new(params, mandatory_param("channel")))
                error = -1;
            else
                error = json_object_set(out, full, item);
        } else {
            error = json_object_set(out, full, item);
        }
        free(full);
        if (error)
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

int server_openapi_render(char **out, size_t *out_len, const char *prefix, cincy_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)openapi_json, sizeof(openapi_json), 0, &jerr);
    json_t *paths = NULL;
    char *text = NULL;
    int error = CINCY_ERROR;

    if (!doc) {
        /* the template is part of the build; a test parses it too */
        cincy_error_set(err, CINCY_ERROR, "server/openapi.json", jerr.line, "%s", jerr.text);
        goto cleanup;
    }
    if (!(paths = rewrite_paths(json_object_get(doc, "paths"), prefix ? prefix : "")) ||
        json_object_set_new(doc, "paths", paths) != 0) {
        paths = NULL; /* set_new consumed it even on failure */
        cincy_error_set(err, CINCY_ERROR, NULL, 0, "cannot build the openapi document");
        goto cleanup;
    }
    if (!(text = json_dumps(doc, JSON_COMPACT))) {
        cincy_error_set(err, CINCY_ERROR, NULL, 0, "out of memory");
        goto cleanup;
    }
    *out = text;
    *out_len = strlen(text);
    error = 0;
cleanup:
    json_decref(doc);
    return error;
}
