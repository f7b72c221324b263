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
 * pressure rules (the thread profiles) → mutex rule (a mutex profile and a
 * CPU window) → stuck rule (the thread profiles) → continuous period. The
 * monitor then looks for trigger files (a per-process one may name the kinds
 * and the CPU window's length). A metric the tick could not read
 * (no quota, no PSI) is not fed to its rule at all. */
#include "decide.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
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
    conan_rule_reset(&d->mutex_rule);
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

/* The flight recorder's profile of the time before, where no window opens
 * (a CPU profile: not with CPU profiles turned off, cpu.enable false). */
static unsigned before_kind(const struct conan_decider *d)
{
    return d->cfg->recorder.enable && d->cfg->cpu.rule.enable ? CONAN_WANTS_BEFORE : 0;
}

/* Every kind that is on, for on-demand and continuous profiles; above the
 * cpu.max ceiling the recorder's profile stands in for the window. */
static unsigned enabled_kinds(const struct conan_decider *d, bool cpu_allowed, bool heap_sampling)
{
    unsigned cpu = !d->cfg->cpu.rule.enable ? 0 : cpu_allowed ? CONAN_WANTS_CPU : before_kind(d);
    return cpu | (heap_sampling ? CONAN_WANTS_HEAP : 0) | (d->cfg->threads.rule.enable ? CONAN_WANTS_THREADS : 0) |
           (d->cfg->mutex.enable ? CONAN_WANTS_MUTEX : 0);
}

/* Two requests as one: the union of their kinds (0, every kind, absorbs the
 * rest), the longer CPU window (0, cpu.profile_seconds, counts as unset). */
static struct conan_request merge_requests(struct conan_request a, struct conan_request b)
{
    struct conan_request m = { .kinds = a.kinds && b.kinds ? a.kinds | b.kinds : 0,
                               .cpu_seconds = a.cpu_seconds > b.cpu_seconds ? a.cpu_seconds : b.cpu_seconds };
    return m;
}

void conan_decide_request(struct conan_decider *d, double now_s, bool heap_sampling, const struct conan_request *req)
{
    static const struct conan_request every_kind = { 0, 0 };
    if (!req) req = &every_kind;
    if (d->ops.window_open(d->ops.arg)) {
        d->pending = d->manual_pending ? merge_requests(d->pending, *req) : *req;
        d->manual_pending = true; /* served when the open window closes */
        return;
    }
    d->manual_pending = false;
    unsigned kinds = enabled_kinds(d, true, heap_sampling);
    if (req->kinds) kinds &= req->kinds;
    if (!kinds) return; /* only disabled kinds asked for */
    struct conan_trigger manual = { .metric = "", .reason = CONAN_REASON_MANUAL, .cpu_seconds = req->cpu_seconds };
    act_on(d, &manual, kinds, now_s, NULL);
}

void conan_decide_pending(struct conan_decider *d, double now_s, bool heap_sampling)
{
    if (d->manual_pending && !d->ops.window_open(d->ops.arg)) {
        struct conan_request req = d->pending;
        conan_decide_request(d, now_s, heap_sampling, &req);
    }
    if (d->followup_s > 0 && now_s >= d->followup_s) {
        d->followup_s = 0;
        act_on(d, &d->followup_trigger, CONAN_WANTS_HEAP, now_s, "follow-up: heap.followup_s after the trip");
    }
}

double conan_decide_next_deadline(const struct conan_decider *d, double limit_s)
{
    return d->followup_s > 0 && d->followup_s < limit_s ? d->followup_s : limit_s;
}

/* A rule whose trip opens a CPU window (cpu, throttle, pressure.cpu): not
 * while a window is open, and then the rule does not start its cooldown, so it
 * trips when the window has closed. At or above the cpu.max ceiling no window
 * opens: the flight recorder's profile of the time before is written instead
 * (and the cooldown starts), or, without the recorder, nothing. */
static void cpu_window_rule(struct conan_decider *d, double now_s, const struct conan_rule_config *rule,
                            struct conan_rule_state *st, const char *metric, double value, bool over_ceiling)
{
    struct conan_verdict v = conan_rule_observe(rule, st, value, now_s);
    if (v.reason == CONAN_REASON_NONE || d->ops.window_open(d->ops.arg)) return;
    unsigned kinds = over_ceiling ? before_kind(d) : CONAN_WANTS_CPU;
    if (!kinds) return;
    struct conan_trigger t = { .metric = metric, .reason = v.reason, .value = value, .mean = v.mean, .rule = rule };
    if (act_on(d, &t, kinds, now_s, NULL)) conan_rule_commit(st, now_s);
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
    if (!act_on(d, &t, CONAN_WANTS_HEAP | before_kind(d), now_s, NULL)) return;
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

/* The mutex rule (contended lock waits, % of the tick summed over threads):
 * a lock convoy. The mutex profile says who waits where; a CPU window (or,
 * above the cpu.max ceiling, the recorder's profile of the time before) what
 * the lock holders do meanwhile. */
static void mutex_rule(struct conan_decider *d, double now_s, const struct conan_readings *r, bool over_ceiling)
{
    const struct conan_config *cfg = d->cfg;
    if (!r->mutex_available) return;
    unsigned cpu = !cfg->cpu.rule.enable ? 0 : over_ceiling ? before_kind(d) : CONAN_WANTS_CPU;
    instant_rule(d, now_s, &cfg->mutex.rule, &d->mutex_rule, "mutex", r->mutex_wait_percent, CONAN_WANTS_MUTEX | cpu);
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
    mutex_rule(d, now_s, r, over_ceiling);
    stuck_rule(d, now_s, r);
    if (cfg->mode == CONAN_MODE_CONTINUOUS && now_s >= d->next_continuous_s && !d->ops.window_open(d->ops.arg)) {
        static const struct conan_trigger continuous = { .metric = "", .reason = CONAN_REASON_CONTINUOUS };
        act_on(d, &continuous, enabled_kinds(d, !over_ceiling, r->heap_sampling), now_s, NULL);
        d->next_continuous_s = now_s + cfg->continuous.every_s;
    }
}

/* ---- trigger files, and what a request in one asks for ---- */

static int request_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int request_fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The kinds a request may name: the thread profiles come as one. */
static const struct { enum conan_kind kind; unsigned wants; } request_kinds[] = {
    { CONAN_KIND_CPU, CONAN_WANTS_CPU }, { CONAN_KIND_HEAP, CONAN_WANTS_HEAP }, { CONAN_KIND_THREADS, CONAN_WANTS_THREADS },
    { CONAN_KIND_MUTEX, CONAN_WANTS_MUTEX },
};

static int parse_kinds(const cJSON *list, unsigned *kinds, char *why, size_t whylen)
{
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return request_fail(why, whylen, "kinds: must be a non-empty list of cpu, heap, threads, mutex");
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        unsigned wants = 0;
        for (size_t k = 0; cJSON_IsString(item) && k < sizeof request_kinds / sizeof request_kinds[0]; k++)
            if (strcmp(item->valuestring, conan_kind_name(request_kinds[k].kind)) == 0) wants = request_kinds[k].wants;
        if (!wants) return request_fail(why, whylen, "kinds[%d]: not one of cpu, heap, threads, mutex", i);
        *kinds |= wants;
        i++;
    }
    return 0;
}

static int parse_seconds(const cJSON *item, int *seconds, char *why, size_t whylen)
{
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) || item->valuedouble < 1 ||
        item->valuedouble > CONAN_REQUEST_SECONDS_MAX)
        return request_fail(why, whylen, "seconds: must be a whole number from 1 to %d", CONAN_REQUEST_SECONDS_MAX);
    *seconds = (int)item->valuedouble;
    return 0;
}

