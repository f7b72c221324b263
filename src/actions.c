/* actions.c — what the monitor does when a decision asks for profiles
 * (decide.c): builds the heap profile, the two thread profiles and the mutex
 * profile at once,
 * and opens a CPU window, whose samples become the CPU profile when it
 * closes, together with the flight recorder's samples from before it
 * (recorder.c; labels phase=before and phase=during). A trigger that gets no
 * window (a memory trip, the cpu.max ceiling, a window that cannot open)
 * gets the recorder's part alone. A window also samples every thread's
 * stack on the wall clock (wall.c), written as the wall profile at close.
 * Every profile then goes through emit.c.
 * Monitor thread only. */
#include "actions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "cpu.h"
#include "emit.h"
#include "heap.h"
#include "kinds.h"
#include "labels.h"
#include "log.h"
#include "memory_where.h"
#include "metrics.h"
#include "mutex.h"
#include "recorder.h"
#include "thread_registry.h"
#include "thread_snapshot.h"
#include "wall.h"

#define MIB (1024.0 * 1024.0)

/* ---- the CPU window: opened by a decision, closed on time or early ---- */

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

static const struct conan_value_type cpu_types[] = { { "samples", "count" }, { "cpu", "nanoseconds" } };

/* One CPU sample: its ticks, their CPU time at ns_per_tick, and its labels
 * (phase only when the recorder runs, so profiles without it are as before). */
struct cpu_adder {
    struct conan_pprof *p;
    struct thread_name_cache *names;
    int64_t ns_per_tick;
    const char *phase;
};

static void add_cpu_sample(const struct conan_stack_slot *s, void *arg)
{
    struct cpu_adder *add = arg;
    int depth = conan_stack_slot_depth(s);
    if (depth <= 0) return;
    int64_t values[2] = { s->weight, s->weight * add->ns_per_tick };
    struct conan_label labels[3 + CONAN_LABELS_MAX] = {
        { .key = "thread", .str = cached_thread_name(add->names, s->tid) },
        { .key = "tid", .num = s->tid },
        { .key = "phase", .str = add->phase },
    };
    int n = add->phase ? 3 : 2;
    n += conan_labels_resolve(&s->labels, labels + n, CONAN_LABELS_MAX);
    conan_pprof_add(add->p, s->pcs, depth, values, labels, n);
}

static int64_t ns_per_tick(int hz)
{
    return 1000000000LL / hz;
}

/* Wall-clock nanoseconds of a monotonic time in the past. */
static int64_t wall_ns_of(double monotonic_s)
{
    return conan_wall_nanos() - (int64_t)((conan_monotonic_seconds() - monotonic_s) * 1e9);
}

static void format_utc(double monotonic_s, char *out, size_t len)
{
    int64_t ns = wall_ns_of(monotonic_s);
    time_t secs = (time_t)(ns / 1000000000LL);
    struct tm utc;
    gmtime_r(&secs, &utc);
    strftime(out, len, "%H:%M:%S", &utc);
}

/* The recorder's samples before until_s into p (phase=before); false if the
 * recorder never ran. */
static bool add_before(struct conan_pprof *p, struct thread_name_cache *names, const struct conan_config *cfg,
                       double until_s, struct conan_recorder_span *span)
{
    struct cpu_adder add = { p, names, ns_per_tick(cfg->recorder.hz), "before" };
    return conan_recorder_each(until_s, add_cpu_sample, &add, span);
}

/* After the profile's stamp: the stretch the recorder's samples cover. */
static void before_comment(struct conan_pprof *p, const struct conan_recorder_span *span)
{
    char from[16], to[16];
    format_utc(span->from_s, from, sizeof from);
    format_utc(span->to_s, to, sizeof to);
    conan_pprof_comment(p, "phase=before: the flight recorder, %.1f s (%s-%s UTC) at %ld Hz, %ld samples of %.1f ms of "
                        "CPU each", span->to_s - span->from_s, from, to, span->hz, span->samples,
                        1000.0 / (double)span->hz);
    conan_pprof_comment(p, "flight recorder ring: %ld samples in %.2f MiB", span->capacity,
                        (double)span->ring_bytes / (1024.0 * 1024.0));
}

