/* agent_spawn.c — the one process the shim ever starts: `conan agent
 * --spawned` for its dump directory, when report.spawn is on and a reporter
 * is configured. This file owns the lock-file check, finding the conan
 * program, and the double clone that starts it.
 *
 * One agent serves every process writing to a directory (a server's forked
 * workers included): the agent holds flock(LOCK_EX) on DIR/.conan-agent.lock
 * for its lifetime. The monitor thread looks at that lock now and then. Taken:
 * an agent runs, and the file's mtime is set to now, which the agent reads as
 * "a process used this directory at that time" (it leaves after
 * report.idle_exit_s without one). Free: none runs, and one is started. The
 * descriptor is held for the check only (and closed in a child forked
 * meanwhile: the fork hooks). Two unrelated processes finding the lock free
 * at the same moment both start one; the later agent finds the lock taken and
 * leaves silently. A process that started one does not start another for a
 * check period, nor do the children it forks meanwhile (they inherit the
 * time), so a server and its workers start one between them. An agent that
 * cannot start leaves "failed <unix time>" in the lock file: for
 * CONAN_AGENT_FAILED_BACKOFF_S no process starts another (one line, once).
 *
 * The host must not notice: no child to wait for, no SIGCHLD, no wait()
 * result, no atfork handler run, no descriptor left open, nothing of its
 * signal state changed, and no copy of its page tables (a fork of a process
 * with tens of GB resident copies them under its mmap lock, stalling every
 * page fault of its threads, then pays a copy-on-write fault per page it
 * writes). So the agent comes from a double clone, as glibc's posix_spawn
 * starts a program: C library clone() (not fork, so no atfork handler runs,
 * neither the program's nor libconan's, src/fork.c) with CLONE_VM |
 * CLONE_VFORK, each child on a stack mapped beforehand, the cloning thread
 * suspended until the child has exec'd or exited:
 *   - the intermediate is cloned with exit signal 0: the kernel sends no
 *     SIGCHLD for it, and wait(-1)/waitpid(-1) in the host never reports it
 *     (only __WCLONE or __WALL do); the monitor reaps it with
 *     waitpid(pid, __WCLONE). It calls setsid (the agent is in none of the
 *     host's process groups or sessions), clones the agent with SIGCHLD and
 *     exits as soon as the agent has exec'd, so the agent is reparented to
 *     init (or a subreaper).
 *   - the agent resets every signal's disposition and its mask, gets
 *     /dev/null as stdin and stdout and DIR/.conan-agent.log as stderr,
 *     closes every other descriptor, moves to / and execs.
 * Both run in the host's memory while its other threads go on, and may have
 * held any lock at the clone: they make raw system calls only, on paths, argv
 * and envp all prepared before the first clone, write nothing but their own
 * stacks (see CHILD_CODE), and start with every signal blocked, so no handler
 * of the host's runs in them. Neither shares the host's signal handlers,
 * descriptor table or working directory (no CLONE_SIGHAND, CLONE_FILES,
 * CLONE_FS): what the agent resets, closes or changes is its own.
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
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "clock.h"
#include "dump.h"
#include "fork.h"
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
    int no_program_once, reaper_once, lock_once, clone_once, env_once, failed_once;
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
    conan_fork_init();
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

/* ---- the double clone: raw system calls only from the first clone on ---- */

#define CHILD_STACK (64 * 1024) /* each child's: its frames and syscall()'s take well under 4 KiB */

typedef int clone_fn(int (*fn)(void *), void *stack, int flags, void *arg, ...);

/* glibc's clone, looked up in libc itself: a sanitizer's runtime preloaded
 * after us may interpose its own (libtsan's runs its fork bookkeeping in the
 * child, which with CLONE_VM would act on the host's sanitizer state). */
static clone_fn *libc_clone(void)
{
    static clone_fn *found;
    if (found) return found;
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc) {
        found = (clone_fn *)dlsym(libc, "clone");
        dlclose(libc); /* RTLD_NOLOAD: only the reference just taken */
    }
    if (!found) found = clone;
    return found;
}

/* Everything the intermediate and the agent need, made before cloning. */
struct plan {
    char program[PATH_MAX];
    char dir[PATH_MAX];
    char log[PATH_MAX + sizeof LOG_NAME + 1];
    char *argv[12];
    char **envp;
    int fd_limit;               /* close_range's fallback */
    int lock_fd;                /* the directory's lock, taken: handed to the agent as fd 3 */
    char *stacks;               /* 2 * CHILD_STACK, mmap'd: the intermediate's, then the agent's */
    clone_fn *clone;            /* the C library's own (libc_clone) */
};

/* The code of both children runs in the host's memory (CLONE_VM), on a stack
 * of its own but with the monitor thread's thread pointer, while the monitor
 * thread (CLONE_VFORK) and then the intermediate are suspended. It writes to
 * nothing but its own stack, with one exception: glibc's syscall() sets errno
 * on failure, which is the monitor thread's (same TLS); harmless, as that
 * thread is suspended until the agent has exec'd or exited and reads errno
 * afterwards only when the clone itself failed. No sanitizer instrumentation:
 * it would write shadow memory and per-thread state that are the host's. */
