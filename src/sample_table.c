/* sample_table.c — the table of sampled stacks heap.c and mutex.c keep
 * (sample_table.h): its pool of mmapped chunks, the key hash, find-or-add. */
#include "sample_table.h"

#include <string.h>
#include <sys/mman.h>

static void *pool_take(struct conan_pool *pool, size_t size, long chunk, long max)
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

void *conan_sample_table_take(struct conan_sample_table *t, size_t size)
{
    return pool_take(&t->pool, size, t->chunk, t->pool_max);
}

/* FNV-1a over the stack's words, then the labels' pair ids. */
static uint64_t key_hash(const uintptr_t *pcs, int depth, const struct conan_label_set *labels)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < depth; i++) h = (h ^ pcs[i]) * 1099511628211ull;
    for (int i = 0; i < CONAN_LABELS_MAX; i++) h = (h ^ labels->pair[i]) * 1099511628211ull;
    return h;
}

struct conan_sample_key *conan_sample_table_find_or_add(struct conan_sample_table *t, const uintptr_t *pcs,
                                                        int depth, const struct conan_label_set *labels)
{
    uint64_t h = key_hash(pcs, depth, labels);
    struct conan_sample_key **head = &t->heads[h >> (64 - t->bits)];
    for (struct conan_sample_key *k = *head; k; k = k->next)
        if (k->hash == h && k->depth == depth && memcmp(k->pcs, pcs, (size_t)depth * sizeof *pcs) == 0 &&
            memcmp(&k->labels, labels, sizeof *labels) == 0)
            return k;
    if (t->count >= t->max) return NULL;
    char *entry = conan_sample_table_take(t, t->entry_size + (size_t)depth * sizeof *pcs);
    if (!entry) return NULL;
    memset(entry, 0, t->entry_size);
    struct conan_sample_key *k = (struct conan_sample_key *)(entry + t->key_offset);
    k->hash = h;
    k->labels = *labels;
    k->depth = depth;
    memcpy(k->pcs, pcs, (size_t)depth * sizeof *pcs);
    k->next = *head;
    *head = k;
    k->older = t->newest;
    t->newest = k;
    t->count++;
    return k;
}
