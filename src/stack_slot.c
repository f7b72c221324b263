/* stack_slot.c — filling a stack slot from signal context, and draining the
 * gate its handlers pass (the protocol is described in stack_slot.h).
 * conan_stack_slot_fill runs in signal context: async-signal-safe, no lock,
 * no allocation. */
#include "stack_slot.h"

#include <assert.h>
#include <ucontext.h>
#include "clock.h"

uintptr_t conan_interrupted_pc(const void *ucontext)
{
    const ucontext_t *uc = ucontext;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

int conan_stack_slot_fill(struct conan_stack_slot *s, void *ucontext, bool keep_leaf)
{
    conan_labels_capture(&s->labels);
    int depth = conan_unwind_context(ucontext, s->pcs, CONAN_MAX_FRAMES);
    if (depth <= 0 && keep_leaf) {
        s->pcs[0] = conan_interrupted_pc(ucontext);
        depth = 1;
    } else if (depth <= 0) {
        depth = -1;
    }
    __atomic_store_n(&s->depth, depth, __ATOMIC_RELEASE);
    return depth;
}

bool conan_gate_drain(struct conan_gate *g, int wait_ms)
{
    assert(__atomic_load_n(&g->open, __ATOMIC_RELAXED) == 0); /* closed first, or handlers keep coming */
    for (int waited = 0; __atomic_load_n(&g->inflight, __ATOMIC_SEQ_CST) != 0; waited++) {
        if (waited >= wait_ms) return false;
        conan_sleep_ms(1);
    }
    return true;
}

void conan_gate_reset(struct conan_gate *g)
{
    __atomic_store_n(&g->open, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g->inflight, 0, __ATOMIC_SEQ_CST);
}
