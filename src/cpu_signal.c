/* cpu_signal.c — the SIGPROF handler: the only code of the CPU profiler that
 * runs in signal context.
 *
 * Constraints (it interrupts the program anywhere, even inside malloc or the
 * dynamic loader): async-signal-safe calls only; no malloc, no locks, no stdio;
 * errno saved and restored; writes only to a slot it claimed with one atomic
 * add in a buffer the monitor thread preallocated. What it cannot take safely it
 * drops and counts: a full buffer, or a thread interrupted inside the dynamic
 * loader (objects may be appearing or vanishing under the unwind-table
 * snapshot; the walk itself never takes the loader's lock, see unwind_context.c).
 * A SIGPROF without our timers' cookie is a thread-snapshot request, handled
 * in threads.c, or else the program's, forwarded to its handler (sigprof.c).
 * All aggregation, symbolization and encoding happen later on the monitor
 * thread. */
#include "cpu.h"
#include "sigprof.h"
#include "stack_walk.h"
#include "threads.h"

#include <errno.h>
#include <ucontext.h>
#include <unistd.h>

struct conan_sample_ring conan_cpu_ring;
int conan_cpu_kernel_timer;

static bool from_our_timer(const siginfo_t *info)
{
    if (info->si_code == SI_TIMER) return info->si_value.sival_ptr == CONAN_TIMER_COOKIE;
    return info->si_code == SI_KERNEL && __atomic_load_n(&conan_cpu_kernel_timer, __ATOMIC_RELAXED);
}

static uintptr_t interrupted_pc(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static void count_drop(long *reason)
{
    __atomic_fetch_add(&conan_cpu_ring.dropped, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(reason, 1, __ATOMIC_RELAXED);
}

static void take_sample(const siginfo_t *info, void *ucontext)
{
    struct conan_sample_ring *ring = &conan_cpu_ring;
    uintptr_t pc = interrupted_pc(ucontext);
    if (pc >= ring->loader_start && pc < ring->loader_end) {
        count_drop(&ring->dropped_loader);
        return;
    }
    long index = __atomic_fetch_add(&ring->claimed, 1, __ATOMIC_RELAXED);
    if (index >= ring->capacity) {
        count_drop(&ring->dropped_full);
        return;
    }
    struct conan_cpu_sample *s = &ring->slot[index];
    s->tid = gettid();
    /* A POSIX timer whose signal was still queued counts the missed ticks as
     * overruns: this sample stands for them too. */
    s->weight = 1 + (info->si_code == SI_TIMER && info->si_overrun > 0 ? info->si_overrun : 0);
    int depth = conan_unwind_context(ucontext, s->pcs, CONAN_MAX_FRAMES);
    if (depth == 0) {
        s->pcs[0] = pc;
        depth = 1;
    }
    __atomic_store_n(&s->depth, depth, __ATOMIC_RELEASE);
}

void conan_cpu_on_sigprof(int sig, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;
    if (!from_our_timer(info)) {
        /* A thread-snapshot request (threads.c), or the program's own SIGPROF. */
        if (!conan_threads_on_signal(info, ucontext)) conan_sigprof_forward(sig, info, ucontext);
        errno = saved_errno;
        return;
    }
    /* inflight is raised before active is read, and the monitor clears active
     * before it waits for inflight to reach zero: both sequentially consistent,
     * so no handler can touch the buffer after the monitor has seen zero. */
    __atomic_fetch_add(&conan_cpu_ring.inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&conan_cpu_ring.active, __ATOMIC_SEQ_CST)) take_sample(info, ucontext);
    __atomic_fetch_sub(&conan_cpu_ring.inflight, 1, __ATOMIC_SEQ_CST);
    errno = saved_errno;
}
