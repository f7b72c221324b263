/* threads.c — threads: the registry behind the pthread_create wrapper, the
 * live thread count, and the two thread profiles.
 *
 * Registry: every thread made through pthread_create starts in our trampoline,
 * which records its tid against the creator's stack and start routine (taken
 * in the creating thread, before the thread exists). A thread-specific key's
 * destructor takes it out again however the thread ends — return,
 * pthread_exit or cancellation. Threads made otherwise (raw clone, or before
 * libconan was loaded) are still counted and listed, from /proc/self/task.
 *
 * threadcreate profile: where the live threads were created, like Go's.
 * threads profile: every thread's stack at one moment. A thread blocked in
 * the kernel (nearly all of them, usually) is walked on the monitor from the
 * stack pointer and program counter /proc/self/task/<tid>/syscall shows: no
 * signal, so its sleep, poll or wait is not cut short. Only threads running
 * user code are sent a SIGPROF carrying a pointer to their slot
 * (rt_tgsigqueueinfo); the monitor waits at most threads.wait_ms for those
 * handlers. A thread that blocks SIGPROF or does not answer in time is still
 * counted, with its state and an "unavailable" frame. The slots are never
 * unmapped, so a request that arrives late is recognised as ours and dropped;
 * until it has arrived, our SIGPROF handler stays installed, because SIG_DFL
 * would terminate the process. Requests are sent as timer signals, which
 * execve discards, so none can follow a thread into a new program. */
#include "threads.h"
#include "clock.h"
#include "config.h"
#include "frame_rules.h"
#include "heap_inline.h"
#include "log.h"
#include "monitor.h"
#include "once.h"
#include "pprof.h"
#include "procfs.h"
#include "sigprof.h"
#include "stack_walk.h"
#include "symbols.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the registry ---- */

struct thread_record {
    struct thread_record *prev, *next;
    pid_t tid;                   /* 0 until the thread runs; set under the registry lock */
    void *(*start)(void *);
    void *arg;
    double created_s;            /* monotonic */
    int depth;
    uintptr_t pcs[CONAN_MAX_FRAMES]; /* the creator's stack, leaf first */
};

static struct {
    pthread_mutex_t lock;
    struct thread_record *live;
    long count;                  /* changed under the lock, atomically: thread_ended reads it without */
    pthread_key_t key;
    bool key_ok;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void link_record(struct thread_record *r)
{
    pthread_mutex_lock(&reg.lock);
    r->prev = NULL;
    r->next = reg.live;
    if (reg.live) reg.live->prev = r;
    reg.live = r;
    __atomic_store_n(&reg.count, reg.count + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&reg.lock);
}

static void unlink_record(struct thread_record *r)
{
    pthread_mutex_lock(&reg.lock);
    if (r->prev) r->prev->next = r->next;
    else reg.live = r->next;
    if (r->next) r->next->prev = r->prev;
    __atomic_store_n(&reg.count, reg.count - 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&reg.lock);
}

/* The key's destructor: the thread is ending, however it ends. */
static void thread_ended(void *value)
{
    struct thread_record *r = value;
    unlink_record(r);
    free(r);
    conan_monitor_thread_event();
    /* Only the monitor left registered: if main has left too, the process must
     * end now (the monitor checks). A count read, no syscall. */
    if (__atomic_load_n(&reg.count, __ATOMIC_RELAXED) <= 1) conan_monitor_poke();
    conan_heap_thread_registered(false);
}

static void *trampoline(void *arg)
{
    struct thread_record *r = arg;
    conan_heap_thread_registered(true);
    conan_frame_rules_thread_start();
    pthread_mutex_lock(&reg.lock); /* the threadcreate profile copies records under it */
    r->tid = gettid();
    pthread_mutex_unlock(&reg.lock);
    pthread_setspecific(reg.key, r);
    conan_monitor_thread_event();
    return r->start(r->arg);
}

/* fork: the registry lock is held across it, so the child gets a consistent
 * list. The child has only the forking thread; the other records are dropped
 * without being freed, because free() may need locks that other atfork
 * handlers still hold at this point (the heap table's). */
static void lock_for_fork(void) { pthread_mutex_lock(&reg.lock); }
static void unlock_after_fork(void) { pthread_mutex_unlock(&reg.lock); }

static void child_after_fork(void)
{
    pthread_mutex_init(&reg.lock, NULL);
    struct thread_record *self = reg.key_ok ? pthread_getspecific(reg.key) : NULL;
    reg.live = NULL;
    reg.count = 0;
    if (self) {
        self->tid = gettid();
        self->prev = self->next = NULL;
        reg.live = self;
        reg.count = 1;
    }
}

void conan_threads_init(void)
{
    static int done;
    if (!conan_first_time(&done)) return;
    conan_unwind_prepare(); /* creation stacks are walked from the first pthread_create on */
    reg.key_ok = pthread_key_create(&reg.key, thread_ended) == 0;
    pthread_atfork(lock_for_fork, unlock_after_fork, child_after_fork);
}

int conan_threads_create(conan_pthread_create_fn create, pthread_t *thread, const pthread_attr_t *attr,
                         void *(*start)(void *), void *arg)
{
    struct thread_record *r = reg.key_ok ? calloc(1, sizeof *r) : NULL;
    if (!r) return create(thread, attr, start, arg);
    r->start = start;
    r->arg = arg;
    r->created_s = conan_monotonic_seconds();
    r->depth = conan_unwind_caller(r->pcs, CONAN_MAX_FRAMES);
    link_record(r);
    int rc = create(thread, attr, trampoline, r);
    if (rc != 0) {
        unlink_record(r);
        free(r);
    }
    return rc;
}

long conan_threads_registered(void)
{
    pthread_mutex_lock(&reg.lock);
    long n = reg.count;
    pthread_mutex_unlock(&reg.lock);
    return n;
}

/* ---- the tasks of the process, as /proc shows them ---- */

struct task_list {
    pid_t *tid;
    int n, cap;
    pid_t skip;                  /* the monitor: ours, not the program's */
};

static void collect_task(pid_t tid, void *arg)
{
    struct task_list *l = arg;
    if (tid == l->skip) return;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        pid_t *grown = realloc(l->tid, (size_t)cap * sizeof *grown);
        if (!grown) return;
        l->tid = grown;
        l->cap = cap;
    }
    l->tid[l->n++] = tid;
}

