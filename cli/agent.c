/* agent.c — conan agent: hands every finished dump in one or more dump
 * directories to each configured reporter, once.
 *
 * It owns, per directory: the lock that makes it the directory's only agent
 * (.conan-agent.lock, whose mtime the shim refreshes while it uses the
 * directory), the state file of what each reporter delivered
 * (.conan-agent.state, appended and synced after each delivery), and the queue:
 * the dumps present, paired with their events.jsonl lines by offset (so
 * memory stays small however many dumps wait). The dumps themselves are the
 * spool; the shim's limits prune them, and a dump pruned before it was sent is
 * logged.
 *
 * Threads: the main one watches (inotify, and a rescan every few seconds in
 * case events were missed), one per reporter sends oldest first (rate limits,
 * exponential backoff with jitter on retryable failures), and the pull endpoint
 * has its own (agent_endpoint.c). Delivery is at least once: a dump whose
 * answer was lost to a crash is sent again, with the same ID where the
 * protocol has one. */
#include "agent.h"
#include "agent_spawn.h"
#include "conan.h"
#include "dump.h"
#include "event_text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: conan agent [--config FILE] [--dir DIR]... [--once [--timeout S]] [--backfill]\n"
    "\n"
    "Sends every dump written into the dump directories to the reporters of the\n"
    "config's report section (Pyroscope, webhooks, a program) and serves the pull\n"
    "endpoint (report.listen). Each dump reaches each reporter once; delivery\n"
    "survives restarts (DIR/.conan-agent.state). One agent per directory\n"
    "(DIR/.conan-agent.lock).\n"
    "\n"
    "  --config FILE  the config (default: the one the shim would find)\n"
    "  --dir DIR      a directory to watch, repeatable (default: the config's dump_dir)\n"
    "  --once         send what is there now, then exit: 0 when all was delivered, 1 when\n"
    "                 a dump was refused for good or still failing at the timeout\n"
    "  --timeout S    with --once, give up retrying after S seconds (default 60)\n"
    "  --backfill     also send dumps from before a reporter was first configured\n"
    "                 (by default a new reporter starts with the last hour's dumps)\n"
    "  --spawned      started by the shim: quiet when another agent serves the\n"
    "                 directory, exits after report.idle_exit_s without use\n"
    "  --lock-fd N    the first directory's lock, already taken, is open on fd N\n"
    "                 (the shim hands it over so that no second agent starts)\n";

#define MAX_REPORTERS (2 + CONAN_MAX_WEBHOOKS)
#define MAX_DIRS 16
#define EVENT_WAIT_S 5.0     /* a dump waits this long for its events.jsonl line */
#define RESCAN_S 2.0
#define BACKOFF_MAX_S 300.0
#define DEFER_AFTER 10       /* a dump failing this many times stops blocking the ones after it */
#define GIVE_UP_S 86400.0    /* and is dropped after trying this long */
#define EVENT_MAX (1 << 20)  /* longest events.jsonl line read */
#define LOG_MAX (4 << 20)    /* a spawned agent's log is emptied at start past this */

enum status { PENDING, SENT, DROPPED };

struct entry {
    char file[NAME_MAX + 1];
    int dir;
    struct conan_dump_name name;
    double mtime;            /* Unix seconds */
    double seen;             /* monotonic seconds when first seen */
    off_t event_off;         /* its events.jsonl line, when found */
    int event_len;           /* 0 = not found (yet) */
    bool gone;
    unsigned char status[MAX_REPORTERS];
    unsigned short attempts[MAX_REPORTERS];
    double next_try[MAX_REPORTERS];  /* monotonic */
    double first_try[MAX_REPORTERS]; /* monotonic, 0 = never tried */
};

struct watched {
    char path[PATH_MAX];
    int lock_fd, state_fd, wd;
    off_t events_pos;        /* how far events.jsonl has been read */
    ino_t events_ino;
    double since[MAX_REPORTERS]; /* Unix seconds each reporter was first configured here */
};

struct sender {
    struct agent_reporter *r;
    pthread_t thread;
    double ready_at;         /* monotonic: reporter-wide backoff */
    double backoff_s;
    double sent_at[128];     /* ring of recent send times (monotonic), for the rate limits */
    unsigned nsent;
    int busy;                /* an attempt is under way */
    bool refused;            /* paused: the destination refuses the reporter itself */
};

static struct {
    const struct conan_config *cfg;
    struct watched dir[MAX_DIRS];
    int ndirs;
    struct sender sender[MAX_REPORTERS];
    int nsenders;
    struct entry *e;
    size_t n, cap;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    volatile sig_atomic_t stop;
    bool spawned, once, backfill;
    size_t dropped;          /* deliveries refused for good in this run */
    int wake_fd;             /* an eventfd senders poke after each attempt: --once ends without a wait */
    char host[256];
} A = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One line on stderr; a spawned agent's stderr is a log file, so it is stamped. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[1024], stamp[32] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (A.spawned) {
        time_t t = time(NULL);
        struct tm utc;
        gmtime_r(&t, &utc);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &utc);
    }
    fprintf(stderr, "%sconan agent: %s\n", stamp, line);
}