#define CHILD_CODE __attribute__((noinline, no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))

CHILD_CODE static __attribute__((noreturn)) void raw_exit(int status)
{
    for (;;) syscall(SYS_exit, status); /* each child is a process of one thread */
}

/* fd moved (as a copy) to HIGH_FD or above, out of the way of 0, 1, 2. */
CHILD_CODE static int raw_open_high(const char *path, int flags, mode_t mode)
{
    long fd = syscall(SYS_openat, AT_FDCWD, path, flags, mode);
    if (fd < 0) return -1;
    long high = syscall(SYS_fcntl, fd, F_DUPFD, HIGH_FD);
    syscall(SYS_close, fd);
    return (int)high;
}

CHILD_CODE static void raw_close_from(int first, int limit)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
    for (int fd = first; fd < limit; fd++) syscall(SYS_close, fd);
}

/* The agent, between the second clone and execve. Cloned without
 * CLONE_SIGHAND, CLONE_FILES or CLONE_FS, it has its own copies of the signal
 * handler table, the descriptor table and the working directory: resetting,
 * closing and chdir here change nothing of the host's. Every signal is still
 * blocked (spawn), so no host handler ran in it before the reset. */
CHILD_CODE static int agent_child(void *arg)
{
    const struct plan *p = arg;
    unsigned long dfl[8] = { 0 }; /* the kernel's struct sigaction: SIG_DFL (0), no flags, empty mask */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, dfl, NULL, (NSIG - 1) / 8);
    unsigned long none[2] = { 0, 0 };
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, none, NULL, (NSIG - 1) / 8);
    /* The lock first, out of the way of 0-2 (a host may have closed them). */
    long lock = syscall(SYS_fcntl, p->lock_fd, F_DUPFD, HIGH_FD);
    if (lock < 0) raw_exit(126);
    int null = raw_open_high("/dev/null", O_RDWR, 0);
    int log_fd = raw_open_high(p->log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600);
    if (null < 0) raw_exit(126);
    syscall(SYS_dup3, null, 0, 0);
    syscall(SYS_dup3, null, 1, 0);
    syscall(SYS_dup3, log_fd >= 0 ? log_fd : null, 2, 0);
    syscall(SYS_dup3, lock, 3, 0);
    raw_close_from(4, p->fd_limit);
    syscall(SYS_chdir, "/");
    syscall(SYS_execve, p->program, p->argv, p->envp);
    raw_exit(127);
}

/* The intermediate: a session of its own, the agent, and gone. CLONE_VFORK
 * keeps it until the agent has exec'd (or exited), so the plan and the
 * stacks are no longer in use when the monitor thread resumes. */
CHILD_CODE static int intermediate_child(void *arg)
{
    struct plan *p = arg;
    syscall(SYS_setsid);
    long pid = p->clone(agent_child, p->stacks + 2 * CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, p);
    raw_exit(pid < 0 ? 1 : 0);
}

/* Clones the intermediate (exit signal 0: no SIGCHLD, invisible to wait(-1))
 * with every signal blocked, so that none of the host's handlers runs in a
 * child, on the host's memory and stack-sized mappings; its exit status, or
 * -1 with errno set. The monitor thread's mask is restored afterwards. */
static int clone_intermediate(struct plan *p)
{
    unsigned long all[2] = { ~0UL, ~0UL }, old[2];
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, all, old, (NSIG - 1) / 8) != 0) return -1;
    long pid = p->clone(intermediate_child, p->stacks + CHILD_STACK, CLONE_VM | CLONE_VFORK, p);
    int err = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, (NSIG - 1) / 8);
    if (pid < 0) {
        errno = err;
        return -1;
    }
    /* waitpid may find it reaped already by a program waiting with __WALL */
    int status = 0;
    if (waitpid((pid_t)pid, &status, __WCLONE) == (pid_t)pid && WIFEXITED(status)) return WEXITSTATUS(status);
    return 0;
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
    p->argv[n++] = (char *)"--lock-fd";
    p->argv[n++] = (char *)"3";
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

/* Starts the agent with the directory's lock, which this process holds on
 * lock_fd: the agent inherits it (a flock belongs to the open file, which the
 * agent shares), so the lock is never free between this check and the
 * agent's start, and no other process can start a second agent meanwhile. */
static void spawn(const struct conan_config *cfg, const char *dir, int lock_fd)
{
    if (would_be_our_child()) return;
    struct plan *p = malloc(sizeof *p);
    if (!p) return;
    p->lock_fd = lock_fd;
    p->clone = libc_clone();
    p->stacks = mmap(NULL, 2 * CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p->stacks == MAP_FAILED) {
        conan_log_once(&sp.clone_once, "cannot start the conan agent: mmap of its stacks: %s", strerror(errno));
    } else if (make_plan(cfg, dir, p)) {
        int status = clone_intermediate(p);
        if (status < 0)
            conan_log_once(&sp.clone_once, "cannot start the conan agent: clone: %s", strerror(errno));
        else if (status != 0)
            conan_log_once(&sp.clone_once, "cannot start the conan agent: its second clone failed");
        sp.spawned_at_s = conan_monotonic_seconds();
    }
    if (p->stacks != MAP_FAILED) munmap(p->stacks, 2 * CHILD_STACK);
    free(p);
}

