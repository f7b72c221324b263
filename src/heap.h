/* heap.h — heap sampling: switching it on and off, and the heap
 * profile (heap.c). The hot path is in heap_inline.h. */
#ifndef CONAN_HEAP_H
#define CONAN_HEAP_H

#include <stdbool.h>
#include "config.h"
#include "heap_inline.h"
#include "pprof.h"
#include "symbols.h"

/* Starts sampling every heap.sample_bytes (0: off); from a normal thread
 * (the constructor's), not a signal handler. conan_heap_stop turns sampling
 * off (tracked blocks stay tracked, so their frees stay correct). */
void conan_heap_start(const struct conan_config *cfg);
/* The calling thread (libconan's own) is never sampled. */
void conan_heap_exempt_this_thread(void);
/* The shim stays inert in this process: each thread's next slow path puts its
 * countdown out of reach, so allocations cost the forwarding call alone. */
void conan_heap_never(void);
void conan_heap_stop(void);
/* fork (fork.c): the table lock is held across it. */
void conan_heap_prefork(void);
void conan_heap_postfork_parent(void);
void conan_heap_postfork_child(void);
bool conan_heap_sampling(void);
/* Bytes in use on the heap, from the allocator's own statistics when it has
 * them (*source "mallinfo2", "jemalloc"), else the sampled estimate ("sampled"). */
double conan_heap_in_use_bytes(const char **source);

/* The allocator's own view of its memory. heap.c is the one place that asks
 * the allocator (mallinfo2 can stall the program, see heap.c), for the heap
 * rule and the heap profile's comments alike. Monitor thread only. */
enum conan_allocator_view { CONAN_ALLOCATOR_NONE, CONAN_ALLOCATOR_GLIBC, CONAN_ALLOCATOR_JEMALLOC };
struct conan_allocator_stats {
    enum conan_allocator_view view;
    const char *why_none;        /* NONE: why there are no statistics */
    struct {                     /* mallinfo2(), summed over every arena; bytes */
        double arena;            /* arena: what the arenas hold (main: sbrk; others: their mmapped heaps) */
        double mmapped;          /* hblkhd: large blocks mmapped one by one, all in use */
        double in_use;           /* uordblks: in use inside the arenas (tcache's cached chunks included) */
        double free;             /* fordblks: free chunks in the arenas, top chunks included */
        double top_releasable;   /* keepcost: the main arena's top chunk, what trimming gives back */
    } glibc;
    struct {                     /* jemalloc's stats.<name>, after an "epoch" refresh; bytes */
        double allocated, active, resident, mapped, retained, metadata;
    } jemalloc;
};
void conan_heap_allocator_stats(struct conan_allocator_stats *out);
/* conan_heap_in_use_bytes from statistics already read: glibc in_use +
 * mmapped, jemalloc allocated, else the sampled estimate. */
double conan_heap_in_use_of(const struct conan_allocator_stats *a, const char **source);

struct conan_heap_stats {
    double inuse_bytes;          /* the sampled estimate: the heap profile's inuse_space total */
    long live;                   /* sampled blocks not yet freed */
    long stacks;                 /* distinct allocation stacks */
    long sampled, freed;         /* since start */
    long dropped;                /* samples not recorded (table memory exhausted) */
    long replaced;               /* tracked blocks whose free we never saw */
};
/* The heap profile: alloc_objects, alloc_space, inuse_objects, inuse_space,
 * unbiased for sampling; NULL on allocation failure. With syms, C++ operator
 * new frames on top of a stack are dropped, so the allocating code is the leaf. */
struct conan_pprof *conan_heap_profile(struct conan_heap_stats *stats, struct conan_symbols *syms);

#endif
