/* agent_exec.c — report.exec: a program of the user's run once per dump
 * (posix_spawn, no shell), given the event JSON (plus host and link, as the
 * json webhook posts it) on stdin and CONAN_DUMP, CONAN_KIND, CONAN_PID,
 * CONAN_APP (and CONAN_HOST, CONAN_LINK) in its environment. Its output goes
 * to the agent's log, a line at a time with a prefix, bounded. Exit status 0
 * means delivered; any other status, a signal or report.exec.timeout_s
 * passing (its whole process group is then killed) means try again later.
 * The program gets descriptors 0, 1 and 2 only (none of the agent's
 * sockets). It is always waited for: no zombies. A program that does not
 * read its stdin costs a failed write, never a SIGPIPE in the agent. */
#include "agent.h"
#include "event_text.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The program's output in the agent's log: lines of at most this many bytes,
 * at most this many lines per run (a chatty program cannot flood the log). */
#define EXEC_LINE_MAX 400
#define EXEC_LINES_MAX 20
/* How often the program's exit is looked for while its output stays open
 * (a background child of it may hold the pipe after it exits). */
#define EXEC_POLL_MS 50
/* Reads of its output (4 KiB each) between two looks at the clock. */
#define EXEC_READS_PER_TURN 16

struct exec_reporter {
    char command[CONAN_FILE_MAX];
    int timeout_s;
    char vars[6][PATH_MAX + 32]; /* CONAN_DUMP=... for the run under way (one at a time) */
};

/* The run of one program: its pipes, the output line being collected. */
struct run {
    pid_t pid;
    int in, out;              /* our ends: its stdin, its stdout+stderr; -1 when closed */
    const char *payload;
    size_t len, written;
    char line[EXEC_LINE_MAX + 1];
    size_t linelen;
    int lines;
    char last[EXEC_LINE_MAX + 1]; /* its last complete line, for the failure message */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the environment ---- */

static bool is_ours(const char *entry)
{
    static const char *const names[] = { "CONAN_DUMP=", "CONAN_KIND=", "CONAN_PID=", "CONAN_APP=",
                                         "CONAN_HOST=", "CONAN_LINK=", NULL };
    for (const char *const *n = names; *n; n++)
        if (strncmp(entry, *n, strlen(*n)) == 0) return true;
    return false;
}

/* environ without any CONAN_* of ours, then ours; strings in vars[]. */
static char **make_env(const struct agent_dump *d, char vars[6][PATH_MAX + 32])
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 7, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_ours(environ[i])) env[k++] = environ[i];
    int v = 0;
    snprintf(vars[v], sizeof vars[v], "CONAN_DUMP=%s", d->path);
    env[k++] = vars[v++];
    snprintf(vars[v], sizeof vars[v], "CONAN_KIND=%s", d->kind);
    env[k++] = vars[v++];
    snprintf(vars[v], sizeof vars[v], "CONAN_PID=%ld", d->pid);
    env[k++] = vars[v++];
    snprintf(vars[v], sizeof vars[v], "CONAN_APP=%s", d->app);
    env[k++] = vars[v++];
    snprintf(vars[v], sizeof vars[v], "CONAN_HOST=%s", d->host);
    env[k++] = vars[v++];
    if (d->link) {
        snprintf(vars[v], sizeof vars[v], "CONAN_LINK=%s", d->link);
        env[k++] = vars[v++];
    }
    env[k] = NULL;
    return env;
}

/* ---- starting it ---- */

/* Starts command with stdin and stdout+stderr on fresh pipes, in a process
 * group of its own, with default signal handling and no blocked signals. */
static int start(const char *command, char **env, struct run *run, char *why, size_t whylen)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        goto fail;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDERR_FILENO);
    /* Nothing else: the other reporters' libcurl sockets are not close-on-exec. */
    int rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = { (char *)command, NULL };
    if (rc == 0) rc = posix_spawn(&run->pid, command, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        snprintf(why, whylen, "cannot run %s: %s", command, strerror(rc));
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    run->in = in[1];
    run->out = out[0];
    fcntl(run->in, F_SETFL, O_NONBLOCK);
    fcntl(run->out, F_SETFL, O_NONBLOCK);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
    }
    return -1;
}

/* ---- feeding it, reading it ---- */

/* As much of the payload as the pipe takes now. SIGPIPE (the program closed
 * its stdin or is gone) is blocked in this thread for the write and then
 * taken off the thread's pending set, whatever the agent's disposition. */
static void feed(struct run *run)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n = write(run->in, run->payload + run->written, run->len - run->written);
    int err = errno;
    if (n < 0 && err == EPIPE) {
        static const struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (n > 0) run->written += (size_t)n;
    if ((n < 0 && err != EAGAIN && err != EINTR) || run->written == run->len) {
        close(run->in); /* all given, or it stopped reading: either way its stdin ends */
        run->in = -1;
    }
}

static void end_line(struct run *run, const char *name)
{
    if (run->linelen == 0) return;
    run->line[run->linelen] = '\0';
    snprintf(run->last, sizeof run->last, "%s", run->line);
    if (run->lines < EXEC_LINES_MAX) fprintf(stderr, "conan agent: %s: %s\n", name, run->line);
    else if (run->lines == EXEC_LINES_MAX) fprintf(stderr, "conan agent: %s: (more output not logged)\n", name);
    run->lines++;
    run->linelen = 0;
}

/* What the program wrote, a line at a time into the log, at most
 * EXEC_READS_PER_TURN reads (a program writing without a pause cannot keep
 * its timeout from being looked at); -1 at end of file. */
