/* wall.c — the wall profile: during a CPU window, every thread's stack hz
 * times a second whatever it does, on the monitor's loop (no thread of its
 * own: the monitor wakes at each round while a window is open).
 *
 * A round looks at every thread (at most wall.max_threads, the first listed:
 * the oldest), as thread_ask.c takes stacks:
 * - a thread whose CPU time (its thread CPU clock: one system call, no file)
 *   has not changed since a round that found it blocked has not run since: it
 *   sits at the same place with the same stack, state and labels, so the
 *   round only counts it again. A thread that has not run for IDLE_ROUNDS
 *   rounds is idle and looked at every IDLE_LOOK_EVERY rounds only; the rounds
 *   between count where the last look found it (so when it wakes, at most
 *   IDLE_LOOK_EVERY - 1 rounds go to the place it left, and a thread that
 *   ended counts until its next look). Idle threads, most of a large
 *   process's, cost a quarter of a clock read a round.
 * - any other thread's /proc/self/task/<tid>/syscall line is read: a blocked
 *   thread is walked from the registers it shows, its state read from stat,
 *   and its CPU time read again: unchanged, the walk saw a stack that held
 *   still (else it is looked at once more). No signal: no sleep, poll or wait
 *   is cut short, nothing sees EINTR.
 * - a running thread is asked with a SIGPROF carrying its slot, like the
 *   threads profile's; the answer is collected at the next round (or at
 *   stop), so the monitor never waits for it. One that blocks SIGPROF or has
 *   not answered by then counts with an "unavailable" frame and the reason.
 * A thread's consecutive identical samples are kept as one pending sample with
 * a count, added to the profile when it changes or at stop, so an idle
 * thread costs no profile work either. Each sample stands for 1e9/hz ns of
 * that thread's wall time; rounds the monitor was too late for are counted
 * (missed) and not made up, so a thread's wall/nanoseconds is close to the
 * window's length less the missed rounds.
 *
 * A request goes out as soon as the round sees its thread running (after one
 * /proc read of its signal mask), so it lands microseconds later; it may
 * still reach the thread just as it enters a system call, as a CPU timer's
 * signal may: the handler is SA_RESTART, as for CPU profiling, but calls that
 * are never restarted (epoll_wait, poll, select, nanosleep) then return EINTR.
 * Threads seen blocked are never sent one. */
#include "wall.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "labels.h"
#include "log.h"
#include "procfs.h"
#include "sigprof.h"
#include "stack_walk.h"
#include "syscall_names.h"
#include "thread_ask.h"

#define DRAIN_WAIT_MS 20         /* longest a round waits for a handler still inside (a walk takes
                                    µs; at the program's exit the CPU profile is next, within 200 ms) */
#define NAME_FRESH_S 1.0         /* a thread's name is read again at most this often */
#define OPEN_TRUSTED_S 1.0       /* a thread seen open to SIGPROF is not read again for this long */
#define LIST_EVERY_S 0.5         /* the thread list is read this often (a thread that ended is seen at its next look) */
#define HELD_MAX 32              /* threads whose syscall and stat files stay open for the window */
#define IDLE_ROUNDS 20           /* a thread that has not run for this many rounds is idle: */
#define IDLE_LOOK_EVERY 4        /* it is looked at every this many rounds only */

/* What one round found for one thread. */
struct wall_sample {
    int depth;                   /* > 0: pcs holds the stack; else why says why not */
    char state;                  /* kernel state letter; 'R' for a thread that answered a signal */
    long nr;                     /* system call it blocks in; -1: none */
    const char *why;             /* no stack: why (static text) */
    struct conan_label_set labels; /* the program's labels on the thread (labels.h) */
    uintptr_t pcs[CONAN_MAX_FRAMES];
};

struct wall_thread {
    pid_t tid;
    bool blocked;                /* the last look walked it blocked: pending is its stack */
    int64_t cpu_ns;              /* its CPU time at that look */
    long slot;                   /* its slot, asked this round; -1: not asked */
    long rounds;                 /* rounds pending stands for */
    long still_rounds;           /* rounds since it last ran (as far as the looks know) */
    struct wall_sample pending;
    char name[16];
    double name_read_s;
    double open_seen_s;          /* when its signal mask was last seen open to SIGPROF */
    int held;                    /* its place in held_files (syscall and stat open), or -1 */
};

