/* stuck.h — the stuck-thread watch: threads blocked at one place (the same
 * system call and the same user stack) for stuck.after_s (stuck.c). Monitor
 * thread only. */
#ifndef CONAN_STUCK_H
#define CONAN_STUCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

#define CONAN_STUCK_MAX 64       /* threads named in one report */

struct conan_stuck_thread {
    pid_t tid;
    char name[16];               /* its comm */
    long syscall;                /* the system call it is blocked in (-1: none) */
    double for_s;                /* how long it has been there */
    char function[128];          /* innermost function of the program's stack: the leaf-most
                                    outside libc, ld.so, the C++ and sanitizer runtimes and
                                    libconan ("" if unknown) */
};
struct conan_stuck_report {
    int n;                       /* threads stuck now (at most CONAN_STUCK_MAX listed) */
    int fresh;                   /* of those, not yet reported by conan_stuck_reported */
    struct conan_stuck_thread thread[CONAN_STUCK_MAX];
};

/* A new monitor (at start, or in a forked child): nothing seen yet. */
void conan_stuck_reset(void);
/* One look at every thread (now_s monotonic): fills out with the threads
 * stuck for at least stuck.after_s. Cheap for threads that moved: one read
 * of /proc/self/task/<tid>/syscall each; a stack is walked only for a
 * thread still at the place it was at the previous look. A thread counts
 * only at a place it was seen arriving at, and not while stopped, if it ran
 * between two looks, or if a function on its stack matches stuck.ignore.
 * Fresh threads are listed first. */
void conan_stuck_check(const struct conan_config *cfg, double now_s, struct conan_stuck_report *out);
/* The threads of report were written into a threads profile: they are not
 * fresh again until they move and get stuck anew. */
void conan_stuck_reported(const struct conan_stuck_report *report);
/* The thread tid's entry in report, or NULL. */
const struct conan_stuck_thread *conan_stuck_find(const struct conan_stuck_report *report, pid_t tid);


#endif
