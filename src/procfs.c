/* procfs.c — the few reads of /proc the engine makes about its own process:
 * the list of its threads, a thread's one-line files (comm, syscall), a field
 * of a status file, the mappings (/proc/self/maps) and the executable's path.
 * Monitor-thread code: stdio and allocation are fine. */
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <stdio.h>

/* ---- descriptors held for a moment ----
 *
 * A program may close descriptors it did not open (closefrom, as daemons do)
 * and reuse the numbers for its own files while one of ours is open: closing
 * "ours" then would close its file (integration/closefrom_fds caught the
 * monitor doing that). So every file here is opened with its identity taken,
 * and its descriptor is closed only if it still refers to that file; one the
 * program closed is simply gone. */
bool conan_own_open(struct conan_own_fd *o, const char *path, int flags, mode_t mode)
{
    struct stat st;
    o->fd = open(path, flags | O_CLOEXEC, mode);
    if (o->fd < 0) return false;
    if (fstat(o->fd, &st) != 0) return false; /* closed under us already */
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    return true;
}

bool conan_own_still(const struct conan_own_fd *o)
{
    struct stat st;
    return fstat(o->fd, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino;
}

void conan_own_close(const struct conan_own_fd *o)
{
    if (conan_own_still(o)) close(o->fd);
}

/* Thread ids from /proc/self/task, read with getdents64 on a descriptor of
 * our own (a DIR's closedir would close whatever holds the number). */
int conan_for_each_task(void (*fn)(pid_t tid, void *arg), void *arg)
{
    struct conan_own_fd dir;
    if (!conan_own_open(&dir, "/proc/self/task", O_RDONLY | O_DIRECTORY, 0)) return -1;
    int count = 0;
    char buf[4096] __attribute__((aligned(8)));
    long got;
    while ((got = syscall(SYS_getdents64, dir.fd, buf, sizeof buf)) > 0) {
        for (long at = 0; at < got;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + at);
            at += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
            count++;
            if (fn) fn((pid_t)atoi(d->d_name), arg);
        }
    }
    conan_own_close(&dir);
    return got < 0 ? -1 : count;
}

static void collect_task(pid_t tid, void *arg)
{
    struct conan_task_list *l = arg;
    if (tid == l->skip) return;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        pid_t *grown = realloc(l->tid, (size_t)cap * sizeof *grown);
        if (!grown) return;
        l->tid = grown;
        l->cap = cap;
    }
    l->tid[l->n++] = tid;
}

void conan_task_list(struct conan_task_list *list, pid_t skip)
{
    *list = (struct conan_task_list){ .skip = skip };
    conan_for_each_task(collect_task, list);
}

void conan_task_list_free(struct conan_task_list *list)
{
    free(list->tid);
    list->tid = NULL;
    list->n = list->cap = 0;
}

/* /proc/self/status for tid 0, else /proc/self/task/<tid>/<file>. */
static void task_path(pid_t tid, const char *file, char *out, size_t len)
{
    if (tid == 0)
        snprintf(out, len, "/proc/self/%s", file);
    else
        snprintf(out, len, "/proc/self/task/%d/%s", (int)tid, file);
}

bool conan_task_alive(pid_t tid)
{
    return syscall(SYS_tgkill, getpid(), tid, 0) == 0 || errno != ESRCH;
}

bool conan_task_file(pid_t tid, const char *file, char *out, size_t len)
{
    char path[64];
    task_path(tid, file, path, sizeof path);
    out[0] = '\0';
    struct conan_own_fd f;
    if (!conan_own_open(&f, path, O_RDONLY, 0)) return false;
    ssize_t n = read(f.fd, out, len - 1);
    conan_own_close(&f);
    if (n <= 0) return false;
    out[n] = '\0';
    char *nl = strchr(out, '\n');
    if (nl) *nl = '\0';
    return true;
}

