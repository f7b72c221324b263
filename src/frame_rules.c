/* frame_rules.c — fast stack walks on x86-64 from the call-frame rule of each
 * address, read once from its object's .eh_frame and then cached: walks of the
 * calling thread's own stack (heap samples, thread creation stacks), and walks
 * of an interrupted thread's stack from the SIGPROF handler (CPU samples).
 *
 * A walk by libgcc's unwinder finds the FDE of every frame, parses its CIE and
 * runs its call-frame program again at every sample: about 1,700 instructions
 * a frame, most of a heap sample's cost; libunwind's walk from a signal costs
 * ~20 µs for 27 frames. Almost every x86-64 frame's rule is "the CFA is rsp
 * (or rbp) plus k, the return address is saved at CFA-8, rbp at CFA-n or
 * untouched", which fits in 32 bits. So the rule of each address (a return
 * address minus one, or a signal walk's interrupted pc) is computed once here
 * by a small interpreter of the call-frame program and kept in a fixed table
 * shared by all threads and both walks. A step is then a table lookup and two
 * loads.
 *
 * Where the FDE comes from depends on the context. A heap walk (normal
 * context) asks libgcc's _Unwind_Find_FDE, which takes no lock for objects
 * the loader knows, and reads the FDE in place. A signal walk must take no
 * lock at all, so its caller (unwind_context.c) finds the FDE in its snapshot
 * of .eh_frame_hdr tables and copies it and its CIE out through validated
 * reads; the same interpreter runs on the copy (see "the signal-context
 * walk" below for its constraints).
 *
 * What a walk does not handle makes it give up, and the caller walks another
 * way instead (libgcc for heap walks, src/unwind_caller.c; libunwind for
 * signal walks, src/unwind_context.c): a rule it cannot express (a CFA
 * expression, stack realignment through another register, the return address
 * or rbp kept in a register, a frame over 512 KiB), a signal frame, code
 * without an FDE (JIT code), or a stack outside the thread's known bounds
 * (coroutines, sigaltstack, a thread started before libconan). Every load is
 * checked to lie inside the thread's stack between the stack pointer and its
 * top, so a wrong rule can truncate a stack but never read outside it.
 *
 * Unloaded code: dlclose (preload/preload.c) advances a generation before and
 * after the real call; a rule cached under an older generation is computed
 * again, so code mapped later at the same address never uses a stale rule.
 *
 * The heap walk's FDE search (libgcc) may take libgcc's lock for frames
 * registered at run time: conan_frame_walk runs in normal context only. The
 * table itself takes no lock: see lookup and remember. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dwarf_encoding.h"
#include "frame_rules.h"

#if defined(__x86_64__)

/* ---- a rule, packed ---- */

enum rule_kind { RULE_NONE = 0, RULE_SP = 1, RULE_BP = 2, RULE_END = 3 };

/* kind (2 bits) | CFA offset / 8 (16 bits) | return address offset from the CFA
 * / 8 (7 bits, signed) | saved rbp offset from the CFA / 8 (7 bits, signed; 0:
 * rbp unchanged). RULE_NONE: this walk cannot step through the frame. */
static uint32_t pack(enum rule_kind kind, long cfa_off, long ra_off, long bp_off)
{
    if (kind == RULE_NONE || kind == RULE_END) return (uint32_t)kind;
    if (cfa_off < 8 || cfa_off % 8 || cfa_off / 8 > 0xffff) return RULE_NONE;
    if (ra_off % 8 || ra_off / 8 < -64 || ra_off / 8 > -1) return RULE_NONE;
    if (bp_off % 8 || bp_off / 8 < -64 || bp_off / 8 > 0) return RULE_NONE;
    return (uint32_t)kind | (uint32_t)(cfa_off / 8) << 2 | ((uint32_t)(ra_off / 8) & 0x7f) << 18 |
           ((uint32_t)(bp_off / 8) & 0x7f) << 25;
}

