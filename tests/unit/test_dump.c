/* test_dump.c — dump.c in a fresh directory under /tmp: profile file names,
 * bytes, modes and sequence numbers; dump_dir creation and the ways it can be
 * unusable; events.jsonl lines; pruning by count, by size and of stale
 * temporary files, never touching foreign files; app name sanitizing. */
#include "check.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define APP "my app/v1.2"
#define SAFE_APP "my_app_v1_2"
/* Room for a dump_dir and a name in it. */
#define PATH_BUF (PATH_MAX + 256)

static char base[64];   /* the test's own directory, removed at the end */

/* A config for dump_dir <base>/<sub>. */
static void config_in(struct conan_config *cfg, const char *sub)
{
    conan_config_defaults(cfg);
    snprintf(cfg->app, sizeof cfg->app, "%s", APP);
    snprintf(cfg->dump_dir, sizeof cfg->dump_dir, "%s/%s", base, sub);
}

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    if (!conan_format(out, len, "%s/%s", dir, name)) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        check_failures++;
    }
}

static bool write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    bool ok = write(fd, data, len) == (ssize_t)len;
    return close(fd) == 0 && ok;
}

/* The whole file in a malloc'd, NUL-terminated buffer, or NULL. */
static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1))) {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        buf[got] = '\0';
        *len = got;
    }
    close(fd);
    return buf;
}

