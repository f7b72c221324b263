/* dlopen_churn.c — libraries coming and going while libconan samples.
 * After start it loads libdl_resident.so (kept) and then, for MS milliseconds,
 * the main thread burns and allocates in it while a second thread loads
 * libdl_transient.so, burns and allocates in it, and unloads it again, over
 * and over (so samples and stack walks meet the loader lock held and code
 * that is gone by the time the profile is written).
 * With DUMP_DIR, the burn goes on past MS until DUMP_DIR holds 3 CPU profiles
 * (20 s more at most): a loaded machine gives the monitor fewer windows in MS.
 * usage: dlopen_churn LIBDIR MS [DUMP_DIR]
 * stdout: rounds that completed, independent of timing. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "profiles.h"

typedef void (*burn_fn)(long);
typedef void **(*alloc_fn)(int, int);

static const char *libdir;
static volatile int done;
static int transient_failures;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *open_lib(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", libdir, name);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static void *churn(void *arg)
{
    long *rounds = arg;
    while (!done) {
        void *h = open_lib("libdl_transient.so");
        burn_fn burn = h ? (burn_fn)dlsym(h, "dl_transient_burn") : NULL;
        alloc_fn alloc = h ? (alloc_fn)dlsym(h, "dl_transient_alloc") : NULL;
        if (!burn || !alloc) {
            transient_failures++;
            break;
        }
        burn(5);
        alloc(50, 0);
        dlclose(h);
        ++*rounds;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dlopen_churn LIBDIR MS [DUMP_DIR]\n");
        return 2;
    }
    libdir = argv[1];
    long ms = atol(argv[2]);
    const char *dump_dir = argc > 3 ? argv[3] : NULL;
    void *h = open_lib("libdl_resident.so");
    burn_fn burn = h ? (burn_fn)dlsym(h, "dl_resident_burn") : NULL;
    alloc_fn alloc = h ? (alloc_fn)dlsym(h, "dl_resident_alloc") : NULL;
    if (!burn || !alloc) {
        fprintf(stderr, "dlopen_churn: %s\n", dlerror());
        return 2;
    }
    long churned = 0;
    pthread_t t;
    pthread_create(&t, NULL, churn, &churned);
    double start = now_ms();
    int rounds = 0;
    for (;;) {
        double elapsed = now_ms() - start;
        if (elapsed >= ms && (!dump_dir || profiles_of_kind(dump_dir, "cpu") >= 3 || elapsed >= ms + 20000)) break;
        burn(20);
        alloc(20, 1); /* kept: live in the heap profile */
        rounds++;
    }
    done = 1;
    pthread_join(t, NULL);
    printf("resident library: done; transient library: %s\n", transient_failures ? "failed" : "loaded and unloaded");
    fprintf(stderr, "%d rounds, %ld loads\n", rounds, churned);
    return transient_failures ? 1 : 0;
}
