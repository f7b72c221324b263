/* forwarder.c — the cheapest possible malloc and mutex interposer: malloc,
 * free and pthread_mutex_lock that only jump to the next definition.
 * Preloaded beside the malloc_free or mutex_lock benchmark it measures what
 * any LD_PRELOAD interposition costs by itself, the floor under libconan's
 * figures. */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

static int (*next_mutex_lock)(pthread_mutex_t *);

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);

__attribute__((constructor)) static void resolve(void)
{
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    next_mutex_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
}

void *malloc(size_t size) { return next_malloc(size); }
void free(void *p) { next_free(p); }
int pthread_mutex_lock(pthread_mutex_t *m) { return next_mutex_lock(m); }
