/* mutex.c — the interposed blocking lock calls: pthread_mutex_lock,
 * pthread_mutex_timedlock and pthread_mutex_clocklock, and the read and write
 * locks of pthread_rwlock (plain, timed, clock). Each forwards to the next
 * definition (the C library's, or that of a library preloaded after us). No
 * policy here: src/mutex.c decides what a wait is worth.
 *
 * Hot path (every call of the program's, while the mutex profiler is on): one
 * load of conan_mutex_on (and of a mutex's kind), then the real trylock. Any answer but EBUSY is
 * returned as it is — 0, and every error (EOWNERDEAD and ENOTRECOVERABLE of a
 * robust mutex, EAGAIN of a recursive one at its count's limit, EINVAL...) —
 * so an uncontended lock costs one trylock instead of one lock. Only on EBUSY
 * is the real blocking call made between two clock reads (src/mutex.c), and
 * its answer, whatever it is, returned: an errorcheck mutex's relock fails
 * with EDEADLK there, a timed lock may time out, a normal mutex's relock
 * deadlocks as it would without us. With the profiler off every call is a
 * plain forward. Robust mutexes are the exception (see MUTEX_LOCK).
 *
 * Not seen: pthread_cond_wait's reacquisition of its mutex (glibc takes it
 * inside the C library, not through these symbols), spin locks, semaphores,
 * and locks taken by the C library itself (stdio, the loader).
 *
 * Bootstrap: each blocking call's first use looks up the next definition
 * with dlsym(RTLD_NEXT) and keeps it in the table the hot path calls through
 * (so the hot path never asks whether it has been resolved). Threads that
 * arrive at once each look it up; nobody waits for anybody. A lock call made
 * from inside that dlsym on the same thread (glibc takes its loader lock
 * without one, but another C library might not) is served by the trylock,
 * retried with sched_yield within the call's timeout, rather than recursing.
 * The trylocks themselves are plain calls: we do not define them, so they
 * bind where the program's would. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "interpose.h"
#include "mutex_wait.h"

typedef int (*mutex_fn)(pthread_mutex_t *);
typedef int (*mutex_timed_fn)(pthread_mutex_t *, const struct timespec *);
typedef int (*mutex_clock_fn)(pthread_mutex_t *, clockid_t, const struct timespec *);
typedef int (*rw_fn)(pthread_rwlock_t *);
typedef int (*rw_timed_fn)(pthread_rwlock_t *, const struct timespec *);
typedef int (*rw_clock_fn)(pthread_rwlock_t *, clockid_t, const struct timespec *);

/* The blocking calls we stand in for. The trylocks are not interposed: a
 * plain call reaches the definition the program would reach. */
struct locks {
    mutex_fn mutex_lock;
    mutex_timed_fn mutex_timedlock;
    mutex_clock_fn mutex_clocklock;
    rw_fn rdlock, wrlock;
    rw_timed_fn timedrdlock, timedwrlock;
    rw_clock_fn clockrdlock, clockwrlock;
};

static int boot_mutex_lock(pthread_mutex_t *);
static int boot_mutex_timedlock(pthread_mutex_t *, const struct timespec *);
static int boot_mutex_clocklock(pthread_mutex_t *, clockid_t, const struct timespec *);
static int boot_rdlock(pthread_rwlock_t *);
static int boot_wrlock(pthread_rwlock_t *);
static int boot_timedrdlock(pthread_rwlock_t *, const struct timespec *);
static int boot_timedwrlock(pthread_rwlock_t *, const struct timespec *);
static int boot_clockrdlock(pthread_rwlock_t *, clockid_t, const struct timespec *);
static int boot_clockwrlock(pthread_rwlock_t *, clockid_t, const struct timespec *);

/* Until resolved, each entry resolves itself first: the hot path never asks. */
static struct locks next = {
    boot_mutex_lock, boot_mutex_timedlock, boot_mutex_clocklock, boot_rdlock, boot_wrlock,
    boot_timedrdlock, boot_timedwrlock, boot_clockrdlock, boot_clockwrlock,
};

/* ---- bootstrap ---- */

static __thread bool resolving __attribute__((tls_model("initial-exec")));

