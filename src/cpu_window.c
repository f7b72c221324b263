/* cpu_window.c — opening and closing a CPU profiling window, on the monitor
 * thread (cold path; what runs in the SIGPROF handler is cpu_samples.c).
 *
 * By default every thread gets its own POSIX timer on its own CPU-time clock,
 * delivered to that thread (SIGEV_THREAD_ID): each thread is sampled in
 * proportion to the CPU it burns, and a timer whose signal is still queued
 * reports overruns instead of silently losing ticks. One process-wide
 * setitimer(ITIMER_PROF) is the fallback (config cpu.timer = "process", too many
 * threads, or per-thread timers refused by the kernel): cheaper to arm, but the
 * kernel picks which thread gets each signal and coalesces pending ones. That
 * process timer is a POSIX timer on the process CPU clock, which execve deletes
 * and which leaves the program's own ITIMER_PROF alone; setitimer(ITIMER_PROF)
 * is the last resort where even that is refused.
 *
 * SIGPROF is the program's if it already has a handler or an ITIMER_PROF; then
 * we log once and do not take it. After a window, timers are deleted, pending
 * signals are allowed to drain, and the previous disposition is restored — unless
 * a thread still has one pending (signals blocked), in which case our handler,
 * now a no-op, stays so that the stray signal cannot kill the process. */
#include "clock.h"
#include "config.h"
#include "cpu.h"
#include "log.h"
#include "procfs.h"
#include "sigprof.h"
#include "stack_walk.h"
#include "thread_registry.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* Kernel encoding of a thread's CPU clock (what pthread_getcpuclockid returns),
 * usable for any thread of our own process: ~tid << 3 | PERTHREAD(4) | SCHED(2). */
static clockid_t thread_cpu_clock(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid << 3) | 6);
}

#define BUFFER_CAPACITY_MAX 32768L      /* ~17 MiB of address space, touched only as used */
#define DRAIN_WAIT_MS 200               /* how long stop waits for queued SIGPROFs */

struct armed_thread {
    pid_t tid;
    bool has_timer;
    bool ended;                 /* gone: its timer released, its name kept for samples */
    timer_t timer;
    char name[16];
};

static struct {
    bool open;                      /* atomic: read by any thread through conan_cpu_window_open */
    enum conan_cpu_timer timer;
    bool process_posix;             /* process mode: POSIX timer (else setitimer) */
    timer_t process_timer;
    struct itimerval previous_itimer;
    long itimer_usec;               /* the setitimer period we armed, to recognise it */
    long hz;
    pid_t monitor_tid;
    struct armed_thread *thread;
    int nthread, thread_cap;
    int timer_cap;                  /* most thread timers this window may hold */
    int timers;                     /* thread timers held now */
    double started_s, started_cpu_s;
} win;

static int owned_once, fallback_once;

bool conan_cpu_window_open(void)
{
    return __atomic_load_n(&win.open, __ATOMIC_ACQUIRE);
}

static void set_open(bool open)
{
    __atomic_store_n(&win.open, open, __ATOMIC_RELEASE);
}

const char *conan_cpu_thread_name(pid_t tid)
{
    static char name[16];
    if (conan_task_file(tid, "comm", name, sizeof name) && name[0]) return name;
    if (conan_threads_ended_name(tid, name, sizeof name)) return name;
    for (int i = 0; i < win.nthread; i++)
        if (win.thread[i].tid == tid) return win.thread[i].name;
    return "";
}

static bool program_owns_sigprof(void)
{
    if (conan_sigprof_program_has_handler()) return true;
    struct itimerval it;
    return getitimer(ITIMER_PROF, &it) == 0 && (it.it_value.tv_sec || it.it_value.tv_usec);
}

/* Text of the dynamic loader, where samples are dropped (see cpu_samples.c). */
static bool take_loader_text(const struct conan_maps_entry *m, void *arg)
{
    uintptr_t *range = arg;
    if (m->perms[2] != 'x') return true;
    if (!strstr(m->path, "/ld-linux") && !strstr(m->path, "/ld-musl") && !strstr(m->path, "/ld64.so")) return true;
    range[0] = m->start;
    range[1] = m->end;
    return false;
}

