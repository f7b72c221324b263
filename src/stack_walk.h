/* stack_walk.h — stack walks: from a machine context (signal handlers,
 * blocked threads; unwind_context.c) and from the calling thread (heap
 * samples, thread creation; unwind_caller.c). */
#ifndef CONAN_STACK_WALK_H
#define CONAN_STACK_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include "procfs.h"

#define CONAN_MAX_FRAMES 64

/* Call once from a normal thread before any signal-context unwinding, so that
 * libunwind's lazy initialisation never happens inside a signal handler. */
void conan_unwind_prepare(void);
/* Monitor thread: (re)builds the snapshot of loaded objects' unwind tables if
 * objects were loaded or unloaded since the last one. */
void conan_unwind_refresh_tables(void);
/* After a window has drained: frees snapshots no walk can still be reading. */
void conan_unwind_release_retired(void);
/* Async-signal-safe: unwinds from a machine context (a signal's ucontext, or
 * one filled from /proc or by getcontext) into pcs (leaf first: the
 * interrupted PC exactly, callers as return address − 1): with the cached
 * call-frame rules (frame_rules.c) when the stack is the calling thread's own
 * and they can answer, else with libunwind. Returns depth. */
int conan_unwind_context(void *ucontext, uintptr_t *pcs, int max);
/* Tests and benchmarks only (reached through internal.h): the two walks
 * conan_unwind_context chooses between, alone on the same context. The
 * cached-rule walk returns -1 where it refuses (conan_unwind_context then
 * walks with libunwind). */
int conan_unwind_context_fast(void *ucontext, uintptr_t *pcs, int max);
int conan_unwind_context_libunwind(void *ucontext, uintptr_t *pcs, int max);
/* Not in signal context: unwinds the calling thread from here (this function's
 * caller first, every frame as return address − 1). No lock, no allocation
 * once conan_unwind_prepare has run. Returns depth. */
int conan_unwind_here(uintptr_t *pcs, int max);
/* Monitor thread: unwinds another thread of ours, blocked in the kernel, from
 * the stack pointer and program counter /proc shows for it. Returns depth. */
int conan_unwind_from(uintptr_t sp, uintptr_t pc, uintptr_t *pcs, int max);
/* The same for thread tid, blocked where at says (its /proc registers): the
 * bare pc when the walk finds nothing; 0 if the thread moved meanwhile (its
 * syscall line changed: the stack moved under the walk). */
int conan_unwind_blocked(pid_t tid, const struct conan_task_syscall *at, uintptr_t *pcs, int max);
/* The same without libconan's own frames on top: the stack of the program's
 * code that called into us (malloc, pthread_create). */
int conan_unwind_caller(uintptr_t *pcs, int max);
/* Is pc in libconan's own text, or in the unwinders it walks with (libgcc_s,
 * libunwind)? A lock call from there is a walk's, never a program's wait to
 * sample: a sample would walk again under that lock, which the walk may need
 * (libgcc's FDE search lock). False before conan_unwind_prepare. */
bool conan_unwind_is_ours(uintptr_t pc);
/* Once, from conan_unwind_prepare: finds libgcc_s's unwinder and libconan's
 * own text for the calling-thread walks, and notes those and libunwind's text
 * (at libunwind_code) for conan_unwind_is_ours. */
void conan_unwind_caller_prepare(uintptr_t libunwind_code);

/* fork (fork.c): running walks are waited for; the child reads its own pid. */
void conan_unwind_prefork(void);
void conan_unwind_postfork_parent(void);
void conan_unwind_postfork_child(void);

#endif
