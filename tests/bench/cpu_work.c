/* cpu_work.c — the CPU-bound workload of figures 2, 3 and 7: two threads,
 * "worker-a" running worker_a and "worker-b" running worker_b, each doing the
 * same fixed amount of floating-point work (UNITS units), or working for
 * SECONDS of wall time. The two functions are distinct so that a profiler
 * without thread labels (gperftools) still shows how samples split between
 * the threads.
 *
 * --wait-window S: first wait (at most S seconds) until a SIGPROF timer exists
 *   in the process (/proc/self/timers): libconan's window is open, so the work
 *   is profiled from its first instruction. Exits 3 if none appears.
 * --tree: each unit runs at the end of a random descent (depth 0–15) through
 *   16 distinct functions, so nearly every sample has a stack of its own: the
 *   largest profile a 2-thread program of this length can give.
 *
 * Prints one line: units U wall_s W cpu_a A cpu_b B process_cpu_s P start_ns S
 * (per-thread CPU from each thread's own clock, process CPU from getrusage
 * over the work, start_ns the CLOCK_REALTIME at which the work began).
 * usage: cpu_work [--wait-window S] [--tree] (UNITS | --seconds S) */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define UNIT_ITERATIONS 100000 /* ~0.3 ms on a 2–3 GHz core */
#define TREE_FANOUT 16
#define TREE_MAX_DEPTH 16

static long units;           /* fixed work per thread, or 0 with --seconds */
static double deadline_s;    /* CLOCK_MONOTONIC end with --seconds */
static bool tree;
volatile double sink;        /* keeps the work alive */

struct worker {
    long done;
    double cpu_s;
    double sink;
};

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double one_unit(double x)
{
    for (int i = 0; i < UNIT_ITERATIONS; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* The call tree: node_N either does the unit or calls a random node one
 * level down. "+ 1" after the call keeps each level a real frame. */
typedef double (*node_fn)(unsigned *seed, int depth, double x);
static node_fn nodes[TREE_FANOUT];
#define NODE(n)                                                                            \
    __attribute__((noinline)) static double node_##n(unsigned *seed, int depth, double x) \
    {                                                                                      \
        if (depth <= 0) return one_unit(x);                                                \
        return nodes[next_random(seed) % TREE_FANOUT](seed, depth - 1, x) + 1;             \
    }
NODE(0) NODE(1) NODE(2) NODE(3) NODE(4) NODE(5) NODE(6) NODE(7)
NODE(8) NODE(9) NODE(10) NODE(11) NODE(12) NODE(13) NODE(14) NODE(15)
static node_fn nodes[TREE_FANOUT] = { node_0, node_1, node_2,  node_3,  node_4,  node_5,  node_6,  node_7,
                                      node_8, node_9, node_10, node_11, node_12, node_13, node_14, node_15 };

static bool more_work(long done)
{
    return units > 0 ? done < units : clock_s(CLOCK_MONOTONIC) < deadline_s;
}

/* The body both workers share; always inlined, so the samples land in
 * worker_a or worker_b themselves (or in the tree below them). */
static inline __attribute__((always_inline)) void work(struct worker *w, unsigned seed)
{
    double x = 1.0001;
    long done = 0;
    while (more_work(done)) {
        x = tree ? nodes[next_random(&seed) % TREE_FANOUT](&seed, (int)(next_random(&seed) % TREE_MAX_DEPTH), x)
                 : one_unit(x);
        done++;
    }
    w->done = done;
    w->sink = x;
    w->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID);
}

__attribute__((noinline)) static void *worker_a(void *arg) { work(arg, 1); return NULL; }
__attribute__((noinline)) static void *worker_b(void *arg) { work(arg, 2); return NULL; }

static bool sigprof_timer_exists(void)
{
    FILE *f = fopen("/proc/self/timers", "r");
    if (!f) return false;
    char line[128];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strncmp(line, "signal: 27/", 11) == 0;
    fclose(f);
    return found;
}

static double rusage_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    double wait_window_s = 0, seconds = 0;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--tree") == 0) tree = true;
        else if (strcmp(argv[i], "--wait-window") == 0 && i + 1 < argc) wait_window_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else break;
    }
    if (i < argc) units = atol(argv[i++]);
    if (i != argc || (units <= 0) == (seconds <= 0)) {
        fprintf(stderr, "usage: cpu_work [--wait-window S] [--tree] (UNITS | --seconds S)\n");
        return 2;
    }
    if (wait_window_s > 0) {
        double give_up = clock_s(CLOCK_MONOTONIC) + wait_window_s;
        while (!sigprof_timer_exists()) {
            if (clock_s(CLOCK_MONOTONIC) > give_up) {
                fprintf(stderr, "cpu_work: no SIGPROF timer after %.1f s\n", wait_window_s);
                return 3;
            }
            struct timespec ms = { 0, 2000000 };
            nanosleep(&ms, NULL);
        }
    }
    struct worker a = { 0 }, b = { 0 };
    pthread_t ta, tb;
    double cpu0 = rusage_cpu_s(), start = clock_s(CLOCK_MONOTONIC);
    struct timespec start_real;
    clock_gettime(CLOCK_REALTIME, &start_real);
    deadline_s = start + seconds;
    pthread_create(&ta, NULL, worker_a, &a);
    pthread_setname_np(ta, "worker-a");
    pthread_create(&tb, NULL, worker_b, &b);
    pthread_setname_np(tb, "worker-b");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    double wall = clock_s(CLOCK_MONOTONIC) - start, cpu = rusage_cpu_s() - cpu0;
    printf("units %ld wall_s %.6f cpu_a %.6f cpu_b %.6f process_cpu_s %.6f start_ns %lld\n",
           a.done < b.done ? a.done : b.done, wall, a.cpu_s, b.cpu_s, cpu,
           (long long)start_real.tv_sec * 1000000000LL + start_real.tv_nsec);
    sink = a.sink + b.sink;
    return 0;
}