/* Kernel state letter (R, S, D, T, Z...) from /proc/self/task/<tid>/stat. */
static char task_state(pid_t tid)
{
    char stat[512];
    const char *state = conan_task_stat(tid, stat, sizeof stat);
    return state ? state[0] : '?';
}

/* Is the calling thread the only one of the process still running (main
 * called pthread_exit, and every other thread has ended)? */
struct alone_check { pid_t self; bool others; };

static void note_other(pid_t tid, void *arg)
{
    struct alone_check *c = arg;
    if (tid != c->self && task_state(tid) != 'Z' && task_state(tid) != '?') c->others = true;
}

static int main_exited; /* atomic: main called pthread_exit */

void conan_threads_exiting(void)
{
    if (gettid() != getpid()) return;
    __atomic_store_n(&main_exited, 1, __ATOMIC_RELEASE);
    conan_monitor_poke();
}

bool conan_threads_main_exited(void)
{
    return __atomic_load_n(&main_exited, __ATOMIC_ACQUIRE);
}

bool conan_threads_only_caller_left(long live)
{
    if (!conan_threads_main_exited() || live > 2) return false; /* the cheap answers, nearly always */
    struct alone_check c = { gettid(), false };
    conan_for_each_task(note_other, &c);
    return !c.others;
}

/* ---- threadcreate ---- */

struct conan_pprof *conan_threads_create_profile(long *threads, struct conan_symbols *syms)
{
    static const struct conan_value_type type = { "threadcreate", "count" };
    struct conan_pprof *p = conan_pprof_new(&type, 1, type, 1);
    if (!p) return NULL;
    struct task_list tasks = { .skip = gettid() };
    conan_for_each_task(collect_task, &tasks);
    const int64_t one = 1;
    *threads = 0;

    /* Records are copied under the lock (a thread may end meanwhile); the copy
     * is allocated outside it, with room for threads born in between. */
    pthread_mutex_lock(&reg.lock);
    long n = reg.count + 64;
    pthread_mutex_unlock(&reg.lock);
    struct thread_record *copy = malloc((size_t)n * sizeof *copy);
    long got = 0;
    pthread_mutex_lock(&reg.lock);
    for (struct thread_record *r = reg.live; r && copy && got < n; r = r->next) copy[got++] = *r;
    pthread_mutex_unlock(&reg.lock);

