/* test_heap.c — the heap sampler's engine driven directly, the way the malloc
 * wrappers drive it, so that it also runs under AddressSanitizer and
 * ThreadSanitizer (which own malloc themselves, so a preloaded libconan's
 * wrappers would never be reached; see docs/TESTING.md, "Sanitizers").
 *
 * 8 threads allocate with the C library, count down, sample, and free each
 * other's blocks through a shared array, with realloc's forget/restore path
 * taken too; the sample interval is tiny so nearly everything is sampled.
 * Afterwards, with everything freed: the table is empty, sampled = freed, and
 * the hint counters are all back to zero (integration/heap_stress checks the
 * estimates through `go tool pprof`). A second part checks the Poisson
 * sampling rate on one thread, and that nothing is sampled while off. */
#include "internal.h"
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define SLOTS 1024

static void *slot[SLOTS];
static long iterations = 20000;
static long made; /* atomic */

/* What preload/malloc.c does around the C library's malloc and free. */
static void *sampled_malloc(size_t size)
{
    void *p = malloc(size);
    if (conan_heap_countdown(size)) conan_heap_sample(p, size);
    return p;
}

static void sampled_free(void *p)
{
    if (conan_heap_maybe_sampled(p)) conan_heap_forget(p, NULL);
    free(p);
}

/* realloc's path when it fails: forget, then restore the same block. */
static void forget_and_restore(void *p)
{
    struct conan_heap_taken taken;
    if (!conan_heap_maybe_sampled(p)) return;
    conan_heap_forget(p, &taken);
    conan_heap_restore(p, &taken);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    long mine = 0;
    for (long i = 0; i < iterations; i++) {
        seed = seed * 1103515245u + 12345u;
        void *p = sampled_malloc(16 + (seed >> 8) % 497);
        mine++;
        if (i % 7 == 0) forget_and_restore(p);
        sampled_free(__atomic_exchange_n(&slot[(seed >> 4) % SLOTS], p, __ATOMIC_ACQ_REL));
    }
    __atomic_fetch_add(&made, mine, __ATOMIC_RELAXED);
    return NULL;
}

static void test_threads_free_each_other(void)
{
    struct conan_config cfg;
    conan_config_defaults(&cfg);
    cfg.heap.sample_bytes = 64;
    conan_heap_start(&cfg);

    pthread_t tid[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)(t + 1));
    for (int t = 0; t < THREADS; t++) pthread_join(tid[t], NULL);
    for (int i = 0; i < SLOTS; i++) sampled_free(slot[i]);

    struct conan_heap_stats st;
    struct conan_pprof *p = conan_heap_profile(&st, NULL);
    CHECK(p != NULL);
    conan_pprof_free(p);
    CHECK_INT(st.live, 0);
    CHECK_INT(st.sampled, st.freed);
    CHECK_INT(st.dropped, 0);
    CHECK_INT(st.replaced, 0);
    CHECK(st.sampled > made / 2);
    long nonzero = 0;
    for (size_t i = 0; i < (1u << CONAN_HEAP_HINT_BITS); i++) nonzero += conan_heap_hint[i] != 0;
    CHECK_INT(nonzero, 0);
    conan_heap_stop();
}

/* One thread, fixed-size allocations of s bytes at interval R: the fraction
 * sampled is 1 - e^(-s/R). */
static void test_poisson_rate(void)
{
    struct conan_config cfg;
    conan_config_defaults(&cfg);
    cfg.heap.sample_bytes = 4096;
    conan_heap_start(&cfg);
    struct conan_heap_stats before, after;
    conan_pprof_free(conan_heap_profile(&before, NULL));
    const size_t size = 1024;
    const long n = 400000;
    for (long i = 0; i < n; i++) sampled_free(sampled_malloc(size));
    conan_pprof_free(conan_heap_profile(&after, NULL));
    double fraction = (double)(after.sampled - before.sampled) / (double)n;
    double expected = -expm1(-(double)size / 4096.0); /* 0.2212 */
    CHECK_NEAR(fraction, expected, 0.01);
    conan_heap_stop();

    /* sampling off: nothing sampled, and the countdown re-checks cheaply */
    conan_pprof_free(conan_heap_profile(&before, NULL));
    for (long i = 0; i < 10000; i++) sampled_free(sampled_malloc(size));
    conan_pprof_free(conan_heap_profile(&after, NULL));
    CHECK_INT(after.sampled, before.sampled);
}

/* Blocks sampled while on and freed after sampling was turned off (a pause,
 * the destructor) come off the books with the weight they were sampled with. */
static void test_free_after_stop(void)
{
    struct conan_config cfg;
    conan_config_defaults(&cfg);
    cfg.heap.sample_bytes = 65536;
    conan_heap_start(&cfg);
    const char *source;
    double before = conan_heap_in_use_bytes(&source);
    CHECK_STR(source, "sampled"); /* no allocator found: this test links no wrappers */
    void *block[200];
    for (int i = 0; i < 200; i++) block[i] = sampled_malloc(16384);
    double during = conan_heap_in_use_bytes(&source) - before;
    CHECK_NEAR(during, 200 * 16384.0, 0.5 * 200 * 16384.0); /* ~44 samples: 3.5 sigma */
    conan_heap_stop();
    for (int i = 0; i < 200; i++) sampled_free(block[i]);
    CHECK_NEAR(conan_heap_in_use_bytes(&source), before, 1.0);
}

int main(void)
{
    test_threads_free_each_other();
    test_poisson_rate();
    test_free_after_stop();
    CHECK_DONE();
}
