/* cgroup.c — owns finding this process's cgroups and reading their CPU quota
 * (and which cgroup it comes from) and memory limit.
 *
 * Design: resolution is pure parsing of two files under a root prefix
 * (<root>/proc/self/cgroup and <root>/proc/self/mountinfo), so tests can feed
 * fixture trees for cgroup v1, v2, hybrid and namespaced hosts that cannot
 * exist on one real machine. Each hierarchy we care about (v2, v1 "cpu", v1
 * "memory") is matched to its mount: the directory is root + mount point + the
 * cgroup path made relative to the mount's root. The quota reader walks from
 * that directory up to the mount point, because a tighter limit on an ancestor
 * caps the child too. Everything lives in stack buffers (this runs inside other
 * people's processes): odd input is skipped, never fatal, and nothing is
 * printed; the caller decides what to log. */
#include "cgroup.h"
#include "log.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>

/* ------------------------------------------------------------ line reading */

/* Reads a file line by line through a fixed buffer. Lines that do not fit are
 * skipped whole rather than cut, so a truncated line is never misparsed. */
#define LINE_BUFFER_SIZE 8192

struct line_reader {
    int fd;
    bool at_eof;
    bool skipping_long_line;
    size_t start, end;
    char buf[LINE_BUFFER_SIZE];
};

static bool line_reader_open(struct line_reader *r, const char *path)
{
    r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    r->at_eof = false;
    r->skipping_long_line = false;
    r->start = r->end = 0;
    return r->fd >= 0;
}

static void line_reader_close(struct line_reader *r)
{
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
}

static void line_reader_fill(struct line_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end >= sizeof r->buf - 1) {          /* a line longer than the buffer */
        r->skipping_long_line = true;
        r->end = 0;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, sizeof r->buf - 1 - r->end);
        if (n > 0) {
            r->end += (size_t)n;
            return;
        }
        if (n < 0 && errno == EINTR) continue;
        r->at_eof = true;                       /* end of file or an error: stop */
        return;
    }
}

/* Next line without its newline, NUL-terminated inside the buffer; NULL at end. */
static char *line_reader_next(struct line_reader *r)
{
    for (;;) {
        char *begin = r->buf + r->start;
        char *newline = memchr(begin, '\n', r->end - r->start);
        if (newline) {
            *newline = '\0';
            r->start = (size_t)(newline - r->buf) + 1;
            if (r->skipping_long_line) {
                r->skipping_long_line = false;
                continue;
            }
            return begin;
        }
        if (r->at_eof) {
            if (r->start == r->end || r->skipping_long_line) return NULL;
            r->buf[r->end] = '\0';              /* last line without a newline */
            r->start = r->end;
            return begin;
        }
        line_reader_fill(r);
    }
}

/* ------------------------------------------------------------ small helpers */

/* out = a + b, dropping one slash where a ends and b begins with one.
 * False (and out untouched as a result) if it would not fit. */
static bool join_path(char *out, size_t size, const char *a, const char *b)
{
    size_t alen = strlen(a);
    if (alen > 0 && a[alen - 1] == '/' && b[0] == '/') b++;
    int n = snprintf(NULL, 0, "%s%s", a, b);
    if (n < 0 || (size_t)n >= size) return false;
    snprintf(out, size, "%s%s", a, b);
    return true;
}

static bool copy_string(char *out, size_t size, const char *in)
{
    size_t len = strlen(in);
    if (len >= size) return false;
    memcpy(out, in, len + 1);
    return true;
}

/* Is `word` one of the comma-separated items of `list`? Exact items only, so
 * "cpu" is not found in "cpuacct" or "cpuset". */
static bool comma_list_has(const char *list, const char *word)
{
    size_t wlen = strlen(word);
    const char *item = list;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t ilen = comma ? (size_t)(comma - item) : strlen(item);
        if (ilen == wlen && memcmp(item, word, wlen) == 0) return true;
        if (!comma) return false;
        item = comma + 1;
    }
}