static struct conan_pprof *cpu_profile(struct conan_actions *a, const struct conan_cpu_window *w,
                                       struct conan_recorder_span *before)
{
    const struct conan_config *cfg = a->cfg;
    int64_t period = ns_per_tick(cfg->cpu.hz);
    struct conan_pprof *p = conan_pprof_new(cpu_types, 2, cpu_types[1], period);
    struct thread_name_cache *names = p ? calloc(1, sizeof *names) : NULL;
    if (!names) {
        conan_pprof_free(p);
        return NULL;
    }
    bool recorded = cfg->recorder.enable && add_before(p, names, cfg, w->started_s, before);
    struct cpu_adder add = { p, names, period, recorded ? "during" : NULL };
    for (long i = 0; i < w->nsample; i++) add_cpu_sample(&w->sample[i], &add);
    free(names);
    /* The profile's time is its window's (tools compare it with the CPU the
     * window got); the comments say what stretch phase=before covers. */
    conan_emit_stamp(p, cfg, a->ctx, &a->window_trigger, a->window_wall_start_ns, (int64_t)(w->duration_s * 1e9));
    conan_pprof_set_default_type(p, 1);
    if (recorded) before_comment(p, before);
    conan_pprof_comment(p, "%scpu timer: %s, %d threads armed, %d Hz, %.2f s", recorded ? "phase=during: " : "",
                        w->timer == CONAN_TIMER_THREAD ? "thread" : "process", w->threads_armed, cfg->cpu.hz,
                        w->duration_s);
    conan_pprof_comment(p, "samples: %ld taken, %ld dropped (%ld buffer full, %ld in the dynamic loader), over %.2f CPU-seconds",
                        w->samples, w->dropped, w->dropped_full, w->dropped_loader, w->cpu_s);
    if (a->window_note) conan_pprof_comment(p, "note: %s", a->window_note);
    return p;
}

/* The wall profile of the window that just closed (wall.c). */
static void write_wall_profile(struct conan_actions *a, struct conan_pprof *p, const struct conan_wall_stats *ws)
{
    const struct conan_config *cfg = a->cfg;
    double t0 = conan_monotonic_seconds();
    conan_emit_stamp(p, cfg, a->ctx, &a->window_trigger, a->window_wall_start_ns, (int64_t)(ws->duration_s * 1e9));
    conan_pprof_comment(p, "wall: %d Hz, %ld rounds over %.2f s (%ld missed: the monitor was late), each sample "
                        "%.1f ms of a thread's time", ws->hz, ws->rounds, ws->duration_s, ws->missed, 1000.0 / ws->hz);
    conan_pprof_comment(p, "wall samples: %ld walked from /proc (blocked, no signal), %ld reused (not run since; %ld "
                        "of idle threads between looks), %ld by SIGPROF (running), %ld unavailable; sampling cost the "
                        "monitor %.1f ms of CPU (%.2f%% of one CPU)", ws->walked, ws->reused, ws->unlooked,
                        ws->signalled, ws->unavailable, ws->cost_s * 1000.0,
                        ws->duration_s > 0 ? ws->cost_s / ws->duration_s * 100.0 : 0.0);
    char note[160] = "";
    if (ws->left_out)
        snprintf(note, sizeof note, "up to %ld threads, above wall.max_threads (%d): the %d oldest sampled, %ld left out",
                 ws->threads_max, cfg->wall.max_threads, cfg->wall.max_threads, ws->left_out);
    if (note[0]) conan_pprof_comment(p, "note: %s", note);
    if (ws->why_no_signals) conan_pprof_comment(p, "note: running threads carry no stacks: %s", ws->why_no_signals);
    struct conan_event ev = {
        .kind = conan_kind_name(CONAN_KIND_WALL),
        .trigger = &a->window_trigger,
        .file = "",
        .samples = ws->walked + ws->reused + ws->signalled,
        .dropped = ws->unavailable,
        .duration_s = ws->duration_s,
        .note = note[0] ? note : ws->why_no_signals,
    };
    conan_emit_write(cfg, p, NULL, &ev, t0);
}