/* ---- the state file ---- */

/* Lines: "since\t<id>\t<unix seconds>", "sent\t<id>\t<file>", "dropped\t<id>\t<file>". */
static int reporter_by_id(const char *id)
{
    for (int i = 0; i < A.nsenders; i++)
        if (strcmp(A.sender[i].r->id, id) == 0) return i;
    return -1;
}

static void state_append(struct watched *w, const char *what, int reporter, const char *value)
{
    char line[PATH_MAX + 700];
    int n = snprintf(line, sizeof line, "%s\t%s\t%s\n", what, A.sender[reporter].r->id, value);
    if (n <= 0 || n >= (int)sizeof line || w->state_fd < 0) return;
    if (write(w->state_fd, line, (size_t)n) != n) {
        say("%s/.conan-agent.state: cannot record a delivery: %s (it may be sent again after a restart)", w->path,
            strerror(errno));
        return;
    }
    fdatasync(w->state_fd);
}

struct record {
    char what[16];
    int reporter;            /* -1: a reporter this agent does not have (another config's): kept as it is */
    char id[600];
    char value[NAME_MAX + 1];
};

/* The state file's lines, in *count; NULL with *count 0 when there is none.
 * -1 when it exists but cannot be read. */
static int state_read(struct watched *w, struct record **out, size_t *count)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.conan-agent.state", w->path);
    *count = 0;
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? 0 : -1;
    struct record *rec = NULL;
    size_t cap = 0;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *tab1 = strchr(line, '\t'), *tab2 = tab1 ? strrchr(line, '\t') : NULL;
        if (!tab1 || tab2 == tab1) continue;
        *tab1 = *tab2 = '\0';
        if (strlen(line) >= sizeof rec->what || strlen(tab1 + 1) >= sizeof rec->id || strlen(tab2 + 1) > NAME_MAX)
            continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 256;
            struct record *more = realloc(rec, cap * sizeof *rec);
            if (!more) break;
            rec = more;
        }
        struct record *x = &rec[(*count)++];
        snprintf(x->what, sizeof x->what, "%s", line);
        snprintf(x->id, sizeof x->id, "%s", tab1 + 1);
        x->reporter = reporter_by_id(x->id);
        snprintf(x->value, sizeof x->value, "%s", tab2 + 1);
    }
    bool failed = ferror(f);
    free(line);
    fclose(f);
    *out = rec;
    return failed ? -1 : 0;
}

static bool exists_in(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Loads when each reporter started here and rewrites the file with what still
 * matters: it stays small. Deliveries of dumps that are gone are forgotten;
 * the lines of reporters this agent does not have (another program's config
 * sharing the directory) are kept as they are. A state file that exists but
 * cannot be read stops the agent: starting afresh would send everything
 * again. */
static int state_open(struct watched *w)
{
    size_t n;
    struct record *rec;
    char path[PATH_MAX + 32], temp[PATH_MAX + 48];
    snprintf(path, sizeof path, "%s/.conan-agent.state", w->path);
    snprintf(temp, sizeof temp, "%s/.conan-agent.state.new", w->path);
    if (state_read(w, &rec, &n) != 0) {
        say("%s: cannot read: %s (not starting: every dump would be sent again)", path, strerror(errno));
        free(rec);
        return -1;
    }
    int dirfd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FILE *out = fopen(temp, "we");
    double wall = now_wall();
    for (int r = 0; r < A.nsenders; r++) w->since[r] = 0;
    for (size_t i = 0; i < n; i++) {
        struct record *x = &rec[i];
        if (strcmp(x->what, "since") == 0) {
            if (x->reporter >= 0) {
                w->since[x->reporter] = strtod(x->value, NULL);
                x->what[0] = '\0'; /* written again below */
            }
        } else if (dirfd < 0 || !exists_in(dirfd, x->value)) {
            x->what[0] = '\0'; /* a dump that is gone: forgotten */
        }
    }
    for (int r = 0; r < A.nsenders; r++) {
        if (w->since[r] == 0 || A.backfill) w->since[r] = A.backfill ? 1 : wall;
        if (out) fprintf(out, "since\t%s\t%.3f\n", A.sender[r].r->id, w->since[r]);
    }
    for (size_t i = 0; out && i < n; i++)
        if (rec[i].what[0]) fprintf(out, "%s\t%s\t%s\n", rec[i].what, rec[i].id, rec[i].value);
    bool written = out && fflush(out) == 0 && fdatasync(fileno(out)) == 0;
    if (out) fclose(out);
    if (!written || rename(temp, path) != 0) {
        say("%s: cannot write: %s", path, strerror(errno));
        unlink(temp);
        free(rec);
        if (dirfd >= 0) close(dirfd);
        return -1;
    }
    if (dirfd >= 0) close(dirfd);
    w->state_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    /* Deliveries are applied when the dumps are queued (apply_records). */
    free(rec);
    return w->state_fd >= 0 ? 0 : -1;
}

/* ---- the queue ---- */

static struct entry *find_entry(int dir, const char *file)
{
    for (size_t i = 0; i < A.n; i++)
        if (A.e[i].dir == dir && strcmp(A.e[i].file, file) == 0) return &A.e[i];
    return NULL;
}

static void apply_records(int dir)
{
    size_t n;
    struct record *rec;
    state_read(&A.dir[dir], &rec, &n); /* what was read, even after an error */
    for (size_t i = 0; i < n; i++) {
        struct entry *e = rec[i].reporter >= 0 ? find_entry(dir, rec[i].value) : NULL;
        if (!e) continue;
        if (strcmp(rec[i].what, "sent") == 0) e->status[rec[i].reporter] = SENT;
        else if (strcmp(rec[i].what, "dropped") == 0) e->status[rec[i].reporter] = DROPPED;
    }
    free(rec);
}

static int cmp_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->file, y->file);
}

