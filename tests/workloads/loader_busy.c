/* loader_busy.c — four threads walking the loaded-object list with
 * dl_iterate_phdr in a loop (what C++ exception unwinding, backtrace() and
 * libunwind itself do), so the C library's loader lock is held most of the
 * time. A profiler whose signal handler takes that lock deadlocks here.
 * Runs for SECONDS, or until SIGUSR1 asks it to stop.
 * usage: loader_busy SECONDS */
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_usr1(int sig)
{
    (void)sig;
    stop = 1;
}

static int count_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size;
    (*(long *)arg)++;
    return 0;
}

__attribute__((noinline)) static void *walk_loaded_objects(void *arg)
{
    long seen = 0;
    while (!stop) dl_iterate_phdr(count_object, &seen);
    *(long *)arg = seen;
    return NULL;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 4;
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t t[4];
    long seen[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, walk_loaded_objects, &seen[i]);
    for (int left = seconds; left > 0 && !stop; left--) sleep(1); /* a signal cuts it short */
    stop = 1;
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("done\n");
    return 0;
}
