/* monitor.h — the monitor thread (monitor.c). */
#ifndef CONAN_MONITOR_H
#define CONAN_MONITOR_H

#include "config.h"

int conan_monitor_start(const struct conan_config *cfg);
void conan_monitor_stop(void);
/* Child of a fork, from fork.c's hook: no monitor thread here; sampling
 * stops and the engine stays inert until conan_monitor_after_fork. */
void conan_monitor_postfork_child(void);
/* In the child, after fork() or daemon() has returned there (every atfork
 * handler has run): starts the child's own monitor unless follow_fork is off. */
void conan_monitor_after_fork(void);
/* Asks for an on-demand profile at the next tick. Async-signal-safe. */
int conan_monitor_request(void);
/* A thread started or ended: during a CPU window the monitor arms or releases
 * its timer at once. Cheap when no window is open. */
void conan_monitor_thread_event(void);
/* Makes the monitor look at once whether it is the last thread left. */
void conan_monitor_poke(void);
/* Makes call(a, b), which the kernel refuses to a multi-threaded caller, with
 * the monitor stopped (an open window ends early) and restarted after. */
int conan_monitor_call_alone(int (*call)(int, int), int a, int b);

#endif