/* Adds the dumps of directory d not yet queued; marks queued ones that are gone. */
static void scan_dir(int d)
{
    struct watched *w = &A.dir[d];
    DIR *dir = opendir(w->path);
    if (!dir) return;
    for (size_t i = 0; i < A.n; i++)
        if (A.e[i].dir == d) A.e[i].gone = true;
    bool added = false;
    struct dirent *de;
    double mono = now_mono();
    while ((de = readdir(dir))) {
        struct conan_dump_name name;
        if (!conan_dump_name_parse(de->d_name, &name)) continue;
        struct entry *e = find_entry(d, de->d_name);
        if (e) {
            e->gone = false;
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        if (A.n == A.cap) {
            size_t cap = A.cap ? 2 * A.cap : 64;
            struct entry *more = realloc(A.e, cap * sizeof *more);
            if (!more) break;
            A.e = more;
            A.cap = cap;
        }
        e = &A.e[A.n++];
        memset(e, 0, sizeof *e);
        snprintf(e->file, sizeof e->file, "%s", de->d_name);
        e->dir = d;
        e->name = name;
        e->mtime = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
        e->seen = mono;
        for (int r = 0; r < A.nsenders; r++)
            if (e->mtime < w->since[r] - 3600) e->status[r] = DROPPED; /* before this reporter: not sent */
        added = true;
    }
    closedir(dir);
    if (added) {
        apply_records(d);
        qsort(A.e, A.n, sizeof *A.e, cmp_entries);
    }
}

/* Forgets entries whose file is gone, saying so for a reporter that had not
 * sent it yet. Delivered ones stay: a rescan finds their files again. */
static void forget_gone(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < A.n; i++) {
        struct entry *e = &A.e[i];
        bool sending = false;
        for (int r = 0; r < A.nsenders; r++) sending |= A.sender[r].busy && e->status[r] == PENDING;
        if (e->gone && !sending) {
            for (int r = 0; r < A.nsenders; r++)
                if (e->status[r] == PENDING)
                    say("%s/%s was removed before it was sent to %s (limits.max_dir_mb and limits.keep prune the "
                        "oldest dumps)", A.dir[e->dir].path, e->file, A.sender[r].r->name);
            continue;
        }
        if (kept != i) A.e[kept] = *e;
        kept++;
    }
    A.n = kept;
}

/* Reads new events.jsonl lines of directory d and pairs them with dumps. */
static void read_events(int d)
{
    struct watched *w = &A.dir[d];
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/events.jsonl", w->path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    if (st.st_ino != w->events_ino || st.st_size < w->events_pos) { /* replaced or truncated */
        w->events_ino = st.st_ino;
        w->events_pos = 0;
    }
    FILE *f = fdopen(fd, "r");
    if (!f || fseeko(f, w->events_pos, SEEK_SET) != 0) {
        if (f) fclose(f);
        else close(fd);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    off_t pos = w->events_pos;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') break; /* a line still being written: read it next time */
        line[len - 1] = '\0';
        cJSON *ev = len < EVENT_MAX ? cJSON_Parse(line) : NULL;
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "file"));
        const char *base = file ? strrchr(file, '/') : NULL;
        struct entry *e = base ? find_entry(d, base + 1) : NULL;
        char here[PATH_MAX + NAME_MAX + 2];
        struct stat st;
        if (!e && base && snprintf(here, sizeof here, "%s%s", w->path, base) < (int)sizeof here &&
            stat(here, &st) == 0) {
            /* Renamed into place after this round's scan, its line appended
             * before this read: queue it now, or the line is passed by. */
            scan_dir(d);
            e = find_entry(d, base + 1);
        }
        if (e) {
            e->event_off = pos;
            e->event_len = (int)(len - 1);
        }
        cJSON_Delete(ev);
        pos += len;
    }
    w->events_pos = pos;
    free(line);
    fclose(f);
}

