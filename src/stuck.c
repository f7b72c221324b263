/* stuck.c — owns the stuck-thread watch: which threads of the process sit
 * blocked at one place (the same system call, the same user stack) for
 * stuck.after_s, and the names of the system calls they block in.
 *
 * Design. A table of the threads seen (sorted by tid, monitor thread only)
 * remembers, per thread, where the previous look found it. A look is one read
 * of /proc/self/task/<tid>/syscall: "running", "-1 <sp> <pc>" (stopped
 * outside a system call) or "<nr> <6 args> <sp> <pc>" (blocked in system
 * call nr). A thread whose (nr, sp, pc) differs from the previous look has
 * moved: nothing more is done for it. Only a thread found at the same
 * registers twice is looked at more closely:
 * - its state: a stopped, traced or zombie thread is not stuck (the process
 *   is not alive to it), and the time it spends so does not count;
 * - its CPU time (schedstat): a thread that ran between two close looks left
 *   and came back (a timer loop, a poll with a timeout), so it is not stuck,
 *   and its time at the place starts again. One that did not is "still"; only
 *   a still thread can be stuck, so it takes at least three looks (two ticks
 *   after the first) however short stuck.after_s is;
 * - its user stack, walked from sp and pc as thread snapshots walk it, hashed
 *   with the system call and compared with the previous walk's hash.
 * A thread is stuck when it has been at one place for stuck.after_s, counted
 * from the first look that found it there.
 *
 * Two guards keep idle threads out (a pool parked in epoll_wait or
 * pthread_cond_wait for hours is idle, not stuck):
 * - a thread counts only at a place it was seen arriving at: one that sits
 *   where it sat when the watch first saw it (parked since before, or since it
 *   started) never counts until it moves;
 * - when a thread reaches stuck.after_s, its stack is symbolized once; if any
 *   frame's function matches a stuck.ignore glob, the place is idle and never
 *   reported. The verdict, with the innermost function of the program (the
 *   leaf-most frame outside the runtime libraries), is kept per place (the
 *   stack hash: the same for every thread of a pool), so a pool is symbolized
 *   once, not once per thread or per tick; a thread at a place judged idle is
 *   not looked at closely again until it moves.
 * Symbolizing at the threshold, not when a thread first sits still, means a
 * thread that only waits a few seconds never costs a symbol-table read.
 *
 * Cost per tick: the thread list and one small /proc read per thread; for a
 * thread at the same place as the previous look (not known idle, and seen
 * elsewhere first) two more small reads (state, CPU time), and a stack walk
 * when it first sits still there and when its place needs a verdict: a thread
 * that has not run since its stack was walked has the same stack. No signal is ever
 * sent. A thread that ends between reads is dropped (its files are gone).
 * Above stuck.max_threads threads nothing is looked at. */
#include "stuck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "procfs.h"
#include "stack_walk.h"
#include "symbols.h"

enum verdict { VERDICT_UNKNOWN, VERDICT_IDLE, VERDICT_NOT_IDLE };

struct place {
    long nr;                     /* system call */
    uintptr_t sp, pc;            /* user registers /proc shows for it */
};

struct watched {
    pid_t tid;
    bool seen;                   /* in this tick's thread list */
    bool blocked;                /* the last look found it in a system call: at is valid */
    bool seen_elsewhere;         /* seen running, or at another place, before it came to at */
    bool walked;                 /* hash is its stack at at */
    bool reported;               /* in a threads profile since it came to at */
    bool ran_known;              /* ran_ns was read at this place */
    bool still;                  /* did not run between the last two close looks */
    enum verdict verdict;        /* of the place: idle (stuck.ignore) or not */
    struct place at;
    uint64_t hash;               /* of the system call and the stack at at */
    uint64_t ran_ns;             /* its CPU time at the previous close look */
    double since;                /* first look that found it at at */
    char function[sizeof ((struct conan_stuck_thread *)0)->function];
};

static struct {
    struct watched *thread;      /* [0, nsorted) sorted by tid, then threads new this tick */
    int n, nsorted, cap;
} table;

/* ---- verdicts per place ---- */

#define VERDICTS 256             /* places remembered; a power of two. Forgotten all at once when 3/4 full */

