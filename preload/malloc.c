/* malloc.c — the interposed malloc family: malloc, free, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size, and C++ operator new and delete. Each forwards to the
 * next allocator in the chain (the C library's, or jemalloc preloaded after us)
 * found with dlsym(RTLD_NEXT), so alignment, zeroing, errors and realloc
 * semantics are exactly that allocator's.
 *
 * Hot path (every call of the program's): one thread-local countdown on
 * allocation and one load of a hint counter on free (src/heap_inline.h). No lock,
 * no atomic read-modify-write, no syscall; the forwarding is a tail call. Only
 * the allocation that exhausts the countdown, or a free whose hint is set,
 * goes to the slow path in src/heap.c.
 *
 * Bootstrap: the first call resolves the next allocator. dlsym may itself
 * allocate; those allocations come from a small static arena whose blocks are
 * never given back (their frees are recognised and ignored).
 *
 * The sanitized test builds (CONAN_SANITIZED_SHIM, tests/meson.build) compile
 * the engine with AddressSanitizer or ThreadSanitizer but this file without
 * it. Preloaded ahead of the sanitizer runtime, these wrappers also serve
 * allocations made where instrumented code would fault: the dynamic loader's
 * while libasan or libtsan is still initialising (no shadow memory yet), and
 * libtsan's own as it sets up or tears down a thread (no thread state). There
 * the engine (src/heap.c) is entered only on the main thread once our
 * constructor has run, which is after the runtime's (a library we depend on
 * is initialised first), and on other threads while the thread registry runs
 * them (conan_heap_thread_registered). Elsewhere heap sampling is still off,
 * or the thread is not yet or no longer the program's: its allocations are
 * not sampled and its frees of sampled blocks not seen. */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap_inline.h"
#include "interpose.h"

/* ---- bootstrap arena ---- */

#define ARENA_BYTES (64 * 1024)
static alignas(64) char arena[ARENA_BYTES];
static size_t arena_used; /* atomic */

static bool in_arena(const void *p)
{
    return (const char *)p >= arena && (const char *)p < arena + ARENA_BYTES;
}

/* Each block is preceded by its size; the arena is zero and never reused, so
 * calloc needs nothing more. */
static void *arena_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (size > ARENA_BYTES || align > 4096) return NULL;
    size_t need = size + align + 16;
    size_t start = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
    if (start + need > ARENA_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t base = (uintptr_t)arena + start + 16;
    uintptr_t p = (base + align - 1) & ~(uintptr_t)(align - 1);
    memcpy((void *)(p - sizeof size), &size, sizeof size);
    conan_heap_pin((void *)p); /* its free must come to us, not the allocator */
    return (void *)p;
}

static size_t arena_size(const void *p)
{
    size_t size;
    memcpy(&size, (const char *)p - sizeof size, sizeof size);
    return size;
}

/* realloc of an arena block p: the new block q (may be NULL) gets its bytes. */
static void *arena_moved(const void *p, void *q, size_t size)
{
    if (q && p) memcpy(q, p, arena_size(p) < size ? arena_size(p) : size);
    return q;
}

/* ---- the next allocator ---- */

struct allocator {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
};

static void *boot_malloc(size_t);
static void boot_free(void *);
static void *boot_calloc(size_t, size_t);
static void *boot_realloc(void *, size_t);
static int boot_posix_memalign(void **, size_t, size_t);
static void *boot_aligned_alloc(size_t, size_t);
static void *boot_memalign(size_t, size_t);
static void *boot_valloc(size_t);
static void *boot_pvalloc(size_t);
static size_t boot_malloc_usable_size(void *);

/* Until resolved, every entry points at a boot_ function that resolves first:
 * the hot path never tests whether resolution has happened. */
static struct allocator next = {
    boot_malloc, boot_free, boot_calloc, boot_realloc, boot_posix_memalign,
    boot_aligned_alloc, boot_memalign, boot_valloc, boot_pvalloc, boot_malloc_usable_size,
};

