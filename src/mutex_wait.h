/* mutex_wait.h — what the lock interposers (preload/mutex.c) see of the
 * mutex profiler (mutex.c): the switch they test on every call, and the two
 * calls around a contended wait. Nothing else, so preload/mutex.c includes
 * only this. */
#ifndef CONAN_MUTEX_WAIT_H
#define CONAN_MUTEX_WAIT_H

#include <stdbool.h>
#include <stdint.h>

/* Nonzero while contended waits are timed (mutex.enable, the monitor
 * running). Read with a relaxed load on every lock call: zero means plain
 * forwarding, as if we were absent (before our constructor, an inert shim,
 * a forked child before its monitor starts). */
extern int conan_mutex_on;

/* One contended wait: started when the lock's trylock said EBUSY, ended when
 * the real lock call returned rc. */
struct conan_mutex_wait {
    int64_t start_ns;            /* CLOCK_MONOTONIC; 0: not timed (our thread, or re-entered) */
    int64_t min_ns;              /* shorter calls were not waits (set by the interposer) */
    const void *caller;          /* the lock call's return address (set by the interposer) */
};
/* Not signal-safe (a lock call is not either). Keeps errno. */
void conan_mutex_wait_begin(struct conan_mutex_wait *w);
void conan_mutex_wait_end(const struct conan_mutex_wait *w, int rc);

#endif
