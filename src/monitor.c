/* monitor.c — the monitor thread: the engine's clock and its only decision maker.
 *
 * Every interval_ms it reads the metrics, feeds the rules, and when one trips
 * (or the continuous timer fires, or a profile is requested on demand) it writes
 * a heap profile at once (memory and heap rules) or opens a CPU profiling window, subject to the rule's cooldown, the hourly dump budget and
 * the CPU ceiling. While a CPU window is open it also wakes every RESCAN_MS to
 * arm timers for new threads and to close the window on time. Closing a window
 * aggregates the samples, symbolizes, encodes, writes the file and the event
 * line, and prunes the directory — all here, never in signal context.
 *
 * The thread is named conan-monitor and runs with every signal blocked, so the
 * program's signals are never delivered to it. It sleeps on a futex word that
 * conan_monitor_request and conan_monitor_stop set: no file descriptor, so a
 * program that closes descriptors it did not open cannot disturb it. */
#include "monitor.h"
#include "clock.h"
#include "config.h"
#include "context.h"
#include "cpu.h"
#include "dump.h"
#include "heap.h"
#include "heap_inline.h"
#include "log.h"
#include "metrics.h"
#include "pprof.h"
#include "procfs.h"
#include "rules.h"
#include "stack_walk.h"
#include "symbols.h"
#include "threads.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RESCAN_MS 100          /* new-thread scan and window-end granularity */
#define LIMITS_REFRESH_S 5.0   /* how often quota, affinity and online CPUs are re-read */
#define STOP_WAIT_MS 200       /* longest the program's exit waits for us */
#define PAUSE_WAIT_MS 1000     /* longest an unshare/setns waits for us */

static struct {
    struct conan_config cfg;
    struct conan_context ctx;
    pthread_t thread;
    bool running;              /* atomic: read by every thread as it starts and ends */
    uint32_t wake_word;        /* atomic: 1 = wake up */
    int stop;                  /* atomic */
    int busy;                  /* atomic: 0 while the thread waits for its next deadline */
    const char *stop_note;     /* why a window open at stop ended early */
    int requested;             /* atomic: on-demand requests not yet served */
    bool manual_pending;       /* a request waits for the open window to close */

    struct conan_cpu_meter meter;
    struct conan_rule_state cpu_rule, memory_rule, heap_rule, threads_rule;
    int thread_event;          /* atomic: a thread started or ended during a window */
    int poked;                 /* atomic: check whether we are the last thread */
    struct conan_budget budget;
    bool budget_skip_logged;
    double next_tick_s, next_continuous_s, started_wall_s;

    bool window_open;
    double window_end_s;
    int64_t window_wall_start_ns;
    struct conan_trigger window_trigger;
    const char *window_note;

    double followup_s;         /* when the follow-up heap profile is due; 0 = none */
    struct conan_trigger followup_trigger;

    double usable_cpus, memory_limit, limits_read_s;
    const char *memory_limit_source;
    pid_t pid;
    bool keep_context;         /* a restart in a forked child: the context is the parent's */
    struct timespec dump_dir_mtime;   /* trigger files are looked for when this changes */
    struct { dev_t dev; ino_t ino; struct timespec mtime; bool seen, present; } shared_trigger;
} mon;

static bool monitor_running(void) { return __atomic_load_n(&mon.running, __ATOMIC_ACQUIRE); }
static void set_monitor_running(bool on) { __atomic_store_n(&mon.running, on, __ATOMIC_RELEASE); }

/* ---- closing a CPU window: aggregate, symbolize, encode, write ---- */

struct thread_name_cache {
    pid_t tid[256];
    char name[256][16];
    int n;
};

static const char *cached_thread_name(struct thread_name_cache *c, pid_t tid)
{
    for (int i = 0; i < c->n; i++)
        if (c->tid[i] == tid) return c->name[i];
    const char *name = conan_cpu_thread_name(tid);
    if (c->n == 256) return name;
    c->tid[c->n] = tid;
    snprintf(c->name[c->n], sizeof c->name[c->n], "%s", name);
    return c->name[c->n++];
}

