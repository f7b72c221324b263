/* wall_idle.c — the wall cost figure's workload: THREADS threads, all but
 * TICKERS parked in pthread_cond_wait, TICKERS waking every 20 ms for a
 * little work (a mostly idle server's pool and its timers). Main asks libconan for profiles (a CPU
 * window, and with wall.enable a wall profile of it) and waits for the CPU
 * profile, then ends the threads.
 *
 * usage: bench_wall_idle THREADS TICKERS DUMP_DIR */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "../workloads/profiles.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static volatile int done;
static volatile double sink;

__attribute__((noinline)) static void park_in_pool(void)
{
    pthread_mutex_lock(&lock);
    while (!done) pthread_cond_wait(&wake, &lock);
    pthread_mutex_unlock(&lock);
}

__attribute__((noinline)) static void tick_every_20ms(void)
{
    while (!done) {
        struct timespec t = { 0, 20000000 };
        nanosleep(&t, NULL);
        for (int i = 0; i < 2000; i++) sink = sink * 0.5 + i;
    }
}

static void *parked(void *a) { (void)a; park_in_pool(); return NULL; }
static void *ticker(void *a) { (void)a; tick_every_20ms(); return NULL; }

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_wall_idle THREADS TICKERS DUMP_DIR\n");
        return 2;
    }
    int n = atoi(argv[1]), tickers = atoi(argv[2]);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, i < tickers ? ticker : parked, NULL) != 0) return 2;
    struct timespec settle = { 0, 200000000 }; /* setup: the pool parks */
    nanosleep(&settle, NULL);
    if (request_profiles(argv[3], "cpu", 1) < 1) {
        fprintf(stderr, "bench_wall_idle: no CPU profile\n");
        return 1;
    }
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    return 0;
}
