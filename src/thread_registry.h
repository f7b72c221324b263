/* thread_registry.h — the threads of the program: registry, ended names,
 * main's exit, the threadcreate profile (thread_registry.c). */
#ifndef CONAN_THREAD_REGISTRY_H
#define CONAN_THREAD_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdbool.h>
#include "config.h"
#include "pprof.h"
#include "symbols.h"

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

/* pthread_exit is being called (by main, it matters: see below). */
void conan_threads_exiting(void);
bool conan_threads_main_exited(void);
/* True when main has called pthread_exit and every other thread of the
 * process has ended; live is the process's thread count, read by the caller
 * (conan_process_stat). */
bool conan_threads_only_caller_left(long live);
/* The name thread tid had when it ended, if it was registered and ended
 * recently (the last 1024 ends are kept); false otherwise. */
bool conan_threads_ended_name(pid_t tid, char *out, size_t len);

/* fork (fork.c): the registry's lock is held across it. */
void conan_threads_prefork(void);
void conan_threads_postfork_parent(void);
void conan_threads_postfork_child(void);

#endif