/* Next space-separated field of a mountinfo line, NUL-terminated in place. */
static char *next_field(char **cursor)
{
    char *p = *cursor;
    while (*p == ' ') p++;
    if (*p == '\0') return NULL;
    char *field = p;
    while (*p != '\0' && *p != ' ') p++;
    if (*p == ' ') *p++ = '\0';
    *cursor = p;
    return field;
}

static bool is_octal_digit(char c) { return c >= '0' && c <= '7'; }

/* Undoes mountinfo's escaping of space, tab, newline and backslash (\040 ...). */
static bool decode_mountinfo_path(char *out, size_t size, const char *in)
{
    size_t n = 0;
    while (*in) {
        char c = *in;
        if (c == '\\' && is_octal_digit(in[1]) && is_octal_digit(in[2]) && is_octal_digit(in[3])) {
            int value = (in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0');
            if (value == 0 || value > 255) return false;
            c = (char)value;
            in += 4;
        } else {
            in++;
        }
        if (n + 1 >= size) return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/* Does `path` lie at or below `dir`, on a component boundary? */
static bool path_is_under(const char *path, const char *dir)
{
    size_t dlen = strlen(dir);
    if (strncmp(path, dir, dlen) != 0) return false;
    if (dlen > 0 && dir[dlen - 1] == '/') return true;
    return path[dlen] == '\0' || path[dlen] == '/';
}

static bool has_dotdot_segment(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        bool starts = p == path || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends) return true;
    }
    return false;
}

/* ------------------------------------------------------------ container ids */

#define CONTAINER_ID_HEX_LEN 64

static bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/* Finds a run of exactly 64 lowercase hex digits in some segment of path
 * ("/docker/<id>", "docker-<id>.scope", "cri-containerd-<id>.scope",
 * "crio-<id>.scope", ".../pod<uid>/<id>"). The deepest one wins: it is the
 * container nearest to this process. */
static bool find_container_id(const char *path, char out[CONTAINER_ID_HEX_LEN + 1])
{
    bool found = false;
    const char *p = path;
    while (*p) {
        if (!is_lower_hex(*p)) {
            p++;
            continue;
        }
        const char *run = p;
        while (is_lower_hex(*p)) p++;
        if (p - run == CONTAINER_ID_HEX_LEN) {
            memcpy(out, run, CONTAINER_ID_HEX_LEN);
            out[CONTAINER_ID_HEX_LEN] = '\0';
            found = true;
        }
    }
    return found;
}

/* --------------------------------------------------------------- resolving */

enum hierarchy { HIERARCHY_V2, HIERARCHY_CPU_V1, HIERARCHY_MEMORY_V1, HIERARCHY_COUNT };

/* What we learn about one hierarchy while reading the two files. */
struct hierarchy_match {
    bool has_path;
    char path[PATH_MAX];                       /* from /proc/self/cgroup */
    int mount_score;                           /* 0 = no mount seen yet */
    char mount_root_id[CONTAINER_ID_HEX_LEN + 1]; /* container id in the mount's root */
};

static char *hierarchy_dir(struct conan_cgroup *cg, enum hierarchy h)
{
    return h == HIERARCHY_V2 ? cg->v2_dir : h == HIERARCHY_CPU_V1 ? cg->cpu_v1_dir : cg->mem_v1_dir;
}

static char *hierarchy_mount(struct conan_cgroup *cg, enum hierarchy h)
{
    return h == HIERARCHY_V2 ? cg->v2_mount
         : h == HIERARCHY_CPU_V1 ? cg->cpu_v1_mount : cg->mem_v1_mount;
}

static void remember_path(struct hierarchy_match *m, const char *path)
{
    if (m->has_path) return;                   /* first line wins */
    if (copy_string(m->path, sizeof m->path, path)) m->has_path = true;
}

/* One line of /proc/self/cgroup: "hierarchy-id:controller-list:path". */
static void parse_cgroup_line(char *line, struct hierarchy_match *match)
{
    char *first_colon = strchr(line, ':');
    if (!first_colon) return;
    char *second_colon = strchr(first_colon + 1, ':');
    if (!second_colon) return;
    *first_colon = '\0';
    *second_colon = '\0';
    const char *hierarchy_id = line, *controllers = first_colon + 1, *path = second_colon + 1;
    if (path[0] != '/') return;

    if (strcmp(hierarchy_id, "0") == 0 && controllers[0] == '\0') {
        remember_path(&match[HIERARCHY_V2], path);
        return;
    }
    if (comma_list_has(controllers, "cpu")) remember_path(&match[HIERARCHY_CPU_V1], path);
    if (comma_list_has(controllers, "memory")) remember_path(&match[HIERARCHY_MEMORY_V1], path);
}

/* Offers one mount of hierarchy h. A mount whose root contains our cgroup path
 * beats one that does not (a cgroup namespace or a foreign bind mount); among
 * equals the first wins. */
static void consider_mount(const char *root, struct conan_cgroup *out, enum hierarchy h,
                           struct hierarchy_match *m, const char *mount_root,
                           const char *mount_point)
{
    if (!m->has_path) return;
    const char *relative = m->path;
    int score = 1;
    if (strcmp(mount_root, "/") == 0) {
        score = 2;
    } else if (path_is_under(m->path, mount_root)) {
        relative = m->path + strlen(mount_root);
        score = 2;
    }
    if (score <= m->mount_score) return;
    /* "/../.." means our cgroup is outside what this namespace can see: the
     * mount point is the nearest directory we can read. */
    if (strcmp(relative, "/") == 0 || has_dotdot_segment(relative)) relative = "";

    char mount[PATH_MAX], dir[PATH_MAX];
    if (!join_path(mount, sizeof mount, root, mount_point)) return;
    if (!join_path(dir, sizeof dir, mount, relative)) return;
    memcpy(hierarchy_mount(out, h), mount, strlen(mount) + 1);
    memcpy(hierarchy_dir(out, h), dir, strlen(dir) + 1);
    m->mount_score = score;
    if (!find_container_id(mount_root, m->mount_root_id)) m->mount_root_id[0] = '\0';
}

/* One line of mountinfo:
 * id parent major:minor ROOT MOUNTPOINT options [optional...] - FSTYPE SOURCE SUPEROPTIONS */
static void parse_mountinfo_line(char *line, const char *root, struct conan_cgroup *out,
                                 struct hierarchy_match *match)
{
    char *cursor = line;
    char *field[5];
    for (int i = 0; i < 5; i++)
        if (!(field[i] = next_field(&cursor))) return;
    char *field_after;
    do {                                        /* per-mount options, optional fields */
        field_after = next_field(&cursor);
        if (!field_after) return;
    } while (strcmp(field_after, "-") != 0);
    const char *fstype = next_field(&cursor);
    const char *source = fstype ? next_field(&cursor) : NULL;
    const char *super_options = source ? next_field(&cursor) : NULL;
    if (!super_options) return;

    bool is_v2 = strcmp(fstype, "cgroup2") == 0;
    bool is_v1 = strcmp(fstype, "cgroup") == 0;
    if (!is_v2 && !is_v1) return;

    char mount_root[PATH_MAX], mount_point[PATH_MAX];
    if (!decode_mountinfo_path(mount_root, sizeof mount_root, field[3])) return;
    if (!decode_mountinfo_path(mount_point, sizeof mount_point, field[4])) return;
    if (mount_point[0] != '/') return;

    if (is_v2) {
        consider_mount(root, out, HIERARCHY_V2, &match[HIERARCHY_V2], mount_root, mount_point);
        return;
    }
    if (comma_list_has(super_options, "cpu"))
        consider_mount(root, out, HIERARCHY_CPU_V1, &match[HIERARCHY_CPU_V1], mount_root,
                       mount_point);
    if (comma_list_has(super_options, "memory"))
        consider_mount(root, out, HIERARCHY_MEMORY_V1, &match[HIERARCHY_MEMORY_V1], mount_root,
                       mount_point);
}

int conan_cgroup_resolve(const char *root, struct conan_cgroup *out)
{
    memset(out, 0, sizeof *out);
    if (!root) root = "";

    struct hierarchy_match match[HIERARCHY_COUNT];
    memset(match, 0, sizeof match);
    char path[PATH_MAX];
    struct line_reader reader;
    char *line;

    if (!join_path(path, sizeof path, root, "/proc/self/cgroup")) return -1;
    if (!line_reader_open(&reader, path)) return -1;
    while ((line = line_reader_next(&reader)) != NULL) parse_cgroup_line(line, match);
    line_reader_close(&reader);

    if (!join_path(path, sizeof path, root, "/proc/self/mountinfo")) return -1;
    if (!line_reader_open(&reader, path)) return -1;
    while ((line = line_reader_next(&reader)) != NULL) parse_mountinfo_line(line, root, out, match);
    line_reader_close(&reader);

    const struct hierarchy_match *id_source = NULL;
    for (int h = 0; h < HIERARCHY_COUNT && !id_source; h++)
        if (match[h].mount_score > 0) id_source = &match[h];
    if (!id_source) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    copy_string(out->id, sizeof out->id, id_source->path);

    /* The id from our own cgroup paths first; failing that, from a mount's root
     * (inside a cgroup namespace our path is "/" but the host's is in there). */
    char container_id[CONTAINER_ID_HEX_LEN + 1];
    for (int h = 0; h < HIERARCHY_COUNT && !out->container_id[0]; h++)
        if (match[h].has_path && find_container_id(match[h].path, container_id))
            copy_string(out->container_id, sizeof out->container_id, container_id);
    for (int h = 0; h < HIERARCHY_COUNT && !out->container_id[0]; h++)
        if (match[h].mount_score > 0 && match[h].mount_root_id[0])
            copy_string(out->container_id, sizeof out->container_id, match[h].mount_root_id);
    return 0;
}

/* ------------------------------------------------------------------- quota */

/* Reads a small file into buf (NUL-terminated). False if unreadable or empty. */
static bool read_small_file(const char *dir, const char *name, char *buf, size_t size)
{
    char path[PATH_MAX];
    return conan_format(path, sizeof path, "%s/%s", dir, name) && conan_read_small_text(path, buf, size);
}

/* Parses a decimal integer, skipping leading blanks; *rest points after it. */
static bool parse_long(const char *text, long long *value, const char **rest)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno != 0) return false;
    *value = v;
    if (rest) *rest = end;
    return true;
}

