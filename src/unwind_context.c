/* unwind_context.c — stack walks from a machine context, with libunwind: a
 * signal's ucontext (the SIGPROF handler), the registers /proc shows for a
 * thread blocked in the kernel (thread snapshots), or a getcontext (the last
 * resort of the calling-thread walk, unwind_caller.c); the unwind-table
 * snapshot these walks search and the validated reads they make.
 *
 * conan_unwind_context runs inside the SIGPROF handler, so it must be
 * async-signal-safe, must take no lock another thread of the program may hold,
 * and must not touch anything of the program's. libunwind's ready-made local
 * unwinder breaks the last two rules:
 * - to find unwind tables it calls dl_iterate_phdr, which takes the C
 *   library's loader lock: a thread interrupted while holding it (dlopen, a C++
 *   throw, backtrace()) would deadlock on itself;
 * - to validate memory it writes through a pipe it keeps in two global
 *   descriptors and closes and reopens them on EBADF: after a program closes
 *   descriptors it did not open (closefrom) those numbers are its own files.
 *
 * So we give libunwind an address space of our own:
 * - find_proc_info searches a snapshot of every loaded object's executable range
 *   and .eh_frame_hdr search table, built on the monitor thread (where taking
 *   the loader lock is fine) at the start of a window and whenever the loader's
 *   add/remove counters move, published by one pointer store;
 * - registers come from the signal's ucontext;
 * - every memory read goes through read_word: the first read in a page is done
 *   with process_vm_readv on our own pid, which fails with EFAULT on unmapped or
 *   PROT_NONE pages instead of faulting, and pages that passed are then read
 *   directly for the rest of the walk. Where that system call is not known to
 *   be allowed (a seccomp filter is active), we do not walk at all: the sample
 *   keeps its leaf PC only.
 * No descriptor, no allocation, no lock the program can hold. */
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "dwarf_encoding.h"
#include "frame_rules.h"
#include "log.h"
#include "once.h"
#include "procfs.h"
#include "stack_walk.h"
#include "fork.h"

#define PAGE_CACHE 16            /* validated pages remembered during one walk */

struct walk {
    const ucontext_t *uc;
    uintptr_t page[PAGE_CACHE];
    int npage, next;
    bool no_info;                /* find_proc_info found no unwind info (libunwind's walk) */
};

static unw_addr_space_t address_space;
static pid_t own_pid;
static uintptr_t page_mask;

/* Exported by libunwind for its own remote back-ends, not in its public header. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
                                              unw_proc_info_t *pi, int need_unwind_info, void *arg);

/* ---- the unwind-table snapshot (built on the monitor thread) ---- */

struct unwind_table {
    uintptr_t start, end;        /* executable range of one PT_LOAD */
    unw_dyn_info_t di;           /* its object's .eh_frame_hdr search table */
    size_t fde_count;            /* entries in that table */
};

struct table_snapshot {
    unsigned long long adds, subs;   /* dl_iterate_phdr's counters when built */
    uint32_t generation;             /* atomic: conan_frame_rules_generation it is known good for */
    struct table_snapshot *retired;  /* older snapshots, freed when no walk runs */
    int n;
    struct unwind_table table[];
};

static struct table_snapshot *tables;   /* read by handlers with one atomic load */
static long walkers;                    /* atomic: walks running now (signal handlers, heap samples) */

struct snapshot_build {
    struct table_snapshot *snap;
    int cap;
    unsigned long long adds, subs;
};

