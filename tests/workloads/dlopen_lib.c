/* dlopen_lib.c — built twice, as libdl_resident.so and libdl_transient.so
 * (LIB_NAME picks the function names), for the dlopen workload: a CPU burn and
 * allocations that happen inside a library loaded after the shim started. */
#include <stdlib.h>
#include <string.h>

#include "burn.h"

#define JOIN(a, b) a##b
#define NAME(prefix, suffix) JOIN(prefix, suffix)

static volatile double sink;

__attribute__((noinline)) void NAME(LIB_NAME, _burn)(long ms)
{
    sink = burn_wall_ms(ms);
}

/* Allocates n blocks of 1 KiB; keeps them if keep, else frees them. */
__attribute__((noinline)) void **NAME(LIB_NAME, _alloc)(int n, int keep)
{
    void **blocks = calloc((size_t)n, sizeof *blocks);
    for (int i = 0; blocks && i < n; i++) {
        blocks[i] = malloc(1024);
        if (blocks[i]) memset(blocks[i], i, 1024);
    }
    if (blocks && !keep) {
        for (int i = 0; i < n; i++) free(blocks[i]);
        free(blocks);
        return NULL;
    }
    return blocks;
}
