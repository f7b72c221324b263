/* trigger.c — conan trigger: asks running processes for profiles now. For
 * each process it checks that libconan watches it (its maps, its monitor
 * thread), finds its dump_dir with the engine's config loader (the process's
 * CONAN_CONFIG, read from /proc/PID/environ, in the process's own view of the
 * file system), writes <dump_dir>/conan.trigger.<pid> atomically — the
 * request the monitor reads at its next tick (decide.c) — and then waits for
 * the process's new "manual" lines in events.jsonl, printing each profile's
 * path as it comes. The asking and the waiting are trigger.h's, shared with
 * the agent's pull endpoint. */
#include "conan.h"
#include "config.h"
#include "decide.h"
#include "kinds.h"
#include "trigger.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MARGIN_S 5        /* beyond the tick, an open window and the profile itself */
#define POLL_MS 100            /* how often events.jsonl is read while waiting */
#define ENVIRON_MAX (4 << 20)  /* the most of /proc/PID/environ read */
#define EVENT_LINE_MAX 65536   /* event lines are one profile's story: long timelines stay below this */
#define ALL_KINDS (CONAN_WANTS_CPU | CONAN_WANTS_HEAP | CONAN_WANTS_THREADS | CONAN_WANTS_MUTEX)

static const char help[] =
    "usage: conan trigger PID... [--kinds cpu,heap,threads] [--seconds N] [--wait S] [--config FILE]\n"
    "\n"
    "Asks running processes under libconan for profiles now (as the file\n"
    "<dump_dir>/conan.trigger.<pid> does), waits for them and prints each\n"
    "profile's path, one per line.\n"
    "\n"
    "  --kinds K,...  the kinds to take: cpu (with wall.enable, its wall profile too;\n"
    "                 wall names the same), heap, threads (the thread profiles), mutex;\n"
    "                 default: every kind the process has enabled\n"
    "  --seconds N    length of the CPU profile, 1 to 3600 (default: the process's\n"
    "                 cpu.profile_seconds)\n"
    "  --wait S       how long to wait for the profiles (default: the process's tick,\n"
    "                 a CPU window that may be open, the CPU profile and 5 s)\n"
    "  --config FILE  the processes' config, when their environment no longer names\n"
    "                 it (redis and nginx rewrite it for their process titles)\n"
    "\n"
    "A request counts toward the process's limits.max_dumps_per_hour.\n"
    "Exit status: 0 every process delivered every kind asked for; 1 otherwise (each\n"
    "problem is one line on stderr); 2 usage error.\n";

