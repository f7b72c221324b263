/* fork.h — the single owner of fork handling (fork.c). */
#ifndef CONAN_FORK_H
#define CONAN_FORK_H

/* Registers libconan's one set of fork handlers (the only atfork registration); idempotent, and called
 * by every module that has fork state, so the order of init calls never
 * matters. */
void conan_fork_init(void);

#endif