/* The next definition of name, published into *slot; NULL when this thread
 * is already inside a lookup (dlsym taking a pthread lock through its PLT,
 * which glibc's does not do) or there is none. Two threads may look up the
 * same name at once; both store the same pointer. */
static void *resolve(void **slot, const char *name)
{
    if (resolving) return NULL;
    int saved = errno;
    resolving = true;
    void *fn = dlsym(RTLD_NEXT, name);
    resolving = false;
    errno = saved;
    if (fn) __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    return fn;
}

/* Without a next definition: the try call until it stops saying EBUSY,
 * within the timeout if there is one (clock, abstime; abstime NULL: none). */
static int by_trying(int (*try)(void *), void *lock, clockid_t clock, const struct timespec *abstime)
{
    for (;;) {
        int rc = try(lock);
        if (rc != EBUSY) return rc;
        struct timespec now;
        if (abstime && clock_gettime(clock, &now) == 0 &&
            (now.tv_sec > abstime->tv_sec || (now.tv_sec == abstime->tv_sec && now.tv_nsec >= abstime->tv_nsec)))
            return ETIMEDOUT;
        sched_yield();
    }
}

static int try_mutex(void *m) { return pthread_mutex_trylock(m); }
static int try_rd(void *l) { return pthread_rwlock_tryrdlock(l); }
static int try_wr(void *l) { return pthread_rwlock_trywrlock(l); }

#define BOOT(field, name, ...) (fn = resolve((void **)&next.field, name)) ? ((__typeof__(next.field))fn)(__VA_ARGS__)

static int boot_mutex_lock(pthread_mutex_t *m)
{
    void *fn;
    return BOOT(mutex_lock, "pthread_mutex_lock", m) : by_trying(try_mutex, m, 0, NULL);
}
static int boot_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
    void *fn;
    return BOOT(mutex_timedlock, "pthread_mutex_timedlock", m, t) : by_trying(try_mutex, m, CLOCK_REALTIME, t);
}
static int boot_mutex_clocklock(pthread_mutex_t *m, clockid_t c, const struct timespec *t)
{
    void *fn;
    return BOOT(mutex_clocklock, "pthread_mutex_clocklock", m, c, t) : by_trying(try_mutex, m, c, t);
}
static int boot_rdlock(pthread_rwlock_t *l)
{
    void *fn;
    return BOOT(rdlock, "pthread_rwlock_rdlock", l) : by_trying(try_rd, l, 0, NULL);
}
static int boot_wrlock(pthread_rwlock_t *l)
{
    void *fn;
    return BOOT(wrlock, "pthread_rwlock_wrlock", l) : by_trying(try_wr, l, 0, NULL);
}
static int boot_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
    void *fn;
    return BOOT(timedrdlock, "pthread_rwlock_timedrdlock", l, t) : by_trying(try_rd, l, CLOCK_REALTIME, t);
}
static int boot_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
    void *fn;
    return BOOT(timedwrlock, "pthread_rwlock_timedwrlock", l, t) : by_trying(try_wr, l, CLOCK_REALTIME, t);
}
static int boot_clockrdlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *t)
{
    void *fn;
    return BOOT(clockrdlock, "pthread_rwlock_clockrdlock", l, c, t) : by_trying(try_rd, l, c, t);
}
static int boot_clockwrlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *t)
{
    void *fn;
    return BOOT(clockwrlock, "pthread_rwlock_clockwrlock", l, c, t) : by_trying(try_wr, l, c, t);
}

/* ---- the interposed entry points: hot paths ---- */

/* glibc checks a timed call's clock (and, for rwlocks, the timeout's
 * nanoseconds) before it tries the lock, and fails with EINVAL even when the
 * lock is free. Such calls are forwarded alone, so that a trylock of ours
 * cannot take a lock the call would have refused. */
static inline bool usable_timeout(clockid_t clock, const struct timespec *abstime)
{
    return (clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC) && abstime && abstime->tv_nsec >= 0 &&
           abstime->tv_nsec < 1000000000L;
}

