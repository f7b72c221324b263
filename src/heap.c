/* heap.c — heap sampling: which allocations are sampled, the table of sampled
 * blocks still live, the per-stack totals, and the heap profile built from them.
 *
 * Sampling is Poisson over bytes, as in tcmalloc, jemalloc and Go: every byte
 * allocated is a sampling point with probability 1/sample_bytes, so each thread
 * counts down an exponentially distributed number of bytes (conan_heap_countdown,
 * inline in the malloc wrappers) and the allocation that crosses zero is
 * sampled. An allocation of s bytes is therefore sampled with probability
 * p = 1 - e^(-s/rate); each sample stands for 1/p allocations and s/p bytes.
 * The correction is applied per sample, so a stack whose sizes vary is still
 * unbiased (for equal sizes it is the usual per-stack scale 1/(1-e^(-avg/rate))).
 *
 * Slow-path constraints: it runs inside the program's malloc, possibly with the
 * dynamic loader's lock held, and must never call malloc: records and stacks
 * come from pools we mmap, the stack walk is unwind_caller.c's (no loader
 * lock), and the one lock here is never held across anything that could block
 * on the program. Frees find sampled blocks through conan_heap_hint (one load
 * when the block was not sampled). Nothing is ever unmapped, so a free that
 * arrives after our destructor still finds a consistent table. */
#include "heap.h"
#include "clock.h"
#include "fork.h"
#include "config.h"
#include "frame_rules.h"
#include "heap_inline.h"
#include "labels.h"
#include "log.h"
#include "poisson.h"
#include "sample_table.h"
#include "pprof.h"
#include "stack_walk.h"
#include "symbols.h"

#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

__thread struct conan_heap_thread conan_heap_tls __attribute__((tls_model("initial-exec")));
uint16_t conan_heap_hint[1u << CONAN_HEAP_HINT_BITS];
struct conan_allocator conan_allocator = { .name = "unknown" };

/* While sampling is off, threads still look at the switch once per this many
 * bytes, so turning it on reaches every thread quickly. */
#define RECHECK_BYTES (64 << 10)
#define EXEMPT_BYTES (INT64_MAX / 2)

#define LIVE_BITS 16             /* hash heads of live sampled blocks */
#define STACK_BITS 12            /* hash heads of distinct stacks */
#define STACKS_MAX 65536         /* distinct stacks kept; further new stacks are dropped */
#define POOL_CHUNK (1 << 20)     /* records and stacks come from chunks this big */
#define POOL_MAX (256L << 20)    /* and never more than this in all */

struct stack_bucket {
    double alloc_count, alloc_bytes, inuse_count, inuse_bytes;
    struct conan_sample_key key; /* last: its pcs follow; labels: the allocating thread's */
};

static struct stack_bucket *bucket_of(struct conan_sample_key *k)
{
    return k ? (struct stack_bucket *)((char *)k - offsetof(struct stack_bucket, key)) : NULL;
}

static struct conan_sample_key *stack_heads[1u << STACK_BITS];

struct live_block {
    uintptr_t addr;
    size_t size;
    double weight;               /* blocks it stands for, at the rate it was sampled at */
    struct stack_bucket *bucket;
    struct live_block *next;
};

static struct {
    pthread_mutex_t lock;
    int sample_bytes;            /* atomic: 0 = off */
    bool never;                  /* atomic: this process never samples (the shim is inert) */
    struct live_block *live[1u << LIVE_BITS];
    struct live_block *free_blocks;
    struct conan_sample_table stacks; /* its pool holds the live records too */
    struct conan_heap_stats stats; /* its inuse_bytes: the sum of every bucket's; stacks: stacks.count */
} heap = { .lock = PTHREAD_MUTEX_INITIALIZER,
           .stacks = CONAN_SAMPLE_TABLE_INIT(stack_heads, STACK_BITS, STACKS_MAX, struct stack_bucket, key, POOL_CHUNK,
                                             POOL_MAX) };