/* ---- the check ---- */

static double check_period_s(const struct conan_config *cfg)
{
    double s = cfg->report.idle_exit_s / 2.0;
    return s < CHECK_MAX_S ? s : CHECK_MAX_S;
}

/* The check's descriptor, for a child forked while it is open: the child
 * gets a copy of the open file, and with it the flock (which belongs to the
 * open file), so a long-lived child (a server's worker) would keep the lock
 * held after the agent has gone, and no agent would start again. The
 * postfork-child hook closes it. A descriptor is recorded only once open, so
 * a fork between the open and the record is seen by the count of forks begun
 * (prefork hook): then the check takes no lock and waits for the next one. */
static struct {
    struct conan_own_fd fd;
    bool open;           /* fd is the check's; atomic */
    unsigned long forks; /* forks begun; atomic */
} held;

void conan_agent_spawn_prefork(void) { __atomic_add_fetch(&held.forks, 1, __ATOMIC_SEQ_CST); }

void conan_agent_spawn_postfork_child(void)
{
    if (!__atomic_load_n(&held.open, __ATOMIC_SEQ_CST)) return;
    conan_own_close(&held.fd);
    __atomic_store_n(&held.open, false, __ATOMIC_SEQ_CST);
}

/* Closed before it is forgotten: a child forked in between closes it too. */
static void hold_close(void)
{
    conan_own_close(&held.fd);
    __atomic_store_n(&held.open, false, __ATOMIC_SEQ_CST);
}

/* Opens the lock file and records the descriptor; false if it cannot be
 * opened (errno set) or if a fork began meanwhile (errno 0: closed again). */
static bool hold_open(const char *path)
{
    unsigned long forks = __atomic_load_n(&held.forks, __ATOMIC_SEQ_CST);
    struct conan_own_fd fd;
    if (!conan_own_open(&fd, path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600)) return false;
    held.fd = fd;
    __atomic_store_n(&held.open, true, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&held.forks, __ATOMIC_SEQ_CST) == forks) return true;
    hold_close(); /* the child may have it too, but unlocked */
    errno = 0;
    return false;
}

/* Whether the lock file (free, so no agent writes it) says an agent failed at
 * start less than FAILED_BACKOFF_S ago: "failed <unix time>", written by the
 * agent as it gave up (cli/agent.c). Then none is started: it would fail the
 * same way, each check, in every process, appending to its log each time. */
static bool failed_recently(const char *dir, int fd)
{
    char text[64];
    long long at;
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0) return false;
    text[n] = '\0';
    if (sscanf(text, "failed %lld", &at) != 1) return false;
    double age = conan_wall_seconds() - (double)at;
    if (age <= -CONAN_AGENT_FAILED_BACKOFF_S || age >= CONAN_AGENT_FAILED_BACKOFF_S)
        return false; /* or the clock moved */
    conan_log_once(&sp.failed_once,
                   "the conan agent for %s failed at start %.0f s ago (%s/%s says why); "
                   "none is started for %d min after that",
                   dir, age > 0 ? age : 0, dir, LOG_NAME, CONAN_AGENT_FAILED_BACKOFF_S / 60);
    return true;
}

/* The lock file: taken means an agent runs (and the directory is marked in
 * use now); free means none does, and then an agent is started with it,
 * unless one was started a moment ago or failed at start recently. */
static void check_lock(const struct conan_config *cfg, const char *dir)
{
    char path[PATH_MAX + sizeof LOCK_NAME + 1];
    if (!conan_format(path, sizeof path, "%s/%s", dir, LOCK_NAME)) return;
    if (!hold_open(path)) {
        if (errno == ENOENT) sp.dir_ready = false; /* the directory went away */
        else if (errno != 0)
            conan_log_once(&sp.lock_once, "%s: cannot open: %s; no conan agent started", path, strerror(errno));
        return;
    }
    int fd = held.fd.fd;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* One was started a moment ago, by us or by the process we were
         * forked from, and has not taken the lock yet (or failed to start). */
        double now_s = conan_monotonic_seconds();
        bool recently = sp.spawned_at_s > 0 && now_s - sp.spawned_at_s < check_period_s(cfg);
        if (conan_own_still(&held.fd) && !recently && !failed_recently(dir, fd)) spawn(cfg, dir, fd);
        /* Closing releases the lock unless the agent shares it: never
         * LOCK_UN, which would release the agent's too (same open file). */
    } else if (errno == EWOULDBLOCK) {
        if (conan_own_still(&held.fd)) futimens(fd, NULL);
    }
    hold_close();
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
    check_lock(cfg, cfg->dump_dir);
}

void conan_agent_spawn_start(const struct conan_config *cfg)
{
    if (sp.enabled) check(cfg);
}

void conan_agent_spawn_tick(const struct conan_config *cfg)
{
    if (sp.enabled && --sp.ticks_left <= 0) check(cfg);
}
