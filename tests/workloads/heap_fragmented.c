/* heap_fragmented.c — a heavily fragmented glibc heap (every other block of
 * BLOCKS freed, so the arena holds BLOCKS/2 free chunks), then a malloc+free
 * loop for SECONDS that reports its slowest call and how many were blocked
 * for over 20 ms. Anything that walks the arena under its lock (mallinfo2)
 * blocks this loop.
 *
 * "Blocked" is the call's wall time less the thread's CPU time in it and less
 * the time it spent runnable but waiting for a CPU (schedstat's run_delay):
 * what is left is time off the CPU waiting, for the arena lock here. A loaded
 * machine makes calls slow in wall time (the thread is preempted), not
 * blocked: beside another test suite two calls took 52 ms of wall time.
 * usage: heap_fragmented BLOCKS SECONDS */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds this thread has spent runnable, waiting for a CPU (0 if unknown). */
static double run_delay(int fd)
{
    char buf[128];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return 0;
    buf[n] = '\0';
    double on_cpu_ns, waited_ns;
    return sscanf(buf, "%lf %lf", &on_cpu_ns, &waited_ns) == 2 ? waited_ns / 1e9 : 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double seconds = argc > 2 ? atof(argv[2]) : 3;
    void **block = malloc((size_t)n * sizeof *block);
    for (long i = 0; i < n; i++) block[i] = malloc(1100 + (size_t)(i % 7) * 16);
    for (long i = 0; i < n; i += 2) free(block[i]);
    int sched = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    double end = now(CLOCK_MONOTONIC) + seconds, worst = 0, worst_wall = 0;
    long slow = 0;
    while (now(CLOCK_MONOTONIC) < end) {
        double delay = run_delay(sched), cpu = now(CLOCK_THREAD_CPUTIME_ID), t = now(CLOCK_MONOTONIC);
        void *p = malloc(2000);
        ((volatile char *)p)[0] = 1;
        free(p);
        double wall = now(CLOCK_MONOTONIC) - t;
        double blocked = wall - (now(CLOCK_THREAD_CPUTIME_ID) - cpu) - (run_delay(sched) - delay);
        if (wall > worst_wall) worst_wall = wall;
        if (blocked > worst) worst = blocked;
        if (blocked > 0.02) slow++;
    }
    printf("worst %.1f ms blocked (%.1f ms wall), %ld calls blocked over 20 ms\n", worst * 1e3, worst_wall * 1e3,
           slow);
    return 0;
}
