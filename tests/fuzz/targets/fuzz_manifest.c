/* tests/fuzz/targets/fuzz_manifest.c - registry manifests, manifest lists and
 * OCI indexes, config blobs and image layers (tar, any filter), as the
 * release scrape reads them (reg_inspect), served by the stand-in registry.
 *
 * Input: sections separated by "\n@@@\n": the manifest, its Content-Type,
 * a child manifest (a list's entry), the config blob and the top layer. In
 * the manifests "@CONFIG@", "@LAYER@" and "@CHILD@" become the digests of
 * those sections, so the fuzzer can make digests that match.
 * Invariants: a failure says why with a registry error code; a success
 * names an arch that is "multi", "unknown" or a plain lower-case word, and
 * holds release-metadata only when a layer was served, within its size cap,
 * which the release-metadata parser then reads (its own checks apply).
 */
#include "fuzz/targets/fuzz_registry.h"
#include "ingest/registry_internal.h"

#define SEP "\n@@@\n"
#define NSECTIONS 5
enum { S_TOP, S_CTYPE, S_CHILD, S_CONFIG, S_LAYER };

static void split_sections(const uint8_t *data, size_t size, const uint8_t **part, size_t *len)
{
    const uint8_t *rest = data;
    size_t rlen = size;

    for (int i = 0; i < NSECTIONS; i++) {
        if (i == NSECTIONS - 1) { /* the layer is binary: it takes the rest whole */
            part[i] = rest;
            len[i] = rlen;
            break;
        }
        fuzz_split(rest, rlen, SEP, &part[i], &len[i], &rest, &rlen);
    }
}

static int arch_ok(const char *a)
{
    if (strcmp(a, "multi") == 0 || strcmp(a, "unknown") == 0)
        return 1;
    if (!*a || strlen(a) > 32)
        return 0;
    for (; *a; a++)
        if (!((*a >= '0' && *a <= '9') || (*a >= 'a' && *a <= 'z') || *a == '_'))
            return 0;
    return 1;
}

static void check_info(const reg_image_info *info, size_t layer_len)
{
    ingest_release r = {0};
    cincy_error err;

    FUZZ_CHECK(info->arch && arch_ok(info->arch));
    if (!info->metadata)
        return;
    FUZZ_CHECK(layer_len > 0 && info->metadata_len <= (1u << 20));
    if (ingest_release_metadata_parse(&r, info->metadata, info->metadata_len, "release-metadata",
                                      &err) < 0)
        FUZZ_CHECK(err.msg[0]);
    ingest_release_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static reg_client *cl;
    freg *g = freg_get();
    const uint8_t *part[NSECTIONS] = {0};
    size_t len[NSECTIONS] = {0}, clen, tlen, l1;
    char dconfig[72], dlayer[72], dchild[72], dtop[72], *ctype, *child, *top, *t1;
    reg_conn c = {0};
    reg_memo memo;
    reg_reply reply = {0};
    reg_image_info info = {0};
    cincy_error err;
    int rc;

    fuzz_quiet();
    if (!cl) {
        char repo[128];
        ingest_registry_config cfg = {0};
        snprintf(repo, sizeof(repo), "http://127.0.0.1:%d/fuzz/release", g->port);
        cfg.timeout_seconds = 10;
        FUZZ_SETUP(reg_client_new(&cl, repo, &cfg, &err) == 0);
    }
    split_sections(data, size, part, len);
    ctype = fuzz_strndup(part[S_CTYPE], len[S_CTYPE]);
    freg_put(g, part[S_CONFIG], len[S_CONFIG], 0, NULL, dconfig);
    freg_put(g, part[S_LAYER], len[S_LAYER], 0, NULL, dlayer);
    t1 = freg_replace((const char *)part[S_CHILD], len[S_CHILD], "@CONFIG@", dconfig, &l1);
    child = freg_replace(t1, l1, "@LAYER@", dlayer, &clen);
    free(t1);
    freg_put(g, (const uint8_t *)child, clen, 1, "", dchild);
    t1 = freg_replace((const char *)part[S_TOP], len[S_TOP], "@CONFIG@", dconfig, &l1);
    top = freg_replace(t1, l1, "@LAYER@", dlayer, &tlen);
    free(t1);
    t1 = top;
    top = freg_replace(t1, tlen, "@CHILD@", dchild, &tlen);
    free(t1);
    freg_digest(dtop, (const uint8_t *)top, tlen);

    FUZZ_SETUP(reg_conn_init(&c, cl, &err) == 0);
    reg_memo_init(&memo);
    reply.status = 200;
    reply.content_type = *ctype ? ctype : NULL;
    reply.body.data = top;
    reply.body.len = tlen;
    rc = reg_inspect(&info, &memo, &c, &reply, "fuzz-tag", dtop, &err);
    if (rc == 0)
        check_info(&info, len[S_LAYER]);
    else
        FUZZ_CHECK((rc == CINCY_EINVALID || rc == CINCY_ETOOBIG || rc == CINCY_ERROR) &&
                   err.code == rc && err.msg[0]);
    reg_image_info_clear(&info);
    reg_memo_clear(&memo);
    reg_conn_clear(&c);
    free(top);
    free(child);
    free(ctype);
    return 0;
}
