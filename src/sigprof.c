/* sigprof.c — the single owner of SIGPROF: the one handler libconan installs,
 * the table of consumers it hands each signal to, the count of holders that
 * keeps it installed, and the program's view of SIGPROF meanwhile.
 *
 * Consumers. The handler offers each signal to the consumers below in order;
 * the first that recognises it takes it (each tells its own signals by their
 * siginfo alone, so the order only decides who looks first). What no consumer
 * takes is the program's and is forwarded to its handler. Adding a consumer
 * (a recorder, a wall-clock sampler) is one entry in the table; every consumer
 * runs in signal context under the rules of stack_slot.h. errno is saved and
 * restored here, once, for all of them.
 *
 * Holders. A consumer that sends or arms SIGPROFs takes SIGPROF first
 * (conan_sigprof_take) and gives it back when done. The first taker installs
 * our handler; the last give-back restores the program's disposition — unless
 * one of our signals is still pending somewhere (a thread that blocks signals
 * or sleeps uninterruptibly), which SIG_DFL would turn into the end of the
 * process: then the handler stays, and conan_sigprof_settle, called on every
 * monitor tick, restores the program's disposition once nothing is pending.
 *
 * While libconan's handler is installed, the program's sigaction/signal calls
 * for SIGPROF (interposed in preload/) are virtualized: the program reads and
 * sets the disposition it would have without us, and that is what is installed
 * for real when the window ends. So a program that resets every signal to
 * SIG_DFL mid-window is not killed by our next tick, and one that installs its
 * own SIGPROF handler mid-window gets it: the handler forwards every SIGPROF
 * that does not carry our timers' cookie to the program's handler.
 *
 * The program's action is published with a sequence counter (a seqlock), so
 * the handler copies a whole, consistent action without a lock; writers
 * (program threads, the monitor) serialize on a spinlock taken with all
 * signals blocked, so a handler on the same thread can never spin on it. A
 * forked child gets the lock released and the program's disposition made real. */
#include "sigprof.h"
#include "interpose.h"
#include "clock.h"
#include "cpu.h"
#include "recorder.h"
#include "log.h"
#include "thread_snapshot.h"
#include "wall.h"
#include "procfs.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The program's view of SIGPROF while our handler is installed. */
static struct conan_sigprof_view {
    struct sigaction action;     /* the program's disposition while ours is installed */
    unsigned seq;                /* atomic: odd while action is being written */
    int installed;               /* atomic: 1 while our handler is the real one */
    bool as_the_kernel_had_it;   /* action was read back from the kernel, not set by the program */
    int holders;                 /* takes not yet given back (under view_lock) */
    double lingering_since_s;    /* no holder, but a signal of ours was pending; 0 = not lingering */
} conan_sigprof_view;

/* The consumers, in the order they are offered a signal. */
static const struct sigprof_consumer {
    const char *name;
    bool (*take)(const siginfo_t *info, void *ucontext); /* signal context: true if it was its signal */
} consumers[] = {
    { "cpu window", conan_cpu_on_signal },           /* cpu_samples.c: our timers' cookie */
    { "flight recorder", conan_recorder_on_signal }, /* recorder.c: its timers' cookie */
    { "thread snapshot", conan_snapshot_on_signal }, /* thread_snapshot.c: a pointer to one of its slots */
    { "wall clock", conan_wall_on_signal },          /* wall.c: a pointer to one of its slots */
};

static void *real_sigaction;    /* the C library's, found once (interpose.h) */
static int view_lock;

static int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
static int restore_action(const struct sigaction *act);
static void forward_to_program(int sig, siginfo_t *info, void *ucontext);

static void publish(const struct sigaction *act)
{
    struct conan_sigprof_view *v = &conan_sigprof_view;
    __atomic_fetch_add(&v->seq, 1, __ATOMIC_ACQ_REL);   /* odd: being written */
    atomic_thread_fence(memory_order_release);
    v->action = *act;
    __atomic_fetch_add(&v->seq, 1, __ATOMIC_RELEASE);   /* even: stable */
}

/* Signal context: a consistent copy of the program's action, or false. */
static bool read_action(struct sigaction *out)
{
    const struct conan_sigprof_view *v = &conan_sigprof_view;
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned before = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);
        if (before & 1) continue;
        *out = v->action;
        atomic_thread_fence(memory_order_acquire);
        if (__atomic_load_n(&v->seq, __ATOMIC_RELAXED) == before) return true;
    }
    return false;
}

/* Child of a fork (fork.c): none of the parent's holders exist here, and no
 * signal of ours can reach the child (timers are not inherited; requests went
 * to the parent's threads), so the program's disposition is made real. */
void conan_sigprof_postfork_child(void)
{
    struct conan_sigprof_view *v = &conan_sigprof_view;
    __atomic_store_n(&view_lock, 0, __ATOMIC_RELEASE);
    v->holders = 0;
    v->lingering_since_s = 0;
    if (__atomic_load_n(&v->installed, __ATOMIC_ACQUIRE)) {
        restore_action(&v->action);
        __atomic_store_n(&v->installed, 0, __ATOMIC_RELEASE);
    }
}