/* A problem of t's, to its sink. */
static void say(const struct trigger_target *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct trigger_target *t, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    t->sink.problem(t->sink.arg, t->pid, what);
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the process: alive, under libconan, watched ---- */

/* A field of /proc/PID/status ("Tgid", "State", "Uid"), after its tab; "" when
 * missing. */
static void status_field(pid_t pid, const char *name, char *out, size_t len)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            snprintf(out, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    if (f) fclose(f);
}

static int check_alive(const struct trigger_target *t)
{
    pid_t pid = t->pid;
    char path[64], tgid[32], state[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    struct stat st;
    if (stat(path, &st) != 0) {
        say(t, "no such process");
        return -1;
    }
    status_field(pid, "Tgid", tgid, sizeof tgid);
    if (tgid[0] && atoi(tgid) != pid) {
        say(t, "a thread of process %s, not a process", tgid);
        return -1;
    }
    status_field(pid, "State", state, sizeof state);
    if (state[0] == 'Z' || state[0] == 'X') {
        say(t, "no such process (it has exited)");
        return -1;
    }
    return 0;
}

/* Is libconan mapped (any libconan*.so*: the plain, packaged or sanitized shim)? */
static int check_shim(const struct trigger_target *t)
{
    pid_t pid = t->pid;
    char path[64], line[PATH_MAX + 256];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        say(t, "not allowed: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        const char *name = strrchr(line, '/');
        found = name && strncmp(name + 1, "libconan", 8) == 0 && strstr(name, ".so");
    }
    fclose(f);
    if (!found) say(t, "not under libconan (no libconan in %s); start it with conan run", path);
    return found ? 0 : -1;
}

/* libconan is loaded but may be inert (mode off, not in `only`, a config it
 * refused): then it has no conan-monitor thread, and no one reads requests. */
static int check_monitor(const struct trigger_target *t)
{
    pid_t pid = t->pid;
    char path[64], comm[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    bool found = false;
    for (struct dirent *d; dir && !found && (d = readdir(dir));) {
        if (d->d_name[0] == '.') continue;
        snprintf(comm, sizeof comm, "%s/%s/comm", path, d->d_name);
        FILE *f = fopen(comm, "re");
        char name[32] = "";
        if (f && fgets(name, sizeof name, f)) found = strcmp(name, "conan-monitor\n") == 0;
        if (f) fclose(f);
    }
    if (dir) closedir(dir);
    if (!found)
        say(t, "libconan is loaded but inert (no conan-monitor thread: mode off, a program its config's only "
                 "list leaves out, or a config it refused, as its stderr says)");
    return found ? 0 : -1;
}

/* ---- its config, as it sees it ---- */

/* "" when the process sees the file system as we do, else /proc/PID/root
 * (another mount namespace, a chroot). */
static void file_system_root(struct trigger_target *t)
{
    char ours[64] = "", theirs[64] = "", root[PATH_MAX] = "", path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)t->pid);
    ssize_t a = readlink("/proc/self/ns/mnt", ours, sizeof ours - 1);
    ssize_t b = readlink(path, theirs, sizeof theirs - 1);
    snprintf(path, sizeof path, "/proc/%d/root", (int)t->pid);
    ssize_t c = readlink(path, root, sizeof root - 1);
    bool same = a > 0 && a == b && memcmp(ours, theirs, (size_t)a) == 0 && c == 1 && root[0] == '/';
    snprintf(t->root, sizeof t->root, "%s", same ? "" : path);
}

/* The value of CONAN_CONFIG in the process's environment (as it started),
 * into out ("" when unset), and whether LD_PRELOAD is there; -1 when the
 * environment cannot be read. */
static int environ_config(const struct trigger_target *t, char *out, size_t len, bool *has_preload)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)t->pid);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *env = fd >= 0 ? malloc(ENVIRON_MAX + 1) : NULL;
    ssize_t n = 0, got = 0;
    while (env && got < ENVIRON_MAX && (n = read(fd, env + got, ENVIRON_MAX - got)) > 0) got += n;
    int err = fd < 0 ? errno : n < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    if (err || (fd >= 0 && !env)) {
        say(t, "not allowed: cannot read %s: %s", path, err ? strerror(err) : "out of memory");
        free(env);
        return -1;
    }
    env[got] = '\0';
    *has_preload = false;
    for (char *var = env; var < env + got; var += strlen(var) + 1) {
        if (strncmp(var, "CONAN_CONFIG=", 13) == 0) snprintf(out, len, "%s", var + 13);
        if (strncmp(var, "LD_PRELOAD=", 11) == 0) *has_preload = true;
    }
    free(env);
    return 0;
}

/* Whether the system-wide preload (/etc/ld.so.preload, in the process's view)
 * names libconan: then neither LD_PRELOAD nor CONAN_CONFIG need be set. */
static bool system_preload(const struct trigger_target *t)
{
    char path[PATH_MAX], line[PATH_MAX];
    snprintf(path, sizeof path, "%s/etc/ld.so.preload", t->root);
    FILE *f = fopen(path, "re");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) found = strstr(line, "libconan") != NULL;
    if (f) fclose(f);
    return found;
}

/* The process's config, read by the engine's loader: its CONAN_CONFIG (a
 * relative path is from its working directory), else the system config when
 * there is one, else the defaults. */
static int load_config(struct trigger_target *t, const char *given, struct conan_config *cfg)
{
    char value[PATH_MAX], path[2 * PATH_MAX], err[1024], system[PATH_MAX + 64];
    bool has_preload = false;
    conan_config_defaults(cfg);
    if (given) {
        if (conan_config_load(given, cfg, err, sizeof err) == 0) return 0;
        say(t, "--config: %s", err);
        return -1;
    }
    if (environ_config(t, value, sizeof value, &has_preload) != 0) return -1;
    /* libconan is loaded, yet the environment has neither variable: the
     * program wrote over it (a process title), and with it CONAN_CONFIG. */
    if (!value[0] && !has_preload && !system_preload(t)) {
        say(t, "its environment was rewritten (as redis and nginx do for their process titles), so its "
                    "CONAN_CONFIG cannot be read: give its config with --config FILE");
        return -1;
    }
    snprintf(system, sizeof system, "%s%s", t->root, CONAN_SYSTEM_CONFIG);
    if (value[0] == '/')
        snprintf(path, sizeof path, "%s%s", t->root, value);
    else if (value[0])
        snprintf(path, sizeof path, "/proc/%d/cwd/%s", (int)t->pid, value);
    else if (access(system, F_OK) == 0)
        snprintf(path, sizeof path, "%s", system);
    else
        return 0;
    if (conan_config_load(path, cfg, err, sizeof err) == 0) return 0;
    say(t, "cannot read its config: %s", err);
    return -1;
}