static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct snapshot_build *b = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        b->adds = info->dlpi_adds;
        b->subs = info->dlpi_subs;
    }
    const unsigned char *hdr = NULL;
    size_t hdr_size = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) {
            hdr = (const unsigned char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
            hdr_size = info->dlpi_phdr[i].p_memsz;
        }
    /* version 1, and a table of (sdata4 initial location, sdata4 FDE) pairs
     * relative to the header (DW_EH_PE_datarel | DW_EH_PE_sdata4). */
    if (!hdr || hdr_size < 4 || hdr[0] != 1 || hdr[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4)) return 0;
    struct conan_dwarf_cursor c = { hdr + 4, hdr + hdr_size, false };
    uintptr_t eh_frame, fde_count;
    if (!conan_dwarf_read_pointer(&c, hdr[1], &eh_frame) || !conan_dwarf_read_pointer(&c, hdr[2], &fde_count) ||
        fde_count == 0)
        return 0;
    const unsigned char *p = c.p; /* the table */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        if (b->snap->n == b->cap) return 1; /* full: stop; the rest is unwalkable */
        struct unwind_table *t = &b->snap->table[b->snap->n++];
        memset(t, 0, sizeof *t);
        t->start = info->dlpi_addr + ph->p_vaddr;
        t->end = t->start + ph->p_memsz;
        t->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
        t->di.start_ip = t->start;
        t->di.end_ip = t->end;
        t->di.u.rti.segbase = (unw_word_t)hdr;
        t->di.u.rti.table_data = (unw_word_t)p;
        t->di.u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);
        t->fde_count = fde_count;
    }
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const struct unwind_table *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
    unsigned long long *counters = arg;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) return 1;
    counters[0] = info->dlpi_adds;
    counters[1] = info->dlpi_subs;
    return 1;
}

#define TABLES_MAX 4096

/* The generation is read first: a dlclose that starts after it makes the
 * snapshot stale for the signal walk's rule computations, one that ended
 * before it is in the snapshot. A dlclose that unloaded nothing (the object
 * was still referenced) leaves the counters alone: the snapshot is then known
 * good for the new generation as it is. */
void conan_unwind_refresh_tables(void)
{
    uint32_t gen = conan_frame_rules_generation();
    struct table_snapshot *old = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    unsigned long long counters[2] = { 0, 0 };
    dl_iterate_phdr(read_counters, counters);
    if (old && old->adds == counters[0] && old->subs == counters[1]) {
        __atomic_store_n(&old->generation, gen, __ATOMIC_RELEASE);
        return;
    }

    struct snapshot_build b = { .cap = TABLES_MAX };
    b.snap = calloc(1, sizeof *b.snap + TABLES_MAX * sizeof(struct unwind_table));
    if (!b.snap) return;
    dl_iterate_phdr(add_object, &b);
    qsort(b.snap->table, (size_t)b.snap->n, sizeof *b.snap->table, by_start);
    b.snap->adds = b.adds;
    b.snap->subs = b.subs;
    b.snap->generation = gen;
    b.snap->retired = old;       /* a walk may still be reading it */
    __atomic_store_n(&tables, b.snap, __ATOMIC_RELEASE);
}

void conan_unwind_release_retired(void)
{
    struct table_snapshot *current = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    if (!current) return;
    struct table_snapshot *old = __atomic_exchange_n(&current->retired, NULL, __ATOMIC_SEQ_CST);
    if (!old) return;
    /* A walk that started before the exchange may still read an old snapshot;
     * one that starts after it sees only the current one. Walks are short
     * (tens of µs); if they keep overlapping, try again next time. */
    for (int i = 0; __atomic_load_n(&walkers, __ATOMIC_SEQ_CST) != 0; i++) {
        if (i == 100) {
            __atomic_store_n(&current->retired, old, __ATOMIC_RELEASE);
            return;
        }
        struct timespec pause = { 0, 100000 };
        nanosleep(&pause, NULL);
    }
    while (old) {
        struct table_snapshot *next = old->retired;
        free(old);
        old = next;
    }
}

/* Signal context: the snapshot's table whose executable range holds ip. */
static const struct unwind_table *table_of(const struct table_snapshot *snap, uintptr_t ip)
{
    int lo = 0, hi = snap->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const struct unwind_table *t = &snap->table[mid];
        if (ip < t->start)
            hi = mid - 1;
        else if (ip >= t->end)
            lo = mid + 1;
        else
            return t;
    }
    return NULL;
}

/* Signal context: binary search of the snapshot, then libunwind's table search
 * reading through our access_mem. Objects loaded after the snapshot are
 * unknown until the next refresh (the walk stops there). */
static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info, void *arg)
{
    const struct table_snapshot *snap = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    const struct unwind_table *t = snap ? table_of(snap, ip) : NULL;
    int found = -UNW_ENOINFO;
    if (t) {
        unw_dyn_info_t di = t->di;
        found = UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg);
    }
    if (found == -UNW_ENOINFO) ((struct walk *)arg)->no_info = true;
    return found;
}

