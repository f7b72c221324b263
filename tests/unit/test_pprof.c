/* test_pprof.c — pprof.c end to end: builds profiles from real addresses of this
 * binary and libc, encodes them (with a symbols snapshot, without one, and with
 * no samples), then gunzips and unpacks the result with protobuf-c and checks
 * every field libconan writes: strings, types, merging, labels, locations,
 * mappings, functions, comments and times. */
#include "check.h"
#include "internal.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "decode.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__Function Function;

#define PERIOD_NS 10000000
#define TIME_NS 1700000000123456789LL
#define DURATION_NS 10000000000LL

static volatile int sink;

static __attribute__((noinline)) int conan_test_pprof_leaf(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) total += i * 3 + sink;
    return total;
}

static __attribute__((noinline)) int conan_test_pprof_caller(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) total += conan_test_pprof_leaf(i) ^ sink;
    return total;
}

static const struct conan_value_type cpu_types[] = {
    { "samples", "count" },
    { "cpu", "nanoseconds" },
};
static const struct conan_value_type cpu_period = { "cpu", "nanoseconds" };

/* The addresses the stacks are made of. */
static uintptr_t leaf_pc, caller_pc, libc_pc;

static struct conan_pprof *new_cpu_profile(void)
{
    return conan_pprof_new(cpu_types, 2, cpu_period, PERIOD_NS);
}

/* Encodes p against syms and decodes it again, checking the gzip header. */
static Profile *round_trip(struct conan_pprof *p, struct conan_symbols *syms)
{
    void *gz = NULL;
    size_t gz_len = 0;
    CHECK_INT(conan_pprof_encode(p, syms, &gz, &gz_len), 0);
    CHECK(gz != NULL && gz_len > 18);
    if (!gz || gz_len < 2) return NULL;
    const unsigned char *bytes = gz;
    CHECK(bytes[0] == 0x1f && bytes[1] == 0x8b);   /* gzip, which pprof reads */
    Profile *prof = decode(gz, gz_len);
    free(gz);
    CHECK(prof != NULL);
    return prof;
}

/* string_table[i], or NULL if i is out of range. */
static const char *str_at(const Profile *prof, int64_t i)
{
    return i >= 0 && (size_t)i < prof->n_string_table ? prof->string_table[i] : NULL;
}

static const Location *find_location(const Profile *prof, uint64_t id)
{
    for (size_t i = 0; i < prof->n_location; i++)
        if (prof->location[i]->id == id) return prof->location[i];
    return NULL;
}

static const Mapping *find_mapping(const Profile *prof, uint64_t id)
{
    for (size_t i = 0; i < prof->n_mapping; i++)
        if (prof->mapping[i]->id == id) return prof->mapping[i];
    return NULL;
}

static const Function *find_function(const Profile *prof, uint64_t id)
{
    for (size_t i = 0; i < prof->n_function; i++)
        if (prof->function[i]->id == id) return prof->function[i];
    return NULL;
}

static const Location *location_at(const Profile *prof, uint64_t address)
{
    for (size_t i = 0; i < prof->n_location; i++)
        if (prof->location[i]->address == address) return prof->location[i];
    return NULL;
}

static const Label *find_label(const Profile *prof, const Sample *s, const char *key)
{
    for (size_t i = 0; i < s->n_label; i++) {
        const char *k = str_at(prof, s->label[i]->key);
        if (k && strcmp(k, key) == 0) return s->label[i];
    }
    return NULL;
}

/* Name of the (only) function of the location at address, or NULL. */
static const char *function_name_at(const Profile *prof, uint64_t address)
{
    const Location *loc = location_at(prof, address);
    if (!loc || loc->n_line != 1) return NULL;
    const Function *f = find_function(prof, loc->line[0]->function_id);
    return f ? str_at(prof, f->name) : NULL;
}

static bool unique_ids(const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0) return false;
        for (size_t j = 0; j < i; j++)
            if (ids[i] == ids[j]) return false;
    }
    return true;
}

/* Stacks S1 = leaf, caller, libc and S2 = libc, caller; S1 added twice with
 * labels "main" (merged), once with "worker", S2 once with an extra unit label. */