static struct conan_pprof *cpu_profile(const struct conan_cpu_window *w)
{
    static const struct conan_value_type types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };
    int64_t period = 1000000000LL / mon.cfg.cpu.hz;
    struct conan_pprof *p = conan_pprof_new(types, 2, types[1], period);
    if (!p) return NULL;
    struct thread_name_cache *names = calloc(1, sizeof *names);
    if (!names) {
        conan_pprof_free(p);
        return NULL;
    }
    for (long i = 0; i < w->nsample; i++) {
        const struct conan_cpu_sample *s = &w->sample[i];
        int depth = __atomic_load_n(&s->depth, __ATOMIC_ACQUIRE);
        if (depth <= 0) continue;
        int64_t values[2] = { s->weight, s->weight * period };
        struct conan_label labels[2] = {
            { .key = "thread", .str = cached_thread_name(names, s->tid) },
            { .key = "tid", .num = s->tid },
        };
        conan_pprof_add(p, s->pcs, depth, values, labels, 2);
    }
    free(names);
    conan_pprof_set_time(p, mon.window_wall_start_ns, (int64_t)(w->duration_s * 1e9));
    conan_pprof_set_default_type(p, 1);
    conan_context_comments(p, &mon.cfg, &mon.ctx, &mon.window_trigger);
    conan_pprof_comment(p, "cpu timer: %s, %d threads armed, %d Hz, %.2f s",
                        w->timer == CONAN_TIMER_THREAD ? "thread" : "process", w->threads_armed,
                        mon.cfg.cpu.hz, w->duration_s);
    conan_pprof_comment(p, "samples: %ld taken, %ld dropped (%ld buffer full, %ld in the dynamic loader), over %.2f CPU-seconds",
                        w->samples, w->dropped, w->dropped_full, w->dropped_loader, w->cpu_s);
    if (mon.window_note) conan_pprof_comment(p, "note: %s", mon.window_note);
    return p;
}

/* Encodes p and writes it as a <kind> dump; fills the event's file and figures.
 * Takes syms (symbols opened when the profile was built), or opens its own. */
static void write_profile(struct conan_pprof *p, struct conan_symbols *syms, const char *kind,
                          struct conan_event *ev, char *path, size_t path_len, double t0)
{
    void *gz = NULL;
    size_t gz_len = 0;
    if (!syms) syms = conan_symbols_open();
    int rc = p && syms ? conan_pprof_encode(p, syms, &gz, &gz_len) : -1; /* no symbols: out of memory */
    if (syms) conan_symbols_close(syms);
    if (rc != 0) {
        ev->error = "could not build the profile (out of memory?)";
        conan_log("could not build the %s profile; skipped", kind);
    } else if (conan_dump_write(&mon.cfg, kind, gz, gz_len, path, path_len) != 0) {
        ev->error = "could not write the profile (see stderr)";
    } else {
        ev->file = path;
        ev->bytes = gz_len;
    }
    free(gz);
    ev->write_ms = (conan_monotonic_seconds() - t0) * 1000.0;
}

static void close_cpu_window(void)
{
    struct conan_cpu_window w;
    conan_cpu_stop(&w);
    mon.window_open = false;
    struct conan_pprof *p = cpu_profile(&w);
    char path[PATH_MAX] = "";
    struct conan_event ev = {
        .kind = "cpu",
        .trigger = &mon.window_trigger,
        .file = "",
        .timer = w.timer == CONAN_TIMER_THREAD ? "thread" : "process",
        .samples = w.samples,
        .dropped = w.dropped,
        .duration_s = w.duration_s,
        .cpu_s = w.cpu_s,
        .note = mon.window_note,
    };
    write_profile(p, NULL, "cpu", &ev, path, sizeof path, conan_monotonic_seconds());
    conan_pprof_free(p);
    conan_cpu_release();
    conan_dump_event(&mon.cfg, &ev);
    conan_dump_prune(&mon.cfg);
}

/* ---- heap profiles: written at once, no window ---- */

#define MIB (1024.0 * 1024.0)

