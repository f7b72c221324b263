/* unwind_cost.c — the cost and reach of libconan's signal-context unwinder,
 * measured side by side with libunwind's stock local unwinder on the same
 * SIGPROF samples of a 25-frame recursion. Prints the median µs per walk for
 * each and fails if ours stops short of the stock depth, or costs more than
 * MAX_RATIO times the stock walk (the median of the per-sample ratios), or
 * over MAX_WALK_US in absolute terms.
 *
 * Both walks are timed in the thread's CPU time and compared sample by
 * sample, ours first on even samples and libunwind's first on odd ones. A
 * loaded machine slows both alike: each walk makes ~60 system calls (mostly
 * libunwind's sigprocmask around its caches), and system calls on this VM
 * cost several times more when other processes keep its CPUs busy (a median
 * walk took 13.7 µs alone and 90-130 µs of CPU beside another test suite,
 * which failed the absolute 100-µs bound this test used to have). The ratio
 * is our code's own property; 2.5x is a gross-regression bound, as the old
 * 100 µs was (7x the idle median): a walk that made a system call for every
 * word it reads measured 1.8-2.1x.
 * usage: unwind_cost (also run by the test suite) */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "internal.h"

#define MAX_SAMPLES 4096
#define MAX_RATIO 2.5    /* ours over the stock walk, median of the per-sample ratios */
#define MAX_WALK_US 1000 /* a sanity bound only: 8x the slowest median seen under load */

static double ours_ns[MAX_SAMPLES], stock_ns[MAX_SAMPLES], ratio[MAX_SAMPLES];
static int ours_depth[MAX_SAMPLES], stock_depth[MAX_SAMPLES];
static volatile int nsamples;

/* The thread's CPU time: time spent descheduled is not the walk's. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One walk each way; they return the CPU ns it took and store its depth. */
static double walk_ours(void *uc, int *depth)
{
    uintptr_t pcs[CONAN_MAX_FRAMES];
    double t0 = now_ns();
    *depth = conan_unwind_context(uc, pcs, CONAN_MAX_FRAMES);
    return now_ns() - t0;
}

static double walk_stock(void *uc, int *depth)
{
    unw_cursor_t cursor;
    int n = 0;
    double t0 = now_ns();
    if (unw_init_local2(&cursor, uc, UNW_INIT_SIGNAL_FRAME) == 0)
        do n++;
        while (n < CONAN_MAX_FRAMES && unw_step(&cursor) > 0);
    *depth = n;
    return now_ns() - t0;
}

static void on_sigprof(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)info;
    int i = nsamples;
    if (i >= MAX_SAMPLES) return;
    if (i % 2 == 0) {
        ours_ns[i] = walk_ours(uc, &ours_depth[i]);
        stock_ns[i] = walk_stock(uc, &stock_depth[i]);
    } else {
        stock_ns[i] = walk_stock(uc, &stock_depth[i]);
        ours_ns[i] = walk_ours(uc, &ours_depth[i]);
    }
    nsamples = i + 1;
}

__attribute__((noinline)) static double recurse(int levels, double x)
{
    if (levels == 0) {
        for (int i = 0; i < 2000000; i++) x = x * 1.0000001 + 1e-9;
        return x;
    }
    return recurse(levels - 1, x) + 1; /* not a tail call: one frame per level */
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    conan_unwind_prepare();
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    struct sigaction sa = { .sa_sigaction = on_sigprof, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    setitimer(ITIMER_PROF, &it, NULL);
    volatile double sink = 0;
    for (int round = 0; round < 300 && nsamples < 200; round++) sink = sink + recurse(25, 1.0);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);

    int n = nsamples, short_walks = 0;
    for (int i = 0; i < n; i++) {
        short_walks += ours_depth[i] < stock_depth[i];
        ratio[i] = stock_ns[i] > 0 ? ours_ns[i] / stock_ns[i] : 1e9;
    }
    qsort(ours_ns, (size_t)n, sizeof *ours_ns, by_value);
    qsort(stock_ns, (size_t)n, sizeof *stock_ns, by_value);
    qsort(ratio, (size_t)n, sizeof *ratio, by_value);
    double ours = ours_ns[n / 2] / 1e3, stock = stock_ns[n / 2] / 1e3, paired = ratio[n / 2];
    printf("samples %d: median per walk %.1f us (libconan) vs %.1f us (libunwind local), ratio %.2f; "
           "walks shorter than libunwind's: %d; median per-sample ratio %.2f (at most %.1f)\n", n, ours, stock,
           ours / stock, short_walks, paired, MAX_RATIO);
    return n >= 50 && short_walks == 0 && paired <= MAX_RATIO && ours <= MAX_WALK_US ? 0 : 1;
}