static struct {
    bool active;
    int hz, max_threads;
    int64_t period_ns;
    double started_s, next_round_s;
    pid_t monitor_tid;
    bool signals;                /* SIGPROF taken: running threads are asked */
    unsigned long round;         /* rounds taken this window */
    bool asked;                  /* requests of the last round are out */
    bool undrained;              /* a handler never left the last gate: ask no one until one drains */
    struct conan_pprof *p;
    uintptr_t unavailable;       /* the pseudo frame of samples without a stack */
    struct wall_thread *thr;     /* sorted by tid */
    long n;
    double listed_s;             /* when the thread list was last read */
    struct conan_wall_stats st;
} wall;

static void drop_files(struct wall_thread *t);

/* The descriptors held for the window, in a table of their own so that a
 * forked child can close its copies without reading the thread records (the
 * parent's monitor may have been replacing them). */
static struct held_files {
    bool used;
    struct conan_own_fd syscall, stat;
} held_files[HELD_MAX];

static struct conan_ask_pool pool; /* never unmapped: late requests land in our memory */

bool conan_wall_on_signal(const siginfo_t *info, void *ucontext)
{
    return conan_ask_on_signal(&pool, info, ucontext);
}

bool conan_wall_active(void) { return wall.active; }
double conan_wall_next_round_s(void) { return wall.next_round_s; }

static double monitor_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *state_word(char state)
{
    switch (state) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "disk";
    case 'T': return "stopped";
    case 't': return "traced";
    case 'Z': return "zombie";
    case 'X': return "dead";
    case 'I': return "idle";
    case 'P': return "parked";
    default: return "other";
    }
}

/* ---- a thread's pending sample ---- */

static bool same_sample(const struct wall_sample *a, const struct wall_sample *b)
{
    return a->depth == b->depth && a->state == b->state && a->nr == b->nr && a->why == b->why &&
           memcmp(&a->labels, &b->labels, sizeof a->labels) == 0 &&
           (a->depth <= 0 || memcmp(a->pcs, b->pcs, (size_t)a->depth * sizeof a->pcs[0]) == 0);
}

/* Adds t's pending sample to the profile, standing for its rounds. */
static void flush(struct wall_thread *t)
{
    if (t->rounds == 0) return;
    double now = conan_monotonic_seconds();
    if (!t->name[0] || now - t->name_read_s >= NAME_FRESH_S) {
        char name[sizeof t->name];
        if (conan_task_file(t->tid, "comm", name, sizeof name)) memcpy(t->name, name, sizeof name);
        t->name_read_s = now;
    }
    const struct wall_sample *s = &t->pending;
    struct conan_label labels[CONAN_PPROF_MAX_LABELS];
    int n = 0;
    labels[n++] = (struct conan_label){ .key = "thread", .str = t->name };
    labels[n++] = (struct conan_label){ .key = "tid", .num = t->tid };
    labels[n++] = (struct conan_label){ .key = "state", .str = state_word(s->state) };
    char number[24];
    if (s->nr >= 0) {
        const char *known = conan_syscall_name(s->nr);
        if (!known) snprintf(number, sizeof number, "%ld", s->nr); /* one we do not name: its number */
        labels[n++] = (struct conan_label){ .key = "syscall", .str = known ? known : number };
    }
    if (s->why) labels[n++] = (struct conan_label){ .key = "unavailable", .str = s->why };
    n += conan_labels_resolve(&s->labels, labels + n, CONAN_PPROF_MAX_LABELS - n);
    int64_t values[2] = { t->rounds, t->rounds * wall.period_ns };
    if (s->depth > 0)
        conan_pprof_add(wall.p, s->pcs, s->depth, values, labels, n);
    else
        conan_pprof_add(wall.p, &wall.unavailable, 1, values, labels, n);
    t->rounds = 0;
}

/* One more round for t: s counts with its pending sample, or replaces it. */
static void commit(struct wall_thread *t, const struct wall_sample *s)
{
    if (t->rounds > 0 && same_sample(&t->pending, s)) {
        t->rounds++;
        return;
    }
    flush(t);
    t->pending.depth = s->depth;
    t->pending.state = s->state;
    t->pending.nr = s->nr;
    t->pending.why = s->why;
    t->pending.labels = s->labels;
    if (s->depth > 0) memcpy(t->pending.pcs, s->pcs, (size_t)s->depth * sizeof s->pcs[0]);
    t->rounds = 1;
}

static void commit_unavailable(struct wall_thread *t, char state, const char *why)
{
    struct wall_sample s = { .depth = 0, .state = state, .nr = -1, .why = why };
    conan_labels_of_thread(t->tid, &s.labels);
    commit(t, &s);
    wall.st.unavailable++;
}

/* ---- the rounds ---- */

/* The answers to the last round's requests (the gate closed first, so no
 * handler writes a slot while it is read). */
