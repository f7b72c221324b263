/* burn.h — the busy loops the workloads share: floating-point work for ms
 * milliseconds of wall time, or of the thread's CPU time. Always inlined, so
 * samples land in the caller's distinctly named function, which is what the
 * tests look for. */
#ifndef CONAN_WORKLOAD_BURN_H
#define CONAN_WORKLOAD_BURN_H

#include <time.h>

static inline double burn_clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline double burn_now_ms(void) { return burn_clock_ms(CLOCK_MONOTONIC); }

/* Busy until clock has advanced by ms; iterations per clock read set how
 * finely it stops. */
static inline __attribute__((always_inline)) double burn_on(clockid_t clock, double ms, int iterations)
{
    double end = burn_clock_ms(clock) + ms, x = 1.0001;
    while (burn_clock_ms(clock) < end)
        for (int i = 0; i < iterations; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

static inline __attribute__((always_inline)) double burn_wall_ms(long ms)
{
    return burn_on(CLOCK_MONOTONIC, (double)ms, 20000);
}

/* ms of the calling thread's CPU time, however long that takes. */
static inline __attribute__((always_inline)) double burn_cpu_ms(double ms)
{
    return burn_on(CLOCK_THREAD_CPUTIME_ID, ms, 2000);
}

#endif
