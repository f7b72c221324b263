/* threads_and_namespaces.c — two concurrency cases around the calls libconan
 * interposes:
 *   setns N CALLS: N threads re-enter this process's own network namespace with
 *     setns(fd, 0) CALLS times each; prints how many calls failed and how many
 *     conan-monitor threads exist afterwards (1 under the shim, 0 without).
 *   fork COUNT [SECONDS]: one thread queries sigaction(SIGPROF) in a loop
 *     while the main thread forks COUNT children (or as many as it can in
 *     SECONDS) that call signal(SIGPROF, SIG_DFL); prints how many children
 *     got stuck (a lock copied held into the child) and how many it forked;
 *     stops at the first stuck one.
 * usage: threads_and_namespaces setns N CALLS | fork COUNT [SECONDS] */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int ns_fd, calls, failures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static pthread_mutex_t failures_lock = PTHREAD_MUTEX_INITIALIZER;

static void *enter_namespace(void *arg)
{
    (void)arg;
    for (int i = 0; i < calls; i++)
        if (setns(ns_fd, 0) != 0) {
            pthread_mutex_lock(&failures_lock);
            failures++;
            pthread_mutex_unlock(&failures_lock);
        }
    return NULL;
}

static int monitor_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    int n = 0;
    struct dirent *d;
    while (dir && (d = readdir(dir))) {
        char path[300], comm[32] = "";
        if (d->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", d->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f) && strncmp(comm, "conan-monitor", 13) == 0) n++;
        if (f) fclose(f);
    }
    if (dir) closedir(dir);
    return n;
}

static void *query_sigprof(void *arg)
{
    (void)arg;
    struct sigaction old;
    for (;;) sigaction(SIGPROF, NULL, &old);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "setns") == 0) {
        int n = atoi(argv[2]);
        calls = atoi(argv[3]);
        ns_fd = open("/proc/self/ns/net", O_RDONLY);
        pthread_t t[64];
        for (int i = 0; i < n && i < 64; i++) pthread_create(&t[i], NULL, enter_namespace, NULL);
        for (int i = 0; i < n && i < 64; i++) pthread_join(t[i], NULL);
        usleep(200000);
        printf("failed %d, monitors %d\n", failures, monitor_threads());
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "fork") == 0) {
        int count = atoi(argv[2]), stuck = 0, forked = 0;
        double seconds = argc > 3 ? atof(argv[3]) : 0, end = now_s() + seconds;
        pthread_t t;
        pthread_create(&t, NULL, query_sigprof, NULL);
        for (; forked < count && !stuck && (seconds <= 0 || now_s() < end); forked++) {
            pid_t pid = fork();
            if (pid == 0) {
                signal(SIGPROF, SIG_DFL);
                _exit(0);
            }
            int waited_ms = 0, status;
            while (waitpid(pid, &status, WNOHANG) != pid) {
                if (++waited_ms > 2000) {
                    stuck++;
                    kill(pid, SIGKILL);
                    waitpid(pid, &status, 0);
                    break;
                }
                struct timespec ms = { 0, 1000000 };
                nanosleep(&ms, NULL);
            }
        }
        printf("stuck children %d of %d\n", stuck, forked);
        return 0;
    }
    return 2;
}
