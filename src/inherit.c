/* inherit.c — what the programs this one executes see of libconan.
 *
 * With "inherit": false, our entry in LD_PRELOAD and CONAN_CONFIG are removed
 * from the environment before main runs, so every program started from here on
 * (exec, posix_spawn, system, popen) runs without the shim. Other LD_PRELOAD
 * entries stay, in their order. Runs in the constructor: one thread, before the
 * program can read its environment. */
#include "inherit.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdbool.h>

/* Is this LD_PRELOAD entry the object we were loaded from? Paths are compared
 * by file identity; a bare name (searched in the library path) by name. */
static bool names_us(const char *entry, size_t len, const char *self, const struct stat *self_st)
{
    char path[PATH_MAX];
    if (len == 0 || len >= sizeof path) return false;
    memcpy(path, entry, len);
    path[len] = '\0';
    if (!memchr(path, '/', len)) {
        const char *base = strrchr(self, '/');
        return strcmp(path, base ? base + 1 : self) == 0;
    }
    struct stat st;
    return self_st && stat(path, &st) == 0 && st.st_dev == self_st->st_dev && st.st_ino == self_st->st_ino;
}

void conan_inherit_stop(void)
{
    unsetenv("CONAN_CONFIG");
    const char *preload = getenv("LD_PRELOAD");
    Dl_info info;
    if (!preload || !dladdr((void *)conan_inherit_stop, &info) || !info.dli_fname) return;
    struct stat self_st;
    bool have_st = stat(info.dli_fname, &self_st) == 0;

    size_t len = strlen(preload);
    char *kept = malloc(len + 1);
    if (!kept) return;
    size_t n = 0;
    /* ld.so separates entries with spaces or colons. */
    for (const char *p = preload; *p;) {
        size_t skip = strspn(p, " :");
        p += skip;
        size_t entry = strcspn(p, " :");
        if (entry && !names_us(p, entry, info.dli_fname, have_st ? &self_st : NULL)) {
            if (n) kept[n++] = ' ';
            memcpy(kept + n, p, entry);
            n += entry;
        }
        p += entry;
    }
    kept[n] = '\0';
    if (n)
        setenv("LD_PRELOAD", kept, 1);
    else
        unsetenv("LD_PRELOAD");
    free(kept);
}
