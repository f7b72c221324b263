/* recorder.c — the flight recorder: a CPU sampler that runs all the time at
 * a low rate (recorder.hz, 19 by default: not a divisor of common timer
 * rates, so it does not beat with them) into a ring that holds the last
 * recorder.seconds, so that the CPU profile of a trigger can show what ran
 * before it (phase=before) beside what ran in its window (phase=during).
 * A rule sees a problem a tick or more after it began; a burst shorter than
 * that is over before any window opens, and only this ring saw it.
 *
 * Timers: a timer set of its own (cpu_timers.c) with the recorder's cookie:
 * one per thread on the thread's CPU clock, armed when the recorder starts;
 * a thread made by pthread_create arms its own as it starts (the registry's
 * trampoline calls conan_recorder_thread_start), so even a short thread is
 * sampled from its first instruction; threads made otherwise (raw clone)
 * are found by the tick's rescan, at most once a second, which also gives
 * ended threads' timers back. The set's table is shared by the monitor and starting
 * threads, under set_lock (never taken in signal context; a fork child
 * resets it). When there are more threads than cpu.thread_timer_limit, or
 * cpu.timer is "process", the process-wide
 * POSIX timer when there are more threads than cpu.thread_timer_limit or
 * cpu.timer is "process". SIGPROF is taken once (sigprof.c) and held for as
 * long as the recorder runs; the program's own SIGPROF use is virtualized
 * meanwhile like during a window, and the first tick that sees the program
 * holding SIGPROF or ITIMER_PROF stops the recorder for good (one line).
 *
 * The ring: max_mb caps it (mapped once, touched as used; never grows).
 * It has room for hz × seconds × online CPUs × 1.25 samples when that fits,
 * else fewer seconds of a busy process. A handler claims the next slot with
 * one atomic add and wraps over the oldest. Each slot has a sequence word:
 * 0 while it is being written, index + 1 once complete; a reader copies a
 * slot and keeps the copy only if the word was index + 1 before and after
 * (a seqlock), so a slot overwritten under the reader is skipped, never half
 * read. While a CPU window is open the recorder is held (conan_recorder_hold):
 * it records nothing, so the stretch before the window is still whole when
 * the window's profile is built.
 *
 * conan_recorder_on_signal runs in signal context under the rules of
 * cpu_samples.c: async-signal-safe calls only (clock_gettime, gettid, the
 * stack walk), no lock, no allocation; it writes only the slot it claimed.
 * Samples interrupted inside the dynamic loader are dropped, as there.
 *
 * Fork: the child gets no timer from fork and drops the parent's ring (it is
 * unmapped in the child, which has a single thread then); its own monitor
 * starts a recorder of its own. */
#include "recorder.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "cpu.h"
#include "cpu_timers.h"
#include "log.h"
#include "sigprof.h"
#include "stack_walk.h"

#define SLOTS_MIN 64
#define SIGPENDING_SHARE 8      /* its thread timers use at most 1/8 of RLIMIT_SIGPENDING */
#define DRAIN_WAIT_MS 1000      /* how long stopping waits for running handlers */
#define MIB (1024L * 1024L)
#define HOUSEKEEPING_S 1.0      /* the tick's rescan and table refresh, at most this often */

struct ring_slot {
    uint64_t seq;               /* atomic: 0 while written, index + 1 once complete */
    int64_t time_ns;            /* CLOCK_MONOTONIC when the signal arrived */
    struct conan_stack_slot s;
};

static struct {
    struct ring_slot *ring;     /* set once per process; never unmapped but in a fork child */
    size_t bytes;
    long capacity;
    uint64_t head;              /* atomic: slots handed out since the start */
    struct conan_gate gate;     /* open while recording */
    int running;                /* atomic */
    int held;                   /* atomic: a CPU window is open */
    bool thread_timers;         /* atomic (starting threads read it): else the process timer */
    bool leaked;                /* a handler never left: the ring must stay mapped */
    struct conan_timer_set set;  /* under set_lock */
    pthread_mutex_t set_lock;
    uintptr_t loader_start, loader_end;
    long hz;
    int seconds;
    double started_s;
    double housekept_s;         /* monitor: the tick's last rescan */
    long dropped_loader;        /* atomic */
} rec = { .set_lock = PTHREAD_MUTEX_INITIALIZER };

