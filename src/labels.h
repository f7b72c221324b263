/* labels.h — the labels a program sets on its threads (include/conan.h:
 * conan_label_set/clear), as the engine sees them (labels.c).
 *
 * A (key, value) pair is interned once into a fixed, append-only table and
 * named by a small id from then on; a thread's labels are the ids of its at
 * most CONAN_LABELS_MAX pairs, in initial-exec TLS. So a sampler takes a
 * thread's labels by copying CONAN_LABELS_MAX 32-bit words (no lock, no
 * allocation: fine in a signal handler, and the words are written with single
 * stores, so a handler that interrupts conan_label_set sees the old or the new
 * pair, never half of one), and the monitor turns ids back into strings when
 * it builds a profile. Interned pairs are never removed or changed. */
#ifndef CONAN_LABELS_H
#define CONAN_LABELS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "pprof.h"

#define CONAN_LABELS_MAX 8        /* labels one thread carries at once */
#define CONAN_LABEL_KEY_MAX 32    /* bytes kept of a key (longer ones are cut), with its NUL */
#define CONAN_LABEL_VALUE_MAX 64  /* bytes kept of a value, with its NUL */

/* A thread's labels at one moment: pair ids, 0 for an unused place. */
struct conan_label_set {
    uint32_t pair[CONAN_LABELS_MAX];
};

/* The calling thread's labels (written only by that thread). */
struct conan_labels_thread {
    struct conan_label_set set;
    uint32_t *shown;             /* the copy the monitor reads (labels.c's thread table), or NULL */
};
extern __thread struct conan_labels_thread conan_labels_tls __attribute__((tls_model("initial-exec")));

/* Async-signal-safe: the calling thread's labels now. */
static inline void conan_labels_capture(struct conan_label_set *out)
{
    for (int i = 0; i < CONAN_LABELS_MAX; i++)
        out->pair[i] = __atomic_load_n(&conan_labels_tls.set.pair[i], __ATOMIC_ACQUIRE);
}

/* Monitor: another thread's labels now, if it is a thread libconan knows
 * (made by pthread_create, or main); false (and an empty set) otherwise.
 * A racy but whole-word read: each id is a pair that was set at some moment. */
bool conan_labels_of_thread(pid_t tid, struct conan_label_set *out);

/* Monitor: appends set's labels to out (room places at most) as pprof string
 * labels; returns how many it appended. The strings live as long as the
 * process. */
int conan_labels_resolve(const struct conan_label_set *set, struct conan_label *out, int room);

/* Tests: words of the pair index in use. */
long conan_labels_index_used(void);

/* Is the set empty? */
static inline bool conan_labels_empty(const struct conan_label_set *set)
{
    for (int i = 0; i < CONAN_LABELS_MAX; i++)
        if (set->pair[i]) return false;
    return true;
}

/* The shim is active (preload.c, before the monitor starts): from now on the
 * public calls act (before, and in an inert shim, they return -1 at once),
 * and the calling thread (main) is known. */
void conan_labels_start(void);
/* The thread registry (thread_registry.c), on the thread itself: it starts,
 * so its labels become visible to the monitor; it ends, so they stop being. */
void conan_labels_thread_started(void);
void conan_labels_thread_ended(void);
/* A child of fork: the only thread is the caller; other threads' places go. */
void conan_labels_postfork_child(void);

#endif
