/* ingest/check.c - `cincy check`: every problem in a graph-data directory.
 *
 * Reads what the loader reads (graph_data.c) - version, channels/<name>.yaml,
 * blocked-edges/<name>.yaml, raw/metadata.json - and reports each problem as a
 * finding instead of stopping or skipping. Per-file checks live in
 * check_files.c; this file walks the directory, checks the version file and
 * raw/metadata.json, and then compares the files with each other:
 *
 *   two channel files with one name            error (clients see it twice)
 *   one risk name with different url, message
 *   or matchingRules in two files              error (graph-data tooling
 *                                              requires them identical)
 *   a block whose `to` is in no channel        warning (no client can be
 *                                              offered that target)
 *   a `from` matching no version in a channel  warning (the block does nothing)
 *
 * The last two are warnings because graph-data legitimately keeps blocks
 * for releases that were pulled from every channel; the real data has a
 * handful of them.
 *
 * Allocation failures do not abort the walk half-way through a file: they
 * set a sticky flag (ctx->oom), like curl's dynbuf, and the whole check fails
 * at the end. */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ingest/ingest_internal.h"

/* The same caps as the loader (graph_data.c): a file the server would refuse
 * to read for its size is reported, not read. */
#define CHECK_VERSION_MAX 1024
#define CHECK_YAML_MAX (1u << 20)
#define CHECK_RAW_MAX (16u << 20)

/* Architectures a node's "+arch" suffix can carry (spec §2.10). amd64 comes
 * first because almost every pattern matches it. */
static const char *const arches[] = {"amd64", "arm64", "multi", "ppc64le", "s390x"};

/* ---------------------------------------------------------------------------
 * Findings
 */

static char *vformat(const char *fmt, va_list ap)
{
    va_list aq;
    char *s;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0 || !(s = malloc((size_t)n + 1)))
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

