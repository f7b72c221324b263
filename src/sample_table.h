/* sample_table.h — what the tables of sampled stacks in heap.c and mutex.c
 * share: memory from a pool of mmapped chunks that is never given back (no
 * malloc on a sampling path, and a record stays valid for the process's life),
 * and the hash of a sample's key, its stack and its labels. Callers hold their
 * table's lock. */
#ifndef CONAN_SAMPLE_TABLE_H
#define CONAN_SAMPLE_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include "labels.h"

struct conan_pool {
    char *next, *end;            /* the current chunk's free part */
    long total;                  /* bytes mapped in all */
};

/* size bytes, 16-aligned, from chunks of chunk bytes, never more than max in
 * all; NULL when the pool is spent or the kernel refuses. */
static inline void *conan_pool_take(struct conan_pool *pool, size_t size, long chunk, long max)
{
    size = (size + 15) & ~(size_t)15;
    if (pool->end - pool->next < (ptrdiff_t)size) {
        if (pool->total + chunk > max || (long)size > chunk) return NULL;
        void *mem = mmap(NULL, (size_t)chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) return NULL;
        pool->total += chunk;
        pool->next = mem;
        pool->end = pool->next + chunk;
    }
    void *p = pool->next;
    pool->next += size;
    return p;
}

/* FNV-1a over the stack's words, then the labels' pair ids. */
static inline uint64_t conan_sample_key_hash(const uintptr_t *pcs, int depth, const struct conan_label_set *labels)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < depth; i++) h = (h ^ pcs[i]) * 1099511628211ull;
    for (int i = 0; i < CONAN_LABELS_MAX; i++) h = (h ^ labels->pair[i]) * 1099511628211ull;
    return h;
}

#endif
