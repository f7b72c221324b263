/* cpu_timers.c — sets of CPU-time timers that send SIGPROF: the per-thread
 * timers and the process-wide POSIX timer behind the CPU window
 * (cpu_window.c) and the flight recorder (recorder.c). Monitor thread only.
 *
 * A thread timer runs on the thread's own CPU clock and is delivered to that
 * thread (SIGEV_THREAD_ID): each thread is sampled in proportion to the CPU
 * it burns, and a timer whose signal is still queued reports overruns instead
 * of silently losing ticks; its first expiry is random within a period
 * (first_expiry). Every timer of a set carries the set's cookie, so
 * the SIGPROF handler tells whose signal it is by siginfo alone.
 *
 * A thread that blocks SIGPROF, or waits for it in sigwait, would keep our
 * signal pending or take it: it gets no timer. A thread that ended keeps its
 * name here (its samples are aggregated after it is gone) and gives its timer
 * back, with the queued-signal slot it holds. */
#include "cpu_timers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "procfs.h"
#include "sigprof.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* Kernel encoding of a thread's CPU clock (what pthread_getcpuclockid returns),
 * usable for any thread of our own process: ~tid << 3 | PERTHREAD(4) | SCHED(2). */
static clockid_t thread_cpu_clock(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid << 3) | 6);
}

static struct timespec period_of(long hz)
{
    long ns = 1000000000L / hz;
    return (struct timespec){ ns / 1000000000L, ns % 1000000000L };
}

void conan_timers_init(struct conan_timer_set *s, void *cookie, long hz)
{
    memset(s, 0, sizeof *s);
    s->cookie = cookie;
    s->hz = hz;
    s->monitor_tid = gettid();
}

static bool thread_known(const struct conan_timer_set *s, pid_t tid)
{
    for (int i = 0; i < s->nthread; i++)
        if (s->thread[i].tid == tid && !s->thread[i].ended) return true;
    return false;
}