/* try: the non-blocking attempt; call: the blocking one. Off (or a timeout
 * glibc would refuse): call alone. On: try, and only on EBUSY the timed call. */
#define LOCK(try, call) TIMED_LOCK(true, try, call)
#define TIMED_LOCK(tryable, try, call)                                    \
    do {                                                                  \
        if (__builtin_expect(!__atomic_load_n(&conan_mutex_on, __ATOMIC_RELAXED) || !(tryable), 0)) \
            return call;                                                  \
        int rc_ = try;                                                    \
        if (__builtin_expect(rc_ != EBUSY, 1)) return rc_;                \
        TIMED(call, 0);                                                   \
    } while (0)
/* The blocking call alone, between the clock reads; shorter than shortest: no wait. */
#define TIMED(call, shortest)                                             \
    do {                                                                  \
        struct conan_mutex_wait w_ = { .min_ns = (shortest), .caller = __builtin_return_address(0) }; \
        conan_mutex_wait_begin(&w_);                                      \
        int rc_ = call;                                                   \
        conan_mutex_wait_end(&w_, rc_);                                   \
        return rc_;                                                       \
    } while (0)

/* Robust mutexes are never tried first: glibc's trylock of one that is not
 * recoverable returns ENOTRECOVERABLE without releasing the lock word it
 * took, so the program's next lock call would block where it would have
 * failed again. Their calls are timed whole instead, and one that took
 * ROBUST_WAIT_NS or more counts as a wait (an uncontended one is an atomic
 * exchange, tens of nanoseconds; waiting means a futex sleep and wake-up).
 * The robust bit of the mutex's kind is glibc's PTHREAD_MUTEX_ROBUST_NORMAL_NP
 * (nptl/pthreadP.h), part of the layout its static initialisers fix. */
#define ROBUST_KIND_BIT 16
#define ROBUST_WAIT_NS 1000
#define MUTEX_LOCK(m, tryable, call)                                      \
    do {                                                                  \
        if (__builtin_expect(!__atomic_load_n(&conan_mutex_on, __ATOMIC_RELAXED) || !(tryable), 0)) \
            return call;                                                  \
        if (__builtin_expect(__atomic_load_n(&(m)->__data.__kind, __ATOMIC_RELAXED) & ROBUST_KIND_BIT, 0)) \
            TIMED(call, ROBUST_WAIT_NS);                                  \
        int rc_ = pthread_mutex_trylock(m);                               \
        if (__builtin_expect(rc_ != EBUSY, 1)) return rc_;                \
        TIMED(call, 0);                                                   \
    } while (0)

CONAN_INTERPOSED int pthread_mutex_lock(pthread_mutex_t *m)
{
    MUTEX_LOCK(m, true, next.mutex_lock(m));
}

CONAN_INTERPOSED int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
    MUTEX_LOCK(m, usable_timeout(CLOCK_REALTIME, abstime), next.mutex_timedlock(m, abstime));
}

CONAN_INTERPOSED int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
    MUTEX_LOCK(m, usable_timeout(clock, abstime), next.mutex_clocklock(m, clock, abstime));
}

CONAN_INTERPOSED int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    LOCK(pthread_rwlock_tryrdlock(l), next.rdlock(l));
}

CONAN_INTERPOSED int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    LOCK(pthread_rwlock_trywrlock(l), next.wrlock(l));
}

CONAN_INTERPOSED int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
    TIMED_LOCK(usable_timeout(CLOCK_REALTIME, abstime), pthread_rwlock_tryrdlock(l), next.timedrdlock(l, abstime));
}

CONAN_INTERPOSED int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
    TIMED_LOCK(usable_timeout(CLOCK_REALTIME, abstime), pthread_rwlock_trywrlock(l), next.timedwrlock(l, abstime));
}

CONAN_INTERPOSED int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abstime)
{
    TIMED_LOCK(usable_timeout(clock, abstime), pthread_rwlock_tryrdlock(l), next.clockrdlock(l, clock, abstime));
}

CONAN_INTERPOSED int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abstime)
{
    TIMED_LOCK(usable_timeout(clock, abstime), pthread_rwlock_trywrlock(l), next.clockwrlock(l, clock, abstime));
}
