/* monitor.c — the monitor thread: the engine's clock. It starts and stops
 * with the program (and in a forked child), steps aside for calls that need a
 * single-threaded process, and on each tick reads the collectors and hands
 * the readings to the decisions (decide.c), whose actions (actions.c) write
 * profiles or open a CPU window. While a window is open it also wakes every
 * RESCAN_MS to arm timers for new threads and to close the window on time,
 * and at each round of the wall profile's sampler (wall.c).
 * Everything slow — aggregating, symbolizing, encoding, writing — happens on
 * this thread, never in signal context.
 *
 * The thread is named conan-monitor and runs with every signal blocked, so the
 * program's signals are never delivered to it. It sleeps on a futex word that
 * conan_monitor_request and conan_monitor_stop set: no file descriptor, so a
 * program that closes descriptors it did not open cannot disturb it. */
#include "monitor.h"

#include <errno.h>
#include <math.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "actions.h"
#include "agent_spawn.h"
#include "clock.h"
#include "context.h"
#include "cpu.h"
#include "decide.h"
#include "fork.h"
#include "heap.h"
#include "mutex.h"
#include "log.h"
#include "metrics.h"
#include "pressure.h"
#include "recorder.h"
#include "procfs.h"
#include "sigprof.h"
#include "stack_walk.h"
#include "stuck.h"
#include "thread_registry.h"
#include "timeline.h"
#include "wall.h"

#define RESCAN_MS 100          /* new-thread scan and window-end granularity */
#define LIMITS_REFRESH_S 5.0   /* how often quota, affinity and online CPUs are re-read */
#define STOP_WAIT_MS 200       /* longest the program's exit waits for us */
#define PAUSE_WAIT_MS 1000     /* longest an unshare/setns waits for us */
#define MIB (1024.0 * 1024.0)

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
    int thread_event;          /* atomic: a thread started or ended during a window */
    int poked;                 /* atomic: check whether we are the last thread */

    struct conan_decider decider;
    struct conan_actions act;
    struct conan_cpu_meter meter;
    struct conan_mutex_meter mutex_meter;
    struct conan_throttle_meter throttle;
    struct conan_psi_meter psi;
    struct conan_stuck_report stuck;
    struct conan_timeline timeline;
    double next_tick_s, started_wall_s;
    double next_rescan_s;      /* during a window: when new threads are next looked for */
    double usable_cpus, limits_read_s;
    pid_t pid;
    bool keep_context;         /* a restart in a forked child: the context is the parent's */
} mon;

static bool monitor_running(void) { return __atomic_load_n(&mon.running, __ATOMIC_ACQUIRE); }
static void set_monitor_running(bool on) { __atomic_store_n(&mon.running, on, __ATOMIC_RELEASE); }

/* ---- decisions, carried out ---- */

static void act(void *arg, unsigned kinds, const struct conan_trigger *t, const char *note, double now_s)
{
    (void)arg;
    conan_act(&mon.act, kinds, t, note, now_s);
}

static bool window_open(void *arg)
{
    (void)arg;
    return conan_cpu_window_open();
}

static void close_window(void *arg, const char *note)
{
    (void)arg;
    conan_act_close_window(&mon.act, note);
}

static const struct conan_decide_ops ops = { .act = act, .window_open = window_open, .close_window = close_window };

/* ---- a tick: read the collectors, decide ---- */

/* The tick as the timeline keeps it: what the rules are about to see. */
static void record_tick(double now_s, const struct conan_readings *r, const struct conan_process_stat *st,
                        double throttled_s)
{
    struct conan_tick t = {
        .mono_s = now_s,
        .wall_s = conan_wall_seconds(),
        .cpu_percent = r->cpu_percent,
        .rss_mib = st->rss_bytes / MIB,
        .heap_mib = mon.cfg.heap.rule.enable ? r->heap_mib : NAN,
        .threads = st->threads > 0 ? (double)st->threads - 1 : NAN, /* the monitor excluded */
        .throttled_percent = r->throttle_available ? r->throttle_percent : NAN,
        .throttled_s = r->throttle_available ? throttled_s : NAN,
        .stuck = r->stuck ? r->stuck->n : NAN,
    };
    for (int i = 0; i < CONAN_PSI_COUNT; i++)
        t.pressure[i] = r->pressure_available[i] ? r->pressure_percent[i] : NAN;
    conan_timeline_add(&mon.timeline, &t);
    if (conan_cpu_window_open()) conan_act_window_tick(&mon.act, &t);
}

