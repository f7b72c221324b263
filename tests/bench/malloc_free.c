/* malloc_free.c — the cost of a malloc+free pair, 16–512 bytes, on N threads.
 * Each thread keeps a ring of 64 live blocks: every iteration frees the
 * oldest and allocates a new one, so the allocator sees a realistic mix of
 * sizes and reuse. Prints the median over threads of ns per malloc+free pair.
 * Run it bare and under LD_PRELOAD to compare (tests/bench/malloc_overhead.sh).
 * usage: malloc_free THREADS PAIRS_PER_THREAD */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RING 64
#define SIZES 1024

static long pairs;
static size_t sizes[SIZES];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *run(void *arg)
{
    double *ns_per_pair = arg;
    void *ring[RING] = { 0 };
    double start = now_ns();
    for (long i = 0; i < pairs; i++) {
        free(ring[i & (RING - 1)]);
        void *p = malloc(sizes[i & (SIZES - 1)]);
        *(volatile char *)p = 1;
        ring[i & (RING - 1)] = p;
    }
    *ns_per_pair = (now_ns() - start) / (double)pairs;
    for (int i = 0; i < RING; i++) free(ring[i]);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    pairs = argc > 2 ? atol(argv[2]) : 20000000;
    if (threads < 1 || threads > 64 || pairs < 1) return 2;
    unsigned seed = 1;
    for (int i = 0; i < SIZES; i++) {
        seed = seed * 1103515245u + 12345u;
        sizes[i] = 16 + (seed >> 8) % 497;
    }
    pthread_t tid[64];
    double ns[64];
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run, &ns[t]);
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    qsort(ns, (size_t)threads, sizeof ns[0], by_value);
    printf("%.3f\n", ns[threads / 2]);
    return 0;
}