static bool exists(const char *dir, const char *name)
{
    char path[PATH_BUF];
    path_in(path, sizeof path, dir, name);
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Sets a file's mtime (and atime) to now + delta seconds. */
static bool set_age(const char *dir, const char *name, long delta)
{
    char path[PATH_BUF];
    path_in(path, sizeof path, dir, name);
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = time(NULL) + delta;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0;
}

static int count_entries(const char *dir, const char *prefix, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name), slen = strlen(suffix);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len >= slen &&
            strcmp(e->d_name + len - slen, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Checks that a written profile's name is
 * <dir>/my_app_v1_2.<pid>.cpu.<UTC yyyymmddThhmmss>.<seq>.pb.gz; returns seq or -1. */
static long check_dump_name(const char *dir, const char *path)
{
    size_t dlen = strlen(dir);
    CHECK(strncmp(path, dir, dlen) == 0 && path[dlen] == '/');
    if (strncmp(path, dir, dlen) != 0 || path[dlen] != '/') return -1;
    const char *name = path + dlen + 1;
    CHECK(strchr(name, '/') == NULL);
    int dots = 0;
    for (const char *c = name; *c; c++) dots += *c == '.';
    CHECK_INT(dots, 6);

    char prefix[64];
    snprintf(prefix, sizeof prefix, SAFE_APP ".%d.cpu.", (int)getpid());
    CHECK(strncmp(name, prefix, strlen(prefix)) == 0);
    if (strncmp(name, prefix, strlen(prefix)) != 0) return -1;
    const char *stamp = name + strlen(prefix);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *after = strptime(stamp, "%Y%m%dT%H%M%S", &tm);
    CHECK(after == stamp + 15 && after && *after == '.');
    if (!after || after != stamp + 15 || *after != '.') return -1;
    /* UTC whatever the local zone (TZ is set off UTC in main). */
    double skew = difftime(timegm(&tm), time(NULL));
    CHECK(skew > -10 && skew < 10);

    char *end;
    long seq = strtol(after + 1, &end, 10);
    CHECK(end > after + 1);
    CHECK_STR(end, ".pb.gz");
    return end > after + 1 && strcmp(end, ".pb.gz") == 0 ? seq : -1;
}

static void test_write_file(void)
{
    struct conan_config cfg;
    config_in(&cfg, "write");
    unsigned char data[3000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 7 + 1);

    char path[PATH_BUF];
    CHECK_INT(conan_dump_write(&cfg, "cpu", data, sizeof data, path, sizeof path), 0);
    long seq = check_dump_name(cfg.dump_dir, path);
    CHECK(seq > 0);

    size_t len = 0;
    char *got = read_file(path, &len);
    CHECK(got != NULL);
    CHECK_INT(len, sizeof data);
    if (got && len == sizeof data) CHECK(memcmp(got, data, len) == 0);
    free(got);
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0600);

    /* Nothing else in the directory: no temporary file left behind. */
    CHECK_INT(count_entries(cfg.dump_dir, "", ""), 1);
    CHECK_INT(count_entries(cfg.dump_dir, ".", ""), 0);
    CHECK_INT(count_entries(cfg.dump_dir, "", ".tmp"), 0);

    /* A second write: another file with a later sequence number. */
    char path2[PATH_BUF];
    CHECK_INT(conan_dump_write(&cfg, "cpu", data, 10, path2, sizeof path2), 0);
    long seq2 = check_dump_name(cfg.dump_dir, path2);
    CHECK(seq2 > seq);
    CHECK(strcmp(path, path2) != 0);
    CHECK_INT(count_entries(cfg.dump_dir, "", ""), 2);
    got = read_file(path2, &len);
    CHECK(got != NULL && len == 10);
    free(got);

    /* An empty profile is still a file. */
    CHECK_INT(conan_dump_write(&cfg, "cpu", data, 0, path2, sizeof path2), 0);
    CHECK(stat(path2, &st) == 0 && st.st_size == 0);
}

/* Another process (another container, same pid and app) may already have a
 * dump of the name we would use: it is never replaced. The next names this
 * process would pick are planted, for this second and the next, with a marker. */
static void test_write_never_replaces(void)
{
    struct conan_config cfg;
    config_in(&cfg, "collide");
    char path[PATH_BUF], planted[PATH_BUF], name[256];
    CHECK_INT(conan_dump_write(&cfg, "cpu", "first", 5, path, sizeof path), 0);
    long seq = check_dump_name(cfg.dump_dir, path);
    time_t now = time(NULL);
    int nplanted = 0;
    for (time_t t = now; t <= now + 1; t++) {
        char stamp[32];
        struct tm utc;
        gmtime_r(&t, &utc);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
        for (long next = seq + 1; next <= seq + 3; next++) {
            snprintf(name, sizeof name, "%s.%d.cpu.%s.%ld.pb.gz", SAFE_APP, (int)getpid(), stamp, next);
            path_in(planted, sizeof planted, cfg.dump_dir, name);
            CHECK(write_file(planted, "planted", 7));
            nplanted++;
        }
    }
    CHECK_INT(conan_dump_write(&cfg, "cpu", "second", 6, path, sizeof path), 0);
    CHECK(check_dump_name(cfg.dump_dir, path) > seq + 3);
    size_t len = 0;
    char *got = read_file(path, &len);
    CHECK(got && len == 6 && memcmp(got, "second", 6) == 0);
    free(got);
    /* Every planted file still holds its own bytes. */
    CHECK_INT(count_entries(cfg.dump_dir, "", ""), 2 + nplanted);
    DIR *dir = opendir(cfg.dump_dir);
    struct dirent *d;
    int intact = 0;
    while (dir && (d = readdir(dir))) {
        if (d->d_name[0] == '.') continue;
        path_in(planted, sizeof planted, cfg.dump_dir, d->d_name);
        got = read_file(planted, &len);
        if (got && len == 7 && memcmp(got, "planted", 7) == 0) intact++;
        free(got);
    }
    if (dir) closedir(dir);
    CHECK_INT(intact, nplanted);
    CHECK_INT(count_entries(cfg.dump_dir, "", ".tmp"), 0);
}

/* A FIFO planted as events.jsonl must not block the monitor (this test would
 * hang until meson's timeout), and the event is refused. */
static void test_event_log_fifo(void)
{
    struct conan_config cfg;
    config_in(&cfg, "fifo");
    CHECK_INT(mkdir(cfg.dump_dir, 0700), 0);
    char path[PATH_BUF];
    path_in(path, sizeof path, cfg.dump_dir, "events.jsonl");
    CHECK_INT(mkfifo(path, 0600), 0);
    struct conan_trigger t = { .metric = "cpu", .reason = CONAN_REASON_ABS, .value = 80 };
    struct conan_event ev = { .kind = "cpu", .trigger = &t, .file = "" };
    conan_dump_event(&cfg, &ev);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISFIFO(st.st_mode));
}

