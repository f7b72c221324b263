/* stack_slot.h — a stack recorded from signal context into a slot the monitor
 * preallocated, and the gate that tells the monitor when no handler can still
 * be writing one. Shared by the two SIGPROF consumers that record stacks: the
 * CPU sample buffer (cpu_samples.c: a handler claims the next free slot) and
 * the thread snapshot (thread_snapshot.c: the request names its slot).
 *
 * The protocol, written once here:
 *   handler:  conan_gate_enter → (claim a slot) → conan_stack_slot_fill →
 *             conan_gate_leave. A slot's depth is stored last, with release.
 *   monitor:  conan_gate_close (no handler passes it after this) →
 *             conan_gate_drain (none is still inside) → reads each slot's depth
 *             with acquire; a slot whose depth is still 0 was claimed but
 *             never completed.
 * enter raises inflight before it reads the gate and close lowers the gate
 * before drain reads inflight, both sequentially consistent, so a handler
 * either sees the gate closed or is counted by the drain. */
#ifndef CONAN_STACK_SLOT_H
#define CONAN_STACK_SLOT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "labels.h"
#include "stack_walk.h"

struct conan_stack_slot {
    pid_t tid;
    int weight;                  /* CPU: 1 + timer overruns, the ticks it stands for */
    unsigned generation;         /* snapshot: the snapshot this slot was handed out for */
    struct conan_label_set labels; /* the thread's labels (labels.h) as the stack was taken */
    int depth;                   /* atomic, stored last (release): > 0 once the stack is in */
    uintptr_t pcs[CONAN_MAX_FRAMES];
};

struct conan_gate {
    unsigned open;               /* atomic: 0 closed; otherwise the consumer's ticket (1, or a generation) */
    long inflight;               /* atomic: handlers between enter and leave */
};

/* Signal context: counts the handler in and returns the gate's ticket (0:
 * closed: the handler must not touch its buffer, but must still leave). */
static inline unsigned conan_gate_enter(struct conan_gate *g)
{
    __atomic_fetch_add(&g->inflight, 1, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&g->open, __ATOMIC_SEQ_CST);
}

static inline void conan_gate_leave(struct conan_gate *g)
{
    __atomic_fetch_sub(&g->inflight, 1, __ATOMIC_SEQ_CST);
}

static inline void conan_gate_open(struct conan_gate *g, unsigned ticket)
{
    __atomic_store_n(&g->open, ticket, __ATOMIC_SEQ_CST);
}

static inline void conan_gate_close(struct conan_gate *g)
{
    __atomic_store_n(&g->open, 0, __ATOMIC_SEQ_CST);
}

/* Monitor: waits up to wait_ms for handlers still inside; false if one never
 * left (its buffer must then never be unmapped). */
bool conan_gate_drain(struct conan_gate *g, int wait_ms);

/* A child of fork: handlers that were inside in the parent's other threads
 * never leave here; the gate starts closed and empty. */
void conan_gate_reset(struct conan_gate *g);

/* Signal context: walks the interrupted stack into s and publishes its depth.
 * When the walk finds nothing, keep_leaf keeps the interrupted pc alone
 * (depth 1); otherwise the depth is -1 (answered, no stack). Returns it. */
int conan_stack_slot_fill(struct conan_stack_slot *s, void *ucontext, bool keep_leaf);

/* Monitor: the slot's depth as its handler published it. */
static inline int conan_stack_slot_depth(const struct conan_stack_slot *s)
{
    return __atomic_load_n(&s->depth, __ATOMIC_ACQUIRE);
}

/* The interrupted instruction of a signal's ucontext. */
uintptr_t conan_interrupted_pc(const void *ucontext);

#endif