static void collect(void)
{
    if (wall.undrained && !wall.asked) wall.undrained = !conan_gate_drain(&pool.gate, 0);
    if (!wall.asked) return;
    conan_gate_close(&pool.gate);
    wall.undrained = !conan_gate_drain(&pool.gate, DRAIN_WAIT_MS); /* its slots are read below all the same:
                                                                      a late stack only ever misplaces a sample */
    for (long i = 0; i < wall.n; i++) {
        struct wall_thread *t = &wall.thr[i];
        if (t->slot < 0) continue;
        const struct conan_stack_slot *slot = &pool.slot[t->slot];
        int depth = conan_stack_slot_depth(slot);
        t->slot = -1;
        if (depth <= 0) { /* -1: it answered, but its stack could not be walked */
            commit_unavailable(t, 'R', depth < 0 ? "no stack found" : "no answer in time");
            continue;
        }
        struct wall_sample s = { .depth = depth, .state = 'R', .nr = -1, .labels = slot->labels };
        memcpy(s.pcs, slot->pcs, (size_t)depth * sizeof s.pcs[0]);
        commit(t, &s);
        wall.st.signalled++;
    }
    wall.asked = false;
}

static int by_tid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The records become exactly the threads of tids (sorted): threads gone have
 * their pending sample added and are dropped; new ones start empty. */
static int sync_threads(const pid_t *tids, long n)
{
    bool same = n == wall.n;
    for (long i = 0; same && i < n; i++) same = wall.thr[i].tid == tids[i];
    if (same) return 0;
    struct wall_thread *next = calloc((size_t)(n ? n : 1), sizeof *next);
    if (!next) return -1;
    long j = 0;
    for (long i = 0; i < n; i++) {
        for (; j < wall.n && wall.thr[j].tid < tids[i]; j++) {
            flush(&wall.thr[j]);
            drop_files(&wall.thr[j]);
        }
        if (j < wall.n && wall.thr[j].tid == tids[i]) {
            next[i] = wall.thr[j++];
        } else {
            next[i].tid = tids[i];
            next[i].slot = -1;
            next[i].held = -1;
        }
    }
    for (; j < wall.n; j++) {
        flush(&wall.thr[j]);
        drop_files(&wall.thr[j]);
    }
    free(wall.thr);
    wall.thr = next;
    wall.n = n;
    return 0;
}

/* ---- a thread's files ----
 *
 * A thread that runs between rounds is read each round: its syscall line and
 * its stat. Opening a /proc file costs more than reading it, so the first
 * HELD_MAX threads that need it keep both open for the window and read them
 * again at offset 0. A held descriptor is used only while it still refers to
 * that file (procfs.c: a program may close descriptors it did not open and
 * reuse the numbers), and closed only then. */
static void close_held(struct held_files *h)
{
    if (!__atomic_load_n(&h->used, __ATOMIC_ACQUIRE)) return;
    conan_own_close(&h->syscall);
    conan_own_close(&h->stat);
    __atomic_store_n(&h->used, false, __ATOMIC_RELEASE);
}

static void drop_files(struct wall_thread *t)
{
    if (t->held < 0) return;
    close_held(&held_files[t->held]);
    t->held = -1;
}

static void hold_files(struct wall_thread *t)
{
    if (t->held >= 0) return;
    int i = 0;
    while (i < HELD_MAX && held_files[i].used) i++;
    if (i == HELD_MAX) return;
    struct held_files *h = &held_files[i];
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)t->tid);
    if (!conan_own_open(&h->syscall, path, O_RDONLY, 0)) return;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)t->tid);
    if (!conan_own_open(&h->stat, path, O_RDONLY, 0)) {
        conan_own_close(&h->syscall);
        return;
    }
    __atomic_store_n(&h->used, true, __ATOMIC_RELEASE);
    t->held = i;
}

/* The text of one of t's files (which: syscall or stat), held or opened for the read. */
static bool read_file(struct wall_thread *t, bool stat, char *buf, size_t len)
{
    const struct conan_own_fd *held = t->held < 0 ? NULL : stat ? &held_files[t->held].stat : &held_files[t->held].syscall;
    if (held && conan_own_still(held)) {
        ssize_t n = pread(held->fd, buf, len - 1, 0);
        if (n <= 0) return false; /* the thread is gone */
        buf[n] = '\0';
        return true;
    }
    return conan_task_file(t->tid, stat ? "stat" : "syscall", buf, len);
}

