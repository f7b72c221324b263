/* sigprof.h — the single owner of SIGPROF (sigprof.c). */
#ifndef CONAN_SIGPROF_H
#define CONAN_SIGPROF_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

void conan_sigprof_init(void);
/* sigaction as the program sees it (virtual for SIGPROF while ours is installed). */
int conan_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
bool conan_sigprof_program_has_handler(void);
int conan_sigprof_take(void);
void conan_sigprof_give_back(void);
/* True if SIGPROF is queued for the process or any of its threads. */
bool conan_sigprof_pending(void);
/* A thread that blocks SIGPROF would keep our signal pending forever, and one
 * waiting in sigwait would take it: neither is sent ours. Gone: true too. */
bool conan_sigprof_blocked_by(pid_t tid);
void conan_sigprof_forward(int sig, siginfo_t *info, void *ucontext);

#endif
