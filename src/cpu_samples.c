/* cpu_samples.c — the CPU sample buffer and the code that fills it from
 * SIGPROF: the only part of the CPU profiler that runs in signal context.
 * The buffer is private to this file; cpu_window.c opens and closes it around
 * a window, and the monitor reads it through conan_cpu_samples_collect.
 *
 * The buffer is claim-once, not a ring: a handler takes the next slot with
 * one atomic add and never wraps; when the slots run out, samples are dropped
 * and counted until the window ends.
 *
 * Constraints of conan_cpu_on_signal (it interrupts the program anywhere, even
 * inside malloc or the dynamic loader): async-signal-safe calls only; no
 * malloc, no locks, no stdio; it writes only to a slot it claimed (errno is
 * kept by sigprof.c's handler, which calls it). What it cannot take safely it
 * drops and counts: a full buffer, or a thread interrupted inside the dynamic
 * loader (objects may be appearing or vanishing under the unwind-table
 * snapshot; the walk itself never takes the loader's lock, see
 * unwind_context.c). All aggregation, symbolization and encoding happen later
 * on the monitor thread. */
#include "cpu.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "log.h"
#include "stack_slot.h"

#define INFLIGHT_WAIT_MS 1000           /* how long closing waits for running handlers */

static struct {
    struct conan_stack_slot *slot;
    long capacity;
    size_t bytes;
    long claimed;                /* atomic: slots handed out (may exceed capacity) */
    long dropped;                /* atomic: samples not taken, with reason counters below */
    long dropped_full, dropped_loader;
    struct conan_gate gate;      /* open while a window is */
    uintptr_t loader_start, loader_end; /* text of the dynamic loader */
    int kernel_timer;            /* atomic: setitimer is running; its signals carry no cookie */
    bool leaked;                 /* a handler never finished: never unmap */
} buf;

/* The si_value of our timers' signals: the address of the buffer itself,
 * which no one else can know. */
void *conan_cpu_timer_cookie(void)
{
    return &buf;
}

void conan_cpu_expect_kernel_timer(bool on)
{
    __atomic_store_n(&buf.kernel_timer, on, __ATOMIC_RELAXED);
}

static bool from_our_timer(const siginfo_t *info)
{
    if (info->si_code == SI_TIMER) return info->si_value.sival_ptr == conan_cpu_timer_cookie();
    return info->si_code == SI_KERNEL && __atomic_load_n(&buf.kernel_timer, __ATOMIC_RELAXED);
}

static void count_drop(long *reason)
{
    __atomic_fetch_add(&buf.dropped, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(reason, 1, __ATOMIC_RELAXED);
}

static void take_sample(const siginfo_t *info, void *ucontext)
{
    uintptr_t pc = conan_interrupted_pc(ucontext);
    if (pc >= buf.loader_start && pc < buf.loader_end) {
        count_drop(&buf.dropped_loader);
        return;
    }
    long index = __atomic_fetch_add(&buf.claimed, 1, __ATOMIC_RELAXED);
    if (index >= buf.capacity) {
        count_drop(&buf.dropped_full);
        return;
    }
    struct conan_stack_slot *s = &buf.slot[index];
    s->tid = gettid();
    /* A POSIX timer whose signal was still queued counts the missed ticks as
     * overruns: this sample stands for them too. */
    s->weight = 1 + (info->si_code == SI_TIMER && info->si_overrun > 0 ? info->si_overrun : 0);
    conan_stack_slot_fill(s, ucontext, true);
}

/* SIGPROF consumer (sigprof.c's table). A signal of our timers that arrives
 * after the window closed is still ours, and dropped. */
bool conan_cpu_on_signal(const siginfo_t *info, void *ucontext)
{
    if (!from_our_timer(info)) return false;
    if (conan_gate_enter(&buf.gate)) take_sample(info, ucontext);
    conan_gate_leave(&buf.gate);
    return true;
}

bool conan_cpu_samples_active(void)
{
    return __atomic_load_n(&buf.gate.open, __ATOMIC_RELAXED) != 0;
}

int conan_cpu_samples_open(long capacity, uintptr_t loader_start, uintptr_t loader_end)
{
    assert(!buf.slot && !conan_cpu_samples_active()); /* one window at a time */
    size_t bytes = (size_t)capacity * sizeof(struct conan_stack_slot);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return -1;
    buf.slot = mem;
    buf.capacity = capacity;
    buf.bytes = bytes;
    buf.claimed = buf.dropped = buf.dropped_full = buf.dropped_loader = 0;
    buf.loader_start = loader_start;
    buf.loader_end = loader_end;
    conan_gate_open(&buf.gate, 1);
    return 0;
}

void conan_cpu_samples_stop(void)
{
    conan_gate_close(&buf.gate);
}

/* A handler still running after INFLIGHT_WAIT_MS is stuck somewhere we
 * cannot help; its buffer is then leaked rather than unmapped under it. */
bool conan_cpu_samples_drain(void)
{
    static int stuck_handler_once;
    if (conan_gate_drain(&buf.gate, INFLIGHT_WAIT_MS)) return true;
    conan_log_once(&stuck_handler_once, "a SIGPROF handler did not finish; its sample buffer is left mapped");
    buf.leaked = true;
    return false;
}

void conan_cpu_samples_collect(struct conan_cpu_window *out)
{
    long claimed = __atomic_load_n(&buf.claimed, __ATOMIC_ACQUIRE);
    long n = claimed < buf.capacity ? claimed : buf.capacity;
    long complete = 0, weighted = 0;
    for (long i = 0; i < n; i++) {
        if (conan_stack_slot_depth(&buf.slot[i]) > 0) {
            complete++;
            weighted += buf.slot[i].weight;
        }
    }
    out->sample = buf.slot;
    out->nsample = n;
    out->samples = weighted;
    out->dropped = __atomic_load_n(&buf.dropped, __ATOMIC_RELAXED) + (n - complete);
    out->dropped_full = __atomic_load_n(&buf.dropped_full, __ATOMIC_RELAXED);
    out->dropped_loader = __atomic_load_n(&buf.dropped_loader, __ATOMIC_RELAXED);
}

bool conan_cpu_samples_free(void)
{
    bool freed = !buf.leaked;
    if (freed && buf.slot) munmap(buf.slot, buf.bytes);
    buf.leaked = false;
    buf.slot = NULL;
    buf.capacity = 0;
    return freed;
}

/* The parent's monitor may have been opening or freeing the buffer when the
 * process was copied, so its pointer and size may not match: the child's copy
 * of the mapping is forgotten, never unmapped (it costs the child address
 * space, and memory only for pages it writes). */
void conan_cpu_samples_postfork_child(void)
{
    conan_gate_reset(&buf.gate);
    buf.kernel_timer = 0;
    buf.slot = NULL;
    buf.capacity = 0;
    buf.bytes = 0;
    buf.leaked = false;
}