static void find_loader_text(uintptr_t *start, uintptr_t *end)
{
    uintptr_t range[2] = { 0, 0 };
    conan_for_each_mapping(take_loader_text, range);
    *start = range[0];
    *end = range[1];
}

static bool thread_known(pid_t tid)
{
    for (int i = 0; i < win.nthread; i++)
        if (win.thread[i].tid == tid && !win.thread[i].ended) return true;
    return false;
}

static struct armed_thread *add_thread(pid_t tid)
{
    if (win.nthread == win.thread_cap) {
        int cap = win.thread_cap ? win.thread_cap * 2 : 64;
        struct armed_thread *grown = realloc(win.thread, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        win.thread = grown;
        win.thread_cap = cap;
    }
    struct armed_thread *t = &win.thread[win.nthread++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    conan_task_file(tid, "comm", t->name, sizeof t->name);
    return t;
}

static struct timespec period_of(long hz)
{
    long ns = 1000000000L / hz;
    return (struct timespec){ ns / 1000000000L, ns % 1000000000L };
}

/* Arms one thread's CPU-time timer. Returns 0, or an errno. */
static int arm_thread_timer(struct armed_thread *t)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGPROF;
    sev.sigev_value.sival_ptr = conan_cpu_timer_cookie();
    sev.sigev_notify_thread_id = t->tid;
    if (timer_create(thread_cpu_clock(t->tid), &sev, &t->timer) != 0) return errno;
    struct itimerspec spec = { .it_interval = period_of(win.hz), .it_value = period_of(win.hz) };
    if (timer_settime(t->timer, 0, &spec, NULL) != 0) {
        int err = errno;
        timer_delete(t->timer);
        return err;
    }
    t->has_timer = true;
    win.timers++;
    return 0;
}

struct arm_pass {
    int armed;
    int skipped_blocked;
    int first_error;    /* errno of the first refusal */
};

static void arm_new_thread(pid_t tid, void *arg)
{
    struct arm_pass *pass = arg;
    if (tid == win.monitor_tid || thread_known(tid)) return;
    if (win.timers >= win.timer_cap) return;      /* queued-signal budget spent */
    if (conan_sigprof_blocked_by(tid)) {
        pass->skipped_blocked++;
        return;
    }
    struct armed_thread *t = add_thread(tid);
    if (!t) return;
    int err = arm_thread_timer(t);
    if (err == 0)
        pass->armed++;
    else if (!pass->first_error && err != EINVAL) /* EINVAL: the thread just ended */
        pass->first_error = err;
}

static void count_unblocked(pid_t tid, void *arg)
{
    if (tid != win.monitor_tid && !conan_sigprof_blocked_by(tid)) (*(int *)arg)++;
}

static void delete_thread_timers(void)
{
    for (int i = 0; i < win.nthread; i++) {
        if (win.thread[i].has_timer) timer_delete(win.thread[i].timer);
        win.thread[i].has_timer = false;
    }
    win.timers = 0;
}

static int start_process_timer(void)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGPROF;
    sev.sigev_value.sival_ptr = conan_cpu_timer_cookie();
    struct itimerspec spec = { .it_interval = period_of(win.hz), .it_value = period_of(win.hz) };
    if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &win.process_timer) == 0) {
        if (timer_settime(win.process_timer, 0, &spec, NULL) == 0) {
            win.process_posix = true;
            return 0;
        }
        timer_delete(win.process_timer);
    }
    win.process_posix = false;
    long usec = 1000000L / win.hz;
    if (usec == 0) usec = 1;
    win.itimer_usec = usec;
    struct timeval tv = { usec / 1000000L, usec % 1000000L };
    struct itimerval it = { tv, tv };
    conan_cpu_expect_kernel_timer(true);
    return setitimer(ITIMER_PROF, &it, &win.previous_itimer);
}

