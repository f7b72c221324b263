/* internal.h — the engine's internal contract: what the files of src/ and preload/
 * share with one another. Nothing here is exported from libconan.so; the public
 * API is include/conan.h. Data flows one way: collectors (metrics, cgroup) →
 * rules → profilers (cpu sampling) → pprof writer → dump files. */
#ifndef CONAN_INTERNAL_H
#define CONAN_INTERNAL_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

/* preload/: a definition that takes the place of the C library's for the
 * whole process (everything else in libconan.so is hidden). */
#define CONAN_INTERPOSED __attribute__((visibility("default")))

/* ---------------------------------------------------------------- log.c */

/* snprintf that reports truncation: a cut path would name a different file, so
 * callers treat false as an error instead of using the cut string. */
bool conan_format(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One line "libconan: <message>\n" on stderr, written with a single write(2) so
 * it never interleaves with the program's own lines. Never touches stdout. */
void conan_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, at most once per *once flag (for conditions that would repeat). */
void conan_log_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------- config.c */

enum conan_mode { CONAN_MODE_ADAPTIVE, CONAN_MODE_CONTINUOUS, CONAN_MODE_OFF };
enum conan_cpu_timer { CONAN_TIMER_THREAD, CONAN_TIMER_PROCESS };

/* The keys every rule shares (cpu now; memory, heap and threads later). */
struct conan_rule_config {
    bool enable;
    double min;       /* value must be at least this to trip at all */
    double diff;      /* spike: percent above the mean of the window */
    double abs;       /* absolute threshold, needs no warm-up */
    int window;       /* previous values averaged for the spike test; 0 = no spike test */
    int sustain;      /* consecutive ticks the condition must hold */
    int cooldown_s;   /* quiet period after a trip */
};

#define CONAN_MAX_TAGS 16
#define CONAN_NAME_MAX 128

struct conan_config {
    char source[PATH_MAX];            /* file it came from, or "" for built-in defaults */
    char app[CONAN_NAME_MAX];
    char version[CONAN_NAME_MAX];
    int ntags;
    char tag_key[CONAN_MAX_TAGS][CONAN_NAME_MAX];
    char tag_value[CONAN_MAX_TAGS][CONAN_NAME_MAX];
    enum conan_mode mode;
    int interval_ms;
    char dump_dir[PATH_MAX];
    bool follow_fork;                 /* a forked child restarts its own monitor */
    bool inherit;                     /* children keep LD_PRELOAD and CONAN_CONFIG */
    struct {
        struct conan_rule_config rule;
        int profile_seconds;
        int hz;
        double max;                   /* ceiling: no CPU profile at/above this percent; 0 = none */
        enum conan_cpu_timer timer;
        int thread_timer_limit;       /* above this many threads, use the process timer */
    } cpu;
    struct {
        struct conan_rule_config rule; /* RSS as a percent of the memory the process may use */
    } memory;
    struct {
        struct conan_rule_config rule; /* bytes in use on the heap, in MiB */
        int sample_bytes;             /* mean bytes between sampled allocations; 0 = no sampling */
        int followup_s;               /* a second heap profile this long after a trip; 0 = none */
    } heap;
    struct {
        struct conan_rule_config rule; /* live threads */
        int max;                      /* above this many, no stack snapshot */
        int wait_ms;                  /* longest the snapshot waits for threads to answer */
    } threads;
    struct { int every_s; } continuous;
    struct { int max_dumps_per_hour; int max_dir_mb; int keep; } limits;
};

void conan_config_defaults(struct conan_config *cfg);
/* Reads and validates a JSON config file over the defaults. On any problem
 * returns -1 with err = "<file>: <json.path>: <what is wrong>". */
int conan_config_load(const char *path, struct conan_config *cfg, char *err, size_t errlen);
/* The same from a buffer; `label` names the source in messages. */
int conan_config_parse(const char *json, size_t len, const char *label,
                       struct conan_config *cfg, char *err, size_t errlen);
/* Markdown table of every key (name, type, default, range, meaning). */
void conan_config_reference(FILE *out);

/* -------------------------------------------------------------- rules.c */

#define CONAN_WINDOW_MAX 1000

enum conan_reason {
    CONAN_REASON_NONE,
    CONAN_REASON_ABS,
    CONAN_REASON_SPIKE,
    CONAN_REASON_CONTINUOUS,
    CONAN_REASON_MANUAL,
};
const char *conan_reason_name(enum conan_reason reason);

struct conan_rule_state {
    double history[CONAN_WINDOW_MAX];  /* ring of previous values */
    int filled;                        /* how many of history are valid */
    int next;                          /* ring position of the next write */
    int streak;                        /* consecutive ticks the condition held */
    bool has_tripped;
    double last_trip_s;
};

struct conan_verdict {
    enum conan_reason reason;          /* NONE, ABS or SPIKE */
    double value;
    double mean;                       /* mean of the window before this value; 0 if not full */
    bool window_full;
    bool cooling;                      /* condition held but the rule is in cooldown */
};

void conan_rule_reset(struct conan_rule_state *st);
/* Feeds one value at time now_s (seconds, monotonic). Pure: depends only on its
 * arguments. A verdict with a reason means "would trip"; the caller decides
 * whether it acts and, if it does, calls conan_rule_commit. */
struct conan_verdict conan_rule_observe(const struct conan_rule_config *cfg,
                                        struct conan_rule_state *st, double value, double now_s);
void conan_rule_commit(struct conan_rule_state *st, double now_s);

/* Sliding one-hour budget of dumps shared by all kinds. */
#define CONAN_BUDGET_MAX 3600
struct conan_budget {
    double when[CONAN_BUDGET_MAX];     /* ring of dump times (monotonic s) */
    int count, head;
};
bool conan_budget_allows(struct conan_budget *b, int per_hour, double now_s, int n);
void conan_budget_spend(struct conan_budget *b, int per_hour, double now_s, int n);

/* ------------------------------------------------------------- cgroup.c */

/* Where this process's cgroups live. Paths include the root prefix that
 * conan_cgroup_resolve was given, so readers can open them directly. */
struct conan_cgroup {
    char v2_dir[PATH_MAX];       /* unified-hierarchy directory, "" if none */
    char v2_mount[PATH_MAX];     /* its mount point (where the ancestor walk stops) */
    char cpu_v1_dir[PATH_MAX];   /* v1 "cpu" controller directory, "" if none */
    char cpu_v1_mount[PATH_MAX];
    char mem_v1_dir[PATH_MAX];   /* v1 "memory" controller directory, "" if none */
    char mem_v1_mount[PATH_MAX];
    char id[PATH_MAX];           /* the cgroup path as /proc/self/cgroup shows it */
    char container_id[80];       /* a container id found in that path, or "" */
};

/* Finds the cgroups from <root>/proc/self/cgroup and <root>/proc/self/mountinfo
 * (root is "" on a real system; tests pass a fixture tree). Returns 0 if at least
 * one hierarchy was found, -1 otherwise (out is then all empty strings). */
int conan_cgroup_resolve(const char *root, struct conan_cgroup *out);
/* CPUs the cgroup quota allows (e.g. 0.5), the smallest along the path up to the
 * mount point, v2 cpu.max and v1 cfs_quota_us/cfs_period_us both considered.
 * Returns 0 when no quota applies or nothing could be read. */
double conan_cgroup_cpu_quota(const struct conan_cgroup *cg);
/* Bytes of memory the cgroups allow (v2 memory.max, v1 memory.limit_in_bytes),
 * the smallest along the path up to the mount point; 0 when none applies. */
double conan_cgroup_memory_limit(const struct conan_cgroup *cg);

/* ------------------------------------------------------------ metrics.c */

double conan_monotonic_seconds(void);
double conan_process_cpu_seconds(void);
/* Sleeps ms milliseconds, resuming after signals. */
void conan_sleep_ms(long ms);

/* CPUs the process may really use: the smallest of cgroup quota, affinity mask
 * and online CPUs. *source names which one won ("cgroup", "affinity", "online"). */
double conan_usable_cpus(const struct conan_cgroup *cg, const char **source);

struct conan_cpu_meter {
    double last_cpu_s, last_wall_s;
    bool primed;
};
/* Process CPU over the time since the previous call, as a percent (0–100) of
 * usable_cpus. The first call primes the meter and returns 0. */
double conan_cpu_meter_percent(struct conan_cpu_meter *m, double usable_cpus);

/* Resident set size and live threads, from one read of /proc/self/stat. */
struct conan_process_stat { double rss_bytes; long threads; };
bool conan_process_stat(struct conan_process_stat *out);
/* Resident set size of the process, bytes (0 if unreadable). */
double conan_rss_bytes(void);
/* Memory the process may really use: the smaller of the cgroup limit and RAM.
 * *source names which one won ("cgroup", "ram"). */
double conan_memory_limit_bytes(const struct conan_cgroup *cg, const char **source);
double conan_cpu_percent(double cpu_s, double wall_s, double usable_cpus);

/* ------------------------------------------------------------- procfs.c */

/* Calls fn (may be NULL) for each thread of the process; returns how many
 * there were, or -1 if /proc/self/task cannot be read. */
int conan_for_each_task(void (*fn)(pid_t tid, void *arg), void *arg);
/* First line of /proc/self/task/<tid>/<file> (tid 0: /proc/self/<file>). */
bool conan_task_file(pid_t tid, const char *file, char *out, size_t len);
/* /proc/self/task/<tid>/stat read into buf (tid 0: /proc/self/stat), and a
 * pointer to its third field (the state letter), past "pid (comm) "; NULL if
 * unreadable. Fields are then one space apart. */
const char *conan_task_stat(pid_t tid, char *buf, size_t len);
/* The value of "<field>:" in that status file, parsed in base (16 for masks). */
bool conan_task_status(pid_t tid, const char *field, int base, unsigned long long *value);

/* ------------------------------------------------------------- unwind.c */

#define CONAN_MAX_FRAMES 64

/* Call once from a normal thread before any signal-context unwinding, so that
 * libunwind's lazy initialisation never happens inside a signal handler. */
void conan_unwind_prepare(void);
/* Monitor thread: (re)builds the snapshot of loaded objects' unwind tables if
 * objects were loaded or unloaded since the last one. */
void conan_unwind_refresh_tables(void);
/* After a window has drained: frees snapshots no walk can still be reading. */
void conan_unwind_release_retired(void);
/* Async-signal-safe: unwinds from a signal's ucontext into pcs (leaf first: the
 * interrupted PC exactly, callers as return address − 1). Returns depth. */
int conan_unwind_signal(void *ucontext, uintptr_t *pcs, int max);
/* Not in signal context: unwinds the calling thread from here (this function's
 * caller first, every frame as return address − 1). No lock, no allocation
 * once conan_unwind_prepare has run. Returns depth. */
int conan_unwind_here(uintptr_t *pcs, int max);
/* Monitor thread: unwinds another thread of ours, blocked in the kernel, from
 * the stack pointer and program counter /proc shows for it. Returns depth. */
int conan_unwind_from(uintptr_t sp, uintptr_t pc, uintptr_t *pcs, int max);
/* The same without libconan's own frames on top: the stack of the program's
 * code that called into us (malloc, pthread_create). */
int conan_unwind_caller(uintptr_t *pcs, int max);

/* ------------------------------------------------------- frame_rules.c */

/* Walks the calling thread's stack from a return address pc, with the stack
 * pointer sp and rbp of the frame it returns to, using cached call-frame rules
 * (x86-64). Fills pcs with return addresses minus one; returns the depth, or
 * -1 when it cannot walk this stack (the caller then walks with libgcc). */
int conan_frame_walk(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t *pcs, int max);
/* Gives the walk libgcc_s's _Unwind_Find_FDE; until then every walk is -1. */
void conan_frame_rules_prepare(void *unwind_find_fde);
/* The calling thread is starting (normal context, may allocate): looks up
 * its stack bounds, without which its walks are refused. */
void conan_frame_rules_thread_start(void);
/* Code may have been unloaded (dlclose): cached rules are computed again. */
void conan_frame_rules_forget(void);
/* Tests: rules computed so far, walks refused. */
void conan_frame_rules_stats(long *miss, long *refuse);

/* ------------------------------------------------------------ symbols.c */

struct conan_mapping {
    uintptr_t start, limit, offset;
    char path[PATH_MAX];         /* as /proc/self/maps names it ("[vdso]" too) */
    char build_id[65];           /* GNU build ID, lowercase hex, "" if none */
};

/* A snapshot of the process's executable mappings with their symbol tables
 * (.symtab when present, so static functions resolve; else .dynsym). */
struct conan_symbols;

struct conan_symbols *conan_symbols_open(void);
size_t conan_symbols_mapping_count(const struct conan_symbols *s);
const struct conan_mapping *conan_symbols_mapping(const struct conan_symbols *s, size_t i);
/* Index of the mapping containing pc, or -1. */
long conan_symbols_find_mapping(const struct conan_symbols *s, uintptr_t pc);
/* Function containing pc: *name demangled when a demangler is present, *system_name
 * as in the symbol table. Strings live until conan_symbols_close. */
bool conan_symbols_lookup(struct conan_symbols *s, uintptr_t pc,
                          const char **name, const char **system_name);
void conan_symbols_close(struct conan_symbols *s);
/* False if an allocation failed while s was built or read: names or mappings
 * may be missing, so a profile made from it is refused. */
bool conan_symbols_complete(const struct conan_symbols *s);
/* GNU build ID of an ELF file on disk, lowercase hex; 0 on success. */
int conan_build_id_of_file(const char *path, char out[65]);

/* -------------------------------------------------------------- pprof.c */

struct conan_value_type { const char *type, *unit; };
struct conan_label { const char *key; const char *str; int64_t num; const char *num_unit; };

struct conan_pprof;
struct conan_pprof *conan_pprof_new(const struct conan_value_type *types, int ntypes,
                                    struct conan_value_type period_type, int64_t period);
/* Adds one stack (leaf first, addresses already adjusted as conan_unwind_signal
 * gives them). Samples with the same stack and labels are merged. */
int conan_pprof_add(struct conan_pprof *p, const uintptr_t *pcs, int depth,
                    const int64_t *values, const struct conan_label *labels, int nlabels);
void conan_pprof_comment(struct conan_pprof *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A frame that is not code (e.g. "unavailable"): an address to put in a
 * stack, which encodes as a location with that function name and no mapping.
 * 0 if too many names are in use. */
uintptr_t conan_pprof_pseudo_frame(struct conan_pprof *p, const char *name);
void conan_pprof_set_time(struct conan_pprof *p, int64_t time_nanos, int64_t duration_nanos);
void conan_pprof_set_default_type(struct conan_pprof *p, int index);
/* Symbolizes against syms, encodes profile.proto and gzips it into a malloc'd
 * buffer. Returns 0 or -1. */
int conan_pprof_encode(struct conan_pprof *p, struct conan_symbols *syms,
                       void **gz, size_t *gz_len);
void conan_pprof_free(struct conan_pprof *p);

/* ------------------------------------------------------------ context.c */

/* Facts about the process that do not change while it runs. */
struct conan_context {
    char host[256];
    char exe[PATH_MAX];
    char exe_build_id[65];
    char kernel[256];
    char glibc[64];
    struct conan_cgroup cgroup;
    bool have_cgroup;
};
void conan_context_collect(struct conan_context *ctx);

/* What made a profile happen, for comments and the event line. */
struct conan_trigger {
    const char *metric;          /* "cpu", or "" for manual/continuous */
    enum conan_reason reason;
    double value, mean;
    const struct conan_rule_config *rule;
};
/* Adds the context of the moment as profile comments. */
void conan_context_comments(struct conan_pprof *p, const struct conan_config *cfg,
                            const struct conan_context *ctx, const struct conan_trigger *t);

/* --------------------------------------------------------------- dump.c */

/* Creates dump_dir (0700) if missing. Logs and returns -1 if unusable. */
int conan_dump_dir_ready(const struct conan_config *cfg);
/* Writes data to <dump_dir>/<app>.<pid>.<kind>.<UTC stamp>.<seq>.pb.gz through a
 * temporary name and rename. Returns 0 with the path in path_out, or -1 (logged). */
int conan_dump_write(const struct conan_config *cfg, const char *kind, const void *data,
                     size_t len, char *path_out, size_t path_len);
struct conan_event {
    const char *kind;            /* cpu, heap, threads, threadcreate */
    const struct conan_trigger *trigger;
    const char *file;            /* "" if the dump failed */
    const char *timer;           /* "thread"/"process" for cpu, else NULL */
    long samples, dropped;
    double duration_s;           /* of the sampling window, if any */
    double cpu_s;                /* process CPU-seconds in that window */
    double write_ms;             /* symbolize + encode + write */
    size_t bytes;                /* size of the file */
    const char *note;            /* e.g. "stopped early: cpu above cpu.max" */
    const char *error;           /* why the dump failed, or NULL */
};
/* Appends one JSON line to <dump_dir>/events.jsonl. */
void conan_dump_event(const struct conan_config *cfg, const struct conan_event *ev);
/* Removes the oldest of libconan's own dump files beyond limits.keep / max_dir_mb. */
void conan_dump_prune(const struct conan_config *cfg);
/* "<app>" made safe for a file name into out. */
void conan_dump_sanitize(const char *app, char *out, size_t outlen);

/* ---------------------------------------------------------- cpu_sampler.c */

struct conan_cpu_sample {
    pid_t tid;
    int weight;                  /* 1 + timer overruns: ticks this sample stands for */
    int depth;                   /* written last; 0 = slot claimed but not complete */
    uintptr_t pcs[CONAN_MAX_FRAMES];
};

/* ---------------------------------------------------------- cpu_signal.c */

/* The buffer the SIGPROF handler fills and the monitor drains after the window.
 * Writers claim a slot with one atomic add; nothing else is shared. */
struct conan_sample_ring {
    struct conan_cpu_sample *slot;
    long capacity;
    long claimed;                /* atomic: slots handed out (may exceed capacity) */
    long dropped;                /* atomic: samples not taken, with reason counters below */
    long dropped_full, dropped_loader;
    long inflight;               /* atomic: handlers running right now */
    int active;                  /* atomic: 1 while a window is open */
    uintptr_t loader_start, loader_end; /* text of the dynamic loader */
};
extern struct conan_sample_ring conan_cpu_ring;
void conan_cpu_on_sigprof(int sig, siginfo_t *info, void *ucontext);
/* si_value of our timers' signals, telling them from anyone else's SIGPROF. */
#define CONAN_TIMER_COOKIE ((void *)&conan_cpu_ring)
/* Set while the last resort, setitimer, runs: its signals carry no cookie. */
extern int conan_cpu_kernel_timer;

/* ------------------------------------------------------------- sigprof.c */

void conan_sigprof_init(void);
/* sigaction as the program sees it (virtual for SIGPROF while ours is installed). */
int conan_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
bool conan_sigprof_program_has_handler(void);
int conan_sigprof_take(void);
void conan_sigprof_give_back(void);
/* True if SIGPROF is queued for the process or any of its threads. */
bool conan_sigprof_pending(void);
/* A thread that blocks SIGPROF would keep our signal pending forever, and one
 * waiting in sigwait would take it: neither is sent ours. Gone: true too. */
bool conan_sigprof_blocked_by(pid_t tid);
void conan_sigprof_forward(int sig, siginfo_t *info, void *ucontext);

struct conan_cpu_window {
    enum conan_cpu_timer timer;  /* which timer actually ran */
    int threads_armed;
    long samples, dropped;
    const struct conan_cpu_sample *sample; /* valid until conan_cpu_release */
    long nsample;
    long dropped_full, dropped_loader; /* of dropped: buffer full / in the loader */
    double duration_s;
    double cpu_s;                /* process CPU time spent during the window */
};

/* Arms SIGPROF sampling at hz for every thread but the caller. Returns 0, or -1
 * with why filled (program owns SIGPROF, timers unavailable, ...). */
int conan_cpu_start(const struct conan_config *cfg, char *why, size_t why_len);
/* During a window: arm timers for threads born since the start. */
void conan_cpu_rescan_threads(void);
/* Disarms, lets pending signals drain, restores SIGPROF, and hands back samples. */
void conan_cpu_stop(struct conan_cpu_window *out);
void conan_cpu_release(void);
/* Thread name from /proc/self/task/<tid>/comm, or the one seen when armed. */
const char *conan_cpu_thread_name(pid_t tid);
/* Child of a fork: forgets the parent's window without touching its timers. */
void conan_cpu_forget_after_fork(void);

/* --------------------------------------------------------------- heap.c */

/* Heap sampling. The malloc wrappers (preload/malloc.c) run the two inline
 * tests below on every call; everything else here is the slow path, reached
 * about once per heap.sample_bytes allocated, or by a free of a pointer that
 * may have been sampled. */

struct conan_heap_thread {
    int64_t bytes_left;          /* allocation bytes until the next sample; < 0: slow path */
    uint64_t rng;                /* xorshift state for the exponential intervals */
    bool started;                /* rng seeded and a first interval drawn */
    bool busy;                   /* inside the slow path: nested allocations are not sampled */
    bool exempt;                 /* a libconan thread: never sampled */
    bool registered;             /* see conan_heap_thread_registered */
};
extern __thread struct conan_heap_thread conan_heap_tls __attribute__((tls_model("initial-exec")));

/* One counter per hash slot of sampled addresses: a free whose slot is zero
 * was certainly not sampled. Read with a plain load; changed under the table
 * lock only, which is on the slow path. */
#define CONAN_HEAP_HINT_BITS 19
extern uint16_t conan_heap_hint[1u << CONAN_HEAP_HINT_BITS];

/* Neighbouring blocks get neighbouring slots (frees of recent allocations
 * touch few cache lines); higher address bits are folded in so that blocks at
 * the same offset of different 8-MiB regions (glibc's per-thread heaps) do
 * not all collide. */
static inline size_t conan_heap_hint_slot(const void *p)
{
    uintptr_t a = (uintptr_t)p >> 4;
    return (size_t)((a ^ (a >> CONAN_HEAP_HINT_BITS)) & ((1u << CONAN_HEAP_HINT_BITS) - 1));
}

/* Hot path, every allocation: counts size down; true when this allocation must
 * go to conan_heap_sample. No lock, no shared write, no call. */
static inline bool conan_heap_countdown(size_t size)
{
    return __builtin_expect((conan_heap_tls.bytes_left -= (int64_t)size) < 0, 0);
}

/* Hot path, every free: false means p was certainly not sampled. */
static inline bool conan_heap_maybe_sampled(const void *p)
{
    return __builtin_expect(__atomic_load_n(&conan_heap_hint[conan_heap_hint_slot(p)], __ATOMIC_RELAXED) != 0, 0);
}

/* Slow path of an allocation whose countdown ran out: draws the next interval
 * and, if sampling is on, records p's stack and size. p may be NULL (failed). */
void conan_heap_sample(void *p, size_t size);
/* A sampled block being freed or reallocated: what forgetting it removed. */
struct conan_heap_taken { void *bucket; size_t size; double weight; };
/* Slow path of a free: stops tracking p if it was sampled (taken may be NULL).
 * Keeps errno. Must run before the block goes back to the allocator. */
void conan_heap_forget(void *p, struct conan_heap_taken *taken);
/* A realloc failed: p is still live, so track it again as it was. */
void conan_heap_restore(void *p, const struct conan_heap_taken *taken);
/* Makes frees of p take the slow path forever (bootstrap blocks). Inline, as
 * the bootstrap arena's allocations may come before any other code can run
 * (see the top of preload/malloc.c). */
static inline void conan_heap_pin(const void *p)
{
    __atomic_fetch_add(&conan_heap_hint[conan_heap_hint_slot(p)], 1, __ATOMIC_RELAXED);
}

/* The allocator behind us, as preload/malloc.c found it. */
struct conan_allocator {
    const char *name;            /* "glibc", "jemalloc", or the object's file name */
    int (*mallctl)(const char *, void *, size_t *, void *, size_t); /* jemalloc's, or NULL */
};
extern struct conan_allocator conan_allocator;

/* The thread registry (threads.c) marks the threads it runs, from their start
 * routine to the end of its bookkeeping at their exit. Only the sanitized
 * test builds look at the mark (preload/malloc.c): a sanitizer runtime knows a
 * thread only between its own start and end hooks, yet the allocations it
 * makes outside them come to our wrappers too. */
void conan_heap_thread_registered(bool registered);
/* Starts sampling every heap.sample_bytes (0: off); from a normal thread
 * (the constructor's), not a signal handler. conan_heap_stop turns sampling
 * off (tracked blocks stay tracked, so their frees stay correct). */
void conan_heap_start(const struct conan_config *cfg);
/* The calling thread (libconan's own) is never sampled. */
void conan_heap_exempt_this_thread(void);
void conan_heap_stop(void);
bool conan_heap_sampling(void);
/* Bytes in use on the heap, from the allocator's own statistics when it has
 * them (*source "mallinfo2", "jemalloc"), else the sampled estimate ("sampled"). */
double conan_heap_in_use_bytes(const char **source);

struct conan_heap_stats {
    long live;                   /* sampled blocks not yet freed */
    long stacks;                 /* distinct allocation stacks */
    long sampled, freed;         /* since start */
    long dropped;                /* samples not recorded (table memory exhausted) */
    long replaced;               /* tracked blocks whose free we never saw */
};
/* The heap profile: alloc_objects, alloc_space, inuse_objects, inuse_space,
 * unbiased for sampling; NULL on allocation failure. With syms, C++ operator
 * new frames on top of a stack are dropped, so the allocating code is the leaf. */
struct conan_pprof *conan_heap_profile(struct conan_heap_stats *stats, struct conan_symbols *syms);

/* ------------------------------------------------------------ threads.c */

typedef int (*conan_pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
/* Before the first conan_threads_create: the key that sees threads end. */
void conan_threads_init(void);
/* pthread_create through create, with the new thread registered (tid, the
 * creator's stack) for as long as it lives. Falls back to a plain create. */
int conan_threads_create(conan_pthread_create_fn create, pthread_t *thread, const pthread_attr_t *attr,
                         void *(*start)(void *), void *arg);
long conan_threads_registered(void);   /* live threads made by pthread_create (the monitor too) */
/* Where the live threads were created (labels: start routine, named with
 * syms, and age); *threads gets how many. */
struct conan_pprof *conan_threads_create_profile(long *threads, struct conan_symbols *syms);

struct conan_threads_snapshot {
    long threads;                /* listed (the monitor excluded) */
    long stacks;                 /* with a stack */
    long stacks_from_proc;       /* of those, blocked threads walked from /proc (no signal) */
    long blocked;                /* not asked: SIGPROF blocked or in sigwait */
    long timed_out;              /* asked, no answer within threads.wait_ms */
    double duration_s;
    const char *why_no_stacks;   /* set when no thread could be asked */
};
/* Monitor thread: every thread's stack now, grouped by stack, name and state. */
struct conan_pprof *conan_threads_profile(const struct conan_config *cfg, bool cpu_window_open,
                                          struct conan_threads_snapshot *out);
/* Signal context: a snapshot request (ours) is handled and true returned. */
bool conan_threads_on_signal(const siginfo_t *info, void *ucontext);
/* pthread_exit is being called (by main, it matters: see below). */
void conan_threads_exiting(void);
bool conan_threads_main_exited(void);
/* True when main has called pthread_exit and every other thread of the
 * process has ended; live is the process's thread count, read by the caller
 * (conan_process_stat). */
bool conan_threads_only_caller_left(long live);
/* Each tick: gives SIGPROF back once late snapshot requests have arrived. */
void conan_threads_settle(bool cpu_window_open);

/* ------------------------------------------------------------ inherit.c */

/* Constructor only: removes libconan's LD_PRELOAD entry and CONAN_CONFIG from
 * the environment, so that programs started from here run without it. */
void conan_inherit_stop(void);

/* ------------------------------------------------------------ monitor.c */

int conan_monitor_start(const struct conan_config *cfg);
void conan_monitor_stop(void);
/* In the child, after fork() or daemon() has returned there (every atfork
 * handler has run): starts the child's own monitor unless follow_fork is off. */
void conan_monitor_after_fork(void);
/* Asks for an on-demand profile at the next tick. Async-signal-safe. */
int conan_monitor_request(void);
/* A thread started or ended: during a CPU window the monitor arms or releases
 * its timer at once. Cheap when no window is open. */
void conan_monitor_thread_event(void);
/* Makes the monitor look at once whether it is the last thread left. */
void conan_monitor_poke(void);
/* Makes call(a, b), which the kernel refuses to a multi-threaded caller, with
 * the monitor stopped (an open window ends early) and restarted after. */
int conan_monitor_call_alone(int (*call)(int, int), int a, int b);

#endif
