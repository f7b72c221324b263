/* dump.c — profile files and the event log in dump_dir.
 *
 * A profile is written under a hidden temporary name (O_EXCL | O_NOFOLLOW, mode
 * 0600) and renamed into place, so a reader never sees a partial file. Names are
 * <app>.<pid>.<kind>.<UTC yyyymmddThhmmss>.<seq>.pb.gz; pruning recognises that
 * pattern and touches nothing else in the directory. Every failure is one log
 * line; the next trigger simply tries again. */
#include "dump.h"
#include "recorder.h"
#include "clock.h"
#include "kinds.h"
#include "config.h"
#include "context.h"
#include "log.h"
#include "stuck.h"
#include "syscall_names.h"
#include "timeline.h"
#include "trip_rules.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_TEMP_S 3600   /* a temporary file this old was left by a process that died */

void conan_dump_sanitize(const char *app, char *out, size_t outlen)
{
    if (outlen == 0) return;
    size_t n = 0;
    for (const char *p = app; *p && n + 1 < outlen && n < 64; p++) {
        unsigned char c = (unsigned char)*p;
        out[n++] = (isalnum(c) || c == '-' || c == '_') ? (char)c : '_';
    }
    if (n == 0 && outlen > 3) {
        memcpy(out, "app", 3);
        n = 3;
    }
    out[n] = '\0';
}

/* A directory someone else controls (a /tmp/conan planted by another user, a
 * symlink to elsewhere) could have our files swapped, read or deleted, or
 * triggers planted: refused. Root's directories are trusted. */
static const char *untrusted_dir(const struct stat *st)
{
    if (S_ISLNK(st->st_mode)) return "is a symbolic link";
    if (!S_ISDIR(st->st_mode)) return "is not a directory";
    if (st->st_uid != geteuid() && st->st_uid != 0) return "is owned by another user";
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
        return "is writable by others without the sticky bit";
    return NULL;
}

int conan_dump_dir_ready(const struct conan_config *cfg)
{
    struct stat st;
    if (lstat(cfg->dump_dir, &st) != 0) {
        if (errno == ENOENT && mkdir(cfg->dump_dir, 0700) == 0) return 0;
        /* Another process (a forked worker, say) may have made it meanwhile:
         * then it is checked like any directory we found. */
        if (errno != EEXIST || lstat(cfg->dump_dir, &st) != 0) {
            conan_log("%s: cannot create dump directory: %s", cfg->dump_dir, strerror(errno));
            return -1;
        }
    }
    const char *why = untrusted_dir(&st);
    if (why) {
        conan_log("%s: dump_dir %s; refusing to write there", cfg->dump_dir, why);
        return -1;
    }
    if (access(cfg->dump_dir, W_OK | X_OK) != 0) {
        conan_log("%s: dump directory is not writable: %s", cfg->dump_dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Moves temp to final without replacing anything there: a directory shared by
 * several containers can hold another process's dump of the same name (same
 * app, pid and second). Returns 0, -1 with errno, or EEXIST as -2. */
static int publish(const char *temp, const char *final)
{
    if (renameat2(AT_FDCWD, temp, AT_FDCWD, final, RENAME_NOREPLACE) == 0) return 0;
    if (errno == EEXIST) return -2;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    /* Filesystems without RENAME_NOREPLACE: link() refuses to replace too. */
    if (link(temp, final) == 0) {
        unlink(temp);
        return 0;
    }
    if (errno == EEXIST) return -2;
    return rename(temp, final);
}

#define NAME_ATTEMPTS 16

int conan_dump_write(const struct conan_config *cfg, const char *kind, const void *data,
                     size_t len, char *path_out, size_t path_len)
{
    static unsigned seq;
    char app[80], stamp[32], name[256], temp[PATH_MAX], final[PATH_MAX];
    path_out[0] = '\0';
    long long budget = (long long)cfg->limits.max_dir_mb * 1024 * 1024;
    if ((long long)len > budget) { /* pruning would have to delete it at once */
        conan_log("%s: a %s profile of %zu bytes is larger than limits.max_dir_mb (%d MiB); not written",
                  cfg->dump_dir, kind, len, cfg->limits.max_dir_mb);
        return -1;
    }
    if (conan_dump_dir_ready(cfg) != 0) return -1;

    conan_dump_sanitize(cfg->app, app, sizeof app);
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
    snprintf(name, sizeof name, "%s.%d.%s.%s.%u.pb.gz", app, (int)getpid(), kind, stamp, ++seq);
    if (!conan_format(temp, sizeof temp, "%s/.%s.tmp", cfg->dump_dir, name) ||
        !conan_format(final, sizeof final, "%s/%s", cfg->dump_dir, name)) {
        conan_log("%s: dump_dir path too long", cfg->dump_dir);
        return -1;
    }

    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        conan_log("%s: cannot create profile file: %s", temp, strerror(errno));
        return -1;
    }
    int rc = write_all(fd, data, len);
    int err = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        err = errno;
    }
    for (int attempt = 1; rc == 0; attempt++) {
        int published = publish(temp, final);
        if (published == 0) break;
        if (published == -1 || attempt == NAME_ATTEMPTS) {
            rc = -1;
            err = published == -1 ? errno : EEXIST;
            break;
        }
        /* Taken by another process: the next sequence number. */
        snprintf(name, sizeof name, "%s.%d.%s.%s.%u.pb.gz", app, (int)getpid(), kind, stamp, ++seq);
        conan_format(final, sizeof final, "%s/%s", cfg->dump_dir, name);
    }
    if (rc != 0) {
        unlink(temp);
        conan_log("%s: cannot write profile: %s", final, strerror(err));
        return -1;
    }
    snprintf(path_out, path_len, "%s", final);
    return 0;
}

