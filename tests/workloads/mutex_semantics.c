/* mutex_semantics.c — a scripted sequence of lock calls on every kind of
 * pthread mutex and rwlock, printing each result, so a run under the shim can
 * be compared line by line with a plain run: normal, recursive, errorcheck
 * (EDEADLK, EPERM), robust (EOWNERDEAD, ENOTRECOVERABLE, also found while
 * waiting), priority-inheritance, timed and clock locks (ETIMEDOUT, and the
 * EINVAL of a bad clock or timeout even on a free lock), rwlocks (readers
 * together, a writer timing out, EDEADLK), and condition variables. Waits are
 * made contended on purpose (a helper thread holds the lock while main asks),
 * so the shim's slow path runs. Prints only results, never times.
 * usage: mutex_semantics */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, int rc)
{
    printf("%-44s %s\n", what, rc == 0 ? "0" : strerrorname_np(rc) ? strerrorname_np(rc) : "?");
}

/* show, for "<name> <what>" */
static void show_of(const char *name, const char *what, int rc)
{
    char line[96];
    snprintf(line, sizeof line, "%s %s", name, what);
    show(line, rc);
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0) {}
}

static struct timespec in_ms(clockid_t clock, long ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_nsec += (ms % 1000) * 1000000;
    t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

static void init_mutex(pthread_mutex_t *m, int type, int robust, int protocol)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    pthread_mutexattr_setrobust(&a, robust);
    pthread_mutexattr_setprotocol(&a, protocol);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* A helper that takes a mutex, holds it hold_ms, and then either lets go or
 * (die) ends without letting go. */
struct holder { pthread_mutex_t *m; long hold_ms; int die; pthread_barrier_t *taken; int rc; };

static void *hold(void *arg)
{
    struct holder *h = arg;
    h->rc = pthread_mutex_lock(h->m);
    pthread_barrier_wait(h->taken);
    pause_ms(h->hold_ms);
    if (!h->die) pthread_mutex_unlock(h->m);
    return NULL;
}

static pthread_t held_by_helper(struct holder *h, pthread_barrier_t *b, pthread_mutex_t *m, long ms, int die)
{
    pthread_t t;
    *h = (struct holder){ m, ms, die, b, 0 };
    pthread_barrier_init(b, NULL, 2);
    pthread_create(&t, NULL, hold, h);
    pthread_barrier_wait(b);
    return t;
}

static void done_with_helper(pthread_t t, pthread_barrier_t *b)
{
    pthread_join(t, NULL);
    pthread_barrier_destroy(b);
}

static void normal_and_recursive(void)
{
    pthread_mutex_t m;
    struct holder h;
    pthread_barrier_t b;
    init_mutex(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE);
    show("normal lock", pthread_mutex_lock(&m));
    show("normal trylock held", pthread_mutex_trylock(&m));
    show("normal unlock", pthread_mutex_unlock(&m));
    pthread_t t = held_by_helper(&h, &b, &m, 30, 0);
    show("normal lock contended", pthread_mutex_lock(&m));
    show("normal unlock", pthread_mutex_unlock(&m));
    done_with_helper(t, &b);
    pthread_mutex_destroy(&m);

    init_mutex(&m, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE);
    show("recursive lock", pthread_mutex_lock(&m));
    show("recursive lock again", pthread_mutex_lock(&m));
    show("recursive trylock again", pthread_mutex_trylock(&m));
    for (int i = 0; i < 3; i++) show("recursive unlock", pthread_mutex_unlock(&m));
    show("recursive unlock not held", pthread_mutex_unlock(&m));
    t = held_by_helper(&h, &b, &m, 30, 0);
    show("recursive lock contended", pthread_mutex_lock(&m));
    show("recursive lock again", pthread_mutex_lock(&m));
    show("recursive unlock", pthread_mutex_unlock(&m));
    show("recursive unlock", pthread_mutex_unlock(&m));
    done_with_helper(t, &b);
    pthread_mutex_destroy(&m);
}

static void errorcheck(int protocol, const char *name)
{
    pthread_mutex_t m;
    struct holder h;
    pthread_barrier_t b;
    init_mutex(&m, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, protocol);
    show_of(name, "lock", pthread_mutex_lock(&m));
    show_of(name, "relock", pthread_mutex_lock(&m));
    struct timespec t = in_ms(CLOCK_REALTIME, 20);
    show_of(name, "timedlock relock", pthread_mutex_timedlock(&m, &t));
    show_of(name, "unlock", pthread_mutex_unlock(&m));
    show_of(name, "unlock not held", pthread_mutex_unlock(&m));
    pthread_t th = held_by_helper(&h, &b, &m, 30, 0);
    show_of(name, "unlock by non-owner", pthread_mutex_unlock(&m));
    show_of(name, "lock contended", pthread_mutex_lock(&m));
    show_of(name, "unlock", pthread_mutex_unlock(&m));
    done_with_helper(th, &b);
    pthread_mutex_destroy(&m);
}

static void robust(int protocol, const char *name)
{
    pthread_mutex_t m;
    struct holder h;
    pthread_barrier_t b;
    init_mutex(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, protocol);
    /* The owner dies before we ask. */
    pthread_t t = held_by_helper(&h, &b, &m, 0, 1);
    done_with_helper(t, &b);
    show_of(name, "lock after owner died", pthread_mutex_lock(&m));
    show_of(name, "unlock without consistent", pthread_mutex_unlock(&m));
    show_of(name, "lock unrecoverable", pthread_mutex_lock(&m));
    show_of(name, "lock unrecoverable again", pthread_mutex_lock(&m));
    show_of(name, "trylock unrecoverable", pthread_mutex_trylock(&m));
    struct timespec ts = in_ms(CLOCK_REALTIME, 20);
    show_of(name, "timedlock unrecoverable", pthread_mutex_timedlock(&m, &ts));
    pthread_mutex_destroy(&m);

    /* The owner dies while we wait. */
    init_mutex(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, protocol);
    t = held_by_helper(&h, &b, &m, 40, 1);
    show_of(name, "lock, owner dies meanwhile", pthread_mutex_lock(&m));
    show_of(name, "consistent", pthread_mutex_consistent(&m));
    show_of(name, "unlock", pthread_mutex_unlock(&m));
    show_of(name, "lock again", pthread_mutex_lock(&m));
    show("unlock", pthread_mutex_unlock(&m));
    done_with_helper(t, &b);
    pthread_mutex_destroy(&m);
}

static void timed(void)
{
    pthread_mutex_t m;
    struct holder h;
    pthread_barrier_t b;
    init_mutex(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE);
    pthread_t t = held_by_helper(&h, &b, &m, 200, 0);
    struct timespec ts = in_ms(CLOCK_REALTIME, 30);
    show("timedlock held elsewhere", pthread_mutex_timedlock(&m, &ts));
    ts = in_ms(CLOCK_MONOTONIC, 30);
    show("clocklock monotonic held elsewhere", pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts));
    ts = in_ms(CLOCK_REALTIME, -1000);
    show("timedlock in the past held elsewhere", pthread_mutex_timedlock(&m, &ts));
    ts = in_ms(CLOCK_REALTIME, 2000);
    show("timedlock waits for release", pthread_mutex_timedlock(&m, &ts));
    show("unlock", pthread_mutex_unlock(&m));
    done_with_helper(t, &b);
    ts = in_ms(CLOCK_REALTIME, -1000);
    show("timedlock in the past, free", pthread_mutex_timedlock(&m, &ts));
    show("unlock", pthread_mutex_unlock(&m));
    ts.tv_nsec = 1000000000;
    int rc = pthread_mutex_timedlock(&m, &ts);
    show("timedlock bad nsec, free", rc);
    if (rc == 0) pthread_mutex_unlock(&m);
    ts = in_ms(CLOCK_MONOTONIC, 10);
    rc = pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &ts);
    show("clocklock cputime clock, free", rc);
    if (rc == 0) pthread_mutex_unlock(&m);
    pthread_mutex_destroy(&m);
}

