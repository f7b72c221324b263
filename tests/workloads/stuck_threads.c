/* stuck_threads.c — threads blocked for good, beside a pool that is only
 * idle, for the stuck-thread rule.
 *
 * Both modes start a pool of 64 threads ("pool-N") that first sleep for
 * WARM_UP_MS, do a little work, and then park: a watch sees each of them
 * somewhere else before it parks, so only stuck.ignore can tell the parked
 * pool from stuck threads.
 * - deadlock: the pool parks in pthread_cond_wait; after the same warm-up,
 *   two threads ("deadlock-a", "deadlock-b") take two mutexes in opposite
 *   orders (deadlock_take_a_then_b, deadlock_take_b_then_a), a barrier making
 *   sure each holds its first before asking for its second. FILE gets the
 *   CLOCK_REALTIME second (decimals) at which the later of the two asked for
 *   its second mutex: when the deadlock formed. After SECONDS in all, the
 *   process ends with _exit(0), as a deadlocked process cannot join.
 * - idle: half the pool parks in pthread_cond_wait, half in epoll_wait on an
 *   epoll descriptor nothing is added to; after SECONDS the process exits 0.
 * Prints nothing on stdout.
 * usage: stuck_threads deadlock|idle SECONDS [FILE] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "burn.h"

#define POOL 64
#define WARM_UP_MS 1500          /* longer than a few monitor ticks at the tests' 250 ms */
#define WORK_MS 2                /* each pool thread's little work before it parks */

static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER; /* never signalled */
static int epoll_fd = -1;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER, lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;
static long long asked_second_at[2]; /* CLOCK_REALTIME ns; atomic */
volatile double sink;

static long long realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}
}

__attribute__((noinline)) static void pool_warm_up(void)
{
    sleep_ms(WARM_UP_MS);
    sink = burn_wall_ms(WORK_MS);
}

__attribute__((noinline)) static void pool_park_on_condition(void)
{
    pthread_mutex_lock(&park_lock);
    for (;;) pthread_cond_wait(&park_cond, &park_lock);
}

__attribute__((noinline)) static void pool_park_in_epoll(void)
{
    struct epoll_event ev;
    for (;;) epoll_wait(epoll_fd, &ev, 1, -1);
}

__attribute__((noinline)) static void *pool_worker(void *arg)
{
    pool_warm_up();
    if (arg) pool_park_in_epoll();
    else pool_park_on_condition();
    return NULL;
}

/* Holds first, waits until the other thread holds its first, asks for second.
 * Inlined, so that the wait is in the named function that called it. */
static inline __attribute__((always_inline)) void take_in_order(int which, pthread_mutex_t *first, pthread_mutex_t *second)
{
    pthread_mutex_lock(first);
    pthread_barrier_wait(&both_hold_one);
    __atomic_store_n(&asked_second_at[which], realtime_ns(), __ATOMIC_RELEASE);
    pthread_mutex_lock(second); /* never returns */
    pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
}

__attribute__((noinline)) static void deadlock_take_a_then_b(void)
{
    take_in_order(0, &lock_a, &lock_b);
}

__attribute__((noinline)) static void deadlock_take_b_then_a(void)
{
    take_in_order(1, &lock_b, &lock_a);
}

__attribute__((noinline)) static void *deadlock_worker(void *arg)
{
    pool_warm_up();
    if (arg) deadlock_take_b_then_a();
    else deadlock_take_a_then_b();
    return NULL;
}

static int start(void *(*fn)(void *), void *arg, const char *name)
{
    pthread_t t;
    int err = pthread_create(&t, NULL, fn, arg);
    if (err) {
        fprintf(stderr, "stuck_threads: pthread_create: %s\n", strerror(err));
        return -1;
    }
    pthread_setname_np(t, name);
    pthread_detach(t);
    return 0;
}

static int start_pool(int in_epoll_from)
{
    char name[16];
    for (int i = 0; i < POOL; i++) {
        snprintf(name, sizeof name, "pool-%d", i);
        if (start(pool_worker, i >= in_epoll_from ? (void *)1 : NULL, name) != 0) return -1;
    }
    return 0;
}

/* The later of the two requests for a second mutex: the deadlock is then certain. */
static long long wait_for_deadlock(void)
{
    long long a, b;
    while (!(a = __atomic_load_n(&asked_second_at[0], __ATOMIC_ACQUIRE)) ||
           !(b = __atomic_load_n(&asked_second_at[1], __ATOMIC_ACQUIRE)))
        sleep_ms(10);
    return a > b ? a : b;
}

static int run_deadlock(double seconds, const char *file)
{
    long long t0 = realtime_ns();
    pthread_barrier_init(&both_hold_one, NULL, 2);
    if (start_pool(POOL) != 0 || start(deadlock_worker, NULL, "deadlock-a") != 0 ||
        start(deadlock_worker, (void *)1, "deadlock-b") != 0)
        return 1;
    long long formed = wait_for_deadlock();
    FILE *f = file ? fopen(file, "w") : NULL;
    if (file && !f) {
        perror(file);
        return 1;
    }
    if (f) {
        fprintf(f, "%lld.%09lld\n", formed / 1000000000LL, formed % 1000000000LL);
        fclose(f);
    }
    double left = seconds - (realtime_ns() - t0) / 1e9;
    if (left > 0) sleep_ms((long)(left * 1000));
    _exit(0);
}

static int run_idle(double seconds)
{
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        perror("epoll_create1");
        return 1;
    }
    if (start_pool(POOL / 2) != 0) return 1;
    sleep_ms((long)(seconds * 1000));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stuck_threads deadlock|idle SECONDS [FILE]\n");
        return 2;
    }
    double seconds = atof(argv[2]);
    if (strcmp(argv[1], "deadlock") == 0) return run_deadlock(seconds, argc > 3 ? argv[3] : NULL);
    if (strcmp(argv[1], "idle") == 0) return run_idle(seconds);
    fprintf(stderr, "stuck_threads: unknown mode %s\n", argv[1]);
    return 2;
}
