/* thread_ask.c — taking another thread's stack without hurting it: the slot
 * pools, the request signal and its recognition in the handler, and the walk
 * of a blocked thread from /proc (thread_ask.h says who shares it).
 *
 * A thread blocked in the kernel is walked on the monitor from the stack
 * pointer and program counter /proc/self/task/<tid>/syscall shows: no signal,
 * so its sleep, poll or wait is not cut short. Only a thread running user
 * code is sent a SIGPROF carrying a pointer to its slot (rt_tgsigqueueinfo).
 * The slots are never unmapped, so a request that arrives late is recognised
 * as ours and dropped; until it has arrived, sigprof.c keeps our handler
 * installed, because SIG_DFL would terminate the process. Requests are sent
 * as timer signals, which execve discards, so none can follow a thread into a
 * new program. conan_ask_on_signal runs in signal context (stack_slot.h's
 * protocol); the rest on the monitor. */
#include "thread_ask.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "stack_walk.h"

bool conan_ask_on_signal(struct conan_ask_pool *pool, const siginfo_t *info, void *ucontext)
{
    if (info->si_code != SI_TIMER) return false;
    struct conan_stack_slot *s = info->si_value.sival_ptr;
    bool ours = false;
    int nregion = __atomic_load_n(&pool->nregion, __ATOMIC_ACQUIRE);
    for (int i = 0; i < nregion && !ours; i++)
        ours = s >= pool->region[i].slot && s < pool->region[i].slot + pool->region[i].capacity;
    if (!ours) return false;
    unsigned generation = conan_gate_enter(&pool->gate);
    if (generation && s->generation == generation && s->tid == gettid()) conan_stack_slot_fill(s, ucontext, false);
    conan_gate_leave(&pool->gate);
    return true;
}

int conan_ask_reserve(struct conan_ask_pool *pool, long n)
{
    if (n <= pool->capacity) return 0;
    if (pool->nregion == CONAN_ASK_REGIONS_MAX) return -1;
    long capacity = pool->capacity ? pool->capacity : 64;
    while (capacity < n) capacity *= 2;
    void *mem = mmap(NULL, (size_t)capacity * sizeof(struct conan_stack_slot), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    pool->region[pool->nregion].slot = mem;
    pool->region[pool->nregion].capacity = capacity;
    __atomic_store_n(&pool->nregion, pool->nregion + 1, __ATOMIC_RELEASE);
    pool->slot = mem;
    pool->capacity = capacity;
    return 0;
}

unsigned conan_ask_generation(struct conan_ask_pool *pool)
{
    unsigned generation = ++pool->last_generation;
    if (generation == 0) generation = ++pool->last_generation; /* 0 means "none running" */
    return generation;
}

int conan_ask_send(pid_t tid, struct conan_stack_slot *s)
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
    return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGPROF, &info);
}

static int walk_at(pid_t tid, const struct conan_task_syscall *at, uintptr_t *pcs)
{
    if (at->running) return 0;
    if (at->nr == SYS_execve || at->nr == SYS_execveat) return CONAN_ASK_IN_EXEC;
    if (!at->sp || !at->pc) return 0;
    return conan_unwind_blocked(tid, at, pcs, CONAN_MAX_FRAMES);
}

int conan_ask_walk_blocked(pid_t tid, uintptr_t *pcs)
{
    struct conan_task_syscall at;
    if (!conan_task_syscall(tid, &at)) return 0;
    return walk_at(tid, &at, pcs);
}

/* The kernel's clock id for one thread's CPU time (CPUCLOCK_PERTHREAD |
 * CPUCLOCK_SCHED, as glibc's pthread_getcpuclockid builds it), valid for the
 * threads of the calling process. */
static clockid_t thread_cpu_clock(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid << 3) | 6);
}

int64_t conan_ask_cpu_ns(pid_t tid)
{
    struct timespec ts;
    if (clock_gettime(thread_cpu_clock(tid), &ts) != 0) return -1;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void conan_ask_postfork_child(struct conan_ask_pool *pool)
{
    conan_gate_reset(&pool->gate);
}
