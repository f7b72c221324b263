/* threads_fork.c — 20 idle threads made with pthread_create, then FORKS
 * forks from main while 2 more threads keep creating and ending threads;
 * each child allocates, frees and exits at once. Prints how many children
 * exited normally. A child that deadlocks in an atfork handler would hang the
 * parent in waitpid.
 * usage: threads_fork FORKS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;

static void *idle(void *arg)
{
    (void)arg;
    while (!stop) {
        struct timespec ms = { 0, 5000000 };
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static void *quick(void *arg) { return arg; }

static void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        pthread_t t;
        if (pthread_create(&t, NULL, quick, NULL) == 0) pthread_join(t, NULL);
        free(malloc(100));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int forks = argc > 1 ? atoi(argv[1]) : 50;
    pthread_t idlers[20], churners[2];
    for (int i = 0; i < 20; i++) pthread_create(&idlers[i], NULL, idle, NULL);
    for (int i = 0; i < 2; i++) pthread_create(&churners[i], NULL, churn, NULL);
    int ok = 0;
    for (int i = 0; i < forks; i++) {
        pid_t child = fork();
        if (child == 0) {
            char *p = malloc(1000);
            memset(p, 1, 1000);
            free(p);
            _exit(7);
        }
        int status;
        if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 7) ok++;
    }
    stop = 1;
    for (int i = 0; i < 20; i++) pthread_join(idlers[i], NULL);
    for (int i = 0; i < 2; i++) pthread_join(churners[i], NULL);
    printf("children ok %d of %d\n", ok, forks);
    return 0;
}
