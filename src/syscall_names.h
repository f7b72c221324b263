/* syscall_names.h — system call numbers named (syscall_names.c). */
#ifndef CONAN_SYSCALL_NAMES_H
#define CONAN_SYSCALL_NAMES_H

/* "read", "futex", "epoll_wait", ... for a system call number; NULL when
 * the number is not one we name. */
const char *conan_syscall_name(long nr);

#endif