static void test_missing_dir_is_created(void)
{
    struct conan_config cfg;
    config_in(&cfg, "created");
    struct stat st;
    CHECK(stat(cfg.dump_dir, &st) != 0);
    CHECK_INT(conan_dump_dir_ready(&cfg), 0);
    CHECK_INT(stat(cfg.dump_dir, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0700);
    CHECK_INT(conan_dump_dir_ready(&cfg), 0);   /* and ready again once there */

    /* The write path creates it too. */
    config_in(&cfg, "created_by_write");
    char path[PATH_BUF];
    CHECK_INT(conan_dump_write(&cfg, "cpu", "x", 1, path, sizeof path), 0);
    CHECK(stat(cfg.dump_dir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0700);
    CHECK(access(path, F_OK) == 0);
}

/* Processes sharing a dump_dir (forked workers) create it at the same moment:
 * every one of them must find it ready, none may log a failure. */
static void test_created_by_many_at_once(void)
{
    int failures = 0;
    for (int round = 0; round < 20; round++) {
        struct conan_config cfg;
        char name[32];
        snprintf(name, sizeof name, "race_%d", round);
        config_in(&cfg, name);
        int gate[2];
        CHECK_INT(pipe(gate), 0);
        pid_t kids[8];
        for (int i = 0; i < 8; i++) {
            kids[i] = fork();
            if (kids[i] == 0) {
                char c;
                close(gate[1]);
                (void)!read(gate[0], &c, 1); /* all start when the gate closes */
                _exit(conan_dump_dir_ready(&cfg) == 0 ? 0 : 1);
            }
        }
        close(gate[0]);
        close(gate[1]);
        for (int i = 0; i < 8; i++) {
            int status = 0;
            waitpid(kids[i], &status, 0);
            failures += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
    }
    CHECK_INT(failures, 0);
}

static void test_dir_is_a_file(void)
{
    struct conan_config cfg;
    config_in(&cfg, "plain_file");
    CHECK(write_file(cfg.dump_dir, "not a directory", 15));
    CHECK_INT(chmod(cfg.dump_dir, 0700), 0);   /* so only its type is wrong */
    CHECK_INT(conan_dump_dir_ready(&cfg), -1);
    char path[PATH_BUF] = "stale";
    CHECK_INT(conan_dump_write(&cfg, "cpu", "x", 1, path, sizeof path), -1);
    CHECK_STR(path, "");
    size_t len = 0;
    char *got = read_file(cfg.dump_dir, &len);
    CHECK(got && len == 15 && memcmp(got, "not a directory", 15) == 0);
    free(got);
}

/* Directories someone else could control are refused: a symlink (even to a
 * good directory), group/world-writable without the sticky bit, owned by another
 * user (checked when running as root, by handing one to nobody). A sticky
 * world-writable directory of our own is fine. */
static void test_untrusted_dirs(void)
{
    struct conan_config cfg, target;
    char path[PATH_BUF];
    config_in(&target, "link_target");
    CHECK_INT(mkdir(target.dump_dir, 0700), 0);
    config_in(&cfg, "link");
    CHECK_INT(symlink(target.dump_dir, cfg.dump_dir), 0);
    CHECK_INT(conan_dump_write(&cfg, "cpu", "x", 1, path, sizeof path), -1);
    CHECK_INT(count_entries(target.dump_dir, "", ""), 0);

    config_in(&cfg, "open_to_all");
    CHECK_INT(mkdir(cfg.dump_dir, 0700), 0);
    CHECK_INT(chmod(cfg.dump_dir, 0777), 0);
    CHECK_INT(conan_dump_dir_ready(&cfg), -1);
    CHECK_INT(chmod(cfg.dump_dir, 0770), 0);
    CHECK_INT(conan_dump_dir_ready(&cfg), -1);
    CHECK_INT(chmod(cfg.dump_dir, 01777), 0);
    CHECK_INT(conan_dump_dir_ready(&cfg), 0);

    if (geteuid() == 0) {
        config_in(&cfg, "nobodys");
        CHECK_INT(mkdir(cfg.dump_dir, 0700), 0);
        CHECK_INT(chown(cfg.dump_dir, 65534, 65534), 0);
        CHECK_INT(conan_dump_dir_ready(&cfg), -1);
    } else {
        printf("note: not root, the other-owner case is not checked\n");
    }
}

/* A directory that cannot be created (under a regular file, which fails even
 * for root) and, for other users, one without write permission. */
static void test_dir_unwritable(void)
{
    struct conan_config cfg;
    config_in(&cfg, "blocker");
    CHECK(write_file(cfg.dump_dir, "x", 1));
    strncat(cfg.dump_dir, "/sub", sizeof cfg.dump_dir - strlen(cfg.dump_dir) - 1);
    CHECK_INT(conan_dump_dir_ready(&cfg), -1);
    char path[PATH_BUF] = "stale";
    CHECK_INT(conan_dump_write(&cfg, "cpu", "x", 1, path, sizeof path), -1);
    CHECK_STR(path, "");

    if (geteuid() == 0) {
        fprintf(stderr, "test_dump: running as root, read-only directory not checked\n");
        return;
    }
    config_in(&cfg, "read_only");
    CHECK_INT(mkdir(cfg.dump_dir, 0700), 0);
    CHECK_INT(chmod(cfg.dump_dir, 0500), 0);
    CHECK_INT(conan_dump_dir_ready(&cfg), -1);
    snprintf(path, sizeof path, "stale");
    CHECK_INT(conan_dump_write(&cfg, "cpu", "x", 1, path, sizeof path), -1);
    CHECK_STR(path, "");
    CHECK_INT(count_entries(cfg.dump_dir, "", ""), 0);
    chmod(cfg.dump_dir, 0700);
}

/* Reads events.jsonl and parses its line `index` (0-based); also counts lines. */
static cJSON *event_line(const struct conan_config *cfg, int index, int *nlines)
{
    char path[PATH_BUF];
    path_in(path, sizeof path, cfg->dump_dir, "events.jsonl");
    size_t len = 0;
    char *text = read_file(path, &len);
    CHECK(text != NULL);
    if (!text) return NULL;
    CHECK(len > 0 && text[len - 1] == '\n');
    *nlines = 0;
    cJSON *found = NULL;
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        if (*nlines == index) found = cJSON_ParseWithLength(line, (size_t)(nl - line));
        ++*nlines;
    }
    free(text);
    return found;
}

static const char *string_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double number_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static void test_events(void)
{
    struct conan_config cfg;
    config_in(&cfg, "events");
    CHECK_INT(conan_dump_dir_ready(&cfg), 0);

    struct conan_rule_config rule = {
        .enable = true, .min = 20, .diff = 50, .abs = 90, .window = 10, .sustain = 2, .cooldown_s = 60,
    };
    struct conan_trigger spike = {
        .metric = "cpu", .reason = CONAN_REASON_SPIKE, .value = 87.5, .mean = 31.25, .rule = &rule,
    };
    struct conan_event ev = {
        .kind = "cpu", .trigger = &spike, .file = "/tmp/x/app.1.cpu.20260101T000000.1.pb.gz",
        .timer = "thread", .samples = 1234, .dropped = 5, .duration_s = 10.5, .write_ms = 3.25,
        .bytes = 4567,
    };
    conan_dump_event(&cfg, &ev);

    int nlines = 0;
    cJSON *o = event_line(&cfg, 0, &nlines);
    CHECK_INT(nlines, 1);
    CHECK(o != NULL);
    if (o) {
        CHECK_STR(string_of(o, "kind"), "cpu");
        CHECK_STR(string_of(o, "reason"), "spike");
        CHECK_STR(string_of(o, "metric"), "cpu");
        CHECK_STR(string_of(o, "app"), APP);
        CHECK_NEAR(number_of(o, "value"), 87.5, 1e-9);
        CHECK_NEAR(number_of(o, "mean"), 31.25, 1e-9);
        CHECK_NEAR(number_of(o, "pid"), getpid(), 0);
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "thresholds");
        CHECK(cJSON_IsObject(th));
        CHECK_NEAR(number_of(th, "min"), 20, 1e-9);
        CHECK_NEAR(number_of(th, "diff"), 50, 1e-9);
        CHECK_NEAR(number_of(th, "abs"), 90, 1e-9);
        CHECK_NEAR(number_of(th, "window"), 10, 1e-9);
        CHECK_NEAR(number_of(th, "sustain"), 2, 1e-9);
        CHECK_STR(string_of(o, "file"), ev.file);
        CHECK_STR(string_of(o, "timer"), "thread");
        CHECK_NEAR(number_of(o, "samples"), 1234, 0);
        CHECK_NEAR(number_of(o, "dropped"), 5, 0);
        CHECK_NEAR(number_of(o, "duration_s"), 10.5, 1e-9);
        CHECK_NEAR(number_of(o, "bytes"), 4567, 0);
        const char *when = string_of(o, "time");
        CHECK(when && strlen(when) == 24 && when[10] == 'T' && when[23] == 'Z');
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "error") == NULL);
    }
    cJSON_Delete(o);

    char path[PATH_BUF];
    path_in(path, sizeof path, cfg.dump_dir, "events.jsonl");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);

    /* A failed manual dump: a second line, without metric or thresholds. */
    struct conan_trigger manual = { .metric = "", .reason = CONAN_REASON_MANUAL };
    struct conan_event failed = { .kind = "cpu", .trigger = &manual, .file = "", .error = "disk full" };
    conan_dump_event(&cfg, &failed);
    o = event_line(&cfg, 1, &nlines);
    CHECK_INT(nlines, 2);
    CHECK(o != NULL);
    if (o) {
        CHECK_STR(string_of(o, "reason"), "manual");
        CHECK_STR(string_of(o, "file"), "");
        CHECK_STR(string_of(o, "error"), "disk full");
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "metric") == NULL);
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "thresholds") == NULL);
        CHECK(cJSON_GetObjectItemCaseSensitive(o, "timer") == NULL);
    }
    cJSON_Delete(o);
    o = event_line(&cfg, 0, &nlines);   /* the first line is unchanged */
    CHECK(o && string_of(o, "reason") && strcmp(string_of(o, "reason"), "spike") == 0);
    cJSON_Delete(o);
}

