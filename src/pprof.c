/* pprof.c — builds a profile.proto message and writes it gzipped.
 *
 * Profilers add raw stacks (addresses, leaf first) with values and labels; equal
 * stack+labels merge into one sample. Encoding then turns each distinct address
 * into one Location tied to its Mapping, names it once through the symbols
 * snapshot, and interns every string in the string table (entry 0 is ""). A
 * mapping gets has_functions only when every one of its locations was named, so
 * pprof still symbolizes the rest from the binaries. Runs on the monitor thread:
 * allocation is fine here, and every failure returns -1 without a partial file. */
#include "pprof.h"
#include "symbols.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <stdio.h>

#include "profile.pb-c.h"

#define MAX_VALUES 4
#define PSEUDO_MAX 16     /* named frames that are not code ("unavailable"...) */

/* ---- a small open-addressing index: hash → position in a caller's array ---- */

struct index_table {
    uint32_t *slot;     /* position + 1; 0 = empty */
    uint64_t *hash;
    size_t cap, used;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int index_grow(struct index_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    uint32_t *slot = calloc(cap, sizeof *slot);
    uint64_t *hash = calloc(cap, sizeof *hash);
    if (!slot || !hash) {
        free(slot);
        free(hash);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i]) continue;
        size_t j = t->hash[i] & (cap - 1);
        while (slot[j]) j = (j + 1) & (cap - 1);
        slot[j] = t->slot[i];
        hash[j] = t->hash[i];
    }
    free(t->slot);
    free(t->hash);
    t->slot = slot;
    t->hash = hash;
    t->cap = cap;
    return 0;
}

/* Finds the entry with hash h for which equal(ctx, position) holds. Returns its
 * position, or -1 with *insert_at set to where a new one goes. */
static long index_find(struct index_table *t, uint64_t h, bool (*equal)(const void *, uint32_t),
                       const void *ctx, size_t *insert_at)
{
    if (t->used * 2 >= t->cap && index_grow(t) != 0) return -2;
    size_t j = h & (t->cap - 1);
    while (t->slot[j]) {
        if (t->hash[j] == h && equal(ctx, t->slot[j] - 1)) return t->slot[j] - 1;
        j = (j + 1) & (t->cap - 1);
    }
    *insert_at = j;
    return -1;
}

static void index_insert(struct index_table *t, size_t at, uint64_t h, uint32_t position)
{
    t->slot[at] = position + 1;
    t->hash[at] = h;
    t->used++;
}

static void index_free(struct index_table *t)
{
    free(t->slot);
    free(t->hash);
}

/* ---- the profile under construction ---- */

struct raw_label { int64_t key, str, num, num_unit; };

struct raw_sample {
    uintptr_t *pcs;
    int depth;
    int nlabels;
    struct raw_label label[CONAN_PPROF_MAX_LABELS];
    int64_t value[MAX_VALUES];
};

struct conan_pprof {
    int ntypes;
    int64_t type[MAX_VALUES][2];
    int64_t period_type[2], period;
    int64_t time_nanos, duration_nanos, default_type;
    char **string;
    size_t nstring, string_cap;
    struct index_table string_index;
    struct raw_sample *sample;
    size_t nsample, sample_cap;
    struct index_table sample_index;
    int64_t *comment;
    size_t ncomment, comment_cap;
    int64_t pseudo[PSEUDO_MAX];  /* names of pseudo frames, by address - 1 */
    int npseudo;
    bool failed;        /* an allocation failed while adding: encode refuses */
};

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) cap2 *= 2;
    void *grown = realloc(*array, cap2 * elem);
    if (!grown) return -1;
    *array = grown;
    *cap = cap2;
    return 0;
}

struct string_probe { const struct conan_pprof *p; const char *s; };

static bool string_equal(const void *ctx, uint32_t position)
{
    const struct string_probe *probe = ctx;
    return strcmp(probe->p->string[position], probe->s) == 0;
}

/* Index of s in the string table, adding it if new; -1 on allocation failure. */
static int64_t intern(struct conan_pprof *p, const char *s)
{
    if (!s) s = "";
    struct string_probe probe = { p, s };
    uint64_t h = hash_string(s);
    size_t at;
    long found = index_find(&p->string_index, h, string_equal, &probe, &at);
    if (found >= 0) return found;
    char *copy = strdup(s);
    if (found == -2 || !copy ||
        grow((void **)&p->string, &p->string_cap, p->nstring + 1, sizeof *p->string) != 0) {
        free(copy);
        p->failed = true;
        return 0;
    }
    p->string[p->nstring] = copy;
    index_insert(&p->string_index, at, h, (uint32_t)p->nstring);
    return (int64_t)p->nstring++;
}

