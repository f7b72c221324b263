/* short_threads.c — the main thread burns CPU in main_burn for SECONDS; after
 * DELAY seconds it starts COUNT short-lived threads one after another, named
 * short-0, short-1..., each burning 40 ms of CPU in short_lived_burner and
 * exiting. For CPU windows that must arm threads as they are born and give
 * their timers back as they end. With LOG, writes there "<name> <start> <end>"
 * per short thread (CLOCK_REALTIME ns), so a test can tell which of them lived
 * inside a profiling window.
 * usage: short_threads SECONDS DELAY COUNT [LOG] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile double sink;

#define MAX_SHORT 64
static double lived[MAX_SHORT][2]; /* start, end: CLOCK_REALTIME ns */

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void burn_until(double cpu_s)
{
    double x = 1.0001;
    while (clock_s(CLOCK_THREAD_CPUTIME_ID) < cpu_s)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    sink = x;
}

__attribute__((noinline)) static void *short_lived_burner(void *arg)
{
    int i = (int)(long)arg;
    if (i < MAX_SHORT) lived[i][0] = clock_s(CLOCK_REALTIME) * 1e9;
    char name[16];
    snprintf(name, sizeof name, "short-%d", i);
    pthread_setname_np(pthread_self(), name);
    burn_until(0.040);
    if (i < MAX_SHORT) lived[i][1] = clock_s(CLOCK_REALTIME) * 1e9;
    return NULL;
}

__attribute__((noinline)) static void main_burn(double until_wall_s)
{
    double x = 1.0001;
    while (clock_s(CLOCK_MONOTONIC) < until_wall_s)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    sink = x;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3, delay = argc > 2 ? atof(argv[2]) : 1.2;
    int count = argc > 3 ? atoi(argv[3]) : 10;
    double start = clock_s(CLOCK_MONOTONIC);
    main_burn(start + delay);
    for (int i = 0; i < count; i++) {
        pthread_t t;
        pthread_create(&t, NULL, short_lived_burner, (void *)(long)i);
        pthread_join(t, NULL);
    }
    main_burn(start + seconds);
    FILE *f = argc > 4 ? fopen(argv[4], "w") : NULL;
    for (int i = 0; f && i < count && i < MAX_SHORT; i++) fprintf(f, "short-%d %.0f %.0f\n", i, lived[i][0], lived[i][1]);
    if (f) fclose(f);
    printf("done\n");
    return 0;
}