static const char *const foreign[] = {
    "notes.txt",
    "other.pb.gz",
    "x.1.cpu.bad.1.pb.gz",
    "app.12.weird.20260101T000000.1.pb.gz",
    "events.jsonl",
};
#define NFOREIGN (sizeof foreign / sizeof foreign[0])

/* The name of our i-th file: stamp and sequence number fall as i (and mtime)
 * rises, so that name order and age order disagree. */
static void our_name(char *out, size_t len, int i)
{
    snprintf(out, len, SAFE_APP ".%d.cpu.20260101T0000%02d.%d.pb.gz", 4321, 59 - i % 60, 100 - i);
}

/* Creates n of our files of size bytes, the i-th aged (n - i) * 10 s, and the
 * foreign files (older than all of them). */
static void make_files(const char *dir, int n, size_t size)
{
    CHECK(mkdir(dir, 0700) == 0);
    char *data = calloc(1, size + 1);
    CHECK(data != NULL);
    if (!data) return;
    char name[128], path[PATH_BUF];
    for (int i = 0; i < n; i++) {
        our_name(name, sizeof name, i);
        path_in(path, sizeof path, dir, name);
        CHECK(write_file(path, data, size));
        CHECK(set_age(dir, name, -(long)(n - i) * 10));
    }
    for (size_t i = 0; i < NFOREIGN; i++) {
        path_in(path, sizeof path, dir, foreign[i]);
        CHECK(write_file(path, data, size));
        CHECK(set_age(dir, foreign[i], -100000));
    }
    /* A directory and a symlink named like ours are not files to remove. */
    our_name(name, sizeof name, 98);
    path_in(path, sizeof path, dir, name);
    CHECK(mkdir(path, 0700) == 0);
    CHECK(set_age(dir, name, -100000));
    our_name(name, sizeof name, 99);
    path_in(path, sizeof path, dir, name);
    CHECK(symlink("notes.txt", path) == 0);
    CHECK(set_age(dir, name, -100000));
    free(data);
}

