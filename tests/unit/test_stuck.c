/* test_stuck.c — stuck.c against real threads of the test process, blocked
 * in named functions, with the monitor's clock stepped by hand (now_s is the
 * caller's): a deadlocked pair is reported at stuck.after_s (a tick a little
 * early is on time) with its functions, system call and time, once fresh; a
 * pool parked in pthread_cond_wait or epoll_wait is idle (stuck.ignore's
 * defaults); a thread that wakes often is never stuck; a thread parked since
 * before the watch first saw it is never stuck; a stuck.ignore list of our
 * own replaces the defaults; above stuck.max_threads nothing is checked. Then
 * the threads profile: the stuck threads carry stuck_for_s and syscall labels. */
#include "check.h"
#include "decode.h"
#include "internal.h"
#include "stuck.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define AFTER_S 3
#define WAIT_S 10.0              /* longest a thread may take to reach its place */

enum role { DEADLOCK_A, DEADLOCK_B, POOL_COND, POOL_EPOLL, WAKE_OFTEN, PARKED_BEFORE, PARK_IGNORED,
            PARK_NOT_IGNORED, ROLES };

struct worker {
    enum role role;
    const char *name;
    int gate;                    /* read end: one byte lets it go to its place */
    pid_t tid;                   /* atomic */
    int past_gate;               /* atomic */
    pthread_t thread;
};

static struct worker workers[ROLES] = {
    [DEADLOCK_A] = { .name = "stuck-a" }, [DEADLOCK_B] = { .name = "stuck-b" },
    [POOL_COND] = { .name = "pool-cond" }, [POOL_EPOLL] = { .name = "pool-epoll" },
    [WAKE_OFTEN] = { .name = "wake-often" }, [PARKED_BEFORE] = { .name = "parked-before" },
    [PARK_IGNORED] = { .name = "park-ignored" }, [PARK_NOT_IGNORED] = { .name = "park-counted" },
};

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER, lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;
static int asked_second;         /* atomic: deadlock threads that asked for their second lock */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER; /* never signalled */
static int never_written[2];     /* a pipe */
static int stop_waking;          /* atomic */
static uint32_t wake_word;

static inline __attribute__((always_inline)) void take_in_order(pthread_mutex_t *first, pthread_mutex_t *second)
{
    pthread_mutex_lock(first);
    pthread_barrier_wait(&both_hold_one);
    __atomic_add_fetch(&asked_second, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(second); /* never returns */
    pthread_mutex_unlock(second);
    pthread_mutex_unlock(first);
}

__attribute__((noinline)) static void stuck_test_take_a_then_b(void) { take_in_order(&lock_a, &lock_b); }
__attribute__((noinline)) static void stuck_test_take_b_then_a(void) { take_in_order(&lock_b, &lock_a); }

/* Parks for good; which is counted in parked[which], so that the three
 * parks below are different code (identical functions are folded into one). */
static volatile int parked[3];
static inline __attribute__((always_inline)) void park(int which)
{
    pthread_mutex_lock(&park_lock);
    for (;;) {
        parked[which]++;
        pthread_cond_wait(&park_cond, &park_lock);
    }
}

__attribute__((noinline)) static void stuck_test_pool_park(void) { park(0); }
/* Twins of the pool's park, for a stuck.ignore list of our own. */
__attribute__((noinline)) static void stuck_test_park_ignored(void) { park(1); }
__attribute__((noinline)) static void stuck_test_park_not_ignored(void) { park(2); }

__attribute__((noinline)) static void stuck_test_pool_epoll(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev;
    for (;;) epoll_wait(fd, &ev, 1, -1);
}

/* A futex wait of 2 ms, again and again: at the same place at every look, but running between them. */
__attribute__((noinline)) static void stuck_test_wake_often(void)
{
    struct timespec two_ms = { 0, 2000000 };
    while (!__atomic_load_n(&stop_waking, __ATOMIC_ACQUIRE))
        syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, 0, &two_ms, NULL, 0);
}

__attribute__((noinline)) static void stuck_test_parked_before(void)
{
    char byte;
    for (;;)
        if (read(never_written[0], &byte, 1) >= 0) return;
}

