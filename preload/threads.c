/* threads.c — the interposed pthread_create: every thread the program makes
 * goes through the registry in src/thread_registry.c (its creator's stack, its start
 * and end), then to the C library's pthread_create; and pthread_exit, so the
 * monitor knows when main has left (the process must end with its last
 * thread, and the monitor must not be that thread). No policy here. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "thread_registry.h"
#include "interpose.h"

CONAN_INTERPOSED int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                                    void *arg)
{
    static conan_pthread_create_fn next;
    conan_pthread_create_fn create = __atomic_load_n(&next, __ATOMIC_ACQUIRE);
    if (!create) {
        create = (conan_pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
        if (!create) return EAGAIN;
        __atomic_store_n(&next, create, __ATOMIC_RELEASE);
    }
    return conan_threads_create(create, thread, attr, start, arg);
}

CONAN_INTERPOSED void pthread_exit(void *value)
{
    typedef void (*exit_fn)(void *) __attribute__((noreturn));
    static exit_fn next;
    conan_threads_exiting();
    if (!next) next = (exit_fn)dlsym(RTLD_NEXT, "pthread_exit");
    next(value);
}
