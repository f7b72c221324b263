/* wall.h — the wall profile: every thread's stack hz times a second during a
 * CPU window, whatever the thread does (wall.c). Monitor thread, except the
 * SIGPROF consumer. */
#ifndef CONAN_WALL_H
#define CONAN_WALL_H

#include <signal.h>
#include <stdbool.h>
#include "config.h"
#include "pprof.h"

struct conan_wall_stats {
    int hz;
    long rounds;                 /* rounds taken */
    long missed;                 /* rounds skipped because the monitor was late */
    long threads_max;            /* most threads listed in one round (the monitor excluded) */
    long left_out;               /* most threads above wall.max_threads in one round */
    long walked, reused, signalled, unavailable; /* thread-samples, by how each was taken */
    long unlooked;               /* of reused: idle threads counted without a look that round */
    double duration_s;           /* from start to stop */
    double cost_s;               /* CPU time the monitor spent on the rounds */
    const char *why_no_signals;  /* running threads carry no stacks: why */
};

/* Starts sampling (wall.enable): the first round is taken now. 0, or -1 (no
 * memory: no wall profile this window). */
int conan_wall_start(const struct conan_config *cfg);
bool conan_wall_active(void);
/* Monotonic time of the next round (only while active). */
double conan_wall_next_round_s(void);
/* Monitor loop: takes the round due at now_s (rounds that were missed are
 * counted, not made up). */
void conan_wall_round(double now_s);
/* Ends sampling and returns the profile (NULL: out of memory, or not
 * active); stats filled. */
struct conan_pprof *conan_wall_stop(struct conan_wall_stats *stats);
/* Signal context, sigprof.c's consumer table: a wall request (ours) is
 * answered (or dropped, if late) and true returned; anything else false. */
bool conan_wall_on_signal(const siginfo_t *info, void *ucontext);
/* Child of a fork (fork.c): the parent's rounds are forgotten and the files
 * they held closed. */
void conan_wall_postfork_child(void);

#endif