static void write_heap_profile(const struct conan_trigger *t, const char *note)
{
    struct conan_event ev = { .kind = "heap", .trigger = t, .file = "", .note = note };
    if (!conan_heap_sampling()) {
        ev.error = "heap sampling is off (heap.sample_bytes is 0)";
        conan_dump_event(&mon.cfg, &ev);
        return;
    }
    if (conan_dump_dir_ready(&mon.cfg) != 0) return;
    double t0 = conan_monotonic_seconds();
    struct conan_heap_stats st = { 0 };
    struct conan_symbols *syms = conan_symbols_open();
    struct conan_pprof *p = conan_heap_profile(&st, syms);
    if (p) {
        conan_pprof_set_time(p, conan_wall_nanos(), 0);
        conan_context_comments(p, &mon.cfg, &mon.ctx, t);
        const char *source;
        double in_use = conan_heap_in_use_bytes(&source);
        conan_pprof_comment(p, "heap sampling: one sample per %d bytes on average; %ld sampled blocks live in %ld stacks; "
                            "%ld sampled, %ld freed since start, %ld not recorded, %ld freed unseen",
                            mon.cfg.heap.sample_bytes, st.live, st.stacks, st.sampled, st.freed, st.dropped,
                            st.replaced);
        conan_pprof_comment(p, "heap in use: %.1f MiB (%s, allocator %s); resident: %.1f MiB of %.1f MiB (%s)",
                            in_use / MIB, source, conan_allocator.name, conan_rss_bytes() / MIB,
                            mon.memory_limit / MIB, mon.memory_limit_source ? mon.memory_limit_source : "?");
        if (note) conan_pprof_comment(p, "note: %s", note);
    }
    ev.samples = st.live;
    ev.dropped = st.dropped;
    char path[PATH_MAX] = "";
    write_profile(p, syms, "heap", &ev, path, sizeof path, t0);
    conan_pprof_free(p);
    conan_dump_event(&mon.cfg, &ev);
    conan_dump_prune(&mon.cfg);
}

/* ---- thread profiles: threadcreate, and the stack snapshot ---- */

static void write_thread_profiles(const struct conan_trigger *t)
{
    if (conan_dump_dir_ready(&mon.cfg) != 0) return;
    char path[PATH_MAX] = "";
    int64_t now_ns = conan_wall_nanos();

    double t0 = conan_monotonic_seconds();
    long threads = 0;
    struct conan_symbols *syms = conan_symbols_open();
    struct conan_pprof *p = conan_threads_create_profile(&threads, syms);
    struct conan_event ev = { .kind = "threadcreate", .trigger = t, .file = "", .samples = threads };
    if (p) {
        conan_pprof_set_time(p, now_ns, 0);
        conan_context_comments(p, &mon.cfg, &mon.ctx, t);
        conan_pprof_comment(p, "threads: %ld live (libconan's monitor excluded), %ld made by pthread_create since "
                            "libconan was loaded", threads, conan_threads_registered());
    }
    write_profile(p, syms, "threadcreate", &ev, path, sizeof path, t0);
    conan_pprof_free(p);
    conan_dump_event(&mon.cfg, &ev);

    struct conan_event snap_ev = { .kind = "threads", .trigger = t, .file = "" };
    if (threads > mon.cfg.threads.max) {
        char note[128];
        snprintf(note, sizeof note, "no stack snapshot: %ld threads, above threads.max (%d)", threads,
                 mon.cfg.threads.max);
        snap_ev.note = note;
        snap_ev.samples = threads;
        conan_dump_event(&mon.cfg, &snap_ev);
        conan_dump_prune(&mon.cfg);
        return;
    }
    struct conan_threads_snapshot snap;
    p = conan_threads_profile(&mon.cfg, mon.window_open, &snap);
    if (p) {
        conan_pprof_set_time(p, now_ns, (int64_t)(snap.duration_s * 1e9));
        conan_context_comments(p, &mon.cfg, &mon.ctx, t);
        conan_pprof_comment(p, "threads: %ld (libconan's monitor excluded), %ld stacks (%ld of blocked threads, "
                            "read without a signal), %ld blocking SIGPROF, %ld no answer within %d ms; "
                            "snapshot took %.1f ms", snap.threads, snap.stacks, snap.stacks_from_proc, snap.blocked,
                            snap.timed_out, mon.cfg.threads.wait_ms, snap.duration_s * 1000.0);
        if (snap.why_no_stacks) conan_pprof_comment(p, "note: no stacks: %s", snap.why_no_stacks);
    }
    snap_ev.samples = snap.threads;
    snap_ev.dropped = snap.blocked + snap.timed_out;
    snap_ev.duration_s = snap.duration_s;
    snap_ev.note = snap.why_no_stacks;
    write_profile(p, NULL, "threads", &snap_ev, path, sizeof path, conan_monotonic_seconds());
    conan_pprof_free(p);
    conan_dump_event(&mon.cfg, &snap_ev);
    conan_dump_prune(&mon.cfg);
}