void conan_act_close_window(struct conan_actions *a, const char *note)
{
    if (note) a->window_note = note;
    /* The wall sampler first: its requests' SIGPROF is given back before the
     * CPU window waits for its own signals to drain. */
    struct conan_wall_stats ws;
    bool wall = conan_wall_active();
    struct conan_pprof *wall_p = wall ? conan_wall_stop(&ws) : NULL;
    struct conan_cpu_window w;
    conan_cpu_stop(&w);
    struct conan_recorder_span before = { 0 };
    struct conan_pprof *p = cpu_profile(a, &w, &before);
    conan_recorder_hold(false);
    double t0 = conan_monotonic_seconds();
    struct conan_event ev = {
        .kind = conan_kind_name(CONAN_KIND_CPU),
        .trigger = &a->window_trigger,
        .file = "",
        .timer = w.timer == CONAN_TIMER_THREAD ? "thread" : "process",
        .samples = w.samples,
        .dropped = w.dropped,
        .duration_s = w.duration_s,
        .cpu_s = w.cpu_s,
        .note = a->window_note,
        .before = before.hz ? &before : NULL,
    };
    conan_emit_write(a->cfg, p, NULL, &ev, t0);
    if (wall) {
        if (wall_p) write_wall_profile(a, wall_p, &ws);
        else conan_dump_event(a->cfg, &(struct conan_event){ .kind = conan_kind_name(CONAN_KIND_WALL),
                                                             .trigger = &a->window_trigger, .file = "",
                                                             .error = "could not build the profile (out of memory?)" });
    }
    conan_cpu_release();
}

/* The recorder's profile of the time before trigger t, alone: why says why
 * there is no window. False (nothing written) if the recorder never ran or
 * recorded nothing then (no thread used the CPU, or none could be sampled). */
static bool write_before_profile(struct conan_actions *a, const struct conan_trigger *t, const char *why)
{
    const struct conan_config *cfg = a->cfg;
    if (!cfg->recorder.enable || conan_cpu_window_open() || conan_dump_dir_ready(cfg) != 0) return false;
    double t0 = conan_monotonic_seconds();
    int64_t period = ns_per_tick(cfg->recorder.hz);
    struct conan_pprof *p = conan_pprof_new(cpu_types, 2, cpu_types[1], period);
    struct thread_name_cache *names = p ? calloc(1, sizeof *names) : NULL;
    struct conan_recorder_span before = { 0 };
    bool recorded = names && add_before(p, names, cfg, t0, &before) && before.stacks > 0;
    free(names);
    if (!recorded) {
        conan_pprof_free(p);
        return false;
    }
    char note[320];
    snprintf(note, sizeof note, "the flight recorder's %.1f s before the trigger only: %s",
             before.to_s - before.from_s, why);
    conan_emit_stamp(p, cfg, a->ctx, t, wall_ns_of(before.from_s), (int64_t)((before.to_s - before.from_s) * 1e9));
    conan_pprof_set_default_type(p, 1);
    before_comment(p, &before);
    conan_pprof_comment(p, "note: %s", note);
    struct conan_event ev = {
        .kind = conan_kind_name(CONAN_KIND_CPU),
        .trigger = t,
        .file = "",
        .timer = "recorder",
        .samples = before.samples,
        .note = note,
        .before = &before,
    };
    conan_emit_write(cfg, p, NULL, &ev, t0);
    return true;
}

/* ---- heap profiles: written at once, no window ---- */

