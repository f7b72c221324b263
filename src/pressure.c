/* pressure.c — owns turning the kernel's cumulative stall counters into a
 * share of one monitor tick: CPU throttling from the binding cgroup's
 * cpu.stat, and pressure stalls (PSI) from the cgroup's or the host's
 * <resource>.pressure files.
 *
 * Design: both sources are counters that only grow, so each meter keeps the
 * previous reading and reports the growth since; the first reading primes, and
 * a counter that went backwards (the cgroup was removed and made again) primes
 * anew rather than reporting a negative or wrapped share. Opening picks the
 * files once; a tick costs one open/read/close per file into a stack buffer
 * and a parse of text that is never modified, bounded by its NUL: nothing is
 * allocated and odd text is skipped, never trusted. Monitor thread only. */
#include "pressure.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "procfs.h"

/* cpu.stat holds about ten short lines (v2 with burst and force-idle keys),
 * a pressure file two: room to spare, whole lines kept if ever outgrown. */
#define CPU_STAT_BUFFER_SIZE 2048
#define PSI_BUFFER_SIZE 512

#define NANOS_PER_SECOND 1e9
#define MICROS_PER_SECOND 1e6

/* ------------------------------------------------------------ text reading */

/* The line at *cursor (without its newline) as [*line, *line + *len), moving
 * the cursor past it. False at the end of the text. */
static bool next_line(const char **cursor, const char **line, size_t *len)
{
    const char *p = *cursor;
    if (*p == '\0') return false;
    const char *newline = strchr(p, '\n');
    *line = p;
    *len = newline ? (size_t)(newline - p) : strlen(p);
    *cursor = newline ? newline + 1 : p + *len;
    return true;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* An unsigned decimal at p that ends at a blank or at end (the end of its
 * line). The first character must be a digit: strtoull would otherwise skip
 * blanks and newlines into the next line, or take "-1" for a huge value. */
static bool parse_counter(const char *p, const char *end, uint64_t *value)
{
    if (p >= end || !is_digit(*p)) return false;
    char *after;
    errno = 0;
    unsigned long long v = strtoull(p, &after, 10);
    if (errno != 0 || after > end || (after < end && !is_blank(*after))) return false;
    *value = v;
    return true;
}

/* Does the word [word, word + len) spell key exactly? */
static bool word_is(const char *word, size_t len, const char *key)
{
    return strlen(key) == len && memcmp(word, key, len) == 0;
}

/* Length of the word at p, up to a blank or end. */
static size_t word_length(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && !is_blank(*q)) q++;
    return (size_t)(q - p);
}

/* ------------------------------------------------------------------ cpu.stat */

/* Which counters a cpu.stat text held, while it is parsed. */
struct cpu_stat_seen {
    bool periods, throttled;
};

/* One "key value" line of cpu.stat; unknown keys and bad values are skipped. */
static void parse_cpu_stat_line(const char *line, size_t len, struct conan_cpu_stat *out, struct cpu_stat_seen *seen)
{
    const char *end = line + len;
    size_t key_len = word_length(line, end);
    const char *value_at = line + key_len;
    while (value_at < end && is_blank(*value_at)) value_at++;
    uint64_t value;
    if (!parse_counter(value_at, end, &value)) return;
    if (word_is(line, key_len, "nr_periods")) {
        out->periods = value;
        seen->periods = true;
    } else if (word_is(line, key_len, "nr_throttled")) {
        out->throttled = value;
        seen->throttled = true;
    } else if (word_is(line, key_len, "throttled_time")) { /* v1: nanoseconds */
        out->throttled_s = (double)value / NANOS_PER_SECOND;
    } else if (word_is(line, key_len, "throttled_usec")) { /* v2: microseconds */
        out->throttled_s = (double)value / MICROS_PER_SECOND;
    }
}

bool conan_cpu_stat_parse(const char *text, struct conan_cpu_stat *out)
{
    memset(out, 0, sizeof *out);
    struct cpu_stat_seen seen = { false, false };
    const char *cursor = text, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) parse_cpu_stat_line(line, len, out, &seen);
    return seen.periods && seen.throttled;
}

