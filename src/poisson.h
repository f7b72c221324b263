/* poisson.h — the sampling intervals heap.c and mutex.c share: each thread
 * counts down an exponentially distributed amount (bytes, nanoseconds) from
 * its own xorshift generator, so every unit is a sampling point with the same
 * probability 1/mean and an event of size s is sampled with probability
 * 1 - e^(-s/mean) whatever came before it (Poisson sampling, as in tcmalloc,
 * jemalloc and Go). */
#ifndef CONAN_POISSON_H
#define CONAN_POISSON_H

#include <math.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t conan_poisson_random(uint64_t *state)
{
    uint64_t x = *state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Exponentially distributed with the given mean, at least 1. */
static inline int64_t conan_poisson_interval(uint64_t *state, double mean)
{
    double u = (double)((conan_poisson_random(state) >> 11) + 1) / 9007199254740993.0; /* (0, 1] */
    double v = -log(u) * mean;
    if (v < 1) v = 1;
    if (v > 1e15) v = 1e15;
    return (int64_t)v;
}

/* A generator seeded from the clock, the thread and salt (its state's address). */
static inline void conan_poisson_seed(uint64_t *state)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)state ^
                 ((uint64_t)gettid() << 17);
    *state = s ? s : 0x9E3779B97F4A7C15ull;
    conan_poisson_random(state);
}

/* How many events one sample of size s stands for at this mean: 1/p with
 * p = 1 - e^(-s/mean), the probability that it was sampled. */
static inline double conan_poisson_weight(double s, double mean)
{
    if (s < 1) s = 1;
    return 1.0 / -expm1(-s / mean);
}

#endif