__attribute__((noinline)) static void stuck_test_wait_at_gate(int gate)
{
    char byte;
    while (read(gate, &byte, 1) < 0) {}
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    __atomic_store_n(&w->tid, gettid(), __ATOMIC_RELEASE);
    if (w->role == PARKED_BEFORE) {
        stuck_test_parked_before();
        return NULL;
    }
    stuck_test_wait_at_gate(w->gate);
    __atomic_store_n(&w->past_gate, 1, __ATOMIC_RELEASE);
    switch (w->role) {
    case DEADLOCK_A: stuck_test_take_a_then_b(); break;
    case DEADLOCK_B: stuck_test_take_b_then_a(); break;
    case POOL_COND: stuck_test_pool_park(); break;
    case POOL_EPOLL: stuck_test_pool_epoll(); break;
    case WAKE_OFTEN: stuck_test_wake_often(); break;
    case PARK_IGNORED: stuck_test_park_ignored(); break;
    case PARK_NOT_IGNORED: stuck_test_park_not_ignored(); break;
    default: break;
    }
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The system call a thread is blocked in; -2 if running or unreadable. */
static long blocked_in(pid_t tid)
{
    char line[256];
    if (tid <= 0 || !conan_task_file(tid, "syscall", line, sizeof line) || strncmp(line, "running", 7) == 0) return -2;
    return strtol(line, NULL, 10);
}

static bool wait_blocked(enum role r, long nr)
{
    double deadline = now_seconds() + WAIT_S;
    while (blocked_in(__atomic_load_n(&workers[r].tid, __ATOMIC_ACQUIRE)) != nr) {
        if (now_seconds() > deadline) {
            fprintf(stderr, "%s: not blocked in system call %ld within %.0f s\n", workers[r].name, nr, WAIT_S);
            return false;
        }
        pause_ms(1);
    }
    return true;
}

/* Blocked in anything but the gate's read. */
static bool wait_past_gate(enum role r)
{
    double deadline = now_seconds() + WAIT_S;
    for (;;) {
        long nr = blocked_in(workers[r].tid);
        if (__atomic_load_n(&workers[r].past_gate, __ATOMIC_ACQUIRE) && nr >= 0 && nr != SYS_read) return true;
        if (now_seconds() > deadline) {
            fprintf(stderr, "%s: not at its place within %.0f s\n", workers[r].name, WAIT_S);
            return false;
        }
        pause_ms(1);
    }
}

static void start(enum role r, int gate)
{
    workers[r].role = r;
    workers[r].gate = gate;
    if (pthread_create(&workers[r].thread, NULL, worker_main, &workers[r]) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1);
    }
    pthread_setname_np(workers[r].thread, workers[r].name);
}

static const struct conan_stuck_thread *reported(const struct conan_stuck_report *rep, enum role r)
{
    return conan_stuck_find(rep, workers[r].tid);
}

/* A few ms of real time between looks, so a thread that wakes often runs. */
static void check_at(const struct conan_config *cfg, double now_s, struct conan_stuck_report *rep)
{
    pause_ms(30);
    conan_stuck_check(cfg, now_s, rep);
}

static void show(const struct conan_stuck_report *rep)
{
    for (int i = 0; i < rep->n && i < CONAN_STUCK_MAX; i++)
        printf("# stuck: %d %s %s for %.1f s in %s\n", (int)rep->thread[i].tid, rep->thread[i].name,
               conan_syscall_name(rep->thread[i].syscall), rep->thread[i].for_s, rep->thread[i].function);
}

static struct conan_stuck_report rep;

/* The deadlocked pair is stuck at AFTER_S, the pool, the waker and the thread
 * parked before the first look are not. Leaves the pair reported. */