static void write_heap_profile(struct conan_actions *a, const struct conan_trigger *t, const char *note)
{
    const struct conan_config *cfg = a->cfg;
    struct conan_event ev = { .kind = conan_kind_name(CONAN_KIND_HEAP), .trigger = t, .file = "", .note = note };
    if (!conan_heap_sampling()) {
        ev.error = "heap sampling is off (heap.sample_bytes is 0)";
        conan_dump_event(cfg, &ev);
        return;
    }
    if (conan_dump_dir_ready(cfg) != 0) return;
    double t0 = conan_monotonic_seconds();
    struct conan_heap_stats st = { 0 };
    struct conan_symbols *syms = conan_symbols_open();
    struct conan_pprof *p = conan_heap_profile(&st, syms);
    if (p) {
        conan_emit_stamp(p, cfg, a->ctx, t, conan_wall_nanos(), 0);
        /* One read of the allocator for both comments: mallinfo2 can stall the program. */
        struct conan_memory_where where;
        conan_memory_where_read(&where);
        const char *source;
        double in_use = conan_heap_in_use_of(&where.allocator, &source);
        conan_pprof_comment(p, "heap sampling: one sample per %d bytes on average; %ld sampled blocks live in %ld stacks; "
                            "%ld sampled, %ld freed since start, %ld not recorded, %ld freed unseen",
                            cfg->heap.sample_bytes, st.live, st.stacks, st.sampled, st.freed, st.dropped, st.replaced);
        conan_pprof_comment(p, "heap in use: %.1f MiB (%s, allocator %s); resident: %.1f MiB of %.1f MiB (%s)",
                            in_use / MIB, source, conan_allocator.name,
                            (where.have_resident ? where.resident : conan_rss_bytes()) / MIB,
                            a->memory_limit / MIB, a->memory_limit_source ? a->memory_limit_source : "?");
        conan_memory_where_comment(p, &where, st.inuse_bytes);
        if (note) conan_pprof_comment(p, "note: %s", note);
    }
    ev.samples = st.live;
    ev.dropped = st.dropped;
    conan_emit_write(cfg, p, syms, &ev, t0);
}

/* ---- mutex profiles: written at once, the waits since the previous one ---- */

static void write_mutex_profile(struct conan_actions *a, const struct conan_trigger *t)
{
    const struct conan_config *cfg = a->cfg;
    if (!conan_mutex_enabled() || conan_dump_dir_ready(cfg) != 0) return;
    double t0 = conan_monotonic_seconds();
    struct conan_mutex_stats st = { 0 };
    struct conan_pprof *p = conan_mutex_profile(&st);
    double span_s = t0 - st.since_s;
    if (p) {
        conan_emit_stamp(p, cfg, a->ctx, t, wall_ns_of(st.since_s), (int64_t)(span_s * 1e9));
        conan_pprof_comment(p, "mutex: contended pthread mutex and rwlock waits over the last %.1f s: %.3f s waited in "
                            "all; %ld waits sampled (one per %d ns waited on average), %ld not recorded; %ld "
                            "stacks since start", span_s, st.waited_s, st.sampled, cfg->mutex.sample_ns, st.dropped,
                            st.stacks);
    }
    struct conan_event ev = { .kind = conan_kind_name(CONAN_KIND_MUTEX), .trigger = t, .file = "",
                              .samples = st.sampled, .dropped = st.dropped, .duration_s = span_s };
    conan_emit_write(cfg, p, NULL, &ev, t0);
}

/* ---- thread profiles: threadcreate, and the stack snapshot ---- */

static void write_thread_profiles(struct conan_actions *a, const struct conan_trigger *t)
{
    const struct conan_config *cfg = a->cfg;
    if (conan_dump_dir_ready(cfg) != 0) return;
    int64_t now_ns = conan_wall_nanos();

    double t0 = conan_monotonic_seconds();
    long threads = 0;
    struct conan_symbols *syms = conan_symbols_open();
    struct conan_pprof *p = conan_threads_create_profile(&threads, syms);
    struct conan_event ev = { .kind = conan_kind_name(CONAN_KIND_THREADCREATE), .trigger = t, .file = "",
                              .samples = threads };
    if (p) {
        conan_emit_stamp(p, cfg, a->ctx, t, now_ns, 0);
        conan_pprof_comment(p, "threads: %ld live (libconan's monitor excluded), %ld made by pthread_create since "
                            "libconan was loaded", threads, conan_threads_registered());
    }
    conan_emit_write(cfg, p, syms, &ev, t0);

    struct conan_event snap_ev = { .kind = conan_kind_name(CONAN_KIND_THREADS), .trigger = t, .file = "" };
    if (threads > cfg->threads.max) {
        char note[128];
        snprintf(note, sizeof note, "no stack snapshot: %ld threads, above threads.max (%d)", threads,
                 cfg->threads.max);
        snap_ev.note = note;
        snap_ev.samples = threads;
        conan_dump_event(cfg, &snap_ev);
        conan_dump_prune(cfg);
        return;
    }
    struct conan_threads_snapshot snap;
    p = conan_snapshot_profile(cfg, &snap, t->stuck);
    if (p) {
        conan_emit_stamp(p, cfg, a->ctx, t, now_ns, (int64_t)(snap.duration_s * 1e9));
        conan_pprof_comment(p, "threads: %ld (libconan's monitor excluded), %ld stacks (%ld of blocked threads, "
                            "read without a signal), %ld blocking SIGPROF, %ld no answer within %d ms; "
                            "snapshot took %.1f ms", snap.threads, snap.stacks, snap.stacks_from_proc, snap.blocked,
                            snap.timed_out, cfg->threads.wait_ms, snap.duration_s * 1000.0);
        if (snap.why_no_stacks) conan_pprof_comment(p, "note: no stacks: %s", snap.why_no_stacks);
    }
    snap_ev.samples = snap.threads;
    snap_ev.dropped = snap.blocked + snap.timed_out;
    snap_ev.duration_s = snap.duration_s;
    snap_ev.note = snap.why_no_stacks;
    conan_emit_write(cfg, p, NULL, &snap_ev, conan_monotonic_seconds());
}

