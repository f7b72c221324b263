/* mutex.c — the mutex profiler: which contended lock waits are sampled, the
 * table of waiting stacks, the total wait the mutex rule reads, and the mutex
 * profile built from them.
 *
 * The interposers (preload/mutex.c) come here only when a lock's trylock said
 * EBUSY: conan_mutex_wait_begin reads the clock, the real lock call waits,
 * conan_mutex_wait_end reads it again. Every such wait is added to the total
 * (one relaxed add on a per-thread stripe); waits are sampled by time, Poisson
 * over nanoseconds as heap.c samples bytes (poisson.h): every nanosecond
 * waited is a sampling point with probability 1/mutex.sample_ns, so a wait of
 * d ns is sampled with probability p = 1 - e^(-d/sample_ns): long waits
 * always, short ones in proportion. A sample stands for 1/p contentions and
 * d/p nanoseconds of delay — the unbiasing of Go's heap profile
 * (runtime/pprof scaleHeapSample) applied to time; Go's mutex profile samples
 * one event in `rate` and scales both values by rate, which for a lock whose
 * waits vary gives the short ones the same weight as the long ones.
 *
 * A sampled wait records the waiter's stack (conan_unwind_caller: without our
 * frames) and labels. It does so after the real call returned, so with the
 * lock held: the walk is bounded (tens of microseconds at worst) and happens
 * about once per sample_ns of waiting per thread.
 *
 * Slow-path constraints: it runs inside the program's lock call, possibly with
 * other locks of the program held, and must never allocate: stacks come from a
 * pool we mmap. The table lock is never held across anything that could block
 * on the program. Our own lock calls (the table lock, heap.c's, the thread
 * registry's, the monitor's) come back through the interposers: they are
 * never timed (see conan_mutex_wait_begin), so a sample never takes our table
 * lock while holding another lock of ours. */
#include "mutex.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fork.h"
#include "frame_rules.h"
#include "labels.h"
#include "poisson.h"
#include "sample_table.h"
#include "stack_walk.h"

int conan_mutex_on;

struct mutex_thread {
    int64_t ns_left;             /* waiting until the next sample; < 0: sample */
    uint64_t rng;
    unsigned stripe;             /* its place in the total */
    bool started;                /* rng seeded and a first interval drawn */
    bool busy;                   /* inside the slow path: our own lock calls are not timed */
    bool exempt;                 /* a libconan thread */
};
static __thread struct mutex_thread tls __attribute__((tls_model("initial-exec")));

#define STACK_BITS 10            /* hash heads of distinct stacks */
#define STACKS_MAX 16384         /* distinct stacks kept; waits at further new stacks are dropped */
#define POOL_CHUNK (256 << 10)   /* stacks come from chunks this big */
#define POOL_MAX (32L << 20)     /* and never more than this in all */
#define STRIPES 16               /* the total is spread over this many cache lines */

struct bucket {
    double contentions, delay_ns; /* unbiased, since the last profile */
    struct conan_sample_key key; /* last: its pcs follow */
};

static struct bucket *bucket_of(struct conan_sample_key *k)
{
    return k ? (struct bucket *)((char *)k - offsetof(struct bucket, key)) : NULL;
}

static struct conan_sample_key *heads[1u << STACK_BITS];

static struct {
    pthread_mutex_t lock;
    int64_t sample_ns;           /* atomic: the Poisson mean */
    struct conan_sample_table table; /* sampled waits by stack and labels */
    long sampled, dropped;       /* since the last profile */
    long gave_up;                /* atomic: samples lost to a busy table lock, since the last profile */
    int64_t waited_at_profile;   /* the total when the last profile was built */
    double profile_s;            /* and when */
    unsigned next_stripe;        /* atomic */
    bool parents_counts;         /* a fork child: the buckets still hold the parent's counts */
} mx = { .lock = PTHREAD_MUTEX_INITIALIZER,
          .table = CONAN_SAMPLE_TABLE_INIT(heads, STACK_BITS, STACKS_MAX, struct bucket, key, POOL_CHUNK, POOL_MAX) };

static struct {
    int64_t ns;                  /* atomic */
    char pad[64 - sizeof(int64_t)];
} waited[STRIPES] __attribute__((aligned(64)));

static int64_t waited_ns(void);

/* ---- the slow path ---- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The table lock, for a sample: tried a bounded number of times, never waited
 * for. The sampling thread holds the program's lock it just acquired, and a
 * forking thread holds the table's lock from prefork on while other
 * libraries' atfork handlers run, which may take that very lock (jemalloc's
 * arena mutexes are pthread mutexes): waiting here could deadlock the fork.
 * Giving up loses one sample, counted. */
