/* flame.c — conan flame: a profile as one self-contained HTML page holding an
 * interactive flame graph (cli/flame.html, embedded at build time), or as
 * folded stacks ("root;...;leaf value", what flamegraph.pl and speedscope read).
 *
 * The samples are aggregated here, not in the page: kept samples become a
 * call tree (one node per distinct root-first path) and entries (node, label
 * set, value) that merge identical stacks with identical string labels, so a
 * big profile arrives as a few thousand numbers. The page sums the entries its
 * label filter keeps and lays the tree out. Values are magnitudes (|value|, as
 * report.c's total counts them), so widths always add up.
 *
 * Everything the profile names reaches the page through report_json_string(),
 * which escapes < > & (no "</script>" can end the data block), quotes,
 * control characters and U+2028/9, and turns invalid UTF-8 into U+FFFD. */
#include "conan.h"
#include "flame_page.h"
#include "profile.h"
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: conan flame FILE [-o OUT.html] [--sample-index NAME] [--tag KEY=VALUE]... [--focus REGEX] [--folded]\n"
    "\n"
    "A pprof profile as an interactive flame graph: one self-contained HTML file\n"
    "(nothing loaded from elsewhere) to open in a browser. Hover a frame for its\n"
    "value and share, click to zoom, search by regular expression, filter by label.\n"
    "\n"
    "  -o OUT               where to write (\"-\" = stdout); default: FILE's base name\n"
    "                       without .pb.gz, plus .html, in the current directory\n"
    "                       (folded stacks: stdout)\n"
    "  --sample-index NAME  the value to show (e.g. inuse_space, alloc_space, samples);\n"
    "                       default: the profile's default, else its last type\n"
    "  --tag KEY=VALUE      only samples with this label (repeatable: all must match)\n"
    "  --focus REGEX        only samples with a frame matching REGEX (POSIX extended)\n"
    "  --folded             folded stacks instead of HTML: \"root;...;leaf value\" per\n"
    "                       distinct stack (';' in a name becomes ':')\n"
    "\n"
    "The written page's path is printed on stdout.\n";

/* ---- a map from exact 64-bit keys to ids (open addressing) ---- */

struct idmap {
    uint64_t *key;
    uint32_t *id;             /* id + 1; 0 = empty slot */
    size_t cap, n;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int idmap_grow(struct idmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *key = malloc(cap * sizeof *key);
    uint32_t *id = calloc(cap, sizeof *id);
    if (!key || !id) {
        free(key);
        free(id);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->id[i]) continue;
        size_t s = mix64(m->key[i]) & (cap - 1);
        while (id[s]) s = (s + 1) & (cap - 1);
        key[s] = m->key[i];
        id[s] = m->id[i];
    }
    free(m->key);
    free(m->id);
    m->key = key;
    m->id = id;
    m->cap = cap;
    return 0;
}

/* The id of key, or next_id (then recorded) when it is new; -1 out of memory. */
static long idmap_get(struct idmap *m, uint64_t key, uint32_t next_id)
{
    if ((m->n + 1) * 2 > m->cap && idmap_grow(m) != 0) return -1;
    size_t s = mix64(key) & (m->cap - 1);
    while (m->id[s]) {
        if (m->key[s] == key) return m->id[s] - 1;
        s = (s + 1) & (m->cap - 1);
    }
    m->key[s] = key;
    m->id[s] = next_id + 1;
    m->n++;
    return next_id;
}

static void idmap_free(struct idmap *m)
{
    free(m->key);
    free(m->id);
}

/* ---- interned byte strings (label strings, label sets) ---- */

struct blobs {
    char *pool;
    size_t used, pool_cap;
    size_t *off;
    uint32_t *len;
    uint32_t n, cap;
    uint32_t *slot;           /* id + 1; 0 = empty */
    size_t nslot;
};

