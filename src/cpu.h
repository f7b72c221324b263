/* cpu.h — CPU profiling windows: the timers and the window (cpu_window.c), and
 * the sample buffer filled from SIGPROF (cpu_samples.c). */
#ifndef CONAN_CPU_H
#define CONAN_CPU_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"
#include "stack_slot.h"

struct conan_cpu_window {
    enum conan_cpu_timer timer;  /* which timer actually ran */
    int threads_armed;
    long samples, dropped;
    const struct conan_stack_slot *sample; /* valid until conan_cpu_release */
    long nsample;
    long dropped_full, dropped_loader; /* of dropped: buffer full / in the loader */
    double started_s;            /* monotonic */
    double duration_s;
    double cpu_s;                /* process CPU time spent during the window */
};

/* ---- cpu_window.c: the window, on the monitor thread ---- */

/* Arms SIGPROF sampling at hz for every thread but the caller, for a window of
 * about seconds (the sample buffer is sized for it). Returns 0, or -1 with why
 * filled (program owns SIGPROF, timers unavailable, ...). */
int conan_cpu_start(const struct conan_config *cfg, int seconds, char *why, size_t why_len);
/* True while a window is open (any thread may ask). */
bool conan_cpu_window_open(void);
/* During a window: arm timers for threads born since the start. */
void conan_cpu_rescan_threads(void);
/* Disarms, lets pending signals drain, gives SIGPROF back, and hands back samples. */
void conan_cpu_stop(struct conan_cpu_window *out);
void conan_cpu_release(void);
/* The name a sampled thread had: its comm now, or the one it had when it
 * ended (thread registry), or the one seen when its timer was armed. */
const char *conan_cpu_thread_name(pid_t tid);
/* The program has a SIGPROF handler or an ITIMER_PROF of its own (said once
 * on stderr: neither CPU windows nor the flight recorder take SIGPROF then). */
bool conan_cpu_program_owns_sigprof(void);
/* Text of the dynamic loader: samples interrupted there are dropped. */
void conan_cpu_loader_text(uintptr_t *start, uintptr_t *end);
/* Child of a fork (fork.c): forgets the parent's window without touching its
 * timers: fork copies none, and the parent's timer ids could name the child's. */
void conan_cpu_postfork_child(void);

/* ---- cpu_samples.c: the buffer, and its SIGPROF consumer ---- */

/* Signal context, sigprof.c's consumer table: a signal of our timers is
 * recorded (or dropped and counted) and true returned; anything else false. */
bool conan_cpu_on_signal(const siginfo_t *info, void *ucontext);
/* si_value our timers carry, telling their signals from anyone else's. */
void *conan_cpu_timer_cookie(void);
/* setitimer (the last resort) is running: its signals carry no cookie. */
void conan_cpu_expect_kernel_timer(bool on);
/* Maps a buffer of capacity slots and opens it to handlers. Samples taken
 * with the interrupted pc in [loader_start, loader_end) are dropped. */
int conan_cpu_samples_open(long capacity, uintptr_t loader_start, uintptr_t loader_end);
/* True while the buffer takes samples. */
bool conan_cpu_samples_active(void);
/* Closes the buffer to handlers (any thread; async-signal-safe). */
void conan_cpu_samples_stop(void);
/* Waits for handlers still inside; false (logged) if one never left. */
bool conan_cpu_samples_drain(void);
/* After the drain: the samples and the drop counters, into out. */
void conan_cpu_samples_collect(struct conan_cpu_window *out);
/* Unmaps the buffer; false if it was left mapped (a handler never left it). */
bool conan_cpu_samples_free(void);
void conan_cpu_samples_postfork_child(void);

#endif
