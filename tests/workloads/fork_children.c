/* fork_children.c — forks N children that exit at once through exit() (so
 * destructors run), checks their status, and prints the median, the 90th
 * percentile and the slowest of the children's exit times in ms, then the
 * slowest fork-to-reaped wall time. A child's exit time runs from its start to
 * its death, less the time its main thread spent runnable but waiting for a
 * CPU (its schedstat run_delay) and the parent's own wait for a CPU after the
 * death: time on the CPU or blocked, what the exit path costs, not what a
 * loaded machine adds (the wall time took 40-140 ms there, 1-10 ms without).
 * usage: fork_children N */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct start {
    double wall_ms, run_delay_ms; /* the child's, as it begins */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* run_delay of a task, ms: its time runnable but not running (-1: unknown). */
static double run_delay_ms(const char *schedstat)
{
    int fd = open(schedstat, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    double on_cpu_ns, waited_ns;
    return sscanf(buf, "%lf %lf", &on_cpu_ns, &waited_ns) == 2 ? waited_ns / 1e6 : -1;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    if (n < 1) return 2;
    struct start *start = mmap(NULL, sizeof *start, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (start == MAP_FAILED) return 1;
    double *took = calloc((size_t)(n > 0 ? n : 1), sizeof *took), slowest_wall = 0;
    if (!took) return 1;
    for (int i = 0; i < n; i++) {
        start->wall_ms = -1;
        double forked = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            start->run_delay_ms = run_delay_ms("/proc/thread-self/schedstat");
            start->wall_ms = now_ms();
            exit(7);
        }
        double parent_delay = run_delay_ms("/proc/thread-self/schedstat");
        siginfo_t info;
        if (pid < 0 || waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0) {
            printf("child %d failed\n", i);
            return 1;
        }
        double dead = now_ms();
        parent_delay = run_delay_ms("/proc/thread-self/schedstat") - parent_delay;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid); /* still there: not reaped yet */
        double child_delay = run_delay_ms(path) - start->run_delay_ms;
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7 ||
            start->wall_ms < 0 || child_delay < 0 || parent_delay < 0) {
            printf("child %d failed\n", i);
            return 1;
        }
        took[i] = dead - start->wall_ms - child_delay - parent_delay;
        if (now_ms() - forked > slowest_wall) slowest_wall = now_ms() - forked;
    }
    qsort(took, (size_t)n, sizeof *took, by_value);
    printf("%.1f %.1f %.1f %.1f\n", took[n / 2], took[n * 9 / 10], took[n - 1], slowest_wall);
    return 0;
}