static uint64_t hash_bytes(const void *data, size_t len)
{
    const unsigned char *c = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

static int blobs_rehash(struct blobs *b)
{
    size_t nslot = b->nslot ? b->nslot * 2 : 256;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot) return -1;
    for (uint32_t id = 0; id < b->n; id++) {
        size_t s = hash_bytes(b->pool + b->off[id], b->len[id]) & (nslot - 1);
        while (slot[s]) s = (s + 1) & (nslot - 1);
        slot[s] = id + 1;
    }
    free(b->slot);
    b->slot = slot;
    b->nslot = nslot;
    return 0;
}

static int blobs_store(struct blobs *b, const void *data, uint32_t len)
{
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 64;
        size_t *off = realloc(b->off, cap * sizeof *off);
        if (!off) return -1;
        b->off = off;
        uint32_t *lens = realloc(b->len, cap * sizeof *lens);
        if (!lens) return -1;
        b->len = lens;
        b->cap = cap;
    }
    if (b->used + len + 1 > b->pool_cap) {
        size_t cap = b->pool_cap ? b->pool_cap : 4096;
        while (b->used + len + 1 > cap) cap *= 2;
        char *pool = realloc(b->pool, cap);
        if (!pool) return -1;
        b->pool = pool;
        b->pool_cap = cap;
    }
    memcpy(b->pool + b->used, data, len);
    b->pool[b->used + len] = '\0';
    b->off[b->n] = b->used;
    b->len[b->n] = len;
    b->used += len + 1;
    b->n++;
    return 0;
}

/* The id of the bytes (stored when new); -1 out of memory. */
static long blobs_intern(struct blobs *b, const void *data, uint32_t len)
{
    if ((b->n + 1) * 2 > b->nslot && blobs_rehash(b) != 0) return -1;
    size_t s = hash_bytes(data, len) & (b->nslot - 1);
    for (; b->slot[s]; s = (s + 1) & (b->nslot - 1)) {
        uint32_t id = b->slot[s] - 1;
        if (b->len[id] == len && memcmp(b->pool + b->off[id], data, len) == 0) return id;
    }
    if (blobs_store(b, data, len) != 0) return -1;
    b->slot[s] = b->n;
    return b->n - 1;
}

static const void *blobs_data(const struct blobs *b, uint32_t id) { return b->pool + b->off[id]; }

static void blobs_free(struct blobs *b)
{
    free(b->pool);
    free(b->off);
    free(b->len);
    free(b->slot);
}

/* ---- the call tree and its entries ---- */

#define NO_LABELS 0xffffffffu /* --folded: label sets are not kept */

struct flame {
    uint32_t *parent, *name;  /* node 0 is the root (name unused) */
    uint32_t nnode, node_cap;
    struct idmap children;    /* parent << 32 | name -> node */
    uint32_t *entry_node, *entry_set;
    int64_t *entry_value;
    uint32_t nentry, entry_cap;
    struct idmap entries;     /* node << 32 | label set -> entry */
    struct blobs strings;     /* label keys and values */
    struct blobs sets;        /* label sets: sorted (key, value) string id pairs */
    int64_t total;
};

static int grow_u32(uint32_t **a, uint32_t cap)
{
    uint32_t *g = realloc(*a, cap * sizeof **a);
    if (!g) return -1;
    *a = g;
    return 0;
}

static long tree_child(struct flame *f, uint32_t parent, uint32_t name)
{
    long node = idmap_get(&f->children, (uint64_t)parent << 32 | name, f->nnode);
    if (node < 0 || (uint32_t)node < f->nnode) return node;
    if (f->nnode == f->node_cap) {
        uint32_t cap = f->node_cap * 2;
        if (grow_u32(&f->parent, cap) != 0 || grow_u32(&f->name, cap) != 0) return -1;
        f->node_cap = cap;
    }
    f->parent[f->nnode] = parent;
    f->name[f->nnode] = name;
    return f->nnode++;
}