void ingest_check_add(ingest_check_ctx *c, ingest_check_severity sev, const char *file, int line,
                      const char *field, const char *fmt, ...)
{
    ingest_check_report *r = c->report;
    ingest_check_finding f = {sev, NULL, line, NULL, NULL};
    va_list ap;

    if ((r->count & (r->count - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        ingest_check_finding *a = realloc(r->findings, (r->count ? r->count * 2 : 1) * sizeof(*a));
        if (!a) {
            c->oom = 1;
            return;
        }
        r->findings = a;
    }
    va_start(ap, fmt);
    f.message = vformat(fmt, ap);
    va_end(ap);
    f.file = strdup(file ? file : "");
    f.field = field ? strdup(field) : NULL;
    if (!f.message || !f.file || (field && !f.field)) {
        free(f.message);
        free(f.file);
        free(f.field);
        c->oom = 1;
        return;
    }
    r->findings[r->count++] = f;
    if (sev == INGEST_CHECK_ERROR)
        r->errors++;
    else
        r->warnings++;
}

int ingest_check_note(ingest_check_ctx *c, int rc, const cincy_error *e, ingest_check_severity sev,
                      const char *field)
{
    if (rc == CINCY_OK)
        return 1;
    /* ingest_oom() is the only failure that names no file: every parse and
     * read error names the file it is about. */
    if (rc == CINCY_ERROR && !e->file[0])
        c->oom = 1;
    else
        ingest_check_add(c, sev, e->file, e->line, field, "%s", e->msg);
    return 0;
}

static void add_error(ingest_check_ctx *c, const char *file, int line, const char *field,
                      const char *msg)
{
    ingest_check_add(c, INGEST_CHECK_ERROR, file, line, field, "%s", msg);
}

/* Reads the required file rel under dir into *text. Returns 0 when read;
 * otherwise the finding (missing, unreadable, too big, out of memory) is
 * recorded and -1 returned. */
static int read_required(ingest_check_ctx *c, const char *dir, const char *rel, size_t max,
                         char **text, size_t *len)
{
    char *path = ingest_path_join(dir, rel);
    cincy_error e;
    int rc;

    if (!path) {
        c->oom = 1;
        return -1;
    }
    rc = ingest_read_file(text, len, path, max, rel, &e);
    free(path);
    if (rc == CINCY_ENOTFOUND) {
        add_error(c, rel, 0, NULL, "required file missing");
        return -1;
    }
    return ingest_check_note(c, rc, &e, INGEST_CHECK_ERROR, NULL) ? 0 : -1;
}

/* ---------------------------------------------------------------------------
 * The version file
 */

static void check_version_file(ingest_check_ctx *c, const char *dir)
{
    char *text = NULL, *s, *end;
    graph_version v = {0};
    size_t len;

    if (read_required(c, dir, "version", CHECK_VERSION_MAX, &text, &len) < 0)
        return;
    for (s = text; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
        ;
    for (end = text + len; end > s && strchr(" \t\n\r", end[-1]); end--)
        ;
    *end = '\0';
    if (memchr(text, '\0', (size_t)(end - text)) || graph_version_parse(&v, s, NULL) < 0)
        ingest_check_add(c, INGEST_CHECK_ERROR, "version", 1, NULL,
                         "'%.*s' is not a valid schema version", INGEST_QUOTE_MAX, s);
    else if (v.major != 1)
        ingest_check_add(c, INGEST_CHECK_ERROR, "version", 1, NULL,
                         "graph-data schema %s is not supported (this server reads 1.x)", s);
    else if (v.minor > 2)
        ingest_check_add(c, INGEST_CHECK_WARNING, "version", 1, NULL,
                         "graph-data schema %s is newer than 1.2 and may use unsupported features",
                         s);
    graph_version_clear(&v);
    free(text);
}

/* ---------------------------------------------------------------------------
 * channels/ and blocked-edges/
 */

/* A file the server passes over that its author surely meant it to read:
 * ".yml" or ".YAML". OWNERS, README.md and dot files are left alone. */
static int meant_as_yaml(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot && dot != name && (!strcasecmp(dot, ".yml") || !strcasecmp(dot, ".yaml"));
}

typedef void (*check_fn)(ingest_check_ctx *c, const char *text, size_t len, const char *rel);

static void check_one_file(ingest_check_ctx *c, const char *dir, const char *rel, check_fn fn)
{
    char *path = ingest_path_join(dir, rel), *text = NULL;
    cincy_error e;
    size_t len;
    int rc;

    if (!path) {
        c->oom = 1;
        return;
    }
    rc = ingest_read_file(&text, &len, path, CHECK_YAML_MAX, rel, &e);
    free(path);
    if (ingest_check_note(c, rc, &e, INGEST_CHECK_ERROR, NULL))
        fn(c, text, len, rel);
    free(text);
}

static void check_yaml_dir(ingest_check_ctx *c, const char *dir, const char *sub, check_fn fn)
{
    char *subdir = ingest_path_join(dir, sub), *rel = NULL, **names = NULL;
    size_t n = 0;
    cincy_error e;
    int rc;

    if (!subdir) {
        c->oom = 1;
        return;
    }
    rc = ingest_is_dir(subdir) ? ingest_list_dir(&names, &n, subdir, &e) : CINCY_ENOTFOUND;
    free(subdir);
    if (rc == CINCY_ENOTFOUND) {
        add_error(c, sub, 0, NULL, "required directory missing");
        return;
    }
    if (!ingest_check_note(c, rc, &e, INGEST_CHECK_ERROR, NULL))
        return;
    for (size_t i = 0; i < n && !c->oom; i++) {
        if (!(rel = ingest_path_join(sub, names[i]))) {
            c->oom = 1;
            break;
        }
        if (ingest_has_yaml_extension(names[i]))
            check_one_file(c, dir, rel, fn);
        else if (meant_as_yaml(names[i]))
            ingest_check_add(c, INGEST_CHECK_WARNING, rel, 0, NULL,
                             "ignored: the server reads only .yaml files");
        free(rel);
    }
    ingest_strv_free(names, n);
}

/* ---------------------------------------------------------------------------
 * raw/metadata.json
 */

/* jansson keeps no positions for values, so a key's line is found by
 * searching for `"key"` followed by a colon, from *pos on. Best effort: a key
 * written with escapes is not found and gets line 0. */
static int key_line(const char *text, size_t *pos, const char *key)
{
    size_t klen = strlen(key);

    for (const char *p = strstr(text + *pos, key); p; p = strstr(p + 1, key)) {
        const char *q = p + klen;
        if (p == text || p[-1] != '"' || *q != '"')
            continue;
        for (q++; *q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'; q++)
            ;
        if (*q != ':')
            continue;
        *pos = (size_t)(q - text);
        int line = 1;
        for (const char *s = text; s < p; s++)
            line += *s == '\n';
        return line;
    }
    return 0;
}

static int is_label(const char *key, const char *suffix)
{
    static const char prefix[] = "io.openshift.upgrades.graph.";

    return strncmp(key, prefix, sizeof(prefix) - 1) == 0 &&
           strcmp(key + sizeof(prefix) - 1, suffix) == 0;
}

/* The text of s without surrounding blanks, into buf (cut at its size). */
static const char *trimmed(char *buf, size_t size, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    snprintf(buf, size, "%.*s", (int)(n < size - 1 ? n : size - 1), s);
    return buf;
}

/* Edge labels (spec §2.8): a bad version in a list, or a bad regex, aborts
 * the reference's whole graph build. previous.remove may be "*" (all). */
static void check_label(ingest_check_ctx *c, const char *field, int line, const char *key,
                        const char *value)
{
    char item[256], why[128];
    regex_t re;
    int rc;

    if (is_label(key, "previous.remove_regex")) {
        if ((rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB)) == 0) {
            regfree(&re);
            return;
        }
        regerror(rc, &re, why, sizeof(why));
        ingest_check_add(c, INGEST_CHECK_ERROR, "raw/metadata.json", line, field,
                         "field '%s': '%.*s' is not a valid regular expression: %s", field,
                         INGEST_QUOTE_MAX, value, why);
        return;
    }
    if (!is_label(key, "previous.add") && !is_label(key, "next.add") &&
        !is_label(key, "previous.remove") && !is_label(key, "next.remove"))
        return;
    if (is_label(key, "previous.remove") &&
        strcmp(trimmed(item, sizeof(item), value, strlen(value)), "*") == 0)
        return;
    for (const char *p = value;; p++) {
        size_t n = strcspn(p, ",");
        graph_version v;

        trimmed(item, sizeof(item), p, n);
        if (graph_version_parse(&v, item, NULL) == 0)
            graph_version_clear(&v);
        else
            ingest_check_add(c, INGEST_CHECK_ERROR, "raw/metadata.json", line, field,
                             "field '%s': '%.*s' is not a valid version", field, INGEST_QUOTE_MAX,
                             item);
        p += n;
        if (!*p)
            break;
    }
}

static void check_raw_entry(ingest_check_ctx *c, const char *text, size_t *pos, const char *version,
                            json_t *obj)
{
    int line = key_line(text, pos, version);
    size_t kpos = *pos;
    char field[2 * INGEST_QUOTE_MAX + 8];
    graph_version v;
    const char *k;
    json_t *value;

    if (graph_version_parse(&v, version, NULL) < 0)
        ingest_check_add(c, INGEST_CHECK_WARNING, "raw/metadata.json", line, version,
                         "field '%.*s': not a valid version, the server ignores this entry",
                         INGEST_QUOTE_MAX, version);
    else
        graph_version_clear(&v);
    if (!json_is_object(obj)) {
        ingest_check_add(c, INGEST_CHECK_ERROR, "raw/metadata.json", line, version,
                         "field '%.*s' must be an object", INGEST_QUOTE_MAX, version);
        return;
    }
    json_object_foreach(obj, k, value)
    {
        int kline = key_line(text, &kpos, k);

        snprintf(field, sizeof(field), "%.*s/%.*s", INGEST_QUOTE_MAX, version, INGEST_QUOTE_MAX, k);
        if (!json_is_string(value))
            ingest_check_add(c, INGEST_CHECK_ERROR, "raw/metadata.json", kline, field,
                             "field '%s' must be a string", field);
        else
            check_label(c, field, kline, k, json_string_value(value));
    }
}

static void check_raw(ingest_check_ctx *c, const char *dir)
{
    char *text = NULL;
    json_t *root = NULL, *obj;
    json_error_t jerr;
    const char *key;
    size_t len, pos = 0;

    if (read_required(c, dir, "raw/metadata.json", CHECK_RAW_MAX, &text, &len) < 0)
        return;
    if (!(root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
        ingest_check_add(c, INGEST_CHECK_ERROR, "raw/metadata.json", jerr.line, NULL,
                         "invalid json: %s", jerr.text);
    } else if (!json_is_object(root)) {
        add_error(c, "raw/metadata.json", 1, NULL, "top level must be an object");
    } else {
        json_object_foreach(root, key, obj)
        {
            check_raw_entry(c, text, &pos, key, obj);
        }
    }
    json_decref(root);
    free(text);
}

/* ---------------------------------------------------------------------------
 * Across files
 */

static void check_channel_names(ingest_check_ctx *c)
{
    for (size_t i = 0; i < c->nchannels; i++) {
        const ingest_check_channel *ch = &c->channels[i];
        for (size_t j = 0; ch->name && j < i; j++) {
            if (c->channels[j].name && strcmp(c->channels[j].name, ch->name) == 0) {
                ingest_check_add(c, INGEST_CHECK_ERROR, ch->file, ch->name_line, "name",
                                 "field 'name': channel '%.*s' is also defined in %s",
                                 INGEST_QUOTE_MAX, ch->name, c->channels[j].file);
                break;
            }
        }
    }
}

static int rules_equal(const graph_risk *a, const graph_risk *b)
{
    if (a->nrules != b->nrules)
        return 0;
    for (size_t i = 0; i < a->nrules; i++) {
        const graph_rule *x = &a->rules[i], *y = &b->rules[i];
        if (x->type != y->type ||
            strcmp(x->promql ? x->promql : "", y->promql ? y->promql : "") != 0)
            return 0;
    }
    return 1;
}

static int risk_complete(const ingest_check_block *b)
{
    return b->is_risk && b->risk.name && b->risk.url && b->risk.message && b->rules_ok;
}

/* Every file naming a risk must say the same about it as the first such file:
 * clusters show one risk per name, so two texts means one of them is lost. */
static void check_risk_names(ingest_check_ctx *c)
{
    for (size_t i = 0; i < c->nblocks; i++) {
        const ingest_check_block *b = &c->blocks[i], *first = NULL;
        const char *name = b->risk.name;

        if (!risk_complete(b))
            continue;
        for (size_t j = 0; j < i && !first; j++) {
            if (risk_complete(&c->blocks[j]) && strcmp(c->blocks[j].risk.name, name) == 0)
                first = &c->blocks[j];
        }
        if (!first)
            continue;
        if (strcmp(first->risk.url, b->risk.url) != 0)
            ingest_check_add(c, INGEST_CHECK_ERROR, b->file, b->url_line, "url",
                             "field 'url': risk '%.*s' has url '%.*s' in %s", INGEST_QUOTE_MAX,
                             name, INGEST_QUOTE_MAX, first->risk.url, first->file);
        if (strcmp(first->risk.message, b->risk.message) != 0)
            ingest_check_add(c, INGEST_CHECK_ERROR, b->file, b->message_line, "message",
                             "field 'message': risk '%.*s' has a different message in %s",
                             INGEST_QUOTE_MAX, name, first->file);
        if (!rules_equal(&first->risk, &b->risk))
            ingest_check_add(c, INGEST_CHECK_ERROR, b->file, b->rules_line, "matchingRules",
                             "field 'matchingRules': risk '%.*s' has different matchingRules in %s",
                             INGEST_QUOTE_MAX, name, first->file);
    }
}

/* Every valid channel entry, sorted by precedence then build, duplicates
 * kept (they are harmless for lookups). */
typedef struct version_index {
    const ingest_check_entry **items;
    size_t n;
} version_index;

static int entry_cmp(const void *a, const void *b)
{
    const ingest_check_entry *x = *(const ingest_check_entry *const *)a;
    const ingest_check_entry *y = *(const ingest_check_entry *const *)b;
    int d = graph_version_cmp(&x->v, &y->v);

    return d ? d : strcmp(x->v.build ? x->v.build : "", y->v.build ? y->v.build : "");
}

static int build_index(version_index *ix, const ingest_check_ctx *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nchannels; i++)
        n += c->channels[i].nentries;
    ix->n = 0;
    if (n && !(ix->items = malloc(n * sizeof(*ix->items))))
        return -1;
    for (size_t i = 0; i < c->nchannels; i++) {
        for (size_t j = 0; j < c->channels[i].nentries; j++)
            ix->items[ix->n++] = &c->channels[i].entries[j];
    }
    if (ix->n)
        qsort(ix->items, ix->n, sizeof(*ix->items), entry_cmp);
    return 0;
}

/* First index whose version is not below v (build ignored). */
static size_t lower_bound(const version_index *ix, const graph_version *v)
{
    size_t lo = 0, hi = ix->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (graph_version_cmp(&ix->items[mid]->v, v) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Channel membership as the server decides it (spec §2.3): equal ignoring
 * build, and the builds agree where both have one. */
static int in_some_channel(const version_index *ix, const graph_version *to)
{
    for (size_t i = lower_bound(ix, to); i < ix->n; i++) {
        const graph_version *e = &ix->items[i]->v;
        if (graph_version_cmp(e, to) != 0)
            break;
        if (!e->build || !to->build || strcmp(e->build, to->build) == 0)
            return 1;
    }
    return 0;
}

/* Whether re matches a node version of this entry: "x.y.z+arch" for each
 * arch, or the entry itself when it names a build. */
static int entry_matches(const regex_t *re, const ingest_check_entry *e)
{
    char buf[512];
    size_t n = strcspn(e->text, "+");

    if (e->v.build)
        return regexec(re, e->text, 0, NULL, 0) == 0;
    for (size_t a = 0; a < sizeof(arches) / sizeof(*arches); a++) {
        snprintf(buf, sizeof(buf), "%.*s+%s", (int)(n < 400 ? n : 400), e->text, arches[a]);
        if (regexec(re, buf, 0, NULL, 0) == 0)
            return 1;
    }
    return 0;
}

/* Sources are nearly always just below the target, so the search starts
 * there and walks down, then up: on the real data it stops within a few
 * entries instead of scanning all 1400. */
static int matches_some_channel(const version_index *ix, const regex_t *re, const graph_version *to)
{
    size_t start = to ? lower_bound(ix, to) : ix->n;

    for (size_t i = start; i-- > 0;) {
        if (entry_matches(re, ix->items[i]))
            return 1;
    }
    for (size_t i = start; i < ix->n; i++) {
        if (entry_matches(re, ix->items[i]))
            return 1;
    }
    return 0;
}

static void check_block_targets(ingest_check_ctx *c, const version_index *ix)
{
    for (size_t i = 0; i < c->nblocks; i++) {
        const ingest_check_block *b = &c->blocks[i];
        regex_t re;

        if (b->to && !in_some_channel(ix, &b->to_v))
            ingest_check_add(c, INGEST_CHECK_WARNING, b->file, b->to_line, "to",
                             "field 'to': '%s' is not listed in any channel", b->to);
        if (!b->from)
            continue;
        if (regcomp(&re, b->from, REG_EXTENDED | REG_NOSUB) != 0) { /* compiled before: memory */
            c->oom = 1;
            continue;
        }
        if (!matches_some_channel(ix, &re, b->to ? &b->to_v : NULL))
            ingest_check_add(c, INGEST_CHECK_WARNING, b->file, b->from_line, "from",
                             "field 'from': '%.*s' matches no version listed in any channel "
                             "(as 'x.y.z+arch')",
                             INGEST_QUOTE_MAX, b->from);
        regfree(&re);
    }
}

static void check_across_files(ingest_check_ctx *c)
{
    version_index ix = {0};

    check_channel_names(c);
    check_risk_names(c);
    if (build_index(&ix, c) < 0) {
        c->oom = 1;
        return;
    }
    check_block_targets(c, &ix);
    free(ix.items);
}

/* ---------------------------------------------------------------------------
 * Entry point
 */

static void ctx_clear(ingest_check_ctx *c)
{
    for (size_t i = 0; i < c->nchannels; i++)
        ingest_check_channel_clear(&c->channels[i]);
    free(c->channels);
    for (size_t i = 0; i < c->nblocks; i++)
        ingest_check_block_clear(&c->blocks[i]);
    free(c->blocks);
}

int ingest_check_dir(ingest_check_report **out, const char *dir, cincy_error *err)
{
    ingest_check_ctx c = {0};
    char **names = NULL;
    size_t n = 0;
    int error;

    /* Listing proves the directory exists and is readable; what is in it is
     * the check's business. */
    if (!ingest_is_dir(dir))
        return cincy_error_set(err, CINCY_ENOTFOUND, dir, 0, "graph-data directory does not exist");
    if ((error = ingest_list_dir(&names, &n, dir, err)) < 0)
        return error;
    ingest_strv_free(names, n);
    if (!(c.report = calloc(1, sizeof(*c.report))) || !(c.report->dir = strdup(dir))) {
        error = ingest_oom(err);
        goto cleanup;
    }
    check_version_file(&c, dir);
    check_yaml_dir(&c, dir, "channels", ingest_check_channel_file);
    check_yaml_dir(&c, dir, "blocked-edges", ingest_check_block_file);
    check_raw(&c, dir);
    if (!c.oom)
        check_across_files(&c);
    if (c.oom) {
        error = ingest_oom(err);
        goto cleanup;
    }
    ingest_check_report_sort(c.report);
    *out = c.report;
    c.report = NULL;

cleanup:
    ingest_check_report_free(c.report);
    ctx_clear(&c);
    return error;
}