/* ---- sending ---- */

static bool ready(const struct entry *e, double mono)
{
    return !e->gone && (e->event_len > 0 || mono - e->seen >= EVENT_WAIT_S);
}

/* Whether one more send now keeps within the reporter's rate limits; when
 * not, *wait is set to when it would. */
static bool within_rate(const struct sender *s, double mono, double *wait)
{
    const struct agent_reporter *r = s->r;
    unsigned ring = sizeof s->sent_at / sizeof s->sent_at[0];
    if (r->max_per_second > 0 && s->nsent > 0) {
        double gap = 1.0 / r->max_per_second, last = s->sent_at[(s->nsent - 1) % ring];
        if (mono - last < gap) {
            *wait = last + gap;
            return false;
        }
    }
    if (r->max_per_minute > 0 && s->nsent >= (unsigned)r->max_per_minute && (unsigned)r->max_per_minute <= ring) {
        double oldest = s->sent_at[(s->nsent - (unsigned)r->max_per_minute) % ring];
        if (mono - oldest < 60.0) {
            *wait = oldest + 60.0;
            return false;
        }
    }
    return true;
}

/* The next dump for reporter r, or NULL with *wake set to when to look again. */
static struct entry *next_for(int r, double mono, double *wake)
{
    struct sender *s = &A.sender[r];
    *wake = mono + 1.0;
    if (mono < s->ready_at) {
        *wake = s->ready_at;
        return NULL;
    }
    for (size_t i = 0; i < A.n; i++) {
        struct entry *e = &A.e[i];
        if (e->status[r] != PENDING || !ready(e, mono)) continue;
        if (e->next_try[r] > mono) {
            if (e->next_try[r] < *wake) *wake = e->next_try[r];
            continue;
        }
        double until;
        if (!within_rate(s, mono, &until)) {
            *wake = until;
            return NULL;
        }
        return e;
    }
    return NULL;
}

/* A made-up event for a dump whose events.jsonl line never came. */
static char *synthesized_event(const struct entry *e, const char *path)
{
    cJSON *o = cJSON_CreateObject();
    char when[32];
    time_t t = (time_t)e->mtime;
    struct tm utc;
    gmtime_r(&t, &utc);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", &utc);
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddNumberToObject(o, "pid", (double)e->name.pid);
    cJSON_AddStringToObject(o, "app", e->name.app);
    cJSON_AddStringToObject(o, "kind", e->name.kind);
    cJSON_AddStringToObject(o, "reason", "unknown");
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddStringToObject(o, "note", "no events.jsonl line was found for this dump");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static char *read_event(const struct watched *w, off_t off, int len)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/events.jsonl", w->path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return NULL;
    char *text = malloc((size_t)len + 1);
    ssize_t got = text ? pread(fd, text, (size_t)len, off) : -1;
    close(fd);
    if (got != len) {
        free(text);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

/* One attempt of reporter r on a copy of entry e (the lock is not held). */
static void attempt(int r, const struct entry *e, struct agent_outcome *out)
{
    const struct watched *w = &A.dir[e->dir];
    char path[PATH_MAX + NAME_MAX + 2], link[CONAN_URL_MAX + NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", w->path, e->file);
    char *text = e->event_len > 0 ? read_event(w, e->event_off, e->event_len) : NULL;
    cJSON *ev = text ? cJSON_Parse(text) : NULL;
    const char *named = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "file"));
    const char *named_base = named ? strrchr(named, '/') : NULL;
    if (ev && (!named_base || strcmp(named_base + 1, e->file) != 0)) { /* events.jsonl was replaced meanwhile */
        cJSON_Delete(ev);
        ev = NULL;
    }
    if (!ev) {
        free(text);
        text = synthesized_event(e, path);
        ev = text ? cJSON_Parse(text) : NULL;
    }
    const char *base = A.cfg->report.link_base;
    size_t bl = strlen(base);
    snprintf(link, sizeof link, "%s%s%s", base, bl && base[bl - 1] != '/' ? "/" : "", e->file);
    const char *app = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "app"));
    double end = event_time(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "time")));
    if (end < 0) end = e->mtime;
    const cJSON *duration = cJSON_GetObjectItem(ev, "duration_s");
    struct agent_dump d = {
        .path = path, .file = e->file, .dir = w->path, .app = app ? app : e->name.app, .kind = e->name.kind,
        .pid = e->name.pid, .start_s = end - (cJSON_IsNumber(duration) ? duration->valuedouble : 0), .end_s = end,
        .host = A.host, .link = bl ? link : NULL, .event_text = text ? text : "{}", .event = ev,
    };
    memset(out, 0, sizeof *out);
    if (!ev) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "out of memory");
    } else if (access(path, R_OK) != 0) {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%.400s: %s", path, strerror(errno));
    } else {
        A.sender[r].r->send(A.sender[r].r, &d, out);
    }
    cJSON_Delete(ev);
    free(text);
}