static void test_deadlock_beside_idle_pool(const struct conan_config *cfg)
{
    int gate[2];
    if (pipe(gate) != 0 || pipe(never_written) != 0) exit(1);
    pthread_barrier_init(&both_hold_one, NULL, 2);
    for (enum role r = DEADLOCK_A; r <= PARKED_BEFORE; r++) start(r, gate[0]);
    for (enum role r = DEADLOCK_A; r <= PARKED_BEFORE; r++) CHECK(wait_blocked(r, SYS_read));
    conan_stuck_check(cfg, 0, &rep); /* every thread seen first where it waits to start */
    CHECK_INT(rep.n, 0);

    CHECK(write(gate[1], "gogogo", WAKE_OFTEN - DEADLOCK_A + 1) == WAKE_OFTEN - DEADLOCK_A + 1);
    double deadline = now_seconds() + WAIT_S;
    while (__atomic_load_n(&asked_second, __ATOMIC_SEQ_CST) < 2 && now_seconds() < deadline) pause_ms(1);
    CHECK(wait_blocked(DEADLOCK_A, SYS_futex));
    CHECK(wait_blocked(DEADLOCK_B, SYS_futex));
    CHECK(wait_past_gate(POOL_COND));
    CHECK(wait_past_gate(POOL_EPOLL));
    while (!__atomic_load_n(&workers[WAKE_OFTEN].past_gate, __ATOMIC_ACQUIRE)) pause_ms(1);

    check_at(cfg, 10, &rep); /* at their places */
    CHECK_INT(rep.n, 0);
    check_at(cfg, 11, &rep); /* same places: walked */
    CHECK_INT(rep.n, 0);
    check_at(cfg, 10 + AFTER_S - 0.1, &rep);
    CHECK_INT(rep.n, 0);
    check_at(cfg, 10 + AFTER_S - 0.01, &rep); /* a tick 10 ms early (of 250) is on time */
    show(&rep);
    CHECK_INT(rep.n, 2);
    CHECK_INT(rep.fresh, 2);
    const struct conan_stuck_thread *a = reported(&rep, DEADLOCK_A), *b = reported(&rep, DEADLOCK_B);
    CHECK(a && b);
    if (a && b) {
        CHECK_STR(a->name, "stuck-a");
        CHECK_STR(b->name, "stuck-b");
        CHECK_STR(a->function, "stuck_test_take_a_then_b");
        CHECK_STR(b->function, "stuck_test_take_b_then_a");
        CHECK_INT(a->syscall, SYS_futex);
        CHECK_STR(conan_syscall_name(a->syscall), "futex");
        CHECK_NEAR(a->for_s, AFTER_S - 0.01, 1e-9);
    }
    for (enum role r = POOL_COND; r <= PARKED_BEFORE; r++) CHECK(!reported(&rep, r));

    conan_stuck_reported(&rep);
    check_at(cfg, 11 + AFTER_S, &rep);
    CHECK_INT(rep.n, 2);
    CHECK_INT(rep.fresh, 0);
    check_at(cfg, 1000, &rep); /* an hour parked does not make the pool stuck */
    show(&rep);
    CHECK_INT(rep.n, 2);
    for (enum role r = POOL_COND; r <= PARKED_BEFORE; r++) CHECK(!reported(&rep, r));
}

/* The label of key on sample s, or NULL. */
static const Perftools__Profiles__Label *label_of(const Perftools__Profiles__Profile *prof,
                                                  const Perftools__Profiles__Sample *s, const char *key)
{
    for (size_t i = 0; i < s->n_label; i++)
        if (strcmp(prof->string_table[s->label[i]->key], key) == 0) return s->label[i];
    return NULL;
}

static const Perftools__Profiles__Sample *sample_of_thread(const Perftools__Profiles__Profile *prof,
                                                           const char *name)
{
    for (size_t i = 0; i < prof->n_sample; i++) {
        const Perftools__Profiles__Label *l = label_of(prof, prof->sample[i], "thread");
        if (l && strcmp(prof->string_table[l->str], name) == 0) return prof->sample[i];
    }
    return NULL;
}

/* The threads profile of a stuck report: stuck_for_s (seconds) and syscall on
 * the stuck threads only. */
