/* context.h — facts about the process and the trigger, as profile
 * comments (context.c). */
#ifndef CONAN_CONTEXT_H
#define CONAN_CONTEXT_H

#include <limits.h>
#include <stdbool.h>
#include "cgroup.h"
#include "config.h"
#include "pprof.h"
#include "trip_rules.h"

/* Facts about the process that do not change while it runs. */
struct conan_context {
    char host[256];
    char exe[PATH_MAX];
    char exe_build_id[65];
    char kernel[256];
    char glibc[64];
    struct conan_cgroup cgroup;
    bool have_cgroup;
};
void conan_context_collect(struct conan_context *ctx);

/* What made a profile happen, for comments and the event line. */
struct conan_stuck_report;
struct conan_timeline;
struct conan_trigger {
    const char *metric;          /* "cpu", "memory", "heap", "threads", "throttle", "pressure.cpu",
                                    "pressure.memory", "pressure.io", "stuck", or "" for manual/continuous */
    enum conan_reason reason;
    double value, mean;
    const struct conan_rule_config *rule;     /* NULL for stuck, manual and continuous */
    const struct conan_stuck_report *stuck;   /* the stuck threads, for a stuck trip */
    int cpu_seconds;             /* the CPU window's length a request asked for; 0 = cpu.profile_seconds */
    /* Set by actions.c: the ticks around the trip, and when it happened
     * (monotonic s); ticks after at_s are "during" a window. */
    const struct conan_timeline *timeline;
    double at_s;
};
/* Adds the context of the moment as profile comments. */
void conan_context_comments(struct conan_pprof *p, const struct conan_config *cfg,
                            const struct conan_context *ctx, const struct conan_trigger *t);

#endif
