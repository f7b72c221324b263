/* pthread.c — the interposed pthread_create: every thread the program makes
 * goes through the registry in src/thread_registry.c (its creator's stack, its start
 * and end), then to the C library's pthread_create; and pthread_exit, so the
 * monitor knows when main has left (the process must end with its last
 * thread, and the monitor must not be that thread). No policy here. */
#include <errno.h>
#include <pthread.h>

#include "thread_registry.h"
#include "interpose.h"

CONAN_INTERPOSED int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                                    void *arg)
{
    conan_pthread_create_fn create = CONAN_NEXT(conan_pthread_create_fn, "pthread_create");
    if (!create) return EAGAIN;
    return conan_threads_create(create, thread, attr, start, arg);
}

CONAN_INTERPOSED void pthread_exit(void *value)
{
    typedef void (*exit_fn)(void *) __attribute__((noreturn));
    conan_threads_exiting();
    exit_fn next = CONAN_NEXT(exit_fn, "pthread_exit");
    next(value);
}
