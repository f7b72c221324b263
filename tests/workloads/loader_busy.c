/* loader_busy.c — four threads walking the loaded-object list with
 * dl_iterate_phdr in a loop (what C++ exception unwinding, backtrace() and
 * libunwind itself do), so the C library's loader lock is held most of the
 * time. A profiler whose signal handler takes that lock deadlocks here.
 * usage: loader_busy SECONDS */
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int stop;

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
    pthread_t t[4];
    long seen[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, walk_loaded_objects, &seen[i]);
    sleep((unsigned)seconds);
    stop = 1;
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    printf("done\n");
    return 0;
}