void conan_sigprof_init(void)
{
    conan_next_definition(&real_sigaction, "sigaction");
}

/* The handler: signal context. */
static void on_sigprof(int sig, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;
    bool taken = false;
    for (size_t i = 0; i < sizeof consumers / sizeof consumers[0] && !taken; i++)
        taken = consumers[i].take(info, ucontext);
    if (!taken) forward_to_program(sig, info, ucontext);
    errno = saved_errno;
}

/* The C library's sigaction, whatever the program interposes. */
static int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    conan_sigprof_init();
    int (*next)(int, const struct sigaction *, struct sigaction *) =
        (int (*)(int, const struct sigaction *, struct sigaction *))conan_next_definition(&real_sigaction, "sigaction");
    if (!next) {
        errno = ENOSYS;
        return -1;
    }
    return next(sig, act, old);
}

/* The monitor runs with every signal blocked for good: its view-lock
 * sections need no mask changes (two system calls each, several a tick). */
static __thread bool blocks_every_signal __attribute__((tls_model("initial-exec")));

void conan_sigprof_thread_blocks_every_signal(void)
{
    sigset_t now;
    if (pthread_sigmask(SIG_BLOCK, NULL, &now) != 0) return;
    for (int sig = 1; sig < 32; sig++) /* the C library keeps 32 and 33 for itself */
        if (sig != SIGKILL && sig != SIGSTOP && !sigismember(&now, sig)) return;
    blocks_every_signal = true;
}

static void lock_view(sigset_t *saved)
{
    if (!blocks_every_signal) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, saved);
    }
    while (__atomic_exchange_n(&view_lock, 1, __ATOMIC_ACQUIRE)) {
    }
}

static void unlock_view(const sigset_t *saved)
{
    __atomic_store_n(&view_lock, 0, __ATOMIC_RELEASE);
    if (!blocks_every_signal) pthread_sigmask(SIG_SETMASK, saved, NULL);
}

int conan_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig != SIGPROF) return libc_sigaction(sig, act, old);
    sigset_t saved;
    lock_view(&saved);
    int rc = 0;
    struct conan_sigprof_view *v = &conan_sigprof_view;
    if (!__atomic_load_n(&v->installed, __ATOMIC_ACQUIRE)) {
        rc = libc_sigaction(sig, act, old);
    } else {
        if (old) *old = v->action;
        if (act) {
            publish(act);
            v->as_the_kernel_had_it = false;
        }
    }
    unlock_view(&saved);
    return rc;
}

static bool is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_sigprof;
}

bool conan_sigprof_program_has_handler(void)
{
    struct sigaction current;
    if (conan_sigaction(SIGPROF, NULL, &current) != 0) return true;
    if (is_ours(&current)) return false;
    if (current.sa_flags & SA_SIGINFO) return true;
    return current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
}

bool conan_sigprof_program_ignores(void)
{
    struct sigaction current;
    if (conan_sigaction(SIGPROF, NULL, &current) != 0) return false;
    return !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN;
}

int conan_sigprof_take(void)
{
    sigset_t saved;
    lock_view(&saved);
    struct conan_sigprof_view *v = &conan_sigprof_view;
    int rc = 0;
    if (!__atomic_load_n(&v->installed, __ATOMIC_ACQUIRE)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigprof;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        struct sigaction previous;
        rc = libc_sigaction(SIGPROF, &sa, &previous);
        if (rc == 0) {
            publish(&previous);
            v->as_the_kernel_had_it = true;
            __atomic_store_n(&v->installed, 1, __ATOMIC_RELEASE);
        }
    }
    if (rc == 0) {
        v->holders++;
        v->lingering_since_s = 0;
    }
    unlock_view(&saved);
    return rc;
}

/* Puts the program's action back. One it set while ours was installed goes
 * through the C library, as its own call would have. One we read from the
 * kernel goes back exactly as it was: glibc's sigaction adds SA_RESTORER to
 * every action it installs, so an untouched SIG_DFL (flags 0) would come back
 * with a flag the program never set, and its next sigaction() would show it.
 * Only SIG_DFL and SIG_IGN take the raw path (a handler needs the restorer,
 * which the saved action then has anyway). */
static int restore_action(const struct sigaction *act)
{
#if defined(__x86_64__)
    if (conan_sigprof_view.as_the_kernel_had_it && !(act->sa_flags & SA_SIGINFO) &&
        (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN)) {
        struct {
            void *handler;
            unsigned long flags;
            void *restorer;
            uint64_t mask;
        } raw = { (void *)act->sa_handler, (unsigned long)act->sa_flags, (void *)act->sa_restorer, 0 };
        memcpy(&raw.mask, &act->sa_mask, sizeof raw.mask);
        return (int)syscall(SYS_rt_sigaction, SIGPROF, &raw, NULL, sizeof raw.mask);
    }
#endif
    return libc_sigaction(SIGPROF, act, NULL);
}

