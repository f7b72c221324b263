/* preload.c — what runs when libconan.so is preloaded: the interposed
 * sigaction and signal (the program's SIGPROF calls are virtualized while a
 * window holds SIGPROF, see src/sigprof.c), unshare and setns (the calls that
 * need a single-threaded caller go through conan_monitor_call_alone), fork and
 * daemon (the child starts a monitor of its own), dlclose (cached unwind rules
 * are dropped), and the constructor, which reads CONAN_CONFIG and starts the
 * monitor thread, and the destructor, which stops it. No policy lives here.
 * A config we cannot use leaves the shim inert, with one line on stderr; a
 * program the config's `only` list does not name stays inert silently: either
 * way the program runs exactly as it would without us (see configured()). */
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>

#include "config.h"
#include "fork.h"
#include "frame_rules.h"
#include "heap.h"
#include "inherit.h"
#include "interpose.h"
#include "labels.h"
#include "log.h"
#include "monitor.h"
#include "sigprof.h"
#include "thread_registry.h"

static struct conan_config config; /* static: too large for a constructor's stack */

/* The next definition is missing: fail as a missing system call would. */
static int no_next_definition(void)
{
    errno = ENOSYS;
    return -1;
}

CONAN_INTERPOSED int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return conan_sigaction(sig, act, old);
}

/* glibc's signal() has BSD semantics (SA_RESTART, the signal blocked in its
 * handler); only SIGPROF is handled here, everything else goes to the C library
 * so that siginterrupt() keeps its effect. */
CONAN_INTERPOSED sighandler_t signal(int sig, sighandler_t handler)
{
    typedef sighandler_t (*signal_fn)(int, sighandler_t);
    if (sig != SIGPROF) {
        signal_fn real_signal = CONAN_NEXT(signal_fn, "signal");
        return real_signal ? real_signal(sig, handler) : SIG_ERR;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, sig);
    sa.sa_flags = SA_RESTART;
    if (conan_sigaction(sig, &sa, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

/* ITIMER_PROF survives execve. If a parent exec'd us during a process-timer
 * window, the timer is still armed while SIGPROF is back at SIG_DFL, and its
 * first expiry would kill this program. No program can rely on that state, so
 * disarm it. */
static void disarm_inherited_prof_timer(void)
{
    struct itimerval it;
    struct sigaction sa;
    if (getitimer(ITIMER_PROF, &it) != 0 || (!it.it_value.tv_sec && !it.it_value.tv_usec)) return;
    if (sigaction(SIGPROF, NULL, &sa) != 0 || (sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL) return;
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_PROF, &off, NULL);
}

static int real_unshare(int flags, int unused)
{
    int (*next)(int) = CONAN_NEXT(int (*)(int), "unshare");
    (void)unused;
    return next ? next(flags) : no_next_definition();
}

static int real_setns(int fd, int nstype)
{
    int (*next)(int, int) = CONAN_NEXT(int (*)(int, int), "setns");
    return next ? next(fd, nstype) : no_next_definition();
}

CONAN_INTERPOSED int unshare(int flags)
{
    if (!(flags & (CLONE_NEWUSER | CLONE_VM | CLONE_SIGHAND | CLONE_THREAD))) return real_unshare(flags, 0);
    return conan_monitor_call_alone(real_unshare, flags, 0);
}

/* Namespaces a multi-threaded process may not enter. */
#define SINGLE_THREADED_NS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWTIME)

CONAN_INTERPOSED int setns(int fd, int nstype)
{
    int type = nstype;
    if (type == 0) {
        type = ioctl(fd, NS_GET_NSTYPE); /* a namespace fd says what it is */
        if (type < 0) type = SINGLE_THREADED_NS; /* a pidfd, or unknown: assume the worst */
    }
    if (!(type & SINGLE_THREADED_NS)) return real_setns(fd, nstype);
    return conan_monitor_call_alone(real_setns, fd, nstype);
}

/* fork() and daemon() return in the child after every atfork handler has run
 * (ours stop sampling and make the engine's locks consistent); that is where
 * the child's own monitor can start. Errors and errno are the C library's. */
static void start_child_monitor(void)
{
    int saved = errno;
    conan_monitor_after_fork();
    errno = saved;
}

CONAN_INTERPOSED pid_t fork(void)
{
    pid_t (*next)(void) = CONAN_NEXT(pid_t(*)(void), "fork");
    if (!next) return no_next_definition();
    pid_t pid = next();
    if (pid == 0) start_child_monitor();
    return pid;
}

CONAN_INTERPOSED int daemon(int nochdir, int noclose)
{
    int (*next)(int, int) = CONAN_NEXT(int (*)(int, int), "daemon");
    if (!next) return no_next_definition();
    int rc = next(nochdir, noclose);
    if (rc == 0) start_child_monitor(); /* only the grandchild returns */
    return rc;
}

/* Unloading code: the cached call-frame rules of its addresses (src/frame_rules.c)
 * must not serve code mapped there later. Before, for rules computed while it
 * closes; after, for the ones computed before. Status and dlerror are the
 * loader's. */
CONAN_INTERPOSED int dlclose(void *handle)
{
    int (*next)(void *) = CONAN_NEXT(int (*)(void *), "dlclose");
    if (!next) return -1;
    conan_frame_rules_forget();
    int rc = next(handle);
    conan_frame_rules_forget();
    return rc;
}

/* Reads the config and decides, once, whether this program is watched.
 * Every "no" leaves the program running as it would without us. A config we
 * cannot use is reported in one line — unless the library came only through
 * /etc/ld.so.preload, where that line would go to every program on the
 * machine; `LD_PRELOAD=libconan.so.0 true` shows it. Loaded that way with no
 * system config at all, we stay inert too: a system-wide preload watches the
 * programs its config names, never everything by default. */
static bool configured(void)
{
    char err[1024];
    /* setuid/setgid programs: the environment is the caller's, not the
     * program's; a config from it must not make a privileged process write. */
    if (getauxval(AT_SECURE)) return false;
    conan_config_defaults(&config);
    enum conan_config_origin origin;
    if (conan_config_find(&config, &origin, err, sizeof err) != 0) {
        if (origin != CONAN_CONFIG_SYSTEM || !conan_loaded_by_system_preload())
            conan_log("%s (libconan stays inert)", err);
        return false;
    }
    if (origin == CONAN_CONFIG_BUILT_IN && conan_loaded_by_system_preload()) return false;
    return conan_config_selects(&config);
}

__attribute__((constructor)) static void conan_preload_start(void)
{
    conan_sigprof_init();
    disarm_inherited_prof_timer();
    if (configured()) {
        if (!config.inherit) conan_inherit_stop();
        if (config.mode != CONAN_MODE_OFF) {
            conan_fork_init();
            conan_labels_start(); /* main's labels: before any thread can start */
            conan_threads_init(); /* before the monitor: its own thread is not registered */
            conan_monitor_start(&config);
            return;
        }
    }
    /* Inert: no thread, no file, no signal handler; allocations only pass
     * through. */
    conan_heap_never();
}

__attribute__((destructor)) static void conan_preload_stop(void)
{
    conan_monitor_stop();
}
