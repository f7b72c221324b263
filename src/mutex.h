/* mutex.h — the mutex profiler (mutex.c): switching it on and off, the total
 * wait the monitor's mutex rule reads, and the mutex profile. The interposers'
 * side is mutex_wait.h. */
#ifndef CONAN_MUTEX_H
#define CONAN_MUTEX_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "mutex_wait.h"
#include "pprof.h"
#include "symbols.h"

/* From the thread that starts the monitor: contended waits are timed from
 * now on, if mutex.enable. conan_mutex_stop: lock calls forward plainly. */
void conan_mutex_start(const struct conan_config *cfg);
void conan_mutex_stop(void);
bool conan_mutex_enabled(void);
/* The calling thread (libconan's own) is never timed. */
void conan_mutex_exempt_this_thread(void);
/* The mutex rule's metric: contended waits over the time since the previous
 * call, as a percent of that time, summed over threads (four threads waiting
 * the whole time make 400). The first call primes the meter and returns 0. A
 * wait counts when it ends, so a wait longer than a tick counts at once. */
struct conan_mutex_meter { int64_t last_ns; double last_s; bool primed; };
double conan_mutex_meter_percent(struct conan_mutex_meter *m);

/* fork (fork.c): the table lock is held across it; the child starts with no
 * contention and the profiler off until its monitor starts. */
void conan_mutex_prefork(void);
void conan_mutex_postfork_parent(void);
void conan_mutex_postfork_child(void);

struct conan_mutex_stats {
    long stacks;                 /* distinct stacks (with labels) in the table */
    long sampled;                /* waits recorded since the last profile */
    long dropped;                /* waits not recorded (table full, or its lock busy) since the last profile */
    double waited_s;             /* every contended wait since the last profile, seconds */
    double since_s;              /* monotonic time of the last profile (or start) */
};
/* The mutex profile: contentions/count and delay/nanoseconds per waiting
 * stack, unbiased, for the waits since the previous profile, whose counts it
 * then clears. NULL on allocation failure (counts kept). Monitor thread. */
struct conan_pprof *conan_mutex_profile(struct conan_mutex_stats *stats);

#endif