static struct conan_pprof *build_profile(void)
{
    struct conan_pprof *p = new_cpu_profile();
    CHECK(p != NULL);
    if (!p) return NULL;
    const uintptr_t s1[] = { leaf_pc, caller_pc, libc_pc };
    const uintptr_t s2[] = { libc_pc, caller_pc };
    const struct conan_label main_labels[] = {
        { .key = "thread", .str = "main" },
        { .key = "tid", .num = 100 },
    };
    const struct conan_label worker_labels[] = {
        { .key = "thread", .str = "worker" },
        { .key = "tid", .num = 101 },
    };
    const struct conan_label delay_labels[] = {
        { .key = "thread", .str = "main" },
        { .key = "tid", .num = 100 },
        { .key = "delay", .num = 7, .num_unit = "nanoseconds" },
    };
    const int64_t one[] = { 1, PERIOD_NS }, two[] = { 2, 2 * PERIOD_NS }, five[] = { 5, 5 * PERIOD_NS };
    CHECK_INT(conan_pprof_add(p, s1, 3, one, main_labels, 2), 0);
    CHECK_INT(conan_pprof_add(p, s1, 3, two, main_labels, 2), 0);
    CHECK_INT(conan_pprof_add(p, s1, 3, one, worker_labels, 2), 0);
    CHECK_INT(conan_pprof_add(p, s2, 2, five, delay_labels, 3), 0);
    conan_pprof_comment(p, "hello %d", 42);
    conan_pprof_comment(p, "%s", "second comment");
    conan_pprof_set_time(p, TIME_NS, DURATION_NS);
    conan_pprof_set_default_type(p, 1);
    conan_pprof_set_default_type(p, 2);    /* out of range: ignored */
    return p;
}

static void check_header(const Profile *prof)
{
    CHECK(prof->n_string_table > 0);
    CHECK_STR(str_at(prof, 0), "");
    /* Interned: no string twice. */
    bool unique = true;
    for (size_t i = 0; i < prof->n_string_table; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(prof->string_table[i], prof->string_table[j]) == 0) unique = false;
    CHECK(unique);

    CHECK_INT(prof->n_sample_type, 2);
    if (prof->n_sample_type == 2) {
        CHECK_STR(str_at(prof, prof->sample_type[0]->type), "samples");
        CHECK_STR(str_at(prof, prof->sample_type[0]->unit), "count");
        CHECK_STR(str_at(prof, prof->sample_type[1]->type), "cpu");
        CHECK_STR(str_at(prof, prof->sample_type[1]->unit), "nanoseconds");
    }
    CHECK(prof->period_type != NULL);
    if (prof->period_type) {
        CHECK_STR(str_at(prof, prof->period_type->type), "cpu");
        CHECK_STR(str_at(prof, prof->period_type->unit), "nanoseconds");
    }
    CHECK_INT(prof->period, PERIOD_NS);
    CHECK_INT(prof->time_nanos, TIME_NS);
    CHECK_INT(prof->duration_nanos, DURATION_NS);
    CHECK_STR(str_at(prof, prof->default_sample_type), "cpu");
}

static void check_comments(const Profile *prof)
{
    CHECK_INT(prof->n_comment, 2);
    if (prof->n_comment != 2) return;
    CHECK_STR(str_at(prof, prof->comment[0]), "hello 42");
    CHECK_STR(str_at(prof, prof->comment[1]), "second comment");
}

/* Three samples: S1/main merged, S1/worker, S2/main+delay, each with its labels
 * and its stack in leaf-first order. */
static void check_samples(const Profile *prof)
{
    CHECK_INT(prof->n_sample, 3);
    int seen_main = 0, seen_worker = 0, seen_delay = 0;
    for (size_t i = 0; i < prof->n_sample; i++) {
        const Sample *s = prof->sample[i];
        CHECK_INT(s->n_value, 2);
        if (s->n_value != 2) continue;
        const Label *thread = find_label(prof, s, "thread");
        const Label *tid = find_label(prof, s, "tid");
        const Label *delay = find_label(prof, s, "delay");
        CHECK(thread != NULL && tid != NULL);
        if (!thread || !tid) continue;
        CHECK_INT(thread->num, 0);
        CHECK_INT(tid->str, 0);
        CHECK_INT(tid->num_unit, 0);
        const char *name = str_at(prof, thread->str);
        CHECK(name != NULL);
        if (!name) continue;

        uint64_t want_stack[3];
        size_t want_depth;
        if (delay) {
            seen_delay++;
            CHECK_INT(s->n_label, 3);
            CHECK_STR(name, "main");
            CHECK_INT(tid->num, 100);
            CHECK_INT(delay->num, 7);
            CHECK_INT(delay->str, 0);
            CHECK_STR(str_at(prof, delay->num_unit), "nanoseconds");
            CHECK_INT(s->value[0], 5);
            CHECK_INT(s->value[1], 5 * PERIOD_NS);
            want_stack[0] = libc_pc;
            want_stack[1] = caller_pc;
            want_depth = 2;
        } else {
            CHECK_INT(s->n_label, 2);
            if (strcmp(name, "main") == 0) {
                seen_main++;
                CHECK_INT(tid->num, 100);
                CHECK_INT(s->value[0], 3);
                CHECK_INT(s->value[1], 3 * PERIOD_NS);
            } else {
                seen_worker++;
                CHECK_STR(name, "worker");
                CHECK_INT(tid->num, 101);
                CHECK_INT(s->value[0], 1);
                CHECK_INT(s->value[1], PERIOD_NS);
            }
            want_stack[0] = leaf_pc;
            want_stack[1] = caller_pc;
            want_stack[2] = libc_pc;
            want_depth = 3;
        }
        CHECK_INT(s->n_location_id, want_depth);
        for (size_t d = 0; d < s->n_location_id && d < want_depth; d++) {
            const Location *loc = find_location(prof, s->location_id[d]);
            CHECK(s->location_id[d] != 0 && loc != NULL);
            if (loc) CHECK_INT(loc->address, want_stack[d]);
        }
    }
    CHECK_INT(seen_main, 1);
    CHECK_INT(seen_worker, 1);
    CHECK_INT(seen_delay, 1);
}

