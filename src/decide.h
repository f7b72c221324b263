/* decide.h — the monitor's decisions (decide.c): which trip rules fire on a
 * tick, what a trip, a continuous period or an on-demand request asks for,
 * the hourly budget, the follow-up heap profile, and the trigger files. The
 * decisions reach the world only through struct conan_decide_ops, so a unit
 * test can drive them with a fake (tests/unit/test_decide.c). */
#ifndef CONAN_DECIDE_H
#define CONAN_DECIDE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include "config.h"
#include "context.h"
#include "kinds.h"
#include "pressure.h"
#include "stuck.h"
#include "trip_rules.h"

/* What the monitor does for a decision. */
struct conan_decide_ops {
    void *arg;
    /* Writes the heap profile (note goes into it), the thread profiles and the
     * mutex profile now, and opens a CPU window, as kinds asks (CONAN_WANTS_*). */
    void (*act)(void *arg, unsigned kinds, const struct conan_trigger *t, const char *note, double now_s);
    bool (*window_open)(void *arg);
    /* Ends the open CPU window early, with note in its profile. */
    void (*close_window)(void *arg, const char *note);
};

/* What an on-demand request asks for: kinds (CONAN_WANTS_*; 0 = every
 * enabled kind) and the CPU window's length (0 = cpu.profile_seconds). */
struct conan_request {
    unsigned kinds;
    int cpu_seconds;
};

/* The longest CPU window a request may ask for: cpu.profile_seconds' own
 * maximum. */
#define CONAN_REQUEST_SECONDS_MAX 3600
/* The most a trigger file may hold; the monitor reads no more. */
#define CONAN_TRIGGER_FILE_MAX 256

/* A trigger file's content: empty (or white space) asks for the defaults;
 * else one JSON object, {"kinds": ["cpu", "heap", "threads"], "seconds": N},
 * both keys optional. Returns 0, or -1 with why = "<where>: <what is wrong>". */
int conan_request_parse(const char *text, size_t len, struct conan_request *req, char *why, size_t whylen);

/* A tick's readings, from the collectors. */
struct conan_readings {
    double cpu_percent;          /* of the usable CPUs */
    double rss_percent;          /* of the memory limit; 0 when the memory rule is off */
    double heap_mib;             /* heap in use; 0 when the heap rule is off */
    long threads;                /* live threads, the monitor included; 0 if unknown */
    bool heap_sampling;
    bool throttle_available;     /* a CPU quota applies and cpu.stat was read */
    double throttle_percent;     /* of the CFS periods that ended in the tick */
    bool pressure_available[CONAN_PSI_COUNT];
    double pressure_percent[CONAN_PSI_COUNT]; /* stall share of the tick */
    const struct conan_stuck_report *stuck;   /* NULL when the stuck rule is off */
    bool mutex_available;        /* the mutex profiler is on */
    double mutex_wait_percent;   /* contended lock waits over the tick, summed over threads */
};

struct conan_decider {
    const struct conan_config *cfg;
    struct conan_decide_ops ops;
    struct conan_rule_state cpu_rule, memory_rule, heap_rule, threads_rule, throttle_rule;
    struct conan_rule_state mutex_rule;
    struct conan_rule_state pressure_rule[CONAN_PSI_COUNT];
    bool stuck_tripped;
    double stuck_last_trip_s;
    bool stuck_acted;            /* this tick's stuck trip was acted on: its threads are reported */
    struct conan_budget budget;
    bool budget_skip_logged;
    double next_continuous_s;
    bool manual_pending;         /* a request waits for the open window to close */
    struct conan_request pending; /* what it asks for (requests meanwhile merged in) */
    double followup_s;           /* when the follow-up heap profile is due; 0 = none */
    struct conan_trigger followup_trigger;
    /* trigger files */
    pid_t pid;
    double started_wall_s;
    struct timespec dump_dir_mtime;
    struct { dev_t dev; ino_t ino; struct timespec mtime; bool seen, present; } shared_trigger;
};

/* A new monitor (at start, or in a forked child): rules, budget and schedule
 * start afresh. */
void conan_decider_reset(struct conan_decider *d, const struct conan_config *cfg, const struct conan_decide_ops *ops,
                         double now_s, double wall_s, pid_t pid);
/* One tick: the rules (a CPU reading at or above cpu.max ends an open window
 * and opens none), then the continuous period. */
void conan_decide_tick(struct conan_decider *d, double now_s, const struct conan_readings *r);
/* An on-demand request (API, signal, trigger file), once no window is open:
 * the kinds req asks for that are enabled (req NULL: every enabled kind),
 * the CPU window as long as it asks. Asking only for disabled kinds takes
 * nothing and spends no budget. */
void conan_decide_request(struct conan_decider *d, double now_s, bool heap_sampling, const struct conan_request *req);
/* Between ticks: a request that waited for the window, a follow-up now due. */
void conan_decide_pending(struct conan_decider *d, double now_s, bool heap_sampling);
/* The earliest deadline the decider has before limit (the follow-up). */
double conan_decide_next_deadline(const struct conan_decider *d, double limit_s);
/* <dump_dir>/conan.trigger.<pid> or a new <dump_dir>/conan.trigger exists
 * (see decide.c); wall_s is the wall clock now. True with what the request
 * asks for in req (the per-process file's content; the shared file asks for
 * the defaults). A per-process file that cannot be read or understood is
 * removed, logged (one line naming it and what is wrong) and refused. */
bool conan_trigger_file_present(struct conan_decider *d, double wall_s, struct conan_request *req);

#endif