/* Emulations for functions the next allocator does not define (jemalloc has
 * no pvalloc): the C library's would allocate from another heap than the one
 * free() returns blocks to. reallocarray is always ours (overflow check, then
 * realloc, as glibc defines it): glibc's calls realloc through the PLT, which
 * would count the block twice. */
static void *emulated_memalign(size_t align, size_t size)
{
    void *p = NULL;
    int rc = next.posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size);
    if (rc) errno = rc;
    return rc ? NULL : p;
}

static int posix_memalign_from_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = next.memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static int no_posix_memalign(void **out, size_t align, size_t size)
{
    (void)out, (void)align, (void)size;
    return ENOMEM;
}

/* An allocator that cannot say: no usable bytes beyond what was asked is the
 * only safe answer, and 0 is what callers must treat as unknown. */
static size_t usable_size_unknown(void *p)
{
    (void)p;
    return 0;
}

static void *emulated_aligned_alloc(size_t align, size_t size) { return next.memalign(align, size); }
static void *emulated_valloc(size_t size) { return next.memalign((size_t)getpagesize(), size); }

static void *emulated_pvalloc(size_t size)
{
    size_t page = (size_t)getpagesize(), rounded = size ? (size + page - 1) & ~(page - 1) : page;
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return next.memalign(page, rounded);
}

/* glibc's own entry points: the fallback if dlsym cannot answer at all. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static const void *object_of(const void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) ? info.dli_fbase : NULL;
}

/* The next definition of name if it lives in the allocator's object. */
static void *from_allocator(const char *name, const void *allocator_object)
{
    void *fn = dlsym(RTLD_NEXT, name);
    return fn && object_of(fn) == allocator_object ? fn : NULL;
}

#define PICK(field, name, fallback)                                                   \
    do {                                                                               \
        void *fn = from_allocator(name, object);                                       \
        found.field = fn ? (__typeof__(found.field))fn : (fallback);                   \
    } while (0)

static void decide_cxx_mode(const void *allocator_object);

static void resolve_all(void)
{
    struct allocator found;
    void *m = dlsym(RTLD_NEXT, "malloc");
    const void *object = object_of(m);
    found.malloc = m ? (void *(*)(size_t))m : __libc_malloc;
    PICK(free, "free", __libc_free);
    PICK(calloc, "calloc", __libc_calloc);
    PICK(realloc, "realloc", __libc_realloc);
    PICK(posix_memalign, "posix_memalign", NULL);
    PICK(memalign, "memalign", NULL);
    /* An allocator with only one of the two gets the other built from it.
     * With neither, aligned requests go where they would without us: to the
     * next definitions, whoever has them (the C library). */
    if (!found.posix_memalign && !found.memalign) {
        found.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
        found.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    }
    if (!found.posix_memalign) found.posix_memalign = found.memalign ? posix_memalign_from_memalign : no_posix_memalign;
    if (!found.memalign) found.memalign = emulated_memalign;
    PICK(aligned_alloc, "aligned_alloc", emulated_aligned_alloc);
    PICK(valloc, "valloc", emulated_valloc);
    PICK(pvalloc, "pvalloc", emulated_pvalloc);
    PICK(malloc_usable_size, "malloc_usable_size", usable_size_unknown);

    Dl_info info;
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))from_allocator("mallctl", object);
    if (mallctl)
        conan_allocator.name = "jemalloc";
    else if (object && object == object_of((void *)__libc_malloc))
        conan_allocator.name = "glibc";
    else if (m && dladdr(m, &info) && info.dli_fname)
        conan_allocator.name = info.dli_fname;
    conan_allocator.mallctl = mallctl;
    decide_cxx_mode(object);

    /* Publish the ones every other entry relies on last. */
    __atomic_store_n(&next.posix_memalign, found.posix_memalign, __ATOMIC_RELEASE);
    __atomic_store_n(&next.memalign, found.memalign, __ATOMIC_RELEASE);
    __atomic_store_n(&next.realloc, found.realloc, __ATOMIC_RELEASE);
    __atomic_store_n(&next.aligned_alloc, found.aligned_alloc, __ATOMIC_RELEASE);
    __atomic_store_n(&next.valloc, found.valloc, __ATOMIC_RELEASE);
    __atomic_store_n(&next.pvalloc, found.pvalloc, __ATOMIC_RELEASE);
    __atomic_store_n(&next.malloc_usable_size, found.malloc_usable_size, __ATOMIC_RELEASE);
    __atomic_store_n(&next.calloc, found.calloc, __ATOMIC_RELEASE);
    __atomic_store_n(&next.free, found.free, __ATOMIC_RELEASE);
    __atomic_store_n(&next.malloc, found.malloc, __ATOMIC_RELEASE);
}

