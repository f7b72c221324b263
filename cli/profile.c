/* profile.c — reads a pprof file for the conan tool: bounded gunzip, protobuf-c
 * unpack (the engine's generated profile.pb-c), then every reference checked
 * before anything follows it: string indexes in range, location and function
 * ids present and unique, one value per sample type. Frames are resolved once
 * into interned names, so top, flame and diff work on small integers.
 *
 * A frame's name follows go tool pprof at function granularity, so both tools
 * group the same way: the function's name; else "[<object file base name>]"
 * from the location's mapping; else "<unknown>". Inlined functions are frames
 * of their own, innermost first, as the location's lines list them. */
#include "profile.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static int fail(char *err, size_t errlen, const char *label, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", label, what);
    return -1;
}

void *profile_slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fail(err, errlen, path, "%s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > max) break;
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int read_err = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf) {
        fail(err, errlen, path, "out of memory reading the file");
        return NULL;
    }
    if (n > max) {
        free(buf);
        fail(err, errlen, path, "larger than %zu MiB: not read", max >> 20);
        return NULL;
    }
    if (read_err) {
        free(buf);
        fail(err, errlen, path, "read error");
        return NULL;
    }
    *len = n;
    return buf;
}

/* Inflates gzip data within PROFILE_MAX_RAW_BYTES. */
static uint8_t *gunzip(const uint8_t *gz, size_t gz_len, size_t *out_len, const char *label, char *err,
                       size_t errlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        fail(err, errlen, label, "cannot start gunzip");
        return NULL;
    }
    size_t cap = gz_len * 4 + 4096, len = 0;
    if (cap > PROFILE_MAX_RAW_BYTES) cap = PROFILE_MAX_RAW_BYTES;
    uint8_t *raw = malloc(cap);
    int rc = Z_OK;
    z.next_in = (Bytef *)gz;
    while (raw && rc == Z_OK) {
        if (len == cap) {
            if (cap >= PROFILE_MAX_RAW_BYTES) break;
            size_t grown_cap = cap * 2 > PROFILE_MAX_RAW_BYTES ? PROFILE_MAX_RAW_BYTES : cap * 2;
            uint8_t *grown = realloc(raw, grown_cap);
            if (!grown) {
                free(raw);
                raw = NULL;
                break;
            }
            raw = grown;
            cap = grown_cap;
        }
        size_t in_left = gz_len - (size_t)(z.next_in - gz);
        z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        size_t out_left = cap - len;
        z.next_out = raw + len;
        z.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
        uInt before = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        len += before - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in > 0) rc = Z_OK; /* output full: grow */
    }
    inflateEnd(&z);
    if (!raw) {
        fail(err, errlen, label, "out of memory while gunzipping");
        return NULL;
    }
    if (rc != Z_STREAM_END) {
        free(raw);
        if (len == cap && cap >= PROFILE_MAX_RAW_BYTES)
            fail(err, errlen, label, "more than %zu MiB once gunzipped: not read", PROFILE_MAX_RAW_BYTES >> 20);
        else if (rc == Z_OK || rc == Z_BUF_ERROR)
            fail(err, errlen, label, "truncated gzip data");
        else
            fail(err, errlen, label, "corrupt gzip data (%s)", z.msg ? z.msg : "inflate failed");
        return NULL;
    }
    *out_len = len;
    return raw;
}

/* protobuf-c allocates a struct per message, however small its encoding: an
 * empty Sample is 2 bytes on the wire and ~80 in memory, so a 1 GiB stream of
 * them (a few MB gzipped) would ask for ~40 GiB. The allocator below holds the
 * unpacked message to UNPACK_BYTES_PER_BYTE times the protobuf's size (plus a
 * floor for small files, and never past UNPACK_MAX): real profiles need 3-10
 * times (libconan's and Go's dumps, a 70 MB synthetic one); past the budget the
 * allocation fails, protobuf-c unwinds, and the file is refused. Its memory is
 * malloc'd, so free_unpacked(pb, NULL) frees it as usual. */
#define UNPACK_BYTES_PER_BYTE 16
#define UNPACK_FLOOR ((size_t)64 << 20)
#define UNPACK_MAX ((size_t)4 << 30) /* whatever the size: ~450 MB of real protobuf */

struct unpack_budget {
    size_t used, limit;
    bool exceeded;
};

