/* interpose.h — what stands in for a C library function needs: the marker
 * that exports an interposer, and the one lookup of the definition it
 * forwards to (the C library's, or that of a library preloaded after us).
 * The malloc family resolves its own (preload/malloc.c: dlsym may allocate
 * there). */
#ifndef CONAN_INTERPOSE_H
#define CONAN_INTERPOSE_H

#include <dlfcn.h>

/* preload/: a definition that takes the place of the C library's for the
 * whole process (everything else in libconan.so is hidden). */
#define CONAN_INTERPOSED __attribute__((visibility("default")))

/* The next definition of name after ours (dlsym(RTLD_NEXT)), or NULL if there
 * is none. Looked up on first use and kept in *cache, published with a release
 * store and read with an acquire load, so any thread may call it at any time;
 * two first calls at once both look it up and store the same pointer. */
static inline void *conan_next_definition(void **cache, const char *name)
{
    void *fn = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (!fn) {
        fn = dlsym(RTLD_NEXT, name);
        if (fn) __atomic_store_n(cache, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

/* conan_next_definition with a cache of its own per use, as a function
 * pointer of type fn_type: CONAN_NEXT(int (*)(int), "unshare"). */
#define CONAN_NEXT(fn_type, name)                                    \
    __extension__({                                                  \
        static void *conan_next_cache_;                              \
        (fn_type)conan_next_definition(&conan_next_cache_, (name));  \
    })

#endif