/* Records what an attempt came to; the lock is held. */
static void settle(int r, const char *file, int dir, const struct agent_outcome *out, double mono)
{
    struct sender *s = &A.sender[r];
    struct entry *e = find_entry(dir, file);
    s->sent_at[s->nsent++ % (sizeof s->sent_at / sizeof s->sent_at[0])] = mono;
    if (!e) return;
    if (out->result != AGENT_RETRY || !out->refused) {
        if (s->refused) say("%s: accepted again", s->r->name);
        s->refused = false;
    }
    if (out->result == AGENT_SENT) {
        e->status[r] = SENT;
        s->backoff_s = 0;
        if (e->attempts[r] > 0) say("%s: %s delivered after %u retr%s", s->r->name, file, e->attempts[r],
                                    e->attempts[r] == 1 ? "y" : "ies");
        state_append(&A.dir[dir], "sent", r, file);
        return;
    }
    if (out->result == AGENT_DROP) {
        e->status[r] = DROPPED;
        A.dropped++;
        say("%s: %s not delivered, not retried: %s", s->r->name, file, out->message);
        state_append(&A.dir[dir], "dropped", r, file);
        return;
    }
    if (out->refused) {
        /* Not this dump's fault: it keeps its place, the reporter waits. */
        if (!s->refused)
            say("%s: %s; paused, retrying every %d s (the dumps wait, none is dropped)", s->r->name, out->message,
                AGENT_PAUSE_S);
        s->refused = true;
        s->ready_at = mono + AGENT_PAUSE_S;
        return;
    }
    if (e->first_try[r] == 0) e->first_try[r] = mono;
    e->attempts[r]++;
    if (mono - e->first_try[r] > GIVE_UP_S) {
        e->status[r] = DROPPED;
        say("%s: %s not delivered after %u attempts over a day, given up: %s", s->r->name, file, e->attempts[r],
            out->message);
        state_append(&A.dir[dir], "dropped", r, file);
        return;
    }
    /* Backoff: doubling from 1 s to 5 min, each wait drawn from its upper half
     * (jitter keeps many agents from retrying in step); at least Retry-After. */
    s->backoff_s = s->backoff_s > 0 ? fmin(2 * s->backoff_s, BACKOFF_MAX_S) : 1.0;
    double wait = s->backoff_s * (0.5 + 0.5 * drand48());
    if (out->retry_after_s > wait) wait = out->retry_after_s;
    s->ready_at = mono + wait;
    if (e->attempts[r] >= DEFER_AFTER) e->next_try[r] = mono + BACKOFF_MAX_S; /* let the others pass */
    if (e->attempts[r] == 1 || e->attempts[r] % 10 == 0)
        say("%s: %s not delivered (attempt %u), retrying in %.0f s: %s", s->r->name, file, e->attempts[r], wait,
            out->message);
}

static void *sender_main(void *arg)
{
    int r = (int)(long)arg;
    struct sender *s = &A.sender[r];
    pthread_mutex_lock(&A.lock);
    while (!A.stop) {
        double mono = now_mono(), wake;
        struct entry *e = next_for(r, mono, &wake);
        if (!e) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            double delay = fmax(0.01, fmin(wake - mono, 1.0));
            until.tv_sec += (time_t)delay;
            until.tv_nsec += (long)((delay - floor(delay)) * 1e9);
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&A.changed, &A.lock, &until);
            continue;
        }
        struct entry copy = *e;
        s->busy = 1;
        pthread_mutex_unlock(&A.lock);
        struct agent_outcome out;
        attempt(r, &copy, &out);
        pthread_mutex_lock(&A.lock);
        s->busy = 0;
        settle(r, copy.file, copy.dir, &out, now_mono());
        pthread_cond_broadcast(&A.changed);
        uint64_t one = 1;
        if (A.wake_fd >= 0 && write(A.wake_fd, &one, sizeof one) < 0) { /* a full counter wakes it anyway */
        }
    }
    pthread_mutex_unlock(&A.lock);
    return NULL;
}

