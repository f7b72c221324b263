/* report.c — per-function flat/cum tables and pprof's value notation, shared by
 * top, diff and flame. The counting rule is pprof's: a sample adds its value to
 * the flat of its leaf frame and to the cum of every distinct function on its
 * stack (once, however deep the recursion). The total is the sum of |value|
 * over every sample, filtered or not: as in pprof, a filtered view shows its
 * share of the whole profile. */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Sums saturate at INT64_MIN/INT64_MAX: a profile's values are whatever its
 * producer (or an attacker) wrote, and signed overflow would be undefined
 * behaviour; a saturated total still prints, as the largest value there is. */
int64_t report_add(int64_t a, int64_t b)
{
    int64_t sum;
    if (!__builtin_add_overflow(a, b, &sum)) return sum;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

/* |v|, with |INT64_MIN| (not representable) saturated to INT64_MAX. */
int64_t report_abs(int64_t v)
{
    return v >= 0 ? v : v == INT64_MIN ? INT64_MAX : -v;
}

int report_build(const struct profile *p, int type, const struct profile_filter *filter, struct report *r)
{
    memset(r, 0, sizeof *r);
    int32_t *row_of = malloc((p->nname ? p->nname : 1) * sizeof *row_of);
    size_t *seen = calloc(p->nname ? p->nname : 1, sizeof *seen); /* sample index + 1 */
    r->row = malloc((p->nname ? p->nname : 1) * sizeof *r->row);
    if (!row_of || !seen || !r->row) {
        free(row_of);
        free(seen);
        free(r->row);
        r->row = NULL;
        return -1;
    }
    for (size_t i = 0; i < p->nname; i++) row_of[i] = -1;
    for (size_t i = 0; i < p->nsample; i++) {
        const struct profile_sample *s = &p->sample[i];
        int64_t v = s->value[type];
        r->total = report_add(r->total, report_abs(v));
        if (filter && !profile_filter_keeps(p, filter, s)) continue;
        r->kept++;
        r->kept_total = report_add(r->kept_total, report_abs(v));
        for (uint32_t k = 0; k < s->nframe; k++) {
            uint32_t n = s->frame[k];
            if (row_of[n] < 0) {
                row_of[n] = (int32_t)r->nrow;
                r->row[r->nrow++] = (struct report_row){ .name = n };
            }
            struct report_row *row = &r->row[row_of[n]];
            if (k == 0) row->flat = report_add(row->flat, v);
            if (seen[n] != i + 1) {
                seen[n] = i + 1;
                row->cum = report_add(row->cum, v);
            }
        }
    }
    free(row_of);
    free(seen);
    return 0;
}

static const struct profile *sort_profile;
static bool sort_by_cum;

static int cmp_rows(const void *a, const void *b)
{
    const struct report_row *x = a, *y = b;
    int64_t xf = report_abs(x->flat), yf = report_abs(y->flat), xc = report_abs(x->cum), yc = report_abs(y->cum);
    int64_t x1 = sort_by_cum ? xc : xf, y1 = sort_by_cum ? yc : yf;
    if (x1 != y1) return x1 > y1 ? -1 : 1;
    int by_name = strcmp(sort_profile->name[x->name], sort_profile->name[y->name]);
    if (by_name) return by_name;
    int64_t x2 = sort_by_cum ? xf : xc, y2 = sort_by_cum ? yf : yc;
    return x2 == y2 ? 0 : x2 > y2 ? -1 : 1;
}

void report_sort(const struct profile *p, struct report *r, bool by_cum)
{
    sort_profile = p;
    sort_by_cum = by_cum;
    qsort(r->row, r->nrow, sizeof *r->row, cmp_rows);
}

void report_free(struct report *r)
{
    free(r->row);
    memset(r, 0, sizeof *r);
}

/* ---- pprof's notation ---- */

struct unit_step {
    const char *name;
    double factor;
};

static const struct unit_step bytes[] = { { "B", 1 }, { "kB", 1024.0 }, { "MB", 1048576.0 },
                                          { "GB", 1073741824.0 }, { "TB", 1099511627776.0 },
                                          { "PB", 1125899906842624.0 }, { NULL, 0 } };
static const struct unit_step times[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
                                          { "hrs", 3600e9 }, { NULL, 0 } };

/* The unit family and the factor of `unit` (pprof's aliases, a plural "s"
 * dropped), or NULL for units it does not scale (counts). */
static const struct unit_step *unit_family(const char *unit, double *factor)
{
    static const struct { const char *alias; const struct unit_step *family; double factor; } alias[] = {
        { "b", bytes, 1 },           { "byte", bytes, 1 },           { "kb", bytes, 1024.0 },
        { "kbyte", bytes, 1024.0 },  { "kilobyte", bytes, 1024.0 },  { "mb", bytes, 1048576.0 },
        { "mbyte", bytes, 1048576.0 }, { "megabyte", bytes, 1048576.0 }, { "gb", bytes, 1073741824.0 },
        { "gbyte", bytes, 1073741824.0 }, { "gigabyte", bytes, 1073741824.0 },
        { "ns", times, 1 },          { "nanosecond", times, 1 },     { "us", times, 1e3 },
        { "microsecond", times, 1e3 }, { "ms", times, 1e6 },         { "millisecond", times, 1e6 },
        { "s", times, 1e9 },         { "sec", times, 1e9 },          { "second", times, 1e9 },
        { "hour", times, 3600e9 },   { "hr", times, 3600e9 },
    };
    char low[32];
    size_t n = strlen(unit);
    if (n >= sizeof low) return NULL;
    for (size_t i = 0; i <= n; i++) low[i] = (char)(unit[i] >= 'A' && unit[i] <= 'Z' ? unit[i] + 32 : unit[i]);
    if (n > 2 && low[n - 1] == 's') low[n - 1] = '\0';
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcmp(low, alias[i].alias) == 0) {
            *factor = alias[i].factor;
            return alias[i].family;
        }
    return NULL;
}