const char *conan_task_stat(pid_t tid, char *buf, size_t len)
{
    return conan_task_file(tid, "stat", buf, len) ? conan_task_stat_fields(buf) : NULL;
}

const char *conan_task_stat_fields(const char *text)
{
    const char *paren = strrchr(text, ')');
    return paren && paren[1] == ' ' && paren[2] ? paren + 2 : NULL; /* comm may hold spaces and ')' */
}

bool conan_task_syscall(pid_t tid, struct conan_task_syscall *out)
{
    char line[512];
    memset(out, 0, sizeof *out);
    if (!conan_task_file(tid, "syscall", line, sizeof line)) return false;
    return conan_task_syscall_parse(line, out);
}

bool conan_task_syscall_parse(const char *line, struct conan_task_syscall *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(line, "running", 7) == 0) {
        out->running = true;
        return true;
    }
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char *end;
    out->nr = strtol(line, &end, 10);
    if (end == line) return false;
    /* "<nr> <6 args> <sp> <pc>", or "-1 <sp> <pc>" outside a system call */
    const char *last = line + len;
    while (last > line && *last != ' ') last--;
    if (last == line) return true;
    const char *before = last - 1;
    while (before > line && *before != ' ') before--;
    out->sp = (uintptr_t)strtoull(before, NULL, 16);
    out->pc = (uintptr_t)strtoull(last + 1, NULL, 16);
    return true;
}

bool conan_task_syscall_same(const struct conan_task_syscall *a, const struct conan_task_syscall *b)
{
    return a->running == b->running && a->nr == b->nr && a->sp == b->sp && a->pc == b->pc;
}

char conan_task_state(pid_t tid)
{
    char stat[512];
    const char *state = conan_task_stat(tid, stat, sizeof stat);
    return state ? state[0] : '?';
}

bool conan_task_status(pid_t tid, const char *field, int base, unsigned long long *value)
{
    char path[64], line[256];
    task_path(tid, "status", path, sizeof path);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    size_t flen = strlen(field);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            *value = strtoull(line + flen + 1, NULL, base);
            found = true;
        }
    fclose(f);
    return found;
}

int conan_for_each_mapping(bool (*fn)(const struct conan_maps_entry *m, void *arg), void *arg)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return -1;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    errno = 0;
    while ((len = getline(&line, &line_cap, maps)) > 0) {
        if (line[len - 1] == '\n') line[--len] = '\0';
        unsigned long start, end, offset, inode;
        unsigned dev_major, dev_minor;
        char perms[8];
        int path_at = -1;
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &offset, &dev_major, &dev_minor,
                   &inode, &path_at) < 7 || strlen(perms) < 3)
            continue;
        struct conan_maps_entry m = {
            .start = start, .end = end, .offset = offset, .perms = perms,
            .path = path_at >= 0 && path_at <= len ? line + path_at : "",
        };
        if (!fn(&m, arg)) {
            errno = 0;
            break;
        }
    }
    int rc = errno == ENOMEM ? ENOMEM : 0; /* getline could not grow its line */
    free(line);
    fclose(maps);
    return rc;
}

bool conan_self_exe(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    out[n > 0 ? n : 0] = '\0';
    return n > 0;
}

/* One read: cgroup and /proc files hand their whole text to the first read,
 * and monitor ticks call this. A text that fills the buffer keeps only its
 * whole lines, so a cut number is never read as a smaller one. */
bool conan_read_small_text(const char *path, char *buf, size_t size)
{
    struct conan_own_fd f;
    if (!conan_own_open(&f, path, O_RDONLY | O_NONBLOCK, 0)) return false;
    ssize_t got;
    do got = read(f.fd, buf, size - 1);
    while (got < 0 && errno == EINTR);
    conan_own_close(&f);
    if (got <= 0) return false;
    buf[got] = '\0';
    if ((size_t)got == size - 1) {
        char *last_newline = strrchr(buf, '\n');
        if (!last_newline) return false;
        last_newline[1] = '\0';
    }
    return true;
}
