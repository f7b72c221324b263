/* unwind.c — stack walking with libunwind, from a signal context.
 *
 * conan_unwind_signal runs inside the SIGPROF handler, so it must be
 * async-signal-safe and must not touch anything of the program's. libunwind's
 * ready-made local unwinder does not meet the second rule: to validate memory
 * it writes through a pipe it keeps in two global descriptors, and on EBADF it
 * closes and reopens them — after a program has closed descriptors it did not
 * open (closefrom, as daemons do) those numbers are the program's own files.
 *
 * So we give libunwind an address space of our own. Unwind tables are found by
 * libunwind's local find_proc_info (dl_iterate_phdr over loaded objects), but
 * registers come from the signal's ucontext and every memory read goes through
 * read_word: the first read in a page is done by process_vm_readv on our own
 * pid, which fails with EFAULT on unmapped or PROT_NONE pages instead of
 * faulting, and pages that passed are then read directly for the rest of the
 * walk. Where process_vm_readv is refused (a seccomp filter), mincore checks
 * that the page is mapped. No descriptor, no allocation, no lock of ours. */
#include <libunwind.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define PAGE_CACHE 16            /* validated pages remembered during one walk */

struct walk {
    const ucontext_t *uc;
    uintptr_t page[PAGE_CACHE];
    int npage, next;
};

static unw_addr_space_t address_space;
static pid_t own_pid;
static bool use_vm_readv;
static uintptr_t page_mask;

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

/* Async-signal-safe read of one word that cannot fault. */
static int read_word(struct walk *w, uintptr_t addr, unw_word_t *val)
{
    uintptr_t first = addr & page_mask, last = (addr + sizeof *val - 1) & page_mask;
    if (page_known(w, first) && page_known(w, last)) {
        *val = *(const unw_word_t *)addr;
        return 0;
    }
    if (use_vm_readv) {
        struct iovec local = { val, sizeof *val }, remote = { (void *)addr, sizeof *val };
        if (syscall(SYS_process_vm_readv, own_pid, &local, 1, &remote, 1, 0) != (long)sizeof *val) return -1;
    } else {
        unsigned char vec[2];
        if (mincore((void *)first, last - first + 1, vec) != 0) return -1;
        *val = *(const unw_word_t *)addr;
    }
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

void conan_unwind_prepare(void)
{
    static int prepared;
    if (__atomic_exchange_n(&prepared, 1, __ATOMIC_ACQ_REL)) return;
    own_pid = getpid();
    page_mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    unw_word_t probe = 0, target = 42;
    struct iovec local = { &probe, sizeof probe }, remote = { &target, sizeof target };
    use_vm_readv = syscall(SYS_process_vm_readv, own_pid, &local, 1, &remote, 1, 0) == (long)sizeof probe &&
                   probe == 42;

    unw_accessors_t acc = *unw_get_accessors(unw_local_addr_space);
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

/* Signal context: async-signal-safe.
 * The first frame's IP is the interrupted instruction itself; every caller's IP
 * is a return address, so we report it minus one to land inside the call
 * instruction (what pprof expects of non-leaf locations). A frame right after a
 * signal trampoline was interrupted too, so it is exact as well. */
int conan_unwind_signal(void *ucontext, uintptr_t *pcs, int max)
{
    unw_addr_space_t as = __atomic_load_n(&address_space, __ATOMIC_ACQUIRE);
    if (!as) return 0;
    struct walk w = { .uc = ucontext };
    unw_cursor_t cursor;
    if (unw_init_remote(&cursor, as, &w) != 0) return 0;
    int depth = 0;
    bool exact = true;
    while (depth < max) {
        unw_word_t ip;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        pcs[depth++] = exact ? (uintptr_t)ip : (uintptr_t)ip - 1;
        exact = unw_is_signal_frame(&cursor) > 0;
        if (unw_step(&cursor) <= 0) break;
    }
    return depth;
}