static bool page_known(const struct walk *w, uintptr_t page)
{
    for (int i = 0; i < w->npage; i++)
        if (w->page[i] == page) return true;
    return false;
}

static void page_remember(struct walk *w, uintptr_t page)
{
    w->page[w->next] = page;
    w->next = (w->next + 1) % PAGE_CACHE;
    if (w->npage < PAGE_CACHE) w->npage++;
}

/* Async-signal-safe read of one word that cannot fault. The word may be on
 * another thread's stack (a blocked thread walked from /proc, whose stack does
 * not move while it stays blocked, which the caller checks afterwards): a
 * deliberate read of memory we do not own, so the sanitizers do not instrument
 * it, as for frame_rules.c's stack reads (the first read of each page goes
 * through process_vm_readv, which they do not see either). */
/* libunwind also asks for words at unaligned addresses (instruction bytes
 * it inspects; seen under UBSan), which x86 and arm64 load fine but C only
 * through a type of alignment 1. */
typedef unw_word_t __attribute__((aligned(1), may_alias)) unaligned_word;

__attribute__((no_sanitize_address, no_sanitize_thread))
static int read_word(struct walk *w, uintptr_t addr, unw_word_t *val)
{
    uintptr_t first = addr & page_mask, last = (addr + sizeof *val - 1) & page_mask;
    if (page_known(w, first) && page_known(w, last)) {
        *val = *(const unaligned_word *)addr;
        return 0;
    }
    struct iovec local = { val, sizeof *val }, remote = { (void *)addr, sizeof *val };
    if (syscall(SYS_process_vm_readv, own_pid, &local, 1, &remote, 1, 0) != (long)sizeof *val) return -1;
    page_remember(w, first);
    if (last != first) page_remember(w, last);
    return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
    (void)as;
    if (write) return -UNW_EREADONLYREG; /* we never write the program's memory */
    return read_word(arg, (uintptr_t)addr, val) == 0 ? 0 : -UNW_EINVAL;
}

/* Async-signal-safe copy of n bytes that cannot fault: all or nothing. */
static bool copy_validated(void *to, uintptr_t from, size_t n)
{
    struct iovec local = { to, n }, remote = { (void *)from, n };
    return syscall(SYS_process_vm_readv, own_pid, &local, 1, &remote, 1, 0) == (long)n;
}

/* ---- FDEs for the cached-rule walk (frame_rules.c), in signal context ---- */

/* The search table entry of the last function starting at or below target:
 * (initial location, FDE address), each an sdata4 relative to .eh_frame_hdr.
 * The table is read through read_word: the snapshot may outlive the object. */
static enum conan_fde_found search_table(struct walk *w, const struct unwind_table *t, uintptr_t target,
                                         uintptr_t *func, uintptr_t *fde)
{
    uintptr_t hdr = (uintptr_t)t->di.u.rti.segbase, entries = (uintptr_t)t->di.u.rti.table_data;
    size_t lo = 0, hi = t->fde_count;  /* the answer is below hi */
    uintptr_t found_func = 0, found_fde = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unw_word_t entry;
        if (read_word(w, entries + mid * 8, &entry) != 0) return CONAN_FDE_UNKNOWN;
        uintptr_t start = hdr + (uintptr_t)(intptr_t)(int32_t)(uint32_t)entry;
        if (start > target) {
            hi = mid;
        } else {
            found_func = start;
            found_fde = hdr + (uintptr_t)(intptr_t)(int32_t)(uint32_t)(entry >> 32);
            lo = mid + 1;
        }
    }
    if (!found_fde) return CONAN_FDE_NONE; /* below the object's first function */
    *func = found_func;
    *fde = found_fde;
    return CONAN_FDE_COPIED;
}

/* Copies one .eh_frame entry (its 4-byte length, then that many bytes) into
 * a buffer of size bytes; a longer one is NONE, an unreadable one UNKNOWN. */
static enum conan_fde_found copy_entry(unsigned char *to, size_t size, uintptr_t from)
{
    uint32_t len;
    if (!copy_validated(&len, from, sizeof len)) return CONAN_FDE_UNKNOWN;
    if (len == 0 || len > size - 4) return CONAN_FDE_NONE;
    return copy_validated(to, from, 4 + (size_t)len) ? CONAN_FDE_COPIED : CONAN_FDE_UNKNOWN;
}

