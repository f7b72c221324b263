/* frame_rules.h — stack walks from cached call-frame rules (frame_rules.c). */
#ifndef CONAN_FRAME_RULES_H
#define CONAN_FRAME_RULES_H

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

#endif
