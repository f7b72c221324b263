/* heap_entry_points.c — every interposed malloc-family function, checked for
 * the allocator's semantics: alignment honoured, calloc zeroes, overflow gives
 * NULL and ENOMEM, realloc grows, shrinks, moves, takes NULL and size 0,
 * free(NULL), malloc_usable_size, and free keeping errno. Run under the shim
 * with every allocation sampled and with none, and without the shim; the
 * results must not differ. Prints "ok <checks>" or the first failures; exits 1
 * on any failure. With DUMP_DIR, and the shim present, it then asks for a
 * profile on demand and waits (10 s at most) for the heap profile to appear.
 * usage: heap_entry_points [ROUNDS [DUMP_DIR]] */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiles.h"

/* A failed realloc leaves the block valid, which this file checks on purpose. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free" /* GCC's; clang has no such warning */
#endif

static int checks, failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        checks++;                                                                        \
        if (!(cond)) {                                                                   \
            failures++;                                                                  \
            if (failures < 20) fprintf(stderr, "heap_entry_points:%d: %s\n", __LINE__, #cond); \
        }                                                                                \
    } while (0)

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return false;
    return true;
}

/* The compiler must not see through the allocation calls. */
static void *volatile keep;
static size_t opaque(size_t n) { return *(volatile size_t *)&n; }

__attribute__((noinline)) static void round_of_checks(void)
{
    long page = sysconf(_SC_PAGESIZE);

    for (size_t n = 1; n <= 1 << 20; n = n * 3 + 1) {
        unsigned char *p = malloc(n);
        CHECK(p != NULL && aligned(p, 16));
        CHECK(malloc_usable_size(p) >= n);
        memset(p, 0xab, n);
        CHECK(all_bytes(p, n, 0xab));
        free(p);
    }

    /* calloc zeroes, even reusing a block that was dirty */
    for (size_t n = 8; n <= 1 << 18; n *= 4) {
        unsigned char *dirty = malloc(n);
        memset(dirty, 0xff, n);
        free(dirty);
        unsigned char *z = calloc(n, 1);
        CHECK(z != NULL && all_bytes(z, n, 0));
        free(z);
    }
    errno = 0;
    keep = calloc(opaque(SIZE_MAX / 2), 3);
    CHECK(keep == NULL && errno == ENOMEM);

    /* realloc: NULL, grow (keeps content), shrink (keeps prefix), move, size 0 */
    unsigned char *r = realloc(NULL, 32);
    CHECK(r != NULL);
    memset(r, 0x11, 32);
    r = realloc(r, 4096);
    CHECK(r != NULL && all_bytes(r, 32, 0x11));
    memset(r, 0x22, 4096);
    unsigned char *moved = realloc(r, 8 << 20); /* large: another place entirely */
    CHECK(moved != NULL && all_bytes(moved, 4096, 0x22));
    r = realloc(moved, 16);
    CHECK(r != NULL && all_bytes(r, 16, 0x22));
    keep = realloc(r, opaque(SIZE_MAX - 4096)); /* fails: r is still ours (jemalloc leaves errno) */
    CHECK(keep == NULL && all_bytes(r, 16, 0x22));
    keep = realloc(r, 0); /* glibc frees and returns NULL */
    free(keep);

    /* reallocarray */
    unsigned *a = reallocarray(NULL, 100, sizeof *a);
    CHECK(a != NULL);
    for (unsigned i = 0; i < 100; i++) a[i] = i;
    a = reallocarray(a, 1000, sizeof *a);
    CHECK(a != NULL && a[99] == 99);
    errno = 0;
    keep = reallocarray(a, opaque(SIZE_MAX / 2), 4);
    CHECK(keep == NULL && errno == ENOMEM && a[50] == 50);
    free(a);

    /* the aligned family */
    for (size_t align = sizeof(void *); align <= 65536; align *= 2) {
        void *p = NULL;
        CHECK(posix_memalign(&p, align, 100) == 0 && p && aligned(p, align));
        free(p);
        p = aligned_alloc(align, align * 2);
        CHECK(p && aligned(p, align));
        free(p);
        p = memalign(align, 24);
        CHECK(p && aligned(p, align) && malloc_usable_size(p) >= 24);
        free(p);
    }
    void *bad = (void *)1;
    CHECK(posix_memalign(&bad, 3, 100) == EINVAL && bad == (void *)1);
    void *v = valloc(10);
    CHECK(v && aligned(v, (size_t)page));
    free(v);
    v = pvalloc(10);
    CHECK(v && aligned(v, (size_t)page) && malloc_usable_size(v) >= (size_t)page);
    free(v);

    /* free(NULL), and free keeps errno */
    free(NULL);
    void *e = malloc(64);
    errno = 1234;
    free(e);
    CHECK(errno == 1234);
    errno = 4321;
    free(NULL);
    CHECK(errno == 4321);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    for (int i = 0; i < rounds; i++) round_of_checks();
    if (failures) {
        fprintf(stderr, "heap_entry_points: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("ok %d\n", checks);
    fflush(stdout);
    if (argc > 2) request_profiles(argv[2], "heap", 1);
    return 0;
}
