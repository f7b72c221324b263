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

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1500;
    struct sigaction sa = { .sa_handler = on_prof, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, NULL);
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    setitimer(ITIMER_PROF, &it, NULL);
    sink = burn_wall_ms(ms);
    struct sigaction current;
    sigaction(SIGPROF, NULL, &current);
    /* 100 Hz of CPU for ms milliseconds: expect about ms/10 ticks. */
    printf("handler kept: %s, ticks enough: %s\n", current.sa_handler == on_prof ? "yes" : "no",
           ticks >= ms / 10 * 8 / 10 ? "yes" : "no");
    return 0;
}