/* ---- the kinds: asked for, enabled, waited for ---- */

static const struct {
    unsigned wants;
    enum conan_kind kind;
} kinds[] = {
    { CONAN_WANTS_CPU, CONAN_KIND_CPU },
    { CONAN_WANTS_HEAP, CONAN_KIND_HEAP },
    { CONAN_WANTS_THREADS, CONAN_KIND_THREADS },
    { CONAN_WANTS_MUTEX, CONAN_KIND_MUTEX },
};
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

/* Why a kind is off in cfg, or NULL when it is on. */
static const char *kind_off(const struct conan_config *cfg, unsigned wants)
{
    if (wants == CONAN_WANTS_CPU && !cfg->cpu.rule.enable) return "cpu.enable is false";
    if (wants == CONAN_WANTS_HEAP && cfg->heap.sample_bytes == 0) return "heap.sample_bytes is 0";
    if (wants == CONAN_WANTS_THREADS && !cfg->threads.rule.enable) return "threads.enable is false";
    if (wants == CONAN_WANTS_MUTEX && !cfg->mutex.enable) return "mutex.enable is false";
    return NULL;
}

/* The kinds to wait for: those asked for that the process has on. One it has
 * off is said; asked for by name, it is a failure. */
static unsigned wanted_kinds(const struct trigger_target *t, const struct conan_config *cfg, unsigned asked, bool *failed)
{
    unsigned want = 0;
    for (int i = 0; i < NKINDS; i++) {
        if (!((asked ? asked : ALL_KINDS) & kinds[i].wants)) continue;
        const char *off = kind_off(cfg, kinds[i].wants);
        if (!off) {
            want |= kinds[i].wants;
            continue;
        }
        say(t, "%s: disabled in this process (%s)%s", conan_kind_name(kinds[i].kind), off,
            asked ? "" : "; not asked for");
        if (asked) *failed = true;
    }
    return want;
}

/* ---- the request ---- */

/* The trigger file's content (decide.c's format): empty asks for the defaults. */
static void request_text(const struct trigger_options *o, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    if (!o->kinds && !o->seconds) return;
    used += (size_t)snprintf(out + used, len - used, "{");
    if (o->kinds) {
        used += (size_t)snprintf(out + used, len - used, "\"kinds\":[");
        for (int i = 0, n = 0; i < NKINDS; i++)
            if (o->kinds & kinds[i].wants)
                used += (size_t)snprintf(out + used, len - used, "%s\"%s\"", n++ ? "," : "",
                                         conan_kind_name(kinds[i].kind));
        used += (size_t)snprintf(out + used, len - used, "]");
    }
    if (o->seconds) used += (size_t)snprintf(out + used, len - used, "%s\"seconds\":%d", o->kinds ? "," : "", o->seconds);
    snprintf(out + used, len - used, "}\n");
}

/* The process's uid and gid (effective), from its status. */
static void process_owner(pid_t pid, uid_t *uid, gid_t *gid)
{
    char field[128];
    status_field(pid, "Uid", field, sizeof field);
    *uid = (uid_t)strtoul(field + strcspn(field, " \t"), NULL, 10);
    status_field(pid, "Gid", field, sizeof field);
    *gid = (gid_t)strtoul(field + strcspn(field, " \t"), NULL, 10);
}

/* dump_dir as the shim would make it (mode 0700), and the process's when we
 * are root: the shim refuses a directory another user owns or cannot write. */
