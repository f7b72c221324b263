/* fork_storm.c — forks from several threads at once while other threads are
 * created and ended, allocate (every allocation sampled, per the test's
 * config) and burn CPU (so CPU windows and thread snapshots run). Each child
 * allocates, frees, creates and joins one thread, and exits 7. A child that
 * has not exited within CHILD_WAIT_S is reported with its pid (and left
 * stopped for a debugger when FORK_STORM_KEEP is set) instead of hanging the
 * parent. Prints "children ok N of M".
 * usage: fork_storm FORKERS FORKS_EACH */
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

static volatile int stop;
static int forks_each;
static int ok, hung;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void *quick(void *arg) { return arg; }

static void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        pthread_t t;
        if (pthread_create(&t, NULL, quick, NULL) == 0) pthread_join(t, NULL);
        free(malloc(64 + (size_t)(rand() % 4096)));
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

/* Waits for one child, at most CHILD_WAIT_S. */
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
    fprintf(stderr, "fork_storm: child %d did not exit within %d s\n", (int)pid, CHILD_WAIT_S);
    pthread_mutex_lock(&count_lock);
    hung++;
    pthread_mutex_unlock(&count_lock);
    if (!getenv("FORK_STORM_KEEP")) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
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
    int forkers = argc > 1 ? atoi(argv[1]) : 4;
    forks_each = argc > 2 ? atoi(argv[2]) : 50;
    pthread_t churners[2], burner, forkers_t[16];
    if (forkers > 16) forkers = 16;
    for (int i = 0; i < 2; i++) pthread_create(&churners[i], NULL, churn, NULL);
    pthread_create(&burner, NULL, burn, NULL);
    for (int i = 0; i < forkers; i++) pthread_create(&forkers_t[i], NULL, forker, NULL);
    for (int i = 0; i < forkers; i++) pthread_join(forkers_t[i], NULL);
    stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(churners[i], NULL);
    pthread_join(burner, NULL);
    printf("children ok %d of %d\n", ok, forkers * forks_each);
    return hung ? 2 : 0;
}