    uintptr_t unknown_frame = conan_pprof_pseudo_frame(p, "creator's stack unavailable");
    uintptr_t main_frame = conan_pprof_pseudo_frame(p, "main thread");
    uintptr_t other_frame = conan_pprof_pseudo_frame(p, "created before libconan or without pthread_create");
    double now_s = conan_monotonic_seconds();
    for (long i = 0; i < got; i++) {
        if (copy[i].tid == tasks.skip) continue; /* the monitor itself */
        const char *start = NULL;
        conan_symbols_lookup(syms, (uintptr_t)copy[i].start, &start, NULL);
        struct conan_label labels[2] = {
            { .key = "start", .str = start ? start : "?" },
            { .key = "age", .num = (int64_t)(now_s - copy[i].created_s), .num_unit = "seconds" },
        };
        if (copy[i].depth > 0)
            conan_pprof_add(p, copy[i].pcs, copy[i].depth, &one, labels, 2);
        else
            conan_pprof_add(p, &unknown_frame, 1, &one, labels, 2);
        (*threads)++;
        for (int t = 0; t < tasks.n; t++)
            if (tasks.tid[t] == copy[i].tid) tasks.tid[t] = 0; /* accounted for */
    }
    /* The rest were not made by pthread_create after we were loaded. */
    pid_t pid = getpid();
    for (int t = 0; t < tasks.n; t++) {
        if (!tasks.tid[t]) continue;
        conan_pprof_add(p, tasks.tid[t] == pid ? &main_frame : &other_frame, 1, &one, NULL, 0);
        (*threads)++;
    }
    free(copy);
    free(tasks.tid);
    return p;
}

/* ---- the stack snapshot ---- */

struct snapshot_slot {
    pid_t tid;
    unsigned generation;         /* the snapshot this slot was handed out for */
    int depth;                   /* atomic (handlers write it); written last: > 0 once the stack is in */
    uintptr_t pcs[CONAN_MAX_FRAMES];
};

#define REGIONS_MAX 24           /* slot arrays, each twice the last; never unmapped */

static struct {
    struct { struct snapshot_slot *slot; long capacity; } region[REGIONS_MAX];
    int nregion;
    struct snapshot_slot *slot;  /* the current (largest) array */
    long capacity;
    unsigned generation;         /* atomic: the snapshot running now, 0 = none */
    long inflight;               /* atomic: handlers inside a slot */
    pid_t pid;
    bool holding_sigprof;        /* taken for a snapshot, not yet given back */
    double held_since_s;         /* since when */
} snap;

/* Signal context (the SIGPROF handler, before anything else): is this our
 * snapshot request (SI_TIMER, a pointer into our slots; our CPU timers carry a
 * cookie instead)? If so, fill the slot it points at and return true. A
 * request that arrives after its snapshot ended is ours too, and dropped. */
bool conan_threads_on_signal(const siginfo_t *info, void *ucontext)
{
    if (info->si_code != SI_TIMER || !snap.pid) return false;
    struct snapshot_slot *s = info->si_value.sival_ptr;
    bool ours = false;
    int nregion = __atomic_load_n(&snap.nregion, __ATOMIC_ACQUIRE);
    for (int i = 0; i < nregion && !ours; i++)
        ours = s >= snap.region[i].slot && s < snap.region[i].slot + snap.region[i].capacity;
    if (!ours) return false;
    __atomic_fetch_add(&snap.inflight, 1, __ATOMIC_SEQ_CST);
    unsigned generation = __atomic_load_n(&snap.generation, __ATOMIC_SEQ_CST);
    if (generation && s->generation == generation && s->tid == gettid()) {
        int depth = conan_unwind_context(ucontext, s->pcs, CONAN_MAX_FRAMES);
        __atomic_store_n(&s->depth, depth > 0 ? depth : -1, __ATOMIC_RELEASE);
    }
    __atomic_fetch_sub(&snap.inflight, 1, __ATOMIC_SEQ_CST);
    return true;
}