static int make_dump_dir(const struct trigger_target *t, const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) == 0 || errno != ENOENT) return 0; /* there (the shim judges it) */
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        say(t, "not allowed: cannot create its dump_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    uid_t uid;
    gid_t gid;
    process_owner(t->pid, &uid, &gid);
    if (geteuid() != 0 || uid == 0) return 0;
    /* The directory just made, never what a symbolic link put in its place
     * since would point at: opened without following, then fchown. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = fd >= 0 ? fchown(fd, uid, gid) : -1;
    int err = errno;
    if (fd >= 0) close(fd);
    if (rc != 0) {
        say(t, "cannot give its dump_dir %s to uid %u: %s", dir, (unsigned)uid, strerror(err));
        return -1;
    }
    return 0;
}

/* Writes <dump_dir>/conan.trigger.<pid> atomically: a hidden temporary name in
 * the same directory, then a rename, so the monitor never reads half of it.
 * Readable by all (the process may be another user's when we are root). */
static int write_trigger(struct trigger_target *t, const char *text)
{
    char dir[PATH_MAX + 64], temp[2 * PATH_MAX], final[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s", t->root, t->dump_dir);
    if (make_dump_dir(t, dir) != 0) return -1;
    /* A new file of our own (O_EXCL, by mkostemp): the directory may belong to
     * the process's user, who could have planted a link under a name known in
     * advance for root to write through. */
    snprintf(temp, sizeof temp, "%s/.conan.trigger.%d.XXXXXX", dir, (int)t->pid);
    snprintf(final, sizeof final, "%s/conan.trigger.%d", dir, (int)t->pid);
    uid_t uid;
    gid_t gid;
    process_owner(t->pid, &uid, &gid);
    bool give = geteuid() == 0 && uid != 0; /* the process must be able to read it */
    size_t len = strlen(text);
    int fd = mkostemp(temp, O_CLOEXEC);
    bool written = fd >= 0 && fchmod(fd, 0644) == 0 && write(fd, text, len) == (ssize_t)len &&
                   (!give || fchown(fd, uid, gid) == 0);
    int err = errno;
    if (fd >= 0 && close(fd) != 0 && written) {
        written = false;
        err = errno;
    }
    t->asked_ms = wall_ms();
    bool renamed = written && rename(temp, final) == 0;
    if (renamed) return 0;
    if (written) err = errno;
    say(t, "not allowed: cannot write %s: %s", written ? final : temp, strerror(err));
    if (fd >= 0) unlink(temp);
    return -1;
}

/* Bytes of events.jsonl already there: only lines after them can answer. */
static off_t events_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

int trigger_resolve(struct trigger_target *t, const char *config, struct conan_config *cfg)
{
    if (check_alive(t) || check_shim(t) || check_monitor(t)) return -1;
    file_system_root(t);
    if (load_config(t, config, cfg) != 0) return -1;
    snprintf(t->dump_dir, sizeof t->dump_dir, "%s", cfg->dump_dir);
    return 0;
}

/* The request of a resolved target with its config. */
static int ask(struct trigger_target *t, const struct trigger_options *o, const struct conan_config *cfg)
{
    bool disabled_asked = false;
    t->want = wanted_kinds(t, cfg, o->kinds, &disabled_asked);
    t->wall_expected = cfg->wall.enable;
    if (!t->want) {
        if (!disabled_asked) say(t, "every kind is disabled in this process; nothing to ask for");
        return -1;
    }
    snprintf(t->events, sizeof t->events, "%s%s/events.jsonl", t->root, cfg->dump_dir);
    t->events_read = events_size(t->events);
    char text[CONAN_TRIGGER_FILE_MAX];
    request_text(o, text, sizeof text);
    if (write_trigger(t, text) != 0) return -1;
    int seconds = o->seconds ? o->seconds : cfg->cpu.profile_seconds;
    double wait_s = o->wait_s >= 0 ? (double)o->wait_s
                                   : cfg->interval_ms / 1000.0 + cfg->cpu.profile_seconds +
                                         ((t->want & CONAN_WANTS_CPU) ? seconds : 0) + WAIT_MARGIN_S;
    t->deadline_s = monotonic_s() + wait_s;
    t->ok = !disabled_asked;
    return 0;
}

int trigger_request(struct trigger_target *t, const struct trigger_options *o)
{
    struct conan_config *cfg = malloc(sizeof *cfg); /* large: never on a thread's stack */
    if (!cfg) {
        say(t, "out of memory");
        return -1;
    }
    int rc = trigger_resolve(t, o->config, cfg) == 0 ? ask(t, o, cfg) : -1;
    free(cfg);
    return rc;
}

/* ---- the answer: the process's new manual events ---- */

/* An event's "time" (2024-05-01T10:20:30.123Z) in ms since the epoch; -1 if not one. */
static long long event_ms(const char *when)
{
    struct tm tm = { 0 };
    int ms = 0;
    const char *rest = when ? strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest || sscanf(rest, ".%3dZ", &ms) != 1) return -1;
    return (long long)timegm(&tm) * 1000 + ms;
}

static unsigned wants_of(const char *kind)
{
    if (strcmp(kind, "cpu") == 0 || strcmp(kind, "wall") == 0) return CONAN_WANTS_CPU; /* one window, both */
    if (strcmp(kind, "heap") == 0) return CONAN_WANTS_HEAP;
    if (strcmp(kind, "threads") == 0 || strcmp(kind, "threadcreate") == 0) return CONAN_WANTS_THREADS;
    if (strcmp(kind, "mutex") == 0) return CONAN_WANTS_MUTEX;
    return 0;
}

/* One event: the process's, a manual one, written since the request, of a
 * kind still awaited. Its file is printed; an error fails the kind. */
static void take_event(struct trigger_target *t, const cJSON *e)
{
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(e, "pid");
    const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "reason"));
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "kind"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "file"));
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error"));
    const char *note = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "note"));
    if (!cJSON_IsNumber(pid) || pid->valuedouble != t->pid || !reason || strcmp(reason, "manual") != 0 || !kind)
        return;
    unsigned wants = wants_of(kind);
    if (!(wants & t->want & ~(t->delivered | t->failed))) return;
    if (event_ms(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "time"))) < t->asked_ms) return;
    bool threadcreate = strcmp(kind, "threadcreate") == 0, wall = strcmp(kind, "wall") == 0;
    if (wants == CONAN_WANTS_THREADS && (threadcreate ? t->threadcreate_seen : t->threads_seen)) return;
    if (wants == CONAN_WANTS_CPU && (wall ? t->wall_seen : t->cpu_seen)) return;
    if (error) {
        say(t, "%s: %s", kind, error);
        t->failed |= wants;
        return;
    }
    if (file && file[0]) t->sink.profile(t->sink.arg, t->pid, kind, file);
    else if (note) say(t, "%s: %s", kind, note);
    if (wants == CONAN_WANTS_THREADS) {
        *(threadcreate ? &t->threadcreate_seen : &t->threads_seen) = true;
        if (!(t->threadcreate_seen && t->threads_seen)) return;
    }
    /* A window (its cpu event names its timer: thread or process) writes its
     * CPU profile, then its wall profile (wall.enable); the flight
     * recorder's profile alone (timer recorder: no window) has none. */
    const char *timer = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "timer"));
    bool window = wall || (timer && (strcmp(timer, "thread") == 0 || strcmp(timer, "process") == 0));
    if (wants == CONAN_WANTS_CPU && t->wall_expected && window) {
        *(wall ? &t->wall_seen : &t->cpu_seen) = true;
        if (!(t->cpu_seen && t->wall_seen)) return;
    }
    t->delivered |= wants;
}