/* ---- opening windows ---- */

static bool budget_allows(double now_s, int n)
{
    if (conan_budget_allows(&mon.budget, mon.cfg.limits.max_dumps_per_hour, now_s, n)) {
        mon.budget_skip_logged = false;
        return true;
    }
    if (!mon.budget_skip_logged) {
        mon.budget_skip_logged = true;
        conan_log("limits.max_dumps_per_hour (%d) reached; triggers are skipped until older dumps age out",
                  mon.cfg.limits.max_dumps_per_hour);
    }
    return false;
}

/* Opens a CPU window for trigger t. A failed attempt (dump_dir unusable, SIGPROF
 * taken by the program) is logged once per attempt and still counts as the
 * trigger having been handled: the rule's cooldown starts, so a persistent
 * problem costs one line per cooldown, not one per tick. */
static void open_cpu_window(const struct conan_trigger *t, double now_s)
{
    char why[256];
    if (conan_dump_dir_ready(&mon.cfg) != 0) return;
    if (conan_cpu_start(&mon.cfg, why, sizeof why) != 0) {
        struct conan_event ev = { .kind = "cpu", .trigger = t, .file = "", .error = why };
        conan_dump_event(&mon.cfg, &ev);
        return;
    }
    mon.window_wall_start_ns = conan_wall_nanos();
    mon.window_open = true;
    mon.window_end_s = now_s + mon.cfg.cpu.profile_seconds;
    mon.window_trigger = *t;
    mon.window_note = NULL;
}

/* What a trigger asks for. */
enum { KIND_CPU = 1, KIND_HEAP = 2, KIND_THREADS = 4 };

/* Acts on one trigger: every profile it asks for, for one unit of the hourly
 * budget; note goes into the heap profile. Returns false if the budget was spent. */
static bool act_on(const struct conan_trigger *t, unsigned kinds, double now_s, const char *note)
{
    if (!budget_allows(now_s, 1)) return false;
    conan_budget_spend(&mon.budget, mon.cfg.limits.max_dumps_per_hour, now_s, 1);
    if (kinds & KIND_HEAP) write_heap_profile(t, note);
    if (kinds & KIND_THREADS) write_thread_profiles(t);
    if ((kinds & KIND_CPU) && !mon.window_open) open_cpu_window(t, now_s);
    return true;
}

/* Every kind that is on, for on-demand and continuous profiles. */
static unsigned enabled_kinds(bool cpu_allowed)
{
    return (mon.cfg.cpu.rule.enable && cpu_allowed ? KIND_CPU : 0) | (conan_heap_sampling() ? KIND_HEAP : 0) |
           (mon.cfg.threads.rule.enable ? KIND_THREADS : 0);
}

/* Profiles of every enabled kind, for an on-demand request. */
static void serve_manual_request(double now_s)
{
    static const struct conan_trigger manual = { .metric = "", .reason = CONAN_REASON_MANUAL };
    if (mon.window_open) {
        mon.manual_pending = true; /* served when the open window closes */
        return;
    }
    mon.manual_pending = false;
    act_on(&manual, enabled_kinds(true), now_s, NULL);
}

