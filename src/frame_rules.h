/* frame_rules.h — stack walks from cached call-frame rules (frame_rules.c). */
#ifndef CONAN_FRAME_RULES_H
#define CONAN_FRAME_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* Walks the calling thread's stack from a return address pc, with the stack
 * pointer sp and rbp of the frame it returns to, using cached call-frame rules
 * (x86-64). Fills pcs with return addresses minus one; returns the depth, or
 * -1 when it cannot walk this stack (the caller then walks with libgcc). */
int conan_frame_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t *pcs, int max);
/* Gives the walk libgcc_s's _Unwind_Find_FDE; until then every walk is -1. */
void conan_frame_rules_prepare(void *unwind_find_fde);
/* The calling thread is starting (normal context, may allocate): looks up
 * its stack bounds, without which its walks are refused. */
void conan_frame_rules_thread_start(void);
/* Code may have been unloaded (dlclose): cached rules are computed again. */
void conan_frame_rules_forget(void);
/* Tests: rules computed so far, walks refused. */
void conan_frame_rules_stats(long *miss, long *refuse);
/* The generation rules are cached under; conan_frame_rules_forget advances it. */
uint32_t conan_frame_rules_generation(void);

/* ---- the signal-context walk (called by unwind_context.c) ---- */

/* An FDE and its CIE copied out of an object's .eh_frame, each whole (its
 * length word says how much; at most the size of its buffer). */
#define CONAN_FDE_BYTES 1024
#define CONAN_CIE_BYTES 256
struct conan_fde_copy {
    unsigned char fde[CONAN_FDE_BYTES], cie[CONAN_CIE_BYTES];
    uintptr_t fde_at;            /* where the FDE is in the object */
    uintptr_t func;              /* the first address it covers, as the search table says */
};

enum conan_fde_found {
    CONAN_FDE_COPIED,            /* in the copy */
    CONAN_FDE_NONE,              /* known code this walk cannot use (no FDE, or one too long) */
    CONAN_FDE_UNKNOWN,           /* not known now (not in the snapshot, a read failed, a stale snapshot) */
};

/* How a signal-context walk reads: word reads one saved word of the stack
 * without ever faulting; fde finds and copies target's FDE, the same way, as
 * it stands in rule generation gen. Both async-signal-safe. */
struct conan_frame_reader {
    bool (*word)(void *arg, uintptr_t at, uintptr_t *out);
    enum conan_fde_found (*fde)(void *arg, uintptr_t target, uint32_t gen, struct conan_fde_copy *out);
    void *arg;
};

/* Signal context (async-signal-safe, no lock, no allocation): walks the
 * interrupted thread's stack from its pc, sp and rbp with the cached rules,
 * computing missing ones from r->fde's copies. Fills pcs with the pc itself,
 * then return addresses minus one; returns the depth, or -1 when it cannot
 * vouch for the walk (the caller then walks with libunwind; see frame_rules.c). */
int conan_frame_walk_signal(uintptr_t pc, uintptr_t sp, uintptr_t bp, const struct conan_frame_reader *r,
                            uintptr_t *pcs, int max);

#endif
