/* mutex_lock.c — the cost of pthread_mutex_lock+unlock, for the mutex
 * profiler's figures (tests/bench/mutex_overhead.sh).
 * - uncontended THREADS PAIRS: each thread locks and unlocks a mutex of its
 *   own PAIRS times; prints the median over threads of ns per lock+unlock.
 * - contended THREADS PAIRS: the threads share one mutex, each doing PAIRS
 *   short critical sections (a shared counter and a few dependent multiplies)
 *   with a little work outside; prints the throughput, critical sections per
 *   second of wall time, of all threads together.
 * Run it bare and under LD_PRELOAD to compare.
 * usage: mutex_lock uncontended|contended THREADS PAIRS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 64

static long pairs;
static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;
static pthread_barrier_t go;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *uncontended(void *arg)
{
    double *ns_per_pair = arg;
    pthread_mutex_t own = PTHREAD_MUTEX_INITIALIZER;
    pthread_barrier_wait(&go);
    double start = now_ns();
    for (long i = 0; i < pairs; i++) {
        pthread_mutex_lock(&own);
        __asm__ volatile("" ::: "memory");
        pthread_mutex_unlock(&own);
    }
    *ns_per_pair = (now_ns() - start) / (double)pairs;
    return NULL;
}

static void *contended(void *arg)
{
    (void)arg;
    unsigned long x = 1;
    pthread_barrier_wait(&go);
    for (long i = 0; i < pairs; i++) {
        pthread_mutex_lock(&shared);
        unsigned long c = counter;
        for (int k = 0; k < 8; k++) c = c * 6364136223846793005ul + 1;
        counter = c;
        pthread_mutex_unlock(&shared);
        for (int k = 0; k < 16; k++) x = x * 2862933555777941757ul + 3037000493ul;
    }
    __asm__ volatile("" ::"r"(x));
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mutex_lock uncontended|contended THREADS PAIRS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    pairs = atol(argv[3]);
    int is_contended = strcmp(argv[1], "contended") == 0;
    if (threads < 1 || threads > MAX_THREADS || pairs < 1) return 2;
    pthread_t tid[MAX_THREADS];
    double ns[MAX_THREADS];
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, is_contended ? contended : uncontended, &ns[t]);
    pthread_barrier_wait(&go);
    double start = now_ns();
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double wall = now_ns() - start;
    if (is_contended) {
        printf("%.0f\n", (double)pairs * threads / (wall / 1e9));
    } else {
        qsort(ns, (size_t)threads, sizeof ns[0], by_value);
        printf("%.3f\n", ns[threads / 2]);
    }
    return 0;
}
