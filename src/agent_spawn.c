/* agent_spawn.c — the one process the shim ever starts: `conan agent
 * --spawned` for its dump directory, when report.spawn is on and a reporter
 * is configured. This file owns the lock-file check, finding the conan
 * program, and the double fork that starts it.
 *
 * One agent serves every process writing to a directory (a server's forked
 * workers included): the agent holds flock(LOCK_EX) on DIR/.conan-agent.lock
 * for its lifetime. The monitor thread looks at that lock now and then. Taken:
 * an agent runs, and the file's mtime is set to now, which the agent reads as
 * "a process used this directory at that time" (it leaves after
 * report.idle_exit_s without one). Free: none runs, and one is started. The
 * descriptor is held for the check only. Two unrelated processes finding the
 * lock free at the same moment both start one; the later agent finds the lock
 * taken and leaves silently. A process that started one does not start
 * another for a check period, nor do the children it forks meanwhile (they
 * inherit the time), so a server and its workers start one between them.
 *
 * The host must not notice: no child to wait for, no SIGCHLD, no wait()
 * result, no atfork handler run, no descriptor left open, nothing of its
 * signal state changed. So the agent comes from a double fork of raw clone
 * system calls:
 *   - the intermediate is cloned with exit signal 0: the kernel sends no
 *     SIGCHLD for it, and wait(-1)/waitpid(-1) in the host never reports it
 *     (only __WCLONE or __WALL do); the monitor reaps it with
 *     waitpid(pid, __WCLONE). It calls setsid (the agent is in none of the
 *     host's process groups or sessions), clones the agent with SIGCHLD and
 *     exits at once, so the agent is reparented to init (or a subreaper).
 *   - the agent resets every signal's disposition and its mask, gets
 *     /dev/null as stdin and stdout and DIR/.conan-agent.log as stderr,
 *     closes every other descriptor, moves to / and execs.
 * Both run in a copy of a multi-threaded process whose other threads may have
 * held any lock at the clone: they make raw system calls only, on paths,
 * argv and envp all prepared before the first clone. glibc's fork() is not
 * used, so neither the program's nor libconan's atfork handlers
 * (src/fork.c) run: this is no fork of the program's.
 *
 * The agent's environment is the program's at start (copied before main runs,
 * while no other thread can change it) without libconan's LD_PRELOAD entry:
 * the agent is never profiled.
 *
 * No agent is started where it would be wrong: by a process that is pid 1 or
 * a child subreaper (the agent would become its child), nor where the monitor
 * does not run (mode off, a program `only` does not name, a forked child with
 * follow_fork false): every check runs on the monitor thread. */
#include "agent_spawn.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "clock.h"
#include "dump.h"
#include "inherit.h"
#include "log.h"
#include "procfs.h"

#define CHECK_MAX_S 30          /* the longest between two checks, whatever idle_exit_s */
#define LOCK_NAME ".conan-agent.lock"
#define LOG_NAME ".conan-agent.log"
#define PARENTS_MAX 3           /* PREFIX is at most this far above LIBDIR (lib/x86_64-linux-gnu: 2) */
#define FD_CLOSE_MAX 65536      /* without close_range: descriptors closed one by one up to this */
#define HIGH_FD 10              /* where the agent's new descriptors wait before taking 0, 1, 2 */

extern char **environ;

static struct {
    bool enabled;               /* report.spawn and a reporter: this process spawns */
    bool prepared;              /* env and config copied (once: forked children inherit them) */
    char **env;                 /* the agent's environment */
    char config[PATH_MAX];      /* the config file's absolute path; "" = built-in defaults */
    int ticks_left;             /* until the next check */
    double spawned_at_s;        /* monotonic; 0 = never */
    bool dir_ready;
    int no_program_once, reaper_once, lock_once, clone_once, env_once;
} sp;

/* ---- before the monitor thread: what the agent gets from the process ---- */

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++) free(env[i]);
    free(env);
}

/* One entry of the environment as the agent gets it: a copy, NULL for none
 * (LD_PRELOAD naming libconan alone); false when it cannot be made, which is
 * also when libconan's entry cannot be told from the others. */
static bool agent_entry(const char *entry, char **out)
{
    static const char preload[] = "LD_PRELOAD=";
    *out = NULL;
    if (strncmp(entry, preload, sizeof preload - 1) != 0) return (*out = strdup(entry)) != NULL;
    size_t len = strlen(entry) + 1;
    char *kept = malloc(len);
    if (!kept) return false;
    memcpy(kept, preload, sizeof preload - 1);
    if (!conan_preload_without_us(entry + sizeof preload - 1, kept + sizeof preload - 1, len - (sizeof preload - 1))) {
        free(kept);
        return false;
    }
    if (kept[sizeof preload - 1] == '\0')
        free(kept); /* nothing else was preloaded */
    else
        *out = kept;
    return true;
}

static char **agent_environment(void)
{
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env) return NULL;
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!agent_entry(environ[i], &env[k])) {
            free_env(env);
            return NULL;
        }
        if (env[k]) k++;
    }
    return env;
}