/* One location per distinct address, each in the mapping that holds it. */
static void check_locations(const Profile *prof, struct conan_symbols *syms)
{
    CHECK_INT(prof->n_location, 3);
    uint64_t *ids = calloc(prof->n_location + prof->n_mapping + 1, sizeof *ids);
    CHECK(ids != NULL);
    if (!ids) return;
    for (size_t i = 0; i < prof->n_location; i++) ids[i] = prof->location[i]->id;
    CHECK(unique_ids(ids, prof->n_location));
    for (size_t i = 0; i < prof->n_mapping; i++) ids[i] = prof->mapping[i]->id;
    CHECK(unique_ids(ids, prof->n_mapping));
    free(ids);
    CHECK(location_at(prof, leaf_pc) && location_at(prof, caller_pc) && location_at(prof, libc_pc));

    CHECK(prof->n_mapping > 0);
    CHECK_INT(prof->n_mapping, conan_symbols_mapping_count(syms));
    for (size_t i = 0; i < prof->n_mapping; i++) {
        const Mapping *m = prof->mapping[i];
        CHECK(m->memory_start < m->memory_limit);
        CHECK(str_at(prof, m->filename) != NULL);
        CHECK(str_at(prof, m->build_id) != NULL);
    }

    for (size_t i = 0; i < prof->n_location; i++) {
        const Location *loc = prof->location[i];
        const Mapping *m = find_mapping(prof, loc->mapping_id);
        CHECK(loc->mapping_id != 0 && m != NULL);
        if (m) CHECK(m->memory_start <= loc->address && loc->address < m->memory_limit);
        CHECK_INT(loc->n_line, 1);
        for (size_t l = 0; l < loc->n_line; l++) {
            const Function *f = find_function(prof, loc->line[l]->function_id);
            CHECK(f != NULL);
            if (f) CHECK(str_at(prof, f->name) && str_at(prof, f->system_name));
        }
    }
    CHECK_STR(function_name_at(prof, leaf_pc), "conan_test_pprof_leaf");
    CHECK_STR(function_name_at(prof, caller_pc), "conan_test_pprof_caller");
    const char *libc_name = function_name_at(prof, libc_pc);
    CHECK(libc_name && strstr(libc_name, "getpid"));
    /* Different functions are different Functions. */
    const Location *a = location_at(prof, leaf_pc), *b = location_at(prof, caller_pc);
    if (a && b && a->n_line == 1 && b->n_line == 1)
        CHECK(a->line[0]->function_id != b->line[0]->function_id);
}

/* The executable's mapping: its path, its build ID, has_functions. */
static void check_exe_mapping(const Profile *prof)
{
    const Location *loc = location_at(prof, leaf_pc);
    const Mapping *m = loc ? find_mapping(prof, loc->mapping_id) : NULL;
    CHECK(m != NULL);
    if (!m) return;
    char exe[PATH_MAX];
    CHECK(conan_self_exe(exe, sizeof exe));
    CHECK_STR(str_at(prof, m->filename), exe);
    char build_id[65];
    CHECK_INT(conan_build_id_of_file("/proc/self/exe", build_id), 0);
    const char *got = str_at(prof, m->build_id);
    CHECK(got && got[0] != '\0');
    CHECK_STR(got, build_id);
    CHECK(m->has_functions);
    const Location *caller = location_at(prof, caller_pc);
    CHECK(caller && caller->mapping_id == m->id);
    /* Mappings without any location make no claim about their functions. */
    for (size_t i = 0; i < prof->n_mapping; i++) {
        bool used = false;
        for (size_t j = 0; j < prof->n_location; j++)
            if (prof->location[j]->mapping_id == prof->mapping[i]->id) used = true;
        if (!used) CHECK(!prof->mapping[i]->has_functions);
    }
}

