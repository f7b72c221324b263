/* wall_waits.c — threads that wait, each in a function of its own name, on a
 * pipe read, a futex, a nanosleep and an epoll_wait, beside one that spins;
 * none retries on EINTR: a wait cut short prints on stderr and exits 3. Main
 * asks libconan for profiles (when preloaded), waits for the wall profile,
 * then releases the waiters; the sleeper sleeps SLEEP_MS in one call.
 *
 * usage: wall_waits DUMP_DIR SLEEP_MS
 * stdout: what each waiter got (independent of timing and of profiling). */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "profiles.h"

static int pipe_fds[2], event_fd, epoll_fd;
static uint32_t futex_word;
static long sleep_ms;
static volatile int done;
static int ready;                /* atomic: waiters about to wait */
static char result[5][32];

static void cut_short(const char *call)
{
    fprintf(stderr, "wall_waits: %s returned EINTR\n", call);
    exit(3);
}

static void arrive(const char *name)
{
    pthread_setname_np(pthread_self(), name);
    __atomic_fetch_add(&ready, 1, __ATOMIC_RELEASE);
}

__attribute__((noinline)) static void wait_on_pipe(void)
{
    char c = 0;
    ssize_t n = read(pipe_fds[0], &c, 1);
    if (n < 0 && errno == EINTR) cut_short("read");
    snprintf(result[0], sizeof result[0], "pipe %zd %c", n, c);
}

__attribute__((noinline)) static void wait_on_futex(void)
{
    long rc = 0;
    while (__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE) == 0 && rc == 0)
        rc = syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    if (rc != 0 && errno == EINTR) cut_short("futex");
    snprintf(result[1], sizeof result[1], "futex %u", futex_word);
}

__attribute__((noinline)) static void wait_in_nanosleep(void)
{
    struct timespec t = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };
    if (nanosleep(&t, NULL) != 0) cut_short("nanosleep");
    snprintf(result[2], sizeof result[2], "sleep done");
}

__attribute__((noinline)) static void wait_in_epoll(void)
{
    struct epoll_event ev;
    int n = epoll_wait(epoll_fd, &ev, 1, -1);
    if (n < 0 && errno == EINTR) cut_short("epoll_wait");
    snprintf(result[3], sizeof result[3], "epoll %d", n);
}

__attribute__((noinline)) static void spin_in_busy_loop(void)
{
    volatile double x = 1;
    while (!done)
        for (int i = 0; i < 100000; i++) x = x * 1.0000001 + 1e-9;
    snprintf(result[4], sizeof result[4], "busy done");
}

static void *pipe_waiter(void *a) { (void)a; arrive("w-pipe"); wait_on_pipe(); return NULL; }
static void *futex_waiter(void *a) { (void)a; arrive("w-futex"); wait_on_futex(); return NULL; }
static void *sleeper(void *a) { (void)a; arrive("w-sleep"); wait_in_nanosleep(); return NULL; }
static void *epoll_waiter(void *a) { (void)a; arrive("w-epoll"); wait_in_epoll(); return NULL; }
static void *spinner(void *a) { (void)a; arrive("w-busy"); spin_in_busy_loop(); return NULL; }

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: wall_waits DUMP_DIR SLEEP_MS\n");
        return 2;
    }
    sleep_ms = atol(argv[2]);
    if (pipe(pipe_fds) != 0 || (event_fd = eventfd(0, 0)) < 0 || (epoll_fd = epoll_create1(0)) < 0) return 2;
    struct epoll_event ev = { .events = EPOLLIN };
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &ev) != 0) return 2;
    void *(*const body[5])(void *) = { pipe_waiter, futex_waiter, sleeper, epoll_waiter, spinner };
    pthread_t t[5];
    for (int i = 0; i < 5; i++)
        if (pthread_create(&t[i], NULL, body[i], NULL) != 0) return 2;
    while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < 5) sched_yield();
    struct timespec settle = { 0, 100000000 }; /* setup: let the waiters reach their calls */
    nanosleep(&settle, NULL);
    request_profiles(argv[1], "wall", 1);
    if (write(pipe_fds[1], "x", 1) != 1) return 2;
    __atomic_store_n(&futex_word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    uint64_t one = 1;
    if (write(event_fd, &one, sizeof one) != sizeof one) return 2;
    done = 1;
    for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 5; i++) printf("%s\n", result[i]);
    return 0;
}
