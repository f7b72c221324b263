/* ls.c — conan ls: one row per dump in a dump directory, oldest first, joined
 * from events.jsonl (what tripped, samples, size) and the files present. A dump
 * file without an event line and an event whose file is gone (pruned, moved)
 * are shown as such, so nothing in the directory goes unexplained. */
#include "conan.h"
#include "config.h"
#include "event_text.h"
#include "report.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char help[] =
    "usage: conan ls [DIR] [--json]\n"
    "\n"
    "The dumps in DIR (default: the dump_dir of $CONAN_CONFIG, else of\n"
    "/etc/conan/conan.json, else /tmp/conan), oldest first: UTC time, app, pid,\n"
    "kind, what tripped (rule, value, threshold), samples, size and file. Dumps\n"
    "without an event line and events whose file is gone are marked.\n"
    "\n"
    "  --json   one JSON array of rows, for scripts\n";

struct row {
    double when;              /* Unix seconds */
    char time[32];            /* 2026-12-06 11:24:07 */
    char app[CONAN_NAME_MAX], kind[32], tripped[160], error[256];
    long pid;
    long samples;             /* -1: unknown */
    long long bytes;          /* -1: unknown */
    char file[PATH_MAX];
    const char *status;       /* "ok", "no event", "file gone", "failed" */
    char *event;              /* the event line as JSON, for --json */
};

struct rows {
    struct row *row;
    size_t n, cap;
};

static struct row *add_row(struct rows *rs)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        struct row *grown = realloc(rs->row, cap * sizeof *grown);
        if (!grown) return NULL;
        rs->row = grown;
        rs->cap = cap;
    }
    struct row *r = &rs->row[rs->n++];
    memset(r, 0, sizeof *r);
    r->samples = -1;
    r->bytes = -1;
    return r;
}

static void format_time(double when, char *out, size_t len)
{
    time_t t = (time_t)when;
    struct tm utc;
    gmtime_r(&t, &utc);
    strftime(out, len, "%Y-%m-%d %H:%M:%S", &utc);
}

static void copy_string(const cJSON *ev, const char *key, char *out, size_t len)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(ev, key));
    snprintf(out, len, "%s", s ? s : "");
}

static long number(const cJSON *ev, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(ev, key);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

/* One event line → one row; lines that are not events are counted, not fatal. */
static int add_event(struct rows *rs, const char *line, const char *dir)
{
    cJSON *ev = cJSON_Parse(line);
    if (!cJSON_IsObject(ev) || !cJSON_GetStringValue(cJSON_GetObjectItem(ev, "time"))) {
        cJSON_Delete(ev);
        return 1;
    }
    struct row *r = add_row(rs);
    if (!r) {
        cJSON_Delete(ev);
        return -1;
    }
    r->when = event_time(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "time")));
    format_time(r->when, r->time, sizeof r->time);
    copy_string(ev, "app", r->app, sizeof r->app);
    copy_string(ev, "kind", r->kind, sizeof r->kind);
    copy_string(ev, "file", r->file, sizeof r->file);
    copy_string(ev, "error", r->error, sizeof r->error);
    r->pid = number(ev, "pid");
    r->samples = number(ev, "samples");
    r->bytes = number(ev, "bytes");
    event_describe_trip(ev, r->tripped, sizeof r->tripped);
    /* A directory moved or copied elsewhere: the event's absolute path is
     * stale, the file is here under its base name. */
    struct stat st;
    if (r->file[0] && stat(r->file, &st) != 0) {
        const char *base = strrchr(r->file, '/');
        char here[PATH_MAX];
        if (base && snprintf(here, sizeof here, "%s%s", dir, base) < (int)sizeof here && stat(here, &st) == 0)
            snprintf(r->file, sizeof r->file, "%s", here);
    }
    if (!r->file[0]) r->status = "failed";
    else if (stat(r->file, &st) != 0) r->status = "file gone";
    else {
        r->status = "ok";
        r->bytes = (long long)st.st_size;
    }
    r->event = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    return 0;
}