/* frame_rules.c's fde reader: target's FDE and CIE, copied. Only from a
 * snapshot known good for generation gen: after a dlclose and until the
 * monitor's next refresh, a snapshot's table may describe an object that is
 * gone or whose address another has taken. (Rules then come from libunwind's
 * walk, as before; frame_rules.c also checks the FDE covers target.) */
static enum conan_fde_found copy_fde(void *arg, uintptr_t target, uint32_t gen, struct conan_fde_copy *out)
{
    const struct table_snapshot *snap = __atomic_load_n(&tables, __ATOMIC_ACQUIRE);
    if (!snap || __atomic_load_n(&snap->generation, __ATOMIC_ACQUIRE) != gen) return CONAN_FDE_UNKNOWN;
    const struct unwind_table *t = table_of(snap, target);
    if (!t) return CONAN_FDE_UNKNOWN;
    enum conan_fde_found found = search_table(arg, t, target, &out->func, &out->fde_at);
    if (found != CONAN_FDE_COPIED) return found;
    found = copy_entry(out->fde, sizeof out->fde, out->fde_at);
    if (found != CONAN_FDE_COPIED) return found;
    int32_t cie_back;
    memcpy(&cie_back, out->fde + 4, sizeof cie_back);
    if (cie_back <= 0) return CONAN_FDE_NONE; /* 0: a CIE, not an FDE */
    return copy_entry(out->cie, sizeof out->cie, out->fde_at + 4 - (uintptr_t)cie_back);
}

static bool stack_word(void *arg, uintptr_t at, uintptr_t *out)
{
    unw_word_t val;
    if (read_word(arg, at, &val) != 0) return false;
    *out = (uintptr_t)val;
    return true;
}

#if defined(__x86_64__)
static const int greg_of[] = {
    [UNW_X86_64_RAX] = REG_RAX, [UNW_X86_64_RDX] = REG_RDX, [UNW_X86_64_RCX] = REG_RCX,
    [UNW_X86_64_RBX] = REG_RBX, [UNW_X86_64_RSI] = REG_RSI, [UNW_X86_64_RDI] = REG_RDI,
    [UNW_X86_64_RBP] = REG_RBP, [UNW_X86_64_RSP] = REG_RSP, [UNW_X86_64_R8] = REG_R8,
    [UNW_X86_64_R9] = REG_R9,   [UNW_X86_64_R10] = REG_R10, [UNW_X86_64_R11] = REG_R11,
    [UNW_X86_64_R12] = REG_R12, [UNW_X86_64_R13] = REG_R13, [UNW_X86_64_R14] = REG_R14,
    [UNW_X86_64_R15] = REG_R15, [UNW_X86_64_RIP] = REG_RIP,
};

