/* sigwaiter.c — the classic signal-thread design: every thread blocks all
 * signals and one thread takes them with sigwait, while another burns CPU.
 * Prints how many SIGPROFs the signal thread received (0 unless someone sent
 * them to the process). usage: sigwaiter MS */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "burn.h"

static int sigprofs;
volatile double sink;

static void *take_signals(void *arg)
{
    const sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0) continue;
        if (sig == SIGPROF) sigprofs++;
        if (sig == SIGUSR1) return NULL;
    }
}

static void *busy(void *arg)
{
    sink = burn_wall_ms(*(long *)arg);
    return NULL;
}

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 2000;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_t waiter, worker;
    pthread_create(&waiter, NULL, take_signals, &all);
    pthread_create(&worker, NULL, busy, &ms);
    pthread_join(worker, NULL);
    pthread_kill(waiter, SIGUSR1);
    pthread_join(waiter, NULL);
    printf("sigprofs received %d\n", sigprofs);
    return 0;
}
