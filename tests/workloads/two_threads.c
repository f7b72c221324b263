/* two_threads.c — two threads burning CPU for SECONDS of their own CPU time,
 * in two named functions, so tests can check how samples split between
 * threads. The right thread can start DELAY seconds after the left one, for a
 * thread born during a profiling window, or CPU rising mid-window.
 * usage: two_threads SECONDS [DELAY] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double seconds;
volatile double sink[2];

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void burn(int which)
{
    double x = 1.0001;
    while (thread_cpu_s() < seconds)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    sink[which] = x;
}

__attribute__((noinline)) static void *burn_left(void *arg) { (void)arg; burn(0); return NULL; }
__attribute__((noinline)) static void *burn_right(void *arg) { (void)arg; burn(1); return NULL; }

int main(int argc, char **argv)
{
    seconds = argc > 1 ? atof(argv[1]) : 3;
    double delay = argc > 2 ? atof(argv[2]) : 0;
    pthread_t a, b;
    pthread_create(&a, NULL, burn_left, NULL);
    pthread_setname_np(a, "burner-left");
    if (delay > 0) usleep((useconds_t)(delay * 1e6));
    pthread_create(&b, NULL, burn_right, NULL);
    pthread_setname_np(b, "burner-right");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("two_threads done\n");
    return 0;
}