#define TABLE_TRIES 64

static bool table_lock_or_give_up(void)
{
    for (int i = 0; i < TABLE_TRIES; i++) {
        if (pthread_mutex_trylock(&mx.lock) == 0) return true;
        sched_yield();
    }
    return false;
}

static void record(int64_t ns, int64_t rate)
{
    uintptr_t pcs[CONAN_MAX_FRAMES];
    struct conan_label_set labels;
    int depth = conan_unwind_caller(pcs, CONAN_MAX_FRAMES);
    conan_labels_capture(&labels);
    double w = conan_poisson_weight((double)ns, (double)rate);
    if (!table_lock_or_give_up()) {
        __atomic_fetch_add(&mx.gave_up, 1, __ATOMIC_RELAXED);
        return;
    }
    struct bucket *b = depth > 0 ? bucket_of(conan_sample_table_find_or_add(&mx.table, pcs, depth, &labels)) : NULL;
    if (b) {
        b->contentions += w;
        b->delay_ns += w * (double)ns;
        mx.sampled++;
    } else {
        mx.dropped++;
    }
    pthread_mutex_unlock(&mx.lock);
}

void conan_mutex_wait_begin(struct conan_mutex_wait *w)
{
    struct mutex_thread *t = &tls;
    /* Not the program's: our own threads, and every lock libconan itself
     * takes (its tables' and registry's, in whatever thread): a sample
     * recorded while holding one of those would take our table lock under
     * it, against the order fork.c's prefork takes them in. busy: the
     * forking thread from prefork on, whose later atfork handlers (another
     * library's) may take locks while we hold our table's. */
    w->start_ns = t->exempt || t->busy || conan_unwind_is_ours((uintptr_t)w->caller) ? 0 : now_ns();
}

/* Waits that ended holding the lock, or timed out, are waits; errors that
 * came at once (EDEADLK of an errorcheck relock, EINVAL...) are not. */
static bool was_a_wait(int rc)
{
    return rc == 0 || rc == EOWNERDEAD || rc == ETIMEDOUT;
}

void conan_mutex_wait_end(const struct conan_mutex_wait *w, int rc)
{
    if (!w->start_ns || !was_a_wait(rc)) return;
    struct mutex_thread *t = &tls;
    int64_t ns = now_ns() - w->start_ns;
    if (ns < w->min_ns) return;
    if (ns < 1) ns = 1;
    int64_t rate = __atomic_load_n(&mx.sample_ns, __ATOMIC_RELAXED);
    if (rate <= 0) return;
    if (!t->started) {
        conan_poisson_seed(&t->rng);
        t->stripe = __atomic_fetch_add(&mx.next_stripe, 1, __ATOMIC_RELAXED) % STRIPES;
        t->ns_left = conan_poisson_interval(&t->rng, (double)rate);
        t->started = true;
    }
    __atomic_fetch_add(&waited[t->stripe].ns, ns, __ATOMIC_RELAXED);
    t->ns_left -= ns;
    if (__builtin_expect(t->ns_left >= 0, 1)) return;
    t->ns_left = conan_poisson_interval(&t->rng, (double)rate);
    int saved_errno = errno;
    t->busy = true;
    record(ns, rate);
    t->busy = false;
    errno = saved_errno;
}

/* ---- switching on and off ---- */

void conan_mutex_start(const struct conan_config *cfg)
{
    if (!cfg->mutex.enable || cfg->mutex.sample_ns <= 0) return;
    conan_fork_init();
    conan_unwind_prepare();
    conan_frame_rules_thread_start(); /* idempotent; the starting thread's */
    bool was_busy = tls.busy;
    tls.busy = true;
    pthread_mutex_lock(&mx.lock);
    if (mx.parents_counts) /* cleared here, not in the fork: a child that never starts pays nothing */
        for (struct conan_sample_key *k = mx.table.newest; k; k = k->older) {
            struct bucket *b = bucket_of(k);
            b->contentions = b->delay_ns = 0;
        }
    mx.parents_counts = false;
    mx.profile_s = conan_monotonic_seconds();
    mx.waited_at_profile = waited_ns();
    pthread_mutex_unlock(&mx.lock);
    tls.busy = was_busy;
    __atomic_store_n(&mx.sample_ns, (int64_t)cfg->mutex.sample_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&conan_mutex_on, 1, __ATOMIC_RELEASE);
}

void conan_mutex_stop(void)
{
    __atomic_store_n(&conan_mutex_on, 0, __ATOMIC_RELEASE);
}