/* ---- directories, lock, the main loop ---- */

static void on_signal(int sig)
{
    (void)sig;
    A.stop = 1;
}

/* fd, when it is the open lock file at path (the one the shim took and
 * handed over: the lock is already ours), else -1 and fd is closed. */
static int inherited_lock(int fd, const char *path)
{
    struct stat have, want;
    if (fd < 0) return -1;
    if (fstat(fd, &have) == 0 && lstat(path, &want) == 0 && have.st_dev == want.st_dev &&
        have.st_ino == want.st_ino && S_ISREG(have.st_mode)) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
    say("--lock-fd %d is not %s: ignored", fd, path);
    close(fd);
    return -1;
}

/* Takes DIR's agent lock (or keeps the one inherited on lock_fd, -1 = none):
 * 0, or 1 when another agent holds it, -1 on error. */
static int take_lock(struct watched *w, int lock_fd)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.conan-agent.lock", w->path);
    w->lock_fd = inherited_lock(lock_fd, path);
    if (w->lock_fd < 0) w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->lock_fd < 0) {
        say("%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t got = pread(w->lock_fd, pid, sizeof pid - 1, 0);
        pid[got > 0 ? got : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (!A.spawned) say("%s: another agent (pid %s) serves this directory", w->path, pid[0] ? pid : "?");
        close(w->lock_fd);
        w->lock_fd = -1;
        return 1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(w->lock_fd, 0) != 0 || pwrite(w->lock_fd, pid, (size_t)n, 0) != n)
        say("%s: cannot write the pid: %s", path, strerror(errno));
    futimens(w->lock_fd, NULL); /* in use from now */
    return 0;
}

static int add_dir(const char *path)
{
    if (A.ndirs == MAX_DIRS) return cli_usage_error("agent", "at most %d directories", MAX_DIRS);
    struct watched *w = &A.dir[A.ndirs];
    memset(w, 0, sizeof *w);
    w->lock_fd = w->state_fd = w->wd = -1;
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        if (errno == ENOENT && mkdir(path, 0700) == 0 && realpath(path, real)) {
            /* made, like the shim would */
        } else {
            cli_command_error("agent", "%s: %s", path, strerror(errno));
            return EXIT_FAIL;
        }
    }
    snprintf(w->path, sizeof w->path, "%s", real);
    A.ndirs++;
    return EXIT_OK;
}

/* Whether anything is left to send (ready or soon ready); with --once, not
 * counting reporters paused because their destination refuses them. */
static bool pending(void)
{
    for (size_t i = 0; i < A.n; i++)
        for (int r = 0; r < A.nsenders; r++)
            if (A.e[i].status[r] == PENDING && !A.e[i].gone && !(A.once && A.sender[r].refused)) return true;
    return false;
}

static bool any_refused(void)
{
    for (int r = 0; r < A.nsenders; r++)
        if (A.sender[r].refused) return true;
    return false;
}