static void check_foreign_untouched(const char *dir)
{
    char name[128];
    for (size_t i = 0; i < NFOREIGN; i++) CHECK(exists(dir, foreign[i]));
    our_name(name, sizeof name, 98);
    CHECK(exists(dir, name));
    our_name(name, sizeof name, 99);
    CHECK(exists(dir, name));
}

static void test_prune_keeps_newest(void)
{
    struct conan_config cfg;
    config_in(&cfg, "prune_count");
    cfg.limits.keep = 5;
    int n = cfg.limits.keep + 3;
    make_files(cfg.dump_dir, n, 100);
    conan_dump_prune(&cfg);

    char name[128];
    int left = 0;
    for (int i = 0; i < n; i++) {
        our_name(name, sizeof name, i);
        bool kept = exists(cfg.dump_dir, name);
        left += kept;
        CHECK(kept == (i >= n - cfg.limits.keep));   /* the oldest went */
    }
    CHECK_INT(left, cfg.limits.keep);
    check_foreign_untouched(cfg.dump_dir);

    /* Within the limits, pruning again removes nothing. */
    conan_dump_prune(&cfg);
    CHECK_INT(count_entries(cfg.dump_dir, SAFE_APP ".4321.cpu.", ".pb.gz"), cfg.limits.keep + 2);
}