struct verdict_slot {
    uint64_t hash;               /* 0: empty (stack hashes are never 0) */
    bool idle;
    char function[sizeof ((struct conan_stuck_thread *)0)->function];
};
static struct verdict_slot *verdicts; /* VERDICTS slots, allocated at the first verdict */
static int nverdicts;

static struct verdict_slot *verdict_find(uint64_t hash)
{
    for (unsigned i = 0; verdicts && i < VERDICTS; i++) {
        struct verdict_slot *v = &verdicts[(hash + i) & (VERDICTS - 1)];
        if (v->hash == hash) return v;
        if (v->hash == 0) return NULL;
    }
    return NULL;
}

static void verdict_keep(uint64_t hash, bool idle, const char *function)
{
    if (!verdicts && !(verdicts = calloc(VERDICTS, sizeof *verdicts))) return;
    if (nverdicts >= VERDICTS * 3 / 4) { /* a program with that many places: start over, it costs a re-read */
        memset(verdicts, 0, VERDICTS * sizeof *verdicts);
        nverdicts = 0;
    }
    for (unsigned i = 0; i < VERDICTS; i++) {
        struct verdict_slot *v = &verdicts[(hash + i) & (VERDICTS - 1)];
        if (v->hash != 0 && v->hash != hash) continue;
        nverdicts += v->hash == 0;
        v->hash = hash;
        v->idle = idle;
        snprintf(v->function, sizeof v->function, "%s", function);
        return;
    }
}

/* ---- the table of threads ---- */

/* Growing copies, publishes, then frees: a fork at any moment leaves the
 * child's table pointing at a live block, which conan_stuck_reset frees. */