/* The most recent use of any directory (the shim refreshes the lock's mtime). */
static double last_used(void)
{
    double last = 0;
    for (int d = 0; d < A.ndirs; d++) {
        struct stat st;
        if (A.dir[d].lock_fd >= 0 && fstat(A.dir[d].lock_fd, &st) == 0)
            last = fmax(last, (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
    }
    return last;
}

static int build_reporters(const struct conan_config *cfg)
{
    char err[1024];
    struct agent_reporter *made[MAX_REPORTERS];
    int n = 0;
    const struct conan_report_config *rc = &cfg->report;
    if (rc->pyroscope.url[0]) {
        if (!(made[n] = agent_pyroscope_new(cfg, err, sizeof err))) goto fail;
        n++;
    }
    for (int i = 0; i < rc->nwebhooks; i++) {
        if (!(made[n] = agent_webhook_new(cfg, i, err, sizeof err))) goto fail;
        n++;
    }
    if (rc->exec.command[0]) {
        if (!(made[n] = agent_exec_new(cfg, err, sizeof err))) goto fail;
        n++;
    }
    for (int i = 0; i < n; i++) {
        A.sender[i].r = made[i];
        for (int j = 0; j < i; j++)
            if (strcmp(made[j]->id, made[i]->id) == 0) {
                cli_command_error("agent", "%s is configured twice", made[i]->name);
                return EXIT_USAGE;
            }
    }
    A.nsenders = n;
    return EXIT_OK;
fail:
    cli_command_error("agent", "%s", err);
    for (int i = 0; i < n; i++) made[i]->destroy(made[i]);
    return EXIT_USAGE;
}

static int watch_loop(double deadline)
{
    int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    for (int d = 0; ino >= 0 && d < A.ndirs; d++)
        A.dir[d].wd = inotify_add_watch(ino, A.dir[d].path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM);
    double last_scan = -RESCAN_S, last_idle_check = now_mono();
    int status = EXIT_OK;
    while (!A.stop) {
        struct pollfd p[2] = { { ino, POLLIN, 0 }, { A.wake_fd, POLLIN, 0 } };
        int ready_fds = poll(p, 2, 500);
        bool poke = false;
        if (ready_fds > 0 && (p[0].revents & POLLIN)) {
            char buf[8192];
            while (read(ino, buf, sizeof buf) > 0) poke = true; /* which file does not matter: rescan */
        }
        if (ready_fds > 0 && (p[1].revents & POLLIN)) {
            uint64_t n;
            poke |= read(A.wake_fd, &n, sizeof n) > 0 && A.once; /* an attempt settled: done yet? */
        }
        double mono = now_mono();
        if (poke || mono - last_scan >= RESCAN_S) {
            pthread_mutex_lock(&A.lock);
            for (int d = 0; d < A.ndirs; d++) {
                scan_dir(d);
                read_events(d);
            }
            forget_gone();
            pthread_cond_broadcast(&A.changed);
            bool left = pending();
            pthread_mutex_unlock(&A.lock);
            last_scan = mono;
            if (A.once && !left) {
                if (A.dropped || any_refused()) status = EXIT_FAIL; /* said above, one line each */
                break;
            }
        }
        if (A.once && mono > deadline) {
            pthread_mutex_lock(&A.lock);
            size_t unsent = 0;
            for (size_t i = 0; i < A.n; i++)
                for (int r = 0; r < A.nsenders; r++) unsent += A.e[i].status[r] == PENDING && !A.e[i].gone;
            pthread_mutex_unlock(&A.lock);
            say("--once: %zu deliver%s still pending after the timeout", unsent, unsent == 1 ? "y" : "ies");
            status = EXIT_FAIL;
            break;
        }
        if (A.spawned && mono - last_idle_check >= 5) {
            last_idle_check = mono;
            double idle = now_wall() - last_used(), limit = A.cfg->report.idle_exit_s;
            pthread_mutex_lock(&A.lock);
            bool left = pending();
            pthread_mutex_unlock(&A.lock);
            if ((idle >= limit && !left) || idle >= 4 * limit) {
                say("no process has used %s for %.0f s%s: exiting", A.dir[0].path, idle,
                    left ? " (some dumps are still unsent: the next agent sends them)" : "");
                break;
            }
        }
    }
    if (ino >= 0) close(ino);
    return status;
}

/* A spawned agent's stderr is DIR/.conan-agent.log, appended by every agent
 * the directory ever had: past LOG_MAX it starts again. */
static void trim_log(void)
{
    struct stat st;
    if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > LOG_MAX &&
        ftruncate(STDERR_FILENO, 0) == 0)
        say("the log was over %d MiB: emptied", LOG_MAX >> 20);
}

static const struct conan_config *load_config(const char *path)
{
    static struct conan_config cfg;
    char err[1024];
    enum conan_config_origin origin;
    conan_config_defaults(&cfg);
    int rc = path ? conan_config_load(path, &cfg, err, sizeof err) : conan_config_find(&cfg, &origin, err, sizeof err);
    if (rc != 0) {
        cli_command_error("agent", "%s", err);
        return NULL;
    }
    return &cfg;
}

/* A spawned agent that cannot start leaves "failed <unix time>" in the lock
 * file it was handed (it holds the lock still: nothing else writes the file),
 * so that no shim starts another for CONAN_AGENT_FAILED_BACKOFF_S: each would
 * fail the same way, at every check of every process. Only into the lock
 * file of the first directory, and only while this agent holds its lock.
 * Returns status. */
static int start_failed(int status, const char *dir, int handed_fd)
{
    if (!A.spawned || status == EXIT_OK || !dir) return status;
    int fd = A.ndirs > 0 && A.dir[0].lock_fd >= 0 ? A.dir[0].lock_fd : handed_fd;
    char path[PATH_MAX + 32];
    struct stat have, want;
    snprintf(path, sizeof path, "%s/.conan-agent.lock", dir);
    if (fd < 0 || fstat(fd, &have) != 0 || lstat(path, &want) != 0 || have.st_dev != want.st_dev ||
        have.st_ino != want.st_ino || flock(fd, LOCK_EX | LOCK_NB) != 0)
        return status;
    char line[64];
    int n = snprintf(line, sizeof line, "failed %lld\n", (long long)time(NULL));
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) == n)
        say("cannot start: programs under libconan start no agent for %s for the next %d min "
            "(remove %s to let them sooner)",
            dir, CONAN_AGENT_FAILED_BACKOFF_S / 60, path);
    return status;
}