/* The memory and heap rules: either one writes a heap profile. */
static void memory_rules(double now_s, const struct conan_process_stat *st)
{
    const char *source;
    double rss_percent = 0, heap_mib = 0; /* read only for a rule that is on */
    if (mon.cfg.memory.rule.enable && mon.memory_limit > 0) rss_percent = st->rss_bytes / mon.memory_limit * 100.0;
    if (mon.cfg.heap.rule.enable) heap_mib = conan_heap_in_use_bytes(&source) / MIB;
    struct conan_verdict mv = conan_rule_observe(&mon.cfg.memory.rule, &mon.memory_rule, rss_percent, now_s);
    struct conan_verdict hv = conan_rule_observe(&mon.cfg.heap.rule, &mon.heap_rule, heap_mib, now_s);
    if (mv.reason == CONAN_REASON_NONE && hv.reason == CONAN_REASON_NONE) return;
    struct conan_trigger t;
    if (mv.reason != CONAN_REASON_NONE)
        t = (struct conan_trigger){ .metric = "memory", .reason = mv.reason, .value = rss_percent, .mean = mv.mean,
                                    .rule = &mon.cfg.memory.rule };
    else
        t = (struct conan_trigger){ .metric = "heap", .reason = hv.reason, .value = heap_mib, .mean = hv.mean,
                                    .rule = &mon.cfg.heap.rule };
    if (!act_on(&t, KIND_HEAP, now_s, NULL)) return;
    if (mv.reason != CONAN_REASON_NONE) conan_rule_commit(&mon.memory_rule, now_s);
    if (hv.reason != CONAN_REASON_NONE) conan_rule_commit(&mon.heap_rule, now_s);
    if (mon.cfg.heap.followup_s > 0 && conan_heap_sampling()) {
        mon.followup_s = now_s + mon.cfg.heap.followup_s;
        mon.followup_trigger = t;
    }
}

