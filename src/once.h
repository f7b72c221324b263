/* once.h — the one guard for one-time set-up: registering a handler, creating
 * a key, warming a walker, logging a condition once. */
#ifndef CONAN_ONCE_H
#define CONAN_ONCE_H

#include <stdbool.h>

/* True for the first call with this flag (a static int, zero to start with),
 * false for every later one, whatever the thread: one atomic exchange. Later
 * callers do not wait for the first one's set-up to finish. */
static inline bool conan_first_time(int *flag)
{
    return !__atomic_exchange_n(flag, 1, __ATOMIC_ACQ_REL);
}

#endif