struct conan_pprof *conan_pprof_new(const struct conan_value_type *types, int ntypes,
                                    struct conan_value_type period_type, int64_t period)
{
    if (ntypes < 1 || ntypes > MAX_VALUES) return NULL;
    struct conan_pprof *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    intern(p, "");
    p->ntypes = ntypes;
    for (int i = 0; i < ntypes; i++) {
        p->type[i][0] = intern(p, types[i].type);
        p->type[i][1] = intern(p, types[i].unit);
    }
    p->period_type[0] = intern(p, period_type.type);
    p->period_type[1] = intern(p, period_type.unit);
    p->period = period;
    if (p->failed) {
        conan_pprof_free(p);
        return NULL;
    }
    return p;
}

struct sample_probe { const struct conan_pprof *p; const struct raw_sample *s; };

static bool sample_equal(const void *ctx, uint32_t position)
{
    const struct sample_probe *probe = ctx;
    const struct raw_sample *a = probe->s, *b = &probe->p->sample[position];
    return a->depth == b->depth && a->nlabels == b->nlabels &&
           memcmp(a->pcs, b->pcs, (size_t)a->depth * sizeof *a->pcs) == 0 &&
           memcmp(a->label, b->label, (size_t)a->nlabels * sizeof *a->label) == 0;
}

int conan_pprof_add(struct conan_pprof *p, const uintptr_t *pcs, int depth,
                    const int64_t *values, const struct conan_label *labels, int nlabels)
{
    if (depth < 0 || nlabels < 0 || nlabels > CONAN_PPROF_MAX_LABELS || (depth > 0 && !pcs) || !values || (nlabels > 0 && !labels))
        return -1;
    struct raw_sample s;
    memset(&s, 0, sizeof s);
    s.pcs = (uintptr_t *)pcs;
    s.depth = depth;
    s.nlabels = nlabels;
    uint64_t h = mix(0, (uint64_t)depth);
    for (int i = 0; i < depth; i++) h = mix(h, pcs[i]);
    for (int i = 0; i < nlabels; i++) {
        struct raw_label *l = &s.label[i];
        l->key = intern(p, labels[i].key);
        if (labels[i].str) {
            l->str = intern(p, labels[i].str);
        } else {
            l->num = labels[i].num;
            if (labels[i].num_unit) l->num_unit = intern(p, labels[i].num_unit);
        }
        h = mix(mix(mix(mix(h, (uint64_t)l->key), (uint64_t)l->str), (uint64_t)l->num), (uint64_t)l->num_unit);
    }
    struct sample_probe probe = { p, &s };
    size_t at;
    long found = index_find(&p->sample_index, h, sample_equal, &probe, &at);
    if (found >= 0) {
        for (int i = 0; i < p->ntypes; i++) p->sample[found].value[i] += values[i];
        return 0;
    }
    if (found == -2 || grow((void **)&p->sample, &p->sample_cap, p->nsample + 1, sizeof *p->sample) != 0) {
        p->failed = true;
        return -1;
    }
    s.pcs = malloc((size_t)(depth ? depth : 1) * sizeof *s.pcs);
    if (!s.pcs) {
        p->failed = true;
        return -1;
    }
    memcpy(s.pcs, pcs, (size_t)depth * sizeof *s.pcs);
    for (int i = 0; i < p->ntypes; i++) s.value[i] = values[i];
    p->sample[p->nsample] = s;
    index_insert(&p->sample_index, at, h, (uint32_t)p->nsample++);
    return 0;
}

void conan_pprof_comment(struct conan_pprof *p, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (grow((void **)&p->comment, &p->comment_cap, p->ncomment + 1, sizeof *p->comment) != 0) {
        p->failed = true;
        return;
    }
    p->comment[p->ncomment++] = intern(p, text);
}

uintptr_t conan_pprof_pseudo_frame(struct conan_pprof *p, const char *name)
{
    int64_t id = intern(p, name);
    for (int i = 0; i < p->npseudo; i++)
        if (p->pseudo[i] == id) return (uintptr_t)i + 1;
    if (p->npseudo == PSEUDO_MAX) return 0;
    p->pseudo[p->npseudo++] = id;
    return (uintptr_t)p->npseudo;
}

