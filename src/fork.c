/* fork.c — the single owner of fork handling: one pthread_atfork
 * registration, calling each module's prefork, postfork-parent and
 * postfork-child hooks in the order written down here, with the reason. No
 * other file registers an atfork handler.
 *
 * Prefork, in this order (the parent undoes it in reverse):
 *   0. the agent's lock check (agent_spawn.c): a fork is counted, so a check
 *      that has opened the lock file but not yet recorded the descriptor
 *      takes no lock. One atomic add, no lock: first, and nothing to undo.
 *   1. stack walks (unwind_context.c): new signal-context walks give up their
 *      sample, and running ones are waited for (bounded), so libunwind's own
 *      locks are free when the process is copied. First, while we hold no
 *      lock, so nothing a walk could need is held by us meanwhile.
 *   2. the mutex table's lock (mutex.c): a sample being recorded must not be
 *      copied half-done. Taking it also marks the forking thread busy for the
 *      mutex profiler, so that the contended waits for the locks below are
 *      not timed (a sample would take this lock again). Nothing under it
 *      allocates, walks a stack or takes another of these locks.
 *   3. the thread registry's lock (thread_registry.c): the child must get a
 *      consistent list. Nothing done under it allocates or walks a stack.
 *   4. the heap table's lock (heap.c): a sample being recorded must not be
 *      copied half-done. Last, because the code under it may itself allocate
 *      from the allocator (which fork locks after us) but never takes the
 *      registry's lock or waits for a walk.
 * The C library takes its own locks (malloc arenas, stdio) after these and
 * releases them before any postfork hook runs, so every hook may call malloc;
 * a free() of a sampled block needs the heap table's lock, though, which is
 * why the heap comes first among the child's lock resets.
 *
 * Postfork-child, in this order (the child has only the forking thread):
 *   1. SIGPROF (sigprof.c): no signal of ours can reach the child, so the
 *      program's disposition is made real and the view lock freed.
 *   2. the CPU sample buffer (cpu_samples.c): closed, with no handler in it;
 *      then the wall sampler (wall.c): its rounds forgotten, and the /proc
 *      files it held for the parent's threads closed (a child that never
 *      execs keeps no descriptor of ours); then the flight recorder's ring
 *      (recorder.c): unmapped, its timers (none were copied) forgotten.
 *   3. stack walks: reads go to the child's own pid.
 *   4. the heap table's lock: usable again, so frees that reach the slow path
 *      from here on cannot block; then the mutex table's, with the parent's
 *      contention cleared and timing off until the child's monitor starts.
 *   5. the thread registry: its lock reset, only the forking thread kept;
 *      then the labels' thread table (labels.c): a new generation frees
 *      the parent's threads' places without walking the table, and the
 *      forking thread takes one under its new tid.
 *   6. the agent's lock check (agent_spawn.c): the lock file's descriptor, if
 *      the monitor had it open at the fork, is closed, so a long-lived child
 *      never holds the directory's lock after the agent has gone. Before the
 *      monitor's, as it is the monitor's state.
 *   7. the monitor (monitor.c): the child has no monitor thread; it stops
 *      heap sampling and stays inert until fork() has returned in the child,
 *      where preload/ calls conan_monitor_after_fork (after the atfork hooks
 *      of the libraries behind us, the allocator's among them, have run). */
#include "fork.h"

#include <pthread.h>
#include "agent_spawn.h"
#include "cpu.h"
#include "heap.h"
#include "labels.h"
#include "monitor.h"
#include "mutex.h"
#include "recorder.h"
#include "once.h"
#include "sigprof.h"
#include "stack_walk.h"
#include "thread_registry.h"
#include "wall.h"

static void prefork(void)
{
    conan_agent_spawn_prefork();
    conan_unwind_prefork();
    conan_mutex_prefork();
    conan_threads_prefork();
    conan_heap_prefork();
}

static void postfork_parent(void)
{
    conan_heap_postfork_parent();
    conan_threads_postfork_parent();
    conan_mutex_postfork_parent();
    conan_unwind_postfork_parent();
}

static void postfork_child(void)
{
    conan_sigprof_postfork_child();
    conan_cpu_samples_postfork_child();
    conan_wall_postfork_child();
    conan_recorder_postfork_child();
    conan_unwind_postfork_child();
    conan_heap_postfork_child();
    conan_mutex_postfork_child();
    conan_threads_postfork_child();
    conan_labels_postfork_child();
    conan_agent_spawn_postfork_child();
    conan_monitor_postfork_child();
}

void conan_fork_init(void)
{
    static int registered;
    if (conan_first_time(&registered)) pthread_atfork(prefork, postfork_parent, postfork_child);
}