static enum rule_kind kind_of(uint32_t r) { return (enum rule_kind)(r & 3); }
static long cfa_off_of(uint32_t r) { return (long)((r >> 2) & 0xffff) * 8; }
static long signed7(uint32_t v) { return (long)(v & 0x40 ? (int)v - 0x80 : (int)v); }
static long ra_off_of(uint32_t r) { return signed7((r >> 18) & 0x7f) * 8; }
static long bp_off_of(uint32_t r) { return signed7((r >> 25) & 0x7f) * 8; }

/* ---- the call-frame program ---- */

#define DWARF_RBP 6
#define DWARF_RA 16
#define STATE_DEPTH 8

enum saved { SAVED_SAME, SAVED_AT, SAVED_UNDEFINED, SAVED_OTHER };

struct row {
    int cfa_reg;            /* -1: a CFA expression */
    int64_t cfa_off;
    enum saved ra, bp;
    int64_t ra_off, bp_off;
};

struct cie {
    uint64_t code_align;
    int64_t data_align;
    unsigned char fde_enc;
    bool augmented;
    struct conan_dwarf_cursor program; /* its initial instructions */
};

static bool parse_cie(const unsigned char *at, struct cie *cie)
{
    uint32_t len;
    memcpy(&len, at, 4);
    if (len == 0 || len == 0xffffffffu) return false; /* 64-bit .eh_frame: not emitted on Linux */
    struct conan_dwarf_cursor c = { at + 4, at + 4 + len, false };
    if (conan_dwarf_fixed(&c, 4) != 0) return false; /* a CIE's id is 0 in .eh_frame */
    unsigned version = (unsigned)conan_dwarf_fixed(&c, 1);
    if (version != 1 && version != 3) return false;
    const char *aug = (const char *)c.p;
    size_t aug_len = strnlen(aug, (size_t)(c.end - c.p));
    if (aug_len == (size_t)(c.end - c.p)) return false;
    c.p += aug_len + 1;
    cie->code_align = conan_dwarf_uleb(&c);
    cie->data_align = conan_dwarf_sleb(&c);
    uint64_t ra_reg = version == 1 ? conan_dwarf_fixed(&c, 1) : conan_dwarf_uleb(&c);
    if (c.bad || ra_reg != DWARF_RA) return false;
    cie->fde_enc = DW_EH_PE_absptr;
    cie->augmented = aug[0] == 'z';
    if (cie->augmented) {
        uint64_t data_len = conan_dwarf_uleb(&c);
        if (c.bad || data_len > (uint64_t)(c.end - c.p)) return false;
        const unsigned char *data_end = c.p + data_len;
        for (const char *a = aug + 1; *a; a++) {
            switch (*a) {
            case 'R': cie->fde_enc = (unsigned char)conan_dwarf_fixed(&c, 1); break;
            case 'L': conan_dwarf_fixed(&c, 1); break;
            case 'P': {
                unsigned char enc = (unsigned char)conan_dwarf_fixed(&c, 1);
                if (!conan_dwarf_skip_pointer(&c, enc)) return false;
                break;
            }
            default: return false; /* 'S' (a signal frame) and anything unknown */
            }
        }
        if (c.bad || c.p > data_end) return false;
        c.p = data_end;
    } else if (aug[0]) {
        return false;
    }
    cie->program = c;
    return true;
}

/* reg's value is in a register or computed: a rule the packed form cannot
 * hold, if reg is one the walk needs. */
static void kept_elsewhere(struct row *row, uint64_t reg)
{
    if (reg == DWARF_RA) row->ra = SAVED_OTHER;
    if (reg == DWARF_RBP) row->bp = SAVED_OTHER;
}

/* Runs program on row up to target (the address of the call instruction):
 * the rows of locations above it are not applied. initial is the CIE's row,
 * for DW_CFA_restore; NULL while running the CIE itself. */