static void *budget_alloc(void *data, size_t size)
{
    struct unpack_budget *b = data;
    if (size > b->limit - b->used) {
        b->exceeded = true;
        return NULL;
    }
    b->used += size;
    return malloc(size);
}

static void budget_free(void *data, void *pointer)
{
    (void)data;
    free(pointer);
}

static size_t unpack_limit(size_t raw_len)
{
    if (raw_len >= (UNPACK_MAX - UNPACK_FLOOR) / UNPACK_BYTES_PER_BYTE) return UNPACK_MAX;
    return raw_len * UNPACK_BYTES_PER_BYTE + UNPACK_FLOOR;
}

/* profile_unpack, also saying how long the protobuf was (raw_len). */
static Perftools__Profiles__Profile *unpack(const void *data, size_t len, size_t *raw_len_out, const char *label,
                                            char *err, size_t errlen)
{
    const uint8_t *bytes = data;
    uint8_t *raw = NULL;
    size_t raw_len = len;
    if (len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
        raw = gunzip(bytes, len, &raw_len, label, err, errlen);
        if (!raw) return NULL;
        bytes = raw;
    }
    if (raw_len == 0) {
        free(raw);
        fail(err, errlen, label, "empty: not a profile");
        return NULL;
    }
    struct unpack_budget budget = { .limit = unpack_limit(raw_len) };
    ProtobufCAllocator allocator = { .alloc = budget_alloc, .free = budget_free, .allocator_data = &budget };
    Perftools__Profiles__Profile *pb = perftools__profiles__profile__unpack(&allocator, raw_len, bytes);
    free(raw);
    if (!pb && budget.exceeded)
        fail(err, errlen, label, "its %zu-byte protobuf would unpack into more than %zu MiB: not read", raw_len,
             budget.limit >> 20);
    else if (!pb)
        fail(err, errlen, label, "not a pprof profile (profile.proto does not decode)");
    *raw_len_out = raw_len;
    return pb;
}

Perftools__Profiles__Profile *profile_unpack(const void *data, size_t len, const char *label, char *err,
                                             size_t errlen)
{
    size_t raw_len;
    return unpack(data, len, &raw_len, label, err, errlen);
}

/* ---- id lookup: sorted (id, index) pairs, binary search ---- */


static int cmp_u64_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

int profile_ids_build(struct profile_ids *ix, size_t n, uint64_t (*id_of)(void *, size_t), void *arg, uint64_t *bad)
{
    uint64_t *pairs = malloc((n ? n : 1) * 2 * sizeof *pairs);
    ix->id = malloc((n ? n : 1) * sizeof *ix->id);
    ix->at = malloc((n ? n : 1) * sizeof *ix->at);
    ix->n = n;
    if (!pairs || !ix->id || !ix->at) {
        free(pairs);
        *bad = UINT64_MAX;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = id_of(arg, i);
        pairs[2 * i + 1] = i;
    }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_u64_pair);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        ix->id[i] = pairs[2 * i];
        ix->at[i] = (uint32_t)pairs[2 * i + 1];
        if (ix->id[i] == 0 || (i > 0 && ix->id[i] == ix->id[i - 1])) {
            *bad = ix->id[i];
            rc = -1;
        }
    }
    free(pairs);
    if (rc == 0 && n > 0 && ix->id[n - 1] < 2 * (uint64_t)n + 1024) {
        ix->ndirect = ix->id[n - 1] + 1;
        ix->direct = calloc(ix->ndirect, sizeof *ix->direct);
        for (size_t i = 0; ix->direct && i < n; i++) ix->direct[ix->id[i]] = ix->at[i] + 1;
    }
    return rc;
}

