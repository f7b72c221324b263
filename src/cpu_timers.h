/* cpu_timers.h — a set of CPU-time timers sending SIGPROF with one cookie
 * (cpu_timers.c): one per thread, or one for the process. The CPU window and
 * the flight recorder each own a set; the monitor thread is the only caller. */
#ifndef CONAN_CPU_TIMERS_H
#define CONAN_CPU_TIMERS_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct conan_armed_thread {
    pid_t tid;
    bool has_timer;
    bool ended;                 /* gone: its timer released, its name kept for samples */
    timer_t timer;
    char name[16];
};

struct conan_timer_set {
    void *cookie;               /* si_value of every signal of this set */
    long hz;
    pid_t monitor_tid;          /* never armed */
    int timer_cap;              /* most thread timers this set may hold */
    int timers;                 /* thread timers held now */
    struct conan_armed_thread *thread;
    int nthread, thread_cap;
    bool process_armed;         /* the process-wide POSIX timer is running */
    bool keep_names_fresh;      /* rescans read live threads' names again */
    timer_t process_timer;
};

/* Starts an empty set for the calling (monitor) thread. */
void conan_timers_init(struct conan_timer_set *s, void *cookie, long hz);
/* Arms a timer on every thread's own CPU clock but the monitor's. The set
 * holds at most limit timers and 1/share of RLIMIT_SIGPENDING (each timer
 * holds a queued-signal slot the program may need). Returns 0; or -1 with
 * why empty (more threads than that: the process timer is the answer) or
 * filled (timers refused; none kept). */
int conan_timers_arm_threads(struct conan_timer_set *s, int limit, int share, char *why, size_t why_len);
/* The calling thread (just started) gets a timer if it has none and does
 * not block SIGPROF. */
void conan_timers_arm_self(struct conan_timer_set *s);
/* Threads that ended give their timer back; threads born since get one.
 * Returns how many live threads had to go without one (the cap). */
int conan_timers_rescan(struct conan_timer_set *s);
/* Deletes every thread timer (names are kept for conan_timers_name). */
void conan_timers_delete(struct conan_timer_set *s);
/* One POSIX timer on the process CPU clock: 0, or -1 with errno. */
int conan_timers_arm_process(struct conan_timer_set *s);
void conan_timers_disarm_process(struct conan_timer_set *s);
/* The name thread tid had when the set last looked, or NULL. */
const char *conan_timers_name(const struct conan_timer_set *s, pid_t tid);
/* Frees the thread table (timers deleted first). */
void conan_timers_free(struct conan_timer_set *s);
/* Child of a fork: fork copies no timer, and the parent's timer ids could
 * name the child's own; its table may be mid-realloc. Everything is dropped,
 * nothing deleted or freed. */
void conan_timers_postfork_child(struct conan_timer_set *s);
/* True if some thread but the monitor does not block SIGPROF. */
bool conan_timers_some_thread_open(pid_t monitor_tid);

#endif