/* ---- the tables (lock held) ---- */

static size_t live_slot(uintptr_t addr)
{
    return (size_t)(((addr >> 4) * 0x9E3779B97F4A7C15ull) >> (64 - LIVE_BITS));
}

static void count_inuse(struct stack_bucket *b, size_t size, double weight, double sign)
{
    double before = b->inuse_bytes;
    b->inuse_count += sign * weight;
    b->inuse_bytes += sign * weight * (double)size;
    if (b->inuse_count < 0.5) b->inuse_count = b->inuse_bytes = 0; /* rounding, after the last free */
    heap.stats.inuse_bytes += b->inuse_bytes - before;
}

static struct live_block *unlink_live(uintptr_t addr)
{
    for (struct live_block **at = &heap.live[live_slot(addr)]; *at; at = &(*at)->next) {
        struct live_block *blk = *at;
        if (blk->addr != addr) continue;
        *at = blk->next;
        heap.stats.live--;
        __atomic_fetch_sub(&conan_heap_hint[conan_heap_hint_slot((void *)addr)], 1, __ATOMIC_RELAXED);
        return blk;
    }
    return NULL;
}

static void link_live(uintptr_t addr, size_t size, double weight, struct stack_bucket *b)
{
    struct live_block *blk = heap.free_blocks;
    if (blk)
        heap.free_blocks = blk->next;
    else
        blk = conan_sample_table_take(&heap.stacks, sizeof *blk); /* NULL: the pool is spent */
    if (!blk) {
        heap.stats.dropped++;
        return;
    }
    blk->addr = addr;
    blk->size = size;
    blk->weight = weight;
    blk->bucket = b;
    size_t slot = live_slot(addr);
    blk->next = heap.live[slot];
    heap.live[slot] = blk;
    heap.stats.live++;
    __atomic_fetch_add(&conan_heap_hint[conan_heap_hint_slot((void *)addr)], 1, __ATOMIC_RELAXED);
    count_inuse(b, size, weight, +1);
}

static void release_live(struct live_block *blk)
{
    count_inuse(blk->bucket, blk->size, blk->weight, -1);
    blk->next = heap.free_blocks;
    heap.free_blocks = blk;
}

/* ---- the slow paths ---- */

static void record(void *p, size_t size, int rate)
{
    uintptr_t pcs[CONAN_MAX_FRAMES];
    int depth = conan_unwind_caller(pcs, CONAN_MAX_FRAMES);
    struct conan_label_set labels;
    conan_labels_capture(&labels);
    double w = conan_poisson_weight((double)size, rate); /* allocations one sample stands for */
    pthread_mutex_lock(&heap.lock);
    heap.stats.sampled++;
    struct stack_bucket *b = bucket_of(conan_sample_table_find_or_add(&heap.stacks, pcs, depth, &labels));
    if (!b) {
        heap.stats.dropped++;
    } else {
        b->alloc_count += w;
        b->alloc_bytes += w * (double)size;
        /* An address we still track was freed behind our back (e.g. by an
         * allocator's own operator delete): the new block replaces it. */
        struct live_block *stale = unlink_live((uintptr_t)p);
        if (stale) {
            heap.stats.replaced++;
            release_live(stale);
        }
        link_live((uintptr_t)p, size, w, b);
    }
    pthread_mutex_unlock(&heap.lock);
}

void conan_heap_sample(void *p, size_t size)
{
    struct conan_heap_thread *t = &conan_heap_tls;
    if (t->exempt || __atomic_load_n(&heap.never, __ATOMIC_RELAXED)) {
        t->bytes_left = EXEMPT_BYTES;
        return;
    }
    int rate = __atomic_load_n(&heap.sample_bytes, __ATOMIC_RELAXED);
    if (rate <= 0) {
        t->started = false;
        t->bytes_left = RECHECK_BYTES;
        return;
    }
    if (t->busy) return; /* our own allocation: the next one of the program's is sampled */
    if (!t->started) {
        /* The first interval of this thread (or since sampling was turned on). */
        conan_poisson_seed(&t->rng);
        t->started = true;
        t->bytes_left += conan_poisson_interval(&t->rng, rate);
        if (t->bytes_left >= 0) return;
    }
    t->bytes_left = conan_poisson_interval(&t->rng, rate);
    if (!p) return;
    int saved_errno = errno;
    t->busy = true;
    record(p, size, rate);
    t->busy = false;
    errno = saved_errno;
}