enum { UNRESOLVED, RESOLVING, RESOLVED };
static int resolve_state; /* atomic */
static __thread bool resolving __attribute__((tls_model("initial-exec")));

/* True when next is usable; false for the resolving thread's own nested
 * calls, which the arena serves. */
static bool resolved(void)
{
    int state = __atomic_load_n(&resolve_state, __ATOMIC_ACQUIRE);
    if (state == RESOLVED) return true;
    if (resolving) return false;
    state = UNRESOLVED;
    if (__atomic_compare_exchange_n(&resolve_state, &state, RESOLVING, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        resolving = true;
        resolve_all();
        resolving = false;
        __atomic_store_n(&resolve_state, RESOLVED, __ATOMIC_RELEASE);
        return true;
    }
    while (__atomic_load_n(&resolve_state, __ATOMIC_ACQUIRE) != RESOLVED) sched_yield();
    return true;
}

static void *boot_malloc(size_t size) { return resolved() ? next.malloc(size) : arena_alloc(size, 16); }
static void boot_free(void *p) { if (resolved() && !in_arena(p)) next.free(p); }

static void *boot_calloc(size_t n, size_t size)
{
    size_t total;
    if (resolved()) return next.calloc(n, size);
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return arena_alloc(total, 16);
}

static void *boot_realloc(void *p, size_t size)
{
    if (resolved()) return next.realloc(p, size);
    return arena_moved(p, arena_alloc(size, 16), size);
}

static int boot_posix_memalign(void **out, size_t align, size_t size)
{
    if (resolved()) return next.posix_memalign(out, align, size);
    *out = arena_alloc(size, align);
    return *out ? 0 : ENOMEM;
}

static void *boot_aligned_alloc(size_t align, size_t size)
{
    return resolved() ? next.aligned_alloc(align, size) : arena_alloc(size, align);
}

static void *boot_memalign(size_t align, size_t size)
{
    return resolved() ? next.memalign(align, size) : arena_alloc(size, align);
}

static void *boot_valloc(size_t size)
{
    return resolved() ? next.valloc(size) : arena_alloc(size, (size_t)getpagesize());
}

static void *boot_pvalloc(size_t size)
{
    return resolved() ? next.pvalloc(size) : arena_alloc(size, (size_t)getpagesize());
}

static size_t boot_malloc_usable_size(void *p)
{
    return resolved() ? next.malloc_usable_size(p) : 0;
}

/* ---- the engine's heap entry points ---- */

#ifdef CONAN_SANITIZED_SHIM
/* See the top of this file: the main thread from our constructor on, other
 * threads while the thread registry runs them. */
__attribute__((constructor)) static void main_thread_ready(void) { conan_heap_thread_registered(true); }
static inline bool engine_ready(void) { return conan_heap_tls.registered; }
#else
static inline bool engine_ready(void) { return true; }
#endif

/* An allocation of size bytes: true when it must be sampled. */
static inline bool sample_due(size_t size) { return conan_heap_countdown(size) && engine_ready(); }

static inline void forget(void *p, struct conan_heap_taken *taken)
{
    if (engine_ready()) conan_heap_forget(p, taken);
}

/* ---- the interposed entry points: hot paths ---- */

/* The allocation of size bytes that call made: counted down, and sampled when
 * the countdown runs out. The common case is the tail call. */
#define ALLOCATE(size, call)                                     \
    do {                                                         \
        if (__builtin_expect(!sample_due(size), 1)) return call; \
        void *allocated_ = call;                                 \
        conan_heap_sample(allocated_, size);                     \
        return allocated_;                                       \
    } while (0)

CONAN_INTERPOSED void *malloc(size_t size)
{
    ALLOCATE(size, next.malloc(size));
}

CONAN_INTERPOSED void free(void *p)
{
    if (__builtin_expect(conan_heap_maybe_sampled(p), 0)) {
        if (in_arena(p)) return;
        forget(p, NULL); /* before the allocator can hand p out again */
    }
    next.free(p);
}

CONAN_INTERPOSED void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return next.calloc(n, size); /* its ENOMEM */
    ALLOCATE(total, next.calloc(n, size));
}

