/* two_threads.c — two threads burning CPU for SECONDS of their own CPU time,
 * in two named functions, so tests can check how samples split between
 * threads. The right thread can start DELAY seconds after the left one, for a
 * thread born during a profiling window, or CPU rising mid-window.
 *
 * With LOG, each thread also notes its CPU time as it goes (at its start,
 * every 2 ms of CPU and at its end), and LOG gets "<left|right> <CLOCK_REALTIME
 * ns> <thread CPU ns>" per note: a test can then tell how much CPU each thread
 * had inside a profiling window, however little a loaded machine gave it.
 * usage: two_threads SECONDS [DELAY [LOG]] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_NOTES 16384
#define NOTE_EVERY_NS 2000000.0 /* 2 ms of thread CPU */

static double seconds;
static int logging;
volatile double sink[2];

static struct notes {
    int n;
    struct { double wall_ns, cpu_ns; } at[MAX_NOTES];
} notes[2];

static double now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void note(int which, double cpu_ns)
{
    struct notes *n = &notes[which];
    if (logging && n->n < MAX_NOTES) {
        n->at[n->n].wall_ns = now_ns(CLOCK_REALTIME);
        n->at[n->n].cpu_ns = cpu_ns;
        n->n++;
    }
}

static void burn(int which)
{
    double x = 1.0001, cpu = now_ns(CLOCK_THREAD_CPUTIME_ID), noted = cpu;
    note(which, cpu);
    while (cpu < seconds * 1e9) {
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
        cpu = now_ns(CLOCK_THREAD_CPUTIME_ID);
        if (cpu - noted >= NOTE_EVERY_NS) note(which, noted = cpu);
    }
    note(which, cpu);
    sink[which] = x;
}

__attribute__((noinline)) static void *burn_left(void *arg) { (void)arg; burn(0); return NULL; }
__attribute__((noinline)) static void *burn_right(void *arg) { (void)arg; burn(1); return NULL; }

int main(int argc, char **argv)
{
    seconds = argc > 1 ? atof(argv[1]) : 3;
    double delay = argc > 2 ? atof(argv[2]) : 0;
    const char *log = argc > 3 ? argv[3] : NULL;
    logging = log != NULL;
    pthread_t a, b;
    pthread_create(&a, NULL, burn_left, NULL);
    pthread_setname_np(a, "burner-left");
    if (delay > 0) usleep((useconds_t)(delay * 1e6));
    pthread_create(&b, NULL, burn_right, NULL);
    pthread_setname_np(b, "burner-right");
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    FILE *f = log ? fopen(log, "w") : NULL;
    for (int which = 0; f && which < 2; which++)
        for (int i = 0; i < notes[which].n; i++)
            fprintf(f, "%s %.0f %.0f\n", which ? "right" : "left", notes[which].at[i].wall_ns,
                    notes[which].at[i].cpu_ns);
    if (f) fclose(f);
    printf("two_threads done\n");
    return 0;
}
