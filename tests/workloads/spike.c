/* spike.c — a calm start, then CPU bursts in a distinctly named function.
 * usage: spike CALM_MS BURST_MS BURSTS GAP_MS [EXIT_CODE]
 * Prints one line per burst on stdout and a goodbye on stderr, so tests can
 * compare output with and without the shim. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "burn.h"

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

volatile double sink;

/* Named so a test can find it at the top of the profile. */
__attribute__((noinline)) void burn_cpu_in_spike(long ms)
{
    sink = burn_wall_ms(ms);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s CALM_MS BURST_MS BURSTS GAP_MS [EXIT_CODE]\n", argv[0]);
        return 2;
    }
    long calm = atol(argv[1]), burst = atol(argv[2]), bursts = atol(argv[3]), gap = atol(argv[4]);
    int code = argc > 5 ? atoi(argv[5]) : 0;
    sleep_ms(calm);
    for (long b = 0; b < bursts; b++) {
        burn_cpu_in_spike(burst);
        printf("burst %ld done\n", b + 1);
        fflush(stdout);
        if (b + 1 < bursts) sleep_ms(gap);
    }
    /* Whatever a profiler did meanwhile, SIGPROF must be back to the default. */
    struct sigaction sa;
    sigaction(SIGPROF, NULL, &sa);
    int sigprof_default = !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
    fprintf(stderr, "spike: bye (SIGPROF %s)\n", sigprof_default ? "default" : "changed");
    return code;
}