static void stop_process_timer(void)
{
    conan_cpu_expect_kernel_timer(false);
    if (win.process_posix) {
        timer_delete(win.process_timer);
        win.process_posix = false;
        return;
    }
    /* Give ITIMER_PROF back only if it is still ours: the program may have
     * armed its own meanwhile. */
    struct itimerval now;
    if (getitimer(ITIMER_PROF, &now) == 0 &&
        now.it_interval.tv_sec * 1000000L + now.it_interval.tv_usec == win.itimer_usec)
        setitimer(ITIMER_PROF, &win.previous_itimer, NULL);
}

static int start_thread_timers(const struct conan_config *cfg, char *why, size_t why_len)
{
    int tasks = conan_for_each_task(NULL, NULL);
    if (tasks > cfg->cpu.thread_timer_limit) return -1; /* by configuration: not worth a log line */
    if (tasks < 0) {
        snprintf(why, why_len, "cannot list /proc/self/task");
        return -1;
    }
    /* Each POSIX timer holds a queued-signal slot charged to the user's
     * RLIMIT_SIGPENDING, which the program may need for its own signals:
     * use at most a quarter of it. */
    struct rlimit pending;
    win.timer_cap = cfg->cpu.thread_timer_limit;
    if (getrlimit(RLIMIT_SIGPENDING, &pending) == 0 && pending.rlim_cur != RLIM_INFINITY &&
        (rlim_t)win.timer_cap > pending.rlim_cur / 4)
        win.timer_cap = (int)(pending.rlim_cur / 4);
    if (tasks > win.timer_cap) return -1;
    struct arm_pass pass = { 0, 0, 0 };
    conan_for_each_task(arm_new_thread, &pass);
    if (pass.first_error) {
        snprintf(why, why_len, "per-thread CPU timers refused: %s", strerror(pass.first_error));
        delete_thread_timers();
        win.nthread = 0;
        return -1;
    }
    return 0;
}

/* At most hz samples per CPU-second, over the window plus slack. */
static long buffer_capacity(const struct conan_config *cfg, int seconds)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    long capacity = (long)cfg->cpu.hz * (seconds + 1) * cpus * 5 / 4 + 64;
    return capacity > BUFFER_CAPACITY_MAX ? BUFFER_CAPACITY_MAX : capacity;
}

static void disarm_and_drain(void);

int conan_cpu_start(const struct conan_config *cfg, int seconds, char *why, size_t why_len)
{
    why[0] = '\0';
    if (conan_cpu_window_open()) {
        snprintf(why, why_len, "a CPU window is already open");
        return -1;
    }
    if (program_owns_sigprof()) {
        conan_log_once(&owned_once, "the program uses SIGPROF or ITIMER_PROF itself; "
                                    "libconan will not take CPU profiles");
        snprintf(why, why_len, "the program owns SIGPROF");
        return -1;
    }
    conan_unwind_prepare();
    uintptr_t loader_start, loader_end;
    find_loader_text(&loader_start, &loader_end);
    if (conan_cpu_samples_open(buffer_capacity(cfg, seconds), loader_start, loader_end) != 0) {
        snprintf(why, why_len, "cannot map the sample buffer: %s", strerror(errno));
        return -1;
    }

    if (conan_sigprof_take() != 0) {
        snprintf(why, why_len, "sigaction(SIGPROF): %s", strerror(errno));
        conan_cpu_release();
        return -1;
    }

    win.hz = cfg->cpu.hz;
    win.monitor_tid = gettid();
    win.nthread = 0;
    win.timers = 0;
    win.started_s = conan_monotonic_seconds();
    win.started_cpu_s = conan_process_cpu_seconds();

    /* With SIGPROF blocked everywhere our signal could only stay pending, or be
     * taken by a sigwait loop of the program's: no window. */
    int unblocked = 0;
    conan_for_each_task(count_unblocked, &unblocked);
    if (unblocked == 0) {
        snprintf(why, why_len, "every thread blocks SIGPROF");
        conan_sigprof_give_back();
        conan_cpu_release();
        return -1;
    }

    win.timer = cfg->cpu.timer;
    if (win.timer == CONAN_TIMER_THREAD) {
        char fallback_why[160] = "";
        if (start_thread_timers(cfg, fallback_why, sizeof fallback_why) != 0) {
            if (fallback_why[0])
                conan_log_once(&fallback_once, "%s; using the process-wide timer", fallback_why);
            win.timer = CONAN_TIMER_PROCESS;
        }
    }
    if (win.timer == CONAN_TIMER_PROCESS && start_process_timer() != 0) {
        snprintf(why, why_len, "no CPU timer available: %s", strerror(errno));
        disarm_and_drain();
        conan_cpu_release();
        return -1;
    }
    set_open(true);
    return 0;
}