static void iso_time_now(char *out, size_t len)
{
    struct timespec ts = conan_clock_read(CLOCK_REALTIME);
    struct tm utc;
    gmtime_r(&ts.tv_sec, &utc);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* The stuck threads a stuck trip names, and its threshold. */
static void add_stuck(cJSON *o, const struct conan_config *cfg, const struct conan_stuck_report *stuck)
{
    cJSON *th = cJSON_AddObjectToObject(o, "thresholds");
    if (th) cJSON_AddNumberToObject(th, "after_s", cfg->stuck.after_s);
    cJSON *list = cJSON_AddArrayToObject(o, "stuck");
    for (int i = 0; list && i < stuck->n && i < CONAN_STUCK_MAX; i++) {
        const struct conan_stuck_thread *st = &stuck->thread[i];
        cJSON *item = cJSON_CreateObject();
        if (!item) break;
        cJSON_AddNumberToObject(item, "tid", st->tid);
        cJSON_AddStringToObject(item, "thread", st->name);
        const char *call = conan_syscall_name(st->syscall);
        if (call) cJSON_AddStringToObject(item, "syscall", call);
        else cJSON_AddNumberToObject(item, "syscall", (double)st->syscall);
        if (st->function[0]) cJSON_AddStringToObject(item, "function", st->function);
        cJSON_AddNumberToObject(item, "for_s", round(st->for_s * 10.0) / 10.0);
        cJSON_AddItemToArray(list, item);
    }
    if (stuck->n > CONAN_STUCK_MAX) cJSON_AddNumberToObject(o, "stuck_total", stuck->n);
}

/* The flight recorder's part of a CPU profile (phase=before): its samples,
 * the seconds they cover and their rate. */
static void add_before(cJSON *o, const struct conan_recorder_span *span)
{
    cJSON_AddNumberToObject(o, "before_samples", (double)span->samples);
    cJSON_AddNumberToObject(o, "before_s", round((span->to_s - span->from_s) * 1000.0) / 1000.0);
    cJSON_AddNumberToObject(o, "before_hz", (double)span->hz);
}

static cJSON *event_json(const struct conan_config *cfg, const struct conan_event *ev)
{
    char when[48];
    iso_time_now(when, sizeof when);
    const struct conan_trigger *t = ev->trigger;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddNumberToObject(o, "pid", getpid());
    cJSON_AddStringToObject(o, "app", cfg->app);
    cJSON_AddStringToObject(o, "kind", ev->kind);
    cJSON_AddStringToObject(o, "reason", conan_reason_name(t->reason));
    if (t->metric && t->metric[0]) {
        cJSON_AddStringToObject(o, "metric", t->metric);
        cJSON_AddNumberToObject(o, "value", t->value);
        cJSON_AddNumberToObject(o, "mean", t->mean);
    }
    if (t->rule) {
        cJSON *th = cJSON_AddObjectToObject(o, "thresholds");
        if (th) {
            cJSON_AddNumberToObject(th, "min", t->rule->min);
            cJSON_AddNumberToObject(th, "diff", t->rule->diff);
            cJSON_AddNumberToObject(th, "abs", t->rule->abs);
            cJSON_AddNumberToObject(th, "window", t->rule->window);
            cJSON_AddNumberToObject(th, "sustain", t->rule->sustain);
        }
    }
    cJSON_AddStringToObject(o, "file", ev->file ? ev->file : "");
    if (ev->timer) cJSON_AddStringToObject(o, "timer", ev->timer);
    cJSON_AddNumberToObject(o, "samples", (double)ev->samples);
    cJSON_AddNumberToObject(o, "dropped", (double)ev->dropped);
    if (ev->duration_s > 0) cJSON_AddNumberToObject(o, "duration_s", ev->duration_s);
    if (ev->cpu_s > 0) cJSON_AddNumberToObject(o, "cpu_s", ev->cpu_s);
    if (ev->write_ms > 0) cJSON_AddNumberToObject(o, "write_ms", ev->write_ms);
    if (ev->bytes > 0) cJSON_AddNumberToObject(o, "bytes", (double)ev->bytes);
    if (ev->before) add_before(o, ev->before);
    if (ev->note) cJSON_AddStringToObject(o, "note", ev->note);
    if (ev->error) cJSON_AddStringToObject(o, "error", ev->error);
    if (t->stuck) add_stuck(o, cfg, t->stuck);
    if (t->timeline && t->timeline->cap > 0) { /* last: the long part of the line */
        cJSON *timeline = conan_timeline_json(t->timeline, t->at_s, cfg->interval_ms);
        if (timeline) cJSON_AddItemToObject(o, "timeline", timeline);
    }
    return o;
}

void conan_dump_event(const struct conan_config *cfg, const struct conan_event *ev)
{
    cJSON *o = event_json(cfg, ev);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return;
    char path[PATH_MAX];
    int fd = -1;
    /* O_NONBLOCK: a FIFO planted under that name must not block the monitor. */
    if (conan_format(path, sizeof path, "%s/events.jsonl", cfg->dump_dir))
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = EINVAL;
    }
    bool appended = false;
    int err = errno;
    if (fd >= 0) {
        size_t len = strlen(text);
        text[len] = '\n'; /* replaces the terminator: one write, one line */
        appended = write_all(fd, text, len + 1) == 0;
        err = errno;
        close(fd);
    }
    /* One line when appending starts failing, not one per event: the failed
     * dump itself has already said why (a full disk, say). */
    static bool failing;
    if (!appended && !failing)
        conan_log("%s: cannot append event: %s (further failures not logged)", path,
                  fd < 0 && err == EINVAL ? "not a regular file" : strerror(err));
    failing = !appended;
    free(text);
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

bool conan_dump_name_parse(const char *name, struct conan_dump_name *out)
{
    size_t len = strlen(name);
    const char *suffix = ".pb.gz";
    if (len < 6 || strcmp(name + len - 6, suffix) != 0 || name[0] == '.' || strchr(name, '/')) return false;
    /* Walk the four fields before the suffix from the right: seq, stamp, kind, pid. */
    const char *end = name + len - 6, *field_end = end;
    const char *field[4];
    size_t field_len[4];
    for (int i = 0; i < 4; i++) {
        const char *dot = field_end - 1;
        while (dot > name && *dot != '.') dot--;
        if (dot <= name) return false;
        field[i] = dot + 1;
        field_len[i] = (size_t)(field_end - field[i]);
        field_end = dot;
    }
    if (!all_digits(field[0], field_len[0]) || !all_digits(field[3], field_len[3])) return false;
    if (field_len[0] > 9 || field_len[3] > 9) return false;
    if (field_len[1] != 15 || field[1][8] != 'T' || !all_digits(field[1], 8) || !all_digits(field[1] + 9, 6))
        return false;
    if (!conan_kind_known(field[2], field_len[2])) return false;
    if (!out) return true;
    size_t app_len = (size_t)(field_end - name);
    snprintf(out->app, sizeof out->app, "%.*s", (int)app_len, name);
    out->pid = strtol(field[3], NULL, 10);
    snprintf(out->kind, sizeof out->kind, "%.*s", (int)field_len[2], field[2]);
    out->seq = strtoul(field[0], NULL, 10);
    struct tm tm = { 0 };
    sscanf(field[1], "%4d%2d%2dT%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
           &tm.tm_sec);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    out->when = (double)timegm(&tm);
    return true;
}

static bool is_our_dump(const char *name)
{
    return conan_dump_name_parse(name, NULL);
}

struct dump_file {
    char name[256];
    struct timespec mtime;
    unsigned long seq;
    off_t size;
};

/* The <seq> field of one of our names (the digits before ".pb.gz"). */
static unsigned long seq_of(const char *name)
{
    const char *end = name + strlen(name) - 6, *p = end;
    while (p > name && p[-1] != '.') p--;
    return strtoul(p, NULL, 10);
}

/* Oldest first: by mtime, then by sequence number (several dumps can share a
 * timestamp), then by name. */
static int older_first(const void *a, const void *b)
{
    const struct dump_file *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void remove_file(const struct conan_config *cfg, const char *name)
{
    char path[PATH_MAX];
    if (conan_format(path, sizeof path, "%s/%s", cfg->dump_dir, name)) unlink(path);
}

void conan_dump_prune(const struct conan_config *cfg)
{
    DIR *dir = opendir(cfg->dump_dir);
    if (!dir) return;
    struct dump_file *files = NULL;
    size_t n = 0, cap = 0;
    long long total = 0;
    time_t now = time(NULL);
    struct dirent *d;
    while ((d = readdir(dir))) {
        struct stat st;
        if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        size_t len = strlen(d->d_name);
        if (d->d_name[0] == '.' && len > 5 && strcmp(d->d_name + len - 4, ".tmp") == 0) {
            char inner[256];
            snprintf(inner, sizeof inner, "%.*s", (int)(len - 5), d->d_name + 1);
            if (is_our_dump(inner) && now - st.st_mtime > STALE_TEMP_S) remove_file(cfg, d->d_name);
            continue;
        }
        if (!is_our_dump(d->d_name) || len >= sizeof files->name) continue;
        if (n == cap) {
            size_t cap2 = cap ? cap * 2 : 64;
            struct dump_file *grown = realloc(files, cap2 * sizeof *files);
            if (!grown) break;
            files = grown;
            cap = cap2;
        }
        snprintf(files[n].name, sizeof files[n].name, "%s", d->d_name);
        files[n].mtime = st.st_mtim;
        files[n].seq = seq_of(d->d_name);
        files[n].size = st.st_size;
        total += st.st_size;
        n++;
    }
    closedir(dir);
    if (n > 1) qsort(files, n, sizeof *files, older_first);
    long long budget = (long long)cfg->limits.max_dir_mb * 1024 * 1024;
    for (size_t i = 0; i < n && (n - i > (size_t)cfg->limits.keep || total > budget); i++) {
        remove_file(cfg, files[i].name);
        total -= files[i].size;
    }
    free(files);
}
