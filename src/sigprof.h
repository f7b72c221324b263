/* sigprof.h — the single owner of SIGPROF (sigprof.c): its handler and
 * consumer table, the counted take/give-back, and the program's view of it. */
#ifndef CONAN_SIGPROF_H
#define CONAN_SIGPROF_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* Finds the C library's sigaction; from the constructor, before any thread. */
void conan_sigprof_init(void);
/* sigaction as the program sees it (virtual for SIGPROF while ours is installed). */
int conan_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* The program has a SIGPROF handler of its own (so we never take SIGPROF). */
bool conan_sigprof_program_has_handler(void);
/* The program's disposition (as it sees it) is SIG_IGN. */
bool conan_sigprof_program_ignores(void);
/* A consumer is about to make SIGPROFs: our handler is installed (by the
 * first holder) and stays until the matching give-back. 0, or -1 with errno. */
int conan_sigprof_take(void);
/* The consumer is done. The last one restores the program's disposition, or,
 * while a signal of ours is still pending, leaves that to conan_sigprof_settle. */
void conan_sigprof_give_back(void);
/* Monitor, every tick: restores the program's disposition once no signal of
 * ours is pending and nobody holds SIGPROF. */
void conan_sigprof_settle(void);
/* True if SIGPROF is queued for the process or any of its threads. */
bool conan_sigprof_pending(void);
/* A thread that blocks SIGPROF would keep our signal pending forever, and one
 * waiting in sigwait would take it: neither is sent ours. Gone: true too. */
bool conan_sigprof_blocked_by(pid_t tid);
/* The calling thread blocks every signal for the rest of its life (the
 * monitor; checked once here): SIGPROF's bookkeeping then skips its
 * signal-mask changes on it. */
void conan_sigprof_thread_blocks_every_signal(void);
/* Child of a fork (fork.c). */
void conan_sigprof_postfork_child(void);

#endif
