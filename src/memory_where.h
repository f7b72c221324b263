/* memory_where.h — where the process's memory is: the resident set split by
 * kind and the allocator's own view, as comments of the heap profile
 * (memory_where.c). Monitor thread only. */
#ifndef CONAN_MEMORY_WHERE_H
#define CONAN_MEMORY_WHERE_H

#include <stdbool.h>
#include "heap.h"
#include "pprof.h"

struct conan_memory_where {
    bool have_resident;          /* false: /proc/self/status could not be read */
    double resident;             /* bytes: anonymous + file + shmem */
    double anonymous, file, shmem;
    double swap;                 /* bytes of the process's memory swapped out */
    struct conan_allocator_stats allocator;
};
/* Reads /proc/self/status and the allocator's statistics (heap.c). */
void conan_memory_where_read(struct conan_memory_where *w);
/* Adds to p one comment for the resident set, one for the allocator, and one
 * splitting what the heap profile does not show: the resident set less
 * in_profile, the profile's in-use estimate (bytes). */
void conan_memory_where_comment(struct conan_pprof *p, const struct conan_memory_where *w, double in_profile);

#endif
