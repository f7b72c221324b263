/* big_profile.c — writes a large synthetic CPU profile for the conan tool's
 * speed figure (tests/bench/cli_speed.sh): SAMPLES samples over a few thousand
 * functions with realistic C++ and C names in eight mappings, each sample the
 * stack of a random walk down a call graph (4 callees a function, the first
 * taken most often: hot paths and a long tail of distinct stacks, 8–48 deep,
 * one location in ten with an inlined frame), a thread label, and pprof's two
 * CPU values. Deterministic: the same SAMPLES and SEED give the same bytes.
 *
 * Each message is packed by the project's generated profile.pb-c and streamed
 * through zlib as it is made, so the memory used does not grow with SAMPLES.
 * About 45 bytes of gzip per sample: 1.1 million samples make ~50 MB.
 * usage: big_profile OUT.pb.gz SAMPLES [SEED] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

#define NFUNC 4000
#define NCXX 3000             /* the first NCXX functions have C++ names */
#define NLOC_PER_FUNC 3
#define NLOC (NFUNC * NLOC_PER_FUNC)
#define NCALLEE 4
#define NMAP 8
#define NTHREAD 16
#define MAX_DEPTH 48
#define MIN_DEPTH 8

static const char *const ns[] = { "app", "net", "storage", "util", "json", "http", "db", "cache", "sched", "crypto" };
static const char *const cls[] = { "Connection", "Parser", "BTree<Key, Value>", "Pool", "Buffer", "Request",
                                   "Session", "Index", "Worker", "Allocator", "Router", "Codec",
                                   "Journal", "Snapshot", "Timer", "Resolver", "Cursor", "Page",
                                   "Batch", "Channel" };
static const char *const method[] = { "read", "write", "insert_node", "flush", "parse_header", "dispatch",
                                      "resize", "lookup", "compact", "encode", "decode", "handle",
                                      "operator()", "try_acquire", "release", "split", "merge", "visit",
                                      "serialize", "on_ready", "poll", "retry", "validate", "commit" };
static const char *const clib[] = { "ssl3", "evp", "inflate", "deflate", "pthread", "epoll", "memcpy", "malloc",
                                    "str", "qsort" };
static const char *const cverb[] = { "read", "write", "get", "put", "init", "free", "update", "final", "copy",
                                     "scan" };
static const char *const cnoun[] = { "bytes", "block", "state", "ctx", "record", "cond", "wait", "chunk", "node",
                                     "fast" };
static const char *const objects[NMAP] = { "/usr/bin/appserver",
                                           "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
                                           "/usr/lib/x86_64-linux-gnu/libc.so.6",
                                           "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                                           "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
                                           "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
                                           "/usr/lib/x86_64-linux-gnu/libm.so.6",
                                           "/usr/lib/x86_64-linux-gnu/libprotobuf-c.so.1.0.0" };

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- the string table, written last (indexes are positions) ---- */

static char **strings;
static size_t nstrings, strings_cap;

static int64_t intern(const char *s)
{
    if (nstrings == strings_cap) {
        strings_cap = strings_cap ? strings_cap * 2 : 1024;
        strings = realloc(strings, strings_cap * sizeof *strings);
        if (!strings) {
            fprintf(stderr, "big_profile: out of memory\n");
            exit(1);
        }
    }
    strings[nstrings] = strdup(s);
    if (!strings[nstrings]) {
        fprintf(stderr, "big_profile: out of memory\n");
        exit(1);
    }
    return (int64_t)nstrings++;
}

/* ---- output: field tag, length, packed message ---- */

static gzFile out;
static uint8_t *buf;
static size_t buf_cap;

static void put_bytes(const void *data, size_t len)
{
    if (len && gzwrite(out, data, (unsigned)len) != (int)len) {
        fprintf(stderr, "big_profile: write failed\n");
        exit(1);
    }
}

static void put_varint(uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put_bytes(b, n);
}

