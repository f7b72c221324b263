/* test_alloc_failure.c — what the monitor does when memory runs out while it
 * builds, encodes and writes a profile. The test binary defines malloc, calloc,
 * realloc and free (over the C library's, for the engine, zlib, protobuf-c and
 * cJSON alike) so that the Nth allocation fails. For N = 1, 2, ... until a run
 * meets no failure, one full profile cycle runs: build (samples, labels,
 * comments), symbols, encode, write to a dump directory, event line, prune.
 * Each time the profile is either refused (no file, nothing half-written) or
 * written whole, identical to the run without a failure; and whatever was
 * allocated is given back. */
#include "check.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static long fail_at = -1;   /* the allocation (counting from 0) that fails; -1: none */
static long allocations;    /* counted while a cycle runs */
static bool failed;         /* the planned failure happened */
static long live;           /* blocks allocated minus blocks freed */

static bool fail_now(void)
{
    if (fail_at < 0) return false;
    if (allocations++ != fail_at) return false;
    failed = true;
    errno = ENOMEM; /* as the C library's malloc does */
    return true;
}

void *malloc(size_t n)
{
    if (fail_now()) return NULL;
    void *p = __libc_malloc(n);
    if (p) live++;
    return p;
}

void *calloc(size_t n, size_t size)
{
    if (fail_now()) return NULL;
    void *p = __libc_calloc(n, size);
    if (p) live++;
    return p;
}

void *realloc(void *old, size_t n)
{
    if (fail_now()) return NULL;
    void *p = __libc_realloc(old, n);
    if (p && !old) live++;
    if (!p && old && n == 0) live--;
    return p;
}

void free(void *p)
{
    if (p) live--;
    __libc_free(p);
}

static volatile int sink;

static __attribute__((noinline)) int conan_test_oom_leaf(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) total += i * 3 + sink;
    return total;
}

static __attribute__((noinline)) int conan_test_oom_caller(int n)
{
    return conan_test_oom_leaf(n) ^ sink;
}

int main(void);

static const struct conan_value_type types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
static char dir[64];
static struct conan_config cfg;

/* One profile cycle, as the monitor runs it. Returns the encoded profile (the
 * caller frees it) or NULL if it was refused. */
static void *cycle(size_t *len)
{
    static const struct conan_trigger trigger = { .metric = "cpu", .reason = CONAN_REASON_ABS, .value = 90, .mean = 10 };
    struct conan_context ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.host, sizeof ctx.host, "testhost");
    void *gz = NULL;
    *len = 0;
    struct conan_pprof *p = conan_pprof_new(types, 2, types[1], 10000000);
    if (p) {
        uintptr_t pcs[3] = { (uintptr_t)conan_test_oom_leaf, (uintptr_t)conan_test_oom_caller + 1, (uintptr_t)main + 1 };
        for (int i = 0; i < 60; i++) {
            int64_t values[2] = { 1, 10000000 };
            char name[16];
            snprintf(name, sizeof name, "worker-%d", i % 7);
            struct conan_label labels[2] = { { .key = "thread", .str = name }, { .key = "tid", .num = 100 + i % 7 } };
            conan_pprof_add(p, pcs + i % 2, 3 - i % 2, values, labels, 2);
        }
        conan_pprof_pseudo_frame(p, "unavailable");
        conan_context_comments(p, &cfg, &ctx, &trigger);
        conan_pprof_comment(p, "samples: %d taken", 60);
        conan_pprof_set_time(p, 1700000000000000000LL, 1000000000LL);
        struct conan_symbols *syms = conan_symbols_open(); /* as the monitor: none, no profile */
        if (!syms || conan_pprof_encode(p, syms, &gz, len) != 0) {
            gz = NULL;
            *len = 0;
        }
        if (syms) conan_symbols_close(syms);
        conan_pprof_free(p);
    }
    char path[PATH_MAX];
    struct conan_event ev = { .kind = "cpu", .trigger = &trigger, .file = "" };
    if (gz && conan_dump_write(&cfg, "cpu", gz, *len, path, sizeof path) == 0) ev.file = path;
    else ev.error = "refused";
    conan_dump_event(&cfg, &ev);
    conan_dump_prune(&cfg);
    return gz;
}

