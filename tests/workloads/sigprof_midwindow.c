/* sigprof_midwindow.c — touches SIGPROF while a profiling window is open.
 *   reset MS: 1 s in, resets every signal to SIG_DFL (as some daemons do), then
 *             keeps burning; prints "survived" if no SIGPROF killed it.
 *   own MS:   1 s in, installs its own SIGPROF handler and a 100-Hz ITIMER_PROF;
 *             prints its ticks per CPU-second during the rest of the run (about
 *             100 if it receives its own ticks only) and whether its handler and
 *             timer are still in place at the end.
 * usage: sigprof_midwindow reset|own MS */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "burn.h"

static volatile sig_atomic_t ticks;
static void on_prof(int sig) { (void)sig; ticks++; }
volatile double sink;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    long ms = atol(argv[2]);
    sink = burn_wall_ms(1000);
    if (strcmp(argv[1], "reset") == 0) {
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        sink = burn_wall_ms(ms - 1000);
        printf("survived\n");
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    setitimer(ITIMER_PROF, &it, NULL);
    double start = cpu_s();
    sink = burn_wall_ms(ms - 1000);
    double rate = ticks / (cpu_s() - start);
    struct sigaction now;
    sigaction(SIGPROF, NULL, &now);
    struct itimerval cur;
    getitimer(ITIMER_PROF, &cur);
    printf("ticks per cpu-second %.0f, handler %s, timer %s\n", rate, now.sa_handler == on_prof ? "kept" : "lost",
           cur.it_interval.tv_usec == 10000 ? "kept" : "lost");
    return 0;
}