/* A free from a signal handler that interrupted this thread inside the slow
 * path (the lock may be ours): leave the block; its address is reported as
 * "freed unseen" if it is reused. */
static bool interrupted_slow_path(void)
{
    return conan_heap_tls.busy;
}

void conan_heap_forget(void *p, struct conan_heap_taken *taken)
{
    if (taken) taken->bucket = NULL;
    if (!p || interrupted_slow_path()) return;
    int saved_errno = errno;
    conan_heap_tls.busy = true;
    pthread_mutex_lock(&heap.lock);
    struct live_block *blk = unlink_live((uintptr_t)p);
    if (blk) {
        heap.stats.freed++;
        if (taken) {
            taken->bucket = blk->bucket;
            taken->size = blk->size;
            taken->weight = blk->weight;
        }
        release_live(blk);
    }
    pthread_mutex_unlock(&heap.lock);
    conan_heap_tls.busy = false;
    errno = saved_errno;
}

void conan_heap_restore(void *p, const struct conan_heap_taken *taken)
{
    if (!p || !taken || !taken->bucket || interrupted_slow_path()) return;
    int saved_errno = errno;
    conan_heap_tls.busy = true;
    pthread_mutex_lock(&heap.lock);
    heap.stats.freed--;
    link_live((uintptr_t)p, taken->size, taken->weight, taken->bucket);
    pthread_mutex_unlock(&heap.lock);
    conan_heap_tls.busy = false;
    errno = saved_errno;
}

/* ---- switching on and off ---- */

/* fork (fork.c): a fork while another thread holds the table lock must not
 * leave the child with a lock no thread will release. */
void conan_heap_prefork(void) { pthread_mutex_lock(&heap.lock); }
void conan_heap_postfork_parent(void) { pthread_mutex_unlock(&heap.lock); }
void conan_heap_postfork_child(void) { pthread_mutex_init(&heap.lock, NULL); }

void conan_heap_thread_registered(bool registered)
{
    conan_heap_tls.registered = registered;
}

void conan_heap_exempt_this_thread(void)
{
    conan_heap_tls.exempt = true;
    conan_heap_tls.bytes_left = EXEMPT_BYTES;
}

void conan_heap_never(void)
{
    __atomic_store_n(&heap.never, true, __ATOMIC_RELAXED);
}

void conan_heap_start(const struct conan_config *cfg)
{
    if (cfg->heap.sample_bytes <= 0) return;
    conan_fork_init();
    conan_unwind_prepare();
    conan_frame_rules_thread_start(); /* the constructor's thread: the main one */
    __atomic_store_n(&heap.sample_bytes, cfg->heap.sample_bytes, __ATOMIC_RELEASE);
}

void conan_heap_stop(void)
{
    __atomic_store_n(&heap.sample_bytes, 0, __ATOMIC_RELEASE);
}

bool conan_heap_sampling(void)
{
    return __atomic_load_n(&heap.sample_bytes, __ATOMIC_RELAXED) > 0;
}

/* ---- reading it (monitor thread) ---- */

static double sampled_in_use(void)
{
    pthread_mutex_lock(&heap.lock);
    double bytes = heap.stats.inuse_bytes;
    pthread_mutex_unlock(&heap.lock);
    return bytes;
}