static bool run_program(struct conan_dwarf_cursor c, const struct cie *cie, uint64_t loc,
                        uint64_t target, const struct row *initial, struct row *row)
{
    struct row stack[STATE_DEPTH];
    int depth = 0;
    while (c.p < c.end) {
        unsigned char op = *c.p++;
        uint64_t reg = 0, delta = 0;
        int64_t off = 0;
        bool set_reg = false, restore = false;
        switch (op >> 6) {
        case 1: delta = op & 0x3f; break;                                   /* advance_loc */
        case 2:                                                             /* offset */
            reg = op & 0x3f;
            off = (int64_t)conan_dwarf_uleb(&c) * cie->data_align;
            set_reg = true;
            break;
        case 3: reg = op & 0x3f; restore = true; break;                     /* restore */
        default:
            switch (op) {
            case 0x00: break;                                               /* nop */
            case 0x02: delta = conan_dwarf_fixed(&c, 1); break;             /* advance_loc1 */
            case 0x03: delta = conan_dwarf_fixed(&c, 2); break;             /* advance_loc2 */
            case 0x04: delta = conan_dwarf_fixed(&c, 4); break;             /* advance_loc4 */
            case 0x05:                                                      /* offset_extended */
                reg = conan_dwarf_uleb(&c);
                off = (int64_t)conan_dwarf_uleb(&c) * cie->data_align;
                set_reg = true;
                break;
            case 0x06: reg = conan_dwarf_uleb(&c); restore = true; break;   /* restore_extended */
            case 0x07: case 0x08:                                           /* undefined, same_value */
                reg = conan_dwarf_uleb(&c);
                if (reg == DWARF_RA) row->ra = op == 0x07 ? SAVED_UNDEFINED : SAVED_OTHER;
                if (reg == DWARF_RBP) row->bp = op == 0x07 ? SAVED_OTHER : SAVED_SAME;
                break;
            case 0x09:                                                      /* register */
                reg = conan_dwarf_uleb(&c);
                conan_dwarf_uleb(&c);
                kept_elsewhere(row, reg);
                break;
            case 0x0a:                                                      /* remember_state */
                if (depth == STATE_DEPTH) return false;
                stack[depth++] = *row;
                break;
            case 0x0b:                                                      /* restore_state */
                if (depth == 0) return false;
                *row = stack[--depth];
                break;
            case 0x0c:                                                      /* def_cfa */
                row->cfa_reg = (int)conan_dwarf_uleb(&c);
                row->cfa_off = (int64_t)conan_dwarf_uleb(&c);
                break;
            case 0x0d: row->cfa_reg = (int)conan_dwarf_uleb(&c); break;     /* def_cfa_register */
            case 0x0e: row->cfa_off = (int64_t)conan_dwarf_uleb(&c); break; /* def_cfa_offset */
            case 0x0f: {                                                    /* def_cfa_expression */
                uint64_t n = conan_dwarf_uleb(&c);
                if (n > (uint64_t)(c.end - c.p)) return false;
                c.p += n;
                row->cfa_reg = -1;
                break;
            }
            case 0x10: case 0x16: {                                         /* expression, val_expression */
                reg = conan_dwarf_uleb(&c);
                uint64_t n = conan_dwarf_uleb(&c);
                if (c.bad || n > (uint64_t)(c.end - c.p)) return false;
                c.p += n;
                kept_elsewhere(row, reg);
                break;
            }
            case 0x11:                                                      /* offset_extended_sf */
                reg = conan_dwarf_uleb(&c);
                off = conan_dwarf_sleb(&c) * cie->data_align;
                set_reg = true;
                break;
            case 0x12:                                                      /* def_cfa_sf */
                row->cfa_reg = (int)conan_dwarf_uleb(&c);
                row->cfa_off = conan_dwarf_sleb(&c) * cie->data_align;
                break;
            case 0x13: row->cfa_off = conan_dwarf_sleb(&c) * cie->data_align; break; /* def_cfa_offset_sf */
            case 0x14: case 0x15:                                           /* val_offset(_sf) */
                reg = conan_dwarf_uleb(&c);
                if (op == 0x14) conan_dwarf_uleb(&c); else conan_dwarf_sleb(&c);
                kept_elsewhere(row, reg);
                break;
            case 0x2e: conan_dwarf_uleb(&c); break;                         /* GNU_args_size */
            case 0x2f:                                                      /* GNU_negative_offset_extended */
                reg = conan_dwarf_uleb(&c);
                off = -(int64_t)conan_dwarf_uleb(&c) * cie->data_align;
                set_reg = true;
                break;
            default: return false; /* set_loc and anything else: not emitted by GCC or LLVM for x86-64 */
            }
        }
        if (c.bad) return false;
        if (delta) {
            loc += delta * cie->code_align;
            if (loc > target) return true; /* the rows from here on are past the call */
        }
        if (set_reg) {
            if (reg == DWARF_RA) row->ra = SAVED_AT, row->ra_off = off;
            if (reg == DWARF_RBP) row->bp = SAVED_AT, row->bp_off = off;
        }
        if (restore) {
            if (!initial) return false;
            if (reg == DWARF_RA) row->ra = initial->ra, row->ra_off = initial->ra_off;
            if (reg == DWARF_RBP) row->bp = initial->bp, row->bp_off = initial->bp_off;
        }
    }
    return true;
}

