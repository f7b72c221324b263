/* heap_inline.h — the heap sampler's hot path: what preload/malloc.c runs
 * on every call, and the slow-path entries it calls (heap.c). Nothing else, so
 * the malloc wrappers include only this. */
#ifndef CONAN_HEAP_INLINE_H
#define CONAN_HEAP_INLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Heap sampling. The malloc wrappers (preload/malloc.c) run the two inline
 * tests below on every call; everything else here is the slow path, reached
 * about once per heap.sample_bytes allocated, or by a free of a pointer that
 * may have been sampled. */

struct conan_heap_thread {
    int64_t bytes_left;          /* allocation bytes until the next sample; < 0: slow path */
    uint64_t rng;                /* xorshift state for the exponential intervals */
    bool started;                /* rng seeded and a first interval drawn */
    bool busy;                   /* inside the slow path: nested allocations are not sampled */
    bool exempt;                 /* a libconan thread: never sampled */
    bool registered;             /* see conan_heap_thread_registered */
};
extern __thread struct conan_heap_thread conan_heap_tls __attribute__((tls_model("initial-exec")));

/* One counter per hash slot of sampled addresses: a free whose slot is zero
 * was certainly not sampled. Read with a plain load; changed under the table
 * lock only, which is on the slow path. */
#define CONAN_HEAP_HINT_BITS 19
extern uint16_t conan_heap_hint[1u << CONAN_HEAP_HINT_BITS];

/* Neighbouring blocks get neighbouring slots (frees of recent allocations
 * touch few cache lines); higher address bits are folded in so that blocks at
 * the same offset of different 8-MiB regions (glibc's per-thread heaps) do
 * not all collide. */
static inline size_t conan_heap_hint_slot(const void *p)
{
    uintptr_t a = (uintptr_t)p >> 4;
    return (size_t)((a ^ (a >> CONAN_HEAP_HINT_BITS)) & ((1u << CONAN_HEAP_HINT_BITS) - 1));
}

/* Hot path, every allocation: counts size down; true when this allocation must
 * go to conan_heap_sample. No lock, no shared write, no call. */
static inline bool conan_heap_countdown(size_t size)
{
    return __builtin_expect((conan_heap_tls.bytes_left -= (int64_t)size) < 0, 0);
}

/* Hot path, every free: false means p was certainly not sampled. */
static inline bool conan_heap_maybe_sampled(const void *p)
{
    return __builtin_expect(__atomic_load_n(&conan_heap_hint[conan_heap_hint_slot(p)], __ATOMIC_RELAXED) != 0, 0);
}

/* Slow path of an allocation whose countdown ran out: draws the next interval
 * and, if sampling is on, records p's stack and size. p may be NULL (failed). */
void conan_heap_sample(void *p, size_t size);
/* A sampled block being freed or reallocated: what forgetting it removed. */
struct conan_heap_taken { void *bucket; size_t size; double weight; };
/* Slow path of a free: stops tracking p if it was sampled (taken may be NULL).
 * Keeps errno. Must run before the block goes back to the allocator. */
void conan_heap_forget(void *p, struct conan_heap_taken *taken);
/* A realloc failed: p is still live, so track it again as it was. */
void conan_heap_restore(void *p, const struct conan_heap_taken *taken);
/* Makes frees of p take the slow path forever (bootstrap blocks). Inline, as
 * the bootstrap arena's allocations may come before any other code can run
 * (see the top of preload/malloc.c). */
static inline void conan_heap_pin(const void *p)
{
    __atomic_fetch_add(&conan_heap_hint[conan_heap_hint_slot(p)], 1, __ATOMIC_RELAXED);
}

/* The allocator behind us, as preload/malloc.c found it. */
struct conan_allocator {
    const char *name;            /* "glibc", "jemalloc", or the object's file name */
    int (*mallctl)(const char *, void *, size_t *, void *, size_t); /* jemalloc's, or NULL */
};
extern struct conan_allocator conan_allocator;

/* The thread registry (thread_registry.c) marks the threads it runs, from their start
 * routine to the end of its bookkeeping at their exit. Only the sanitized
 * test builds look at the mark (preload/malloc.c): a sanitizer runtime knows a
 * thread only between its own start and end hooks, yet the allocations it
 * makes outside them come to our wrappers too. */
void conan_heap_thread_registered(bool registered);

#endif