/* ------------------------------------------------------------ throttle meter */

/* The cpu.stat beside the quota that binds: throttling is counted in the
 * cgroup whose bandwidth ran out, which may be an ancestor of ours. */
bool conan_throttle_meter_open(struct conan_throttle_meter *m, const struct conan_cgroup *cg)
{
    memset(m, 0, sizeof *m);
    if (!cg) return false;
    char dir[PATH_MAX];
    if (conan_cgroup_cpu_quota_dir(cg, dir, sizeof dir) <= 0) return false;
    if (conan_format(m->path, sizeof m->path, "%s/cpu.stat", dir)) return true;
    m->path[0] = '\0'; /* a cut path names another file */
    return false;
}

bool conan_throttle_meter_refresh(struct conan_throttle_meter *m, const struct conan_cgroup *cg)
{
    struct conan_throttle_meter fresh;
    conan_throttle_meter_open(&fresh, cg);
    if (strcmp(fresh.path, m->path) == 0) return false;
    *m = fresh; /* unprimed: its next read primes it */
    return true;
}

static bool cpu_stat_went_back(const struct conan_cpu_stat *now, const struct conan_cpu_stat *last)
{
    return now->periods < last->periods || now->throttled < last->throttled || now->throttled_s < last->throttled_s;
}

bool conan_throttle_meter_read(struct conan_throttle_meter *m, double *percent, double *throttled_s)
{
    *percent = *throttled_s = 0;
    char text[CPU_STAT_BUFFER_SIZE];
    struct conan_cpu_stat now;
    if (!m->path[0] || !conan_read_small_text(m->path, text, sizeof text) || !conan_cpu_stat_parse(text, &now)) {
        m->primed = false; /* a gap would lump ticks together */
        return false;
    }
    bool measure = m->primed && !cpu_stat_went_back(&now, &m->last);
    struct conan_cpu_stat last = m->last;
    m->last = now;
    m->primed = true;
    if (!measure) return false;

    uint64_t periods = now.periods - last.periods, throttled = now.throttled - last.throttled;
    if (periods > 0) *percent = throttled >= periods ? 100 : 100.0 * (double)throttled / (double)periods;
    *throttled_s = now.throttled_s - last.throttled_s;
    return true;
}

/* ---------------------------------------------------------------------- PSI */

const char *conan_psi_name(enum conan_psi_resource r)
{
    switch (r) {
    case CONAN_PSI_CPU: return "cpu";
    case CONAN_PSI_MEMORY: return "memory";
    case CONAN_PSI_IO: return "io";
    default: return "?";
    }
}

/* The total= field of a "some"/"full" line whose first word has been read;
 * the avg fields before it are the kernel's lagging averages, not used. */
static bool psi_line_total(const char *p, const char *end, uint64_t *total)
{
    static const char field[] = "total=";
    while (p < end) {
        while (p < end && is_blank(*p)) p++;
        size_t len = word_length(p, end);
        if (len > sizeof field - 1 && memcmp(p, field, sizeof field - 1) == 0)
            return parse_counter(p + sizeof field - 1, p + len, total);
        p += len;
    }
    return false;
}

bool conan_psi_parse(const char *text, uint64_t *some_us, uint64_t *full_us)
{
    *some_us = *full_us = 0;
    bool have_some = false;
    const char *cursor = text, *line;
    size_t len;
    while (next_line(&cursor, &line, &len)) {
        const char *end = line + len;
        size_t word = word_length(line, end);
        if (word_is(line, word, "some"))
            have_some = psi_line_total(line + word, end, some_us) || have_some;
        else if (word_is(line, word, "full") && !psi_line_total(line + word, end, full_us))
            *full_us = 0;
    }
    return have_some;
}

/* The "some" total of a pressure file; false if unreadable (PSI switched off
 * reads as EOPNOTSUPP) or not a pressure text. */
