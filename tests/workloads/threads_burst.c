/* threads_burst.c — a burst of N threads from spawn_workers, all named
 * "worker" and waiting in wait_for_work; optionally a thread that blocks every
 * signal and sleeps ("blocked"), one that blocks every signal and spins
 * ("spinner"), one stuck in an uninterruptible wait ("dstate": it vforks a
 * child that sleeps SECONDS before exiting, which keeps the parent thread in D
 * state), and threads sleeping in nanosleep, select and poll that report
 * whether a signal cut their sleep short ("sleepers"). With DUMP_DIR it then asks for profiles on demand,
 * waits for the threads profile, and lets everything finish; with "rule" it
 * does not ask, and waits instead for a rule to have acted (a "threads" line
 * in DUMP_DIR/events.jsonl).
 * usage: threads_burst N DUMP_DIR [blocked] [dstate [SECONDS]] [rule] */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "profiles.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static bool released;
static int ready;
static double dstate_seconds = 3;

/* One more thread in place (main waits for all of them before profiling). */
static void report_ready(void)
{
    pthread_mutex_lock(&lock);
    ready++;
    pthread_mutex_unlock(&lock);
}

/* The calling thread blocks every signal and takes a name. */
static void block_signals_named(const char *name)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_setname_np(pthread_self(), name);
}

__attribute__((noinline)) static void wait_for_work(void)
{
    pthread_mutex_lock(&lock);
    ready++;
    while (!released) pthread_cond_wait(&go, &lock);
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "worker");
    wait_for_work();
    return NULL;
}

__attribute__((noinline)) static void spawn_workers(pthread_t *tid, int n)
{
    for (int i = 0; i < n; i++) pthread_create(&tid[i], NULL, worker, NULL);
}

__attribute__((noinline)) static void sleep_with_signals_blocked(void)
{
    report_ready();
    while (!__atomic_load_n(&released, __ATOMIC_ACQUIRE)) {
        struct timespec ms = { 0, 500000000 }; /* long naps: asleep when the snapshot looks */
        nanosleep(&ms, NULL);
    }
}

static pid_t blocked_tid; /* atomic */

static void *blocked_thread(void *arg)
{
    (void)arg;
    __atomic_store_n(&blocked_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    block_signals_named("blocked");
    sleep_with_signals_blocked();
    return NULL;
}

static volatile int spinning;

__attribute__((noinline)) static void spin_with_signals_blocked(void)
{
    report_ready();
    while (!__atomic_load_n(&released, __ATOMIC_ACQUIRE)) spinning++;
}

static void *spinner_thread(void *arg)
{
    (void)arg;
    block_signals_named("spinner");
    spin_with_signals_blocked();
    return NULL;
}

/* Sleeps that SA_RESTART does not restart: a signal would end them early. */
static int cut_short; /* atomic */

static void *sleeper_thread(void *arg)
{
    int kind = (int)(long)arg;
    pthread_setname_np(pthread_self(), "sleeper");
    report_ready();
    int rc;
    if (kind == 0) {
        struct timespec s = { 1, 500000000 };
        rc = nanosleep(&s, NULL);
    } else if (kind == 1) {
        struct timeval tv = { 1, 500000 };
        rc = select(0, NULL, NULL, NULL, &tv);
    } else {
        rc = poll(NULL, 0, 1500);
    }
    if (rc != 0) __atomic_fetch_add(&cut_short, 1, __ATOMIC_RELAXED);
    return NULL;
}

static pid_t dstate_tid; /* atomic */

/* A thread's state letter from /proc (R, S, D...), '?' when unreadable. */
static char task_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* A loaded machine can leave a thread that reported ready short of the wait
 * it is about to enter: wait (5 s at most) until it is in that state. */
static void wait_for_state(const pid_t *tid, char state)
{
    for (int i = 0; i < 5000; i++) {
        pid_t t = __atomic_load_n(tid, __ATOMIC_ACQUIRE);
        if (t && task_state(t) == state) return;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
}

static void *dstate_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "dstate");
    __atomic_store_n(&dstate_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    report_ready();
    pid_t child = vfork(); /* this thread waits, uninterruptibly, until the child exits */
    if (child == 0) {
        struct timespec ts = { (time_t)dstate_seconds, 0 };
        syscall(SYS_nanosleep, &ts, NULL);
        _exit(0);
    }
    if (child > 0) waitpid(child, NULL, 0);
    return NULL;
}

static bool threads_event_in(const char *dir)
{
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    FILE *f = fopen(path, "r");
    bool found = false;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "\"kind\":\"threads\"")) found = true;
    if (f) fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 50;
    const char *dir = argc > 2 ? argv[2] : NULL;
    bool blocked = false, dstate = false, rule = false, spinner = false, sleepers = false;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "blocked") == 0) blocked = true;
        if (strcmp(argv[i], "rule") == 0) rule = true;
        if (strcmp(argv[i], "spinner") == 0) spinner = true;
        if (strcmp(argv[i], "sleepers") == 0) sleepers = true;
        if (strcmp(argv[i], "dstate") == 0) {
            dstate = true;
            if (i + 1 < argc && atof(argv[i + 1]) > 0) dstate_seconds = atof(argv[++i]);
        }
    }
    pthread_t *tid = calloc((size_t)n + 6, sizeof *tid);
    spawn_workers(tid, n);
    int expected = n;
    if (blocked) pthread_create(&tid[n], NULL, blocked_thread, NULL), expected++;
    if (dstate) pthread_create(&tid[n + 1], NULL, dstate_thread, NULL), expected++;
    if (spinner) pthread_create(&tid[n + 2], NULL, spinner_thread, NULL), expected++;
    for (int k = 0; sleepers && k < 3; k++) pthread_create(&tid[n + 3 + k], NULL, sleeper_thread, (void *)(long)k), expected++;
    for (;;) { /* everyone in place before the snapshot */
        pthread_mutex_lock(&lock);
        int r = ready;
        pthread_mutex_unlock(&lock);
        if (r == expected) break;
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    struct timespec settle = { 0, 50000000 };
    nanosleep(&settle, NULL); /* the last ones from "ready" into the wait itself */
    if (dstate) wait_for_state(&dstate_tid, 'D');
    if (blocked) wait_for_state(&blocked_tid, 'S');
    if (dir && rule)
        for (int i = 0; i < 200 && !threads_event_in(dir); i++) {
            struct timespec ms = { 0, 50000000 };
            nanosleep(&ms, NULL);
        }
    else if (dir)
        request_profiles(dir, "threads", 1);
    pthread_mutex_lock(&lock);
    __atomic_store_n(&released, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++) pthread_join(tid[i], NULL);
    if (blocked) pthread_join(tid[n], NULL);
    if (dstate) pthread_join(tid[n + 1], NULL);
    if (spinner) pthread_join(tid[n + 2], NULL);
    for (int k = 0; sleepers && k < 3; k++) pthread_join(tid[n + 3 + k], NULL);
    if (sleepers) printf("sleeps cut short %d\n", cut_short);
    printf("threads %d done\n", expected);
    return 0;
}
