/* forwarder.c — the cheapest possible malloc interposer: malloc and free that
 * only jump to the next definition. Preloaded beside the malloc_free benchmark
 * it measures what any LD_PRELOAD interposition costs by itself, the floor
 * under libconan's figure. */
#include <dlfcn.h>
#include <stddef.h>

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);

__attribute__((constructor)) static void resolve(void)
{
    next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
}

void *malloc(size_t size) { return next_malloc(size); }
void free(void *p) { next_free(p); }