static bool all_space(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') return false;
    return true;
}

int conan_request_parse(const char *text, size_t len, struct conan_request *req, char *why, size_t whylen)
{
    *req = (struct conan_request){ 0, 0 };
    if (all_space(text, text + len)) return 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root || !all_space(end, text + len)) {
        cJSON_Delete(root);
        return request_fail(why, whylen, "$: not JSON (want {\"kinds\": [\"cpu\", \"heap\", \"threads\"], "
                                         "\"seconds\": N}, or nothing)");
    }
    int rc = cJSON_IsObject(root) ? 0 : request_fail(why, whylen, "$: must be a JSON object");
    const cJSON *fields = rc == 0 ? root : NULL, *item;
    cJSON_ArrayForEach(item, fields) {
        if (rc) break;
        if (strcmp(item->string, "kinds") == 0)
            rc = parse_kinds(item, &req->kinds, why, whylen);
        else if (strcmp(item->string, "seconds") == 0)
            rc = parse_seconds(item, &req->cpu_seconds, why, whylen);
        else
            rc = request_fail(why, whylen, "%.32s: unknown key (valid: kinds, seconds)", item->string);
    }
    cJSON_Delete(root);
    if (rc) *req = (struct conan_request){ 0, 0 };
    return rc;
}

/* Reads the open trigger file fd (at most CONAN_TRIGGER_FILE_MAX bytes, a
 * regular file only: never a FIFO or a device that could block or stream)
 * into req. Returns 0, or -1 with why. */
