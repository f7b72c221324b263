/* test_frame_rules.c — the cached-rule walk (src/frame_rules.c) against
 * libgcc's own walk of the same stack: plain recursion, frames with alloca and
 * with a frame pointer (rbp-based CFA), a 200-KiB frame, a frame too large to
 * pack (the walk must refuse, the fallback must still be right), frames inside
 * libc (qsort calling back), a thread's stack, and a forgotten generation
 * (dlclose) making rules be computed again. Prints the cost of both walks. */
#include "check.h"
#include "internal.h"

#include <alloca.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unwind.h>

#define MAX 64

typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*get_ip_info_fn)(struct _Unwind_Context *, int *);
static backtrace_fn gcc_backtrace;
static get_ip_info_fn gcc_get_ip_info;
static volatile int sink;

struct walk {
    uintptr_t pcs[MAX];
    int depth;
};

static _Unwind_Reason_Code collect(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    int exact = 0;
    uintptr_t ip = (uintptr_t)gcc_get_ip_info(ctx, &exact);
    if (ip == 0) return _URC_END_OF_STACK;
    w->pcs[w->depth++] = exact ? ip : ip - 1;
    return w->depth < MAX ? _URC_NO_REASON : _URC_END_OF_STACK;
}

static __attribute__((noinline)) void libgcc_walk(struct walk *w)
{
    w->depth = 0;
    gcc_backtrace(collect, w);
}

/* Both walks from here, then the frames they share must be the same: from the
 * first address of the fast walk found in libgcc's, to the end of both. */
static int compared, longest;

static __attribute__((noinline)) int compare_here(const char *what)
{
    struct walk fast, slow;
    fast.depth = conan_unwind_here(fast.pcs, MAX);
    libgcc_walk(&slow);
    int i = 0, j = -1;
    for (; i < fast.depth && j < 0; i++)
        for (int k = 0; k < slow.depth; k++)
            if (slow.pcs[k] == fast.pcs[i]) {
                j = k;
                break;
            }
    i--;
    if (j < 0) {
        fprintf(stderr, "%s: no frame in common (fast %d, libgcc %d frames)\n", what, fast.depth, slow.depth);
        check_failures++;
        return 0;
    }
    int shared = fast.depth - i;
    if (shared != slow.depth - j || memcmp(fast.pcs + i, slow.pcs + j, (size_t)shared * sizeof(uintptr_t)) != 0) {
        fprintf(stderr, "%s: walks differ (fast %d frames from %d, libgcc %d from %d)\n", what, fast.depth, i,
                slow.depth, j);
        for (int k = 0; k < fast.depth || k < slow.depth; k++)
            fprintf(stderr, "  %2d  %#14lx  %#14lx\n", k, k < fast.depth ? (unsigned long)fast.pcs[k] : 0ul,
                    k < slow.depth ? (unsigned long)slow.pcs[k] : 0ul);
        check_failures++;
    }
    compared++;
    if (shared > longest) longest = shared;
    return shared;
}

/* ---- the shapes of frame ---- */

static __attribute__((noinline)) int recurse(int n, const char *what)
{
    if (n == 0) return compare_here(what);
    return recurse(n - 1, what) + sink; /* not a tail call */
}

static __attribute__((noinline)) int with_alloca(int n, const char *what)
{
    char *p = alloca((size_t)n + sink);
    p[0] = (char)n;
    int r = recurse(3, what);
    return r + p[0] - n + sink;
}

/* A frame that keeps its frame pointer: GCC has a per-function attribute for
 * it; clang has none, but a variable-size alloca needs one too. */
#ifdef __clang__
static __attribute__((noinline)) int with_frame_pointer(const char *what)
{
    volatile char *keep = alloca((size_t)sink + 1);
    keep[0] = 0;
    int r = with_alloca(40, what);
    return r + sink + keep[0];
}
#else
static __attribute__((noinline, optimize("no-omit-frame-pointer"))) int with_frame_pointer(const char *what)
{
    int r = with_alloca(40, what);
    return r + sink;
}
#endif

static __attribute__((noinline)) int big_frame(const char *what, size_t touch)
{
    volatile char buf[200 * 1024];
    buf[touch % sizeof buf] = 1;
    int r = recurse(2, what);
    return r + buf[touch % sizeof buf] - 1;
}

static __attribute__((noinline)) int huge_frame(const char *what, size_t touch)
{
    volatile char buf[600 * 1024]; /* over the 512 KiB a packed rule holds */
    buf[touch % sizeof buf] = 1;
    int r = recurse(2, what);
    return r + buf[touch % sizeof buf] - 1;
}