/* ---- from an address to its rule ---- */

/* The rule at target (the rows of locations up to it) from an FDE and its CIE,
 * wherever their bytes are: in the object's .eh_frame (heap walks) or copied
 * out of it (signal-context walks, conan_fde_copy). fde_at is the FDE's
 * address in the object, for its pc-relative pc_begin; func the first address
 * the FDE covers, as the caller's FDE search found it. The FDE must say the
 * same and cover target, or the search found stale bytes (an object unloaded
 * under a snapshot): no rule then. */
static uint32_t rule_from_fde(const unsigned char *fde, const unsigned char *cie_at, uintptr_t fde_at,
                              uint64_t func, uint64_t target)
{
    uint32_t len;
    memcpy(&len, fde, 4);
    if (len == 0 || len == 0xffffffffu) return RULE_NONE;
    struct cie cie;
    if (!parse_cie(cie_at, &cie)) return RULE_NONE;
    struct conan_dwarf_cursor c = { fde + 8, fde + 4 + len, false };
    int64_t begin, range;
    if (!conan_dwarf_read_value(&c, cie.fde_enc, &begin)) return RULE_NONE;
    if ((cie.fde_enc & DW_EH_PE_APPLICATION_MASK) == DW_EH_PE_pcrel) begin += (int64_t)(fde_at + 8);
    if ((cie.fde_enc & DW_EH_PE_APPLICATION_MASK) <= DW_EH_PE_pcrel && (uint64_t)begin != func) return RULE_NONE;
    if (!conan_dwarf_read_value(&c, (unsigned char)(cie.fde_enc & DW_EH_PE_FORMAT_MASK), &range))
        return RULE_NONE; /* pc_range: the same format, never relative */
    if (target < func || target - func >= (uint64_t)range) return RULE_NONE;
    if (cie.augmented) {
        uint64_t n = conan_dwarf_uleb(&c);
        if (c.bad || n > (uint64_t)(c.end - c.p)) return RULE_NONE;
        c.p += n;
    }
    struct row row = { .cfa_reg = 7, .cfa_off = 8, .ra = SAVED_OTHER, .bp = SAVED_SAME };
    if (!run_program(cie.program, &cie, func, UINT64_MAX, NULL, &row)) return RULE_NONE;
    struct row initial = row;
    if (!run_program(c, &cie, func, target, &initial, &row)) return RULE_NONE;

    if (row.ra == SAVED_UNDEFINED) return RULE_END; /* _start, clone3: the outermost frame */
    if (row.ra != SAVED_AT || (row.bp != SAVED_SAME && row.bp != SAVED_AT)) return RULE_NONE;
    if (row.bp == SAVED_AT && row.bp_off == 0) return RULE_NONE; /* 0 packs as "unchanged" */
    enum rule_kind kind = row.cfa_reg == 7 ? RULE_SP : row.cfa_reg == DWARF_RBP ? RULE_BP : RULE_NONE;
    return pack(kind, (long)row.cfa_off, (long)row.ra_off, row.bp == SAVED_AT ? (long)row.bp_off : 0);
}

struct eh_bases { void *tbase, *dbase, *func; };
typedef const unsigned char *(*find_fde_fn)(void *pc, struct eh_bases *bases);
static find_fde_fn find_fde; /* libgcc_s's _Unwind_Find_FDE; set by conan_frame_rules_prepare */

