/* thread_ask.h — taking another thread's stack without hurting it
 * (thread_ask.c): a blocked thread is walked on the monitor from its /proc
 * registers, no signal; a running one is asked with a SIGPROF carrying a
 * pointer to its slot. Shared by the threads profile (thread_snapshot.c: one
 * round, waited for) and the wall profile (wall.c: hz rounds a second, each
 * collected at the next). */
#ifndef CONAN_THREAD_ASK_H
#define CONAN_THREAD_ASK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "procfs.h"
#include "stack_slot.h"

#define CONAN_ASK_REGIONS_MAX 24 /* slot arrays, each twice the last; never unmapped */

/* A consumer's slots: a late request must still point into memory that is
 * ours and mapped, so arrays are only ever added. */
struct conan_ask_pool {
    struct { struct conan_stack_slot *slot; long capacity; } region[CONAN_ASK_REGIONS_MAX];
    int nregion;                 /* atomic: handlers read the regions */
    struct conan_stack_slot *slot; /* the current (largest) array */
    long capacity;
    struct conan_gate gate;      /* open with the generation of the round running now */
    unsigned last_generation;
};

/* A slot's depth besides > 0 (the stack is in) and 0 (waiting for, or
 * needing, a signal). */
enum { CONAN_ASK_NOT_ASKED = -2, CONAN_ASK_GONE = -3, CONAN_ASK_IN_EXEC = -4 };

/* Monitor: at least n slots in pool->slot; 0, or -1 (no memory). */
int conan_ask_reserve(struct conan_ask_pool *pool, long n);
/* Monitor: a fresh generation (never 0: a closed gate's ticket). */
unsigned conan_ask_generation(struct conan_ask_pool *pool);
/* Signal context: is this a request into pool's slots? If so, fill the slot
 * (while the gate is open with the slot's generation) and return true; a late
 * one is ours too, and dropped. */
bool conan_ask_on_signal(struct conan_ask_pool *pool, const siginfo_t *info, void *ucontext);
/* Monitor: sends tid a SIGPROF carrying s (an SI_TIMER signal, which execve
 * discards). 0, or -1 (the thread is gone). */
int conan_ask_send(pid_t tid, struct conan_stack_slot *s);
/* Monitor: the stack of thread tid, found where its syscall line says:
 * depth > 0 if blocked and walked; 0 if it is running (ask it) or moved
 * while walked; CONAN_ASK_IN_EXEC in execve (a signal queued now would reach
 * the new program, with our handler gone). */
int conan_ask_walk_blocked(pid_t tid, uintptr_t *pcs);
/* Thread tid's CPU time in nanoseconds (its thread CPU clock: one system
 * call, no file), or -1 if it is gone. A thread whose CPU time has not
 * changed has not run: it sits where it was. */
int64_t conan_ask_cpu_ns(pid_t tid);
/* A child of fork: handlers of the parent's threads never leave here. */
void conan_ask_postfork_child(struct conan_ask_pool *pool);

#endif