static void tick(double now_s, const struct conan_process_stat *st)
{
    const struct conan_cgroup *cg = mon.ctx.have_cgroup ? &mon.ctx.cgroup : NULL;
    if (now_s - mon.limits_read_s >= LIMITS_REFRESH_S || mon.usable_cpus <= 0) {
        const char *source;
        mon.usable_cpus = conan_usable_cpus(cg, &source);
        mon.act.memory_limit = conan_memory_limit_bytes(cg, &mon.act.memory_limit_source);
        conan_throttle_meter_refresh(&mon.throttle, cg); /* a quota set or moved since */
        mon.limits_read_s = now_s;
    }
    struct conan_readings r = { .threads = st->threads, .heap_sampling = conan_heap_sampling() };
    r.cpu_percent = conan_cpu_meter_percent(&mon.meter, mon.usable_cpus);
    if (mon.cfg.memory.rule.enable && mon.act.memory_limit > 0)
        r.rss_percent = st->rss_bytes / mon.act.memory_limit * 100.0; /* read only for a rule that is on */
    if (mon.cfg.heap.rule.enable) {
        const char *source;
        r.heap_mib = conan_heap_in_use_bytes(&source) / MIB;
    }
    double throttled_s = 0;
    r.throttle_available = conan_throttle_meter_read(&mon.throttle, &r.throttle_percent, &throttled_s);
    conan_psi_meter_read(&mon.psi, now_s, r.pressure_percent, r.pressure_available);
    r.mutex_available = conan_mutex_enabled();
    if (r.mutex_available) r.mutex_wait_percent = conan_mutex_meter_percent(&mon.mutex_meter);
    if (mon.cfg.stuck.enable) {
        conan_stuck_check(&mon.cfg, now_s, &mon.stuck);
        r.stuck = &mon.stuck;
    }
    record_tick(now_s, &r, st, throttled_s);
    conan_decide_tick(&mon.decider, now_s, &r);
    if (mon.decider.stuck_acted) conan_stuck_reported(&mon.stuck);
    conan_recorder_tick();
    conan_sigprof_settle(); /* SIGPROF back to the program once late signals of ours have arrived */
    /* Objects loaded since the last tick become unwindable for heap samples. */
    if (conan_heap_sampling()) {
        conan_unwind_refresh_tables();
        conan_unwind_release_retired();
    }
    struct conan_request req;
    if (conan_trigger_file_present(&mon.decider, conan_wall_seconds(), &req))
        conan_decide_request(&mon.decider, now_s, conan_heap_sampling(), &req);
}

/* The meters of what the container suffers, and a new timeline and stuck
 * watch: at start and in a forked child (its own process, its own story). */
static void open_meters(void)
{
    const struct conan_cgroup *cg = mon.ctx.have_cgroup ? &mon.ctx.cgroup : NULL;
    conan_throttle_meter_open(&mon.throttle, cg);
    conan_throttle_meter_read(&mon.throttle, &(double){ 0 }, &(double){ 0 }); /* prime */
    const struct conan_config *cfg = &mon.cfg;
    bool pressure_wanted = cfg->pressure.cpu.enable || cfg->pressure.memory.enable || cfg->pressure.io.enable;
    int files = conan_psi_meter_open(&mon.psi, cg, cfg->pressure.host, "");
    double unused[CONAN_PSI_COUNT];
    bool unused_available[CONAN_PSI_COUNT];
    conan_psi_meter_read(&mon.psi, conan_monotonic_seconds(), unused, unused_available); /* prime */
    /* A kernel without PSI, where the config expects it (a cgroup v2 host, or
     * pressure.host): said once. A cgroup v1 host without pressure.host is
     * the documented default, not worth a line. */
    static int no_psi_once;
    bool expected = cfg->pressure.host || (cg && cg->v2_dir[0]);
    if (pressure_wanted && files == 0 && expected && access("/proc/pressure", F_OK) != 0)
        conan_log_once(&no_psi_once, "pressure rules unavailable: this kernel has no pressure stall information "
                                     "(/proc/pressure is missing; PSI needs CONFIG_PSI and psi=1)");
    conan_timeline_reset(&mon.timeline, cfg->timeline.ticks);
    mon.act.timeline = &mon.timeline;
    conan_stuck_reset();
    memset(&mon.stuck, 0, sizeof mon.stuck);
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
    conan_mutex_exempt_this_thread(); /* nor its lock waits */
    conan_sigprof_thread_blocks_every_signal(); /* created with every signal blocked */
    double now_s = conan_monotonic_seconds();
    conan_cpu_meter_percent(&mon.meter, 1); /* prime */
    open_meters();
    mon.next_tick_s = now_s + interval_s;
    conan_decider_reset(&mon.decider, &mon.cfg, &ops, now_s, mon.started_wall_s, mon.pid);
    conan_agent_spawn_start(&mon.cfg);
    conan_recorder_start(&mon.cfg);

    while (!__atomic_load_n(&mon.stop, __ATOMIC_ACQUIRE)) {
        double deadline = mon.next_tick_s;
        if (conan_cpu_window_open()) {
            double rescan = conan_monotonic_seconds() + RESCAN_MS / 1000.0;
            if (rescan < deadline) deadline = rescan;
            if (mon.act.window_end_s < deadline) deadline = mon.act.window_end_s;
            if (conan_wall_active() && conan_wall_next_round_s() < deadline) deadline = conan_wall_next_round_s();
        }
        deadline = conan_decide_next_deadline(&mon.decider, deadline);
        /* main has left: look often whether the program's last thread has too */
        if (conan_threads_main_exited() && conan_monotonic_seconds() + 0.05 < deadline)
            deadline = conan_monotonic_seconds() + 0.05;
        __atomic_store_n(&mon.busy, 0, __ATOMIC_SEQ_CST);
        wait_until(deadline);
        __atomic_store_n(&mon.busy, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&mon.stop, __ATOMIC_SEQ_CST)) break;
        now_s = conan_monotonic_seconds();

        if (conan_cpu_window_open()) {
            bool thread_event = __atomic_exchange_n(&mon.thread_event, 0, __ATOMIC_RELAXED);
            if (now_s >= mon.act.window_end_s) {
                conan_act_close_window(&mon.act, NULL);
            } else {
                if (conan_wall_active() && now_s >= conan_wall_next_round_s()) conan_wall_round(now_s);
                if (thread_event || now_s >= mon.next_rescan_s) { /* not at every wall round */
                    conan_cpu_rescan_threads();
                    mon.next_rescan_s = now_s + RESCAN_MS / 1000.0;
                }
            }
        }
        if (__atomic_exchange_n(&mon.requested, 0, __ATOMIC_ACQ_REL))
            conan_decide_request(&mon.decider, now_s, conan_heap_sampling(), NULL); /* the API: every kind */
        conan_decide_pending(&mon.decider, now_s, conan_heap_sampling());
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
            conan_agent_spawn_tick(&mon.cfg);
            mon.next_tick_s += interval_s;
            if (mon.next_tick_s < now_s) mon.next_tick_s = now_s + interval_s; /* we fell behind */
        }
    }
    /* The program is exiting mid-window: keep what was sampled. The exit path
     * waits at most STOP_WAIT_MS for this; a write cut short by the process
     * ending leaves only a hidden temporary file, which pruning removes. */
    if (conan_cpu_window_open()) conan_act_close_window(&mon.act, mon.stop_note);
    conan_recorder_stop();
    if (!__atomic_load_n(&mon.stop, __ATOMIC_ACQUIRE)) set_monitor_running(false); /* we left on our own */
    return NULL;
}

