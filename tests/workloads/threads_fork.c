/* threads_fork.c — 20 idle threads made with pthread_create and 2 threads
 * that keep creating and ending threads and allocating, then forks: FORKS
 * from main, or, with FORKERS > 0, FORKS from each of FORKERS threads at once
 * while one more thread burns CPU. Each child allocates, frees, creates and
 * joins one thread, and exits 7. A child that has not exited within
 * CHILD_WAIT_S is reported with its pid (and, with THREADS_FORK_KEEP set,
 * left alive for a debugger) instead of hanging the parent. Prints how many
 * children exited normally; exits 2 if one hung.
 * usage: threads_fork FORKS [FORKERS] */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_WAIT_S 20
#define FORKERS_MAX 16

static volatile int stop;
static int forks_each, ok, hung;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

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

static void *burn(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (!stop) x += x * 31 + 7;
    return NULL;
}

static void child(void)
{
    char *p = malloc(1000);
    memset(p, 1, 1000);
    free(p);
    pthread_t t;
    if (pthread_create(&t, NULL, quick, NULL) == 0) pthread_join(t, NULL);
    _exit(7);
}

/* Waits for one child, at most CHILD_WAIT_S; true if it exited 7. */
static bool reaped(pid_t pid)
{
    for (int waited_ms = 0; waited_ms < CHILD_WAIT_S * 1000; waited_ms += 2) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 7;
        if (r < 0 && errno != EINTR) return false;
        struct timespec ms = { 0, 2000000 };
        nanosleep(&ms, NULL);
    }
    fprintf(stderr, "threads_fork: child %d did not exit within %d s\n", (int)pid, CHILD_WAIT_S);
    pthread_mutex_lock(&count_lock);
    hung++;
    pthread_mutex_unlock(&count_lock);
    if (!getenv("THREADS_FORK_KEEP")) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return false;
}

static void *forker(void *arg)
{
    (void)arg;
    for (int i = 0; i < forks_each; i++) {
        pid_t pid = fork();
        if (pid == 0) child();
        if (pid < 0) continue;
        bool good = reaped(pid);
        pthread_mutex_lock(&count_lock);
        ok += good;
        pthread_mutex_unlock(&count_lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    forks_each = argc > 1 ? atoi(argv[1]) : 50;
    int forkers = argc > 2 ? atoi(argv[2]) : 0;
    if (forkers > FORKERS_MAX) forkers = FORKERS_MAX;
    pthread_t idlers[20], churners[2], burner, forker_threads[FORKERS_MAX];
    for (int i = 0; i < 20; i++) pthread_create(&idlers[i], NULL, idle, NULL);
    for (int i = 0; i < 2; i++) pthread_create(&churners[i], NULL, churn, NULL);
    if (forkers == 0) {
        forker(NULL);
    } else {
        pthread_create(&burner, NULL, burn, NULL);
        for (int i = 0; i < forkers; i++) pthread_create(&forker_threads[i], NULL, forker, NULL);
        for (int i = 0; i < forkers; i++) pthread_join(forker_threads[i], NULL);
    }
    stop = 1;
    for (int i = 0; i < 20; i++) pthread_join(idlers[i], NULL);
    for (int i = 0; i < 2; i++) pthread_join(churners[i], NULL);
    if (forkers > 0) pthread_join(burner, NULL);
    printf("children ok %d of %d\n", ok, forks_each * (forkers > 0 ? forkers : 1));
    return hung ? 2 : 0;
}