/* Reads the complete lines added to events.jsonl since the last look. */
static void read_events(struct trigger_target *t)
{
    int fd = open(t->events, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    if (st.st_size < t->events_read) t->events_read = 0; /* replaced: start over (times still filter) */
    char *line = malloc(EVENT_LINE_MAX + 1);
    FILE *f = line ? fdopen(fd, "r") : NULL;
    if (!f) {
        free(line);
        close(fd);
        return;
    }
    fseeko(f, t->events_read, SEEK_SET);
    while (fgets(line, EVENT_LINE_MAX + 1, f)) {
        size_t n = strlen(line);
        if (line[n - 1] != '\n') {
            if (n == EVENT_LINE_MAX) { /* longer than any event of ours: skip it whole */
                t->events_read += (off_t)n;
                continue;
            }
            break; /* being written: read it whole next time */
        }
        t->events_read += (off_t)n;
        cJSON *e = cJSON_Parse(line);
        if (cJSON_IsObject(e)) take_event(t, e);
        cJSON_Delete(e);
    }
    fclose(f);
    free(line);
}

/* The kinds not delivered, said, when the wait ends or the process did. */
static void give_up(struct trigger_target *t, const char *why)
{
    for (int i = 0; i < NKINDS; i++)
        if (t->want & kinds[i].wants & ~(t->delivered | t->failed))
            say(t, "%s: %s", conan_kind_name(kinds[i].kind), why);
}

bool trigger_wait_dump(struct trigger_target *targets, int n)
{
    for (int left = n; left > 0;) {
        left = 0;
        for (int i = 0; i < n; i++) {
            struct trigger_target *t = &targets[i];
            if (t->finished) continue;
            read_events(t);
            bool gone = kill(t->pid, 0) != 0 && errno == ESRCH;
            if (gone) read_events(t); /* what it wrote on its way out */
            bool complete = (t->delivered | t->failed) == t->want;
            if (!complete && gone) give_up(t, "not delivered: the process exited");
            else if (!complete && t->sink.cancelled && t->sink.cancelled(t->sink.arg))
                give_up(t, "not delivered: the wait was cancelled");
            else if (!complete && monotonic_s() >= t->deadline_s)
                give_up(t, "not delivered in time (a spent limits.max_dumps_per_hour, or an unusable dump_dir, "
                           "is said on the process's stderr; --wait waits longer)");
            else if (!complete) {
                left++;
                continue;
            }
            t->finished = true;
            t->ok = t->ok && t->delivered == t->want;
        }
        if (left) nanosleep(&(struct timespec){ 0, POLL_MS * 1000000L }, NULL);
    }
    bool ok = true;
    for (int i = 0; i < n; i++) ok = ok && targets[i].ok;
    return ok;
}

/* ---- options ---- */

static int parse_kinds(const char *list, unsigned *out)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    *out = 0;
    char *save = NULL;
    for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        unsigned wants = strcmp(k, "threadcreate") == 0 ? 0 : wants_of(k); /* wall: cpu's window */
        if (!wants) return cli_usage_error("trigger", "--kinds: \"%s\" is not one of cpu, heap, threads, mutex", k);
        *out |= wants;
    }
    return *out ? 0 : cli_usage_error("trigger", "--kinds: name at least one of cpu, heap, threads, mutex");
}