static int tree_add(struct flame *f, uint32_t node, uint32_t set, int64_t value)
{
    long e = idmap_get(&f->entries, (uint64_t)node << 32 | set, f->nentry);
    if (e < 0) return -1;
    if ((uint32_t)e == f->nentry) {
        if (f->nentry == f->entry_cap) {
            uint32_t cap = f->entry_cap ? f->entry_cap * 2 : 1024;
            int64_t *v = realloc(f->entry_value, cap * sizeof *v);
            if (!v) return -1;
            f->entry_value = v;
            if (grow_u32(&f->entry_node, cap) != 0 || grow_u32(&f->entry_set, cap) != 0) return -1;
            f->entry_cap = cap;
        }
        f->entry_node[e] = node;
        f->entry_set[e] = set;
        f->entry_value[e] = 0;
        f->nentry++;
    }
    f->entry_value[e] = report_add(f->entry_value[e], value);
    return 0;
}

static int cmp_pairs(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* The label set of a sample: its string labels (numeric ones, such as tid,
 * would split every stack without being something to choose from). */
static long label_set(struct flame *f, const struct profile_sample *s)
{
    uint32_t pair[2 * 64];
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nlabel && n < 64; i++) {
        const struct profile_label *l = &s->label[i];
        if (!l->str) continue;
        long k = blobs_intern(&f->strings, l->key, (uint32_t)strlen(l->key));
        long v = blobs_intern(&f->strings, l->str, (uint32_t)strlen(l->str));
        if (k < 0 || v < 0) return -1;
        pair[2 * n] = (uint32_t)k;
        pair[2 * n + 1] = (uint32_t)v;
        n++;
    }
    qsort(pair, n, 2 * sizeof pair[0], cmp_pairs);
    return blobs_intern(&f->sets, pair, n * 2 * (uint32_t)sizeof pair[0]);
}

/* Stacks seen before, by a hash of their frames: most samples of a big
 * profile repeat a stack, and one lookup then replaces one per frame. */
struct stack_cache {
    struct idmap by_hash;     /* hash -> stack */
    size_t *sample;           /* a sample with that stack */
    uint32_t *node;           /* its leaf node */
    uint32_t n, cap;
};

static uint64_t stack_hash(const struct profile_sample *s)
{
    return hash_bytes(s->frame, s->nframe * sizeof *s->frame) ^ s->nframe;
}

static long stack_walk(struct flame *f, const struct profile_sample *s)
{
    long node = 0;
    for (uint32_t k = s->nframe; k-- > 0 && node >= 0;) node = tree_child(f, (uint32_t)node, s->frame[k]);
    return node;
}

/* The leaf node of sample i's stack, walking the tree only for a new stack. */
static long stack_leaf(struct flame *f, struct stack_cache *c, const struct profile *p, size_t i)
{
    const struct profile_sample *s = &p->sample[i];
    long id = idmap_get(&c->by_hash, stack_hash(s), c->n);
    if (id < 0) return -1;
    if ((uint32_t)id < c->n) {
        const struct profile_sample *seen = &p->sample[c->sample[id]];
        bool same = seen->nframe == s->nframe && memcmp(seen->frame, s->frame, s->nframe * sizeof *s->frame) == 0;
        return same ? c->node[id] : stack_walk(f, s); /* a hash collision: not cached */
    }
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 1024;
        size_t *sample = realloc(c->sample, cap * sizeof *sample);
        if (!sample) return -1;
        c->sample = sample;
        if (grow_u32(&c->node, cap) != 0) return -1;
        c->cap = cap;
    }
    long node = stack_walk(f, s);
    if (node < 0) return -1;
    c->sample[c->n] = i;
    c->node[c->n++] = (uint32_t)node;
    return node;
}