/* realloc is a free of the old block and an allocation of the new size. If it
 * fails the old block is still live and tracked again. */
static void *reallocate(void *p, size_t size)
{
    struct conan_heap_taken taken = { 0 };
    if (p && conan_heap_maybe_sampled(p)) {
        if (in_arena(p)) return arena_moved(p, malloc(size), size);
        forget(p, &taken);
    }
    void *q = next.realloc(p, size);
    if (!q) {
        if (size && taken.bucket) conan_heap_restore(p, &taken);
        return NULL;
    }
    if (sample_due(size)) conan_heap_sample(q, size);
    return q;
}

CONAN_INTERPOSED void *realloc(void *p, size_t size)
{
    return reallocate(p, size);
}

CONAN_INTERPOSED void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return reallocate(p, total);
}

CONAN_INTERPOSED int posix_memalign(void **out, size_t align, size_t size)
{
    int rc = next.posix_memalign(out, align, size);
    if (rc == 0 && sample_due(size)) conan_heap_sample(*out, size);
    return rc;
}

CONAN_INTERPOSED void *aligned_alloc(size_t align, size_t size)
{
    ALLOCATE(size, next.aligned_alloc(align, size));
}

CONAN_INTERPOSED void *memalign(size_t align, size_t size)
{
    ALLOCATE(size, next.memalign(align, size));
}

CONAN_INTERPOSED void *valloc(size_t size)
{
    ALLOCATE(size, next.valloc(size));
}

CONAN_INTERPOSED void *pvalloc(size_t size)
{
    ALLOCATE(size, next.pvalloc(size));
}

CONAN_INTERPOSED size_t malloc_usable_size(void *p)
{
    if (p && in_arena(p)) return arena_size(p);
    return next.malloc_usable_size(p);
}

/* ---- C++ operator new and delete ----
 *
 * libstdc++'s operator new is malloc plus a new_handler loop and bad_alloc.
 * jemalloc exports operators of its own, which would send C++ allocations
 * straight to it, past us. So operator new allocates through the same path as
 * malloc (from the next allocator, counted down and sampled), and only when
 * that fails does it call the operator that would have served the call without
 * us, which runs the program's new_handler and throws bad_alloc or returns
 * NULL exactly as before. Every operator delete is free().
 *
 * C++ lets a program (or a library bound to itself) replace operator new and
 * delete; the other forms then reach the replacement through libstdc++. When
 * that is so — the definition the program sees is not ours, or the next one is
 * neither the C++ runtime's nor the allocator's — we serve nothing ourselves:
 * every operator forwards to the definition behind us, as if we were absent. */

static bool cxx_forward; /* set by resolve_all: a replacement exists */

static bool is_cxx_runtime(const void *fn, const void *allocator_object)
{
    Dl_info info;
    if (!fn || !dladdr(fn, &info)) return false;
    if (info.dli_fbase == allocator_object) return true;
    const char *base = info.dli_fname ? strrchr(info.dli_fname, '/') : NULL;
    base = base ? base + 1 : info.dli_fname;
    return base && (strncmp(base, "libstdc++.", 10) == 0 || strncmp(base, "libc++.", 7) == 0);
}