/* mallinfo2 walks every free chunk of every arena, each arena under its lock:
 * on a heavily fragmented heap that stalls the program's malloc for a long
 * time. If two calls in a row take longer than this, we stop asking: one slow
 * call alone can be the machine's (a vCPU stolen by the hypervisor is still
 * counted in the thread's CPU time; seen beside another test suite: a call
 * over 5 ms on a heap where it takes 0.2), and the heap rule would then lose
 * the allocator's exact figure for the rest of the process's life. The heap
 * rule and the heap profile's comments share this one count of slow calls. */
#define MALLINFO_MAX_MS 5.0
#define MALLINFO_SLOW_CALLS 2

static bool read_mallinfo(struct conan_allocator_stats *out)
{
    static bool too_slow;
    static int slow_calls, slow_once;
    if (too_slow) {
        out->why_none = "mallinfo2 no longer called: it proved slow on this fragmented heap, and stalls the "
                        "program's malloc while it runs";
        return false;
    }
    /* Timed in this thread's CPU time: walking free chunks is work, while
     * a wait on a busy machine (descheduled, or an arena lock held by the
     * program) says nothing about fragmentation. */
    double t0 = conan_clock_seconds(CLOCK_THREAD_CPUTIME_ID);
    struct mallinfo2 mi = mallinfo2();
    double ms = (conan_clock_seconds(CLOCK_THREAD_CPUTIME_ID) - t0) * 1000.0;
    slow_calls = ms > MALLINFO_MAX_MS ? slow_calls + 1 : 0;
    if (slow_calls >= MALLINFO_SLOW_CALLS) {
        too_slow = true;
        conan_log_once(&slow_once, "mallinfo2() took %.0f ms (a fragmented heap); the heap rule uses "
                                   "libconan's sampled estimate from now on, and heap profiles go without "
                                   "glibc's figures", ms);
    }
    out->glibc.arena = (double)mi.arena;
    out->glibc.mmapped = (double)mi.hblkhd;
    out->glibc.in_use = (double)mi.uordblks;
    out->glibc.free = (double)mi.fordblks;
    out->glibc.top_releasable = (double)mi.keepcost;
    return true;
}

/* All six exist in any jemalloc built with statistics (the default); one
 * built without them answers none. */
/* jemalloc's statistics after an epoch refresh. stats.allocated is needed
 * (the heap rule reads it every tick, and that is all it reads); with full,
 * the others too, each NaN where this jemalloc lacks it (stats.retained came
 * in 4.2, resident and metadata in 4.0). */
static bool read_jemalloc(struct conan_allocator_stats *out, bool full)
{
    static const char *const names[] = { "stats.allocated", "stats.active", "stats.resident",
                                         "stats.mapped", "stats.retained", "stats.metadata" };
    double *fields[] = { &out->jemalloc.allocated, &out->jemalloc.active, &out->jemalloc.resident,
                         &out->jemalloc.mapped, &out->jemalloc.retained, &out->jemalloc.metadata };
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    conan_allocator.mallctl("epoch", &epoch, &len, &epoch, len); /* refresh the statistics */
    for (size_t i = 0; i < (full ? sizeof names / sizeof names[0] : 1); i++) {
        size_t value = 0;
        len = sizeof value;
        bool read = conan_allocator.mallctl(names[i], &value, &len, NULL, 0) == 0;
        if (!read && i == 0) {
            out->why_none = "jemalloc answers no stats.allocated (built without statistics)";
            return false;
        }
        *fields[i] = read ? (double)value : NAN;
    }
    return true;
}

static void allocator_stats(struct conan_allocator_stats *out, bool full)
{
    *out = (struct conan_allocator_stats){ .view = CONAN_ALLOCATOR_NONE,
                                           .why_none = "libconan reads the statistics of glibc and jemalloc only" };
    if (conan_allocator.mallctl) {
        if (read_jemalloc(out, full)) out->view = CONAN_ALLOCATOR_JEMALLOC;
    } else if (strcmp(conan_allocator.name, "glibc") == 0) {
        if (read_mallinfo(out)) out->view = CONAN_ALLOCATOR_GLIBC;
    }
}

void conan_heap_allocator_stats(struct conan_allocator_stats *out)
{
    allocator_stats(out, true);
}