/* The dump files in dir (profiles and temporaries; events.jsonl aside). */
static int files_in_dir(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || strstr(e->d_name, ".tmp")) n += strstr(e->d_name, ".pb.gz") != NULL;
    if (d) closedir(d);
    return n;
}

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && !strstr(e->d_name, ".tmp")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
}

/* Everything a reader sees, as text: functions, then comments. */
static char *describe(const void *gz, size_t len)
{
    Perftools__Profiles__Profile *prof = decode(gz, len);
    if (!prof) return NULL;
    size_t cap = 1 << 16, used = 0;
    char *text = __libc_calloc(1, cap);
    for (size_t i = 0; text && i < prof->n_function; i++)
        used += (size_t)snprintf(text + used, cap - used, "function %s\n", prof->string_table[prof->function[i]->name]);
    for (size_t i = 0; text && i < prof->n_comment; i++)
        used += (size_t)snprintf(text + used, cap - used, "comment %s\n", prof->string_table[prof->comment[i]]);
    used += (size_t)snprintf(text + used, cap - used, "samples %zu locations %zu mappings %zu\n", prof->n_sample,
                             prof->n_location, prof->n_mapping);
    perftools__profiles__profile__free_unpacked(prof, NULL);
    return text;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/conan-oom.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    conan_config_defaults(&cfg);
    snprintf(cfg.dump_dir, sizeof cfg.dump_dir, "%s", dir);

    /* The reference run, twice: the first warms what is set up once. */
    size_t len;
    __libc_free(cycle(&len));
    clear_dir();
    long before = live;
    void *ref = cycle(&len);
    CHECK(ref != NULL);
    char *want = ref ? describe(ref, len) : NULL;
    CHECK(want != NULL && strstr(want, "function conan_test_oom_caller"));
    free(ref);
    CHECK_INT(files_in_dir(), 1);
    CHECK_INT(live - before, 0);
    clear_dir();

    int refused = 0, whole = 0;
    long n;
    for (n = 0;; n++) {
        fail_at = n;
        allocations = 0;
        failed = false;
        before = live;
        void *gz = cycle(&len);
        fail_at = -1;
        if (!failed) { /* every allocation of the cycle came before n */
            free(gz);
            break;
        }
        int files = files_in_dir();
        if (gz) {
            char *got = describe(gz, len);
            if (!got || !want || strcmp(got, want) != 0) {
                fprintf(stderr, "allocation %ld failed: the profile written differs:\n%s\nwant:\n%s\n", n,
                        got ? got : "(unreadable)", want ? want : "");
                check_failures++;
            }
            __libc_free(got);
            whole += files == 1;
            if (files != 1 && files != 0) {
                fprintf(stderr, "allocation %ld failed: %d files in the dump directory\n", n, files);
                check_failures++;
            }
        } else {
            refused++;
            if (files != 0) {
                fprintf(stderr, "allocation %ld failed: refused, yet %d files were left\n", n, files);
                check_failures++;
            }
        }
        free(gz);
        if (live != before) {
            fprintf(stderr, "allocation %ld failed: %ld blocks not given back\n", n, live - before);
            check_failures++;
        }
        clear_dir();
    }
    printf("%ld allocations per cycle: %d failures refused the profile, %d still wrote it whole\n", n, refused, whole);
    CHECK(n > 20);
    __libc_free(want);
    clear_dir();
    char events[PATH_MAX];
    snprintf(events, sizeof events, "%s/events.jsonl", dir);
    unlink(events);
    rmdir(dir);
    return check_failures ? 1 : 0;
}