static struct conan_armed_thread *add_slot(struct conan_timer_set *s, pid_t tid)
{
    if (s->nthread == s->thread_cap) {
        int cap = s->thread_cap ? s->thread_cap * 2 : 64;
        struct conan_armed_thread *grown = realloc(s->thread, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        s->thread = grown;
        s->thread_cap = cap;
    }
    struct conan_armed_thread *t = &s->thread[s->nthread++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

static struct conan_armed_thread *add_thread(struct conan_timer_set *s, pid_t tid)
{
    struct conan_armed_thread *t = add_slot(s, tid);
    if (t) conan_task_file(tid, "comm", t->name, sizeof t->name);
    return t;
}

static struct sigevent event_of(const struct conan_timer_set *s, int notify)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = notify;
    sev.sigev_signo = SIGPROF;
    sev.sigev_value.sival_ptr = s->cookie;
    return sev;
}

/* The first expiry of a thread's timer: uniform in (0, period]. A thread
 * that uses less CPU than one period is then sampled with the probability
 * that its CPU is of the period, instead of never (at 19 Hz a period is
 * 53 ms, longer than many threads live), so samples stay an unbiased
 * measure of CPU time. */
static struct timespec first_expiry(long hz, pid_t tid)
{
    static uint64_t state;
    uint64_t x = __atomic_add_fetch(&state, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED) ^ ((uint64_t)tid << 32);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    x ^= (uint64_t)now.tv_nsec;
    x ^= x >> 33, x *= 0xff51afd7ed558ccdull, x ^= x >> 33; /* a mix, not cryptography */
    long period_ns = 1000000000L / hz;
    long ns = 1 + (long)(x % (uint64_t)period_ns);
    return (struct timespec){ ns / 1000000000L, ns % 1000000000L };
}

/* Arms one thread's CPU-time timer. Returns 0, or an errno. */
static int arm_thread_timer(struct conan_timer_set *s, struct conan_armed_thread *t)
{
    struct sigevent sev = event_of(s, SIGEV_THREAD_ID);
    sev.sigev_notify_thread_id = t->tid;
    if (timer_create(thread_cpu_clock(t->tid), &sev, &t->timer) != 0) return errno;
    struct itimerspec spec = { .it_interval = period_of(s->hz), .it_value = first_expiry(s->hz, t->tid) };
    if (timer_settime(t->timer, 0, &spec, NULL) != 0) {
        int err = errno;
        timer_delete(t->timer);
        return err;
    }
    t->has_timer = true;
    s->timers++;
    return 0;
}

struct arm_pass {
    struct conan_timer_set *set;
    int first_error;    /* errno of the first refusal */
    int over_cap;       /* threads left without a timer: the cap was reached */
};

static void arm_new_thread(pid_t tid, void *arg)
{
    struct arm_pass *pass = arg;
    struct conan_timer_set *s = pass->set;
    if (tid == s->monitor_tid || thread_known(s, tid)) return;
    if (s->timers >= s->timer_cap) { /* queued-signal budget spent */
        pass->over_cap++;
        return;
    }
    if (conan_sigprof_blocked_by(tid)) return;
    struct conan_armed_thread *t = add_thread(s, tid);
    if (!t) return;
    int err = arm_thread_timer(s, t);
    if (err != 0 && !pass->first_error && err != EINVAL) /* EINVAL: the thread just ended */
        pass->first_error = err;
}

void conan_timers_arm_self(struct conan_timer_set *s)
{
    pid_t tid = gettid();
    sigset_t mask;
    if (tid == s->monitor_tid || thread_known(s, tid) || s->timers >= s->timer_cap) return;
    if (pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0 || sigismember(&mask, SIGPROF)) return;
    struct conan_armed_thread *t = add_slot(s, tid);
    if (!t) return;
    prctl(PR_GET_NAME, t->name); /* at most 16 bytes, terminated; no file to open */
    arm_thread_timer(s, t);
}

void conan_timers_delete(struct conan_timer_set *s)
{
    for (int i = 0; i < s->nthread; i++) {
        if (s->thread[i].has_timer) timer_delete(s->thread[i].timer);
        s->thread[i].has_timer = false;
    }
    s->timers = 0;
}

int conan_timers_arm_threads(struct conan_timer_set *s, int limit, int share, char *why, size_t why_len)
{
    why[0] = '\0';
    int tasks = conan_for_each_task(NULL, NULL);
    if (tasks < 0) {
        snprintf(why, why_len, "cannot list /proc/self/task");
        return -1;
    }
    struct rlimit pending;
    s->timer_cap = limit;
    if (getrlimit(RLIMIT_SIGPENDING, &pending) == 0 && pending.rlim_cur != RLIM_INFINITY &&
        (rlim_t)s->timer_cap > pending.rlim_cur / (rlim_t)share)
        s->timer_cap = (int)(pending.rlim_cur / (rlim_t)share);
    if (tasks > s->timer_cap) return -1; /* by configuration or limit: not worth a log line */
    struct arm_pass pass = { s, 0, 0 };
    conan_for_each_task(arm_new_thread, &pass);
    if (pass.first_error) {
        snprintf(why, why_len, "per-thread CPU timers refused: %s", strerror(pass.first_error));
        conan_timers_delete(s);
        s->nthread = 0;
        return -1;
    }
    return 0;
}

/* Live threads get their name read again: a thread armed as it starts often
 * names itself just after, and if it ends before the profile is written, the
 * name last read here is the one its samples carry. */
static void release_ended_threads(struct conan_timer_set *s)
{
    for (int i = 0; i < s->nthread; i++) {
        struct conan_armed_thread *t = &s->thread[i];
        char name[sizeof t->name];
        if (t->ended) continue;
        if (!s->keep_names_fresh && conan_task_alive(t->tid)) continue;
        if (conan_task_file(t->tid, "comm", name, sizeof name)) {
            memcpy(t->name, name, sizeof name);
            continue;
        }
        if (t->has_timer) {
            timer_delete(t->timer);
            s->timers--;
        }
        t->has_timer = false;
        t->ended = true;
    }
}

/* Ended threads are forgotten once the table is mostly them, so a program
 * that churns threads all day does not grow it without bound. */
static void compact(struct conan_timer_set *s)
{
    int live = 0;
    for (int i = 0; i < s->nthread; i++) live += !s->thread[i].ended;
    if (s->nthread < 256 || live * 2 > s->nthread) return;
    int kept = 0;
    for (int i = 0; i < s->nthread; i++)
        if (!s->thread[i].ended) s->thread[kept++] = s->thread[i];
    s->nthread = kept;
}

int conan_timers_rescan(struct conan_timer_set *s)
{
    release_ended_threads(s);
    compact(s);
    struct arm_pass pass = { s, 0, 0 };
    conan_for_each_task(arm_new_thread, &pass);
    return pass.over_cap;
}

int conan_timers_arm_process(struct conan_timer_set *s)
{
    struct sigevent sev = event_of(s, SIGEV_SIGNAL);
    struct itimerspec spec = { .it_interval = period_of(s->hz), .it_value = period_of(s->hz) };
    if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &s->process_timer) != 0) return -1;
    if (timer_settime(s->process_timer, 0, &spec, NULL) != 0) {
        int err = errno;
        timer_delete(s->process_timer);
        errno = err;
        return -1;
    }
    s->process_armed = true;
    return 0;
}

void conan_timers_disarm_process(struct conan_timer_set *s)
{
    if (s->process_armed) timer_delete(s->process_timer);
    s->process_armed = false;
}

const char *conan_timers_name(const struct conan_timer_set *s, pid_t tid)
{
    for (int i = 0; i < s->nthread; i++)
        if (s->thread[i].tid == tid) return s->thread[i].name;
    return NULL;
}

void conan_timers_free(struct conan_timer_set *s)
{
    conan_timers_delete(s);
    conan_timers_disarm_process(s);
    free(s->thread);
    s->thread = NULL;
    s->nthread = s->thread_cap = 0;
}

void conan_timers_postfork_child(struct conan_timer_set *s)
{
    s->thread = NULL;
    s->nthread = s->thread_cap = s->timers = 0;
    s->process_armed = false;
}

struct open_pass {
    pid_t monitor_tid;
    bool found;
};

static void note_open(pid_t tid, void *arg)
{
    struct open_pass *p = arg;
    if (!p->found && tid != p->monitor_tid && !conan_sigprof_blocked_by(tid)) p->found = true;
}

bool conan_timers_some_thread_open(pid_t monitor_tid)
{
    struct open_pass p = { monitor_tid, false };
    conan_for_each_task(note_open, &p);
    return p.found;
}
