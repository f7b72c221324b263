/* thread_snapshot.h — the threads profile: every thread's stack at one
 * moment (thread_snapshot.c). */
#ifndef CONAN_THREAD_SNAPSHOT_H
#define CONAN_THREAD_SNAPSHOT_H

#include <signal.h>
#include <stdbool.h>
#include "config.h"
#include "pprof.h"
#include "stuck.h"

struct conan_threads_snapshot {
    long threads;                /* listed (the monitor excluded) */
    long stacks;                 /* with a stack */
    long stacks_from_proc;       /* of those, blocked threads walked from /proc (no signal) */
    long blocked;                /* not asked: SIGPROF blocked or in sigwait */
    long timed_out;              /* asked, no answer within threads.wait_ms */
    double duration_s;
    const char *why_no_stacks;   /* set when no thread could be asked */
};
/* Monitor thread: every thread's stack now, grouped by stack, name and state.
 * The threads of stuck (may be NULL) also carry the labels stuck_for_s (seconds
 * at their place, rounded) and syscall (the call they block in). */
struct conan_pprof *conan_snapshot_profile(const struct conan_config *cfg, struct conan_threads_snapshot *out,
                                           const struct conan_stuck_report *stuck);
/* Signal context, sigprof.c's consumer table: a snapshot request (ours) is
 * answered (or dropped, if late) and true returned; anything else false. */
bool conan_snapshot_on_signal(const siginfo_t *info, void *ucontext);

#endif