struct rw_arg { pthread_rwlock_t *l; int write; long hold_ms; pthread_barrier_t *b; };

static void *rw_hold(void *arg)
{
    struct rw_arg *a = arg;
    if (a->write) pthread_rwlock_wrlock(a->l); else pthread_rwlock_rdlock(a->l);
    pthread_barrier_wait(a->b);
    pause_ms(a->hold_ms);
    pthread_rwlock_unlock(a->l);
    return NULL;
}

static void rwlocks(void)
{
    pthread_rwlock_t l;
    pthread_rwlock_init(&l, NULL);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    show("rdlock", pthread_rwlock_rdlock(&l));
    show("rdlock again", pthread_rwlock_rdlock(&l));
    show("trywrlock with readers", pthread_rwlock_trywrlock(&l));
    struct timespec ts = in_ms(CLOCK_REALTIME, 20);
    show("timedwrlock with readers (own)", pthread_rwlock_timedwrlock(&l, &ts));
    show("unlock", pthread_rwlock_unlock(&l));
    show("unlock", pthread_rwlock_unlock(&l));
    show("wrlock", pthread_rwlock_wrlock(&l));
    show("wrlock again", pthread_rwlock_wrlock(&l));
    show("rdlock while writing", pthread_rwlock_rdlock(&l));
    show("unlock", pthread_rwlock_unlock(&l));

    struct rw_arg a = { &l, 1, 150, &b };
    pthread_t t;
    pthread_create(&t, NULL, rw_hold, &a);
    pthread_barrier_wait(&b);
    ts = in_ms(CLOCK_REALTIME, 20);
    show("timedrdlock writer elsewhere", pthread_rwlock_timedrdlock(&l, &ts));
    ts = in_ms(CLOCK_MONOTONIC, 20);
    show("clockwrlock writer elsewhere", pthread_rwlock_clockwrlock(&l, CLOCK_MONOTONIC, &ts));
    show("rdlock waits for the writer", pthread_rwlock_rdlock(&l));
    show("unlock", pthread_rwlock_unlock(&l));
    pthread_join(t, NULL);

    a = (struct rw_arg){ &l, 0, 100, &b };
    pthread_create(&t, NULL, rw_hold, &a);
    pthread_barrier_wait(&b);
    show("rdlock beside a reader", pthread_rwlock_rdlock(&l));
    show("unlock", pthread_rwlock_unlock(&l));
    ts = in_ms(CLOCK_MONOTONIC, 10);
    show("clockrdlock beside a reader", pthread_rwlock_clockrdlock(&l, CLOCK_MONOTONIC, &ts));
    show("unlock", pthread_rwlock_unlock(&l));
    show("wrlock waits for the reader", pthread_rwlock_wrlock(&l));
    show("unlock", pthread_rwlock_unlock(&l));
    pthread_join(t, NULL);

    ts = in_ms(CLOCK_REALTIME, 10);
    ts.tv_nsec = -1;
    int rc = pthread_rwlock_timedrdlock(&l, &ts);
    show("timedrdlock bad nsec, free", rc);
    if (rc == 0) pthread_rwlock_unlock(&l);
    rc = pthread_rwlock_timedwrlock(&l, &ts);
    show("timedwrlock bad nsec, free", rc);
    if (rc == 0) pthread_rwlock_unlock(&l);
    ts = in_ms(CLOCK_MONOTONIC, 10);
    rc = pthread_rwlock_clockwrlock(&l, CLOCK_THREAD_CPUTIME_ID, &ts);
    show("clockwrlock cputime clock, free", rc);
    if (rc == 0) pthread_rwlock_unlock(&l);
    pthread_barrier_destroy(&b);
    pthread_rwlock_destroy(&l);
}

