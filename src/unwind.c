/* unwind.c — stack walking with libunwind (local only).
 *
 * conan_unwind_signal runs inside the SIGPROF handler, so it must be
 * async-signal-safe: no malloc, no locks of ours. libunwind's local unwinder is
 * built for this when its cache is per thread (the global cache would take a lock
 * and mask signals on every step), and when its lazy initialisation has already
 * happened on a normal thread — conan_unwind_prepare does both. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "internal.h"

void conan_unwind_prepare(void)
{
    static int prepared;
    if (__atomic_exchange_n(&prepared, 1, __ATOMIC_ACQ_REL)) return;
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    /* Walk our own stack once: this runs libunwind's one-time set-up here. */
    unw_context_t context;
    unw_cursor_t cursor;
    if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return;
    for (int i = 0; i < CONAN_MAX_FRAMES && unw_step(&cursor) > 0; i++) {
    }
}

/* Signal context: async-signal-safe.
 * The first frame's IP is the interrupted instruction itself; every caller's IP
 * is a return address, so we report it minus one to land inside the call
 * instruction (what pprof expects of non-leaf locations). A frame right after a
 * signal trampoline was interrupted too, so it is exact as well. */
int conan_unwind_signal(void *ucontext, uintptr_t *pcs, int max)
{
    unw_cursor_t cursor;
    if (unw_init_local2(&cursor, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) != 0) return 0;
    int depth = 0;
    bool exact = true;
    while (depth < max) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        pcs[depth++] = exact ? (uintptr_t)ip : (uintptr_t)ip - 1;
        exact = unw_is_signal_frame(&cursor) > 0;
        if (unw_step(&cursor) <= 0) break;
    }
    return depth;
}