void conan_pprof_set_time(struct conan_pprof *p, int64_t time_nanos, int64_t duration_nanos)
{
    p->time_nanos = time_nanos;
    p->duration_nanos = duration_nanos;
}

void conan_pprof_set_default_type(struct conan_pprof *p, int index)
{
    if (index >= 0 && index < p->ntypes) p->default_type = p->type[index][0];
}

void conan_pprof_free(struct conan_pprof *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nstring; i++) free(p->string[i]);
    free(p->string);
    for (size_t i = 0; i < p->nsample; i++) free(p->sample[i].pcs);
    free(p->sample);
    free(p->comment);
    index_free(&p->string_index);
    index_free(&p->sample_index);
    free(p);
}

/* ---- encoding ---- */

/* Everything the protobuf-c message points into, freed in one place. */
struct encoding {
    Perftools__Profiles__ValueType *types, period_type;
    Perftools__Profiles__ValueType **type_ptrs;
    Perftools__Profiles__Sample *samples, **sample_ptrs;
    Perftools__Profiles__Label *labels, **label_ptrs;
    uint64_t *location_ids;
    int64_t *values;
    Perftools__Profiles__Mapping *mappings, **mapping_ptrs;
    Perftools__Profiles__Location *locations, **location_ptrs;
    Perftools__Profiles__Line *lines, **line_ptrs;
    Perftools__Profiles__Function *functions, **function_ptrs;
    size_t nlocation, location_cap, nfunction, function_cap;
    struct index_table location_index, function_index;
    struct location_info { uintptr_t address; uint64_t function_id; } *location_info;
    size_t location_info_cap;
    bool *mapping_named, *mapping_used;
};

struct address_probe { const struct encoding *e; uintptr_t address; };

static bool address_equal(const void *ctx, uint32_t position)
{
    const struct address_probe *probe = ctx;
    return probe->e->location_info[position].address == probe->address;
}

struct function_probe { const struct encoding *e; int64_t name, system_name; };

static bool function_equal(const void *ctx, uint32_t position)
{
    const struct function_probe *probe = ctx;
    const Perftools__Profiles__Function *f = &probe->e->functions[position];
    return f->name == probe->name && f->system_name == probe->system_name;
}

/* Function id for a (name, system_name) pair, adding it if new; 0 on failure. */
static uint64_t function_id(struct conan_pprof *p, struct encoding *e, const char *name, const char *system_name)
{
    struct function_probe probe = { e, intern(p, name), intern(p, system_name) };
    uint64_t h = mix(mix(7, (uint64_t)probe.name), (uint64_t)probe.system_name);
    size_t at;
    long found = index_find(&e->function_index, h, function_equal, &probe, &at);
    if (found >= 0) return (uint64_t)found + 1;
    if (found == -2 || grow((void **)&e->functions, &e->function_cap, e->nfunction + 1, sizeof *e->functions) != 0)
        return 0;
    Perftools__Profiles__Function *f = &e->functions[e->nfunction];
    perftools__profiles__function__init(f);
    f->id = e->nfunction + 1;
    f->name = probe.name;
    f->system_name = probe.system_name;
    index_insert(&e->function_index, at, h, (uint32_t)e->nfunction++);
    return f->id;
}

/* Location id for an address, adding (and naming) it if new; 0 on failure. */
static uint64_t location_id(struct conan_pprof *p, struct encoding *e, struct conan_symbols *syms, uintptr_t address)
{
    struct address_probe probe = { e, address };
    uint64_t h = mix(3, address);
    size_t at;
    long found = index_find(&e->location_index, h, address_equal, &probe, &at);
    if (found >= 0) return (uint64_t)found + 1;
    if (found == -2 ||
        grow((void **)&e->locations, &e->location_cap, e->nlocation + 1, sizeof *e->locations) != 0 ||
        grow((void **)&e->location_info, &e->location_info_cap, e->nlocation + 1, sizeof *e->location_info) != 0)
        return 0;
    Perftools__Profiles__Location *loc = &e->locations[e->nlocation];
    struct location_info *info = &e->location_info[e->nlocation];
    perftools__profiles__location__init(loc);
    loc->id = e->nlocation + 1;
    loc->address = address;
    info->address = address;
    info->function_id = 0;
    if (address >= 1 && address <= (uintptr_t)p->npseudo) { /* a pseudo frame: a name, no mapping */
        const char *name = p->string[p->pseudo[address - 1]];
        if ((info->function_id = function_id(p, e, name, name)) == 0) return 0;
        index_insert(&e->location_index, at, h, (uint32_t)e->nlocation++);
        return loc->id;
    }
    long m = syms ? conan_symbols_find_mapping(syms, address) : -1;
    const char *name = NULL, *system_name = NULL;
    bool named = syms && conan_symbols_lookup(syms, address, &name, &system_name);
    if (m >= 0) {
        loc->mapping_id = (uint64_t)m + 1;
        if (!e->mapping_used[m]) e->mapping_named[m] = true;
        e->mapping_used[m] = true;
        if (!named) e->mapping_named[m] = false;
    }
    if (named && (info->function_id = function_id(p, e, name, system_name)) == 0) return 0;
    index_insert(&e->location_index, at, h, (uint32_t)e->nlocation++);
    return loc->id;
}