static pthread_mutex_t cv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;

static void *signaller(void *arg)
{
    (void)arg;
    pause_ms(30);
    pthread_mutex_lock(&cv_lock);
    ready = 1;
    pthread_cond_signal(&cv);
    pause_ms(30); /* main's reacquisition waits for this */
    pthread_mutex_unlock(&cv_lock);
    return NULL;
}

static void condvars(void)
{
    show("cond lock", pthread_mutex_lock(&cv_lock));
    struct timespec ts = in_ms(CLOCK_REALTIME, 20);
    show("cond timedwait times out", pthread_cond_timedwait(&cv, &cv_lock, &ts));
    pthread_t t;
    pthread_create(&t, NULL, signaller, NULL);
    int rc = 0;
    while (!ready && rc == 0) rc = pthread_cond_wait(&cv, &cv_lock);
    show("cond wait signalled", rc);
    printf("%-44s %d\n", "ready", ready);
    show("cond unlock", pthread_mutex_unlock(&cv_lock));
    pthread_join(t, NULL);
}

int main(void)
{
    normal_and_recursive();
    errorcheck(PTHREAD_PRIO_NONE, "errorcheck");
    errorcheck(PTHREAD_PRIO_INHERIT, "errorcheck pi");
    robust(PTHREAD_PRIO_NONE, "robust");
    robust(PTHREAD_PRIO_INHERIT, "robust pi");
    timed();
    rwlocks();
    condvars();
    return 0;
}
