/* heap_fragmented.c — a heavily fragmented glibc heap (every other block of
 * BLOCKS freed, so the arena holds BLOCKS/2 free chunks), then a malloc+free
 * loop for SECONDS that reports its slowest call and how many took over 20 ms.
 * Anything that walks the arena under its lock (mallinfo2) stalls this loop.
 * usage: heap_fragmented BLOCKS SECONDS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double seconds = argc > 2 ? atof(argv[2]) : 3;
    void **block = malloc((size_t)n * sizeof *block);
    for (long i = 0; i < n; i++) block[i] = malloc(1100 + (size_t)(i % 7) * 16);
    for (long i = 0; i < n; i += 2) free(block[i]);
    double end = now() + seconds, worst = 0;
    long slow = 0;
    while (now() < end) {
        double t = now();
        void *p = malloc(2000);
        ((volatile char *)p)[0] = 1;
        free(p);
        double took = now() - t;
        if (took > worst) worst = took;
        if (took > 0.02) slow++;
    }
    printf("worst %.1f ms, %ld calls over 20 ms\n", worst * 1e3, slow);
    return 0;
}