/* Threads that ended give their timer (and its queued-signal slot) back.
 * Live ones get their name read again: a thread armed as it starts often
 * names itself just after, and if it ends before the window does, the name
 * last read here is the one its samples carry. */
static void release_ended_threads(void)
{
    for (int i = 0; i < win.nthread; i++) {
        struct armed_thread *t = &win.thread[i];
        char name[sizeof t->name];
        if (t->ended) continue;
        if (conan_task_file(t->tid, "comm", name, sizeof name)) {
            memcpy(t->name, name, sizeof name);
            continue;
        }
        if (t->has_timer) {
            timer_delete(t->timer);
            win.timers--;
        }
        t->has_timer = false;
        t->ended = true;
    }
}

void conan_cpu_rescan_threads(void)
{
    if (!conan_cpu_window_open()) return;
    conan_unwind_refresh_tables(); /* libraries loaded during the window */
    if (win.timer != CONAN_TIMER_THREAD) return;
    release_ended_threads();
    struct arm_pass pass = { 0, 0, 0 };
    conan_for_each_task(arm_new_thread, &pass);
}

/* Ends sampling: closes the buffer, stops the timers, lets queued signals
 * arrive (they find the buffer closed and return) before SIGPROF is given back
 * — a stray SIGPROF meeting SIG_DFL would terminate the program — and waits
 * until no handler is running. After it, nothing touches the buffer. A signal
 * still pending after DRAIN_WAIT_MS keeps our (now no-op) handler installed
 * until it has been delivered (sigprof.c's give-back sees it pending; its
 * settle says so on stderr only if that lasts PENDING_LOG_S: a loaded machine
 * can leave a woken thread unscheduled for longer than DRAIN_WAIT_MS, which
 * is no news to the user). */
static void disarm_and_drain(void)
{
    conan_cpu_samples_stop();
    if (win.timer == CONAN_TIMER_THREAD)
        delete_thread_timers();
    else
        stop_process_timer();
    for (int waited = 0; waited < DRAIN_WAIT_MS && conan_sigprof_pending(); waited += 5)
        conan_sleep_ms(5);
    conan_sigprof_give_back();
    conan_cpu_samples_drain();
}

void conan_cpu_stop(struct conan_cpu_window *out)
{
    memset(out, 0, sizeof *out);
    if (!conan_cpu_window_open()) return;
    double stopped_s = conan_monotonic_seconds(), stopped_cpu_s = conan_process_cpu_seconds();
    disarm_and_drain();
    conan_cpu_samples_collect(out);
    out->timer = win.timer;
    out->threads_armed = win.timer == CONAN_TIMER_THREAD ? win.nthread : 0;
    out->duration_s = stopped_s - win.started_s;
    out->cpu_s = stopped_cpu_s - win.started_cpu_s;
    set_open(false);
}

void conan_cpu_release(void)
{
    if (conan_cpu_samples_free()) conan_unwind_release_retired();
    free(win.thread);
    win.thread = NULL;
    win.nthread = win.thread_cap = 0;
}

/* In the child of a fork, before its monitor starts: the parent's window, if
 * one was open, is forgotten. fork copies no timer, so there is nothing to
 * disarm, and the parent's timer ids are not deleted: in the child they could
 * name timers it creates itself. Handlers that were running in the parent's
 * other threads never finish here. Nothing of the parent's window is freed
 * (see cpu_samples.c's hook for its buffer). */
void conan_cpu_postfork_child(void)
{
    conan_cpu_samples_postfork_child();
    set_open(false);
    win.timers = 0;
    /* The parent's monitor may have been growing the thread table when the
     * process was copied (inside realloc): freeing it here could free it
     * twice. It is dropped, as thread_registry.c drops the parent's records. */
    win.thread = NULL;
    win.nthread = win.thread_cap = 0;
}