static void decide_cxx_mode(const void *allocator_object)
{
    const void *ours = object_of((void *)decide_cxx_mode);
    static const char *const basic[] = { "_Znwm", "_ZdlPv", "_ZnwmSt11align_val_t", "_ZdlPvSt11align_val_t" };
    for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++) {
        void *seen = dlsym(RTLD_DEFAULT, basic[i]), *behind = dlsym(RTLD_NEXT, basic[i]);
        if ((seen && object_of(seen) != ours) || (behind && !is_cxx_runtime(behind, allocator_object)))
            cxx_forward = true;
    }
}

/* The definition that would serve an operator call without us: the next one
 * in the global scope, or — for a library dlopen'ed RTLD_LOCAL with its own
 * C++ runtime, which the global scope does not see — the one the caller's own
 * dependencies provide. NULL if there is none. */
static void *operator_behind(const char *name, const void *caller)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (fn) return fn;
    Dl_info info;
    if (!caller || !dladdr(caller, &info) || !info.dli_fname || !info.dli_fname[0]) return NULL;
    void *object = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!object) return NULL;
    fn = dlsym(object, name);
    dlclose(object);
    return fn && object_of(fn) != object_of((void *)operator_behind) ? fn : NULL;
}

/* Forwarding targets, found on first use and kept (objects in the global
 * scope stay loaded while we are). */
