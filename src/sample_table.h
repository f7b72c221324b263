/* sample_table.h — the table of sampled stacks that heap.c and mutex.c each
 * keep: entries keyed by (stack, labels), chained by hash, listed newest first,
 * bounded in number, their memory from a pool of mmapped chunks that is never
 * given back (no malloc on a sampling path, and an entry stays valid for the
 * process's life). Callers hold their table's lock. */
#ifndef CONAN_SAMPLE_TABLE_H
#define CONAN_SAMPLE_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "labels.h"

struct conan_pool {
    char *next, *end;            /* the current chunk's free part */
    long total;                  /* bytes mapped in all */
};

/* The key part of an entry. A caller's entry is its own counters followed by
 * this, last, since its pcs[] follow it. */
struct conan_sample_key {
    struct conan_sample_key *next;  /* in its hash chain */
    struct conan_sample_key *older; /* the list of all entries, newest first; immutable */
    uint64_t hash;
    struct conan_label_set labels;  /* the sampled thread's (labels.h) */
    int depth;
    uintptr_t pcs[];             /* leaf first; immutable once published */
};

struct conan_sample_table {
    struct conan_sample_key **heads; /* 1 << bits chain heads, the caller's array */
    int bits;
    struct conan_sample_key *newest; /* head of the all-entries list */
    long count, max;             /* entries, and the most kept; further new keys are dropped */
    size_t entry_size, key_offset; /* the caller's entry, and where its key sits in it */
    struct conan_pool pool;
    long chunk, pool_max;        /* the pool maps chunks this big, never more than pool_max */
};

/* A table whose entries are type, with its key in member. */
#define CONAN_SAMPLE_TABLE_INIT(heads_, bits_, max_, type, member, chunk_, pool_max_)                            \
    {                                                                                                            \
        .heads = (heads_), .bits = (bits_), .max = (max_), .entry_size = sizeof(type),                          \
        .key_offset = offsetof(type, member), .chunk = (chunk_), .pool_max = (pool_max_)                        \
    }

/* The entry of (pcs, depth, labels): found, or added zeroed but for its key.
 * Returns its key (the caller's entry is key_offset before it); NULL when the
 * table is full or the pool spent. */
struct conan_sample_key *conan_sample_table_find_or_add(struct conan_sample_table *t, const uintptr_t *pcs,
                                                        int depth, const struct conan_label_set *labels);

/* size bytes, 16-aligned, from the table's pool, for the caller's other
 * records; NULL when the pool is spent or the kernel refuses. */
void *conan_sample_table_take(struct conan_sample_table *t, size_t size);

#endif