static double limit_from(long long quota, long long period)
{
    return quota > 0 && period > 0 ? (double)quota / (double)period : 0;
}

/* v2 "cpu.max": "max <period>" (no limit) or "<quota> <period>". */
static double v2_limit_in(const char *dir)
{
    char text[128];
    if (!read_small_file(dir, "cpu.max", text, sizeof text)) return 0;
    long long quota, period;
    const char *rest;
    if (!parse_long(text, &quota, &rest)) return 0;   /* "max" lands here too */
    if (!parse_long(rest, &period, NULL)) return 0;
    return limit_from(quota, period);
}

/* v1 "cpu.cfs_quota_us" (-1 = no limit) over "cpu.cfs_period_us". */
static double v1_limit_in(const char *dir)
{
    char text[64];
    long long quota, period;
    if (!read_small_file(dir, "cpu.cfs_quota_us", text, sizeof text)) return 0;
    if (!parse_long(text, &quota, NULL) || quota <= 0) return 0;
    if (!read_small_file(dir, "cpu.cfs_period_us", text, sizeof text)) return 0;
    if (!parse_long(text, &period, NULL)) return 0;
    return limit_from(quota, period);
}

/* Smallest positive limit from dir and each ancestor up to and including mount,
 * and where it was found (into where, if not NULL; "" when none): the deepest
 * of equal limits, as the walk goes up and only a strictly smaller one
 * replaces it. Every step makes the path strictly shorter, so odd paths cannot
 * loop. If dir is not under mount, only dir itself is read. */
