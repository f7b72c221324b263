/* burn.h — the busy loop the C workloads share: floating-point work for ms
 * milliseconds of wall time. Always inlined, so samples land in the caller's
 * distinctly named function, which is what the tests look for. */
#ifndef CONAN_WORKLOAD_BURN_H
#define CONAN_WORKLOAD_BURN_H

#include <time.h>

static inline double burn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline __attribute__((always_inline)) double burn_wall_ms(long ms)
{
    double end = burn_now_ms() + ms, x = 1.0001;
    while (burn_now_ms() < end)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

#endif