void conan_agent_spawn_prepare(const struct conan_config *cfg)
{
    sp.enabled = cfg->report.spawn && conan_report_configured(&cfg->report);
    if (!sp.enabled || sp.prepared) return;
    sp.env = agent_environment();
    if (!sp.env) {
        conan_log_once(&sp.env_once, "no conan agent will be started: cannot prepare its environment "
                                     "(out of memory, or libconan's LD_PRELOAD entry not found)");
        sp.enabled = false;
        return;
    }
    if (cfg->source[0] && !realpath(cfg->source, sp.config))
        snprintf(sp.config, sizeof sp.config, "%s", cfg->source); /* gone already: the agent will say so */
    sp.prepared = true;
}

/* ---- the conan program ---- */

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* conan beside the libconan file lib: LIBDIR/cli/conan in a build tree,
 * PREFIX/bin/conan installed, LIBDIR being PREFIX/lib or below it (the
 * reverse of cli/run.c's lookup). */
static bool conan_beside(const char *lib, char *out, size_t len)
{
    char dir[PATH_MAX];
    if (!conan_format(dir, sizeof dir, "%s", lib)) return false;
    char *slash = strrchr(dir, '/');
    if (!slash) return false;
    *slash = '\0';
    if (conan_format(out, len, "%s/cli/conan", dir) && executable(out)) return true;
    for (int up = 0; up < PARENTS_MAX && (slash = strrchr(dir, '/')); up++) {
        *slash = '\0';
        if (conan_format(out, len, "%s/bin/conan", dir) && executable(out)) return true;
    }
    return false;
}

/* report.agent, else the conan installed beside this libconan, as it was
 * loaded and then with symbolic links resolved. */
static bool find_program(const struct conan_config *cfg, char *out, size_t len)
{
    if (cfg->report.agent[0]) return conan_format(out, len, "%s", cfg->report.agent) && executable(out);
    Dl_info info;
    char real[PATH_MAX];
    if (!dladdr((void *)find_program, &info) || !info.dli_fname) return false;
    if (info.dli_fname[0] == '/' && conan_beside(info.dli_fname, out, len)) return true;
    return realpath(info.dli_fname, real) && conan_beside(real, out, len);
}

/* ---- the double fork: raw system calls only from the first clone on ---- */

/* Everything the intermediate and the agent need, made before cloning. */
struct plan {
    char program[PATH_MAX];
    char dir[PATH_MAX];
    char log[PATH_MAX + sizeof LOG_NAME + 1];
    char *argv[9];
    char **envp;
    int fd_limit;               /* close_range's fallback */
};

static long raw_clone(unsigned long exit_signal)
{
    /* No new stack: like fork, the child goes on in a copy of ours. The
     * parent/child tid and tls arguments are 0, so their order, which
     * differs between architectures, does not matter. */
    return syscall(SYS_clone, exit_signal, 0L, 0L, 0L, 0L);
}

static __attribute__((noreturn)) void raw_exit(int status)
{
    for (;;) syscall(SYS_exit_group, status);
}

/* fd moved (as a copy) to HIGH_FD or above, out of the way of 0, 1, 2. */
static int raw_open_high(const char *path, int flags, mode_t mode)
{
    long fd = syscall(SYS_openat, AT_FDCWD, path, flags, mode);
    if (fd < 0) return -1;
    long high = syscall(SYS_fcntl, fd, F_DUPFD, HIGH_FD);
    syscall(SYS_close, fd);
    return (int)high;
}

static void raw_close_from(int first, int limit)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
    for (int fd = first; fd < limit; fd++) syscall(SYS_close, fd);
}

/* The agent, between the second clone and execve. */
static __attribute__((noreturn)) void agent_child(const struct plan *p)
{
    unsigned long dfl[8] = { 0 }; /* the kernel's struct sigaction: SIG_DFL (0), no flags, empty mask */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, dfl, NULL, (NSIG - 1) / 8);
    unsigned long none[2] = { 0, 0 };
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, none, NULL, (NSIG - 1) / 8);
    int null = raw_open_high("/dev/null", O_RDWR, 0);
    int log_fd = raw_open_high(p->log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600);
    if (null < 0) raw_exit(126);
    syscall(SYS_dup3, null, 0, 0);
    syscall(SYS_dup3, null, 1, 0);
    syscall(SYS_dup3, log_fd >= 0 ? log_fd : null, 2, 0);
    raw_close_from(3, p->fd_limit);
    syscall(SYS_chdir, "/");
    syscall(SYS_execve, p->program, p->argv, p->envp);
    raw_exit(127);
}

/* The intermediate: a session of its own, the agent, and gone. */
static __attribute__((noreturn)) void intermediate_child(const struct plan *p)
{
    syscall(SYS_setsid);
    long pid = raw_clone(SIGCHLD);
    if (pid == 0) agent_child(p);
    raw_exit(pid < 0 ? 1 : 0);
}

static int fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_CLOSE_MAX)
        return FD_CLOSE_MAX;
    return (int)rl.rlim_cur;
}