/* Opens a CPU window for trigger t, as long as it asks (an on-demand request
 * may), else cpu.profile_seconds. A failed attempt (dump_dir unusable, SIGPROF
 * taken by the program) is logged once per attempt and still counts as the
 * trigger having been handled: the rule's cooldown starts, so a persistent
 * problem costs one line per cooldown, not one per tick. */
static void open_cpu_window(struct conan_actions *a, const struct conan_trigger *t, double now_s)
{
    char why[256];
    int seconds = t->cpu_seconds > 0 ? t->cpu_seconds : a->cfg->cpu.profile_seconds;
    if (conan_dump_dir_ready(a->cfg) != 0) return;
    conan_recorder_hold(true); /* the stretch before the window stays whole */
    if (conan_cpu_start(a->cfg, seconds, why, sizeof why) != 0) {
        conan_recorder_hold(false);
        char because[300];
        snprintf(because, sizeof because, "no CPU window: %s", why);
        if (write_before_profile(a, t, because)) return;
        struct conan_event ev = { .kind = conan_kind_name(CONAN_KIND_CPU), .trigger = t, .file = "", .error = why };
        conan_dump_event(a->cfg, &ev);
        return;
    }
    a->window_wall_start_ns = conan_wall_nanos();
    a->window_end_s = now_s + seconds;
    if (a->cfg->wall.enable && conan_wall_start(a->cfg) != 0) {
        struct conan_event ev = { .kind = conan_kind_name(CONAN_KIND_WALL), .trigger = t, .file = "",
                                  .error = "no memory for the wall profile" };
        conan_dump_event(a->cfg, &ev);
    }
    a->window_trigger = *t;
    a->window_note = NULL;
    if (t->timeline) {
        conan_timeline_freeze(&a->window_timeline, t->timeline);
        a->window_trigger.timeline = &a->window_timeline;
    }
}

void conan_act_window_tick(struct conan_actions *a, const struct conan_tick *t)
{
    conan_timeline_extend(&a->window_timeline, t);
}


void conan_act(struct conan_actions *a, unsigned kinds, const struct conan_trigger *trigger, const char *note,
               double now_s)
{
    struct conan_trigger t = *trigger; /* with the story around it */
    t.timeline = a->timeline;
    t.at_s = now_s;
    if (kinds & CONAN_WANTS_HEAP) write_heap_profile(a, &t, note);
    if (kinds & CONAN_WANTS_THREADS) write_thread_profiles(a, &t);
    if (kinds & CONAN_WANTS_MUTEX) write_mutex_profile(a, &t);
    if (kinds & CONAN_WANTS_CPU)
        open_cpu_window(a, &t, now_s);
    else if (kinds & CONAN_WANTS_BEFORE)
        write_before_profile(a, &t, kinds & CONAN_WANTS_HEAP ? "a memory trip opens no CPU window"
                                                             : "no CPU window: CPU is at or above cpu.max");
}
