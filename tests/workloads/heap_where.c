/* heap_where.c — a process whose memory is where the test says it is: the
 * heap holds much free memory it cannot give back (MIB_HEAP MiB in 1-KiB
 * blocks, every 16th kept and the rest freed: the free runs sit between kept
 * blocks, below the top, so glibc keeps them), and MIB_SHMEM MiB of shared
 * memory (a memfd, mapped shared and touched) sits beside it. Then it asks
 * for a heap profile on demand and waits for it (10 s at most). Prints
 * "freed <bytes>", "kept <bytes>", "shmem <bytes>" and "profiles <n>".
 * usage: heap_where DUMP_DIR [MIB_HEAP [MIB_SHMEM]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profiles.h"

#define BLOCK 1024
#define KEEP_EVERY 16

/* Allocates mib MiB in blocks and frees all but every KEEP_EVERY-th;
 * returns the blocks kept (leaked on purpose) and the bytes freed. */
__attribute__((noinline)) static void **fill_then_fragment(long mib, long *freed, long *kept)
{
    long n = mib * 1024 * 1024 / BLOCK;
    void **block = malloc((size_t)n * sizeof *block);
    if (!block) return NULL;
    for (long i = 0; i < n; i++) {
        block[i] = malloc(BLOCK);
        if (block[i]) memset(block[i], 0x5a, BLOCK); /* resident, whatever the allocator */
    }
    *freed = *kept = 0;
    for (long i = 0; i < n; i++) {
        if (i % KEEP_EVERY == 0) {
            *kept += BLOCK;
            continue;
        }
        free(block[i]);
        block[i] = NULL;
        *freed += BLOCK;
    }
    return block;
}

/* mib MiB of shared memory, every page touched: it counts as RssShmem. */
static void *map_shmem(long mib)
{
    size_t len = (size_t)mib << 20;
    int fd = memfd_create("heap_where", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0) return NULL;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return NULL;
    memset(p, 0x33, len);
    return p;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    long mib_heap = argc > 2 ? atol(argv[2]) : 64, mib_shmem = argc > 3 ? atol(argv[3]) : 32;
    long freed, kept;
    void **blocks = fill_then_fragment(mib_heap, &freed, &kept);
    void *shmem = map_shmem(mib_shmem);
    if (!blocks || !shmem) {
        perror("heap_where");
        return 1;
    }
    printf("freed %ld\nkept %ld\nshmem %ld\n", freed, kept, mib_shmem << 20);
    fflush(stdout);
    printf("profiles %d\n", request_profiles(dir, "heap", 1));
    return 0;
}
