/* kinds.h — the kinds of profile libconan writes, named once (kinds.c). The
 * names appear in dump file names, in events.jsonl and in the README. */
#ifndef CONAN_KINDS_H
#define CONAN_KINDS_H

#include <stdbool.h>
#include <stddef.h>

enum conan_kind {
    CONAN_KIND_CPU, CONAN_KIND_HEAP, CONAN_KIND_THREADS, CONAN_KIND_THREADCREATE,
    CONAN_KIND_WALL,  /* every thread's stack during a CPU window (wall.c) */
    CONAN_KIND_MUTEX, /* lock contention (mutex.c) */
    CONAN_KIND_COUNT
};

/* What a trigger asks for (a set: CONAN_WANTS_CPU | CONAN_WANTS_HEAP ...);
 * threads means both thread profiles. */
/* CONAN_WANTS_BEFORE: the flight recorder's CPU profile of the time before the
 * trigger, alone (a CPU window's profile includes it anyway). */
enum { CONAN_WANTS_CPU = 1, CONAN_WANTS_HEAP = 2, CONAN_WANTS_THREADS = 4, CONAN_WANTS_BEFORE = 8 };
/* CONAN_WANTS_MUTEX: the mutex profile (waits since the previous one). */
enum { CONAN_WANTS_MUTEX = 16 };

const char *conan_kind_name(enum conan_kind kind);
/* Is the n bytes at name one of the kinds' names? */
bool conan_kind_known(const char *name, size_t n);

#endif
