/* heap_early_lib.c — a library the heap_early_late workload links. Its
 * constructor runs before libconan's (a preloaded library is initialised after
 * the program's own dependencies) and allocates; its destructor runs after
 * libconan's and frees everything still held, sampled blocks included. Each
 * says whether libconan's monitor was running at that moment. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EARLY 512
#define KEPT_MAX 4096

void *early_block[EARLY];
static void *kept[KEPT_MAX];
static int nkept;
static int monitor_at_start = -2;

static int monitor_running(void)
{
    int (*request)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "conan_request_profile");
    return request ? request() == 0 : -1;
}

void early_keep(void *p)
{
    if (nkept < KEPT_MAX) kept[nkept++] = p;
}

__attribute__((constructor)) static void allocate_early(void)
{
    monitor_at_start = monitor_running();
    for (int i = 0; i < EARLY; i++) {
        early_block[i] = malloc(1024 + (size_t)i * 16);
        memset(early_block[i], i, 64);
    }
}

__attribute__((destructor)) static void free_late(void)
{
    int monitor_at_end = monitor_running();
    int freed = 0;
    for (int i = 0; i < EARLY; i++)
        if (early_block[i]) {
            free(early_block[i]);
            freed++;
        }
    for (int i = 0; i < nkept; i++) {
        kept[i] = realloc(kept[i], 100000); /* realloc of sampled blocks, after us */
        free(kept[i]);
        freed++;
    }
    printf("constructor: monitor %s; destructor: monitor %s; freed %d at exit\n",
           monitor_at_start == 1 ? "running" : monitor_at_start == 0 ? "not running" : "absent",
           monitor_at_end == 1 ? "running" : monitor_at_end == 0 ? "not running" : "absent", freed);
    fflush(stdout);
}
