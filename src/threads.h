/* threads.h — the thread registry and the two thread profiles (threads.c). */
#ifndef CONAN_THREADS_H
#define CONAN_THREADS_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include "config.h"
#include "pprof.h"
#include "symbols.h"

typedef int (*conan_pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
/* Before the first conan_threads_create: the key that sees threads end. */
void conan_threads_init(void);
/* pthread_create through create, with the new thread registered (tid, the
 * creator's stack) for as long as it lives. Falls back to a plain create. */
int conan_threads_create(conan_pthread_create_fn create, pthread_t *thread, const pthread_attr_t *attr,
                         void *(*start)(void *), void *arg);
long conan_threads_registered(void);   /* live threads made by pthread_create (the monitor too) */
/* Where the live threads were created (labels: start routine, named with
 * syms, and age); *threads gets how many. */
struct conan_pprof *conan_threads_create_profile(long *threads, struct conan_symbols *syms);

struct conan_threads_snapshot {
    long threads;                /* listed (the monitor excluded) */
    long stacks;                 /* with a stack */
    long stacks_from_proc;       /* of those, blocked threads walked from /proc (no signal) */
    long blocked;                /* not asked: SIGPROF blocked or in sigwait */
    long timed_out;              /* asked, no answer within threads.wait_ms */
    double duration_s;
    const char *why_no_stacks;   /* set when no thread could be asked */
};
/* Monitor thread: every thread's stack now, grouped by stack, name and state. */
struct conan_pprof *conan_threads_profile(const struct conan_config *cfg, bool cpu_window_open,
                                          struct conan_threads_snapshot *out);
/* Signal context: a snapshot request (ours) is handled and true returned. */
bool conan_threads_on_signal(const siginfo_t *info, void *ucontext);
/* pthread_exit is being called (by main, it matters: see below). */
void conan_threads_exiting(void);
bool conan_threads_main_exited(void);
/* True when main has called pthread_exit and every other thread of the
 * process has ended; live is the process's thread count, read by the caller
 * (conan_process_stat). */
bool conan_threads_only_caller_left(long live);
/* Each tick: gives SIGPROF back once late snapshot requests have arrived. */
void conan_threads_settle(bool cpu_window_open);

#endif
