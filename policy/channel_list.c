/* policy/channel_list.c - the channels and arches a graph serves (P/v1/channels).
 *
 * One pass over the nodes of the full graph: each node lists its channels and
 * its arch, so a channel offers an arch when at least one node has both. The
 * web page builds its pickers from this; a server renders it once per graph.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy_internal.h"

#define ARCH_MAX 64 /* one bit each; the real data has five */

typedef struct chan_entry {
    uint64_t arches; /* bit i: the arch arch_index maps to i */
} chan_entry;

typedef struct chan_set {
    policy_strmap index; /* name -> entries index */
    chan_entry *entries;
    size_t n, cap;
    policy_strmap arch_index;   /* arch -> bit */
    char *arch_names[ARCH_MAX]; /* bit -> name (the map's key), filled by render */
    size_t narches;
} chan_set;

static void chan_set_free(chan_set *c)
{
    policy_strmap_free(&c->index);
    policy_strmap_free(&c->arch_index);
    free(c->entries);
}

/* The bit of arch, added when new; -1 past ARCH_MAX, -2 out of memory. */
static int arch_bit(chan_set *c, const char *arch)
{
    size_t bit;

    if (policy_strmap_get(&c->arch_index, arch, &bit))
        return (int)bit;
    if (c->narches == ARCH_MAX)
        return -1;
    if (policy_strmap_put(&c->arch_index, arch, c->narches) < 0)
        return -2;
    return (int)c->narches++;
}

static int add_channel(chan_set *c, const char *name, int bit)
{
    size_t i;

    if (!policy_strmap_get(&c->index, name, &i)) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            chan_entry *p = realloc(c->entries, cap * sizeof(*p));
            if (!p)
                return CINCY_ERROR;
            c->entries = p;
            c->cap = cap;
        }
        if (policy_strmap_put(&c->index, name, c->n) < 0)
            return CINCY_ERROR;
        i = c->n++;
        c->entries[i] = (chan_entry){0};
    }
    if (bit >= 0)
        c->entries[i].arches |= (uint64_t)1 << bit;
    return CINCY_OK;
}

/* Calls add_channel for each trimmed entry of a comma list. */
static int add_list(chan_set *c, const char *list, int bit, char *const *only, size_t nonly)
{
    char *copy = strdup(list), *p, *comma;
    int error = CINCY_OK;

    if (!copy)
        return CINCY_ERROR;
    for (p = copy; p && error == CINCY_OK; p = comma ? comma + 1 : NULL) {
        char *end;
        int wanted = !only;
        if ((comma = strchr(p, ',')) != NULL)
            *comma = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        for (size_t k = 0; only && k < nonly && !wanted; k++)
            wanted = !strcmp(only[k], p);
        if (*p && wanted)
            error = add_channel(c, p, bit);
    }
    free(copy);
    return error;
}

/* Compares dotted numbers ("4.9" < "4.10"); a part that is not a number
 * compares as text. */
static int cmp_dotted(const char *a, const char *b)
{
    while (*a && *b) {
        char *ea, *eb;
        unsigned long na = strtoul(a, &ea, 10), nb = strtoul(b, &eb, 10);
        if (ea == a || eb == b)
            return strcmp(a, b);
        if (na != nb)
            return na < nb ? -1 : 1;
        a = *ea == '.' ? ea + 1 : ea;
        b = *eb == '.' ? eb + 1 : eb;
        if ((*ea && *ea != '.') || (*eb && *eb != '.'))
            return strcmp(a, b);
    }
    return *a ? 1 : *b ? -1 : 0;
}

/* "stable-4.10" -> prefix "stable" (length), version "4.10". */
static size_t prefix_len(const char *name)
{
    const char *dash = strrchr(name, '-');
    return dash ? (size_t)(dash - name) : strlen(name);
}

static int cmp_channel_name(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    size_t la = prefix_len(a), lb = prefix_len(b);
    int c = strncmp(a, b, la < lb ? la : lb);

    if (c == 0 && la != lb)
        c = la < lb ? -1 : 1;
    if (c == 0)
        c = cmp_dotted(a[la] ? a + la + 1 : "", b[lb] ? b + lb + 1 : "");
    return c ? c : strcmp(a, b);
}

