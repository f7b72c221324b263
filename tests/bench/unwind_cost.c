/* unwind_cost.c — the cost and reach of libconan's signal-context unwinder,
 * measured side by side with libunwind's stock local unwinder on the same
 * SIGPROF samples of a 25-frame recursion. Prints the median µs per walk for
 * each and fails if ours is over 100 µs or stops short of the stock depth.
 * usage: unwind_cost (also run by the test suite) */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "internal.h"

#define MAX_SAMPLES 4096

static double ours_ns[MAX_SAMPLES], stock_ns[MAX_SAMPLES];
static int ours_depth[MAX_SAMPLES], stock_depth[MAX_SAMPLES];
static volatile int nsamples;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void on_sigprof(int sig, siginfo_t *info, void *uc)
{
    (void)sig, (void)info;
    int i = nsamples;
    if (i >= MAX_SAMPLES) return;
    uintptr_t pcs[CONAN_MAX_FRAMES];
    double t0 = now_ns();
    ours_depth[i] = conan_unwind_context(uc, pcs, CONAN_MAX_FRAMES);
    double t1 = now_ns();
    unw_cursor_t cursor;
    int depth = 0;
    if (unw_init_local2(&cursor, uc, UNW_INIT_SIGNAL_FRAME) == 0)
        do depth++;
        while (depth < CONAN_MAX_FRAMES && unw_step(&cursor) > 0);
    double t2 = now_ns();
    stock_depth[i] = depth;
    ours_ns[i] = t1 - t0;
    stock_ns[i] = t2 - t1;
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
    for (int round = 0; round < 300 && nsamples < 200; round++) sink += recurse(25, 1.0);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);

    int n = nsamples, short_walks = 0;
    for (int i = 0; i < n; i++) short_walks += ours_depth[i] < stock_depth[i];
    qsort(ours_ns, (size_t)n, sizeof *ours_ns, by_value);
    qsort(stock_ns, (size_t)n, sizeof *stock_ns, by_value);
    double ours = ours_ns[n / 2] / 1e3, stock = stock_ns[n / 2] / 1e3;
    printf("samples %d: median per walk %.1f us (libconan) vs %.1f us (libunwind local), ratio %.2f; "
           "walks shorter than libunwind's: %d\n", n, ours, stock, ours / stock, short_walks);
    return n >= 50 && ours < 100 && short_walks == 0 ? 0 : 1;
}
