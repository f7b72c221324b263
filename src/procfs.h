/* procfs.h — small readers of /proc/self (procfs.c). */
#ifndef CONAN_PROCFS_H
#define CONAN_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Calls fn (may be NULL) for each thread of the process; returns how many
 * there were, or -1 if /proc/self/task cannot be read. */
int conan_for_each_task(void (*fn)(pid_t tid, void *arg), void *arg);
/* First line of /proc/self/task/<tid>/<file> (tid 0: /proc/self/<file>). */
bool conan_task_file(pid_t tid, const char *file, char *out, size_t len);
/* /proc/self/task/<tid>/stat read into buf (tid 0: /proc/self/stat), and a
 * pointer to its third field (the state letter), past "pid (comm) "; NULL if
 * unreadable. Fields are then one space apart. */
const char *conan_task_stat(pid_t tid, char *buf, size_t len);
/* The value of "<field>:" in that status file, parsed in base (16 for masks). */
bool conan_task_status(pid_t tid, const char *field, int base, unsigned long long *value);

#endif
