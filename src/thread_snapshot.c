/* thread_snapshot.c — the threads profile: every thread's stack at one
 * moment, and the SIGPROF consumer that answers a snapshot request.
 *
 * The stacks are taken as thread_ask.c takes them: a thread blocked in the
 * kernel (nearly all of them, usually) is walked on the monitor from its /proc
 * registers, no signal; only threads running user code are sent a SIGPROF
 * carrying a pointer to their slot, and the monitor waits at most
 * threads.wait_ms for those handlers. A thread that blocks SIGPROF or does not
 * answer in time is still counted, with its state and an "unavailable" frame.
 * Threads a stuck-thread report names (stuck.c) carry two more labels:
 * stuck_for_s and syscall. */
#include "thread_snapshot.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "log.h"
#include "procfs.h"
#include "sigprof.h"
#include "stack_slot.h"
#include "syscall_names.h"
#include "thread_ask.h"

static struct conan_ask_pool snap; /* its slots, never unmapped */

bool conan_snapshot_on_signal(const siginfo_t *info, void *ucontext)
{
    return conan_ask_on_signal(&snap, info, ucontext);
}

#define RETRY_MS 5     /* a thread that blocks SIGPROF is read from /proc again this often */
#define RETRY_FOR_MS 30 /* and for this long at most */

/* The labels of one thread: its name and state, why it has no stack, and how
 * long it has been stuck where (pprof.c takes 4 labels: a stuck thread without
 * a stack keeps stuck_for_s, not syscall). Returns how many. */
static int thread_labels(struct conan_label *labels, const char *name, const char *state, const char *why,
                         const struct conan_stuck_thread *stuck, char *syscall, size_t syscall_len)
{
    int n = 0;
    labels[n++] = (struct conan_label){ .key = "thread", .str = name };
    labels[n++] = (struct conan_label){ .key = "state", .str = state };
    if (why) labels[n++] = (struct conan_label){ .key = "unavailable", .str = why };
    if (!stuck) return n;
    labels[n++] = (struct conan_label){ .key = "stuck_for_s", .num = llround(stuck->for_s), .num_unit = "seconds" };
    if (n == CONAN_PPROF_MAX_LABELS) return n;
    const char *known = conan_syscall_name(stuck->syscall);
    if (known) snprintf(syscall, syscall_len, "%s", known);
    else snprintf(syscall, syscall_len, "%ld", stuck->syscall); /* one we do not name: its number */
    labels[n++] = (struct conan_label){ .key = "syscall", .str = syscall };
    return n;
}