/* A profile larger than the whole directory budget is not written: pruning
 * would have to delete it at once. Older dumps stay. */
static void test_larger_than_budget(void)
{
    struct conan_config cfg;
    config_in(&cfg, "over_budget");
    cfg.limits.max_dir_mb = 1;
    char path[PATH_BUF], kept[PATH_BUF];
    CHECK_INT(conan_dump_write(&cfg, "cpu", "small", 5, kept, sizeof kept), 0);
    size_t big = 1024 * 1024 + 1;
    char *data = calloc(1, big);
    CHECK(data != NULL);
    if (!data) return;
    CHECK_INT(conan_dump_write(&cfg, "cpu", data, big, path, sizeof path), -1);
    CHECK_STR(path, "");
    CHECK_INT(conan_dump_write(&cfg, "cpu", data, big - 1, path, sizeof path), 0); /* exactly the budget */
    conan_dump_prune(&cfg);
    CHECK(access(path, F_OK) == 0);
    CHECK(access(kept, F_OK) != 0); /* the older one made room */
    free(data);
}

static void test_prune_by_size(void)
{
    struct conan_config cfg;
    config_in(&cfg, "prune_size");
    cfg.limits.keep = 100;
    cfg.limits.max_dir_mb = 1;
    int n = 5;
    size_t size = 400 * 1024;
    make_files(cfg.dump_dir, n, size);   /* foreign files of 400 KiB do not count */
    conan_dump_prune(&cfg);

    char name[128], path[PATH_BUF];
    long long total = 0;
    int left = 0;
    for (int i = 0; i < n; i++) {
        our_name(name, sizeof name, i);
        path_in(path, sizeof path, cfg.dump_dir, name);
        struct stat st;
        bool kept = stat(path, &st) == 0;
        if (kept) total += st.st_size;
        left += kept;
        CHECK(kept == (i >= n - 2));   /* the two newest fit in 1 MiB */
    }
    CHECK(total <= 1024 * 1024);
    CHECK_INT(left, 2);
    check_foreign_untouched(cfg.dump_dir);
}