void report_format_value(int64_t value, const char *unit, char *out, size_t len)
{
    double factor = 1;
    const struct unit_step *family = unit_family(unit ? unit : "", &factor);
    double v = fabs((double)value) * factor;
    const char *name = "";
    if (family) {
        double f = 0;
        for (const struct unit_step *u = family; u->name; u++)
            if (u->factor >= f && v / u->factor >= 1.0) {
                f = u->factor;
                name = u->name;
            }
        if (f == 0) {
            f = family == times ? 1e9 : 1; /* pprof's default unit: s, B */
            name = family == times ? "s" : "B";
        }
        v /= f;
    }
    if (value < 0) v = -v;
    char num[64];
    snprintf(num, sizeof num, "%.2f", v);
    size_t n = strlen(num);
    if (n > 3 && strcmp(num + n - 3, ".00") == 0) num[n - 3] = '\0';
    if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0) name = "";
    snprintf(out, len, "%s%s", strcmp(num, "-0") == 0 ? "0" : num, name);
}

const char *report_unit_base(const char *unit, double *factor)
{
    *factor = 1;
    const struct unit_step *family = unit_family(unit ? unit : "", factor);
    return family == times ? "ns" : family == bytes ? "B" : NULL;
}

void report_format_percent(int64_t value, int64_t total, char *out, size_t len)
{
    double ratio = total != 0 ? fabs((double)value / (double)total) * 100 : 0;
    if (ratio >= 99.95 && ratio <= 100.05) snprintf(out, len, "  100%%");
    else if (ratio >= 1.0) snprintf(out, len, "%5.2f%%", ratio);
    else snprintf(out, len, "%5.2g%%", ratio);
}

bool report_colour(FILE *out)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fileno(out)) && !(no && no[0]);
}

/* The length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static int utf8_length(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        unsigned lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf; /* no overlongs, surrogates */
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        unsigned lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* up to U+10FFFF */
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

void report_json_string(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', out);
    while (*s) {
        int n = utf8_length(s);
        if (n == 0) {
            fputs("\\ufffd", out);
            s++;
        } else if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
            fprintf(out, "\\u%04x", 0x2000 | (s[2] & 0x3f));
            s += 3;
        } else if (n == 1 && (*s < 0x20 || *s == 0x7f || strchr("\"\\<>&'", *s))) {
            fprintf(out, "\\u%04x", *s);
            s++;
        } else {
            fwrite(s, 1, (size_t)n, out);
            s += n;
        }
    }
    fputc('"', out);
}

void report_text(FILE *out, const char *s)
{
    for (; *s; s++) fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}
