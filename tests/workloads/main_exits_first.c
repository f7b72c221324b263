/* main_exits_first.c — main starts a detached worker and calls pthread_exit;
 * the worker prints after 200 ms and returns. The process then ends (status
 * 0) because its last thread has ended — which must still be true with
 * libconan's monitor thread in the process.
 * usage: main_exits_first */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static void *worker(void *arg)
{
    struct timespec ms = { 0, 200000000 };
    nanosleep(&ms, NULL);
    puts("worker done");
    fflush(stdout);
    return arg;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_detach(t);
    pthread_exit(NULL);
}
