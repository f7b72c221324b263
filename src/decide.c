/* decide.c — the monitor's decisions, separate from the monitor thread so they
 * can be tested without one: on each tick the trip rules are fed the
 * collectors' readings, and a trip, the continuous period, an on-demand
 * request or the follow-up asks for profiles through conan_decide_ops; every
 * trigger costs one unit of the hourly budget. Nothing here reads metrics,
 * builds a profile or starts a timer.
 *
 * Order within a tick (it matters: a window opened by a trip means the
 * continuous period waits, and the first rule to open a window names it):
 * CPU ceiling → CPU, throttle and CPU pressure rules (a CPU window) →
 * memory, heap and memory pressure rules (a heap profile) → thread, I/O
 * pressure and stuck rules (the thread profiles) → continuous period. The
 * monitor then looks for trigger files. A metric the tick could not read
 * (no quota, no PSI) is not fed to its rule at all. */
#include "decide.h"

#include <assert.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"

void conan_decider_reset(struct conan_decider *d, const struct conan_config *cfg, const struct conan_decide_ops *ops,
                         double now_s, double wall_s, pid_t pid)
{
    assert(ops->act && ops->window_open && ops->close_window);
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
    d->ops = *ops;
    conan_rule_reset(&d->cpu_rule);
    conan_rule_reset(&d->memory_rule);
    conan_rule_reset(&d->heap_rule);
    conan_rule_reset(&d->threads_rule);
    conan_rule_reset(&d->throttle_rule);
    for (int i = 0; i < CONAN_PSI_COUNT; i++) conan_rule_reset(&d->pressure_rule[i]);
    d->next_continuous_s = now_s + cfg->continuous.every_s;
    d->started_wall_s = wall_s;
    d->pid = pid;
}

static bool budget_allows(struct conan_decider *d, double now_s, int n)
{
    if (conan_budget_allows(&d->budget, d->cfg->limits.max_dumps_per_hour, now_s, n)) {
        d->budget_skip_logged = false;
        return true;
    }
    if (!d->budget_skip_logged) {
        d->budget_skip_logged = true;
        conan_log("limits.max_dumps_per_hour (%d) reached; triggers are skipped until older dumps age out",
                  d->cfg->limits.max_dumps_per_hour);
    }
    return false;
}

/* Acts on one trigger: every profile it asks for, for one unit of the hourly
 * budget; note goes into the heap profile. Returns false if the budget was
 * spent. A CPU window asked for while one is open is not opened again. */
static bool act_on(struct conan_decider *d, const struct conan_trigger *t, unsigned kinds, double now_s,
                   const char *note)
{
    if (!budget_allows(d, now_s, 1)) return false;
    conan_budget_spend(&d->budget, d->cfg->limits.max_dumps_per_hour, now_s, 1);
    if ((kinds & CONAN_WANTS_CPU) && d->ops.window_open(d->ops.arg)) kinds &= ~(unsigned)CONAN_WANTS_CPU;
    d->ops.act(d->ops.arg, kinds, t, note, now_s);
    return true;
}

/* Every kind that is on, for on-demand and continuous profiles. */
static unsigned enabled_kinds(const struct conan_decider *d, bool cpu_allowed, bool heap_sampling)
{
    return (d->cfg->cpu.rule.enable && cpu_allowed ? CONAN_WANTS_CPU : 0) | (heap_sampling ? CONAN_WANTS_HEAP : 0) |
           (d->cfg->threads.rule.enable ? CONAN_WANTS_THREADS : 0);
}

void conan_decide_request(struct conan_decider *d, double now_s, bool heap_sampling)
{
    static const struct conan_trigger manual = { .metric = "", .reason = CONAN_REASON_MANUAL };
    if (d->ops.window_open(d->ops.arg)) {
        d->manual_pending = true; /* served when the open window closes */
        return;
    }
    d->manual_pending = false;
    act_on(d, &manual, enabled_kinds(d, true, heap_sampling), now_s, NULL);
}

void conan_decide_pending(struct conan_decider *d, double now_s, bool heap_sampling)
{
    if (d->manual_pending && !d->ops.window_open(d->ops.arg)) conan_decide_request(d, now_s, heap_sampling);
    if (d->followup_s > 0 && now_s >= d->followup_s) {
        d->followup_s = 0;
        act_on(d, &d->followup_trigger, CONAN_WANTS_HEAP, now_s, "follow-up: heap.followup_s after the trip");
    }
}

double conan_decide_next_deadline(const struct conan_decider *d, double limit_s)
{
    return d->followup_s > 0 && d->followup_s < limit_s ? d->followup_s : limit_s;
}