int cmd_agent(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "dir", required_argument, NULL, 'd' },
        { "once", no_argument, NULL, 'o' },         { "timeout", required_argument, NULL, 't' },
        { "backfill", no_argument, NULL, 'b' },     { "spawned", no_argument, NULL, 's' },
        { "lock-fd", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 }
    };
    const char *config = NULL, *dirs[MAX_DIRS];
    int ndirs = 0;
    long timeout = 60, lock_fd = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'd':
            if (ndirs == MAX_DIRS) return cli_usage_error("agent", "at most %d directories", MAX_DIRS);
            dirs[ndirs++] = optarg;
            break;
        case 'o': A.once = true; break;
        case 't':
            if ((timeout = cli_parse_count("agent", "--timeout", optarg, 86400)) < 0) return EXIT_USAGE;
            break;
        case 'b': A.backfill = true; break;
        case 's': A.spawned = true; break;
        case 'l':
            if ((lock_fd = cli_parse_count("agent", "--lock-fd", optarg, 1 << 20)) < 0) return EXIT_USAGE;
            break;
        case 'h': return cli_help(help);
        default: return cli_usage_error("agent", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("agent", "unexpected argument \"%s\"", argv[optind]);
    const struct conan_config *cfg = load_config(config);
    if (!cfg) return start_failed(EXIT_USAGE, ndirs ? dirs[0] : NULL, (int)lock_fd);
    A.cfg = cfg;
    if (!conan_report_configured(&cfg->report)) {
        cli_command_error("agent", "%s: the report section names no reporter and no listen address: nothing to do",
                          cfg->source[0] ? cfg->source : "the built-in config");
        return start_failed(EXIT_USAGE, dirs[0], (int)lock_fd);
    }
    if (ndirs == 0) dirs[ndirs++] = cfg->dump_dir;
    for (int i = 0; i < ndirs; i++) {
        int rc = add_dir(dirs[i]);
        if (rc != EXIT_OK) return start_failed(rc, dirs[0], (int)lock_fd);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (A.spawned) trim_log();
    gethostname(A.host, sizeof A.host - 1);
    A.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srand48((long)getpid() ^ (long)now_wall());

    int locked = 0;
    for (int d = 0; d < A.ndirs; d++) {
        int rc = take_lock(&A.dir[d], d == 0 ? (int)lock_fd : -1);
        if (rc < 0) return start_failed(EXIT_FAIL, dirs[0], (int)lock_fd);
        locked += rc == 0;
    }
    if (locked < A.ndirs) return A.spawned ? EXIT_OK : EXIT_FAIL; /* said in take_lock */
    int status = build_reporters(cfg);
    if (status != EXIT_OK) return start_failed(status, dirs[0], (int)lock_fd);
    for (int d = 0; d < A.ndirs; d++)
        if (state_open(&A.dir[d]) != 0) return start_failed(EXIT_FAIL, dirs[0], (int)lock_fd);

    struct agent_endpoint *endpoint = NULL;
    if (cfg->report.listen[0] && !A.once) {
        char err[1024];
        const char *paths[MAX_DIRS];
        for (int d = 0; d < A.ndirs; d++) paths[d] = A.dir[d].path;
        if (!(endpoint = agent_endpoint_start(cfg, paths, A.ndirs, err, sizeof err))) {
            cli_command_error("agent", "%s", err);
            return start_failed(EXIT_USAGE, dirs[0], (int)lock_fd);
        }
    }
    for (int r = 0; r < A.nsenders; r++)
        if (pthread_create(&A.sender[r].thread, NULL, sender_main, (void *)(long)r) != 0) {
            cli_command_error("agent", "cannot start a thread: %s", strerror(errno));
            return start_failed(EXIT_FAIL, dirs[0], (int)lock_fd);
        }
    if (!A.once && !A.spawned) say("serving %d director%s with %d reporter%s%s%s", A.ndirs, A.ndirs == 1 ? "y" : "ies",
                                   A.nsenders, A.nsenders == 1 ? "" : "s", endpoint ? ", listening on " : "",
                                   endpoint ? cfg->report.listen : "");
    status = watch_loop(now_mono() + (double)timeout);

    pthread_mutex_lock(&A.lock);
    A.stop = 1;
    pthread_cond_broadcast(&A.changed);
    pthread_mutex_unlock(&A.lock);
    /* A sender stuck in a slow upload is not waited for: its dump was not
     * recorded as delivered, so the next agent sends it. */
    double until = now_mono() + 2;
    for (int r = 0; r < A.nsenders; r++) {
        while (A.sender[r].busy && now_mono() < until) usleep(10000);
        if (!A.sender[r].busy) pthread_join(A.sender[r].thread, NULL);
    }
    if (endpoint) agent_endpoint_stop(endpoint);
    fflush(stderr);
    _exit(status); /* threads still in an upload end with the process */
}