#define BEHIND(symbol, type)                                                                 \
    static type behind_##symbol(const void *caller)                                          \
    {                                                                                        \
        static type cached;                                                                  \
        type fn = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);                                \
        if (fn) return fn;                                                                   \
        fn = (type)operator_behind(#symbol, caller);                                         \
        if (fn && dlsym(RTLD_NEXT, #symbol)) __atomic_store_n(&cached, fn, __ATOMIC_RELEASE); \
        return fn;                                                                           \
    }

static void *cxx_allocate(size_t size)
{
    if (size == 0) size = 1; /* new of 0 bytes returns a unique pointer */
    void *p = next.malloc(size);
    if (sample_due(size)) conan_heap_sample(p, size);
    return p;
}

static void *cxx_allocate_aligned(size_t size, size_t align)
{
    void *p = NULL;
    if (size == 0) size = 1;
    if (next.posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0) return NULL;
    if (sample_due(size)) conan_heap_sample(p, size);
    return p;
}

/* A throwing new with nobody behind it to throw bad_alloc (C cannot): abort,
 * as the uncaught exception would. */
static void *no_operator(void)
{
    abort();
}

typedef void *(*new_fn)(size_t);
typedef void *(*new_nothrow_fn)(size_t, const void *);
typedef void *(*new_aligned_fn)(size_t, size_t);
typedef void *(*new_aligned_nothrow_fn)(size_t, size_t, const void *);

#define NEW_OPERATOR(symbol)                                                         \
    BEHIND(symbol, new_fn)                                                           \
    CONAN_INTERPOSED void *symbol(size_t size)                                       \
    {                                                                                \
        const void *caller = __builtin_return_address(0);                            \
        void *p = cxx_forward ? NULL : cxx_allocate(size);                           \
        if (p) return p;                                                             \
        new_fn fn = behind_##symbol(caller);                                         \
        return fn ? fn(size) : no_operator();                                        \
    }
#define NEW_OPERATOR_NOTHROW(symbol)                                                 \
    BEHIND(symbol, new_nothrow_fn)                                                   \
    CONAN_INTERPOSED void *symbol(size_t size, const void *nothrow)                  \
    {                                                                                \
        const void *caller = __builtin_return_address(0);                            \
        void *p = cxx_forward ? NULL : cxx_allocate(size);                           \
        if (p) return p;                                                             \
        new_nothrow_fn fn = behind_##symbol(caller);                                 \
        return fn ? fn(size, nothrow) : NULL;                                        \
    }
#define NEW_OPERATOR_ALIGNED(symbol)                                                 \
    BEHIND(symbol, new_aligned_fn)                                                   \
    CONAN_INTERPOSED void *symbol(size_t size, size_t align)                         \
    {                                                                                \
        const void *caller = __builtin_return_address(0);                            \
        void *p = cxx_forward ? NULL : cxx_allocate_aligned(size, align);            \
        if (p) return p;                                                             \
        new_aligned_fn fn = behind_##symbol(caller);                                 \
        return fn ? fn(size, align) : no_operator();                                 \
    }
#define NEW_OPERATOR_ALIGNED_NOTHROW(symbol)                                         \
    BEHIND(symbol, new_aligned_nothrow_fn)                                           \
    CONAN_INTERPOSED void *symbol(size_t size, size_t align, const void *nothrow)    \
    {                                                                                \
        const void *caller = __builtin_return_address(0);                            \
        void *p = cxx_forward ? NULL : cxx_allocate_aligned(size, align);            \
        if (p) return p;                                                             \
        new_aligned_nothrow_fn fn = behind_##symbol(caller);                         \
        return fn ? fn(size, align, nothrow) : NULL;                                 \
    }

NEW_OPERATOR(_Znwm)                                   /* operator new(size_t) */
NEW_OPERATOR(_Znam)                                   /* operator new[](size_t) */
NEW_OPERATOR_NOTHROW(_ZnwmRKSt9nothrow_t)             /* operator new(size_t, nothrow_t const&) */
NEW_OPERATOR_NOTHROW(_ZnamRKSt9nothrow_t)
NEW_OPERATOR_ALIGNED(_ZnwmSt11align_val_t)            /* operator new(size_t, align_val_t) */
NEW_OPERATOR_ALIGNED(_ZnamSt11align_val_t)
NEW_OPERATOR_ALIGNED_NOTHROW(_ZnwmSt11align_val_tRKSt9nothrow_t)
NEW_OPERATOR_ALIGNED_NOTHROW(_ZnamSt11align_val_tRKSt9nothrow_t)

/* Deletes: free(), or, when forwarding, the definition behind us (none: the
 * block cannot be ours, so leaking it is the only safe thing). */
#define DELETE_OPERATOR(symbol, params, args)                                        \
    typedef void (*symbol##_fn) params;                                              \
    BEHIND(symbol, symbol##_fn)                                                      \
    CONAN_INTERPOSED void symbol params                                              \
    {                                                                                \
        if (!cxx_forward) {                                                          \
            free(p);                                                                 \
            return;                                                                  \
        }                                                                            \
        symbol##_fn fn = behind_##symbol(__builtin_return_address(0));               \
        if (fn) fn args;                                                             \
    }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter" /* size and alignment: free() needs neither */
DELETE_OPERATOR(_ZdlPv, (void *p), (p))               /* operator delete(void*) */
DELETE_OPERATOR(_ZdaPv, (void *p), (p))               /* operator delete[](void*) */
DELETE_OPERATOR(_ZdlPvm, (void *p, size_t size), (p, size))   /* sized */
DELETE_OPERATOR(_ZdaPvm, (void *p, size_t size), (p, size))
DELETE_OPERATOR(_ZdlPvRKSt9nothrow_t, (void *p, const void *nothrow), (p, nothrow))
DELETE_OPERATOR(_ZdaPvRKSt9nothrow_t, (void *p, const void *nothrow), (p, nothrow))
DELETE_OPERATOR(_ZdlPvSt11align_val_t, (void *p, size_t align), (p, align))   /* aligned */
DELETE_OPERATOR(_ZdaPvSt11align_val_t, (void *p, size_t align), (p, align))
DELETE_OPERATOR(_ZdlPvmSt11align_val_t, (void *p, size_t size, size_t align), (p, size, align))
DELETE_OPERATOR(_ZdaPvmSt11align_val_t, (void *p, size_t size, size_t align), (p, size, align))
DELETE_OPERATOR(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t align, const void *nothrow),
                (p, align, nothrow))
DELETE_OPERATOR(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t align, const void *nothrow),
                (p, align, nothrow))
#pragma GCC diagnostic pop