static int parse_options(int argc, char **argv, struct trigger_options *o)
{
    static const struct option options[] = {
        { "kinds", required_argument, NULL, 'k' }, { "seconds", required_argument, NULL, 's' },
        { "wait", required_argument, NULL, 'w' },  { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        long v;
        switch (c) {
        case 'k':
            if (parse_kinds(optarg, &o->kinds) != 0) return EXIT_USAGE;
            break;
        case 's':
            if ((v = cli_parse_count("trigger", "--seconds", optarg, CONAN_REQUEST_SECONDS_MAX)) < 0) return EXIT_USAGE;
            if (v == 0) return cli_usage_error("trigger", "--seconds 0: a CPU profile lasts at least 1 s");
            o->seconds = (int)v;
            break;
        case 'w':
            if ((o->wait_s = cli_parse_count("trigger", "--wait", optarg, 86400)) < 0) return EXIT_USAGE;
            break;
        case 'c': o->config = optarg; break;
        case 'h': cli_help(help); return -1;
        default: return cli_usage_error("trigger", "unknown option");
        }
    }
    if (o->seconds && o->kinds && !(o->kinds & CONAN_WANTS_CPU))
        return cli_usage_error("trigger", "--seconds is the CPU profile's length, and --kinds has no cpu");
    if (optind >= argc) return cli_usage_error("trigger", "expected one or more process ids");
    return 0;
}

/* conan trigger's sink: problems on stderr, paths on stdout. */
static void print_problem(void *arg, pid_t pid, const char *message)
{
    (void)arg;
    cli_command_error("trigger", "%d: %s", (int)pid, message);
}

static void print_profile(void *arg, pid_t pid, const char *kind, const char *path)
{
    (void)arg, (void)pid, (void)kind;
    printf("%s\n", path);
    fflush(stdout);
}

static pid_t parse_pid(const char *arg)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    return errno || end == arg || *end || v <= 0 || v > INT_MAX ? -1 : (pid_t)v;
}

int cmd_trigger(int argc, char **argv)
{
    struct trigger_options o = { .wait_s = -1 };
    int rc = parse_options(argc, argv, &o);
    if (rc != 0) return rc < 0 ? EXIT_OK : rc;
    int n = argc > optind ? argc - optind : 0;
    for (int i = 0; i < n; i++)
        if (parse_pid(argv[optind + i]) < 0)
            return cli_usage_error("trigger", "%s: not a process id", argv[optind + i]);
    struct trigger_target *targets = calloc((size_t)n + 1, sizeof *targets);
    if (!targets) {
        cli_command_error("trigger", "out of memory");
        return EXIT_FAIL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        targets[i].pid = parse_pid(argv[optind + i]);
        targets[i].sink = (struct trigger_sink){ .problem = print_problem, .profile = print_profile };
        if (trigger_request(&targets[i], &o) != 0) {
            targets[i].finished = true;
            ok = false;
        }
    }
    ok = trigger_wait_dump(targets, n) && ok;
    free(targets);
    return ok ? EXIT_OK : EXIT_FAIL;
}