/* The child of a fork has no monitor thread: it must not accept requests no
 * one will serve, nor keep sampling into its copy of the buffer, nor try to
 * join a thread it does not have. It stays inert until conan_monitor_after_fork
 * starts a monitor of its own: not here, because the handlers of the libraries
 * behind us (the allocator's among them) may not have run yet. */
static bool forked;     /* this is a child of fork and its parent had a monitor */

void conan_monitor_postfork_child(void)
{
    conan_heap_stop();
    conan_mutex_stop();
    forked = monitor_running();
    set_monitor_running(false);
}

void conan_monitor_after_fork(void)
{
    if (!forked) return;
    forked = false;
    if (!mon.cfg.follow_fork) return;
    conan_cpu_postfork_child();
    /* A new process: nothing of the parent's schedule, requests or spending
     * (the decider starts afresh with the thread). */
    mon.act.window_note = mon.stop_note = NULL;
    __atomic_store_n(&mon.requested, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.thread_event, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.poked, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.stop, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&mon.wake_word, 0, __ATOMIC_RELAXED);
    memset(&mon.meter, 0, sizeof mon.meter);
    memset(&mon.mutex_meter, 0, sizeof mon.mutex_meter);
    mon.keep_context = true; /* same executable, host and cgroup as the parent */
    conan_monitor_start(&mon.cfg);
}

int conan_monitor_start(const struct conan_config *cfg)
{
    if (monitor_running()) return 0;
    conan_fork_init();
    if (cfg != &mon.cfg) mon.cfg = *cfg;
    if (!mon.keep_context) conan_context_collect(&mon.ctx);
    mon.keep_context = false;
    mon.act.cfg = &mon.cfg;
    mon.act.ctx = &mon.ctx;
    mon.started_wall_s = conan_wall_seconds();
    mon.pid = getpid();
    conan_agent_spawn_prepare(&mon.cfg); /* before the monitor thread exists */
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
    conan_mutex_start(&mon.cfg);
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
    if (!monitor_running() || !conan_cpu_samples_active()) return;
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
    conan_cpu_samples_stop();
    conan_heap_stop();
    conan_mutex_stop();
    __atomic_store_n(&mon.stop, 1, __ATOMIC_SEQ_CST);
    wake();
    if (!must_join && !__atomic_load_n(&mon.busy, __ATOMIC_SEQ_CST) && !conan_cpu_window_open()) {
        set_monitor_running(false); /* it will only see the flag and leave */
        return;
    }
    struct timespec deadline = conan_clock_read(CLOCK_REALTIME);
    deadline.tv_nsec += wait_ms * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    if (pthread_timedjoin_np(mon.thread, NULL, &deadline) == 0) set_monitor_running(false);
}