/* <app>.<pid>.<kind>.<yyyymmddThhmmss>.<seq>.pb.gz → a row, or 1 if not ours. */
static int add_file(struct rows *rs, const char *dir, const char *name)
{
    size_t n = strlen(name);
    if (n < 7 || strcmp(name + n - 6, ".pb.gz") != 0 || name[0] == '.') return 1;
    char copy[NAME_MAX + 1];
    snprintf(copy, sizeof copy, "%.*s", (int)(n - 6), name);
    /* from the right: seq, stamp, kind, pid; the app may contain dots */
    char *field[4];
    for (int i = 0; i < 4; i++) {
        char *dot = strrchr(copy, '.');
        if (!dot) return 1;
        field[i] = dot + 1;
        *dot = '\0';
    }
    struct tm tm = { 0 };
    if (sscanf(field[1], "%4d%2d%2dT%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 6)
        return 1;
    struct row *r = add_row(rs);
    if (!r) return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    r->when = (double)timegm(&tm);
    format_time(r->when, r->time, sizeof r->time);
    snprintf(r->app, sizeof r->app, "%.*s", (int)sizeof r->app - 1, copy);
    snprintf(r->kind, sizeof r->kind, "%s", field[2]);
    r->pid = strtol(field[3], NULL, 10);
    snprintf(r->file, sizeof r->file, "%s/%s", dir, name);
    struct stat st;
    if (stat(r->file, &st) == 0) r->bytes = (long long)st.st_size;
    snprintf(r->tripped, sizeof r->tripped, "-");
    r->status = "no event";
    return 0;
}

static int cmp_rows(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->when != y->when) return x->when < y->when ? -1 : 1;
    return strcmp(x->file, y->file);
}

/* Whether an event names dir/name: events hold absolute paths, dir may be
 * relative (real_dir is its absolute form). */
static bool has_event_for(const struct rows *rs, size_t events, const char *dir, const char *real_dir,
                          const char *name)
{
    char path[PATH_MAX + NAME_MAX + 2], real[PATH_MAX + NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(real, sizeof real, "%s/%s", real_dir, name);
    for (size_t i = 0; i < events; i++)
        if (strcmp(rs->row[i].file, path) == 0 || strcmp(rs->row[i].file, real) == 0) return true;
    return false;
}

static int collect(struct rows *rs, const char *dir, size_t *skipped)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f && errno != ENOENT) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        int rc = add_event(rs, line, dir);
        if (rc < 0) break;
        *skipped += (size_t)rc;
    }
    free(line);
    if (f) fclose(f);
    size_t events = rs->n;
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("%s: %s", dir, strerror(errno));
        return -1;
    }
    char real_dir[PATH_MAX];
    if (!realpath(dir, real_dir)) snprintf(real_dir, sizeof real_dir, "%s", dir);
    for (struct dirent *e; (e = readdir(d));)
        if (!has_event_for(rs, events, dir, real_dir, e->d_name) && add_file(rs, dir, e->d_name) < 0) break;
    closedir(d);
    qsort(rs->row, rs->n, sizeof *rs->row, cmp_rows);
    return 0;
}

static void print_json(const struct rows *rs)
{
    printf("[");
    for (size_t i = 0; i < rs->n; i++) {
        const struct row *r = &rs->row[i];
        printf("%s\n{\"time\":", i ? "," : "");
        report_json_string(stdout, r->time);
        printf(",\"app\":");
        report_json_string(stdout, r->app);
        printf(",\"pid\":%ld,\"kind\":", r->pid);
        report_json_string(stdout, r->kind);
        printf(",\"tripped\":");
        report_json_string(stdout, r->tripped);
        printf(",\"samples\":%ld,\"bytes\":%lld,\"file\":", r->samples, r->bytes);
        report_json_string(stdout, r->file);
        printf(",\"status\":");
        report_json_string(stdout, r->status);
        if (r->error[0]) {
            printf(",\"error\":");
            report_json_string(stdout, r->error);
        }
        printf(",\"event\":%s}", r->event ? r->event : "null");
    }
    printf("%s]\n", rs->n ? "\n" : "");
}