static double smallest_limit_up_to_mount(const char *dir, const char *mount, double (*limit_in)(const char *dir),
                                         char where[PATH_MAX])
{
    if (where) where[0] = '\0';
    if (!dir[0]) return 0;
    char current[PATH_MAX];
    if (!copy_string(current, sizeof current, dir)) return 0;
    size_t stop = mount[0] && path_is_under(dir, mount) ? strlen(mount) : strlen(dir);
    double smallest = 0;
    for (;;) {
        double limit = limit_in(current);
        if (limit > 0 && (smallest == 0 || limit < smallest)) {
            smallest = limit;
            if (where) memcpy(where, current, strlen(current) + 1);
        }
        size_t len = strlen(current);
        if (len <= stop) break;
        char *slash = strrchr(current, '/');
        if (!slash) break;
        size_t cut = (size_t)(slash - current);
        current[cut < stop ? stop : cut] = '\0';
    }
    return smallest;
}

/* One walk per hierarchy serves both the quota and where it binds, so the
 * throttle meter reads the cpu.stat of the very cgroup the quota came from.
 * The smaller of v2 and v1 wins; on a tie v1, which on a hybrid host is where
 * the cpu controller (and so its cpu.stat) lives. */
double conan_cgroup_cpu_quota_dir(const struct conan_cgroup *cg, char *dir, size_t len)
{
    char v2_where[PATH_MAX], v1_where[PATH_MAX];
    double v2 = smallest_limit_up_to_mount(cg->v2_dir, cg->v2_mount, v2_limit_in, v2_where);
    double v1 = smallest_limit_up_to_mount(cg->cpu_v1_dir, cg->cpu_v1_mount, v1_limit_in, v1_where);
    bool use_v1 = v1 > 0 && (v2 <= 0 || v1 <= v2);
    double quota = use_v1 ? v1 : v2;
    if (!dir || len == 0) return quota;
    dir[0] = '\0';
    if (quota <= 0) return 0;
    /* A cut directory would name another cgroup: report none instead. */
    if (!copy_string(dir, len, use_v1 ? v1_where : v2_where)) return 0;
    return quota;
}

