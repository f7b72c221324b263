/* cpu_window.c — opening and closing a CPU profiling window, on the monitor
 * thread (cold path; what runs in the SIGPROF handler is cpu_samples.c).
 *
 * By default every thread gets its own POSIX timer on its own CPU-time clock,
 * delivered to that thread (the timer set of cpu_timers.c): each thread is
 * sampled in proportion to the CPU it burns. One process-wide
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
#include "cpu_timers.h"
#include "log.h"
#include "recorder.h"
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

#define BUFFER_CAPACITY_MAX 32768L      /* ~17 MiB of address space, touched only as used */
#define DRAIN_WAIT_MS 200               /* how long stop waits for queued SIGPROFs */
#define SIGPENDING_SHARE 4              /* thread timers use at most 1/4 of RLIMIT_SIGPENDING */

static struct {
    bool open;                      /* atomic: read by any thread through conan_cpu_window_open */
    enum conan_cpu_timer timer;
    struct conan_timer_set set;     /* thread timers, or the process POSIX timer */
    struct itimerval previous_itimer;
    long itimer_usec;               /* the setitimer period we armed, to recognise it */
    bool itimer;                    /* setitimer is running (the last resort) */
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
    const char *known = conan_timers_name(&win.set, tid);
    if (!known) known = conan_recorder_thread_name(tid);
    return known ? known : "";
}

bool conan_cpu_program_owns_sigprof(void)
{
    bool owned = conan_sigprof_program_has_handler();
    struct itimerval it;
    if (!owned) owned = getitimer(ITIMER_PROF, &it) == 0 && (it.it_value.tv_sec || it.it_value.tv_usec);
    if (owned)
        conan_log_once(&owned_once, "the program uses SIGPROF or ITIMER_PROF itself; "
                                    "libconan will not take CPU profiles");
    return owned;
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

void conan_cpu_loader_text(uintptr_t *start, uintptr_t *end)
{
    uintptr_t range[2] = { 0, 0 };
    conan_for_each_mapping(take_loader_text, range);
    *start = range[0];
    *end = range[1];
}

/* The last resort: setitimer(ITIMER_PROF), whose signals carry no cookie. */
static int start_itimer(void)
{
    long usec = 1000000L / win.set.hz;
    if (usec == 0) usec = 1;
    win.itimer_usec = usec;
    struct timeval tv = { usec / 1000000L, usec % 1000000L };
    struct itimerval it = { tv, tv };
    conan_cpu_expect_kernel_timer(true);
    if (setitimer(ITIMER_PROF, &it, &win.previous_itimer) != 0) {
        conan_cpu_expect_kernel_timer(false);
        return -1;
    }
    win.itimer = true;
    return 0;
}

static void stop_process_timer(void)
{
    conan_timers_disarm_process(&win.set);
    if (!win.itimer) return;
    conan_cpu_expect_kernel_timer(false);
    win.itimer = false;
    /* Give ITIMER_PROF back only if it is still ours: the program may have
     * armed its own meanwhile. */
    struct itimerval now;
    if (getitimer(ITIMER_PROF, &now) == 0 &&
        now.it_interval.tv_sec * 1000000L + now.it_interval.tv_usec == win.itimer_usec)
        setitimer(ITIMER_PROF, &win.previous_itimer, NULL);
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
    if (conan_cpu_program_owns_sigprof()) {
        snprintf(why, why_len, "the program owns SIGPROF");
        return -1;
    }
    conan_unwind_prepare();
    uintptr_t loader_start, loader_end;
    conan_cpu_loader_text(&loader_start, &loader_end);
    if (conan_cpu_samples_open(buffer_capacity(cfg, seconds), loader_start, loader_end) != 0) {
        snprintf(why, why_len, "cannot map the sample buffer: %s", strerror(errno));
        return -1;
    }

    if (conan_sigprof_take() != 0) {
        snprintf(why, why_len, "sigaction(SIGPROF): %s", strerror(errno));
        conan_cpu_release();
        return -1;
    }

    conan_timers_init(&win.set, conan_cpu_timer_cookie(), cfg->cpu.hz);
    win.set.keep_names_fresh = true; /* a thread armed as it starts often names itself just after */
    win.started_s = conan_monotonic_seconds();
    win.started_cpu_s = conan_process_cpu_seconds();

    /* With SIGPROF blocked everywhere our signal could only stay pending, or be
     * taken by a sigwait loop of the program's: no window. */
    if (!conan_timers_some_thread_open(win.set.monitor_tid)) {
        snprintf(why, why_len, "every thread blocks SIGPROF");
        conan_sigprof_give_back();
        conan_cpu_release();
        return -1;
    }

    win.timer = cfg->cpu.timer;
    if (win.timer == CONAN_TIMER_THREAD) {
        char fallback_why[160] = "";
        if (conan_timers_arm_threads(&win.set, cfg->cpu.thread_timer_limit, SIGPENDING_SHARE, fallback_why,
                                     sizeof fallback_why) != 0) {
            if (fallback_why[0])
                conan_log_once(&fallback_once, "%s; using the process-wide timer", fallback_why);
            win.timer = CONAN_TIMER_PROCESS;
        }
    }
    if (win.timer == CONAN_TIMER_PROCESS && conan_timers_arm_process(&win.set) != 0 && start_itimer() != 0) {
        snprintf(why, why_len, "no CPU timer available: %s", strerror(errno));
        disarm_and_drain();
        conan_cpu_release();
        return -1;
    }
    set_open(true);
    return 0;
}

void conan_cpu_rescan_threads(void)
{
    if (!conan_cpu_window_open()) return;
    conan_unwind_refresh_tables(); /* libraries loaded during the window */
    if (win.timer == CONAN_TIMER_THREAD) conan_timers_rescan(&win.set);
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
    conan_timers_delete(&win.set);
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
    out->threads_armed = win.timer == CONAN_TIMER_THREAD ? win.set.nthread : 0;
    out->started_s = win.started_s;
    out->duration_s = stopped_s - win.started_s;
    out->cpu_s = stopped_cpu_s - win.started_cpu_s;
    set_open(false);
}

void conan_cpu_release(void)
{
    if (conan_cpu_samples_free()) conan_unwind_release_retired();
    conan_timers_free(&win.set);
}

/* In the child of a fork, before its monitor starts: the parent's window, if
 * one was open, is forgotten. fork copies no timer, so there is nothing to
 * disarm, and the parent's timer ids are not deleted: in the child they could
 * name timers it creates itself. Handlers that were running in the parent's
 * other threads never finish here. Nothing of the parent's window is freed
 * (see cpu_samples.c's hook for its buffer; the thread table is dropped as
 * thread_registry.c drops the parent's records: the parent's monitor may
 * have been growing it, inside realloc, when the process was copied). */
void conan_cpu_postfork_child(void)
{
    conan_cpu_samples_postfork_child();
    set_open(false);
    win.itimer = false;
    conan_timers_postfork_child(&win.set);
}
