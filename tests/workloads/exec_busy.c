/* exec_busy.c — six idle threads, then the main thread computes for a random
 * 50–150 ms and replaces the process with /bin/true, passing a 1.2-MB argument
 * list so that execve spends a while in the kernel copying it. A thread-
 * snapshot request still queued for main at that moment would reach the new
 * program, where SIGPROF is SIG_DFL again: it would die of it.
 * usage: exec_busy */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg)
{
    for (;;) pause();
    return arg;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    pthread_t t;
    for (int i = 0; i < 6; i++) pthread_create(&t, NULL, idle, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    srand((unsigned)(ts.tv_nsec ^ getpid()));
    volatile double x = 1;
    for (double end = now() + 0.05 + (rand() % 100) / 1000.0; now() < end;) x = x * 1.0000001 + 1e-9;
    enum { ARGS = 12000 };
    static char *argv[ARGS + 2];
    static char word[100];
    memset(word, 'x', sizeof word - 1);
    argv[0] = "true";
    for (int i = 1; i <= ARGS; i++) argv[i] = word;
    execv("/bin/true", argv);
    perror("exec_busy: execv");
    return 1;
}