/* Normal context: the FDE found by libgcc, read in place. */
static uint32_t compute_rule(uintptr_t target)
{
    struct eh_bases bases;
    const unsigned char *fde = find_fde((void *)target, &bases);
    if (!fde) return RULE_NONE; /* JIT code, or the sigreturn trampoline of an old C library */
    int32_t cie_back;
    memcpy(&cie_back, fde + 4, 4);
    return rule_from_fde(fde, fde + 4 - cie_back, (uintptr_t)fde, (uint64_t)(uintptr_t)bases.func, target);
}

/* ---- the shared table ----
 *
 * Open addressing over 16384 slots, a few probes. A slot's key is the address
 * whose rule it holds: a return address minus one (the call instruction; heap
 * walks and signal walks alike) or an interrupted pc (a signal walk's leaf),
 * so the two never mean different rules for one key. Its value is the rule and
 * the generation it was computed in. Writers
 * claim a slot by swapping its key for CLAIMED, store the value, then publish
 * the key; readers check the key before and after reading the value, so they
 * never take one address's value for another's. */

#define SLOTS 16384
#define PROBES 4
#define CLAIMED ((uintptr_t)1)

struct slot {
    uintptr_t key;           /* atomic: an address (above CLAIMED), 0 (empty) or CLAIMED */
    uint64_t value;          /* atomic: generation << 32 | rule */
};

static struct slot table[SLOTS];
static uint32_t generation = 1;  /* atomic; advanced around every dlclose */
static long misses, refused;     /* atomic: conan_frame_rules_stats */

static size_t slot_of(uintptr_t target)
{
    return (size_t)((target * 0x9e3779b97f4a7c15ull) >> 50) & (SLOTS - 1);
}

static bool lookup(uintptr_t target, uint32_t gen, uint32_t *rule)
{
    for (size_t i = 0, s = slot_of(target); i < PROBES; i++, s = (s + 1) & (SLOTS - 1)) {
        uintptr_t key = __atomic_load_n(&table[s].key, __ATOMIC_ACQUIRE);
        if (key == 0) return false;
        if (key != target) continue;
        uint64_t value = __atomic_load_n(&table[s].value, __ATOMIC_ACQUIRE);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&table[s].key, __ATOMIC_RELAXED) != target) return false;
        if ((uint32_t)(value >> 32) != gen) return false;
        *rule = (uint32_t)value;
        return true;
    }
    return false;
}

/* Keeps target's rule: in its own slot if present (a new generation), else in
 * an empty one, else over the first probed slot. Gives up if another thread is
 * writing there: the rule is simply computed again next time. */
static void remember(uintptr_t target, uint32_t gen, uint32_t rule)
{
    size_t s = slot_of(target), victim = s;
    for (size_t i = 0; i < PROBES; i++, s = (s + 1) & (SLOTS - 1)) {
        uintptr_t key = __atomic_load_n(&table[s].key, __ATOMIC_RELAXED);
        if (key == target || key == 0) {
            victim = s;
            break;
        }
    }
    uintptr_t key = __atomic_load_n(&table[victim].key, __ATOMIC_RELAXED);
    if (key == CLAIMED ||
        !__atomic_compare_exchange_n(&table[victim].key, &key, CLAIMED, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&table[victim].value, (uint64_t)gen << 32 | rule, __ATOMIC_RELEASE);
    __atomic_store_n(&table[victim].key, target, __ATOMIC_RELEASE);
}

static uint32_t rule_of(uintptr_t target)
{
    uint32_t gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE), rule;
    if (lookup(target, gen, &rule)) return rule;
    __atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED);
    rule = compute_rule(target);
    remember(target, gen, rule);
    return rule;
}

void conan_frame_rules_forget(void)
{
    __atomic_fetch_add(&generation, 1, __ATOMIC_ACQ_REL);
}

uint32_t conan_frame_rules_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