bool conan_mutex_enabled(void)
{
    return __atomic_load_n(&conan_mutex_on, __ATOMIC_RELAXED) != 0;
}

void conan_mutex_exempt_this_thread(void)
{
    tls.exempt = true;
}

/* Every contended wait's nanoseconds since start, sampled or not (for the
 * mutex rule: its growth over a tick). */
static int64_t waited_ns(void)
{
    int64_t sum = 0;
    for (int i = 0; i < STRIPES; i++) sum += __atomic_load_n(&waited[i].ns, __ATOMIC_RELAXED);
    return sum;
}

double conan_mutex_meter_percent(struct conan_mutex_meter *m)
{
    int64_t ns = waited_ns();
    double now_s = conan_monotonic_seconds(), percent = 0;
    if (m->primed && now_s > m->last_s) percent = (double)(ns - m->last_ns) / 1e9 / (now_s - m->last_s) * 100.0;
    m->last_ns = ns;
    m->last_s = now_s;
    m->primed = true;
    return percent;
}

void conan_mutex_prefork(void)
{
    tls.busy = true; /* until the postfork hooks: see fork.c */
    pthread_mutex_lock(&mx.lock);
}

void conan_mutex_postfork_parent(void)
{
    pthread_mutex_unlock(&mx.lock);
    tls.busy = false;
}

void conan_mutex_postfork_child(void)
{
    tls.busy = false;
    __atomic_store_n(&conan_mutex_on, 0, __ATOMIC_RELAXED);
    pthread_mutex_init(&mx.lock, NULL);
    mx.parents_counts = true; /* timing is off until the child's monitor starts, which clears them */
    for (int i = 0; i < STRIPES; i++) waited[i].ns = 0;
    mx.sampled = mx.dropped = mx.gave_up = 0;
    mx.waited_at_profile = 0;
}

/* ---- the profile (monitor thread) ---- */

struct bucket_copy {
    const struct bucket *bucket; /* its pcs and labels are immutable: read after unlock */
    double contentions, delay_ns;
};

struct conan_pprof *conan_mutex_profile(struct conan_mutex_stats *stats)
{
    static const struct conan_value_type types[] = { { "contentions", "count" }, { "delay", "nanoseconds" } };
    int64_t rate = __atomic_load_n(&mx.sample_ns, __ATOMIC_RELAXED);
    struct conan_pprof *p = conan_pprof_new(types, 2, types[1], rate);
    if (!p) return NULL;
    conan_pprof_set_default_type(p, 1);

    /* Count under the lock, allocate outside it, copy and clear under it: the
     * list only grows at its head, so the first n from the head are stable. */
    pthread_mutex_lock(&mx.lock);
    struct conan_sample_key *head = mx.table.newest;
    long n = mx.table.count;
    pthread_mutex_unlock(&mx.lock);
    struct bucket_copy *copy = n ? malloc((size_t)n * sizeof *copy) : NULL;
    if (n && !copy) {
        conan_pprof_free(p);
        return NULL;
    }
    long got = 0, seen = 0;
    int64_t waited_now = waited_ns();
    double now_s = conan_monotonic_seconds();
    pthread_mutex_lock(&mx.lock);
    for (struct conan_sample_key *k = head; k && seen < n; k = k->older, seen++) {
        struct bucket *b = bucket_of(k);
        if (b->contentions <= 0) continue;
        copy[got++] = (struct bucket_copy){ b, b->contentions, b->delay_ns };
        b->contentions = b->delay_ns = 0;
    }
    long gave_up = __atomic_exchange_n(&mx.gave_up, 0, __ATOMIC_RELAXED);
    *stats = (struct conan_mutex_stats){ .stacks = mx.table.count, .sampled = mx.sampled, .dropped = mx.dropped + gave_up,
                                         .waited_s = (double)(waited_now - mx.waited_at_profile) / 1e9,
                                         .since_s = mx.profile_s };
    mx.sampled = mx.dropped = 0;
    mx.waited_at_profile = waited_now;
    mx.profile_s = now_s;
    pthread_mutex_unlock(&mx.lock);

    for (long i = 0; i < got; i++) {
        const struct bucket_copy *c = &copy[i];
        int64_t values[2] = { llround(c->contentions), llround(c->delay_ns) };
        if (!values[0] && !values[1]) continue;
        struct conan_label labels[CONAN_PPROF_MAX_LABELS];
        int nlabels = conan_labels_resolve(&c->bucket->key.labels, labels, CONAN_PPROF_MAX_LABELS);
        conan_pprof_add(p, c->bucket->key.pcs, c->bucket->key.depth, values, labels, nlabels);
    }
    free(copy);
    return p;
}