static void print_table(const struct rows *rs)
{
    bool tty = report_colour(stdout);
    const char *sep = tty ? "  " : "\t";
    int w_app = 3, w_kind = 4, w_trip = 7;
    for (size_t i = 0; tty && i < rs->n; i++) {
        const struct row *r = &rs->row[i];
        if ((int)strlen(r->app) > w_app) w_app = (int)strlen(r->app);
        if ((int)strlen(r->kind) > w_kind) w_kind = (int)strlen(r->kind);
        if ((int)strlen(r->tripped) > w_trip) w_trip = (int)strlen(r->tripped);
    }
    int w_pid = 7, w_samples = 7, w_size = 8, w_time = 19;
    if (!tty) w_app = w_kind = w_trip = w_pid = w_samples = w_size = w_time = 0;
    printf("%s%-*s%s%-*s%s%*s%s%-*s%s%-*s%s%*s%s%*s%sfile%s\n", tty ? "\033[1m" : "", w_time, "time (UTC)", sep,
           w_app, "app", sep, w_pid, "pid", sep, w_kind, "kind", sep, w_trip, "tripped", sep, w_samples, "samples",
           sep, w_size, "size", sep, tty ? "\033[0m" : "");
    for (size_t i = 0; i < rs->n; i++) {
        const struct row *r = &rs->row[i];
        char samples[24] = "-", size[32] = "-", file[PATH_MAX + 300];
        if (r->samples >= 0) snprintf(samples, sizeof samples, "%ld", r->samples);
        if (r->bytes >= 0) report_format_value(r->bytes, "bytes", size, sizeof size);
        if (strcmp(r->status, "ok") == 0) snprintf(file, sizeof file, "%s", r->file);
        else if (strcmp(r->status, "failed") == 0) snprintf(file, sizeof file, "(failed: %s)", r->error);
        else snprintf(file, sizeof file, "%s%s%s (%s)", tty ? "\033[33m" : "", r->file, tty ? "\033[0m" : "",
                      r->status);
        printf("%-*s%s%-*s%s%*ld%s%-*s%s%-*s%s%*s%s%*s%s%s\n", w_time, r->time, sep, w_app, r->app, sep, w_pid,
               r->pid, sep, w_kind, r->kind, sep, w_trip, r->tripped, sep, w_samples, samples, sep, w_size, size, sep,
               file);
    }
}

int cmd_ls(int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'j') json = true;
        else if (c == 'h') return cli_help(help);
        else return cli_usage_error("ls", "unknown option");
    }
    if (argc - optind > 1) return cli_usage_error("ls", "expected at most one directory");
    static struct conan_config cfg;
    char dir[PATH_MAX], err[512];
    if (optind < argc) {
        snprintf(dir, sizeof dir, "%s", argv[optind]);
    } else {
        enum conan_config_origin origin;
        conan_config_defaults(&cfg);
        if (conan_config_find(&cfg, &origin, err, sizeof err) != 0) {
            cli_error("%s", err);
            return EXIT_FAIL;
        }
        snprintf(dir, sizeof dir, "%s", cfg.dump_dir);
    }
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = '\0';
    struct rows rs = { 0 };
    size_t skipped = 0;
    int status = collect(&rs, dir, &skipped) == 0 ? EXIT_OK : EXIT_FAIL;
    if (status == EXIT_OK) {
        if (json) print_json(&rs);
        else print_table(&rs);
        if (skipped) fprintf(stderr, "conan ls: %s/events.jsonl: %zu line%s not an event, skipped\n", dir, skipped,
                             skipped == 1 ? "" : "s");
    }
    for (size_t i = 0; i < rs.n; i++) free(rs.row[i].event);
    free(rs.row);
    return status;
}
