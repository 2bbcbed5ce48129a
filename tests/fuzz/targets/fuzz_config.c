/* tests/fuzz/targets/fuzz_config.c - the server configuration file
 * (server_config_parse over the defaults).
 *
 * Invariants: a failure names the file and says why; an accepted config has
 * a normalised path prefix ("" or "/a/b"), ports in range, at least one
 * thread, poll_seconds >= 1, absolute directories; parsing the same text
 * again gives the same config, and server_config_copy copies it exactly.
 */
#include "fuzz/targets/fuzz_util.h"
#include "server/server_internal.h"

#define CONFIG_FILE "/srv/cincy/cincy.yaml"

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int strv_eq(const server_strv *a, const server_strv *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!str_eq(a->items[i], b->items[i]))
            return 0;
    return 1;
}

/* The fields a reader of the config sees (not every field: enough to tell
 * a copy or a second parse that went wrong). */
static int config_eq(const server_config *a, const server_config *b)
{
    return str_eq(a->graph_address, b->graph_address) && a->graph_port == b->graph_port &&
           str_eq(a->status_address, b->status_address) && a->status_port == b->status_port &&
           str_eq(a->path_prefix, b->path_prefix) && a->threads == b->threads &&
           a->log_level == b->log_level && str_eq(a->releases_dir, b->releases_dir) &&
           str_eq(a->graph_data_dir, b->graph_data_dir) && str_eq(a->web_dir, b->web_dir) &&
           a->poll_seconds == b->poll_seconds &&
           a->allow_channel_removal == b->allow_channel_removal &&
           a->skip_invalid_files == b->skip_invalid_files &&
           str_eq(a->refresh_token, b->refresh_token) && a->graph_data_kind == b->graph_data_kind &&
           str_eq(a->graph_data_location, b->graph_data_location) &&
           str_eq(a->graph_data_reference, b->graph_data_reference) &&
           str_eq(a->state_dir, b->state_dir) &&
           strv_eq(&a->release_registries, &b->release_registries) &&
           str_eq(a->registry_auth_file, b->registry_auth_file) &&
           str_eq(a->registry_ca_file, b->registry_ca_file) &&
           a->registry_insecure == b->registry_insecure &&
           a->registry_concurrency == b->registry_concurrency &&
           a->registry_timeout == b->registry_timeout && str_eq(a->upstream_url, b->upstream_url) &&
           strv_eq(&a->upstream_channels, &b->upstream_channels) &&
           strv_eq(&a->upstream_arches, &b->upstream_arches);
}

static int absolute_or_null(const char *p)
{
    return !p || p[0] == '/';
}

static void check_config(const server_config *cfg)
{
    const char *p = cfg->path_prefix;
    size_t n = p ? strlen(p) : 0;

    FUZZ_CHECK(p && (n == 0 || (p[0] == '/' && p[n - 1] != '/' && (n < 2 || p[1] != '/'))));
    FUZZ_CHECK(cfg->graph_port >= 0 && cfg->graph_port <= 65535);
    FUZZ_CHECK(cfg->status_port >= 0 && cfg->status_port <= 65535);
    FUZZ_CHECK(cfg->threads >= 1 && cfg->threads <= SERVER_THREADS_MAX);
    FUZZ_CHECK(cfg->poll_seconds >= 1);
    FUZZ_CHECK(cfg->graph_address && cfg->status_address);
    FUZZ_CHECK(absolute_or_null(cfg->releases_dir) && absolute_or_null(cfg->graph_data_dir) &&
               absolute_or_null(cfg->web_dir) && absolute_or_null(cfg->state_dir));
    for (size_t i = 0; i < cfg->release_registries.n; i++)
        FUZZ_CHECK(cfg->release_registries.items[i] != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    server_config cfg, again, copy;
    cincy_error err;
    int rc;

    fuzz_quiet();
    FUZZ_SETUP(server_config_defaults(&cfg) == 0);
    rc = server_config_parse(&cfg, (const char *)data, size, CONFIG_FILE, "/srv/cincy", &err);
    if (rc < 0) {
        FUZZ_CHECK(err.code == rc && err.msg[0]);
        FUZZ_CHECK(strcmp(err.file, CONFIG_FILE) == 0 || err.code == CINCY_ERROR);
        server_config_clear(&cfg);
        return 0;
    }
    check_config(&cfg);
    FUZZ_SETUP(server_config_defaults(&again) == 0);
    FUZZ_CHECK(server_config_parse(&again, (const char *)data, size, CONFIG_FILE, "/srv/cincy",
                                   &err) == 0);
    FUZZ_CHECK(config_eq(&cfg, &again));
    FUZZ_SETUP(server_config_copy(&copy, &cfg) == 0);
    FUZZ_CHECK(config_eq(&cfg, &copy));
    server_config_clear(&copy);
    server_config_clear(&again);
    server_config_clear(&cfg);
    return 0;
}