static void put_field(unsigned field, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    if (len > buf_cap) {
        buf_cap = len * 2;
        buf = realloc(buf, buf_cap);
        if (!buf) {
            fprintf(stderr, "big_profile: out of memory\n");
            exit(1);
        }
    }
    protobuf_c_message_pack(m, buf);
    put_varint((uint64_t)field << 3 | 2);
    put_varint(len);
    put_bytes(buf, len);
}

static void put_value_type(unsigned field, const char *type, const char *unit)
{
    Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    vt.type = intern(type);
    vt.unit = intern(unit);
    put_field(field, &vt.base);
}

/* ---- the program's shape ---- */

static int mapping_of(int f) /* the app's own code first, then the libraries */
{
    if (f < NCXX * 2 / 3) return 0;
    if (f < NCXX) return 1;
    return 2 + (f - NCXX) % (NMAP - 2);
}

static void function_name(int f, char *name, size_t len, char *file, size_t file_len)
{
    if (f == 0) {
        snprintf(name, len, "main");
        snprintf(file, file_len, "src/main.cc");
    } else if (f < NCXX) {
        size_t a = (size_t)f % 10, b = (size_t)f / 10 % 20, c = (size_t)f / 200 % 24;
        snprintf(name, len, "%s::%s::%s", ns[a], cls[b], method[c]);
        snprintf(file, file_len, "src/%s/%.*s.cc", ns[a], (int)strcspn(cls[b], "<"), cls[b]);
    } else {
        int g = f - NCXX;
        snprintf(name, len, "%s_%s_%s", clib[g % 10], cverb[g / 10 % 10], cnoun[g / 100 % 10]);
        snprintf(file, file_len, "%s/%s.c", clib[g % 10], cverb[g / 10 % 10]);
    }
}

static void write_functions(void)
{
    char name[128], file[128];
    for (int f = 0; f < NFUNC; f++) {
        function_name(f, name, sizeof name, file, sizeof file);
        Perftools__Profiles__Function fn = PERFTOOLS__PROFILES__FUNCTION__INIT;
        fn.id = (uint64_t)f + 1;
        fn.name = intern(name);
        fn.system_name = fn.name;
        fn.filename = intern(file);
        fn.start_line = 10 + f % 900;
        put_field(5, &fn.base);
    }
}

static void write_mappings(void)
{
    for (int m = 0; m < NMAP; m++) {
        Perftools__Profiles__Mapping map = PERFTOOLS__PROFILES__MAPPING__INIT;
        map.id = (uint64_t)m + 1;
        map.memory_start = 0x400000ULL + (uint64_t)m * 0x10000000ULL;
        map.memory_limit = map.memory_start + 0x1000000ULL;
        map.filename = intern(objects[m]);
        map.has_functions = map.has_filenames = map.has_line_numbers = map.has_inline_frames = 1;
        put_field(3, &map.base);
    }
}

/* Location l is in function l / NLOC_PER_FUNC; one in ten also has an
 * inlined callee, innermost first. */
static void write_locations(void)
{
    for (int l = 0; l < NLOC; l++) {
        int f = l / NLOC_PER_FUNC;
        Perftools__Profiles__Line lines[2] = { PERFTOOLS__PROFILES__LINE__INIT, PERFTOOLS__PROFILES__LINE__INIT };
        Perftools__Profiles__Line *line_ptr[2] = { &lines[0], &lines[1] };
        size_t nline = 1;
        if (l % 10 == 7) {
            lines[0].function_id = (uint64_t)((f * 7 + 13) % NFUNC) + 1; /* inlined */
            lines[0].line = 40 + l % 50;
            nline = 2;
        }
        lines[nline - 1].function_id = (uint64_t)f + 1;
        lines[nline - 1].line = 100 + l % 400;
        Perftools__Profiles__Location loc = PERFTOOLS__PROFILES__LOCATION__INIT;
        loc.id = (uint64_t)l + 1;
        loc.mapping_id = (uint64_t)mapping_of(f) + 1;
        loc.address = 0x400000ULL + (uint64_t)mapping_of(f) * 0x10000000ULL + (uint64_t)l * 24;
        loc.n_line = nline;
        loc.line = line_ptr;
        put_field(4, &loc.base);
    }
}