static void test_full_profile(struct conan_symbols *syms)
{
    struct conan_pprof *p = build_profile();
    if (!p) return;
    Profile *prof = round_trip(p, syms);
    conan_pprof_free(p);
    if (!prof) return;
    check_header(prof);
    check_comments(prof);
    check_samples(prof);
    check_locations(prof, syms);
    check_exe_mapping(prof);
    perftools__profiles__profile__free_unpacked(prof, NULL);
}

static void test_encode_without_symbols(void)
{
    struct conan_pprof *p = build_profile();
    if (!p) return;
    Profile *prof = round_trip(p, NULL);
    conan_pprof_free(p);
    if (!prof) return;
    check_header(prof);
    check_comments(prof);
    check_samples(prof);
    CHECK_INT(prof->n_mapping, 0);
    CHECK_INT(prof->n_function, 0);
    CHECK_INT(prof->n_location, 3);
    for (size_t i = 0; i < prof->n_location; i++) {
        CHECK(prof->location[i]->id != 0);
        CHECK_INT(prof->location[i]->mapping_id, 0);
        CHECK_INT(prof->location[i]->n_line, 0);
    }
    CHECK(location_at(prof, leaf_pc) && location_at(prof, caller_pc) && location_at(prof, libc_pc));
    perftools__profiles__profile__free_unpacked(prof, NULL);
}

static void test_empty_profile(struct conan_symbols *syms)
{
    struct conan_pprof *p = new_cpu_profile();
    CHECK(p != NULL);
    if (!p) return;
    Profile *prof = round_trip(p, syms);
    conan_pprof_free(p);
    if (!prof) return;
    CHECK_STR(str_at(prof, 0), "");
    CHECK_INT(prof->n_sample, 0);
    CHECK_INT(prof->n_location, 0);
    CHECK_INT(prof->n_function, 0);
    CHECK_INT(prof->n_comment, 0);
    CHECK_INT(prof->n_sample_type, 2);
    if (prof->n_sample_type == 2) CHECK_STR(str_at(prof, prof->sample_type[1]->type), "cpu");
    CHECK_INT(prof->period, PERIOD_NS);
    CHECK_INT(prof->n_mapping, conan_symbols_mapping_count(syms));
    for (size_t i = 0; i < prof->n_mapping; i++) CHECK(!prof->mapping[i]->has_functions);
    perftools__profiles__profile__free_unpacked(prof, NULL);
}

/* An address of the executable's text that no symbol covers (PLT and the
 * like), or 0 if there is none. */
static uintptr_t unnamed_exe_address(struct conan_symbols *syms)
{
    long i = conan_symbols_find_mapping(syms, leaf_pc);
    const struct conan_mapping *m = i >= 0 ? conan_symbols_mapping(syms, (size_t)i) : NULL;
    for (uintptr_t pc = m ? m->start : 0; m && pc < m->limit; pc++) {
        const char *name, *system_name;
        if (!conan_symbols_lookup(syms, pc, &name, &system_name)) return pc;
    }
    return 0;
}

/* One unnamed location in a mapping withdraws its has_functions, so that pprof
 * symbolizes the rest from the binary; the location keeps its mapping. */
static void test_unnamed_location_clears_has_functions(struct conan_symbols *syms)
{
    uintptr_t unnamed = unnamed_exe_address(syms);
    if (!unnamed) {
        fprintf(stderr, "test_pprof: every byte of the executable's text is named, "
                        "has_functions withdrawal not checked\n");
        return;
    }
    struct conan_pprof *p = new_cpu_profile();
    CHECK(p != NULL);
    if (!p) return;
    const uintptr_t stack[] = { unnamed, leaf_pc };  /* the named one last */
    const int64_t values[] = { 1, PERIOD_NS };
    CHECK_INT(conan_pprof_add(p, stack, 2, values, NULL, 0), 0);
    Profile *prof = round_trip(p, syms);
    conan_pprof_free(p);
    if (!prof) return;
    const Location *named = location_at(prof, leaf_pc), *bare = location_at(prof, unnamed);
    CHECK(named != NULL && bare != NULL);
    if (named && bare) {
        CHECK_INT(named->n_line, 1);
        CHECK_INT(bare->n_line, 0);
        CHECK(bare->mapping_id != 0 && bare->mapping_id == named->mapping_id);
        const Mapping *m = find_mapping(prof, named->mapping_id);
        CHECK(m != NULL);
        if (m) CHECK(!m->has_functions);
    }
    perftools__profiles__profile__free_unpacked(prof, NULL);
}