struct conan_pprof *conan_snapshot_profile(const struct conan_config *cfg, struct conan_threads_snapshot *out,
                                           const struct conan_stuck_report *stuck)
{
    static const struct conan_value_type type = { "threads", "count" };
    static int owned_once;
    memset(out, 0, sizeof *out);
    double t0 = conan_monotonic_seconds();
    struct conan_pprof *p = conan_pprof_new(&type, 1, type, 1);
    if (!p) return NULL;
    struct conan_task_list tasks;
    conan_task_list(&tasks, gettid());
    out->threads = tasks.n;

    if (conan_ask_reserve(&snap, tasks.n) != 0) {
        out->why_no_stacks = "no memory for the snapshot";
        tasks.n = 0;
    }
    conan_unwind_prepare();
    unsigned generation = conan_ask_generation(&snap);

    /* Threads blocked in the kernel (nearly all of them, usually) are walked
     * from the registers /proc shows: no signal, so their sleeps, polls and
     * waits are not interrupted (no EINTR, no short sleep). */
    long running = 0;
    for (int i = 0; i < tasks.n; i++) {
        struct conan_stack_slot *s = &snap.slot[i];
        s->tid = tasks.tid[i];
        s->generation = generation;
        int depth = conan_ask_walk_blocked(tasks.tid[i], s->pcs);
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
    if (signals && conan_sigprof_take() != 0) {
        signals = false;
        out->why_no_stacks = "SIGPROF could not be taken";
    }
    if (signals) conan_gate_open(&snap.gate, generation);
    for (int i = 0; signals && i < tasks.n; i++) {
        if (__atomic_load_n(&snap.slot[i].depth, __ATOMIC_ACQUIRE) != 0) continue;
        if (conan_sigprof_blocked_by(tasks.tid[i])) {
            __atomic_store_n(&snap.slot[i].depth, CONAN_ASK_NOT_ASKED, __ATOMIC_RELEASE); /* it would never answer */
            out->blocked++;
            continue;
        }
        if (conan_ask_send(tasks.tid[i], &snap.slot[i]) != 0)
            __atomic_store_n(&snap.slot[i].depth, CONAN_ASK_GONE, __ATOMIC_RELEASE);
    }

    /* Wait for the answers, never longer than threads.wait_ms. A thread that
     * blocks SIGPROF was running when /proc was read; it may be back in the
     * kernel a moment later (a loaded machine leaves a woken sleeper waiting
     * for a CPU), so it is read from /proc again every RETRY_MS, for at most
     * RETRY_FOR_MS: a thread that blocks SIGPROF and computes costs every
     * snapshot that much more, no longer. */
    double deadline = t0 + cfg->threads.wait_ms / 1000.0;
    double now = conan_monotonic_seconds();
    double retry_until = now + RETRY_FOR_MS / 1000.0, next_retry = now + RETRY_MS / 1000.0;
    for (;;) {
        long answered = 0, not_asked = 0;
        now = conan_monotonic_seconds();
        bool retrying = now < retry_until;
        bool retry = retrying && now >= next_retry;
        if (retry) next_retry = now + RETRY_MS / 1000.0;
        for (int i = 0; signals && i < tasks.n; i++) {
            int depth = __atomic_load_n(&snap.slot[i].depth, __ATOMIC_ACQUIRE);
            if (depth == CONAN_ASK_NOT_ASKED && retry) {
                int walked = conan_ask_walk_blocked(tasks.tid[i], snap.slot[i].pcs);
                if (walked > 0) {
                    __atomic_store_n(&snap.slot[i].depth, walked, __ATOMIC_RELEASE);
                    out->stacks_from_proc++;
                    out->blocked--;
                    depth = walked;
                }
            }
            not_asked += depth == CONAN_ASK_NOT_ASKED;
            if (depth != 0) answered++;
        }
        if (!signals || (answered == tasks.n && (not_asked == 0 || !retrying)) || now >= deadline) break;
        conan_sleep_ms(1);
    }
    conan_gate_close(&snap.gate);
    conan_gate_drain(&snap.gate, 1000);

    /* The profile: identical stacks with the same name and state are one sample. */
    const int64_t one = 1;
    uintptr_t blocked_frame = conan_pprof_pseudo_frame(p, "unavailable");
    for (int i = 0; i < tasks.n; i++) {
        pid_t tid = tasks.tid[i];
        char name[32] = "";
        conan_task_file(tid, "comm", name, sizeof name);
        char state[2] = { conan_task_state(tid), 0 };
        if (state[0] == '?') continue; /* ended meanwhile */
        int depth = tasks.n ? __atomic_load_n(&snap.slot[i].depth, __ATOMIC_ACQUIRE) : 0;
        const char *why = depth > 0 ? NULL
                          : depth == CONAN_ASK_NOT_ASKED ? "blocks SIGPROF"
                          : depth == CONAN_ASK_IN_EXEC ? "in execve"
                          : !signals ? "no stacks"
                          : "no answer in time";
        struct conan_label labels[CONAN_PPROF_MAX_LABELS];
        char syscall[24];
        int nlabels = thread_labels(labels, name, state, why, conan_stuck_find(stuck, tid), syscall, sizeof syscall);
        if (depth > 0) {
            conan_pprof_add(p, snap.slot[i].pcs, depth, &one, labels, nlabels);
            out->stacks++;
        } else {
            conan_pprof_add(p, &blocked_frame, 1, &one, labels, nlabels);
            if (signals && (depth == 0 || depth == CONAN_ASK_GONE)) out->timed_out++;
        }
    }
    conan_task_list_free(&tasks);

    /* Requests still queued (a thread in uninterruptible sleep) will arrive
     * later: sigprof.c keeps our handler to drop them, and gives SIGPROF back
     * at a later tick (conan_sigprof_settle). */
    if (signals) conan_sigprof_give_back();
    out->duration_s = conan_monotonic_seconds() - t0;
    return p;
}