double conan_cgroup_cpu_quota(const struct conan_cgroup *cg) { return conan_cgroup_cpu_quota_dir(cg, NULL, 0); }

/* ------------------------------------------------------------ memory limit */

/* Limits this large mean "none" (v1 writes 2^63 rounded down to a page). */
#define NO_MEMORY_LIMIT (1LL << 60)

static double bytes_limit_in(const char *dir, const char *file)
{
    char text[64];
    long long bytes;
    if (!read_small_file(dir, file, text, sizeof text)) return 0;
    if (!parse_long(text, &bytes, NULL) || bytes <= 0 || bytes >= NO_MEMORY_LIMIT) return 0; /* "max" too */
    return (double)bytes;
}

static double v2_memory_in(const char *dir) { return bytes_limit_in(dir, "memory.max"); }
static double v1_memory_in(const char *dir) { return bytes_limit_in(dir, "memory.limit_in_bytes"); }

double conan_cgroup_memory_limit(const struct conan_cgroup *cg)
{
    double v2 = smallest_limit_up_to_mount(cg->v2_dir, cg->v2_mount, v2_memory_in, NULL);
    double v1 = smallest_limit_up_to_mount(cg->mem_v1_dir, cg->mem_v1_mount, v1_memory_in, NULL);
    if (v2 > 0 && v1 > 0) return v2 < v1 ? v2 : v1;
    return v2 > 0 ? v2 : v1;
}