static int qsort_result;
static int by_value(const void *a, const void *b)
{
    static int once;
    if (conan_first_time(&once)) qsort_result = recurse(2, "inside qsort");
    return *(const int *)a - *(const int *)b;
}

static void *thread_main(void *arg)
{
    (void)arg;
    conan_frame_rules_thread_start(); /* what the thread registry does */
    return (void *)(intptr_t)recurse(12, "thread");
}

/* A thread whose bounds were never looked up: refused, libgcc walks it. */
static void *unknown_thread_main(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)recurse(4, "thread of unknown bounds");
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static __attribute__((noinline)) void time_walks(double *fast_ns, double *slow_ns)
{
    struct walk w;
    enum { N = 20000 };
    double t0 = now_ns();
    for (int i = 0; i < N; i++) w.depth = conan_unwind_here(w.pcs, MAX);
    double t1 = now_ns();
    for (int i = 0; i < N; i++) libgcc_walk(&w);
    double t2 = now_ns();
    *fast_ns = (t1 - t0) / N;
    *slow_ns = (t2 - t1) / N;
}

static __attribute__((noinline)) int timed_chain(int n, double *fast_ns, double *slow_ns)
{
    if (n == 0) {
        time_walks(fast_ns, slow_ns);
        return 0;
    }
    return timed_chain(n - 1, fast_ns, slow_ns) + sink;
}

int main(void)
{
    void *gcc_s = dlopen("libgcc_s.so.1", RTLD_NOW);
    CHECK(gcc_s != NULL);
    if (!gcc_s) return 1;
    gcc_backtrace = (backtrace_fn)dlsym(gcc_s, "_Unwind_Backtrace");
    gcc_get_ip_info = (get_ip_info_fn)dlsym(gcc_s, "_Unwind_GetIPInfo");
    conan_unwind_prepare();
    conan_frame_rules_thread_start();

    long miss0, refused0, miss1, refused1, miss2, refused2;
    conan_frame_rules_stats(&miss0, &refused0);

    /* the fast walk must be the one taken: no refusal on these */
    CHECK(recurse(20, "recursion") >= 20);
    CHECK(with_frame_pointer("alloca and frame pointer") >= 6);
    CHECK(big_frame("200-KiB frame", (size_t)rand()) >= 3);
    int values[64];
    for (int i = 0; i < 64; i++) values[i] = 64 - i;
    qsort(values, 64, sizeof values[0], by_value);
    CHECK(qsort_result >= 3);
    pthread_t t;
    void *thread_shared = NULL;
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
    pthread_join(t, &thread_shared);
    CHECK((intptr_t)thread_shared >= 12);
    conan_frame_rules_stats(&miss1, &refused1);
    CHECK_INT(refused1 - refused0, 0);
    CHECK(miss1 > miss0);

    /* the same stack again, from the same call site: every rule is cached;
     * after a dlclose they are computed again (one per distinct return
     * address: the recursion's frames share one), and the walk is the same */
    long missed[3];
    for (int round = 0; round < 3; round++) {
        if (round == 2) conan_frame_rules_forget();
        conan_frame_rules_stats(&miss1, &refused1);
        recurse(20, round == 2 ? "recursion after forget" : "recursion again");
        conan_frame_rules_stats(&miss2, &refused2);
        missed[round] = miss2 - miss1;
    }
    CHECK_INT(missed[1], 0);
    CHECK(missed[2] >= 3);
    CHECK(missed[2] >= missed[0]);

    pthread_t u;
    CHECK(pthread_create(&u, NULL, unknown_thread_main, NULL) == 0);
    pthread_join(u, &thread_shared);
    CHECK((intptr_t)thread_shared >= 4);
    conan_frame_rules_stats(&miss1, &refused1);
    CHECK_INT(refused1 - refused2, 1);

    /* a frame whose rule does not pack: refused, and libgcc's walk is used.
     * (AddressSanitizer realigns such a frame and addresses it from rbp, whose
     * rule packs: there only the walk's result is checked.) */
    CHECK(huge_frame("600-KiB frame", (size_t)rand()) >= 3);
    conan_frame_rules_stats(&miss2, &refused2);
#ifndef __SANITIZE_ADDRESS__
    CHECK(refused2 - refused1 >= 1);
#endif

    double fast_ns, slow_ns;
    timed_chain(8, &fast_ns, &slow_ns);
    printf("compared %d walks, longest %d shared frames; rules computed %ld, walks refused %ld\n", compared, longest,
           miss2 - miss0, refused2 - refused0);
    printf("walk of a %d-frame stack: cached rules %.0f ns, libgcc %.0f ns (%.1fx)\n", 8 + 4, fast_ns, slow_ns,
           slow_ns / fast_ns);
    CHECK(fast_ns < slow_ns);
    CHECK_DONE();
}
