/* idle.c — sleeps for MS milliseconds, then prints the process's CPU time in
 * microseconds: under the shim that is what the monitor thread spent.
 *
 * With "reference", a thread of its own does for those MS the least a monitor
 * tick must do: wake once per 10-ms period and read /proc/self/stat. Timed
 * beside the monitor's ticks, under whatever load the machine has at that
 * moment, it is the yardstick for them. It then prints the process's CPU µs,
 * the conan-monitor thread's CPU µs and how many times it was scheduled in
 * (0 0 when there is none), and the reference thread's CPU µs and wake-ups.
 * usage: idle MS [reference] */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REFERENCE_PERIOD_NS 10000000L /* the tick_cost test's interval_ms, 10 */

static long ms;
static long wakeups;
static double reference_cpu_us;

static double cpu_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* Wakes once in every REFERENCE_PERIOD_NS of an absolute grid, as the monitor
 * does, at a random point of the period, and reads /proc/self/stat, as each of
 * its ticks does. The random points average over what a wake-up meets on a
 * busy machine (a process to preempt, or an idle CPU): at a fixed phase, a
 * reference thread's cost per wake-up varied 5x from one run to the next. */
static void *reference(void *arg)
{
    (void)arg;
    unsigned seed = (unsigned)time(NULL);
    struct timespec period, end;
    clock_gettime(CLOCK_MONOTONIC, &period);
    end = period;
    add_ns(&end, ms * 1000000L);
    for (add_ns(&period, REFERENCE_PERIOD_NS); before(&period, &end); add_ns(&period, REFERENCE_PERIOD_NS)) {
        struct timespec at = period;
        add_ns(&at, (long)(rand_r(&seed) % REFERENCE_PERIOD_NS));
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0) {
        }
        wakeups++;
        char buf[1024];
        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (read(fd, buf, sizeof buf) < 0) buf[0] = '\0';
            close(fd);
        }
    }
    reference_cpu_us = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

/* CPU µs of the thread named conan-monitor and the times it was scheduled in,
 * from its schedstat ("<ns on CPU> <ns waiting> <times run>"). */
static double monitor_cpu_us(long *runs)
{
    DIR *d = opendir("/proc/self/task");
    double us = 0;
    *runs = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = '\0';
        fclose(f);
        if (strcmp(comm, "conan-monitor\n") != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        double ns = 0;
        if ((f = fopen(path, "r")) != NULL) {
            double waited;
            if (fscanf(f, "%lf %lf %ld", &ns, &waited, runs) == 3) us = ns / 1e3;
            fclose(f);
        }
    }
    if (d) closedir(d);
    return us;
}

int main(int argc, char **argv)
{
    ms = argc > 1 ? atol(argv[1]) : 1000;
    if (argc > 2 && strcmp(argv[2], "reference") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, reference, NULL) != 0) return 1;
        pthread_join(t, NULL);
        long runs;
        double monitor_us = monitor_cpu_us(&runs);
        printf("%.0f %.0f %ld %.0f %ld\n", cpu_us(CLOCK_PROCESS_CPUTIME_ID), monitor_us, runs, reference_cpu_us,
               wakeups);
        return 0;
    }
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
    printf("%.0f\n", cpu_us(CLOCK_PROCESS_CPUTIME_ID));
    return 0;
}