static int drain(struct run *run, const char *name)
{
    char buf[4096];
    for (int reads = 0; reads < EXEC_READS_PER_TURN; reads++) {
        ssize_t n = read(run->out, buf, sizeof buf);
        if (n == 0) return -1;
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        for (ssize_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)buf[i];
            if (c == '\n') end_line(run, name);
            else if (run->linelen < EXEC_LINE_MAX) run->line[run->linelen++] = c < 0x20 ? ' ' : (char)c;
        }
    }
    return 0;
}

/* ---- one run ---- */

/* Waits for the program, feeding and reading it, until it exits or the
 * deadline passes (then its process group is killed). Returns the wait
 * status, -1 when it cannot be had; *killed says whether the deadline did it. */
static int supervise(struct run *run, const char *name, double deadline, bool *killed)
{
    int status = 0;
    *killed = false;
    for (;;) {
        pid_t got = waitpid(run->pid, &status, WNOHANG);
        if (got == run->pid) break;
        if (got < 0 && errno != EINTR) {
            status = -1; /* ECHILD: SIGCHLD ignored by someone; its status is lost */
            break;
        }
        double left = deadline - now_s();
        if (left <= 0) {
            kill(-run->pid, SIGKILL);
            while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {}
            *killed = true;
            break;
        }
        struct pollfd fds[2];
        nfds_t n = 0;
        if (run->out >= 0) fds[n++] = (struct pollfd){ .fd = run->out, .events = POLLIN };
        if (run->in >= 0) fds[n++] = (struct pollfd){ .fd = run->in, .events = POLLOUT };
        int wait_ms = left * 1000 < EXEC_POLL_MS ? (int)(left * 1000) + 1 : EXEC_POLL_MS;
        if (poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
        if (run->in >= 0) feed(run);
        if (run->out >= 0 && drain(run, name) < 0) {
            close(run->out);
            run->out = -1;
        }
    }
    if (run->out >= 0) drain(run, name); /* what it wrote just before exiting */
    end_line(run, name);
    return status;
}

static void exec_send(struct agent_reporter *r, const struct agent_dump *d, struct agent_outcome *out)
{
    struct exec_reporter *x = r->impl;
    memset(out, 0, sizeof *out);
    out->result = AGENT_RETRY;
    char *payload = event_payload_json(d->event, d->host, d->link);
    char **env = payload ? make_env(d, x->vars) : NULL;
    struct run run = { .in = -1, .out = -1, .payload = payload, .len = payload ? strlen(payload) : 0 };
    char why[PATH_MAX + 64];
    if (!env) {
        snprintf(out->message, sizeof out->message, "exec: out of memory");
    } else if (start(x->command, env, &run, why, sizeof why) != 0) {
        snprintf(out->message, sizeof out->message, "exec: %.480s", why);
    } else {
        bool killed;
        int status = supervise(&run, r->name, now_s() + x->timeout_s, &killed);
        const char *said = run.last[0] ? run.last : "";
        if (status == -1) {
            snprintf(out->message, sizeof out->message, "exec: %s: its exit status is lost (%s)", x->command,
                     strerror(ECHILD));
        } else if (killed) {
            snprintf(out->message, sizeof out->message,
                     "exec: %s did not finish within report.exec.timeout_s (%d s): killed", x->command,
                     x->timeout_s);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            out->result = AGENT_SENT;
            snprintf(out->message, sizeof out->message, "exec: %s exited 0", x->command);
        } else if (WIFEXITED(status)) {
            snprintf(out->message, sizeof out->message, "exec: %s exited with status %d%s%.200s", x->command,
                     WEXITSTATUS(status), said[0] ? ": " : "", said);
        } else {
            snprintf(out->message, sizeof out->message, "exec: %s killed by signal %d (%s)", x->command,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        }
    }
    if (run.in >= 0) close(run.in);
    if (run.out >= 0) close(run.out);
    free(env);
    free(payload);
}

static void exec_destroy(struct agent_reporter *r)
{
    if (!r) return;
    free(r->impl);
    free(r);
}

/* A program that cannot be run is a mistake in the config: said at start. */
static int check_program(const char *command, char *err, size_t errlen)
{
    struct stat st;
    if (command[0] != '/') {
        snprintf(err, errlen, "report.exec.command: must be an absolute path, got \"%.64s\"", command);
        return -1;
    }
    if (stat(command, &st) != 0) {
        snprintf(err, errlen, "report.exec.command: %s: %s", command, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || access(command, X_OK) != 0) {
        snprintf(err, errlen, "report.exec.command: %s: not an executable file", command);
        return -1;
    }
    return 0;
}

struct agent_reporter *agent_exec_new(const struct conan_config *cfg, char *err, size_t errlen)
{
    const char *command = cfg->report.exec.command;
    if (check_program(command, err, errlen) != 0) return NULL;
    struct agent_reporter *r = calloc(1, sizeof *r);
    struct exec_reporter *x = calloc(1, sizeof *x);
    if (!r || !x) {
        snprintf(err, errlen, "report.exec: out of memory");
        free(r);
        free(x);
        return NULL;
    }
    snprintf(x->command, sizeof x->command, "%s", command);
    x->timeout_s = cfg->report.exec.timeout_s > 0 ? cfg->report.exec.timeout_s : 30;
    snprintf(r->id, sizeof r->id, "exec %s", command);
    snprintf(r->name, sizeof r->name, "exec");
    r->impl = x;
    r->send = exec_send;
    r->destroy = exec_destroy;
    return r;
}