static int register_of(const ucontext_t *uc, unw_regnum_t reg, unw_word_t *val)
{
    if (reg < 0 || reg > UNW_X86_64_RIP) return -UNW_EBADREG;
    *val = (unw_word_t)uc->uc_mcontext.gregs[greg_of[reg]];
    return 0;
}
#elif defined(__aarch64__)
static int register_of(const ucontext_t *uc, unw_regnum_t reg, unw_word_t *val)
{
    if (reg >= UNW_AARCH64_X0 && reg <= UNW_AARCH64_X30)
        *val = uc->uc_mcontext.regs[reg - UNW_AARCH64_X0];
    else if (reg == UNW_AARCH64_SP)
        *val = uc->uc_mcontext.sp;
    else if (reg == UNW_AARCH64_PC)
        *val = uc->uc_mcontext.pc;
    else
        return -UNW_EBADREG;
    return 0;
}
#else
#error "libconan unwinds x86-64 and aarch64 only"
#endif

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
    (void)as;
    if (write) return -UNW_EREADONLYREG;
    return register_of(((const struct walk *)arg)->uc, reg, val);
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg)
{
    (void)as, (void)reg, (void)val, (void)write, (void)arg;
    return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cursor, void *arg)
{
    (void)as, (void)cursor, (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf, size_t len, unw_word_t *off, void *arg)
{
    (void)as, (void)ip, (void)buf, (void)len, (void)off, (void)arg;
    return -UNW_ENOINFO;
}

/* No seccomp filter: process_vm_readv on ourselves cannot be fatal. Under a
 * filter it might be (SECCOMP_RET_KILL), so we do not even probe it. */
static bool no_seccomp_filter(void)
{
    unsigned long long mode;
    return conan_task_status(0, "Seccomp", 10, &mode) && mode == 0;
}

/* ---- fork ----
 *
 * libunwind has locks of its own (its cache, its memory pools), taken only by
 * our walks. A fork while another thread is inside a walk would leave such a
 * lock held for ever in the child, whose first walk would hang. So fork waits
 * for running walks to end (new ones give up their sample meanwhile); in the
 * child, whose pid has changed, reads go to its own memory. fork.c calls
 * these hooks. */
#define FORK_WAIT_US 50000
static int forking;                     /* atomic: a fork waits for walks */
static bool walks_unsafe_in_child;      /* the wait ran out: a lock may be held */

void conan_unwind_prefork(void)
{
    __atomic_store_n(&forking, 1, __ATOMIC_SEQ_CST);
    walks_unsafe_in_child = false;
    struct timespec pause = { 0, 20000 };
    for (int waited = 0; __atomic_load_n(&walkers, __ATOMIC_SEQ_CST) != 0; waited += 20) {
        if (waited >= FORK_WAIT_US) {
            walks_unsafe_in_child = true;
            break;
        }
        nanosleep(&pause, NULL);
    }
}

void conan_unwind_postfork_parent(void)
{
    __atomic_store_n(&forking, 0, __ATOMIC_SEQ_CST);
}

void conan_unwind_postfork_child(void)
{
    own_pid = getpid();
    __atomic_store_n(&walkers, 0, __ATOMIC_SEQ_CST);
    if (walks_unsafe_in_child) __atomic_store_n(&address_space, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&forking, 0, __ATOMIC_SEQ_CST);
}

void conan_unwind_prepare(void)
{
    static int prepared, warned;
    conan_unwind_refresh_tables();
    if (!conan_first_time(&prepared)) return;
    conan_fork_init();
    conan_unwind_caller_prepare((uintptr_t)unw_step); /* libunwind's text: its lock calls are ours */
    own_pid = getpid();
    page_mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    if (!no_seccomp_filter()) {
        conan_log_once(&warned, "a seccomp filter is active: CPU samples keep their leaf function only");
        return;
    }
    unw_word_t probe = 0, target = 42;
    struct iovec local = { &probe, sizeof probe }, remote = { &target, sizeof target };
    if (syscall(SYS_process_vm_readv, own_pid, &local, 1, &remote, 1, 0) != (long)sizeof probe || probe != 42) {
        conan_log_once(&warned, "process_vm_readv is refused: CPU samples keep their leaf function only");
        return;
    }

    unw_accessors_t acc = *unw_get_accessors(unw_local_addr_space);
    acc.find_proc_info = find_proc_info;
    acc.access_mem = access_mem;
    acc.access_reg = access_reg;
    acc.access_fpreg = access_fpreg;
    acc.resume = resume;
    acc.get_proc_name = get_proc_name;
    unw_addr_space_t as = unw_create_addr_space(&acc, 0);
    if (!as) return;
    unw_set_caching_policy(as, UNW_CACHE_PER_THREAD);

    /* Walk our own stack once, so libunwind's one-time set-up happens here and
     * not in a signal handler. */
    ucontext_t uc;
    if (getcontext(&uc) == 0) {
        struct walk w = { .uc = &uc };
        unw_cursor_t cursor;
        if (unw_init_remote(&cursor, as, &w) == 0)
            for (int i = 0; i < CONAN_MAX_FRAMES && unw_step(&cursor) > 0; i++) {
            }
    }
    __atomic_store_n(&address_space, as, __ATOMIC_RELEASE);
}

/* ---- the walk ---- */

/* The cached-rule walk (frame_rules.c): -1 when it refuses. */
static int fast_walk(struct walk *w, uintptr_t *pcs, int max)
{
#if defined(__x86_64__)
    const greg_t *g = w->uc->uc_mcontext.gregs;
    struct conan_frame_reader r = { stack_word, copy_fde, w };
    return conan_frame_walk_signal((uintptr_t)g[REG_RIP], (uintptr_t)g[REG_RSP], (uintptr_t)g[REG_RBP], &r, pcs,
                                   max);
#else
    (void)w, (void)pcs, (void)max;
    return -1;
#endif
}

/* libunwind's walk through our address space.
 * The first frame's IP is the interrupted instruction itself; every caller's IP
 * is a return address, so we report it minus one to land inside the call
 * instruction (what pprof expects of non-leaf locations). A frame right after a
 * signal trampoline was interrupted too, so it is exact as well.
 * A frame without unwind info ends the walk: libunwind would guess its caller
 * from rbp, which in code built without frame pointers is no frame pointer
 * and skips frames or invents them (seen on a library newly loaded, not yet
 * in the snapshot: its caller's frames were skipped). A walk may stop short;
 * it never reports a frame that is not there. */
static int libunwind_walk(unw_addr_space_t as, struct walk *w, uintptr_t *pcs, int max)
{
    unw_cursor_t cursor;
    if (unw_init_remote(&cursor, as, w) != 0) return 0;
    int depth = 0;
    bool exact = true;
    while (depth < max) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        pcs[depth++] = exact ? (uintptr_t)ip : (uintptr_t)ip - 1;
        exact = unw_is_signal_frame(&cursor) > 0;
        w->no_info = false;
        if (unw_step(&cursor) <= 0 || w->no_info) break;
    }
    return depth;
}