static bool read_syscall(struct wall_thread *t, struct conan_task_syscall *at)
{
    char line[512];
    return read_file(t, false, line, sizeof line) && conan_task_syscall_parse(line, at);
}

static char read_state(struct wall_thread *t)
{
    char text[512];
    const char *fields = read_file(t, true, text, sizeof text) ? conan_task_stat_fields(text) : NULL;
    return fields ? fields[0] : '?';
}

/* A thread that is not known to sit still: walked if blocked (true), else
 * false (it runs: ask it). A thread that moves while walked is looked at once
 * more. */
static bool take_blocked(struct wall_thread *t, int64_t cpu_ns)
{
    hold_files(t);
    for (int attempt = 0; attempt < 2; attempt++) {
        struct conan_task_syscall at;
        if (!read_syscall(t, &at)) return true; /* gone: no sample */
        if (at.running) return false;
        struct wall_sample s = { .nr = at.nr };
        if (at.nr == SYS_execve || at.nr == SYS_execveat) {
            commit_unavailable(t, 'S', "in execve");
            return true;
        }
        s.depth = at.sp && at.pc ? conan_unwind_from(at.sp, at.pc, s.pcs, CONAN_MAX_FRAMES) : 0;
        if (s.depth <= 0 && at.pc) {
            s.pcs[0] = at.pc;
            s.depth = 1;
        }
        if (s.depth <= 0) s.why = "no registers";
        conan_labels_of_thread(t->tid, &s.labels); /* it does not run: they hold still too */
        s.state = read_state(t);
        if (s.state == '?') return true; /* gone */
        int64_t after = conan_ask_cpu_ns(t->tid);
        if (after == cpu_ns) {
            commit(t, &s);
            if (s.depth > 0) wall.st.walked++;
            else wall.st.unavailable++;
            t->blocked = true;
            t->cpu_ns = cpu_ns;
            return true;
        }
        if (after < 0) return true;
        cpu_ns = after; /* it ran while walked: the stack may be torn */
    }
    return false;
}

/* A thread that blocks SIGPROF would keep our request pending, and one in
 * sigwait would take it (sigprof.c): such a thread is not asked. Its mask is
 * read from /proc (a status file: the dearest read here), so a thread found
 * open is trusted for OPEN_TRUSTED_S. A thread found blocking is read once
 * more: it may only have been inside a SIGPROF handler (ours, for a CPU
 * timer), where SIGPROF is blocked for a few microseconds. */
static bool sigprof_blocked(struct wall_thread *t)
{
    double now = conan_monotonic_seconds();
    if (t->open_seen_s > 0 && now - t->open_seen_s < OPEN_TRUSTED_S) return false;
    if (conan_sigprof_blocked_by(t->tid) && conan_sigprof_blocked_by(t->tid)) return true;
    t->open_seen_s = now;
    return false;
}

/* The records follow the thread list, read every LIST_EVERY_S (a thread
 * that ended is seen at once: its CPU clock is gone). */
static void list_threads(double now_s)
{
    if (wall.listed_s > 0 && now_s - wall.listed_s < LIST_EVERY_S) return;
    wall.listed_s = now_s;
    struct conan_task_list tasks;
    conan_task_list(&tasks, wall.monitor_tid);
    long n = tasks.n;
    if (n > wall.st.threads_max) wall.st.threads_max = n;
    if (n > wall.max_threads) {
        if (n - wall.max_threads > wall.st.left_out) wall.st.left_out = n - wall.max_threads;
        n = wall.max_threads; /* the first listed: the thread group's oldest */
    }
    qsort(tasks.tid, (size_t)n, sizeof tasks.tid[0], by_tid);
    sync_threads(tasks.tid, n); /* out of memory: the records of the last list */
    conan_task_list_free(&tasks);
}

