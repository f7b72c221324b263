/* thread_registry.c — the threads of the program: the registry behind the
 * pthread_create wrapper, the names of threads that ended, whether main has
 * left, and the threadcreate profile.
 *
 * Registry: every thread made through pthread_create starts in our trampoline,
 * which records its tid against the creator's stack and start routine (taken
 * in the creating thread, before the thread exists). A thread-specific key's
 * destructor takes it out again however the thread ends — return,
 * pthread_exit or cancellation — and keeps the name the thread had at its end
 * (a short thread often names itself and ends within one rescan of a CPU
 * window; its samples must still carry that name). Threads made otherwise
 * (raw clone, or before libconan was loaded) are still counted and listed,
 * from /proc/self/task.
 *
 * threadcreate profile: where the live threads were created, like Go's. The
 * stack snapshot (the threads profile) is thread_snapshot.c. */
#include "thread_registry.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "clock.h"
#include "frame_rules.h"
#include "heap_inline.h"
#include "labels.h"
#include "monitor.h"
#include "once.h"
#include "pprof.h"
#include "procfs.h"
#include "recorder.h"
#include "stack_walk.h"
#include "symbols.h"

/* ---- the registry ---- */

struct thread_record {
    struct thread_record *prev, *next;
    pid_t tid;                   /* 0 until the thread runs; set under the registry lock */
    void *(*start)(void *);
    void *arg;
    double created_s;            /* monotonic */
    int depth;
    uintptr_t pcs[CONAN_MAX_FRAMES]; /* the creator's stack, leaf first */
};

#define ENDED_NAMES 1024         /* names of ended threads kept, newest over oldest */

static struct {
    pthread_mutex_t lock;
    struct thread_record *live;
    struct { pid_t tid; char name[16]; } ended[ENDED_NAMES]; /* under the lock */
    unsigned nended;             /* under the lock: names kept so far (ring position) */
    long count;                  /* changed under the lock, atomically: thread_ended reads it without */
    pthread_key_t key;
    bool key_ok;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void link_record(struct thread_record *r)
{
    pthread_mutex_lock(&reg.lock);
    r->prev = NULL;
    r->next = reg.live;
    if (reg.live) reg.live->prev = r;
    reg.live = r;
    __atomic_store_n(&reg.count, reg.count + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&reg.lock);
}

/* ended is non-NULL when the thread itself is ending: its last name is kept. */
static void unlink_record(struct thread_record *r, const char *ended)
{
    pthread_mutex_lock(&reg.lock);
    if (ended && r->tid) {
        unsigned at = reg.nended++ % ENDED_NAMES;
        reg.ended[at].tid = r->tid;
        memcpy(reg.ended[at].name, ended, sizeof reg.ended[at].name);
    }
    assert(reg.count > 0 && (r->prev || reg.live == r));
    if (r->prev) r->prev->next = r->next;
    else reg.live = r->next;
    if (r->next) r->next->prev = r->prev;
    __atomic_store_n(&reg.count, reg.count - 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&reg.lock);
}

/* The key's destructor: the thread is ending, however it ends. */
static void thread_ended(void *value)
{
    struct thread_record *r = value;
    char name[16] = "";
    prctl(PR_GET_NAME, name); /* at most 16 bytes, terminated */
    unlink_record(r, name);
    free(r);
    conan_monitor_thread_event();
    /* Only the monitor left registered: if main has left too, the process must
     * end now (the monitor checks). A count read, no syscall. */
    if (__atomic_load_n(&reg.count, __ATOMIC_RELAXED) <= 1) conan_monitor_poke();
    conan_heap_thread_registered(false);
    conan_labels_thread_ended();
}

static void *trampoline(void *arg)
{
    struct thread_record *r = arg;
    conan_heap_thread_registered(true);
    conan_frame_rules_thread_start();
    conan_recorder_thread_start();
    conan_labels_thread_started();
    pthread_mutex_lock(&reg.lock); /* the threadcreate profile copies records under it */
    r->tid = gettid();
    pthread_mutex_unlock(&reg.lock);
    pthread_setspecific(reg.key, r);
    conan_monitor_thread_event();
    return r->start(r->arg);
}

/* fork (fork.c): the registry lock is held across it, so the child gets a
 * consistent list. The child has only the forking thread; the other records
 * are dropped without being freed: the child handlers run before the heap
 * table's lock is usable again in the child (see fork.c). */
void conan_threads_prefork(void) { pthread_mutex_lock(&reg.lock); }
void conan_threads_postfork_parent(void) { pthread_mutex_unlock(&reg.lock); }

void conan_threads_postfork_child(void)
{
    pthread_mutex_init(&reg.lock, NULL);
    reg.nended = 0;
    struct thread_record *self = reg.key_ok ? pthread_getspecific(reg.key) : NULL;
    reg.live = NULL;
    reg.count = 0;
    if (self) {
        self->tid = gettid();
        self->prev = self->next = NULL;
        reg.live = self;
        reg.count = 1;
    }
}

void conan_threads_init(void)
{
    static int done;
    if (!conan_first_time(&done)) return;
    conan_unwind_prepare(); /* creation stacks are walked from the first pthread_create on */
    reg.key_ok = pthread_key_create(&reg.key, thread_ended) == 0;
}

int conan_threads_create(conan_pthread_create_fn create, pthread_t *thread, const pthread_attr_t *attr,
                         void *(*start)(void *), void *arg)
{
    struct thread_record *r = reg.key_ok ? calloc(1, sizeof *r) : NULL;
    if (!r) return create(thread, attr, start, arg);
    r->start = start;
    r->arg = arg;
    r->created_s = conan_monotonic_seconds();
    r->depth = conan_unwind_caller(r->pcs, CONAN_MAX_FRAMES);
    link_record(r);
    int rc = create(thread, attr, trampoline, r);
    if (rc != 0) {
        unlink_record(r, NULL);
        free(r);
    }
    return rc;
}

bool conan_threads_ended_name(pid_t tid, char *out, size_t len)
{
    bool found = false;
    pthread_mutex_lock(&reg.lock);
    unsigned kept = reg.nended < ENDED_NAMES ? reg.nended : ENDED_NAMES;
    for (unsigned i = 1; i <= kept && !found; i++) { /* newest first: tids are reused */
        unsigned at = (reg.nended - i) % ENDED_NAMES;
        if (reg.ended[at].tid == tid && reg.ended[at].name[0]) {
            snprintf(out, len, "%s", reg.ended[at].name);
            found = true;
        }
    }
    pthread_mutex_unlock(&reg.lock);
    return found;
}

long conan_threads_registered(void)
{
    pthread_mutex_lock(&reg.lock);
    long n = reg.count;
    pthread_mutex_unlock(&reg.lock);
    return n;
}

/* Is the calling thread the only one of the process still running (main
 * called pthread_exit, and every other thread has ended)? */
struct alone_check { pid_t self; bool others; };

static void note_other(pid_t tid, void *arg)
{
    struct alone_check *c = arg;
    char state = tid != c->self ? conan_task_state(tid) : 'Z';
    if (state != 'Z' && state != '?') c->others = true;
}

static int main_exited; /* atomic: main called pthread_exit */

void conan_threads_exiting(void)
{
    if (gettid() != getpid()) return;
    __atomic_store_n(&main_exited, 1, __ATOMIC_RELEASE);
    conan_monitor_poke();
}

bool conan_threads_main_exited(void)
{
    return __atomic_load_n(&main_exited, __ATOMIC_ACQUIRE);
}

bool conan_threads_only_caller_left(long live)
{
    if (!conan_threads_main_exited() || live > 2) return false; /* the cheap answers, nearly always */
    struct alone_check c = { gettid(), false };
    conan_for_each_task(note_other, &c);
    return !c.others;
}

/* ---- threadcreate ---- */

struct conan_pprof *conan_threads_create_profile(long *threads, struct conan_symbols *syms)
{
    static const struct conan_value_type type = { "threadcreate", "count" };
    struct conan_pprof *p = conan_pprof_new(&type, 1, type, 1);
    if (!p) return NULL;
    struct conan_task_list tasks;
    conan_task_list(&tasks, gettid());
    const int64_t one = 1;
    *threads = 0;

