/* frame_rules.c — fast walks of the calling thread's own stack (heap samples,
 * thread creation stacks) on x86-64, from the call-frame rule of each return
 * address, read once from its object's .eh_frame and then cached.
 *
 * A walk by libgcc's unwinder finds the FDE of every frame, parses its CIE and
 * runs its call-frame program again at every sample: about 1,700 instructions
 * a frame, most of a heap sample's cost. Almost every x86-64 frame's rule is
 * "the CFA is rsp (or rbp) plus k, the return address is saved at CFA-8, rbp at
 * CFA-n or untouched", which fits in 32 bits. So the rule of each return
 * address is computed once here (the FDE from libgcc's _Unwind_Find_FDE, which
 * takes no lock, then a small interpreter of the call-frame program) and kept
 * in a fixed table shared by all threads. A step is then a table lookup and
 * two loads.
 *
 * What this walk does not handle makes it give up, and the caller walks with
 * libgcc instead (src/unwind_caller.c): a rule it cannot express (a CFA expression,
 * stack realignment through another register, the return address or rbp kept
 * in a register, a frame over 512 KiB), a signal frame, code without an FDE
 * (JIT code), or a stack outside the thread's known bounds (coroutines,
 * sigaltstack, a thread started before libconan). Every load is checked to lie inside the calling thread's stack
 * between the stack pointer and its top, so a wrong rule can truncate a stack
 * but never read outside it.
 *
 * Unloaded code: dlclose (preload/preload.c) advances a generation before and
 * after the real call; a rule cached under an older generation is computed
 * again, so code mapped later at the same address never uses a stale rule.
 *
 * Not async-signal-safe (the FDE search may take libgcc's lock for frames
 * registered at run time); called from normal context only. The table itself
 * takes no lock: see lookup and remember. */
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

/* ---- from a return address to its rule ---- */

struct eh_bases { void *tbase, *dbase, *func; };
typedef const unsigned char *(*find_fde_fn)(void *pc, struct eh_bases *bases);
static find_fde_fn find_fde; /* libgcc_s's _Unwind_Find_FDE; set by conan_frame_rules_prepare */

static uint32_t compute_rule(uintptr_t ra)
{
    struct eh_bases bases;
    const unsigned char *fde = find_fde((void *)(ra - 1), &bases);
    if (!fde) return RULE_NONE; /* JIT code, or the sigreturn trampoline of an old C library */
    uint32_t len;
    int32_t cie_back;
    memcpy(&len, fde, 4);
    memcpy(&cie_back, fde + 4, 4);
    if (len == 0 || len == 0xffffffffu) return RULE_NONE;
    struct cie cie;
    if (!parse_cie(fde + 4 - cie_back, &cie)) return RULE_NONE;
    struct conan_dwarf_cursor c = { fde + 8, fde + 4 + len, false };
    if (!conan_dwarf_skip_pointer(&c, cie.fde_enc)) return RULE_NONE; /* pc_begin: bases.func */
    if (!conan_dwarf_skip_pointer(&c, (unsigned char)(cie.fde_enc & DW_EH_PE_FORMAT_MASK)))
        return RULE_NONE; /* pc_range: the same format, never relative */
    if (cie.augmented) {
        uint64_t n = conan_dwarf_uleb(&c);
        if (c.bad || n > (uint64_t)(c.end - c.p)) return RULE_NONE;
        c.p += n;
    }
    uint64_t func = (uint64_t)(uintptr_t)bases.func, target = (uint64_t)ra - 1;
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

/* ---- the shared table ----
 *
 * Open addressing over 16384 slots, a few probes. A slot's key is the return
 * address, its value the rule and the generation it was computed in. Writers
 * claim a slot by swapping its key for CLAIMED, store the value, then publish
 * the key; readers check the key before and after reading the value, so they
 * never take one address's value for another's. */

#define SLOTS 16384
#define PROBES 4
#define CLAIMED ((uintptr_t)1)

struct slot {
    uintptr_t key;           /* atomic: a return address, 0 (empty) or CLAIMED */
    uint64_t value;          /* atomic: generation << 32 | rule */
};

static struct slot table[SLOTS];
static uint32_t generation = 1;  /* atomic; advanced around every dlclose */
static long misses, refused;     /* atomic: conan_frame_rules_stats */

static size_t slot_of(uintptr_t ra)
{
    return (size_t)((ra * 0x9e3779b97f4a7c15ull) >> 50) & (SLOTS - 1);
}

static bool lookup(uintptr_t ra, uint32_t gen, uint32_t *rule)
{
    for (size_t i = 0, s = slot_of(ra); i < PROBES; i++, s = (s + 1) & (SLOTS - 1)) {
        uintptr_t key = __atomic_load_n(&table[s].key, __ATOMIC_ACQUIRE);
        if (key == 0) return false;
        if (key != ra) continue;
        uint64_t value = __atomic_load_n(&table[s].value, __ATOMIC_ACQUIRE);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&table[s].key, __ATOMIC_RELAXED) != ra) return false;
        if ((uint32_t)(value >> 32) != gen) return false;
        *rule = (uint32_t)value;
        return true;
    }
    return false;
}