/* ---- the calling thread's stack bounds ----
 *
 * Looked up when a thread starts (the registry's trampoline, and the
 * constructor's thread), not during a walk: pthread_getattr_np allocates, and
 * a heap sample's slow path does not. A thread whose bounds are unknown (one
 * started before us) is walked by libgcc. */

struct stack_bounds {
    uintptr_t low, high;
    bool known;
};
static __thread struct stack_bounds own_stack __attribute__((tls_model("initial-exec")));

void conan_frame_rules_thread_start(void)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0 && size) {
        own_stack.low = (uintptr_t)addr;
        own_stack.high = (uintptr_t)addr + size;
        own_stack.known = true;
    }
    pthread_attr_destroy(&attr);
}

/* ---- the walks ---- */

/* Where one step through a frame reads, by its rule: the CFA (the caller's
 * stack pointer), the saved return address, the saved rbp (0: rbp unchanged).
 * False when the rule cannot step, or its CFA is not above sp and below high. */
struct frame_step {
    uintptr_t cfa, ra_at, bp_at;
};

static bool step_of(uint32_t rule, uintptr_t sp, uintptr_t bp, uintptr_t high, struct frame_step *s)
{
    enum rule_kind kind = kind_of(rule);
    if (kind != RULE_SP && kind != RULE_BP) return false;
    s->cfa = (kind == RULE_SP ? sp : bp) + (uintptr_t)cfa_off_of(rule);
    if (s->cfa <= sp || s->cfa > high) return false;
    s->ra_at = s->cfa + (uintptr_t)ra_off_of(rule);
    s->bp_at = bp_off_of(rule) ? s->cfa + (uintptr_t)bp_off_of(rule) : 0;
    return true;
}

/* A saved word lies in the stack between sp and its top, aligned (saved words
 * are; a rule that says otherwise is wrong). */
static bool in_stack(uintptr_t at, uintptr_t sp, uintptr_t high)
{
    return at >= sp && at <= high - sizeof(uintptr_t) && at % sizeof(uintptr_t) == 0;
}

/* Reads a saved return address or rbp in a caller's frame: outside our own
 * frame by design, so not instrumented in the sanitized test builds. */
__attribute__((no_sanitize_address, no_sanitize_thread))
static bool load(uintptr_t at, uintptr_t sp, uintptr_t high, uintptr_t *out)
{
    if (!in_stack(at, sp, high)) return false;
    *out = *(const uintptr_t *)at;
    return true;
}

static int refuse(void)
{
    __atomic_fetch_add(&refused, 1, __ATOMIC_RELAXED);
    return -1;
}

int conan_frame_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t *pcs, int max)
{
    struct stack_bounds b = own_stack;
    if (!find_fde || !b.known || sp < b.low || sp >= b.high) return refuse();
    int depth = 0;
    while (depth < max && pc != 0) {
        pcs[depth++] = pc - 1; /* a return address: its call instruction */
        uint32_t rule = rule_of(pc - 1);
        if (kind_of(rule) == RULE_END) break;
        struct frame_step s;
        if (!step_of(rule, sp, bp, b.high, &s)) return refuse();
        if (!load(s.ra_at, sp, b.high, &pc)) return refuse();
        if (s.bp_at && !load(s.bp_at, sp, b.high, &bp)) return refuse();
        sp = s.cfa;
    }
    return depth;
}

/* ---- the signal-context walk ----
 *
 * Constraints (it runs in the SIGPROF handler, which may interrupt the program
 * anywhere, even inside malloc or libgcc's unwinder): async-signal-safe, no
 * lock, no allocation, nothing of the program's touched. So a rule missing
 * from the table is not computed from libgcc's _Unwind_Find_FDE (which may
 * take libgcc's lock and the loader's): the reader's fde callback finds the
 * FDE in unwind_context.c's snapshot of .eh_frame_hdr tables and copies it and
 * its CIE out through validated reads, and the same interpreter runs on the
 * copy. Every stack word comes through the reader's word callback (validated:
 * an unmapped or PROT_NONE page fails the read, never faults).
 *
 * It refuses (returns -1; the caller walks with libunwind instead) when the
 * interrupted sp is not in the thread's known stack (sigaltstack, a
 * coroutine, a thread started before libconan, another thread's stack), at a
 * frame whose rule it cannot hold or find (a signal frame: glibc's
 * __restore_rt has an 'S' CIE; a CFA expression; code not in the snapshot),
 * at a read that fails, and at a CFA that does not move up the stack. So a
 * walk either is what libunwind would give or is libunwind's. */