static int gzip_buffer(const uint8_t *in, size_t in_len, void **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip wrapper, which is what pprof reads. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t bound = deflateBound(&z, in_len) + 32;
    uint8_t *buf = malloc(bound);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (uint8_t *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    size_t produced = bound - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = produced;
    return 0;
}

static void encoding_free(struct encoding *e)
{
    free(e->types);
    free(e->type_ptrs);
    free(e->samples);
    free(e->sample_ptrs);
    free(e->labels);
    free(e->label_ptrs);
    free(e->location_ids);
    free(e->values);
    free(e->mappings);
    free(e->mapping_ptrs);
    free(e->locations);
    free(e->location_ptrs);
    free(e->lines);
    free(e->line_ptrs);
    free(e->functions);
    free(e->function_ptrs);
    free(e->location_info);
    free(e->mapping_named);
    free(e->mapping_used);
    index_free(&e->location_index);
    index_free(&e->function_index);
}

static int build_message(struct conan_pprof *p, struct conan_symbols *syms, struct encoding *e,
                         Perftools__Profiles__Profile *msg)
{
    size_t nmapping = syms ? conan_symbols_mapping_count(syms) : 0;
    size_t total_frames = 0, total_labels = 0;
    for (size_t i = 0; i < p->nsample; i++) {
        total_frames += (size_t)p->sample[i].depth;
        total_labels += (size_t)p->sample[i].nlabels;
    }
    e->types = calloc((size_t)p->ntypes, sizeof *e->types);
    e->type_ptrs = calloc((size_t)p->ntypes, sizeof *e->type_ptrs);
    e->samples = calloc(p->nsample + 1, sizeof *e->samples);
    e->sample_ptrs = calloc(p->nsample + 1, sizeof *e->sample_ptrs);
    e->labels = calloc(total_labels + 1, sizeof *e->labels);
    e->label_ptrs = calloc(total_labels + 1, sizeof *e->label_ptrs);
    e->location_ids = calloc(total_frames + 1, sizeof *e->location_ids);
    e->values = calloc(p->nsample * (size_t)p->ntypes + 1, sizeof *e->values);
    e->mappings = calloc(nmapping + 1, sizeof *e->mappings);
    e->mapping_ptrs = calloc(nmapping + 1, sizeof *e->mapping_ptrs);
    e->mapping_named = calloc(nmapping + 1, sizeof *e->mapping_named);
    e->mapping_used = calloc(nmapping + 1, sizeof *e->mapping_used);
    if (!e->types || !e->type_ptrs || !e->samples || !e->sample_ptrs || !e->labels || !e->label_ptrs ||
        !e->location_ids || !e->values || !e->mappings || !e->mapping_ptrs || !e->mapping_named || !e->mapping_used)
        return -1;

    for (int i = 0; i < p->ntypes; i++) {
        perftools__profiles__value_type__init(&e->types[i]);
        e->types[i].type = p->type[i][0];
        e->types[i].unit = p->type[i][1];
        e->type_ptrs[i] = &e->types[i];
    }
    perftools__profiles__value_type__init(&e->period_type);
    e->period_type.type = p->period_type[0];
    e->period_type.unit = p->period_type[1];

    size_t frame = 0, label = 0;
    for (size_t i = 0; i < p->nsample; i++) {
        const struct raw_sample *rs = &p->sample[i];
        Perftools__Profiles__Sample *s = &e->samples[i];
        perftools__profiles__sample__init(s);
        s->location_id = &e->location_ids[frame];
        for (int d = 0; d < rs->depth; d++) {
            uint64_t id = location_id(p, e, syms, rs->pcs[d]);
            if (id == 0) return -1;
            e->location_ids[frame++] = id;
        }
        s->n_location_id = (size_t)rs->depth;
        s->value = &e->values[i * (size_t)p->ntypes];
        memcpy(s->value, rs->value, (size_t)p->ntypes * sizeof *s->value);
        s->n_value = (size_t)p->ntypes;
        s->label = &e->label_ptrs[label];
        for (int l = 0; l < rs->nlabels; l++) {
            Perftools__Profiles__Label *pl = &e->labels[label];
            perftools__profiles__label__init(pl);
            pl->key = rs->label[l].key;
            pl->str = rs->label[l].str;
            pl->num = rs->label[l].num;
            pl->num_unit = rs->label[l].num_unit;
            e->label_ptrs[label++] = pl;
        }
        s->n_label = (size_t)rs->nlabels;
        e->sample_ptrs[i] = s;
    }

    /* Lines and pointer arrays, now that the location and function arrays
     * have stopped moving. */
    e->lines = calloc(e->nlocation + 1, sizeof *e->lines);
    e->line_ptrs = calloc(e->nlocation + 1, sizeof *e->line_ptrs);
    e->location_ptrs = calloc(e->nlocation + 1, sizeof *e->location_ptrs);
    e->function_ptrs = calloc(e->nfunction + 1, sizeof *e->function_ptrs);
    if (!e->lines || !e->line_ptrs || !e->location_ptrs || !e->function_ptrs) return -1;
    for (size_t i = 0; i < e->nlocation; i++) {
        Perftools__Profiles__Location *loc = &e->locations[i];
        if (e->location_info[i].function_id) {
            perftools__profiles__line__init(&e->lines[i]);
            e->lines[i].function_id = e->location_info[i].function_id;
            e->line_ptrs[i] = &e->lines[i];
            loc->line = &e->line_ptrs[i];
            loc->n_line = 1;
        }
        e->location_ptrs[i] = loc;
    }
    for (size_t i = 0; i < e->nfunction; i++) e->function_ptrs[i] = &e->functions[i];

    for (size_t i = 0; i < nmapping; i++) {
        const struct conan_mapping *cm = conan_symbols_mapping(syms, i);
        Perftools__Profiles__Mapping *m = &e->mappings[i];
        perftools__profiles__mapping__init(m);
        m->id = i + 1;
        m->memory_start = cm->start;
        m->memory_limit = cm->limit;
        m->file_offset = cm->offset;
        m->filename = intern(p, cm->path);
        m->build_id = intern(p, cm->build_id);
        m->has_functions = e->mapping_used[i] && e->mapping_named[i];
        e->mapping_ptrs[i] = m;
    }
    if (p->failed) return -1;

    perftools__profiles__profile__init(msg);
    msg->n_sample_type = (size_t)p->ntypes;
    msg->sample_type = e->type_ptrs;
    msg->n_sample = p->nsample;
    msg->sample = e->sample_ptrs;
    msg->n_mapping = nmapping;
    msg->mapping = e->mapping_ptrs;
    msg->n_location = e->nlocation;
    msg->location = e->location_ptrs;
    msg->n_function = e->nfunction;
    msg->function = e->function_ptrs;
    msg->n_string_table = p->nstring;
    msg->string_table = p->string;
    msg->time_nanos = p->time_nanos;
    msg->duration_nanos = p->duration_nanos;
    msg->period_type = &e->period_type;
    msg->period = p->period;
    msg->n_comment = p->ncomment;
    msg->comment = p->comment;
    msg->default_sample_type = p->default_type;
    return 0;
}

int conan_pprof_encode(struct conan_pprof *p, struct conan_symbols *syms, void **gz, size_t *gz_len)
{
    if (p->failed) return -1;
    struct encoding e;
    memset(&e, 0, sizeof e);
    Perftools__Profiles__Profile msg;
    int rc = -1;
    /* A name or mapping the snapshot could not allocate would show as unknown. */
    if (build_message(p, syms, &e, &msg) == 0 && (!syms || conan_symbols_complete(syms))) {
        size_t len = perftools__profiles__profile__get_packed_size(&msg);
        uint8_t *raw = malloc(len + 1);
        if (raw) {
            perftools__profiles__profile__pack(&msg, raw);
            rc = gzip_buffer(raw, len, gz, gz_len);
            free(raw);
        }
    }
    encoding_free(&e);
    return rc;
}
