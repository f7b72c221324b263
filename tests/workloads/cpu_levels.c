/* cpu_levels.c — two levels of process CPU whose gap survives a loaded
 * machine: for LIGHT_MS one thread in light_load burns 1 ms of its CPU time
 * every 10 ms (a tenth of a CPU, which it gets even beside busy processes: it
 * needs little and sleeps), then for HEAVY_MS THREADS threads in heavy_load
 * burn without pause (their share shrinks under load, but THREADS of them
 * still take many times the light level). Both phases end at wall-clock
 * deadlines, so windows and ticks line up with them whatever the load.
 * usage: cpu_levels LIGHT_MS HEAVY_MS THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "burn.h"

#define MAX_THREADS 64
#define DUTY_PERIOD_MS 10 /* light_load: 1 ms of CPU in each period */

static double heavy_end_ms;
volatile double sink;

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec ts = { (time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6) };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

__attribute__((noinline)) static void light_load(double until_ms)
{
    double x = 1.0001;
    for (double period = burn_now_ms(); period < until_ms; period += DUTY_PERIOD_MS) {
        double cpu_end = thread_cpu_ms() + 1;
        while (thread_cpu_ms() < cpu_end)
            for (int i = 0; i < 2000; i++) x = x * 1.0000001 + 1e-9;
        double next = period + DUTY_PERIOD_MS;
        if (next > until_ms) next = until_ms;
        sleep_ms(next - burn_now_ms());
    }
    sink = x;
}

__attribute__((noinline)) static void *heavy_load(void *arg)
{
    (void)arg;
    double x = 1.0001;
    while (burn_now_ms() < heavy_end_ms)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    sink = x;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s LIGHT_MS HEAVY_MS THREADS\n", argv[0]);
        return 2;
    }
    long light = atol(argv[1]), heavy = atol(argv[2]);
    int threads = atoi(argv[3]);
    if (threads < 1 || threads > MAX_THREADS) return 2;
    light_load(burn_now_ms() + light);
    heavy_end_ms = burn_now_ms() + heavy;
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, heavy_load, NULL) != 0) return 1;
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    printf("cpu_levels done\n");
    return 0;
}