/* The thread rule: live threads, our monitor excluded. */
static void thread_rule(double now_s, const struct conan_process_stat *st)
{
    if (!mon.cfg.threads.rule.enable || st->threads <= 0) return;
    double threads = (double)st->threads - 1;
    struct conan_verdict v = conan_rule_observe(&mon.cfg.threads.rule, &mon.threads_rule, threads, now_s);
    if (v.reason == CONAN_REASON_NONE) return;
    struct conan_trigger t = { .metric = "threads", .reason = v.reason, .value = threads, .mean = v.mean,
                               .rule = &mon.cfg.threads.rule };
    if (act_on(&t, KIND_THREADS, now_s, NULL)) conan_rule_commit(&mon.threads_rule, now_s);
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* <dump_dir>/conan.trigger.<pid> is ours alone: consume it. <dump_dir>/conan.trigger
 * is for every process sharing the directory, so each process acts once per
 * version of the file, and it is removed once it is old enough that every
 * monitor has ticked since it appeared. Creating either file changes the
 * directory's mtime, so a tick normally costs one stat of the directory. */
static bool trigger_file_present(void)
{
    struct stat st;
    if (stat(mon.cfg.dump_dir, &st) != 0) return false;
    if (same_time(st.st_mtim, mon.dump_dir_mtime) && !mon.shared_trigger.present) return false;
    mon.dump_dir_mtime = st.st_mtim;

    char path[PATH_MAX];
    bool request = false;
    if (conan_format(path, sizeof path, "%s/conan.trigger.%d", mon.cfg.dump_dir, (int)mon.pid) && unlink(path) == 0)
        request = true;

    mon.shared_trigger.present = false;
    if (!conan_format(path, sizeof path, "%s/conan.trigger", mon.cfg.dump_dir) || lstat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return request;
    mon.shared_trigger.present = true;
    double mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
    bool same = mon.shared_trigger.seen && mon.shared_trigger.dev == st.st_dev &&
                mon.shared_trigger.ino == st.st_ino && same_time(mon.shared_trigger.mtime, st.st_mtim);
    if (!same && mtime >= mon.started_wall_s - 1.0) request = true;
    mon.shared_trigger.dev = st.st_dev;
    mon.shared_trigger.ino = st.st_ino;
    mon.shared_trigger.mtime = st.st_mtim;
    mon.shared_trigger.seen = true;
    double interval_s = mon.cfg.interval_ms / 1000.0;
    if (conan_wall_seconds() - mtime > 2 * interval_s + 1.0 && unlink(path) == 0) mon.shared_trigger.present = false;
    return request;
}

static void tick(double now_s, const struct conan_process_stat *st)
{
    if (now_s - mon.limits_read_s >= LIMITS_REFRESH_S || mon.usable_cpus <= 0) {
        const char *source;
        mon.usable_cpus = conan_usable_cpus(mon.ctx.have_cgroup ? &mon.ctx.cgroup : NULL, &source);
        mon.memory_limit = conan_memory_limit_bytes(mon.ctx.have_cgroup ? &mon.ctx.cgroup : NULL,
                                                    &mon.memory_limit_source);
        mon.limits_read_s = now_s;
    }
    double cpu = conan_cpu_meter_percent(&mon.meter, mon.usable_cpus);
    bool over_ceiling = mon.cfg.cpu.max > 0 && cpu >= mon.cfg.cpu.max;

    if (mon.window_open && over_ceiling) {
        mon.window_note = "stopped early: CPU reached cpu.max";
        close_cpu_window();
    }

    struct conan_verdict v = conan_rule_observe(&mon.cfg.cpu.rule, &mon.cpu_rule, cpu, now_s);
    if (v.reason != CONAN_REASON_NONE && !mon.window_open && !over_ceiling) {
        struct conan_trigger t = { .metric = "cpu", .reason = v.reason, .value = cpu, .mean = v.mean,
                                   .rule = &mon.cfg.cpu.rule };
        if (act_on(&t, KIND_CPU, now_s, NULL)) conan_rule_commit(&mon.cpu_rule, now_s);
    }

    memory_rules(now_s, st);
    thread_rule(now_s, st);
    conan_threads_settle(mon.window_open);
    /* Objects loaded since the last tick become unwindable for heap samples. */
    if (conan_heap_sampling()) {
        conan_unwind_refresh_tables();
        conan_unwind_release_retired();
    }

    if (mon.cfg.mode == CONAN_MODE_CONTINUOUS && now_s >= mon.next_continuous_s && !mon.window_open) {
        static const struct conan_trigger continuous = { .metric = "", .reason = CONAN_REASON_CONTINUOUS };
        act_on(&continuous, enabled_kinds(!over_ceiling), now_s, NULL);
        mon.next_continuous_s = now_s + mon.cfg.continuous.every_s;
    }

    if (trigger_file_present()) serve_manual_request(now_s);
}

/* ---- the thread ---- */

static long futex(uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return syscall(SYS_futex, word, op, value, timeout, NULL, 0);
}

static void wait_until(double deadline_s)
{
    if (__atomic_exchange_n(&mon.wake_word, 0, __ATOMIC_ACQ_REL)) return;
    double left = deadline_s - conan_monotonic_seconds();
    if (left <= 0) return;
    struct timespec timeout = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
    futex(&mon.wake_word, FUTEX_WAIT_PRIVATE, 0, &timeout); /* returns at once if the word is set */
    __atomic_store_n(&mon.wake_word, 0, __ATOMIC_RELEASE);
}

static void *monitor_main(void *arg)
{
    (void)arg;
    double interval_s = mon.cfg.interval_ms / 1000.0;
    conan_heap_exempt_this_thread(); /* the profiles' own allocations are never sampled */
    double now_s = conan_monotonic_seconds();
    conan_cpu_meter_percent(&mon.meter, 1); /* prime */
    mon.next_tick_s = now_s + interval_s;
    mon.next_continuous_s = now_s + mon.cfg.continuous.every_s;

    while (!__atomic_load_n(&mon.stop, __ATOMIC_ACQUIRE)) {
        double deadline = mon.next_tick_s;
        if (mon.window_open) {
            double rescan = conan_monotonic_seconds() + RESCAN_MS / 1000.0;
            if (rescan < deadline) deadline = rescan;
            if (mon.window_end_s < deadline) deadline = mon.window_end_s;
        }
        if (mon.followup_s > 0 && mon.followup_s < deadline) deadline = mon.followup_s;
        /* main has left: look often whether the program's last thread has too */
        if (conan_threads_main_exited() && conan_monotonic_seconds() + 0.05 < deadline)
            deadline = conan_monotonic_seconds() + 0.05;
        __atomic_store_n(&mon.busy, 0, __ATOMIC_SEQ_CST);
        wait_until(deadline);
        __atomic_store_n(&mon.busy, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&mon.stop, __ATOMIC_SEQ_CST)) break;
        now_s = conan_monotonic_seconds();

        if (mon.window_open) {
            __atomic_store_n(&mon.thread_event, 0, __ATOMIC_RELAXED);
            if (now_s >= mon.window_end_s)
                close_cpu_window();
            else
                conan_cpu_rescan_threads();
        }
        if (__atomic_exchange_n(&mon.requested, 0, __ATOMIC_ACQ_REL) || (mon.manual_pending && !mon.window_open))
            serve_manual_request(now_s);
        if (mon.followup_s > 0 && now_s >= mon.followup_s) {
            mon.followup_s = 0;
            act_on(&mon.followup_trigger, KIND_HEAP, now_s, "follow-up: heap.followup_s after the trip");
        }
        /* main called pthread_exit and the program's other threads are gone:
         * the process ends when its last thread does, and that is us. */
        bool poked = __atomic_exchange_n(&mon.poked, 0, __ATOMIC_ACQ_REL);
        struct conan_process_stat st = { 0, 0 };
        if (poked || now_s >= mon.next_tick_s || conan_threads_main_exited())
            conan_process_stat(&st); /* one read: RSS and threads */
        if (st.threads && conan_threads_only_caller_left(st.threads)) {
            mon.stop_note = "stopped early: the program's threads all ended";
            break;
        }
        if (now_s >= mon.next_tick_s) {
            tick(now_s, &st);
            mon.next_tick_s += interval_s;
            if (mon.next_tick_s < now_s) mon.next_tick_s = now_s + interval_s; /* we fell behind */
        }
    }
    /* The program is exiting mid-window: keep what was sampled. The exit path
     * waits at most STOP_WAIT_MS for this; a write cut short by the process
     * ending leaves only a hidden temporary file, which pruning removes. */
    if (mon.window_open) {
        mon.window_note = mon.stop_note;
        close_cpu_window();
    }
    if (!__atomic_load_n(&mon.stop, __ATOMIC_ACQUIRE)) set_monitor_running(false); /* we left on our own */
    return NULL;
}

/* The child of a fork has no monitor thread: it must not accept requests no
 * one will serve, nor keep sampling into its copy of the buffer, nor try to
 * join a thread it does not have. It stays inert until conan_monitor_after_fork
 * starts a monitor of its own: not here, because the handlers of the libraries
 * behind us (the allocator's among them) may not have run yet. */
static bool forked;     /* this is a child of fork and its parent had a monitor */

static void child_after_fork(void)
{
    __atomic_store_n(&conan_cpu_ring.active, 0, __ATOMIC_SEQ_CST);
    conan_heap_stop();
    forked = monitor_running();
    set_monitor_running(false);
}

void conan_monitor_after_fork(void)
{
    if (!forked) return;
    forked = false;
    if (!mon.cfg.follow_fork) return;
    conan_cpu_forget_after_fork();
    /* A new process: nothing of the parent's schedule, requests or spending. */
    mon.window_open = false;
    mon.window_note = mon.stop_note = NULL;
    mon.manual_pending = false;
    mon.followup_s = 0;
    __atomic_store_n(&mon.requested, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.thread_event, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.poked, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.stop, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.wake_word, 0, __ATOMIC_RELAXED);
    memset(&mon.budget, 0, sizeof mon.budget);
    mon.budget_skip_logged = false;
    memset(&mon.meter, 0, sizeof mon.meter);
    mon.keep_context = true; /* same executable, host and cgroup as the parent */
    conan_monitor_start(&mon.cfg);
}

int conan_monitor_start(const struct conan_config *cfg)
{
    static int atfork_registered;
    if (monitor_running()) return 0;
    if (!atfork_registered++) pthread_atfork(NULL, NULL, child_after_fork);
    if (cfg != &mon.cfg) mon.cfg = *cfg;
    if (!mon.keep_context) conan_context_collect(&mon.ctx);
    mon.keep_context = false;
    conan_rule_reset(&mon.cpu_rule);
    conan_rule_reset(&mon.memory_rule);
    conan_rule_reset(&mon.heap_rule);
    conan_rule_reset(&mon.threads_rule);
    mon.started_wall_s = conan_wall_seconds();
    mon.pid = getpid();
    static int no_cgroup_once;
    if (!mon.ctx.have_cgroup)
        conan_log_once(&no_cgroup_once, "no cgroup found in /proc/self/cgroup and /proc/self/mountinfo; "
                  "CPU is measured against the affinity mask and online CPUs");

    pthread_attr_t attr;
    sigset_t all;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setsigmask_np(&attr, &all);
    int err = pthread_create(&mon.thread, &attr, monitor_main, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        conan_log("cannot create the monitor thread: %s; libconan stays inert", strerror(err));
        return -1;
    }
    pthread_setname_np(mon.thread, "conan-monitor");
    set_monitor_running(true);
    conan_heap_start(&mon.cfg); /* here, before main, so its first allocations are sampled */
    return 0;
}

/* Async-signal-safe: one atomic store and one futex syscall. */
static void wake(void)
{
    __atomic_store_n(&mon.wake_word, 1, __ATOMIC_RELEASE);
    futex(&mon.wake_word, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void conan_monitor_poke(void)
{
    if (!monitor_running()) return;
    __atomic_store_n(&mon.poked, 1, __ATOMIC_RELEASE);
    wake();
}

void conan_monitor_thread_event(void)
{
    if (!monitor_running() || !__atomic_load_n(&conan_cpu_ring.active, __ATOMIC_RELAXED)) return;
    if (!__atomic_exchange_n(&mon.thread_event, 1, __ATOMIC_ACQ_REL)) wake();
}

int conan_monitor_request(void)
{
    if (!monitor_running()) return -1;
    __atomic_store_n(&mon.requested, 1, __ATOMIC_RELEASE);
    wake();
    return 0;
}

static void stop_monitor(const char *why, int wait_ms, bool must_join);

void conan_monitor_stop(void)
{
    stop_monitor("stopped early: the program exited", STOP_WAIT_MS, false);
}

/* Some calls refuse a multi-threaded caller (unshare(CLONE_NEWUSER), setns
 * into a user, mount or time namespace): the monitor steps aside for them.
 * Concurrent callers share one pause (the first stops the monitor, the last
 * restarts it). If the program has threads of its own the call fails anyway,
 * so the monitor stays. A short retry covers the moment between our thread's
 * join and the kernel's last bookkeeping of it. */
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;
static int pausers;
static bool paused_by_us;

static bool pause_begin(void)
{
    pthread_mutex_lock(&pause_lock);
    bool joined = pausers > 0;
    if (!joined && monitor_running() && conan_for_each_task(NULL, NULL) == 2) { /* the caller + the monitor */
        stop_monitor("stopped early: the program entered a new namespace", PAUSE_WAIT_MS, true);
        paused_by_us = !monitor_running();
    }
    if (joined || paused_by_us) pausers++;
    pthread_mutex_unlock(&pause_lock);
    return joined || paused_by_us;
}

static void pause_end(void)
{
    pthread_mutex_lock(&pause_lock);
    if (--pausers == 0 && paused_by_us) {
        paused_by_us = false;
        __atomic_store_n(&mon.stop, 0, __ATOMIC_RELEASE);
        conan_monitor_start(&mon.cfg);
    }
    pthread_mutex_unlock(&pause_lock);
}

int conan_monitor_call_alone(int (*call)(int, int), int a, int b)
{
    bool paused = pause_begin();
    int rc = call(a, b);
    for (int retry = 0; paused && rc != 0 && (errno == EINVAL || errno == EUSERS) && retry < 20; retry++) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
        rc = call(a, b);
    }
    int saved = errno;
    if (paused) pause_end();
    errno = saved;
    return rc;
}

/* Stops the monitor thread. At exit (must_join false) a monitor that is
 * waiting for its next deadline with no window open has nothing to finish: it
 * will only see the stop flag and leave, so the program does not wait for it
 * to be scheduled (a forked child exiting at once would otherwise pay for a
 * wake-up). Otherwise it gets wait_ms to write what an open window holds. */
static void stop_monitor(const char *why, int wait_ms, bool must_join)
{
    if (!monitor_running()) return;
    mon.stop_note = why;
    /* Sampling stops at once; the thread gets a bounded time to write what an
     * open window already holds. */
    __atomic_store_n(&conan_cpu_ring.active, 0, __ATOMIC_SEQ_CST);
    conan_heap_stop();
    __atomic_store_n(&mon.stop, 1, __ATOMIC_SEQ_CST);
    wake();
    if (!must_join && !__atomic_load_n(&mon.busy, __ATOMIC_SEQ_CST) && !mon.window_open) {
        set_monitor_running(false); /* it will only see the flag and leave */
        return;
    }
    struct timespec deadline = conan_clock_read(CLOCK_REALTIME);
    deadline.tv_nsec += wait_ms * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    if (pthread_timedjoin_np(mon.thread, NULL, &deadline) == 0) set_monitor_running(false);
}