static bool thread_timers(void)
{
    return __atomic_load_n(&rec.thread_timers, __ATOMIC_RELAXED);
}

static void set_thread_timers(bool on)
{
    __atomic_store_n(&rec.thread_timers, on, __ATOMIC_RELAXED);
}

bool conan_recorder_running(void)
{
    return __atomic_load_n(&rec.running, __ATOMIC_ACQUIRE);
}

void conan_recorder_hold(bool held)
{
    __atomic_store_n(&rec.held, held, __ATOMIC_RELEASE);
}

const char *conan_recorder_thread_name(pid_t tid)
{
    static char name[16];
    pthread_mutex_lock(&rec.set_lock);
    const char *known = conan_timers_name(&rec.set, tid);
    if (known) memcpy(name, known, sizeof name);
    pthread_mutex_unlock(&rec.set_lock);
    return known ? name : NULL;
}

/* The thread may be cancelled before its start routine even runs: no
 * cancellation point may unwind it with the lock held. */
void conan_recorder_thread_start(void)
{
    if (!conan_recorder_running() || !thread_timers()) return;
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    pthread_mutex_lock(&rec.set_lock);
    if (conan_recorder_running() && thread_timers()) conan_timers_arm_self(&rec.set);
    pthread_mutex_unlock(&rec.set_lock);
    pthread_setcancelstate(cancel_state, NULL);
}

/* ---- signal context ---- */