static void test_profile_labels(const struct conan_config *cfg)
{
    __atomic_store_n(&stop_waking, 1, __ATOMIC_RELEASE); /* no running thread: the snapshot sends no signal */
    pthread_join(workers[WAKE_OFTEN].thread, NULL);
    check_at(cfg, 1000.4, &rep);
    CHECK_INT(rep.n, 2);
    struct conan_threads_snapshot snap;
    struct conan_pprof *p = conan_snapshot_profile(cfg, &snap, &rep);
    CHECK(p != NULL);
    if (!p) return;
    struct conan_symbols *syms = conan_symbols_open();
    void *gz = NULL;
    size_t gz_len = 0;
    CHECK_INT(conan_pprof_encode(p, syms, &gz, &gz_len), 0);
    Perftools__Profiles__Profile *prof = gz ? decode(gz, gz_len) : NULL;
    CHECK(prof != NULL);
    for (enum role r = DEADLOCK_A; prof && r <= DEADLOCK_B; r++) {
        const Perftools__Profiles__Sample *s = sample_of_thread(prof, workers[r].name);
        CHECK(s != NULL);
        const Perftools__Profiles__Label *for_s = s ? label_of(prof, s, "stuck_for_s") : NULL;
        const Perftools__Profiles__Label *call = s ? label_of(prof, s, "syscall") : NULL;
        CHECK(for_s && call);
        if (!for_s || !call) continue;
        CHECK_INT(for_s->num, 990); /* 990.4 s, rounded */
        CHECK_STR(prof->string_table[for_s->num_unit], "seconds");
        CHECK_STR(prof->string_table[call->str], "futex");
    }
    const Perftools__Profiles__Sample *pool = prof ? sample_of_thread(prof, "pool-cond") : NULL;
    CHECK(pool && !label_of(prof, pool, "stuck_for_s") && !label_of(prof, pool, "syscall"));
    if (prof) perftools__profiles__profile__free_unpacked(prof, NULL);
    free(gz);
    conan_symbols_close(syms);
    conan_pprof_free(p);
}

/* A list of our own replaces the defaults: pthread_cond_wait is then stuck,
 * but for the function the list names. Threads the new watch first sees
 * parked (the deadlocked pair among them) are not. */
static void test_own_ignore_list(const struct conan_config *defaults)
{
    struct conan_config cfg = *defaults;
    cfg.stuck.ignore.n = 1;
    snprintf(cfg.stuck.ignore.name[0], CONAN_NAME_MAX, "stuck_test_park_ignored");
    conan_stuck_reset();
    int gate[2];
    if (pipe(gate) != 0) exit(1);
    start(PARK_IGNORED, gate[0]);
    start(PARK_NOT_IGNORED, gate[0]);
    CHECK(wait_blocked(PARK_IGNORED, SYS_read));
    CHECK(wait_blocked(PARK_NOT_IGNORED, SYS_read));
    conan_stuck_check(&cfg, 100, &rep);
    CHECK(write(gate[1], "go", 2) == 2);
    CHECK(wait_past_gate(PARK_IGNORED));
    CHECK(wait_past_gate(PARK_NOT_IGNORED));
    check_at(&cfg, 110, &rep);
    check_at(&cfg, 111, &rep);
    check_at(&cfg, 110 + AFTER_S, &rep);
    show(&rep);
    CHECK_INT(rep.n, 1);
    const struct conan_stuck_thread *t = reported(&rep, PARK_NOT_IGNORED);
    CHECK(t != NULL);
    if (t) CHECK_STR(t->function, "stuck_test_park_not_ignored");
    CHECK(!reported(&rep, DEADLOCK_A) && !reported(&rep, DEADLOCK_B));

    cfg.stuck.max_threads = 2; /* fewer than we have: nothing is looked at */
    check_at(&cfg, 200, &rep);
    CHECK_INT(rep.n, 0);
    cfg.stuck.enable = false;
    check_at(&cfg, 300, &rep);
    CHECK_INT(rep.n, 0);
}

static void test_syscall_names(void)
{
    CHECK_STR(conan_syscall_name(SYS_read), "read");
    CHECK_STR(conan_syscall_name(SYS_futex), "futex");
#ifdef SYS_epoll_wait
    CHECK_STR(conan_syscall_name(SYS_epoll_wait), "epoll_wait");
#endif
    CHECK_STR(conan_syscall_name(SYS_clock_nanosleep), "clock_nanosleep");
    CHECK(conan_syscall_name(-1) == NULL);
    CHECK(conan_syscall_name(100000) == NULL);
}

int main(void)
{
    struct conan_config cfg;
    conan_config_defaults(&cfg);
    cfg.stuck.after_s = AFTER_S;
    cfg.interval_ms = 250;
    test_syscall_names();
    conan_stuck_reset();
    test_deadlock_beside_idle_pool(&cfg);
    test_profile_labels(&cfg);
    test_own_ignore_list(&cfg);
    conan_stuck_reset();
    CHECK_DONE(); /* the deadlocked and parked threads end with the process */
}