    /* Records are copied under the lock (a thread may end meanwhile); the copy
     * is allocated outside it, with room for threads born in between. */
    pthread_mutex_lock(&reg.lock);
    long n = reg.count + 64;
    pthread_mutex_unlock(&reg.lock);
    struct thread_record *copy = malloc((size_t)n * sizeof *copy);
    long got = 0;
    pthread_mutex_lock(&reg.lock);
    for (struct thread_record *r = reg.live; r && copy && got < n; r = r->next) copy[got++] = *r;
    pthread_mutex_unlock(&reg.lock);

    uintptr_t unknown_frame = conan_pprof_pseudo_frame(p, "creator's stack unavailable");
    uintptr_t main_frame = conan_pprof_pseudo_frame(p, "main thread");
    uintptr_t other_frame = conan_pprof_pseudo_frame(p, "created before libconan or without pthread_create");
    double now_s = conan_monotonic_seconds();
    for (long i = 0; i < got; i++) {
        if (copy[i].tid == tasks.skip) continue; /* the monitor itself */
        const char *start = NULL;
        conan_symbols_lookup(syms, (uintptr_t)copy[i].start, &start, NULL);
        struct conan_label labels[2] = {
            { .key = "start", .str = start ? start : "?" },
            { .key = "age", .num = (int64_t)(now_s - copy[i].created_s), .num_unit = "seconds" },
        };
        if (copy[i].depth > 0)
            conan_pprof_add(p, copy[i].pcs, copy[i].depth, &one, labels, 2);
        else
            conan_pprof_add(p, &unknown_frame, 1, &one, labels, 2);
        (*threads)++;
        for (int t = 0; t < tasks.n; t++)
            if (tasks.tid[t] == copy[i].tid) tasks.tid[t] = 0; /* accounted for */
    }
    /* The rest were not made by pthread_create after we were loaded. */
    pid_t pid = getpid();
    for (int t = 0; t < tasks.n; t++) {
        if (!tasks.tid[t]) continue;
        conan_pprof_add(p, tasks.tid[t] == pid ? &main_frame : &other_frame, 1, &one, NULL, 0);
        (*threads)++;
    }
    free(copy);
    conan_task_list_free(&tasks);
    return p;
}