static int flame_build(const struct profile *p, int type, const struct profile_filter *filter, bool labels,
                       struct flame *f)
{
    memset(f, 0, sizeof *f);
    f->node_cap = 1024;
    f->parent = malloc(f->node_cap * sizeof *f->parent);
    f->name = malloc(f->node_cap * sizeof *f->name);
    if (!f->parent || !f->name) return -1;
    f->parent[0] = f->name[0] = 0;
    f->nnode = 1;
    struct stack_cache cache = { 0 };
    int rc = 0;
    for (size_t i = 0; i < p->nsample && rc == 0; i++) {
        const struct profile_sample *s = &p->sample[i];
        if (!profile_filter_keeps(p, filter, s)) continue;
        int64_t v = report_abs(s->value[type]);
        if (v == 0) continue;
        f->total = report_add(f->total, v);
        long node = stack_leaf(f, &cache, p, i);
        long set = labels ? label_set(f, s) : NO_LABELS;
        if (node < 0 || set < 0 || tree_add(f, (uint32_t)node, (uint32_t)set, v) != 0) rc = -1;
    }
    idmap_free(&cache.by_hash);
    free(cache.sample);
    free(cache.node);
    return rc;
}

static void flame_free(struct flame *f)
{
    free(f->parent);
    free(f->name);
    idmap_free(&f->children);
    free(f->entry_node);
    free(f->entry_set);
    free(f->entry_value);
    idmap_free(&f->entries);
    blobs_free(&f->strings);
    blobs_free(&f->sets);
}

/* ---- pruning, for the page ---- */

/* A frame under this share of the total could only be seen zoomed in past
 * 2400x at 1200 px: the page gets it merged into its caller (whose own value
 * it becomes, a gap under the caller, as any frame too narrow to draw). This
 * bounds a huge profile's page (a million distinct deep stacks) without
 * changing a width that can be seen. */
#define PRUNE_SHARE 100000 /* 1/100000 = 0.001% */

/* Merges the nodes under PRUNE_SHARE (and their subtrees) into their nearest
 * kept ancestor, entries following; counts what was merged. */
static int flame_prune(struct flame *f, uint32_t *pruned_nodes)
{
    int64_t *value = calloc(f->nnode, sizeof *value);
    uint32_t *target = malloc(f->nnode * sizeof *target); /* new id of the nearest kept node, self or above */
    bool *kept = calloc(f->nnode, sizeof *kept);
    struct idmap merged = { 0 };
    int rc = -1;
    if (!value || !target || !kept) goto out;
    for (uint32_t e = 0; e < f->nentry; e++) value[f->entry_node[e]] += f->entry_value[e];
    for (uint32_t i = f->nnode; i-- > 1;) value[f->parent[i]] = report_add(value[f->parent[i]], value[i]); /* parents precede children */
    uint32_t n = 1;
    target[0] = 0;
    kept[0] = true;
    for (uint32_t i = 1; i < f->nnode; i++) { /* renumbered in order: parents still precede children */
        uint32_t up = f->parent[i];
        kept[i] = kept[up] && (double)value[i] * PRUNE_SHARE >= (double)f->total;
        target[i] = kept[i] ? n : target[up];
        if (kept[i]) {
            f->parent[n] = target[up];
            f->name[n++] = f->name[i];
        }
    }
    *pruned_nodes = f->nnode - n;
    f->nnode = n;
    n = 0;
    for (uint32_t e = 0; e < f->nentry; e++) {
        uint32_t node = target[f->entry_node[e]], set = f->entry_set[e];
        int64_t v = f->entry_value[e];
        long to = idmap_get(&merged, (uint64_t)node << 32 | set, n);
        if (to < 0) goto out;
        if ((uint32_t)to == n) {
            f->entry_node[n] = node;
            f->entry_set[n] = set;
            f->entry_value[n++] = 0;
        }
        f->entry_value[to] = report_add(f->entry_value[to], v);
    }
    f->nentry = n;
    rc = 0;
out:
    free(value);
    free(target);
    free(kept);
    idmap_free(&merged);
    return rc;
}

/* ---- folded stacks ---- */