/* Keeps ra's rule: in its own slot if present (a new generation), else in an
 * empty one, else over the first probed slot. Gives up if another thread is
 * writing there: the rule is simply computed again next time. */
static void remember(uintptr_t ra, uint32_t gen, uint32_t rule)
{
    size_t s = slot_of(ra), victim = s;
    for (size_t i = 0; i < PROBES; i++, s = (s + 1) & (SLOTS - 1)) {
        uintptr_t key = __atomic_load_n(&table[s].key, __ATOMIC_RELAXED);
        if (key == ra || key == 0) {
            victim = s;
            break;
        }
    }
    uintptr_t key = __atomic_load_n(&table[victim].key, __ATOMIC_RELAXED);
    if (key == CLAIMED ||
        !__atomic_compare_exchange_n(&table[victim].key, &key, CLAIMED, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&table[victim].value, (uint64_t)gen << 32 | rule, __ATOMIC_RELEASE);
    __atomic_store_n(&table[victim].key, ra, __ATOMIC_RELEASE);
}

static uint32_t rule_of(uintptr_t ra)
{
    uint32_t gen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE), rule;
    if (lookup(ra, gen, &rule)) return rule;
    __atomic_fetch_add(&misses, 1, __ATOMIC_RELAXED);
    rule = compute_rule(ra);
    remember(ra, gen, rule);
    return rule;
}

void conan_frame_rules_forget(void)
{
    __atomic_fetch_add(&generation, 1, __ATOMIC_ACQ_REL);
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

/* ---- the walk ---- */

/* Reads a saved return address or rbp in a caller's frame: outside our own
 * frame by design, so not instrumented in the sanitized test builds. */
__attribute__((no_sanitize_address, no_sanitize_thread))
static bool load(uintptr_t at, uintptr_t sp, uintptr_t high, uintptr_t *out)
{
    if (at < sp || at > high - sizeof(uintptr_t)) return false;
    if (at % sizeof(uintptr_t)) return false; /* saved words are aligned; a rule that says otherwise is wrong */
    *out = *(const uintptr_t *)at;
    return true;
}

int conan_frame_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t *pcs, int max)
{
    struct stack_bounds b = own_stack;
    if (!find_fde || !b.known || sp < b.low || sp >= b.high) goto refuse;
    int depth = 0;
    while (depth < max && pc != 0) {
        pcs[depth++] = pc - 1; /* a return address: its call instruction */
        uint32_t rule = rule_of(pc);
        enum rule_kind kind = kind_of(rule);
        if (kind == RULE_END) break;
        if (kind == RULE_NONE) goto refuse;
        uintptr_t cfa = (kind == RULE_SP ? sp : bp) + (uintptr_t)cfa_off_of(rule);
        if (cfa <= sp || cfa > b.high) goto refuse;
        if (!load(cfa + (uintptr_t)ra_off_of(rule), sp, b.high, &pc)) goto refuse;
        if (bp_off_of(rule) && !load(cfa + (uintptr_t)bp_off_of(rule), sp, b.high, &bp)) goto refuse;
        sp = cfa;
    }
    return depth;
refuse:
    __atomic_fetch_add(&refused, 1, __ATOMIC_RELAXED);
    return -1;
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
void conan_frame_rules_prepare(void *unwind_find_fde) { (void)unwind_find_fde; }
void conan_frame_rules_thread_start(void) {}
void conan_frame_rules_forget(void) {}
void conan_frame_rules_stats(long *miss, long *refuse) { *miss = *refuse = 0; }

#endif