/* A rule whose trip opens a CPU window (cpu, throttle, pressure.cpu): not at
 * or above the cpu.max ceiling, and not while a window is open, and then the
 * rule does not start its cooldown, so it trips when the window has closed. */
static void cpu_window_rule(struct conan_decider *d, double now_s, const struct conan_rule_config *rule,
                            struct conan_rule_state *st, const char *metric, double value, bool over_ceiling)
{
    struct conan_verdict v = conan_rule_observe(rule, st, value, now_s);
    if (v.reason == CONAN_REASON_NONE || d->ops.window_open(d->ops.arg) || over_ceiling) return;
    struct conan_trigger t = { .metric = metric, .reason = v.reason, .value = value, .mean = v.mean, .rule = rule };
    if (act_on(d, &t, CONAN_WANTS_CPU, now_s, NULL)) conan_rule_commit(st, now_s);
}

/* A rule whose trip writes profiles at once (kinds: heap or threads). */
static void instant_rule(struct conan_decider *d, double now_s, const struct conan_rule_config *rule,
                         struct conan_rule_state *st, const char *metric, double value, unsigned kinds)
{
    struct conan_verdict v = conan_rule_observe(rule, st, value, now_s);
    if (v.reason == CONAN_REASON_NONE) return;
    struct conan_trigger t = { .metric = metric, .reason = v.reason, .value = value, .mean = v.mean, .rule = rule };
    if (act_on(d, &t, kinds, now_s, NULL)) conan_rule_commit(st, now_s);
}

static void cpu_rules(struct conan_decider *d, double now_s, const struct conan_readings *r, bool over_ceiling)
{
    const struct conan_config *cfg = d->cfg;
    cpu_window_rule(d, now_s, &cfg->cpu.rule, &d->cpu_rule, "cpu", r->cpu_percent, over_ceiling);
    if (r->throttle_available)
        cpu_window_rule(d, now_s, &cfg->throttle.rule, &d->throttle_rule, "throttle", r->throttle_percent,
                        over_ceiling);
    if (r->pressure_available[CONAN_PSI_CPU])
        cpu_window_rule(d, now_s, &cfg->pressure.cpu, &d->pressure_rule[CONAN_PSI_CPU], "pressure.cpu",
                        r->pressure_percent[CONAN_PSI_CPU], over_ceiling);
}

/* The memory, heap and memory pressure rules: any of them writes a heap
 * profile, one for all that trip in the same tick (the first names it). */
static void memory_rules(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    const struct conan_config *cfg = d->cfg;
    struct {
        const char *metric;
        const struct conan_rule_config *rule;
        struct conan_rule_state *st;
        double value;
        bool read;
        struct conan_verdict v;
    } rules[] = {
        { "memory", &cfg->memory.rule, &d->memory_rule, r->rss_percent, true, { 0 } },
        { "heap", &cfg->heap.rule, &d->heap_rule, r->heap_mib, true, { 0 } },
        { "pressure.memory", &cfg->pressure.memory, &d->pressure_rule[CONAN_PSI_MEMORY],
          r->pressure_percent[CONAN_PSI_MEMORY], r->pressure_available[CONAN_PSI_MEMORY], { 0 } },
    };
    enum { N = sizeof rules / sizeof rules[0] };
    int first = -1;
    for (int i = 0; i < N; i++) {
        if (!rules[i].read) continue;
        rules[i].v = conan_rule_observe(rules[i].rule, rules[i].st, rules[i].value, now_s);
        if (first < 0 && rules[i].v.reason != CONAN_REASON_NONE) first = i;
    }
    if (first < 0) return;
    struct conan_trigger t = { .metric = rules[first].metric, .reason = rules[first].v.reason,
                               .value = rules[first].value, .mean = rules[first].v.mean, .rule = rules[first].rule };
    if (!act_on(d, &t, CONAN_WANTS_HEAP, now_s, NULL)) return;
    for (int i = 0; i < N; i++)
        if (rules[i].read && rules[i].v.reason != CONAN_REASON_NONE) conan_rule_commit(rules[i].st, now_s);
    if (cfg->heap.followup_s > 0 && r->heap_sampling) {
        d->followup_s = now_s + cfg->heap.followup_s;
        d->followup_trigger = t;
    }
}

/* The thread rule (live threads, our monitor excluded) and the I/O pressure
 * rule: the thread profiles show who waits where (a wall profile would be
 * better for I/O; libconan has none yet). */