long profile_ids_find(const struct profile_ids *ix, uint64_t id)
{
    if (ix->direct) return id < ix->ndirect ? (long)ix->direct[id] - 1 : -1;
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->id[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < ix->n && ix->id[lo] == id ? (long)ix->at[lo] : -1;
}

void profile_ids_free(struct profile_ids *ix)
{
    free(ix->id);
    free(ix->at);
    free(ix->direct);
}

uint64_t profile_location_id(void *arg, size_t i) { return ((Perftools__Profiles__Profile *)arg)->location[i]->id; }
uint64_t profile_function_id(void *arg, size_t i) { return ((Perftools__Profiles__Profile *)arg)->function[i]->id; }
uint64_t profile_mapping_id(void *arg, size_t i) { return ((Perftools__Profiles__Profile *)arg)->mapping[i]->id; }

/* ---- interned names: open addressing over the name strings ---- */

struct names {
    const char **text;        /* position → name */
    size_t n, cap;
    uint32_t *slot;           /* position + 1 */
    size_t slots;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static long names_add(struct names *nm, const char *s)
{
    if (nm->n * 2 >= nm->slots) {
        size_t slots = nm->slots ? nm->slots * 2 : 1024;
        uint32_t *slot = calloc(slots, sizeof *slot);
        if (!slot) return -1;
        for (size_t i = 0; i < nm->n; i++) {
            size_t h = hash_str(nm->text[i]) & (slots - 1);
            while (slot[h]) h = (h + 1) & (slots - 1);
            slot[h] = (uint32_t)i + 1;
        }
        free(nm->slot);
        nm->slot = slot;
        nm->slots = slots;
    }
    size_t h = hash_str(s) & (nm->slots - 1);
    while (nm->slot[h]) {
        if (strcmp(nm->text[nm->slot[h] - 1], s) == 0) return nm->slot[h] - 1;
        h = (h + 1) & (nm->slots - 1);
    }
    if (nm->n == nm->cap) {
        size_t cap = nm->cap ? nm->cap * 2 : 256;
        const char **text = realloc(nm->text, cap * sizeof *text);
        if (!text) return -1;
        nm->text = text;
        nm->cap = cap;
    }
    nm->text[nm->n] = s;
    nm->slot[h] = (uint32_t)nm->n + 1;
    return (long)nm->n++;
}

/* ---- checks and resolution ---- */

struct resolver {
    Perftools__Profiles__Profile *pb;
    size_t raw_len;           /* of the protobuf: bounds what it may cost */
    const char *label;
    char *err;
    size_t errlen;
    struct profile_ids loc, fn, map;
    struct names names;
    /* per string-table index: the name interned for it as a function's name,
     * and as a mapping's "[object]" (-1 until seen). Names are interned once
     * per string, not once per use: a long string named by many functions,
     * lines or mappings would otherwise be hashed or copied each time, and a
     * small file could ask for gigabytes or hours. */
    int32_t *fn_name_of, *object_name_of;
    /* per location: its frames (name indexes, innermost first) */
    uint32_t *loc_first, *loc_count, *loc_frames;
    size_t nloc_frames;
    /* text of "[object]" names, owned */
    char *text;
    size_t text_len, text_cap;
};

static bool string_ok(const struct resolver *r, int64_t index)
{
    return index >= 0 && (uint64_t)index < r->pb->n_string_table;
}

static const char *str(const struct resolver *r, int64_t index) { return r->pb->string_table[index]; }

/* "[base name]" text for a file name, appended to r->text; its offset (the
 * buffer moves while mappings are read, so names are interned after). */
static long object_text(struct resolver *r, const char *file, size_t *offset)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t need = strlen(base) + 3;
    if (r->text_len + need > r->text_cap) {
        size_t cap = (r->text_cap + need) * 2;
        char *grown = realloc(r->text, cap);
        if (!grown) return -1;
        r->text = grown;
        r->text_cap = cap;
    }
    *offset = r->text_len;
    snprintf(r->text + r->text_len, need, "[%s]", base);
    r->text_len += need;
    return 0;
}

/* object_name_of[] for every mapping's file name: each distinct file once.
 * -1 stays for an empty name (frames there are "<unknown>"). */
static int intern_objects(struct resolver *r)
{
    Perftools__Profiles__Profile *pb = r->pb;
    size_t *offset = malloc((pb->n_mapping ? pb->n_mapping : 1) * sizeof *offset);
    if (!offset) return -1;
    for (size_t i = 0; i < pb->n_mapping; i++) {
        int64_t file = pb->mapping[i]->filename;
        offset[i] = SIZE_MAX;
        if (!str(r, file)[0] || r->object_name_of[file] != -1) continue;
        r->object_name_of[file] = -2; /* text made; interned below */
        if (object_text(r, str(r, file), &offset[i]) != 0) {
            free(offset);
            return -1;
        }
    }
    for (size_t i = 0; i < pb->n_mapping; i++) {
        if (offset[i] == SIZE_MAX) continue;
        long id = names_add(&r->names, r->text + offset[i]);
        if (id < 0) {
            free(offset);
            return -1;
        }
        r->object_name_of[pb->mapping[i]->filename] = (int32_t)id;
    }
    free(offset);
    return 0;
}

static int check_strings(struct resolver *r)
{
    Perftools__Profiles__Profile *pb = r->pb;
    if (pb->n_string_table == 0 || pb->string_table[0][0] != '\0')
        return fail(r->err, r->errlen, r->label, "string_table must start with \"\"");
    for (size_t i = 0; i < pb->n_sample_type; i++)
        if (!string_ok(r, pb->sample_type[i]->type) || !string_ok(r, pb->sample_type[i]->unit))
            return fail(r->err, r->errlen, r->label, "sample_type[%zu]: string index out of range", i);
    if (pb->period_type && (!string_ok(r, pb->period_type->type) || !string_ok(r, pb->period_type->unit)))
        return fail(r->err, r->errlen, r->label, "period_type: string index out of range");
    for (size_t i = 0; i < pb->n_comment; i++)
        if (!string_ok(r, pb->comment[i]))
            return fail(r->err, r->errlen, r->label, "comment[%zu]: string index out of range", i);
    if (!string_ok(r, pb->default_sample_type) || !string_ok(r, pb->drop_frames) || !string_ok(r, pb->keep_frames))
        return fail(r->err, r->errlen, r->label, "default_sample_type/drop_frames/keep_frames: string index out of range");
    for (size_t i = 0; i < pb->n_mapping; i++)
        if (!string_ok(r, pb->mapping[i]->filename) || !string_ok(r, pb->mapping[i]->build_id))
            return fail(r->err, r->errlen, r->label, "mapping %llu: string index out of range",
                        (unsigned long long)pb->mapping[i]->id);
    for (size_t i = 0; i < pb->n_function; i++) {
        const Perftools__Profiles__Function *f = pb->function[i];
        if (!string_ok(r, f->name) || !string_ok(r, f->system_name) || !string_ok(r, f->filename))
            return fail(r->err, r->errlen, r->label, "function %llu: string index out of range",
                        (unsigned long long)f->id);
    }
    return 0;
}

static int build_indexes(struct resolver *r)
{
    Perftools__Profiles__Profile *pb = r->pb;
    uint64_t bad = 0;
    if (pb->n_location > UINT32_MAX || pb->n_function > UINT32_MAX || pb->n_mapping > UINT32_MAX)
        return fail(r->err, r->errlen, r->label, "too many locations, functions or mappings");
    if (profile_ids_build(&r->loc, pb->n_location, profile_location_id, pb, &bad) != 0)
        return fail(r->err, r->errlen, r->label, bad == 0 ? "location with id 0" : "location id %llu repeated",
                    (unsigned long long)bad);
    if (profile_ids_build(&r->fn, pb->n_function, profile_function_id, pb, &bad) != 0)
        return fail(r->err, r->errlen, r->label, bad == 0 ? "function with id 0" : "function id %llu repeated",
                    (unsigned long long)bad);
    if (profile_ids_build(&r->map, pb->n_mapping, profile_mapping_id, pb, &bad) != 0)
        return fail(r->err, r->errlen, r->label, bad == 0 ? "mapping with id 0" : "mapping id %llu repeated",
                    (unsigned long long)bad);
    return 0;
}

/* The name of one frame of location l: its line's function's name, else the
 * mapping's object, else "<unknown>"; -1 (err set) on a dangling reference. */
static long frame_name(struct resolver *r, const Perftools__Profiles__Location *l, const Perftools__Profiles__Line *line,
                       long mapping)
{
    static const char unknown[] = "<unknown>";
    Perftools__Profiles__Profile *pb = r->pb;
    if (line && line->function_id != 0) {
        long f = profile_ids_find(&r->fn, line->function_id);
        if (f < 0)
            return fail(r->err, r->errlen, r->label, "location %llu: function %llu does not exist",
                        (unsigned long long)l->id, (unsigned long long)line->function_id);
        int64_t name = pb->function[f]->name;
        if (str(r, name)[0]) {
            if (r->fn_name_of[name] < 0) {
                long id = names_add(&r->names, str(r, name));
                if (id < 0) return fail(r->err, r->errlen, r->label, "out of memory");
                r->fn_name_of[name] = (int32_t)id;
            }
            return r->fn_name_of[name];
        }
    }
    if (mapping >= 0 && r->object_name_of[pb->mapping[mapping]->filename] >= 0)
        return r->object_name_of[pb->mapping[mapping]->filename];
    long id = names_add(&r->names, unknown);
    return id < 0 ? fail(r->err, r->errlen, r->label, "out of memory") : id;
}

/* Every location's frames, innermost first; names are interned here. */
static int resolve_locations(struct resolver *r)
{
    Perftools__Profiles__Profile *pb = r->pb;
    size_t nloc = pb->n_location, total = 0;
    for (size_t i = 0; i < nloc; i++) {
        size_t n = pb->location[i]->n_line;
        total += n ? n : 1;
        if (total > UINT32_MAX) return fail(r->err, r->errlen, r->label, "too many lines in locations");
    }
    size_t nstr = pb->n_string_table;
    r->loc_first = malloc((nloc ? nloc : 1) * sizeof *r->loc_first);
    r->loc_count = malloc((nloc ? nloc : 1) * sizeof *r->loc_count);
    r->loc_frames = malloc((total ? total : 1) * sizeof *r->loc_frames);
    r->fn_name_of = malloc(nstr * sizeof *r->fn_name_of);
    r->object_name_of = malloc(nstr * sizeof *r->object_name_of);
    if (!r->loc_first || !r->loc_count || !r->loc_frames || !r->fn_name_of || !r->object_name_of)
        return fail(r->err, r->errlen, r->label, "out of memory");
    memset(r->fn_name_of, 0xff, nstr * sizeof *r->fn_name_of);         /* all -1 */
    memset(r->object_name_of, 0xff, nstr * sizeof *r->object_name_of);
    if (intern_objects(r) != 0) return fail(r->err, r->errlen, r->label, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < nloc; i++) {
        const Perftools__Profiles__Location *l = pb->location[i];
        long mapping = -1;
        if (l->mapping_id != 0 && (mapping = profile_ids_find(&r->map, l->mapping_id)) < 0)
            return fail(r->err, r->errlen, r->label, "location %llu: mapping %llu does not exist",
                        (unsigned long long)l->id, (unsigned long long)l->mapping_id);
        r->loc_first[i] = (uint32_t)at;
        size_t nline = l->n_line ? l->n_line : 1;
        for (size_t k = 0; k < nline; k++) {
            long id = frame_name(r, l, l->n_line ? l->line[k] : NULL, mapping);
            if (id < 0) return -1;
            r->loc_frames[at++] = (uint32_t)id;
        }
        r->loc_count[i] = (uint32_t)(at - r->loc_first[i]);
    }
    if (r->names.n > INT32_MAX) return fail(r->err, r->errlen, r->label, "too many names");
    r->nloc_frames = at;
    return 0;
}

/* Frames a sample list may expand to: a location of many inlined lines,
 * referenced by one byte per use, multiplies a small file; real profiles have
 * a few frames per byte of protobuf at most. */
#define FRAMES_PER_BYTE 4
#define FRAMES_FLOOR ((size_t)16 << 20)

static int resolve_samples(struct resolver *r, struct profile *p)
{
    Perftools__Profiles__Profile *pb = r->pb;
    size_t nframe = 0, nlabel = 0;
    size_t max_frames = r->raw_len > (UINT32_MAX - FRAMES_FLOOR) / FRAMES_PER_BYTE
                            ? UINT32_MAX
                            : r->raw_len * FRAMES_PER_BYTE + FRAMES_FLOOR;
    for (size_t i = 0; i < pb->n_sample; i++) {
        const Perftools__Profiles__Sample *s = pb->sample[i];
        if (s->n_value != pb->n_sample_type)
            return fail(r->err, r->errlen, r->label, "sample %zu has %zu values for %zu sample types", i,
                        s->n_value, pb->n_sample_type);
        for (size_t k = 0; k < s->n_location_id; k++) {
            long l = profile_ids_find(&r->loc, s->location_id[k]);
            if (l < 0)
                return fail(r->err, r->errlen, r->label, "sample %zu: location %llu does not exist", i,
                            (unsigned long long)s->location_id[k]);
            nframe += r->loc_count[l];
            if (nframe > max_frames)
                return fail(r->err, r->errlen, r->label,
                            "samples expand to more than %zu frames (%zu-byte protobuf): not read", max_frames,
                            r->raw_len);
        }
        for (size_t k = 0; k < s->n_label; k++) {
            const Perftools__Profiles__Label *lb = s->label[k];
            if (!string_ok(r, lb->key) || !string_ok(r, lb->str) || !string_ok(r, lb->num_unit))
                return fail(r->err, r->errlen, r->label, "sample %zu: label string index out of range", i);
        }
        nlabel += s->n_label;
    }
    p->sample = calloc(pb->n_sample ? pb->n_sample : 1, sizeof *p->sample);
    p->frame_pool = malloc((nframe ? nframe : 1) * sizeof *p->frame_pool);
    p->label_pool = malloc((nlabel ? nlabel : 1) * sizeof *p->label_pool);
    if (!p->sample || !p->frame_pool || !p->label_pool) return fail(r->err, r->errlen, r->label, "out of memory");
    size_t fa = 0, la = 0;
    for (size_t i = 0; i < pb->n_sample; i++) {
        const Perftools__Profiles__Sample *s = pb->sample[i];
        struct profile_sample *out = &p->sample[i];
        out->frame = p->frame_pool + fa;
        for (size_t k = 0; k < s->n_location_id; k++) {
            long l = profile_ids_find(&r->loc, s->location_id[k]);
            memcpy(p->frame_pool + fa, r->loc_frames + r->loc_first[l], r->loc_count[l] * sizeof *p->frame_pool);
            fa += r->loc_count[l];
        }
        out->nframe = (uint32_t)(p->frame_pool + fa - out->frame);
        out->value = s->value;
        out->label = p->label_pool + la;
        out->nlabel = (uint32_t)s->n_label;
        for (size_t k = 0; k < s->n_label; k++) {
            const Perftools__Profiles__Label *lb = s->label[k];
            struct profile_label *pl = &p->label_pool[la++];
            pl->key = str(r, lb->key);
            pl->str = lb->str != 0 || lb->num == 0 ? str(r, lb->str) : NULL;
            pl->num = lb->num;
            pl->unit = str(r, lb->num_unit);
        }
    }
    p->nsample = pb->n_sample;
    return 0;
}

int profile_parse(const void *data, size_t len, const char *label, struct profile *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    struct resolver r = { .label = label, .err = err, .errlen = errlen };
    r.pb = unpack(data, len, &r.raw_len, label, err, errlen);
    if (!r.pb) return -1;
    p->pb = r.pb;
    int rc = check_strings(&r);
    if (rc == 0 && r.pb->n_sample_type == 0) rc = fail(err, errlen, label, "no sample types: not a usable profile");
    if (rc == 0) rc = build_indexes(&r);
    if (rc == 0) rc = resolve_locations(&r);
    if (rc == 0) rc = resolve_samples(&r, p);
    if (rc == 0) {
        Perftools__Profiles__Profile *pb = r.pb;
        p->ntype = pb->n_sample_type;
        p->type = malloc(p->ntype * sizeof *p->type);
        p->unit = malloc(p->ntype * sizeof *p->unit);
        p->comment = malloc((pb->n_comment ? pb->n_comment : 1) * sizeof *p->comment);
        if (!p->type || !p->unit || !p->comment) rc = fail(err, errlen, label, "out of memory");
    }
    if (rc == 0) {
        Perftools__Profiles__Profile *pb = r.pb;
        p->default_type = p->ntype - 1;
        for (size_t i = 0; i < p->ntype; i++) {
            p->type[i] = str(&r, pb->sample_type[i]->type);
            p->unit[i] = str(&r, pb->sample_type[i]->unit);
            if (pb->default_sample_type != 0 && pb->sample_type[i]->type == pb->default_sample_type)
                p->default_type = i;
        }
        /* Names: the strings live in pb or r.text, which p keeps. */
        p->name = r.names.text;
        p->nname = r.names.n;
        r.names.text = NULL;
        p->name_text = r.text;
        r.text = NULL;
        for (size_t i = 0; i < pb->n_comment; i++) p->comment[i] = str(&r, pb->comment[i]);
        p->ncomment = pb->n_comment;
        p->period = pb->period;
        p->period_type = pb->period_type ? str(&r, pb->period_type->type) : "";
        p->period_unit = pb->period_type ? str(&r, pb->period_type->unit) : "";
        p->time_nanos = pb->time_nanos;
        p->duration_nanos = pb->duration_nanos;
    }
    profile_ids_free(&r.loc);
    profile_ids_free(&r.fn);
    profile_ids_free(&r.map);
    free(r.names.slot);
    free(r.names.text);
    free(r.loc_first);
    free(r.loc_count);
    free(r.loc_frames);
    free(r.fn_name_of);
    free(r.object_name_of);
    free(r.text);
    if (rc != 0) profile_free(p);
    return rc;
}

int profile_read(const char *path, struct profile *p, char *err, size_t errlen)
{
    size_t len = 0;
    void *data = profile_slurp(path, PROFILE_MAX_RAW_BYTES, &len, err, errlen);
    if (!data) {
        memset(p, 0, sizeof *p);
        return -1;
    }
    int rc = profile_parse(data, len, path, p, err, errlen);
    free(data);
    return rc;
}

void profile_free(struct profile *p)
{
    if (p->pb) perftools__profiles__profile__free_unpacked(p->pb, NULL);
    free(p->type);
    free(p->unit);
    free(p->comment);
    free(p->name);
    free(p->name_text);
    free(p->sample);
    free(p->frame_pool);
    free(p->label_pool);
    memset(p, 0, sizeof *p);
}

/* Appends s to err at *at, control characters as '?': the names come from the
 * file, and a newline in one would break the one-line message (found by
 * tests/fuzz/profile_fuzz.c: a sample type named "sa\nples"). */
static void append_printable(char *err, size_t errlen, size_t *at, const char *s)
{
    for (; *s && *at + 1 < errlen; s++)
        err[(*at)++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    if (*at < errlen) err[*at] = '\0';
}

int profile_type_index(const struct profile *p, const char *name, char *err, size_t errlen)
{
    if (!name) return (int)p->default_type;
    for (size_t i = 0; i < p->ntype; i++)
        if (strcmp(p->type[i], name) == 0) return (int)i;
    char *end;
    long i = strtol(name, &end, 10);
    if (*name && !*end && i >= 0 && (size_t)i < p->ntype) return (int)i;
    if (errlen == 0) return -1;
    size_t at = 0;
    append_printable(err, errlen, &at, "no sample type \"");
    append_printable(err, errlen, &at, name);
    append_printable(err, errlen, &at, "\"; the profile has:");
    for (size_t k = 0; k < p->ntype && at + 1 < errlen; k++) {
        append_printable(err, errlen, &at, " ");
        append_printable(err, errlen, &at, p->type[k]);
    }
    return -1;
}

int profile_filter_tag(struct profile_filter *f, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(err, errlen, "--tag %s: expected KEY=VALUE", arg);
        return -1;
    }
    if (f->ntag == (int)(sizeof f->tag_key / sizeof f->tag_key[0])) {
        snprintf(err, errlen, "--tag %s: at most %d tags", arg, f->ntag);
        return -1;
    }
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    f->tag_key[f->ntag] = key;
    f->tag_value[f->ntag++] = eq + 1;
    return 0;
}

int profile_filter_focus(struct profile_filter *f, const char *regex, char *err, size_t errlen)
{
    regex_t *re = malloc(sizeof *re);
    if (!re) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = regcomp(re, regex, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, re, why, sizeof why);
        free(re);
        snprintf(err, errlen, "--focus %s: %s", regex, why);
        return -1;
    }
    if (f->has_focus) {
        regfree(f->focus);
        free(f->focus);
    }
    f->focus = re;
    f->has_focus = true;
    return 0;
}

static bool label_matches(const struct profile_sample *s, const char *key, const char *value)
{
    for (uint32_t i = 0; i < s->nlabel; i++) {
        const struct profile_label *l = &s->label[i];
        if (strcmp(l->key, key) != 0) continue;
        if (l->str) {
            if (strcmp(l->str, value) == 0) return true;
        } else {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)l->num);
            if (strcmp(num, value) == 0) return true;
        }
    }
    return false;
}

bool profile_filter_keeps(const struct profile *p, const struct profile_filter *f, const struct profile_sample *s)
{
    for (int i = 0; i < f->ntag; i++)
        if (!label_matches(s, f->tag_key[i], f->tag_value[i])) return false;
    if (!f->has_focus) return true;
    for (uint32_t i = 0; i < s->nframe; i++)
        if (regexec(f->focus, p->name[s->frame[i]], 0, NULL, 0) == 0) return true;
    return false;
}

void profile_filter_free(struct profile_filter *f)
{
    for (int i = 0; i < f->ntag; i++) free((char *)f->tag_key[i]);
    if (f->has_focus) {
        regfree(f->focus);
        free(f->focus);
    }
    memset(f, 0, sizeof *f);
}
