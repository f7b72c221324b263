/* kinds.c — the one table of profile kind names. */
#include "kinds.h"

#include <string.h>

static const char *const names[CONAN_KIND_COUNT] = {
    [CONAN_KIND_CPU] = "cpu",
    [CONAN_KIND_HEAP] = "heap",
    [CONAN_KIND_THREADS] = "threads",
    [CONAN_KIND_THREADCREATE] = "threadcreate",
    [CONAN_KIND_WALL] = "wall",
    [CONAN_KIND_MUTEX] = "mutex",
};

const char *conan_kind_name(enum conan_kind kind)
{
    return kind >= 0 && kind < CONAN_KIND_COUNT ? names[kind] : "?";
}

bool conan_kind_known(const char *name, size_t n)
{
    for (int k = 0; k < CONAN_KIND_COUNT; k++)
        if (strlen(names[k]) == n && strncmp(name, names[k], n) == 0) return true;
    return false;
}