static int ensure_slots(long n)
{
    if (n <= snap.capacity) return 0;
    if (snap.nregion == REGIONS_MAX) return -1;
    long capacity = snap.capacity ? snap.capacity : 64;
    while (capacity < n) capacity *= 2;
    void *mem = mmap(NULL, (size_t)capacity * sizeof(struct snapshot_slot), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    snap.region[snap.nregion].slot = mem;
    snap.region[snap.nregion].capacity = capacity;
    __atomic_store_n(&snap.nregion, snap.nregion + 1, __ATOMIC_RELEASE);
    snap.slot = mem;
    snap.capacity = capacity;
    return 0;
}

static int send_request(pid_t tid, struct snapshot_slot *s)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = SIGPROF;
    /* SI_TIMER, like our CPU timers' signals: execve discards queued timer
     * signals, so a request still queued for a thread that is exec'ing cannot
     * reach the new program (whose SIGPROF is SIG_DFL again: it would die).
     * A process may send itself any negative si_code. */
    info.si_code = SI_TIMER;
    info.si_value.sival_ptr = s;
    return (int)syscall(SYS_rt_tgsigqueueinfo, snap.pid, tid, SIGPROF, &info);
}

/* A slot's depth: > 0 the stack is in; 0 waiting for (or needing) a signal. */
enum { NOT_ASKED = -2, GONE = -3, IN_EXEC = -4 };

/* A thread blocked in the kernel, walked from its /proc registers: depth > 0;
 * 0 if it is running (ask it with a signal); IN_EXEC if it is in execve (a
 * signal queued now would reach the new program, with our handler gone). */
static int walk_blocked(pid_t tid, uintptr_t *pcs)
{
    char line[512];
    if (!conan_task_file(tid, "syscall", line, sizeof line) || strncmp(line, "running", 7) == 0) return 0;
    long nr = strtol(line, NULL, 10);
    if (nr == SYS_execve || nr == SYS_execveat) return IN_EXEC;
    /* "<nr> <6 args> <sp> <pc>", or "-1 <sp> <pc>" outside a system call */
    const char *last = strrchr(line, ' ');
    if (!last || last == line) return 0;
    const char *before = last - 1;
    while (before > line && *before != ' ') before--;
    uintptr_t sp = (uintptr_t)strtoull(before, NULL, 16), pc = (uintptr_t)strtoull(last + 1, NULL, 16);
    if (!sp || !pc) return 0;
    int depth = conan_unwind_from(sp, pc, pcs, CONAN_MAX_FRAMES);
    if (depth <= 0) {
        pcs[0] = pc;
        depth = 1;
    }
    /* Still blocked at the same place? Otherwise the stack moved under the walk. */
    char again[512];
    if (!conan_task_file(tid, "syscall", again, sizeof again) || strcmp(again, line) != 0) return 0;
    return depth;
}

/* Gives SIGPROF back once no request of ours is still queued. */
#define PENDING_LOG_S 10.0   /* a request undelivered this long is worth a line */

void conan_threads_settle(bool cpu_window_open)
{
    static int pending_once;
    if (!snap.holding_sigprof || cpu_window_open) return;
    if (conan_sigprof_pending()) { /* a thread has not taken it yet: SIG_DFL would kill */
        if (conan_monotonic_seconds() - snap.held_since_s > PENDING_LOG_S)
            conan_log_once(&pending_once, "a thread has not taken a snapshot's SIGPROF for %.0f s "
                                          "(uninterruptible sleep?); libconan's SIGPROF handler stays until it has",
                           PENDING_LOG_S);
        return;
    }
    conan_sigprof_give_back();
    snap.holding_sigprof = false;
}

struct conan_pprof *conan_threads_profile(const struct conan_config *cfg, bool cpu_window_open,
                                          struct conan_threads_snapshot *out)
{
    static const struct conan_value_type type = { "threads", "count" };
    static int owned_once;
    memset(out, 0, sizeof *out);
    double t0 = conan_monotonic_seconds();
    struct conan_pprof *p = conan_pprof_new(&type, 1, type, 1);
    if (!p) return NULL;
    struct task_list tasks = { .skip = gettid() };
    conan_for_each_task(collect_task, &tasks);
    out->threads = tasks.n;

    snap.pid = getpid();
    if (ensure_slots(tasks.n) != 0) {
        out->why_no_stacks = "no memory for the snapshot";
        tasks.n = 0;
    }
    conan_unwind_prepare();
    static unsigned last_generation;
    unsigned generation = ++last_generation;
    if (generation == 0) generation = ++last_generation; /* 0 means "none running" */