static void put_folded_name(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c == ';' ? ':' : c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

/* One line per distinct stack, root first; samples without frames have none
 * (their value is the root's own). Entries are per node here (no label sets). */
static int write_folded(FILE *out, const struct profile *p, const struct flame *f)
{
    uint32_t *path = NULL, cap = 0;
    for (uint32_t e = 0; e < f->nentry; e++) {
        uint32_t depth = 0;
        for (uint32_t node = f->entry_node[e]; node != 0; node = f->parent[node]) {
            if (depth == cap && grow_u32(&path, cap = cap ? cap * 2 : 256) != 0) {
                free(path);
                return -1;
            }
            path[depth++] = node;
        }
        if (depth == 0) continue;
        while (depth-- > 0) {
            put_folded_name(out, p->name[f->name[path[depth]]]);
            fputc(depth ? ';' : ' ', out);
        }
        fprintf(out, "%lld\n", (long long)f->entry_value[e]);
    }
    free(path);
    return 0;
}

/* ---- the page ---- */

/* Frame names the tree uses, renumbered from 0 in order of first use. */
static uint32_t *used_names(const struct profile *p, const struct flame *f, uint32_t **order, uint32_t *nused)
{
    uint32_t *map = malloc((p->nname ? p->nname : 1) * sizeof *map);
    *order = malloc(f->nnode * sizeof **order);
    if (!map || !*order) {
        free(map);
        free(*order);
        return NULL;
    }
    memset(map, 0xff, (p->nname ? p->nname : 1) * sizeof *map);
    *nused = 0;
    for (uint32_t i = 1; i < f->nnode; i++)
        if (map[f->name[i]] == UINT32_MAX) {
            map[f->name[i]] = *nused;
            (*order)[(*nused)++] = f->name[i];
        }
    return map;
}

static void write_sets(FILE *out, const struct flame *f)
{
    fputs(",\"labelStrings\":[", out);
    for (uint32_t i = 0; i < f->strings.n; i++) {
        if (i) fputc(',', out);
        report_json_string(out, blobs_data(&f->strings, i));
    }
    fputs("],\"labelSets\":[", out);
    for (uint32_t i = 0; i < f->sets.n; i++) {
        const char *pairs = blobs_data(&f->sets, i); /* not aligned: read with memcpy */
        fputs(i ? ",[" : "[", out);
        for (uint32_t k = 0; k < f->sets.len[i] / sizeof(uint32_t); k++) {
            uint32_t id;
            memcpy(&id, pairs + k * sizeof id, sizeof id);
            fprintf(out, "%s%u", k ? "," : "", id);
        }
        fputc(']', out);
    }
    fputc(']', out);
}

static int write_data(FILE *out, const struct profile *p, int type, const char *file, const struct flame *f,
                      uint32_t pruned)
{
    uint32_t *order, nused;
    uint32_t *map = used_names(p, f, &order, &nused);
    if (!map) return -1;
    double factor;
    const char *base = report_unit_base(p->unit[type], &factor);
    fputs("{\"file\":", out);
    report_json_string(out, file);
    fputs(",\"type\":", out);
    report_json_string(out, p->type[type]);
    fputs(",\"unit\":", out);
    report_json_string(out, p->unit[type]);
    fprintf(out, ",\"base\":\"%s\",\"factor\":%.17g,\"total\":%lld,\"pruned\":%u,\"pruneShare\":%g,\"names\":[",
            base ? base : "", factor, (long long)f->total, pruned, 1.0 / PRUNE_SHARE);
    for (uint32_t i = 0; i < nused; i++) {
        if (i) fputc(',', out);
        report_json_string(out, p->name[order[i]]);
    }
    fputs("],\"nodes\":[-1,-1", out); /* parent, name per node; the root has neither */
    for (uint32_t i = 1; i < f->nnode; i++) fprintf(out, ",%u,%u", f->parent[i], map[f->name[i]]);
    fputs("],\"entries\":[", out); /* node, label set, value */
    for (uint32_t e = 0; e < f->nentry; e++)
        fprintf(out, "%s%u,%u,%lld", e ? "," : "", f->entry_node[e], f->entry_set[e], (long long)f->entry_value[e]);
    fputc(']', out);
    write_sets(out, f);
    fputs("}", out);
    free(map);
    free(order);
    return 0;
}

static int write_page(FILE *out, const struct profile *p, int type, const char *file, struct flame *f)
{
    uint32_t pruned;
    if (flame_prune(f, &pruned) != 0) return -1;
    fwrite(flame_page_head, 1, sizeof flame_page_head - 1, out);
    if (write_data(out, p, type, file, f, pruned) != 0) return -1;
    fwrite(flame_page_tail, 1, sizeof flame_page_tail - 1, out);
    return 0;
}

/* ---- the command ---- */

/* FILE's base name without .gz and .pb, plus .html; "profile.html" for stdin. */
static char *default_output(const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (strcmp(path, "-") == 0 || !*base) base = "profile";
    size_t n = strlen(base);
    if (n > 3 && strcmp(base + n - 3, ".gz") == 0) n -= 3;
    if (n > 3 && strncmp(base + n - 3, ".pb", 3) == 0) n -= 3;
    char *out = malloc(n + sizeof ".html");
    if (out) snprintf(out, n + sizeof ".html", "%.*s.html", (int)n, base);
    return out;
}

struct flame_options {
    struct profile_filter filter;
    const char *sample_index, *output;
    bool folded;
};

/* Writes the page or the folded stacks to opt->output (stdout for "-" or,
 * folded, when none); prints a page's path. */
static int emit(const struct profile *p, int type, const char *path, struct flame *f,
                const struct flame_options *opt)
{
    char *owned = NULL;
    const char *target = opt->output;
    if (!target) target = opt->folded ? "-" : (owned = default_output(path));
    if (!target) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    bool to_stdout = strcmp(target, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(target, "w");
    int status = EXIT_FAIL;
    if (!out) {
        cli_error("%s: %s", target, strerror(errno));
    } else {
        int rc = opt->folded ? write_folded(out, p, f) : write_page(out, p, type, path, f);
        bool failed = rc != 0 || ferror(out);
        if (to_stdout ? fflush(out) != 0 : fclose(out) != 0) failed = true;
        if (failed) {
            cli_error("%s: %s", to_stdout ? "stdout" : target, rc ? "out of memory" : "write failed");
            if (!to_stdout) unlink(target);
        } else {
            if (!to_stdout && !opt->folded) printf("%s\n", target);
            status = EXIT_OK;
        }
    }
    free(owned);
    return status;
}

static int run(const char *path, const struct flame_options *opt)
{
    struct profile p;
    char err[512];
    if (profile_read(path, &p, err, sizeof err) != 0) {
        cli_error("%s", err);
        return EXIT_FAIL;
    }
    int status = EXIT_FAIL;
    int type = profile_type_index(&p, opt->sample_index, err, sizeof err);
    struct flame f;
    if (type < 0) {
        cli_error("%s: %s", path, err);
    } else if (flame_build(&p, type, &opt->filter, !opt->folded, &f) != 0) {
        cli_error("%s: out of memory", path);
        flame_free(&f);
    } else {
        status = emit(&p, type, path, &f, opt);
        flame_free(&f);
    }
    profile_free(&p);
    return status;
}

int cmd_flame(int argc, char **argv)
{
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' }, { "sample-index", required_argument, NULL, 's' },
        { "tag", required_argument, NULL, 't' },    { "focus", required_argument, NULL, 'f' },
        { "folded", no_argument, NULL, 'F' },       { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct flame_options opt = { 0 };
    int c, status = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
        switch (c) {
        case 'o': opt.output = optarg; break;
        case 's': opt.sample_index = optarg; break;
        case 'F': opt.folded = true; break;
        case 't':
        case 'f':
            if (cli_filter_option("flame", c, optarg, &opt.filter) != 0) goto out;
            break;
        case 'h': status = cli_help(help); goto out;
        default: cli_usage_error("flame", "unknown option"); goto out;
        }
    }
    if (optind != argc - 1) {
        cli_usage_error("flame", "expected one profile file");
        goto out;
    }
    status = run(argv[optind], &opt);
out:
    profile_filter_free(&opt.filter);
    return status;
}
