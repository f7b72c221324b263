/* eintr_loops.c — a server-style program whose threads sit in blocking calls
 * and handle EINTR the way careful programs do, beside a thread that burns CPU
 * (so that profiling windows open). Runs for about MS milliseconds.
 *
 * usage: eintr_loops MS COUNTS_FILE
 * stdout: what was transferred (independent of timing and of signals)
 * COUNTS_FILE: "<call> <times it returned EINTR>" per call. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"

enum call { READ, WRITE, ACCEPT, POLL, SELECT, EPOLL, NANOSLEEP, NCALLS };
static const char *const call_name[NCALLS] = { "read", "write", "accept", "poll", "select", "epoll_wait", "nanosleep" };
static long eintr[NCALLS];              /* atomic counters */
static volatile int done;
static volatile double sink;

#define MESSAGES 400
#define CONNECTIONS 100

static void count(enum call c) { __atomic_fetch_add(&eintr[c], 1, __ATOMIC_RELAXED); }

static void pause_ms(long ms)
{
    struct timespec left = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&left, &left) != 0)
        if (errno == EINTR) count(NANOSLEEP); /* left holds the rest */
}

static int pipe_fds[2];

static void *writer(void *arg)
{
    long gap_ms = (long)arg;
    for (int i = 0; i < MESSAGES; i++) {
        int msg = i * 7 + 1;
        ssize_t n;
        while ((n = write(pipe_fds[1], &msg, sizeof msg)) < 0 && errno == EINTR) count(WRITE);
        if (n != sizeof msg) abort();
        pause_ms(gap_ms);
    }
    close(pipe_fds[1]);
    return NULL;
}

static void *reader(void *arg)
{
    long *sum = arg;
    int msg;
    for (;;) {
        ssize_t n = read(pipe_fds[0], &msg, sizeof msg);
        if (n < 0 && errno == EINTR) {
            count(READ);
            continue;
        }
        if (n <= 0) break;
        *sum += msg;
    }
    return NULL;
}

static int listener;

static void *acceptor(void *arg)
{
    long *accepted = arg;
    while (*accepted < CONNECTIONS) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0 && errno == EINTR) {
            count(ACCEPT);
            continue;
        }
        if (fd < 0) abort();
        close(fd);
        ++*accepted;
    }
    return NULL;
}

static void *connector(void *arg)
{
    struct sockaddr_in *addr = arg;
    for (int i = 0; i < CONNECTIONS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        while (connect(fd, (struct sockaddr *)addr, sizeof *addr) != 0)
            if (errno != EINTR) abort();
        close(fd);
        pause_ms(30);
    }
    return NULL;
}

/* poll, select and epoll_wait on a descriptor that never becomes ready. */
static void *waiter(void *arg)
{
    (void)arg;
    int idle[2];
    if (pipe(idle) != 0) abort();
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN };
    epoll_ctl(ep, EPOLL_CTL_ADD, idle[0], &ev);
    while (!done) {
        struct pollfd p = { idle[0], POLLIN, 0 };
        if (poll(&p, 1, 20) < 0 && errno == EINTR) count(POLL);
        fd_set set;
        FD_ZERO(&set);
        FD_SET(idle[0], &set);
        struct timeval tv = { 0, 20000 };
        if (select(idle[0] + 1, &set, NULL, NULL, &tv) < 0 && errno == EINTR) count(SELECT);
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 20) < 0 && errno == EINTR) count(EPOLL);
    }
    return NULL;
}

__attribute__((noinline)) static void busy_thread_work(long ms) { sink = burn_wall_ms(ms); }

static void *burner(void *arg)
{
    busy_thread_work((long)arg);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: eintr_loops MS COUNTS_FILE\n");
        return 2;
    }
    long ms = atol(argv[1]);
    if (pipe(pipe_fds) != 0) return 2;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) != 0)
        return 2;

    long sum = 0, accepted = 0;
    pthread_t t[6];
    pthread_create(&t[0], NULL, writer, (void *)(ms / MESSAGES));
    pthread_create(&t[1], NULL, reader, &sum);
    pthread_create(&t[2], NULL, acceptor, &accepted);
    pthread_create(&t[3], NULL, connector, &addr);
    pthread_create(&t[4], NULL, waiter, NULL);
    pthread_create(&t[5], NULL, burner, (void *)ms);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    pthread_join(t[5], NULL);
    done = 1;
    pthread_join(t[4], NULL);

    printf("read %d messages, sum %ld; accepted %ld connections\n", MESSAGES, sum, accepted);
    FILE *f = fopen(argv[2], "w");
    if (!f) return 2;
    for (int c = 0; c < NCALLS; c++) fprintf(f, "%s %ld\n", call_name[c], eintr[c]);
    return fclose(f) == 0 ? 0 : 2;
}
