/* heap_stress.c — 8 threads allocate and free across threads: each puts a new
 * block (malloc, calloc or realloc of 16–512 bytes) into a random slot of a
 * shared array and frees whatever block, from whichever thread, was there.
 * At the end everything is freed, the exact number of allocations made in
 * stress_worker is printed, and, with DUMP_DIR and the shim present, a heap
 * profile is requested on demand and awaited (10 s at most).
 * usage: heap_stress THREADS ITERATIONS [DUMP_DIR] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiles.h"

#define SLOTS 4096

static void *slot[SLOTS];
static long iterations;
static long allocations; /* atomic */

__attribute__((noinline)) static void *stress_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    long made = 0;
    for (long i = 0; i < iterations; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 16 + (seed >> 8) % 497;
        unsigned kind = (seed >> 20) % 3;
        void *p;
        if (kind == 0) {
            p = malloc(size);
        } else if (kind == 1) {
            p = calloc(1, size);
        } else {
            p = realloc(malloc(16), size); /* two allocations: malloc, then realloc's */
            made++;
        }
        made++;
        memset(p, 1, 8);
        void *old = __atomic_exchange_n(&slot[(seed >> 4) % SLOTS], p, __ATOMIC_ACQ_REL);
        free(old);
    }
    __atomic_fetch_add(&allocations, made, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    iterations = argc > 2 ? atol(argv[2]) : 200000;
    if (threads < 1 || threads > 64) return 2;
    pthread_t tid[64];
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, stress_worker, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    printf("allocations %ld\n", allocations);
    fflush(stdout);
    if (argc > 3) request_profiles(argv[3], "heap", 1);
    return 0;
}