/* Random callees, app code calling into deeper app code and libraries. */
static int callee[NFUNC][NCALLEE];

static void make_call_graph(void)
{
    for (int f = 0; f < NFUNC; f++)
        for (int k = 0; k < NCALLEE; k++) callee[f][k] = 1 + (int)(rnd() % (NFUNC - 1));
}

static void write_samples(long count)
{
    int64_t thread_key = intern("thread"), thread_name[NTHREAD];
    char tname[32];
    for (int t = 0; t < NTHREAD; t++) {
        snprintf(tname, sizeof tname, t < 4 ? "io-%d" : "worker-%d", t);
        thread_name[t] = intern(tname);
    }
    uint64_t stack[MAX_DEPTH], leaf_first[MAX_DEPTH];
    for (long i = 0; i < count; i++) {
        int depth = MIN_DEPTH + (int)(rnd() % (MAX_DEPTH - MIN_DEPTH + 1));
        int f = 0;
        for (int d = 0; d < depth; d++) {
            uint64_t r = rnd();
            stack[d] = (uint64_t)(f * NLOC_PER_FUNC + (int)(r % NLOC_PER_FUNC)) + 1;
            /* callee 0 half the time, 1 a quarter, ...: hot paths and a tail */
            int k = (r >> 8) & 1 ? 0 : (r >> 9) & 1 ? 1 : (r >> 10) & 1 ? 2 : 3;
            f = callee[f][k];
        }
        for (int d = 0; d < depth; d++) leaf_first[d] = stack[depth - 1 - d];
        uint64_t r = rnd();
        int64_t values[2];
        values[0] = r % 3 ? 1 : 1 + (int64_t)((r >> 4) % 5);
        values[1] = values[0] * 10000000;
        Perftools__Profiles__Label label = PERFTOOLS__PROFILES__LABEL__INIT;
        Perftools__Profiles__Label *label_ptr = &label;
        label.key = thread_key;
        label.str = thread_name[(r >> 12) % NTHREAD];
        Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
        s.n_location_id = (size_t)depth;
        s.location_id = leaf_first;
        s.n_value = 2;
        s.value = values;
        s.n_label = 1;
        s.label = &label_ptr;
        put_field(2, &s.base);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: big_profile OUT.pb.gz SAMPLES [SEED]\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 42;
    if (count <= 0) {
        fprintf(stderr, "big_profile: SAMPLES must be a positive number, not %s\n", argv[2]);
        return 2;
    }
    out = gzopen(argv[1], "wb6");
    if (!out) {
        fprintf(stderr, "big_profile: cannot write %s\n", argv[1]);
        return 1;
    }
    intern("");
    put_value_type(1, "samples", "count");
    put_value_type(1, "cpu", "nanoseconds");
    put_value_type(11, "cpu", "nanoseconds");
    put_varint(12 << 3);
    put_varint(10000000); /* period: 10 ms, 100 Hz */
    put_varint(9 << 3);
    put_varint(1700000000000000000ULL); /* time_nanos, fixed for determinism */
    put_varint(10 << 3);
    put_varint((uint64_t)count * 10000000ULL / 8); /* duration: 8 busy threads */
    make_call_graph();
    write_mappings();
    write_functions();
    write_locations();
    write_samples(count);
    for (size_t i = 0; i < nstrings; i++) {
        size_t len = strlen(strings[i]);
        put_varint(6 << 3 | 2);
        put_varint(len);
        put_bytes(strings[i], len);
        free(strings[i]);
    }
    free(strings);
    free(buf);
    if (gzclose(out) != Z_OK) {
        fprintf(stderr, "big_profile: closing %s failed\n", argv[1]);
        return 1;
    }
    return 0;
}
