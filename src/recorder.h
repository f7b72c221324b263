/* recorder.h — the flight recorder (recorder.c): every thread's CPU samples
 * at a low rate, all the time, into a bounded ring holding the last seconds,
 * so a trigger's CPU profile can show what ran before it. */
#ifndef CONAN_RECORDER_H
#define CONAN_RECORDER_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "config.h"
#include "stack_slot.h"

/* What one read of the ring covered. */
struct conan_recorder_span {
    double from_s, to_s;         /* monotonic: the stretch of time read */
    long samples;                /* weighted: the timer ticks they stand for */
    long stacks;                 /* slots read */
    long hz;
    long capacity;               /* slots in the ring */
    size_t ring_bytes;           /* its memory, at most recorder.max_mb */
};

/* ---- monitor thread ---- */

/* Starts recording if recorder.enable, unless the program owns SIGPROF or
 * the ring cannot be mapped (one line says which). */
void conan_recorder_start(const struct conan_config *cfg);
/* Every tick: steps aside (for good, one line) once the program has taken
 * SIGPROF or ITIMER_PROF; otherwise arms timers for new threads. */
void conan_recorder_tick(void);
/* Stops recording and gives SIGPROF back (the monitor is ending). */
void conan_recorder_stop(void);
/* True while the recorder takes samples (any thread may ask). */
bool conan_recorder_running(void);
/* While held (a CPU window is open), nothing new is recorded, so the stretch
 * before the window stays in the ring until the window's profile is built. */
void conan_recorder_hold(bool held);
/* Calls fn on a copy of every sample taken in [until_s - recorder.seconds,
 * until_s) (monotonic), oldest first, and describes the stretch read in out.
 * Returns false (out zeroed) if the recorder never ran. */
bool conan_recorder_each(double until_s, void (*fn)(const struct conan_stack_slot *s, void *arg), void *arg,
                         struct conan_recorder_span *out);
/* The name a thread had when the recorder's timers last looked, or NULL. */
const char *conan_recorder_thread_name(pid_t tid);

/* ---- a thread made by pthread_create, as it starts (thread_registry.c) ---- */

/* Arms the calling thread's recorder timer, if the recorder runs. */
void conan_recorder_thread_start(void);

/* ---- signal context, sigprof.c's consumer table ---- */

/* A signal of the recorder's timers is recorded (or dropped) and true
 * returned; anything else false. */
bool conan_recorder_on_signal(const siginfo_t *info, void *ucontext);

/* ---- fork.c ---- */

/* Child of a fork: the parent's ring and timers are dropped; the child's own
 * monitor starts a recorder of its own. */
void conan_recorder_postfork_child(void);

#endif