double conan_heap_in_use_of(const struct conan_allocator_stats *a, const char **source)
{
    switch (a->view) {
    case CONAN_ALLOCATOR_JEMALLOC:
        *source = "jemalloc";
        return a->jemalloc.allocated;
    case CONAN_ALLOCATOR_GLIBC:
        *source = "mallinfo2";
        return a->glibc.in_use + a->glibc.mmapped;
    case CONAN_ALLOCATOR_NONE:
        break;
    }
    *source = "sampled";
    return sampled_in_use();
}

double conan_heap_in_use_bytes(const char **source)
{
    struct conan_allocator_stats a;
    allocator_stats(&a, false); /* every tick: jemalloc's stats.allocated alone */
    return conan_heap_in_use_of(&a, source);
}

struct bucket_copy {
    const struct stack_bucket *bucket; /* its pcs are immutable: read after unlock */
    double alloc_count, alloc_bytes, inuse_count, inuse_bytes;
};

/* Leading frames in operator new / new[] (every variant: _Znwm, _Znam,
 * nothrow, aligned) are the allocator's plumbing, not the allocating code. */
static int allocator_frames(struct conan_symbols *syms, const uintptr_t *pcs, int depth)
{
    int skip = 0;
    const char *mangled;
    while (syms && skip < depth - 1 && conan_symbols_lookup(syms, pcs[skip], NULL, &mangled) && mangled &&
           (strncmp(mangled, "_Znw", 4) == 0 || strncmp(mangled, "_Zna", 4) == 0))
        skip++;
    return skip;
}

struct conan_pprof *conan_heap_profile(struct conan_heap_stats *stats, struct conan_symbols *syms)
{
    static const struct conan_value_type types[] = {
        { "alloc_objects", "count" }, { "alloc_space", "bytes" },
        { "inuse_objects", "count" }, { "inuse_space", "bytes" },
    };
    int rate = __atomic_load_n(&heap.sample_bytes, __ATOMIC_RELAXED);
    struct conan_pprof *p = conan_pprof_new(types, 4, (struct conan_value_type){ "space", "bytes" }, rate);
    if (!p) return NULL;
    conan_pprof_set_default_type(p, 3);

    /* Count under the lock, allocate outside it, copy under it: the list only
     * grows at its head, so the first n from the head seen are stable. */
    pthread_mutex_lock(&heap.lock);
    struct conan_sample_key *head = heap.stacks.newest;
    long n = heap.stacks.count;
    pthread_mutex_unlock(&heap.lock);
    struct bucket_copy *copy = n ? malloc((size_t)n * sizeof *copy) : NULL;
    if (n && !copy) {
        conan_pprof_free(p);
        return NULL;
    }
    long got = 0;
    pthread_mutex_lock(&heap.lock);
    for (struct conan_sample_key *k = head; k && got < n; k = k->older, got++) {
        const struct stack_bucket *b = bucket_of(k);
        copy[got] = (struct bucket_copy){ b, b->alloc_count, b->alloc_bytes, b->inuse_count, b->inuse_bytes };
    }
    *stats = heap.stats;
    stats->stacks = heap.stacks.count;
    pthread_mutex_unlock(&heap.lock);

    for (long i = 0; i < got; i++) {
        const struct bucket_copy *c = &copy[i];
        int64_t values[4] = { llround(c->alloc_count), llround(c->alloc_bytes), llround(c->inuse_count),
                              llround(c->inuse_bytes) };
        if (!values[0] && !values[2]) continue;
        int skip = allocator_frames(syms, c->bucket->key.pcs, c->bucket->key.depth);
        struct conan_label labels[CONAN_LABELS_MAX];
        int nlabels = conan_labels_resolve(&c->bucket->key.labels, labels, CONAN_LABELS_MAX);
        conan_pprof_add(p, c->bucket->key.pcs + skip, c->bucket->key.depth - skip, values, labels, nlabels);
    }
    free(copy);
    return p;
}
