/* inherit.c — preload lists and libconan's place in them: how this process
 * came to load libconan (its LD_PRELOAD, or /etc/ld.so.preload), and what the
 * programs this one executes see of it.
 *
 * With "inherit": false, our entry in LD_PRELOAD and CONAN_CONFIG are removed
 * from the environment before main runs, so every program started from here on
 * (exec, posix_spawn, system, popen) runs without the shim. Other LD_PRELOAD
 * entries stay, in their order. Runs in the constructor: one thread, before the
 * program can read its environment. */
#include "inherit.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
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

/* The file this library was loaded from, and its identity. */
struct self {
    const char *path;
    struct stat st;
    bool have_st;
};

static bool find_self(struct self *self)
{
    Dl_info info;
    if (!dladdr((void *)find_self, &info) || !info.dli_fname) return false;
    self->path = info.dli_fname;
    self->have_st = stat(info.dli_fname, &self->st) == 0;
    return true;
}

/* ld.so separates entries with spaces or colons (and, in /etc/ld.so.preload,
 * any white space). */
#define SEPARATORS " :\t\n"

/* The next entry of a preload list at or after *p: its start, its length in
 * *len (0 at the end), and *p moved past it. */
static const char *next_entry(const char **p, size_t *len)
{
    const char *entry = *p + strspn(*p, SEPARATORS);
    *len = strcspn(entry, SEPARATORS);
    *p = entry + *len;
    return entry;
}

static bool is_us(const char *entry, size_t len, const struct self *self)
{
    return names_us(entry, len, self->path, self->have_st ? &self->st : NULL);
}

static bool list_names_us(const char *list, const struct self *self)
{
    size_t len;
    for (const char *p = list, *entry; (entry = next_entry(&p, &len)), len;)
        if (is_us(entry, len, self)) return true;
    return false;
}

bool conan_loaded_by_system_preload(void)
{
    struct self self;
    if (!find_self(&self)) return false;
    const char *preload = getenv("LD_PRELOAD");
    if (preload && list_names_us(preload, &self)) return false;
    char list[4096];
    int fd = open("/etc/ld.so.preload", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, list, sizeof list - 1);
    close(fd);
    if (n <= 0) return false;
    list[n] = '\0';
    return list_names_us(list, &self);
}

bool conan_preload_without_us(const char *list, char *out, size_t len)
{
    struct self self;
    if (len == 0 || !find_self(&self)) return false;
    size_t n = 0, entry_len;
    for (const char *p = list, *entry; (entry = next_entry(&p, &entry_len)), entry_len;) {
        if (is_us(entry, entry_len, &self)) continue;
        if (n + (n > 0) + entry_len >= len) return false;
        if (n) out[n++] = ' ';
        memcpy(out + n, entry, entry_len);
        n += entry_len;
    }
    out[n] = '\0';
    return true;
}

void conan_inherit_stop(void)
{
    unsetenv("CONAN_CONFIG");
    const char *preload = getenv("LD_PRELOAD");
    if (!preload) return;
    size_t len = strlen(preload) + 1;
    char *kept = malloc(len);
    if (!kept) return;
    if (conan_preload_without_us(preload, kept, len)) {
        if (kept[0])
            setenv("LD_PRELOAD", kept, 1);
        else
            unsetenv("LD_PRELOAD");
    }
    free(kept);
}