static void test_prune_stale_temporaries(void)
{
    struct conan_config cfg;
    config_in(&cfg, "prune_tmp");
    CHECK_INT(mkdir(cfg.dump_dir, 0700), 0);
    char ours[128], stale[160], fresh[160];
    our_name(ours, sizeof ours, 1);
    snprintf(stale, sizeof stale, ".%s.tmp", ours);
    our_name(ours, sizeof ours, 2);
    snprintf(fresh, sizeof fresh, ".%s.tmp", ours);
    const char *foreign_tmp = ".notes.txt.tmp";
    char path[PATH_BUF];
    const char *names[] = { stale, fresh, foreign_tmp };
    for (int i = 0; i < 3; i++) {
        path_in(path, sizeof path, cfg.dump_dir, names[i]);
        CHECK(write_file(path, "partial", 7));
    }
    CHECK(set_age(cfg.dump_dir, stale, -2 * 3600));
    CHECK(set_age(cfg.dump_dir, foreign_tmp, -2 * 3600));
    conan_dump_prune(&cfg);
    CHECK(!exists(cfg.dump_dir, stale));
    CHECK(exists(cfg.dump_dir, fresh));
    CHECK(exists(cfg.dump_dir, foreign_tmp));
}

static void test_prune_missing_dir(void)
{
    struct conan_config cfg;
    config_in(&cfg, "prune_missing");
    conan_dump_prune(&cfg);   /* nothing to do, nothing created */
    CHECK(!exists(base, "prune_missing"));
}

static void test_sanitize(void)
{
    char out[128];
    conan_dump_sanitize("", out, sizeof out);
    CHECK_STR(out, "app");
    conan_dump_sanitize(APP, out, sizeof out);
    CHECK_STR(out, SAFE_APP);
    conan_dump_sanitize("ok-name_42", out, sizeof out);
    CHECK_STR(out, "ok-name_42");
    conan_dump_sanitize("../..", out, sizeof out);
    CHECK_STR(out, "_____");
    conan_dump_sanitize("caf\xc3\xa9", out, sizeof out);
    CHECK_STR(out, "caf__");

    char long_name[200];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    conan_dump_sanitize(long_name, out, sizeof out);
    CHECK(strlen(out) > 0 && strlen(out) <= 64);
    CHECK(strspn(out, "a") == strlen(out));

    char small[4];
    conan_dump_sanitize("abcdef", small, sizeof small);
    CHECK_STR(small, "abc");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) chmod(path, 0700);
    return remove(path);
}

int main(void)
{
    umask(022);
    /* Local time well away from UTC, so a local stamp in a name would show. */
    setenv("TZ", "XYZ-7", 1);
    tzset();
    snprintf(base, sizeof base, "/tmp/conan_test_dump_XXXXXX");
    CHECK(mkdtemp(base) != NULL);

    test_write_file();
    test_write_never_replaces();
    test_event_log_fifo();
    test_missing_dir_is_created();
    test_created_by_many_at_once();
    test_dir_is_a_file();
    test_untrusted_dirs();
    test_dir_unwritable();
    test_events();
    test_prune_keeps_newest();
    test_prune_by_size();
    test_larger_than_budget();
    test_prune_stale_temporaries();
    test_prune_missing_dir();
    test_sanitize();

    CHECK_INT(nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    CHECK_DONE();
}