static void thread_rules(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    const struct conan_config *cfg = d->cfg;
    if (cfg->threads.rule.enable && r->threads > 0)
        instant_rule(d, now_s, &cfg->threads.rule, &d->threads_rule, "threads", (double)r->threads - 1,
                     CONAN_WANTS_THREADS);
    if (r->pressure_available[CONAN_PSI_IO])
        instant_rule(d, now_s, &cfg->pressure.io, &d->pressure_rule[CONAN_PSI_IO], "pressure.io",
                     r->pressure_percent[CONAN_PSI_IO], CONAN_WANTS_THREADS);
}

/* Threads stuck at one place for stuck.after_s, not reported yet: the thread
 * profiles, with the report (the labels and the event name them). The value
 * is the longest time one of them has been stuck. */
static void stuck_rule(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    d->stuck_acted = false;
    const struct conan_stuck_report *stuck = r->stuck;
    if (!stuck || stuck->fresh == 0) return;
    if (d->stuck_tripped && now_s < d->stuck_last_trip_s + d->cfg->stuck.cooldown_s) return;
    double longest = 0;
    for (int i = 0; i < stuck->n && i < CONAN_STUCK_MAX; i++)
        if (stuck->thread[i].for_s > longest) longest = stuck->thread[i].for_s;
    struct conan_trigger t = { .metric = "stuck", .reason = CONAN_REASON_ABS, .value = longest, .stuck = stuck };
    if (!act_on(d, &t, CONAN_WANTS_THREADS, now_s, NULL)) return;
    d->stuck_tripped = true;
    d->stuck_last_trip_s = now_s;
    d->stuck_acted = true;
}

void conan_decide_tick(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    const struct conan_config *cfg = d->cfg;
    bool over_ceiling = cfg->cpu.max > 0 && r->cpu_percent >= cfg->cpu.max;
    if (d->ops.window_open(d->ops.arg) && over_ceiling) d->ops.close_window(d->ops.arg, "stopped early: CPU reached cpu.max");
    cpu_rules(d, now_s, r, over_ceiling);
    memory_rules(d, now_s, r);
    thread_rules(d, now_s, r);
    stuck_rule(d, now_s, r);
    if (cfg->mode == CONAN_MODE_CONTINUOUS && now_s >= d->next_continuous_s && !d->ops.window_open(d->ops.arg)) {
        static const struct conan_trigger continuous = { .metric = "", .reason = CONAN_REASON_CONTINUOUS };
        act_on(d, &continuous, enabled_kinds(d, !over_ceiling, r->heap_sampling), now_s, NULL);
        d->next_continuous_s = now_s + cfg->continuous.every_s;
    }
}

/* ---- trigger files ---- */

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* <dump_dir>/conan.trigger.<pid> is ours alone: consume it. <dump_dir>/conan.trigger
 * is for every process sharing the directory, so each process acts once per
 * version of the file, and it is removed once it is old enough that every
 * monitor has ticked since it appeared. Creating either file changes the
 * directory's mtime, so a tick normally costs one stat of the directory. */
bool conan_trigger_file_present(struct conan_decider *d, double wall_s)
{
    const struct conan_config *cfg = d->cfg;
    struct stat st;
    if (stat(cfg->dump_dir, &st) != 0) return false;
    if (same_time(st.st_mtim, d->dump_dir_mtime) && !d->shared_trigger.present) return false;
    d->dump_dir_mtime = st.st_mtim;

    char path[PATH_MAX];
    bool request = false;
    if (conan_format(path, sizeof path, "%s/conan.trigger.%d", cfg->dump_dir, (int)d->pid) && unlink(path) == 0)
        request = true;

    d->shared_trigger.present = false;
    if (!conan_format(path, sizeof path, "%s/conan.trigger", cfg->dump_dir) || lstat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return request;
    d->shared_trigger.present = true;
    double mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    bool same = d->shared_trigger.seen && d->shared_trigger.dev == st.st_dev && d->shared_trigger.ino == st.st_ino &&
                same_time(d->shared_trigger.mtime, st.st_mtim);
    if (!same && mtime >= d->started_wall_s - 1.0) request = true;
    d->shared_trigger.dev = st.st_dev;
    d->shared_trigger.ino = st.st_ino;
    d->shared_trigger.mtime = st.st_mtim;
    d->shared_trigger.seen = true;
    double interval_s = cfg->interval_ms / 1000.0;
    if (wall_s - mtime > 2 * interval_s + 1.0 && unlink(path) == 0) d->shared_trigger.present = false;
    return request;
}
