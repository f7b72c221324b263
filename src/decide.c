/* decide.c — the monitor's decisions, separate from the monitor thread so they
 * can be tested without one: on each tick the trip rules are fed the
 * collectors' readings, and a trip, the continuous period, an on-demand
 * request or the follow-up asks for profiles through conan_decide_ops; every
 * trigger costs one unit of the hourly budget. Nothing here reads metrics,
 * builds a profile or starts a timer.
 *
 * Order within a tick (it matters: a window opened by a trip means the
 * continuous period waits): CPU ceiling → CPU rule → memory and heap rules →
 * thread rule → continuous period. The monitor then looks for trigger files. */
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

static void cpu_rule(struct conan_decider *d, double now_s, double cpu, bool over_ceiling)
{
    struct conan_verdict v = conan_rule_observe(&d->cfg->cpu.rule, &d->cpu_rule, cpu, now_s);
    if (v.reason == CONAN_REASON_NONE || d->ops.window_open(d->ops.arg) || over_ceiling) return;
    struct conan_trigger t = { .metric = "cpu", .reason = v.reason, .value = cpu, .mean = v.mean,
                               .rule = &d->cfg->cpu.rule };
    if (act_on(d, &t, CONAN_WANTS_CPU, now_s, NULL)) conan_rule_commit(&d->cpu_rule, now_s);
}

/* The memory and heap rules: either one writes a heap profile. */
static void memory_rules(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    const struct conan_config *cfg = d->cfg;
    struct conan_verdict mv = conan_rule_observe(&cfg->memory.rule, &d->memory_rule, r->rss_percent, now_s);
    struct conan_verdict hv = conan_rule_observe(&cfg->heap.rule, &d->heap_rule, r->heap_mib, now_s);
    if (mv.reason == CONAN_REASON_NONE && hv.reason == CONAN_REASON_NONE) return;
    struct conan_trigger t;
    if (mv.reason != CONAN_REASON_NONE)
        t = (struct conan_trigger){ .metric = "memory", .reason = mv.reason, .value = r->rss_percent,
                                    .mean = mv.mean, .rule = &cfg->memory.rule };
    else
        t = (struct conan_trigger){ .metric = "heap", .reason = hv.reason, .value = r->heap_mib, .mean = hv.mean,
                                    .rule = &cfg->heap.rule };
    if (!act_on(d, &t, CONAN_WANTS_HEAP, now_s, NULL)) return;
    if (mv.reason != CONAN_REASON_NONE) conan_rule_commit(&d->memory_rule, now_s);
    if (hv.reason != CONAN_REASON_NONE) conan_rule_commit(&d->heap_rule, now_s);
    if (cfg->heap.followup_s > 0 && r->heap_sampling) {
        d->followup_s = now_s + cfg->heap.followup_s;
        d->followup_trigger = t;
    }
}

/* The thread rule: live threads, our monitor excluded. */
static void thread_rule(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    if (!d->cfg->threads.rule.enable || r->threads <= 0) return;
    double threads = (double)r->threads - 1;
    struct conan_verdict v = conan_rule_observe(&d->cfg->threads.rule, &d->threads_rule, threads, now_s);
    if (v.reason == CONAN_REASON_NONE) return;
    struct conan_trigger t = { .metric = "threads", .reason = v.reason, .value = threads, .mean = v.mean,
                               .rule = &d->cfg->threads.rule };
    if (act_on(d, &t, CONAN_WANTS_THREADS, now_s, NULL)) conan_rule_commit(&d->threads_rule, now_s);
}

void conan_decide_tick(struct conan_decider *d, double now_s, const struct conan_readings *r)
{
    const struct conan_config *cfg = d->cfg;
    bool over_ceiling = cfg->cpu.max > 0 && r->cpu_percent >= cfg->cpu.max;
    if (d->ops.window_open(d->ops.arg) && over_ceiling) d->ops.close_window(d->ops.arg, "stopped early: CPU reached cpu.max");
    cpu_rule(d, now_s, r->cpu_percent, over_ceiling);
    memory_rules(d, now_s, r);
    thread_rule(d, now_s, r);
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
