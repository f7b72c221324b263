/* procfs.h — small readers of /proc/self (procfs.c). */
#ifndef CONAN_PROCFS_H
#define CONAN_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A descriptor held for a moment (see procfs.c): a program may close
 * descriptors it did not open and reuse the numbers, so the file's identity is
 * taken at open, and the descriptor is used or closed only while it still
 * refers to that file. conan_own_open adds O_CLOEXEC; mode is for O_CREAT. */
struct conan_own_fd {
    int fd;
    dev_t dev;
    ino_t ino;
};
bool conan_own_open(struct conan_own_fd *o, const char *path, int flags, mode_t mode);
bool conan_own_still(const struct conan_own_fd *o);
void conan_own_close(const struct conan_own_fd *o);

/* Calls fn (may be NULL) for each thread of the process; returns how many
 * there were, or -1 if /proc/self/task cannot be read. */
int conan_for_each_task(void (*fn)(pid_t tid, void *arg), void *arg);
/* The threads of the process but skip (0: none), into a malloc'd array
 * (threads missing on allocation failure); free with conan_task_list_free. */
struct conan_task_list {
    pid_t *tid;
    int n, cap;
    pid_t skip;
};
void conan_task_list(struct conan_task_list *list, pid_t skip);
void conan_task_list_free(struct conan_task_list *list);
/* Thread tid of this process still exists (one tgkill with signal 0). */
bool conan_task_alive(pid_t tid);
/* First line of /proc/self/task/<tid>/<file> (tid 0: /proc/self/<file>). */
bool conan_task_file(pid_t tid, const char *file, char *out, size_t len);
/* /proc/self/task/<tid>/stat read into buf (tid 0: /proc/self/stat), and a
 * pointer to its third field (the state letter), past "pid (comm) "; NULL if
 * unreadable. Fields are then one space apart. */
const char *conan_task_stat(pid_t tid, char *buf, size_t len);
/* The same from a stat file's text already read. */
const char *conan_task_stat_fields(const char *text);
/* /proc/self/task/<tid>/syscall: the thread is running, or it is in system
 * call nr (-1: stopped outside one) with these user stack pointer and program
 * counter (0 when not shown). False if it is gone or the line unreadable. */
struct conan_task_syscall {
    bool running;
    long nr;
    uintptr_t sp, pc;
};
bool conan_task_syscall(pid_t tid, struct conan_task_syscall *out);
/* The same from the file's text (for a descriptor held open and re-read). */
bool conan_task_syscall_parse(const char *text, struct conan_task_syscall *out);
bool conan_task_syscall_same(const struct conan_task_syscall *a, const struct conan_task_syscall *b);
/* Its kernel state letter (R, S, D, T, Z...), or '?' if it is gone. */
char conan_task_state(pid_t tid);
/* The value of "<field>:" in that status file, parsed in base (16 for masks). */
bool conan_task_status(pid_t tid, const char *field, int base, unsigned long long *value);

/* One line of /proc/self/maps. */
struct conan_maps_entry {
    uintptr_t start, end, offset;
    const char *perms;           /* "r-xp": read, write, execute, private or shared */
    const char *path;            /* the file, "[vdso]" and the like, or "" (anonymous) */
};
/* Calls fn for each mapping of /proc/self/maps, in the kernel's (address)
 * order, until fn returns false; the entry lives until fn returns. Returns 0,
 * -1 if the file cannot be read, or ENOMEM if a line could not be allocated
 * (the rest of the list is missing). */
int conan_for_each_mapping(bool (*fn)(const struct conan_maps_entry *m, void *arg), void *arg);

/* The path of the process's executable (/proc/self/exe), cut to len - 1
 * bytes; false (and "") if it cannot be read. */
bool conan_self_exe(char *out, size_t len);

/* A small kernel file (a cgroup or /proc file) into buf, NUL-terminated;
 * false if unreadable or empty. */
bool conan_read_small_text(const char *path, char *buf, size_t size);

#endif