static void record(const siginfo_t *info, void *ucontext)
{
    uintptr_t pc = conan_interrupted_pc(ucontext);
    if (pc >= rec.loader_start && pc < rec.loader_end) {
        __atomic_fetch_add(&rec.dropped_loader, 1, __ATOMIC_RELAXED);
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t index = __atomic_fetch_add(&rec.head, 1, __ATOMIC_RELAXED);
    struct ring_slot *r = &rec.ring[index % (uint64_t)rec.capacity];
    __atomic_store_n(&r->seq, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    r->time_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
    r->s.tid = gettid();
    r->s.weight = 1 + (info->si_overrun > 0 ? info->si_overrun : 0);
    r->s.generation = 0;
    conan_stack_slot_fill(&r->s, ucontext, true);
    __atomic_store_n(&r->seq, index + 1, __ATOMIC_RELEASE);
}

bool conan_recorder_on_signal(const siginfo_t *info, void *ucontext)
{
    if (info->si_code != SI_TIMER || info->si_value.sival_ptr != (void *)&rec) return false;
    if (conan_gate_enter(&rec.gate) && !__atomic_load_n(&rec.held, __ATOMIC_RELAXED)) record(info, ucontext);
    conan_gate_leave(&rec.gate);
    return true;
}

/* ---- the monitor ---- */

static long ring_capacity(const struct conan_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    long wanted = (long)cfg->recorder.hz * cfg->recorder.seconds * cpus * 5 / 4 + SLOTS_MIN;
    long room = (long)cfg->recorder.max_mb * MIB / (long)sizeof(struct ring_slot);
    return wanted < room ? wanted : room;
}

static int map_ring(const struct conan_config *cfg)
{
    if (rec.ring) return 0; /* a restart after a stop reuses it */
    long capacity = ring_capacity(cfg);
    size_t bytes = (size_t)capacity * sizeof(struct ring_slot);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    rec.capacity = capacity;
    rec.bytes = bytes;
    __atomic_store_n(&rec.ring, (struct ring_slot *)mem, __ATOMIC_RELEASE);
    return 0;
}

static void stop_recording(void)
{
    if (!conan_recorder_running()) return;
    __atomic_store_n(&rec.running, 0, __ATOMIC_RELEASE);
    conan_gate_close(&rec.gate);
    pthread_mutex_lock(&rec.set_lock);
    conan_timers_delete(&rec.set);      /* names stay for profiles built later */
    conan_timers_disarm_process(&rec.set);
    pthread_mutex_unlock(&rec.set_lock);
    conan_sigprof_give_back();
    if (!conan_gate_drain(&rec.gate, DRAIN_WAIT_MS)) rec.leaked = true;
}

/* The process-wide timer, when it is the recorder's: armed while some thread
 * (the monitor aside) takes SIGPROF; with every thread blocking it, its
 * signal would stay pending or be taken by the program's sigwait, so it is
 * disarmed until one does not. Stops the recorder if it cannot be armed. */
static void keep_process_timer(void)
{
    static int no_timer_once;
    if (!conan_recorder_running() || thread_timers()) return;
    bool wanted = conan_timers_some_thread_open(rec.set.monitor_tid);
    if (!wanted) {
        conan_timers_disarm_process(&rec.set);
        return;
    }
    if (rec.set.process_armed || conan_timers_arm_process(&rec.set) == 0) return;
    conan_log_once(&no_timer_once, "flight recorder: no CPU timer available: %s; it stops", strerror(errno));
    stop_recording();
}

/* A program that ignores SIGPROF passes SIG_IGN on to what it executes;
 * while our handler is installed for real it would pass SIG_DFL instead.
 * Windows are short and accept that (docs/SAFETY.md); the recorder, which
 * would hold SIGPROF for the program's whole life, stays off instead. */
static bool program_ignores_sigprof(void)
{
    static int ignored_once;
    if (!conan_sigprof_program_ignores()) return false;
    conan_log_once(&ignored_once, "the program ignores SIGPROF; the flight recorder stays off, so that what it "
                                  "executes inherits SIG_IGN");
    return true;
}

void conan_recorder_start(const struct conan_config *cfg)
{
    static int map_once, take_once, fallback_once;
    /* cpu.enable false: no CPU profile is ever written, so nothing to record for */
    if (!cfg->recorder.enable || !cfg->cpu.rule.enable || conan_recorder_running()) return;
    if (conan_cpu_program_owns_sigprof()) return; /* said once, for the windows too */
    if (program_ignores_sigprof()) return;
    conan_unwind_prepare();
    if (map_ring(cfg) != 0) {
        conan_log_once(&map_once, "cannot map the flight recorder's ring (recorder.max_mb %d): %s; it stays off",
                       cfg->recorder.max_mb, strerror(errno));
        return;
    }
    conan_cpu_loader_text(&rec.loader_start, &rec.loader_end);
    if (conan_sigprof_take() != 0) {
        conan_log_once(&take_once, "flight recorder: sigaction(SIGPROF): %s; it stays off", strerror(errno));
        return;
    }
    rec.hz = cfg->recorder.hz;
    rec.seconds = cfg->recorder.seconds;
    rec.started_s = rec.housekept_s = conan_monotonic_seconds();
    pthread_mutex_lock(&rec.set_lock);
    conan_timers_init(&rec.set, &rec, rec.hz);
    conan_gate_open(&rec.gate, 1);
    char why[160] = "";
    set_thread_timers(cfg->cpu.timer == CONAN_TIMER_THREAD &&
                      conan_timers_arm_threads(&rec.set, cfg->cpu.thread_timer_limit, SIGPENDING_SHARE, why,
                                               sizeof why) == 0);
    __atomic_store_n(&rec.running, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&rec.set_lock);
    if (!thread_timers() && why[0])
        conan_log_once(&fallback_once, "flight recorder: %s; using the process-wide timer", why);
    /* The process timer waits for the first tick: a program that blocks
     * SIGPROF in main to sigwait for it has done so by then. */
}

/* Arms threads born since (raw clone: pthread_create's arm themselves) and
 * gives ended threads' timers back; above the cap, the process timer. */
static void rescan(void)
{
    static int switched_once;
    if (!conan_recorder_running() || !thread_timers()) return;
    pthread_mutex_lock(&rec.set_lock);
    bool over_cap = thread_timers() && conan_timers_rescan(&rec.set) > 0;
    if (over_cap) {
        conan_timers_delete(&rec.set);
        set_thread_timers(false);
    }
    pthread_mutex_unlock(&rec.set_lock);
    if (!over_cap) return;
    conan_log_once(&switched_once, "flight recorder: more threads than its timer cap (%d); using the process-wide "
                   "timer", rec.set.timer_cap);
    keep_process_timer();
}

void conan_recorder_tick(void)
{
    if (!conan_recorder_running()) return;
    /* During a window the window's own last-resort setitimer would look like
     * the program's ITIMER_PROF: look again after it. The line saying so is
     * conan_cpu_program_owns_sigprof's; what was recorded until now is kept
     * for the next profiles. */
    if (!conan_cpu_window_open() && (conan_cpu_program_owns_sigprof() || program_ignores_sigprof())) {
        stop_recording();
        return;
    }
    /* Every tick: a process timer whose signal every thread now blocks
     * would be taken by the program's sigwait. */
    keep_process_timer();
    /* The rest reads /proc/self/task and the loader's list: at most once a
     * second, whatever interval_ms is (threads made by pthread_create arm
     * themselves). */
    double now_s = conan_monotonic_seconds();
    if (now_s < rec.housekept_s + HOUSEKEEPING_S) return;
    rec.housekept_s = now_s;
    conan_unwind_refresh_tables(); /* libraries loaded since */
    conan_unwind_release_retired();
    rescan();
}

/* More threads than the set may arm: the process timer takes over, so no
 * thread goes unsampled (the kernel then picks the thread of each signal). */

void conan_recorder_stop(void)
{
    stop_recording();
}

/* Copies slot index of the ring into out if it is complete and was not
 * overwritten meanwhile. Handlers may be writing other slots, or this one:
 * the copy is checked, not the read, so the sanitizers are told to look away. */
__attribute__((no_sanitize_thread))
static bool copy_slot(const struct ring_slot *ring, uint64_t index, struct conan_stack_slot *out, int64_t *time_ns)
{
    const struct ring_slot *r = &ring[index % (uint64_t)rec.capacity];
    uint64_t seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
    if (seq != index + 1) return false;
    *time_ns = r->time_ns;
    memcpy(out, &r->s, sizeof *out);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&r->seq, __ATOMIC_RELAXED) == seq && out->depth > 0;
}

bool conan_recorder_each(double until_s, void (*fn)(const struct conan_stack_slot *s, void *arg), void *arg,
                         struct conan_recorder_span *out)
{
    memset(out, 0, sizeof *out);
    const struct ring_slot *ring = __atomic_load_n(&rec.ring, __ATOMIC_ACQUIRE);
    if (!ring || rec.started_s == 0) return false;
    out->hz = rec.hz;
    out->capacity = rec.capacity;
    out->ring_bytes = rec.bytes;
    double from_s = until_s - rec.seconds;
    if (from_s < rec.started_s) from_s = rec.started_s;
    uint64_t head = __atomic_load_n(&rec.head, __ATOMIC_ACQUIRE);
    uint64_t first = head > (uint64_t)rec.capacity ? head - (uint64_t)rec.capacity : 0;
    bool oldest_seen = first == 0; /* the ring never wrapped: it holds everything since the start */
    for (uint64_t i = first; i < head; i++) {
        struct conan_stack_slot s;
        int64_t time_ns;
        if (!copy_slot(ring, i, &s, &time_ns)) continue;
        double t = (double)time_ns / 1e9;
        if (!oldest_seen) {
            oldest_seen = true; /* wrapped: the ring reaches back only this far */
            if (t > from_s) from_s = t;
        }
        if (t < from_s || t >= until_s) continue;
        out->samples += s.weight;
        out->stacks++;
        fn(&s, arg);
    }
    out->from_s = from_s;
    out->to_s = until_s > from_s ? until_s : from_s;
    return true;
}

void conan_recorder_postfork_child(void)
{
    conan_gate_reset(&rec.gate);
    __atomic_store_n(&rec.running, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&rec.held, 0, __ATOMIC_RELAXED);
    pthread_mutex_init(&rec.set_lock, NULL); /* the parent's monitor may have held it */
    conan_timers_postfork_child(&rec.set);
    struct ring_slot *ring = __atomic_load_n(&rec.ring, __ATOMIC_ACQUIRE);
    if (ring && !rec.leaked) munmap(ring, rec.bytes);
    rec.ring = NULL;
    rec.capacity = 0;
    rec.bytes = 0;
    rec.head = 0;
    rec.started_s = 0;
    rec.leaked = false;
    rec.dropped_loader = 0;
}
