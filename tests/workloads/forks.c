/* forks.c — programs that fork while libconan works, for the fork tests.
 *
 * usage: forks prefork N MS LOG     N workers each burn MS ms in worker_burn
 *        forks in_window N MS GAP LOG
 *                                   two threads burn in parent_burn while main
 *                                   forks N children GAP ms apart; each child
 *                                   burns MS ms in child_burn
 *        forks heap N LOG           a large live heap, then N children one
 *                                   after the other (each reaped before the
 *                                   next), each allocating and freeing
 * LOG gets one line per child: "<pid> <fork time, ms since the epoch>".
 * Every child exits with its own status, which the parent checks; a child that
 * has not ended 20 s after its fork is killed and reported. stdout carries only
 * what does not depend on pids or timing. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"

/* Stay a frame of their own in every profile: GCC's noipa also keeps the
 * compiler from cloning or specializing them; clang has noinline only. */
#ifdef __clang__
#define NOT_INLINED __attribute__((noinline))
#else
#define NOT_INLINED __attribute__((noipa))
#endif

#define CHILD_DEADLINE_MS 20000

static volatile double sink;
static volatile int parent_done;

static double epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

NOT_INLINED static void worker_burn(long ms) { sink = burn_wall_ms(ms); }
NOT_INLINED static void child_burn(long ms) { sink = burn_wall_ms(ms); }

__attribute__((noinline)) static void parent_burn(void)
{
    while (!parent_done) sink = burn_wall_ms(20);
}

static void *parent_thread(void *arg)
{
    (void)arg;
    parent_burn();
    return NULL;
}

/* Allocates and frees enough to be sampled many times at any sampling rate the
 * tests use; returns a checksum so that the work cannot be dropped. */
__attribute__((noinline)) static unsigned long child_allocate(void)
{
    unsigned long sum = 0;
    for (int round = 0; round < 20; round++) {
        void *block[100];
        for (int i = 0; i < 100; i++) {
            block[i] = malloc(16 + (size_t)(i * 37 % 2000));
            if (!block[i]) return 0;
            memset(block[i], i, 16);
            sum += ((unsigned char *)block[i])[3];
        }
        for (int i = 0; i < 100; i++) free(block[i]);
    }
    return sum;
}

/* Allocates one block through a call path spelled by the bits of path: the
 * parent's live heap then has thousands of distinct stacks, so its heap
 * profiles take long enough to build for forks to land in the middle. */
NOT_INLINED static void *step_zero(unsigned path, int depth);
NOT_INLINED static void *step_one(unsigned path, int depth);

static void *step(unsigned path, int depth)
{
    if (depth == 0) return malloc(24 + path % 80);
    return (path & 1) ? step_one(path >> 1, depth - 1) : step_zero(path >> 1, depth - 1);
}

NOT_INLINED static void *step_zero(unsigned path, int depth)
{
    void *p = step(path, depth);
    __asm__ volatile("" ::: "memory"); /* not a tail call: the frame stays */
    return p;
}

NOT_INLINED static void *step_one(unsigned path, int depth)
{
    void *p = step(path, depth);
    __asm__ volatile("" ::: "memory");
    return p;
}

static int child_status(int i) { return 1 + i % 100; }

struct child {
    pid_t pid;
    double forked_ms;
};

/* Waits for children [from, to); returns how many failed or hung. */
static int reap(struct child *kids, int from, int to)
{
    int bad = 0;
    for (int i = from; i < to; i++) {
        int status = 0;
        pid_t got;
        while ((got = waitpid(kids[i].pid, &status, WNOHANG)) == 0) {
            if (epoch_ms() - kids[i].forked_ms > CHILD_DEADLINE_MS) {
                fprintf(stderr, "forks: child %d hung\n", i);
                kill(kids[i].pid, SIGKILL);
                waitpid(kids[i].pid, &status, 0);
                got = -1;
                break;
            }
            usleep(5000);
        }
        if (got != kids[i].pid || !WIFEXITED(status) || WEXITSTATUS(status) != child_status(i)) {
            if (got == kids[i].pid) fprintf(stderr, "forks: child %d ended with status 0x%x\n", i, status);
            bad++;
        }
    }
    return bad;
}

static int write_log(const char *path, const struct child *kids, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int i = 0; i < n; i++) fprintf(f, "%d %.0f\n", (int)kids[i].pid, kids[i].forked_ms);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: forks prefork N MS LOG | in_window N MS GAP LOG | heap N LOG\n");
        return 2;
    }
    const char *mode = argv[1];
    int n = atoi(argv[2]);
    struct child *kids = calloc((size_t)n, sizeof *kids);
    if (!kids) return 2;
    const char *log;
    pthread_t burners[2];
    void **heap = NULL;
    long ms = 0, gap = 0, live = 0;
    int bad = 0;

    if (strcmp(mode, "prefork") == 0) {
        ms = atol(argv[3]);
        log = argv[4];
    } else if (strcmp(mode, "in_window") == 0 && argc >= 6) {
        ms = atol(argv[3]);
        gap = atol(argv[4]);
        log = argv[5];
        for (int t = 0; t < 2; t++) pthread_create(&burners[t], NULL, parent_thread, NULL);
        usleep(300000); /* the parent's rule trips first */
    } else if (strcmp(mode, "heap") == 0) {
        log = argv[3];
        live = 40000; /* small blocks, sampled into the parent's heap profiles */
        heap = malloc((size_t)live * sizeof *heap);
        for (long i = 0; heap && i < live; i++) heap[i] = step((unsigned)i, 14);
        if (!heap) return 2;
    } else {
        fprintf(stderr, "forks: unknown mode %s\n", mode);
        return 2;
    }

    for (int i = 0; i < n; i++) {
        if (gap && i) usleep((useconds_t)gap * 1000);
        kids[i].forked_ms = epoch_ms();
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            if (strcmp(mode, "prefork") == 0) worker_burn(ms);
            if (strcmp(mode, "in_window") == 0) child_burn(ms);
            if (strcmp(mode, "heap") == 0 && child_allocate() == 0) _exit(0);
            exit(child_status(i)); /* exit, not _exit: destructors run */
        }
        kids[i].pid = pid;
        if (strcmp(mode, "heap") == 0) bad += reap(kids, i, i + 1);
    }
    if (strcmp(mode, "heap") != 0) bad = reap(kids, 0, n);
    parent_done = 1;
    if (strcmp(mode, "in_window") == 0)
        for (int t = 0; t < 2; t++) pthread_join(burners[t], NULL);
    for (long i = 0; i < live; i++) free(heap[i]);
    free(heap);
    if (write_log(log, kids, n) != 0) return 2;
    printf("%s: %d children, %d failed\n", mode, n, bad);
    return bad ? 1 : 0;
}
