/* preload.c — what runs when libconan.so is preloaded: the constructor reads
 * CONAN_CONFIG and starts the monitor thread; the destructor stops it. No policy
 * lives here. A config we cannot use leaves the shim inert, with one line on
 * stderr: the program runs exactly as it would without us. */
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/time.h>

#include "internal.h"

static struct conan_config config; /* static: too large for a constructor's stack */

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

__attribute__((constructor)) static void conan_preload_start(void)
{
    char err[1024];
    /* setuid/setgid programs: the environment is the caller's, not the
     * program's; a config from it must not make a privileged process write. */
    if (getauxval(AT_SECURE)) return;
    disarm_inherited_prof_timer();
    conan_config_defaults(&config);
    const char *path = secure_getenv("CONAN_CONFIG");
    if (path && path[0] && conan_config_load(path, &config, err, sizeof err) != 0) {
        conan_log("%s (libconan stays inert)", err);
        return;
    }
    if (config.mode == CONAN_MODE_OFF) return;
    conan_monitor_start(&config);
}

__attribute__((destructor)) static void conan_preload_stop(void)
{
    conan_monitor_stop();
}