enum walk_with { FAST_THEN_LIBUNWIND, FAST_ONLY, LIBUNWIND_ONLY };

/* Both walks read the snapshot and the validated pages the same way, count
 * themselves in walkers (so retired snapshots outlive them) and give way to
 * a fork. FAST_ONLY returns -1 where the fast walk refuses. */
static int walk_context(void *ucontext, uintptr_t *pcs, int max, enum walk_with how)
{
    int depth = how == FAST_ONLY ? -1 : 0;
    unw_addr_space_t as = __atomic_load_n(&address_space, __ATOMIC_ACQUIRE);
    if (!as) return depth;
    __atomic_fetch_add(&walkers, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&forking, __ATOMIC_SEQ_CST)) {
        struct walk w = { .uc = ucontext };
        depth = how == LIBUNWIND_ONLY ? -1 : fast_walk(&w, pcs, max);
        if (depth < 0 && how != FAST_ONLY) depth = libunwind_walk(as, &w, pcs, max);
    }
    __atomic_fetch_sub(&walkers, 1, __ATOMIC_SEQ_CST);
    return depth;
}

/* Signal context: async-signal-safe. The cached rules first; libunwind for
 * the whole stack when they refuse. */
int conan_unwind_context(void *ucontext, uintptr_t *pcs, int max)
{
    return walk_context(ucontext, pcs, max, FAST_THEN_LIBUNWIND);
}

int conan_unwind_context_fast(void *ucontext, uintptr_t *pcs, int max)
{
    return walk_context(ucontext, pcs, max, FAST_ONLY);
}

int conan_unwind_context_libunwind(void *ucontext, uintptr_t *pcs, int max)
{
    return walk_context(ucontext, pcs, max, LIBUNWIND_ONLY);
}

/* ---- unwinding a thread blocked in the kernel (thread snapshots) ----
 *
 * /proc/self/task/<tid>/syscall gives the user stack pointer and program
 * counter of a thread blocked in a system call. Its user stack does not move
 * while it is blocked, so the walk runs here, on the monitor, through the same
 * validated reads as a signal-context walk; the other registers are unknown
 * (zero), which only matters for frames whose CFA is not stack-pointer based. */
int conan_unwind_from(uintptr_t sp, uintptr_t pc, uintptr_t *pcs, int max)
{
    ucontext_t uc;
    memset(&uc, 0, sizeof uc);
#if defined(__x86_64__)
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
#elif defined(__aarch64__)
    uc.uc_mcontext.sp = sp;
    uc.uc_mcontext.pc = pc;
#endif
    return conan_unwind_context(&uc, pcs, max);
}

int conan_unwind_blocked(pid_t tid, const struct conan_task_syscall *at, uintptr_t *pcs, int max)
{
    int depth = conan_unwind_from(at->sp, at->pc, pcs, max);
    if (depth <= 0) {
        pcs[0] = at->pc;
        depth = 1;
    }
    struct conan_task_syscall again;
    return conan_task_syscall(tid, &again) && conan_task_syscall_same(&again, at) ? depth : 0;
}
