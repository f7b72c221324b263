/* threads_churn.c — CYCLES thread lifetimes, ended three ways in turn: return
 * from the start routine, pthread_exit from a nested call, and cancellation
 * while blocked. With DUMP_DIR, profiles are asked for on demand before and
 * after (each awaited), so the two threadcreate profiles can be compared.
 * usage: threads_churn CYCLES [DUMP_DIR] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiles.h"

static void *returns(void *arg) { return arg; }

__attribute__((noinline)) static void leave_early(void) { pthread_exit(NULL); }

static void *exits(void *arg)
{
    (void)arg;
    leave_early();
    return NULL;
}

static void *waits_to_be_cancelled(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL); /* a cancellation point */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int cycles = argc > 1 ? atoi(argv[1]) : 1000;
    const char *dir = argc > 2 ? argv[2] : NULL;
    request_profiles(dir, "threadcreate", 1);
    int ended[3] = { 0, 0, 0 };
    for (int i = 0; i < cycles; i++) {
        pthread_t t;
        int how = i % 3;
        void *(*start)(void *) = how == 0 ? returns : how == 1 ? exits : waits_to_be_cancelled;
        if (pthread_create(&t, NULL, start, NULL) != 0) {
            fprintf(stderr, "threads_churn: pthread_create failed at %d\n", i);
            return 1;
        }
        if (how == 2) pthread_cancel(t);
        void *result;
        pthread_join(t, &result);
        if (how == 2 && result != PTHREAD_CANCELED) {
            fprintf(stderr, "threads_churn: thread %d was not cancelled\n", i);
            return 1;
        }
        ended[how]++;
    }
    request_profiles(dir, "threadcreate", 2);
    printf("returned %d, exited %d, cancelled %d\n", ended[0], ended[1], ended[2]);
    return 0;
}