    /* Threads blocked in the kernel (nearly all of them, usually) are walked
     * from the registers /proc shows: no signal, so their sleeps, polls and
     * waits are not interrupted (no EINTR, no short sleep). */
    long running = 0;
    for (int i = 0; i < tasks.n; i++) {
        struct snapshot_slot *s = &snap.slot[i];
        s->tid = tasks.tid[i];
        s->generation = generation;
        int depth = walk_blocked(tasks.tid[i], s->pcs);
        __atomic_store_n(&s->depth, depth, __ATOMIC_RELEASE);
        if (depth > 0) out->stacks_from_proc++;
        if (depth == 0) running++;
    }

    /* Threads running user code are asked with a SIGPROF carrying their slot. */
    bool signals = running > 0;
    if (signals && conan_sigprof_program_has_handler()) {
        conan_log_once(&owned_once, "the program uses SIGPROF itself; running threads in thread profiles "
                                    "carry no stacks");
        out->why_no_stacks = "the program uses SIGPROF";
        signals = false;
    }
    if (signals) {
        if (conan_sigprof_take() == 0) {
            if (!snap.holding_sigprof) snap.held_since_s = conan_monotonic_seconds();
            snap.holding_sigprof = true;
        } else {
            signals = false;
            out->why_no_stacks = "SIGPROF could not be taken";
        }
    }
    if (signals) __atomic_store_n(&snap.generation, generation, __ATOMIC_SEQ_CST);
    for (int i = 0; signals && i < tasks.n; i++) {
        if (__atomic_load_n(&snap.slot[i].depth, __ATOMIC_ACQUIRE) != 0) continue;
        if (conan_sigprof_blocked_by(tasks.tid[i])) {
            __atomic_store_n(&snap.slot[i].depth, NOT_ASKED, __ATOMIC_RELEASE); /* it would never answer */
            out->blocked++;
            continue;
        }
        if (send_request(tasks.tid[i], &snap.slot[i]) != 0)
            __atomic_store_n(&snap.slot[i].depth, GONE, __ATOMIC_RELEASE);
    }

    /* Wait for the answers, never longer than threads.wait_ms. */
    double deadline = t0 + cfg->threads.wait_ms / 1000.0;
    for (;;) {
        long answered = 0;
        for (int i = 0; signals && i < tasks.n; i++)
            if (__atomic_load_n(&snap.slot[i].depth, __ATOMIC_ACQUIRE) != 0) answered++;
        if (!signals || answered == tasks.n || conan_monotonic_seconds() >= deadline) break;
        conan_sleep_ms(1);
    }
    __atomic_store_n(&snap.generation, 0, __ATOMIC_SEQ_CST);
    for (int waited = 0; __atomic_load_n(&snap.inflight, __ATOMIC_SEQ_CST) != 0 && waited < 1000; waited++)
        conan_sleep_ms(1);

    /* The profile: identical stacks with the same name and state are one sample. */
    const int64_t one = 1;
    uintptr_t blocked_frame = conan_pprof_pseudo_frame(p, "unavailable");
    for (int i = 0; i < tasks.n; i++) {
        pid_t tid = tasks.tid[i];
        char name[32] = "";
        conan_task_file(tid, "comm", name, sizeof name);
        char state[2] = { task_state(tid), 0 };
        if (state[0] == '?') continue; /* ended meanwhile */
        int depth = tasks.n ? __atomic_load_n(&snap.slot[i].depth, __ATOMIC_ACQUIRE) : 0;
        const char *why = depth > 0 ? NULL
                          : depth == NOT_ASKED ? "blocks SIGPROF"
                          : depth == IN_EXEC ? "in execve"
                          : !signals ? "no stacks"
                          : "no answer in time";
        struct conan_label labels[3] = {
            { .key = "thread", .str = name },
            { .key = "state", .str = state },
            { .key = "unavailable", .str = why },
        };
        if (depth > 0) {
            conan_pprof_add(p, snap.slot[i].pcs, depth, &one, labels, 2);
            out->stacks++;
        } else {
            conan_pprof_add(p, &blocked_frame, 1, &one, labels, 3);
            if (signals && (depth == 0 || depth == GONE)) out->timed_out++;
        }
    }
    free(tasks.tid);

    /* Requests still queued (a thread in uninterruptible sleep) will arrive
     * later: our handler stays to drop them, and a later tick gives SIGPROF
     * back (conan_threads_settle). */
    conan_threads_settle(cpu_window_open);
    out->duration_s = conan_monotonic_seconds() - t0;
    return p;
}