/* View lock held, no holder left: restores the program's disposition. */
static void restore_program_action(void)
{
    struct conan_sigprof_view *v = &conan_sigprof_view;
    struct sigaction current;
    if (__atomic_load_n(&v->installed, __ATOMIC_ACQUIRE) && libc_sigaction(SIGPROF, NULL, &current) == 0) {
        /* Reached around us (a raw rt_sigaction): theirs now, leave it. */
        if (is_ours(&current)) restore_action(&v->action);
        __atomic_store_n(&v->installed, 0, __ATOMIC_RELEASE);
    }
    v->lingering_since_s = 0;
}

/* The last holder leaves the handler "lingering" and settles at once: the
 * program's disposition comes back now if no signal of ours is pending. */
void conan_sigprof_give_back(void)
{
    sigset_t saved;
    lock_view(&saved);
    struct conan_sigprof_view *v = &conan_sigprof_view;
    assert(v->holders > 0); /* a give-back without its take */
    if (v->holders > 0) v->holders--;
    if (v->holders == 0 && __atomic_load_n(&v->installed, __ATOMIC_ACQUIRE) && v->lingering_since_s == 0)
        v->lingering_since_s = conan_monotonic_seconds();
    unlock_view(&saved);
    conan_sigprof_settle();
}

#define PENDING_LOG_S 10.0   /* a signal of ours undelivered this long is worth a line */

/* Reading /proc for pending signals is slow: it is done without the view
 * lock, so the program's sigaction calls never wait for it. A take in between
 * makes holders non-zero again, and then nothing is restored. */
void conan_sigprof_settle(void)
{
    static int pending_once;
    struct conan_sigprof_view *v = &conan_sigprof_view;
    sigset_t saved;
    lock_view(&saved);
    double since = v->holders == 0 ? v->lingering_since_s : 0;
    unlock_view(&saved);
    if (since == 0) return;
    if (conan_sigprof_pending()) {
        if (conan_monotonic_seconds() - since > PENDING_LOG_S)
            conan_log_once(&pending_once, "a SIGPROF of libconan's has been pending for %.0f s (uninterruptible "
                                          "sleep?); libconan's SIGPROF handler stays until it is delivered",
                           PENDING_LOG_S);
        return;
    }
    lock_view(&saved);
    if (v->holders == 0 && v->lingering_since_s != 0) restore_program_action();
    unlock_view(&saved);
}

/* A SIGPROF that someone sent (kill, tgkill, sigqueue), not a timer's: with
 * the program's disposition SIG_DFL it must end the process as it would
 * have without us. A timer's signal that is not ours (the kernel's, late,
 * from a setitimer we armed) is not: it stays swallowed. */
static bool sent_by_someone(const siginfo_t *info)
{
    return info->si_code == SI_USER || info->si_code == SI_TKILL || info->si_code == SI_QUEUE;
}

/* Signal context: the default action, for real: SIG_DFL installed with the
 * raw system call (no lock), and the signal sent again to this thread; it is
 * blocked while this handler runs and is delivered, fatally, when it returns. */
static void die_by_sigprof(void)
{
#if defined(__x86_64__)
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } raw = { SIG_DFL, 0, NULL, 0 };
    if (syscall(SYS_rt_sigaction, SIGPROF, &raw, NULL, sizeof raw.mask) != 0) return;
#else
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    if (libc_sigaction(SIGPROF, &dfl, NULL) != 0) return;
#endif
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGPROF);
}

/* Signal context: the program's SIGPROF while ours is installed: its
 * handler, or its default action for a signal someone sent. */
static void forward_to_program(int sig, siginfo_t *info, void *ucontext)
{
    struct sigaction a;
    if (!read_action(&a)) return;
    if (a.sa_flags & SA_SIGINFO) {
        if (a.sa_sigaction && !is_ours(&a)) a.sa_sigaction(sig, info, ucontext);
    } else if (a.sa_handler == SIG_DFL) {
        if (sent_by_someone(info)) die_by_sigprof();
    } else if (a.sa_handler != SIG_IGN) {
        a.sa_handler(sig);
    }
}

static const unsigned long long SIGPROF_BIT = 1ULL << (SIGPROF - 1);

static void note_pending(pid_t tid, void *arg)
{
    unsigned long long pending;
    if (conan_task_status(tid, "SigPnd", 16, &pending) && (pending & SIGPROF_BIT)) *(bool *)arg = true;
}

bool conan_sigprof_pending(void)
{
    unsigned long long shared;
    bool pending = conan_task_status(0, "ShdPnd", 16, &shared) && (shared & SIGPROF_BIT);
    if (!pending) conan_for_each_task(note_pending, &pending);
    return pending;
}

/* Is the thread inside sigwait/sigtimedwait? The kernel unblocks the waited
 * signals for the length of the call, so its mask then looks open. */
static bool in_sigwait(pid_t tid)
{
    char text[32];
    return conan_task_file(tid, "syscall", text, sizeof text) && atol(text) == SYS_rt_sigtimedwait;
}

bool conan_sigprof_blocked_by(pid_t tid)
{
    unsigned long long blocked;
    if (in_sigwait(tid)) return true;
    if (!conan_task_status(tid, "SigBlk", 16, &blocked)) return true; /* gone already */
    return blocked & SIGPROF_BIT;
}
