/* unwind_caller.c — stack walks of the calling thread, from where it called
 * into libconan: heap samples (malloc) and thread creation stacks
 * (pthread_create). The cached call-frame rules of frame_rules.c first, then
 * libgcc_s's unwinder, then a machine-context walk from a getcontext
 * (unwind_context.c).
 *
 * Not signal context: the stack is the program's own at a call to malloc, so
 * it is consistent and can be read directly. libgcc_s's unwinder finds each
 * object with _dl_find_object, which takes no lock and does not allocate, and
 * keeps no cache to lock, where libunwind's cache locking costs two sigprocmask
 * calls per frame. It is taken from libgcc_s.so.1 by handle: libunwind.so.8
 * exports an _Unwind_Backtrace of its own, built on its local unwinder (which
 * takes the loader lock). Without libgcc_s, heap samples use our
 * machine-context walk from a getcontext.
 *
 * libgcc still parses every frame's call-frame program at every sample (about
 * 1,700 instructions a frame); so the walk first tries the cached rules of
 * src/frame_rules.c, found through libgcc's own FDE search, and falls back to
 * libgcc's full walk for the stacks those rules cannot step through. */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <ucontext.h>
#include <unwind.h>

#include "frame_rules.h"
#include "stack_walk.h"

typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*get_ip_info_fn)(struct _Unwind_Context *, int *);
static backtrace_fn gcc_backtrace;      /* set once by conan_unwind_caller_prepare */
static get_ip_info_fn gcc_get_ip_info;

struct here_walk {
    uintptr_t *pcs;
    int max, depth;
};

static _Unwind_Reason_Code collect_frame(struct _Unwind_Context *ctx, void *arg)
{
    struct here_walk *w = arg;
    int exact = 0;
    uintptr_t ip = (uintptr_t)gcc_get_ip_info(ctx, &exact);
    if (ip == 0) return _URC_END_OF_STACK;
    /* a return address, unless the frame was interrupted (a signal frame) */
    w->pcs[w->depth++] = exact ? ip : ip - 1;
    return w->depth < w->max ? _URC_NO_REASON : _URC_END_OF_STACK;
}

static uintptr_t own_start, own_end; /* libconan's text, set by conan_unwind_caller_prepare */

/* The text of libconan and of the unwinders it walks with (libgcc_s,
 * libunwind): lock calls made from there are libconan's doing. */
#define OURS_MAX 3
static struct text_range { uintptr_t start, end; } ours[OURS_MAX];
static int nours;

struct text_search { uintptr_t here; struct text_range found; };

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct text_search *t = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (t->here >= start && t->here < end) {
            t->found = (struct text_range){ start, end };
            return 1;
        }
    }
    return 0;
}

/* The text segment holding the function at here: kept among ours. */
static struct text_range note_ours(uintptr_t here)
{
    struct text_search t = { here, { 0, 0 } };
    if (here && dl_iterate_phdr(find_text, &t) && nours < OURS_MAX) ours[nours++] = t.found;
    return t.found;
}

bool conan_unwind_is_ours(uintptr_t pc)
{
    for (int i = 0; i < nours; i++)
        if (pc >= ours[i].start && pc < ours[i].end) return true;
    return false;
}

int conan_unwind_caller(uintptr_t *pcs, int max)
{
    uintptr_t raw[CONAN_MAX_FRAMES];
    int depth = conan_unwind_here(raw, CONAN_MAX_FRAMES);
    int skip = 0;
    while (skip < depth && raw[skip] >= own_start && raw[skip] < own_end) skip++;
    if (skip == depth) skip = 0; /* all ours: a test linking the engine directly */
    int n = 0;
    for (int i = skip; i < depth && n < max; i++) pcs[n++] = raw[i];
    return n;
}

/* Not inlined, and with a frame pointer (its frame address is taken): the
 * first step, to our caller, reads the return address and saved rbp there. */
__attribute__((noinline)) int conan_unwind_here(uintptr_t *pcs, int max)
{
    const uintptr_t *frame = __builtin_frame_address(0);
    int depth = conan_frame_walk((uintptr_t)__builtin_return_address(0), (uintptr_t)(frame + 2), frame[0], pcs, max);
    if (depth >= 0) return depth;
    backtrace_fn backtrace = __atomic_load_n(&gcc_backtrace, __ATOMIC_ACQUIRE);
    if (backtrace) {
        struct here_walk w = { pcs, max, 0 };
        backtrace(collect_frame, &w);
        return w.depth;
    }
    ucontext_t uc;
    if (getcontext(&uc) != 0) return 0;
    return conan_unwind_context(&uc, pcs, max);
}

static void find_gcc_unwinder(void)
{
    void *gcc_s = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!gcc_s) return;
    get_ip_info_fn get_ip_info = (get_ip_info_fn)dlsym(gcc_s, "_Unwind_GetIPInfo");
    backtrace_fn backtrace = (backtrace_fn)dlsym(gcc_s, "_Unwind_Backtrace");
    if (!get_ip_info || !backtrace) return;
    gcc_get_ip_info = get_ip_info;
    void *find_fde = dlsym(gcc_s, "_Unwind_Find_FDE");
    if (find_fde) conan_frame_rules_prepare(find_fde);
    uintptr_t warm[4];
    struct here_walk w = { warm, 4, 0 };
    backtrace(collect_frame, &w); /* its one-time set-up happens here */
    __atomic_store_n(&gcc_backtrace, backtrace, __ATOMIC_RELEASE);
}

void conan_unwind_caller_prepare(uintptr_t libunwind_code)
{
    find_gcc_unwinder();
    struct text_range own = note_ours((uintptr_t)conan_unwind_caller);
    own_start = own.start;
    own_end = own.end;
    note_ours((uintptr_t)__atomic_load_n(&gcc_backtrace, __ATOMIC_ACQUIRE));
    note_ours(libunwind_code);
}