static int cmp_str(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* 1 when name is "stable-4.<digits>", with *minor set. */
static int stable_minor(const char *name, unsigned long *minor)
{
    char *end;

    if (strncmp(name, "stable-4.", 9) != 0 || name[9] < '0' || name[9] > '9')
        return 0;
    *minor = strtoul(name + 9, &end, 10);
    return *end == '\0';
}

/* The arches of mask as a sorted JSON array (names sorted once, in order). */
static json_t *arch_array(char **sorted, const int *bit_of_sorted, size_t n, uint64_t mask)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        if ((mask >> bit_of_sorted[i]) & 1 &&
            json_array_append_new(a, json_string(sorted[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static char *render(chan_set *c)
{
    char **names = malloc((c->n ? c->n : 1) * sizeof(*names)), *sorted_arches[ARCH_MAX],
         *text = NULL;
    int bits[ARCH_MAX];
    json_t *root = NULL, *list = json_array(), *deflt = json_null();
    unsigned long best = 0, minor;
    uint64_t all = 0;

    if (!names || !list)
        goto cleanup;
    for (size_t i = 0; i < c->arch_index.cap; i++) /* the map owns the names */
        if (c->arch_index.keys[i])
            c->arch_names[c->arch_index.vals[i]] = c->arch_index.keys[i];
    memcpy(sorted_arches, c->arch_names, c->narches * sizeof(*sorted_arches));
    qsort(sorted_arches, c->narches, sizeof(*sorted_arches), cmp_str);
    for (size_t i = 0; i < c->narches; i++) {
        size_t bit;
        policy_strmap_get(&c->arch_index, sorted_arches[i], &bit);
        bits[i] = (int)bit;
    }
    for (size_t i = 0; i < c->index.cap; i++)
        if (c->index.keys[i])
            names[c->index.vals[i]] = c->index.keys[i];
    qsort(names, c->n, sizeof(*names), cmp_channel_name);
    for (size_t i = 0; i < c->n; i++) {
        size_t e;
        policy_strmap_get(&c->index, names[i], &e);
        all |= c->entries[e].arches;
        if (json_array_append_new(list, json_pack("{s:s, s:o}", "name", names[i], "arches",
                                                  arch_array(sorted_arches, bits, c->narches,
                                                             c->entries[e].arches))) < 0)
            goto cleanup;
        if (stable_minor(names[i], &minor) && (json_is_null(deflt) || minor > best)) {
            json_decref(deflt);
            deflt = json_string(names[i]);
            best = minor;
        }
    }
    if (json_is_null(deflt) && c->n) {
        json_decref(deflt);
        deflt = json_string(names[0]);
    }
    root = json_pack("{s:o, s:o, s:o}", "channels", list, "arches",
                     arch_array(sorted_arches, bits, c->narches, all), "default_channel", deflt);
    list = deflt = NULL; /* stolen by json_pack, success or not */
    if (root)
        text = json_dumps(root, JSON_COMPACT);
cleanup:
    json_decref(root);
    json_decref(list);
    json_decref(deflt);
    free(names);
    return text;
}

char *policy_channels_json(const graph_snapshot *full, char *const *only, size_t nonly)
{
    chan_set c;
    char *text = NULL;
    int error = CINCY_OK;

    /* jansson can fail an allocation and still return text (json_dumps
     * skips a quote) or a NULL we would read as a value: any failed jansson
     * allocation fails the answer (graph/json_oom.c, tests/oom). */
    graph_json_oom_reset();
    memset(&c, 0, sizeof(c));
    for (size_t n = 0; full && n < graph_snapshot_node_count(full) && error == CINCY_OK; n++) {
        const char *channels = graph_snapshot_meta_get(full, n, POLICY_KEY_CHANNELS);
        const char *arch = graph_snapshot_meta_get(full, n, POLICY_KEY_ARCH);
        int bit = -1;
        if (!channels)
            continue;
        if (arch && (bit = arch_bit(&c, arch)) == -2)
            error = CINCY_ERROR;
        else
            error = add_list(&c, channels, bit, only, nonly);
    }
    if (error == CINCY_OK)
        text = render(&c);
    chan_set_free(&c);
    if (text && graph_json_oom_seen()) {
        free(text);
        text = NULL;
    }
    return text;
}