/* Not inlined: keeps the FDE copy off the stack of the walk's loop. */
static __attribute__((noinline)) uint32_t compute_rule_in_signal(uintptr_t target, uint32_t gen,
                                                                 const struct conan_frame_reader *r)
{
    struct conan_fde_copy copy;
    uint32_t rule = RULE_NONE;
    switch (r->fde(r->arg, target, gen, &copy)) {
    case CONAN_FDE_UNKNOWN: return RULE_NONE; /* maybe known later: not remembered */
    case CONAN_FDE_NONE: break;
    case CONAN_FDE_COPIED: rule = rule_from_fde(copy.fde, copy.cie, copy.fde_at, copy.func, target); break;
    }
    remember(target, gen, rule);
    return rule;
}

static uint32_t rule_in_signal(uintptr_t target, const struct conan_frame_reader *r)
{
    uint32_t gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE), rule;
    if (lookup(target, gen, &rule)) return rule;
    __atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED);
    return compute_rule_in_signal(target, gen, r);
}

static bool read_saved(const struct conan_frame_reader *r, uintptr_t at, uintptr_t sp, uintptr_t high,
                       uintptr_t *out)
{
    return in_stack(at, sp, high) && r->word(r->arg, at, out);
}

int conan_frame_walk_signal(uintptr_t pc, uintptr_t sp, uintptr_t bp, const struct conan_frame_reader *r,
                            uintptr_t *pcs, int max)
{
    struct stack_bounds b = own_stack;
    if (!b.known || sp < b.low || sp >= b.high || pc <= CLAIMED) return refuse();
    uintptr_t target = pc; /* the leaf: the interrupted instruction, exact */
    int depth = 0;
    while (depth < max) {
        pcs[depth++] = target;
        if (depth == max) break;
        uint32_t rule = rule_in_signal(target, r);
        if (kind_of(rule) == RULE_END) break;
        struct frame_step s;
        uintptr_t ra;
        if (!step_of(rule, sp, bp, b.high, &s) || !read_saved(r, s.ra_at, sp, b.high, &ra)) return refuse();
        if (s.bp_at && !read_saved(r, s.bp_at, sp, b.high, &bp)) return refuse();
        sp = s.cfa;
        if (ra == 0) break;         /* libunwind ends there too */
        if (ra <= CLAIMED + 1) return refuse();
        target = ra - 1;            /* a return address: its call instruction */
    }
    return depth;
}

void conan_frame_rules_prepare(void *unwind_find_fde)
{
    __atomic_store_n(&find_fde, (find_fde_fn)unwind_find_fde, __ATOMIC_RELEASE);
}

void conan_frame_rules_stats(long *miss, long *refuse)
{
    *miss = __atomic_load_n(&misses, __ATOMIC_RELAXED);
    *refuse = __atomic_load_n(&refused, __ATOMIC_RELAXED);
}

#else /* not x86-64: every walk is libgcc's */

int conan_frame_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t *pcs, int max)
{
    (void)pc, (void)sp, (void)bp, (void)pcs, (void)max;
    return -1;
}
int conan_frame_walk_signal(uintptr_t pc, uintptr_t sp, uintptr_t bp, const struct conan_frame_reader *r,
                            uintptr_t *pcs, int max)
{
    (void)pc, (void)sp, (void)bp, (void)r, (void)pcs, (void)max;
    return -1;
}
uint32_t conan_frame_rules_generation(void) { return 0; }
void conan_frame_rules_prepare(void *unwind_find_fde) { (void)unwind_find_fde; }
void conan_frame_rules_thread_start(void) {}
void conan_frame_rules_forget(void) {}
void conan_frame_rules_stats(long *miss, long *refuse) { *miss = *refuse = 0; }

#endif
