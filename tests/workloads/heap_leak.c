/* heap_leak.c — a heap that creeps up, from one distinctly named function.
 * leak_into_cache keeps LEAK_MIB MiB in blocks of 1–64 KiB (touched, so they
 * are resident too); churn_short_lived, on another thread, allocates and frees
 * all the while. Then the program waits until PROFILES heap profiles (default
 * 1) appear in DUMP_DIR (the rule under test writes them) or WAIT_S seconds
 * pass, leaking LEAK_MIB more after the first one, and prints the exact bytes
 * it leaked. With PROGRESS_FILE, it also writes there how far leak_into_cache
 * had got at each block: "<CLOCK_REALTIME ms> <bytes leaked>" per line, so a
 * test can tell what a profile taken at a given time should have seen.
 * usage: heap_leak LEAK_MIB DUMP_DIR [WAIT_S [PROFILES [PROGRESS_FILE]]] */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiles.h"

static volatile int stop;
static void **cache;
static size_t cached;
static struct progress { double wall_ms; size_t leaked; } *progress; /* one per cached block */

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

__attribute__((noinline)) size_t leak_into_cache(size_t total)
{
    unsigned seed = 42;
    size_t leaked = 0;
    cache = calloc(total / 1024 + 1, sizeof *cache);
    while (leaked < total) {
        size_t n = 1024 + next_random(&seed) % (63 * 1024 + 1);
        if (n > total - leaked) n = total - leaked;
        char *p = malloc(n);
        if (!p) break;
        memset(p, (int)cached, n);
        leaked += n;
        if (progress) progress[cached] = (struct progress){ wall_ms(), leaked };
        cache[cached++] = p;
    }
    return leaked;
}

/* What the follow-up profile sees on top of the first one. */
__attribute__((noinline)) static size_t grow_after_first_profile(size_t total)
{
    size_t grown = 0;
    static void *more[1024];
    for (int i = 0; i < 1024 && grown < total; i++) {
        size_t n = total / 1024;
        more[i] = malloc(n);
        memset(more[i], 3, n);
        grown += n;
    }
    return grown;
}

__attribute__((noinline)) static void *churn_short_lived(void *arg)
{
    (void)arg;
    unsigned seed = 7;
    while (!stop) {
        void *held[64];
        for (int i = 0; i < 64; i++) {
            held[i] = malloc(16 + next_random(&seed) % 4096);
            memset(held[i], 1, 16);
        }
        for (int i = 0; i < 64; i++) free(held[i]);
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: heap_leak LEAK_MIB DUMP_DIR [WAIT_S [PROFILES [PROGRESS_FILE]]]\n");
        return 2;
    }
    size_t total = (size_t)atol(argv[1]) << 20;
    int wait_s = argc > 3 ? atoi(argv[3]) : 20;
    int profiles = argc > 4 ? atoi(argv[4]) : 1;
    if (argc > 5) progress = calloc(total / 1024 + 1, sizeof *progress); /* here: not leak_into_cache's */
    pthread_t churn;
    pthread_create(&churn, NULL, churn_short_lived, NULL);
    size_t leaked = leak_into_cache(total);
    bool grew = false;
    for (int i = 0; i < wait_s * 20 && profiles_of_kind(argv[2], "heap") < profiles; i++) {
        if (!grew && profiles > 1 && profiles_of_kind(argv[2], "heap") > 0) {
            leaked += grow_after_first_profile(total);
            grew = true;
        }
        struct timespec tick = { 0, 50000000 };
        nanosleep(&tick, NULL);
    }
    stop = 1;
    pthread_join(churn, NULL);
    printf("leaked %zu\n", leaked);
    FILE *f = argc > 5 ? fopen(argv[5], "w") : NULL;
    for (size_t i = 0; f && progress && i < cached; i++) fprintf(f, "%.3f %zu\n", progress[i].wall_ms, progress[i].leaked);
    if (f) fclose(f);
    return 0;
}