static int read_request(int fd, struct conan_request *req, char *why, size_t whylen)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return request_fail(why, whylen, "not a regular file");
    char text[CONAN_TRIGGER_FILE_MAX + 1];
    size_t got = 0;
    while (got < sizeof text) {
        ssize_t n = read(fd, text + got, sizeof text - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return request_fail(why, whylen, "cannot read: %s", strerror(errno));
        if (n == 0) break;
        got += (size_t)n;
    }
    if (got > CONAN_TRIGGER_FILE_MAX)
        return request_fail(why, whylen, "longer than %d bytes", CONAN_TRIGGER_FILE_MAX);
    return conan_request_parse(text, got, req, why, whylen);
}

/* <dump_dir>/conan.trigger.<pid>: a request, if we can remove it (a file we
 * cannot remove would otherwise ask again on every look). Its content says
 * what is asked for; a file we cannot read or understand is refused with one
 * line saying why, never served with guesses. */
static bool take_own_trigger(const char *path, struct conan_request *req)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return false;
    int open_errno = errno;
    if (unlink(path) != 0) {
        if (fd >= 0) close(fd);
        return false;
    }
    char why[160];
    int rc;
    if (fd < 0)
        rc = request_fail(why, sizeof why, "%s", open_errno == ELOOP ? "not a regular file" : strerror(open_errno));
    else
        rc = read_request(fd, req, why, sizeof why);
    if (fd >= 0) close(fd);
    if (rc == 0) return true;
    conan_log("%s: %s; request refused", path, why);
    return false;
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* <dump_dir>/conan.trigger.<pid> is ours alone: consume it. <dump_dir>/conan.trigger
 * is for every process sharing the directory, so each process acts once per
 * version of the file (its content is not read: it asks for the defaults), and
 * it is removed once it is old enough that every monitor has ticked since it
 * appeared. Creating either file changes the directory's mtime, so a tick
 * normally costs one stat of the directory. */
bool conan_trigger_file_present(struct conan_decider *d, double wall_s, struct conan_request *req)
{
    const struct conan_config *cfg = d->cfg;
    struct stat st;
    *req = (struct conan_request){ 0, 0 };
    if (stat(cfg->dump_dir, &st) != 0) return false;
    if (same_time(st.st_mtim, d->dump_dir_mtime) && !d->shared_trigger.present) return false;
    d->dump_dir_mtime = st.st_mtim;

    char path[PATH_MAX];
    bool request = false;
    if (conan_format(path, sizeof path, "%s/conan.trigger.%d", cfg->dump_dir, (int)d->pid))
        request = take_own_trigger(path, req);

    d->shared_trigger.present = false;
    if (!conan_format(path, sizeof path, "%s/conan.trigger", cfg->dump_dir) || lstat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return request;
    d->shared_trigger.present = true;
    double mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    bool same = d->shared_trigger.seen && d->shared_trigger.dev == st.st_dev && d->shared_trigger.ino == st.st_ino &&
                same_time(d->shared_trigger.mtime, st.st_mtim);
    if (!same && mtime >= d->started_wall_s - 1.0) {
        *req = (struct conan_request){ 0, request ? req->cpu_seconds : 0 }; /* every kind */
        request = true;
    }
    d->shared_trigger.dev = st.st_dev;
    d->shared_trigger.ino = st.st_ino;
    d->shared_trigger.mtime = st.st_mtim;
    d->shared_trigger.seen = true;
    double interval_s = cfg->interval_ms / 1000.0;
    if (wall_s - mtime > 2 * interval_s + 1.0 && unlink(path) == 0) d->shared_trigger.present = false;
    return request;
}
