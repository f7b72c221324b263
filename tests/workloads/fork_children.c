/* fork_children.c — forks N children that exit at once through exit() (so
 * destructors run), checks their status, and prints the slowest
 * fork-to-reaped time in ms.
 * usage: fork_children N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    double slowest = 0;
    for (int i = 0; i < n; i++) {
        double start = now_ms();
        pid_t pid = fork();
        if (pid == 0) exit(7);
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
            printf("child %d failed\n", i);
            return 1;
        }
        double took = now_ms() - start;
        if (took > slowest) slowest = took;
    }
    printf("%.1f\n", slowest);
    return 0;
}
