/* sigprof_user.c — a program that profiles itself with SIGPROF and
 * ITIMER_PROF, as gperftools would. Under libconan its handler must keep
 * receiving every signal; libconan must not take SIGPROF.
 * usage: sigprof_user MS */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "burn.h"

static volatile sig_atomic_t ticks;
volatile double sink;

static void on_prof(int sig) { (void)sig; ticks++; }

static double process_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1500;
    struct sigaction sa = { .sa_handler = on_prof, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    double cpu0 = process_cpu_ms();
    setitimer(ITIMER_PROF, &it, NULL);
    sink = burn_wall_ms(ms);
    double cpu_ms = process_cpu_ms() - cpu0;
    struct sigaction current;
    sigaction(SIGPROF, NULL, &current);
    /* ITIMER_PROF ticks every 10 ms of the process's CPU time: expect about
     * cpu_ms/10 (not ms/10: a loaded machine gives the burn less CPU than its
     * wall time). */
    printf("handler kept: %s, ticks enough: %s\n", current.sa_handler == on_prof ? "yes" : "no",
           ticks >= cpu_ms / 10 * 8 / 10 ? "yes" : "no");
    return 0;
}
