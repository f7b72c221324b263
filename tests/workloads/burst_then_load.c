/* burst_then_load.c — a short CPU burst in one function, a quiet gap, then a
 * milder, longer load in another: the burst is over before a rule that needs
 * a few ticks in a row can see it, and the load trips it. Prints the CPU
 * time the burst's threads spent, which is what the flight recorder's
 * samples of the burst must add up to.
 * usage: burst_then_load BURST_MS BURST_THREADS GAP_MS LOAD_MS
 * stdout: "burst cpu_ms N" then "done". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "burn.h"

static long burst_ms, load_ms;
static volatile double sink;

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Named so a test can find them in the profile. */
__attribute__((noinline)) void burst_in_first_function(void)
{
    sink = burn_wall_ms(burst_ms);
}

__attribute__((noinline)) void load_in_second_function(void)
{
    sink = burn_wall_ms(load_ms);
}

static void *burst_thread(void *arg)
{
    double *cpu_ms = arg;
    double t0 = thread_cpu_ms();
    burst_in_first_function();
    *cpu_ms = thread_cpu_ms() - t0;
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s BURST_MS BURST_THREADS GAP_MS LOAD_MS\n", argv[0]);
        return 2;
    }
    burst_ms = atol(argv[1]);
    int threads = atoi(argv[2]);
    long gap_ms = atol(argv[3]);
    load_ms = atol(argv[4]);
    if (threads < 1 || threads > 64) return 2;
    pthread_t tid[64];
    double cpu_ms[64] = { 0 }, total = 0;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, burst_thread, &cpu_ms[i]) != 0) return 1;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += cpu_ms[i];
    }
    printf("burst cpu_ms %.1f\n", total);
    fflush(stdout);
    sleep_ms(gap_ms);
    load_in_second_function();
    printf("done\n");
    return 0;
}