static struct watched *table_add(pid_t tid)
{
    if (table.n == table.cap) {
        int cap = table.cap ? table.cap * 2 : 64;
        struct watched *grown = malloc((size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        struct watched *old = table.thread;
        if (table.n) memcpy(grown, old, (size_t)table.n * sizeof *grown);
        table.thread = grown;
        table.cap = cap;
        free(old);
    }
    struct watched *w = &table.thread[table.n++];
    memset(w, 0, sizeof *w);
    w->tid = tid;
    return w;
}

static struct watched *table_find(pid_t tid)
{
    int lo = 0, hi = table.nsorted - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (table.thread[mid].tid == tid) return &table.thread[mid];
        if (table.thread[mid].tid < tid) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int by_tid(const void *a, const void *b)
{
    pid_t x = ((const struct watched *)a)->tid, y = ((const struct watched *)b)->tid;
    return (x > y) - (x < y);
}

/* Threads that ended (not listed, or gone mid-look) leave; new ones are sorted in. */
static void table_settle(void)
{
    int kept = 0;
    for (int i = 0; i < table.n; i++)
        if (table.thread[i].seen) table.thread[kept++] = table.thread[i];
    bool added = table.n > table.nsorted;
    table.n = table.nsorted = kept;
    if (added) qsort(table.thread, (size_t)table.n, sizeof *table.thread, by_tid);
}

void conan_stuck_reset(void)
{
    free(table.thread);
    memset(&table, 0, sizeof table);
    free(verdicts);
    verdicts = NULL;
    nverdicts = 0;
}

/* ---- one look at a thread ---- */

enum sighting { SIGHT_GONE, SIGHT_ELSEWHERE, SIGHT_BLOCKED };

/* Where /proc says tid is: blocked in a system call at *p, elsewhere (running,
 * or stopped outside a system call), or gone. */
static enum sighting read_place(pid_t tid, struct place *p)
{
    struct conan_task_syscall at;
    if (!conan_task_syscall(tid, &at)) return SIGHT_GONE;
    if (at.running || at.nr < 0 || !at.sp || !at.pc) return SIGHT_ELSEWHERE; /* -1: not in a system call */
    *p = (struct place){ .nr = at.nr, .sp = at.sp, .pc = at.pc };
    return SIGHT_BLOCKED;
}

static bool same_place(const struct place *a, const struct place *b)
{
    return a->nr == b->nr && a->sp == b->sp && a->pc == b->pc;
}

static void move_away(struct watched *w)
{
    w->seen_elsewhere = true;
    w->blocked = w->walked = w->reported = w->ran_known = w->still = false;
    w->verdict = VERDICT_UNKNOWN;
}

static void arrive(struct watched *w, const struct place *p, double now_s)
{
    if (w->blocked) w->seen_elsewhere = true; /* it came from another place */
    w->blocked = true;
    w->at = *p;
    w->since = now_s;
    w->walked = w->reported = w->ran_known = w->still = false;
    w->verdict = VERDICT_UNKNOWN;
    w->function[0] = '\0';
}

/* What one check shares between its looks: symbols are opened at most once
 * per check, and only when a thread needs a verdict. */
struct check {
    const struct conan_config *cfg;
    double now_s;
    bool unwind_ready, walked;
    struct conan_symbols *syms;
    bool syms_failed;
};

/* 64-bit FNV-1a over words, with a final mix so that the low bits index the
 * verdict table well. Never 0 (an empty verdict slot). */
static uint64_t stack_hash(long nr, const uintptr_t *pcs, int depth)
{
    uint64_t h = 14695981039346656037ULL;
    h = (h ^ (uint64_t)nr) * 1099511628211ULL;
    for (int i = 0; i < depth; i++) h = (h ^ (uint64_t)pcs[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h | 1;
}

/* The user stack of a thread blocked at w->at, leaf first; 0 if it moved
 * during the walk (its stack was changing under it). */
static int walk_stack(struct watched *w, struct check *c, uintptr_t *pcs)
{
    if (!c->unwind_ready) {
        conan_unwind_prepare(); /* the unwind tables of objects loaded since the last walk */
        c->unwind_ready = true;
    }
    c->walked = true;
    struct conan_task_syscall at = { .nr = w->at.nr, .sp = w->at.sp, .pc = w->at.pc };
    return conan_unwind_blocked(w->tid, &at, pcs, CONAN_MAX_FRAMES);
}

/* The C and C++ runtimes, the sanitizers' (their interceptors stand in for
 * libc's functions) and libconan: the innermost frame outside them names the
 * program's code that waits (a deadlock shows the function that took the
 * lock, not __lll_lock_wait). */
static bool in_runtime_library(const char *path)
{
    static const char *const runtime[] = { "libc.so", "libc-", "libpthread", "ld-linux", "ld-musl", "libc.musl",
                                           "libstdc++", "libc++", "libgcc_s", "libasan", "libtsan", "libubsan",
                                           "libconan", "[vdso]" };
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof runtime / sizeof *runtime; i++)
        if (strncmp(base, runtime[i], strlen(runtime[i])) == 0) return true;
    return false;
}

static bool name_ignored(const struct conan_config *cfg, const char *name, const char *system_name)
{
    return (name && conan_names_match(&cfg->stuck.ignore, name)) ||
           (system_name && conan_names_match(&cfg->stuck.ignore, system_name));
}

/* Symbolizes a stack: is any frame's function in stuck.ignore, and which is
 * the innermost function of the program. False if the symbols could not be
 * read whole (a verdict from them could miss an ignored name: tried again at
 * the next check). */
static bool judge(struct check *c, const uintptr_t *pcs, int depth, bool *idle, char *function, size_t len)
{
    if (!c->syms && !c->syms_failed) c->syms_failed = !(c->syms = conan_symbols_open());
    if (!c->syms) return false;
    const char *innermost = NULL, *leaf = NULL;
    *idle = false;
    for (int i = 0; i < depth && !*idle; i++) {
        const char *name = NULL, *system_name = NULL;
        if (!conan_symbols_lookup(c->syms, pcs[i], &name, &system_name) || !name) continue;
        *idle = name_ignored(c->cfg, name, system_name);
        if (!leaf) leaf = name;
        long m = conan_symbols_find_mapping(c->syms, pcs[i]);
        if (!innermost && m >= 0 && !in_runtime_library(conan_symbols_mapping(c->syms, (size_t)m)->path))
            innermost = name;
    }
    snprintf(function, len, "%s", innermost ? innermost : leaf ? leaf : "");
    return conan_symbols_complete(c->syms);
}

/* A tick may come a little early (the monitor's sleeps are not exact): with
 * stuck.after_s a whole number of ticks, a thread there since a look would
 * otherwise wait one tick more, half the time. */
#define TICK_JITTER 0.1          /* share of interval_ms a tick may be early */

/* At its place for stuck.after_s, counted from the first look that found it
 * there (it may have been there up to a tick longer). */
static bool long_enough(const struct watched *w, const struct conan_config *cfg, double now_s)
{
    return now_s - w->since >= cfg->stuck.after_s - TICK_JITTER * cfg->interval_ms / 1000.0;
}

/* Within a tick of stuck.after_s: a thread that arrived at its place just
 * after a look is first seen there one look later, so of two threads that
 * blocked together (the two sides of a deadlock) one can trail the other by
 * a tick. Such a thread is judged (idle or not) a tick early and named with
 * a trip it would have joined had the looks fallen otherwise. */
static bool nearly_long_enough(const struct watched *w, const struct conan_config *cfg, double now_s)
{
    return now_s - w->since >= cfg->stuck.after_s - (1 + TICK_JITTER) * cfg->interval_ms / 1000.0;
}

/* Blocked, still, seen arriving, not idle: stuck once long enough there. */
static bool waits_at_place(const struct watched *w)
{
    return w->blocked && w->seen_elsewhere && w->walked && w->still && w->verdict == VERDICT_NOT_IDLE;
}

static bool is_stuck(const struct watched *w, const struct conan_config *cfg, double now_s)
{
    return waits_at_place(w) && long_enough(w, cfg, now_s);
}

/* The CPU time tid has had, in ns (schedstat's first field: exact, where
 * stat's utime and stime count whole clock ticks); false if unreadable. A
 * kernel without scheduler statistics shows 0: the same each time, so the
 * check then never finds a thread that ran. */
static bool cpu_time_ns(pid_t tid, uint64_t *ns)
{
    char line[96];
    if (!conan_task_file(tid, "schedstat", line, sizeof line)) return false;
    char *end;
    *ns = strtoull(line, &end, 10);
    return end != line;
}

/* A thread at the same registers as the previous look: same stack too? Then
 * at stuck.after_s, the place's verdict. */
static void look_closer(struct watched *w, struct check *c)
{
    char state = conan_task_state(w->tid);
    if (state == '?') {
        w->seen = false; /* ended: dropped */
        return;
    }
    if (state == 'T' || state == 't' || state == 'Z') {
        w->since = c->now_s; /* stopped: time spent so does not count */
        return;
    }
    uint64_t ran_ns = 0;
    bool readable = cpu_time_ns(w->tid, &ran_ns);
    bool ran = readable && w->ran_known && ran_ns != w->ran_ns;
    if (ran) arrive(w, &w->at, c->now_s); /* it left and came back between two looks */
    w->still = !readable || (w->ran_known && !ran); /* unreadable: registers and stack must do */
    w->ran_ns = ran_ns;
    w->ran_known = readable;
    if (ran) return;
    /* Walked at this place and not run since: its stack is as it was (a
     * thread that does not run does not change its frames), so it is walked
     * again only when its place needs a verdict, at stuck.after_s. */
    if (w->walked && w->still && (w->verdict != VERDICT_UNKNOWN || !nearly_long_enough(w, c->cfg, c->now_s))) return;
    uintptr_t pcs[CONAN_MAX_FRAMES];
    int depth = walk_stack(w, c, pcs);
    if (depth == 0) {
        move_away(w);
        return;
    }
    uint64_t hash = stack_hash(w->at.nr, pcs, depth);
    if (w->walked && hash != w->hash) arrive(w, &w->at, c->now_s); /* same registers, other callers */
    w->hash = hash;
    w->walked = true;
    const struct verdict_slot *known = w->verdict == VERDICT_UNKNOWN ? verdict_find(hash) : NULL;
    if (known) {
        w->verdict = known->idle ? VERDICT_IDLE : VERDICT_NOT_IDLE;
        snprintf(w->function, sizeof w->function, "%s", known->function);
    }
    if (w->verdict != VERDICT_UNKNOWN || !w->still || !nearly_long_enough(w, c->cfg, c->now_s)) return;
    bool idle;
    if (!judge(c, pcs, depth, &idle, w->function, sizeof w->function)) return;
    w->verdict = idle ? VERDICT_IDLE : VERDICT_NOT_IDLE;
    verdict_keep(hash, idle, w->function);
}

static void look(struct watched *w, struct check *c)
{
    struct place p;
    switch (read_place(w->tid, &p)) {
    case SIGHT_GONE: w->seen = false; return;
    case SIGHT_ELSEWHERE: move_away(w); return;
    case SIGHT_BLOCKED: break;
    }
    if (!w->blocked || !same_place(&p, &w->at)) {
        arrive(w, &p, c->now_s);
        return;
    }
    /* It cannot be stuck here (never seen elsewhere), or the place is idle:
     * no need to look closer until it moves. */
    if (!w->seen_elsewhere || w->verdict == VERDICT_IDLE) return;
    look_closer(w, c);
}

/* ---- the report ---- */

static void report_thread(struct conan_stuck_thread *t, const struct watched *w, double now_s)
{
    memset(t, 0, sizeof *t);
    t->tid = w->tid;
    conan_task_file(w->tid, "comm", t->name, sizeof t->name);
    t->syscall = w->at.nr;
    t->for_s = now_s - w->since;
    snprintf(t->function, sizeof t->function, "%s", w->function);
}

/* Fresh threads are listed first, so that more than CONAN_STUCK_MAX stuck
 * threads never hide a new one behind those already reported. When a fresh
 * one makes the tick a trip, threads within a tick of after_s (not reported
 * yet) are listed with it (nearly_long_enough); only stuck ones count as fresh. */
static void fill_report(const struct conan_config *cfg, double now_s, struct conan_stuck_report *out)
{
    out->n = out->fresh = 0;
    int listed = 0;
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < table.n; i++) {
            const struct watched *w = &table.thread[i];
            bool stuck = is_stuck(w, cfg, now_s);
            bool take = pass == 0   ? stuck && !w->reported
                        : pass == 1 ? out->fresh > 0 && !stuck && !w->reported && waits_at_place(w) &&
                                          nearly_long_enough(w, cfg, now_s)
                                    : stuck && w->reported;
            if (!take) continue;
            out->n++;
            out->fresh += pass == 0;
            if (listed < CONAN_STUCK_MAX) report_thread(&out->thread[listed++], w, now_s);
        }
}

void conan_stuck_check(const struct conan_config *cfg, double now_s, struct conan_stuck_report *out)
{
    static int too_many_once;
    out->n = out->fresh = 0;
    if (!cfg->stuck.enable) return;
    struct conan_task_list tasks;
    conan_task_list(&tasks, gettid()); /* not the monitor: it is the caller */
    if (tasks.n > cfg->stuck.max_threads) {
        conan_log_once(&too_many_once, "%d threads, above stuck.max_threads (%d): no stuck-thread check while "
                       "there are that many", tasks.n, cfg->stuck.max_threads);
        conan_task_list_free(&tasks);
        conan_stuck_reset(); /* when they are fewer again, every thread is new */
        return;
    }
    struct check c = { .cfg = cfg, .now_s = now_s };
    for (int i = 0; i < table.n; i++) table.thread[i].seen = false;
    for (int i = 0; i < tasks.n; i++) {
        struct watched *w = table_find(tasks.tid[i]);
        if (!w && !(w = table_add(tasks.tid[i]))) continue; /* no memory: not watched this tick */
        w->seen = true;
        look(w, &c);
    }
    conan_task_list_free(&tasks);
    table_settle();
    fill_report(cfg, now_s, out);
    if (c.syms) conan_symbols_close(c.syms);
    if (c.walked) conan_unwind_release_retired(); /* tables replaced by conan_unwind_prepare */
}

void conan_stuck_reported(const struct conan_stuck_report *report)
{
    for (int i = 0; i < report->n && i < CONAN_STUCK_MAX; i++) {
        struct watched *w = table_find(report->thread[i].tid);
        if (w && w->blocked) w->reported = true;
    }
}

const struct conan_stuck_thread *conan_stuck_find(const struct conan_stuck_report *report, pid_t tid)
{
    for (int i = 0; report && i < report->n && i < CONAN_STUCK_MAX; i++)
        if (report->thread[i].tid == tid) return &report->thread[i];
    return NULL;
}