static void take_round(double now_s)
{
    list_threads(now_s);
    bool ask = wall.signals && !wall.undrained && conan_ask_reserve(&pool, wall.n) == 0;
    unsigned generation = conan_ask_generation(&pool);
    long nslot = 0;
    if (ask) { /* open before the first request: each is sent as soon as its thread is seen running */
        conan_gate_open(&pool.gate, generation);
        wall.asked = true;
    }
    for (long i = 0; i < wall.n; i++) {
        struct wall_thread *t = &wall.thr[i];
        if (t->blocked && t->rounds > 0 && t->still_rounds >= IDLE_ROUNDS &&
            (wall.round + (unsigned long)t->tid) % IDLE_LOOK_EVERY != 0) {
            t->rounds++; /* idle: counted where the last look found it, looked at in a later round */
            t->still_rounds++;
            wall.st.reused++;
            wall.st.unlooked++;
            continue;
        }
        int64_t cpu_ns = conan_ask_cpu_ns(t->tid);
        if (cpu_ns < 0) continue; /* gone */
        if (t->blocked && cpu_ns == t->cpu_ns && t->rounds > 0) {
            t->rounds++; /* has not run since: same place, same stack */
            t->still_rounds++;
            wall.st.reused++;
            continue;
        }
        t->blocked = false;
        t->still_rounds = 0;
        if (take_blocked(t, cpu_ns)) continue;
        if (!ask) {
            commit_unavailable(t, 'R', wall.st.why_no_signals ? wall.st.why_no_signals : "no memory for requests");
            continue;
        }
        if (sigprof_blocked(t)) {
            commit_unavailable(t, 'R', "blocks SIGPROF");
            continue;
        }
        struct conan_stack_slot *s = &pool.slot[nslot];
        s->tid = t->tid;
        s->generation = generation;
        __atomic_store_n(&s->depth, 0, __ATOMIC_RELEASE);
        /* Sent at once: the thread was running a moment ago. A thread that
         * blocks in between can see the signal cut its wait short (as a CPU
         * timer's tick could); the shorter the gap, the rarer that is. */
        if (conan_ask_send(t->tid, s) == 0) t->slot = nslot++; /* else gone */
    }
}

void conan_wall_round(double now_s)
{
    if (!wall.active) return;
    double cpu0 = monitor_cpu_s();
    collect();
    double period_s = 1.0 / wall.hz;
    long late = (long)((now_s - wall.next_round_s) / period_s);
    if (late > 0) wall.st.missed += late;
    wall.next_round_s += (double)(late > 0 ? late + 1 : 1) * period_s;
    take_round(now_s);
    wall.round++;
    wall.st.rounds++;
    wall.st.cost_s += monitor_cpu_s() - cpu0;
}

int conan_wall_start(const struct conan_config *cfg)
{
    static const struct conan_value_type types[] = { { "samples", "count" }, { "wall", "nanoseconds" } };
    static int owned_once;
    if (wall.active) return 0;
    memset(&wall.st, 0, sizeof wall.st);
    wall.hz = cfg->wall.hz;
    wall.max_threads = cfg->wall.max_threads;
    wall.period_ns = 1000000000LL / wall.hz;
    wall.p = conan_pprof_new(types, 2, types[1], wall.period_ns);
    if (!wall.p) return -1;
    conan_pprof_set_default_type(wall.p, 1);
    wall.unavailable = conan_pprof_pseudo_frame(wall.p, "unavailable");
    wall.monitor_tid = gettid();
    wall.st.hz = wall.hz;
    wall.signals = false;
    if (conan_sigprof_program_has_handler()) {
        conan_log_once(&owned_once, "the program uses SIGPROF itself; running threads in wall profiles carry no stacks");
        wall.st.why_no_signals = "the program uses SIGPROF";
    } else if (conan_sigprof_take() != 0) {
        wall.st.why_no_signals = "SIGPROF could not be taken";
    } else {
        wall.signals = true;
    }
    conan_unwind_prepare();
    wall.round = 0;
    wall.started_s = wall.next_round_s = conan_monotonic_seconds();
    wall.active = true;
    conan_wall_round(wall.started_s);
    return 0;
}

struct conan_pprof *conan_wall_stop(struct conan_wall_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!wall.active) return NULL;
    double cpu0 = monitor_cpu_s();
    collect();
    for (long i = 0; i < wall.n; i++) {
        flush(&wall.thr[i]);
        drop_files(&wall.thr[i]);
    }
    wall.st.cost_s += monitor_cpu_s() - cpu0;
    if (wall.signals) conan_sigprof_give_back(); /* late requests keep our handler until they arrive */
    free(wall.thr);
    wall.thr = NULL;
    wall.n = 0;
    wall.listed_s = 0;
    wall.active = false;
    wall.st.duration_s = conan_monotonic_seconds() - wall.started_s;
    *stats = wall.st;
    struct conan_pprof *p = wall.p;
    wall.p = NULL;
    return p;
}

void conan_wall_postfork_child(void)
{
    /* Nothing of the parent's rounds is freed: its monitor may have been
     * inside malloc with them when the process was copied. */
    wall.active = false;
    wall.asked = false;
    wall.thr = NULL;
    wall.n = 0;
    for (int i = 0; i < HELD_MAX; i++) close_held(&held_files[i]); /* the parent's, copied: ours to close */
    wall.listed_s = 0;
    wall.p = NULL;
    conan_ask_postfork_child(&pool);
}
