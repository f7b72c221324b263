/* cpu.h — CPU profiling windows: timers and the sample buffer
 * (cpu_sampler.c, cpu_signal.c). */
#ifndef CONAN_CPU_H
#define CONAN_CPU_H

#include <signal.h>
#include <sys/types.h>
#include "config.h"
#include "stack_walk.h"

struct conan_cpu_sample {
    pid_t tid;
    int weight;                  /* 1 + timer overruns: ticks this sample stands for */
    int depth;                   /* written last; 0 = slot claimed but not complete */
    uintptr_t pcs[CONAN_MAX_FRAMES];
};



/* The buffer the SIGPROF handler fills and the monitor drains after the window.
 * Writers claim a slot with one atomic add; nothing else is shared. */
struct conan_sample_ring {
    struct conan_cpu_sample *slot;
    long capacity;
    long claimed;                /* atomic: slots handed out (may exceed capacity) */
    long dropped;                /* atomic: samples not taken, with reason counters below */
    long dropped_full, dropped_loader;
    long inflight;               /* atomic: handlers running right now */
    int active;                  /* atomic: 1 while a window is open */
    uintptr_t loader_start, loader_end; /* text of the dynamic loader */
};
extern struct conan_sample_ring conan_cpu_ring;
void conan_cpu_on_sigprof(int sig, siginfo_t *info, void *ucontext);
/* si_value of our timers' signals, telling them from anyone else's SIGPROF. */
#define CONAN_TIMER_COOKIE ((void *)&conan_cpu_ring)
/* Set while the last resort, setitimer, runs: its signals carry no cookie. */
extern int conan_cpu_kernel_timer;


struct conan_cpu_window {
    enum conan_cpu_timer timer;  /* which timer actually ran */
    int threads_armed;
    long samples, dropped;
    const struct conan_cpu_sample *sample; /* valid until conan_cpu_release */
    long nsample;
    long dropped_full, dropped_loader; /* of dropped: buffer full / in the loader */
    double duration_s;
    double cpu_s;                /* process CPU time spent during the window */
};

/* Arms SIGPROF sampling at hz for every thread but the caller. Returns 0, or -1
 * with why filled (program owns SIGPROF, timers unavailable, ...). */
int conan_cpu_start(const struct conan_config *cfg, char *why, size_t why_len);
/* During a window: arm timers for threads born since the start. */
void conan_cpu_rescan_threads(void);
/* Disarms, lets pending signals drain, restores SIGPROF, and hands back samples. */
void conan_cpu_stop(struct conan_cpu_window *out);
void conan_cpu_release(void);
/* Thread name from /proc/self/task/<tid>/comm, or the one seen when armed. */
const char *conan_cpu_thread_name(pid_t tid);
/* Child of a fork: forgets the parent's window without touching its timers. */
void conan_cpu_forget_after_fork(void);

#endif