static void test_type_count_limits(void)
{
    const struct conan_value_type five[] = {
        { "a", "count" }, { "b", "count" }, { "c", "count" }, { "d", "count" }, { "e", "count" },
    };
    CHECK(conan_pprof_new(five, 0, cpu_period, PERIOD_NS) == NULL);
    CHECK(conan_pprof_new(five, -1, cpu_period, PERIOD_NS) == NULL);
    CHECK(conan_pprof_new(five, 5, cpu_period, PERIOD_NS) == NULL);
    struct conan_pprof *p = conan_pprof_new(five, 4, cpu_period, PERIOD_NS);
    CHECK(p != NULL);
    if (!p) return;
    /* All four values survive a round trip. */
    const uintptr_t stack[] = { leaf_pc };
    const int64_t values[] = { 1, 2, 3, 4 };
    CHECK_INT(conan_pprof_add(p, stack, 1, values, NULL, 0), 0);
    Profile *prof = round_trip(p, NULL);
    conan_pprof_free(p);
    if (!prof) return;
    CHECK_INT(prof->n_sample_type, 4);
    CHECK_INT(prof->n_sample, 1);
    if (prof->n_sample == 1) {
        CHECK_INT(prof->sample[0]->n_value, 4);
        if (prof->sample[0]->n_value == 4) CHECK_INT(prof->sample[0]->value[3], 4);
        CHECK_INT(prof->sample[0]->n_label, 0);
    }
    CHECK_STR(str_at(prof, prof->default_sample_type), "");
    perftools__profiles__profile__free_unpacked(prof, NULL);
}

static void test_add_rejects_bad_arguments(void)
{
    struct conan_pprof *p = new_cpu_profile();
    CHECK(p != NULL);
    if (!p) return;
    const uintptr_t stack[] = { leaf_pc };
    const int64_t values[] = { 1, PERIOD_NS };
    static const char *const keys[CONAN_PPROF_MAX_LABELS + 1] = { "a", "b", "c", "d", "e", "f", "g", "h", "i",
                                                                  "j", "k", "l", "m", "n", "o", "p", "q" };
    struct conan_label labels[CONAN_PPROF_MAX_LABELS + 1];
    for (int i = 0; i <= CONAN_PPROF_MAX_LABELS; i++) labels[i] = (struct conan_label){ .key = keys[i], .num = i };
    CHECK_INT(conan_pprof_add(p, stack, -1, values, NULL, 0), -1);
    CHECK_INT(conan_pprof_add(p, stack, 1, values, labels, CONAN_PPROF_MAX_LABELS + 1), -1);
    CHECK_INT(conan_pprof_add(p, stack, 1, values, labels, CONAN_PPROF_MAX_LABELS), 0);
    /* The rejected calls left nothing behind, and the profile still encodes. */
    Profile *prof = round_trip(p, NULL);
    conan_pprof_free(p);
    if (!prof) return;
    CHECK_INT(prof->n_sample, 1);
    if (prof->n_sample == 1) CHECK_INT(prof->sample[0]->n_label, CONAN_PPROF_MAX_LABELS);
    perftools__profiles__profile__free_unpacked(prof, NULL);
}

int main(void)
{
    CHECK(conan_test_pprof_caller(5) == 30);
    leaf_pc = (uintptr_t)&conan_test_pprof_leaf + 4;
    caller_pc = (uintptr_t)&conan_test_pprof_caller + 4;
    libc_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
    CHECK(libc_pc != 0);

    struct conan_symbols *syms = conan_symbols_open();
    CHECK(syms != NULL);
    if (!syms) CHECK_DONE();
    test_full_profile(syms);
    test_encode_without_symbols();
    test_empty_profile(syms);
    test_unnamed_location_clears_has_functions(syms);
    test_type_count_limits();
    test_add_rejects_bad_arguments();
    conan_symbols_close(syms);
    CHECK_DONE();
}