static bool make_plan(const struct conan_config *cfg, const char *dir, struct plan *p)
{
    if (!find_program(cfg, p->program, sizeof p->program)) {
        if (cfg->report.agent[0])
            conan_log_once(&sp.no_program_once, "report.agent %s is not an executable file; no conan agent started",
                           cfg->report.agent);
        else
            conan_log_once(&sp.no_program_once, "no conan program found beside libconan (cli/conan or bin/conan "
                                                "above it); set report.agent; no conan agent started");
        return false;
    }
    if (!conan_format(p->dir, sizeof p->dir, "%s", dir) ||
        !conan_format(p->log, sizeof p->log, "%s/%s", dir, LOG_NAME))
        return false;
    int n = 0;
    p->argv[n++] = p->program;
    p->argv[n++] = (char *)"agent";
    p->argv[n++] = (char *)"--spawned";
    if (sp.config[0]) {
        p->argv[n++] = (char *)"--config";
        p->argv[n++] = sp.config;
    }
    p->argv[n++] = (char *)"--dir";
    p->argv[n++] = p->dir;
    p->argv[n] = NULL;
    p->envp = sp.env;
    p->fd_limit = fd_limit();
    return true;
}

/* Whether the agent would end up a child of this process. */
static bool would_be_our_child(void)
{
    int subreaper = 0;
    if (getpid() == 1) {
        conan_log_once(&sp.reaper_once, "this process is pid 1, which would inherit the conan agent; "
                                        "none started (run `conan agent` beside it)");
        return true;
    }
    if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper) {
        conan_log_once(&sp.reaper_once, "this process is a child subreaper, which would inherit the conan agent; "
                                        "none started (run `conan agent` beside it)");
        return true;
    }
    return false;
}

static void spawn(const struct conan_config *cfg, const char *dir)
{
    if (would_be_our_child()) return;
    struct plan *p = malloc(sizeof *p);
    if (!p) return;
    if (make_plan(cfg, dir, p)) {
        long pid = raw_clone(0);
        if (pid == 0) intermediate_child(p);
        int status = 0;
        if (pid < 0)
            conan_log_once(&sp.clone_once, "cannot start the conan agent: clone: %s", strerror(errno));
        else if (waitpid((pid_t)pid, &status, __WCLONE) == (pid_t)pid && WIFEXITED(status) &&
                 WEXITSTATUS(status) != 0)
            conan_log_once(&sp.clone_once, "cannot start the conan agent: its second clone failed");
        /* waitpid may find it reaped already by a program waiting with __WALL */
        sp.spawned_at_s = conan_monotonic_seconds();
    }
    free(p);
}

/* ---- the check ---- */

static double check_period_s(const struct conan_config *cfg)
{
    double s = cfg->report.idle_exit_s / 2.0;
    return s < CHECK_MAX_S ? s : CHECK_MAX_S;
}

/* The lock file: taken means an agent runs (and the directory is marked in
 * use now); free means none does. -1 when it cannot be opened, 1 taken, 0 free. */
static int agent_running(const char *dir)
{
    char path[PATH_MAX + sizeof LOCK_NAME + 1];
    if (!conan_format(path, sizeof path, "%s/%s", dir, LOCK_NAME)) return -1;
    struct conan_own_fd lock;
    if (!conan_own_open(&lock, path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600)) {
        if (errno == ENOENT) sp.dir_ready = false; /* the directory went away */
        else conan_log_once(&sp.lock_once, "%s: cannot open: %s; no conan agent started", path, strerror(errno));
        return -1;
    }
    int running = -1;
    if (flock(lock.fd, LOCK_EX | LOCK_NB) == 0) {
        if (conan_own_still(&lock)) flock(lock.fd, LOCK_UN);
        running = 0;
    } else if (errno == EWOULDBLOCK) {
        if (conan_own_still(&lock)) futimens(lock.fd, NULL);
        running = 1;
    }
    conan_own_close(&lock);
    return running;
}

static void check(const struct conan_config *cfg)
{
    sp.ticks_left = (int)(check_period_s(cfg) * 1000.0 / cfg->interval_ms + 0.999);
    if (sp.ticks_left < 1) sp.ticks_left = 1;
    if (!sp.dir_ready) {
        if (conan_dump_dir_ready(cfg) != 0) { /* logged there; the dumps cannot be written either */
            sp.enabled = false;
            return;
        }
        sp.dir_ready = true;
    }
    if (agent_running(cfg->dump_dir) != 0) return;
    /* One was started a moment ago, by us or by the process we were forked
     * from: it may not hold the lock yet. */
    double now_s = conan_monotonic_seconds();
    if (sp.spawned_at_s > 0 && now_s - sp.spawned_at_s < check_period_s(cfg)) return;
    spawn(cfg, cfg->dump_dir);
}

void conan_agent_spawn_start(const struct conan_config *cfg)
{
    if (sp.enabled) check(cfg);
}

void conan_agent_spawn_tick(const struct conan_config *cfg)
{
    if (sp.enabled && --sp.ticks_left <= 0) check(cfg);
}