static bool psi_read_some(const char *path, uint64_t *some_us)
{
    char text[PSI_BUFFER_SIZE];
    uint64_t full_us;
    return conan_read_small_text(path, text, sizeof text) && conan_psi_parse(text, some_us, &full_us);
}

/* Sets path to "<dir><name><suffix>" if that file reads as a pressure text;
 * otherwise leaves it "". Reading, not just stat(), catches PSI disabled. */
static bool psi_pick(char path[PATH_MAX], const char *dir, const char *name, const char *suffix)
{
    uint64_t some_us;
    if (conan_format(path, PATH_MAX, "%s%s%s", dir, name, suffix) && psi_read_some(path, &some_us)) return true;
    path[0] = '\0';
    return false;
}

static bool is_child_cgroup(const char *dir)
{
    char path[PATH_MAX];
    return conan_format(path, sizeof path, "%scgroup.type", dir) && access(path, F_OK) == 0;
}

/* cg->v2_dir already holds the root prefix (conan_cgroup_resolve put it
 * there), so only the host path is prefixed with root here. */
int conan_psi_meter_open(struct conan_psi_meter *m, const struct conan_cgroup *cg, bool host_fallback, const char *root)
{
    memset(m, 0, sizeof *m);
    if (!root) root = "";
    char cgroup_dir[PATH_MAX], host_dir[PATH_MAX];
    bool have_cgroup = cg && cg->v2_dir[0] && conan_format(cgroup_dir, sizeof cgroup_dir, "%s/", cg->v2_dir);
    /* The root cgroup's pressure files are the whole machine's (a process
     * in the root of a hybrid host's empty v2 tree sees them): they count as
     * none, so only host_fallback reads the machine's, from /proc/pressure.
     * A cgroup namespace's root is a real cgroup of its own, with the
     * cgroup.type file every non-root cgroup has and the true root lacks. */
    if (have_cgroup && !is_child_cgroup(cgroup_dir)) have_cgroup = false;
    bool have_host = host_fallback && conan_format(host_dir, sizeof host_dir, "%s/proc/pressure/", root);
    bool from_cgroup = false, from_host = false;
    int found = 0;
    for (int r = 0; r < CONAN_PSI_COUNT; r++) {
        const char *name = conan_psi_name((enum conan_psi_resource)r);
        if (have_cgroup && psi_pick(m->path[r], cgroup_dir, name, ".pressure")) {
            from_cgroup = true;
        } else if (have_host && psi_pick(m->path[r], host_dir, name, "")) {
            from_host = true;
        } else {
            continue;
        }
        found++;
    }
    m->source = from_cgroup ? "cgroup" : from_host ? "host" : NULL;
    return found;
}

/* One resource's stall share since the previous read, over wall_us of wall
 * time; false (and the resource re-primed or left unprimed) when there is no
 * previous reading to measure from. */
static bool psi_measure(struct conan_psi_meter *m, int r, double wall_us, double *percent)
{
    uint64_t some_us;
    if (!m->path[r][0] || !psi_read_some(m->path[r], &some_us)) {
        m->primed[r] = false; /* a gap would lump ticks together */
        return false;
    }
    bool measure = m->primed[r] && some_us >= m->last_some_us[r] && wall_us > 0;
    uint64_t grown = some_us - m->last_some_us[r];
    m->last_some_us[r] = some_us;
    m->primed[r] = true;
    if (!measure) return false;
    double share = 100.0 * (double)grown / wall_us;
    *percent = share > 100 ? 100 : share; /* the kernel's and our clocks differ a little */
    return true;
}

void conan_psi_meter_read(struct conan_psi_meter *m, double now_s, double percent[CONAN_PSI_COUNT],
                          bool available[CONAN_PSI_COUNT])
{
    double wall_us = (now_s - m->last_wall_s) * MICROS_PER_SECOND;
    for (int r = 0; r < CONAN_PSI_COUNT; r++) {
        percent[r] = 0;
        available[r] = psi_measure(m, r, wall_us, &percent[r]);
    }
    m->last_wall_s = now_s;
}
