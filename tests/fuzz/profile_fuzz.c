/* profile_fuzz.c — libFuzzer target for the conan tool's pprof reader: arbitrary
 * bytes go through profile_parse (cli/profile.c, what profile_read hands a
 * file's contents to), and a profile it accepts is taken down the whole read
 * path the subcommands take: profile_type_index for every type by name, by
 * index, by default and by a name it lacks; report_build for every sample type
 * with no filter, a --tag filter and a --focus filter; report_sort both ways;
 * report_format_value and report_format_percent on the totals and rows.
 *
 * Every result is checked against what the reader promises its callers (frame
 * and name indexes in range, one value per type, a refusal is one line naming
 * the input). A broken promise calls abort(), which libFuzzer reports as a
 * crash; ASan and UBSan report the rest (signed overflow in sums included). */
#include "profile.h"
#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL "fuzz.pb.gz"
#define ERR_LEN 512        /* what top.c gives profile_read */

static void require(bool ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "profile_fuzz: broken promise: %s\n", what);
    abort();
}

static bool one_line(const char *s, size_t size)
{
    if (!memchr(s, '\0', size)) return false;
    for (const char *c = s; *c; c++)
        if (*c == '\n') return false;
    return true;
}

/* "<label>: <what>", one line. */
static void check_refusal(const char *err)
{
    require(one_line(err, ERR_LEN), "refusal is one NUL-terminated line");
    require(strncmp(err, LABEL ": ", strlen(LABEL ": ")) == 0, "refusal starts with the label");
    require(err[strlen(LABEL ": ")] != '\0', "refusal says what is wrong");
}

static void check_profile(const struct profile *p)
{
    require(p->ntype >= 1 && p->type && p->unit, "at least one sample type");
    require(p->default_type < p->ntype, "default type is one of the types");
    for (size_t i = 0; i < p->ntype; i++) require(p->type[i] && p->unit[i], "type and unit named");
    for (size_t i = 0; i < p->nname; i++) require(p->name[i] != NULL, "every name has text");
    for (size_t i = 0; i < p->ncomment; i++) require(p->comment[i] != NULL, "every comment has text");
    require(p->period_type && p->period_unit, "period type and unit are strings");
    for (size_t i = 0; i < p->nsample; i++) {
        const struct profile_sample *s = &p->sample[i];
        require(s->value != NULL, "a sample has values");
        for (uint32_t k = 0; k < s->nframe; k++) require(s->frame[k] < p->nname, "frame names an interned name");
        for (uint32_t k = 0; k < s->nlabel; k++)
            require(s->label[k].key && s->label[k].unit, "label key and unit are strings");
    }
}

static void check_format(int64_t value, const char *unit)
{
    char out[32], cut[6];
    memset(cut, 'x', sizeof cut);
    report_format_value(value, unit, out, sizeof out);
    require(one_line(out, sizeof out) && out[0] != '\0', "formatted value is one non-empty line");
    report_format_value(value, unit, cut, sizeof cut);
    require(memchr(cut, '\0', sizeof cut) != NULL, "a cut value stays NUL-terminated");
}

static void check_report(const struct profile *p, int type, const struct report *r, bool filtered)
{
    require(r->nrow <= p->nname, "at most one row per name");
    require(r->kept <= p->nsample, "kept at most every sample");
    if (!filtered) require(r->kept == p->nsample, "no filter keeps every sample");
    require(r->total >= 0, "total is a sum of magnitudes");
    for (size_t i = 0; i < r->nrow; i++) {
        require(r->row[i].name < p->nname, "row names an interned name");
        for (size_t k = 0; k < i && k < 4; k++) require(r->row[k].name != r->row[i].name, "rows are distinct");
    }
    const char *unit = p->unit[type];
    char pct[16];
    check_format(r->total, unit);
    for (size_t i = 0; i < r->nrow && i < 8; i++) {
        check_format(r->row[i].flat, unit);
        check_format(r->row[i].cum, unit);
        report_format_percent(r->row[i].cum, r->total, pct, sizeof pct);
        require(one_line(pct, sizeof pct), "formatted share is one line");
    }
}

static void check_sorted(const struct report *r, bool by_cum)
{
    for (size_t i = 1; i < r->nrow; i++) {
        int64_t a = by_cum ? r->row[i - 1].cum : r->row[i - 1].flat;
        int64_t b = by_cum ? r->row[i].cum : r->row[i].flat;
        require(report_abs(a) >= report_abs(b), "rows ordered by magnitude");
    }
}

static void build_and_check(const struct profile *p, int type, const struct profile_filter *f, bool filtered)
{
    struct report r;
    require(report_build(p, type, f, &r) == 0, "report_build succeeds on an accepted profile");
    check_report(p, type, &r, filtered);
    report_sort(p, &r, false);
    check_sorted(&r, false);
    report_sort(p, &r, true);
    check_sorted(&r, true);
    report_free(&r);
}

static void check_types(const struct profile *p)
{
    char err[ERR_LEN];
    require(profile_type_index(p, NULL, err, sizeof err) == (int)p->default_type, "NULL names the default");
    for (size_t i = 0; i < p->ntype; i++) {
        int at = profile_type_index(p, p->type[i], err, sizeof err);
        require(at >= 0 && (size_t)at < p->ntype && strcmp(p->type[at], p->type[i]) == 0, "a type's name finds it");
    }
    char index[24];
    snprintf(index, sizeof index, "%zu", p->ntype - 1);
    require(profile_type_index(p, index, err, sizeof err) >= 0, "the last index names a type");
    int missing = profile_type_index(p, "no such type \x01", err, sizeof err);
    if (missing < 0) require(one_line(err, sizeof err), "a missing type's message is one line");
}

/* A tag filter on the first label the profile has (so it keeps something).
 * The filter keeps pointers into arg, as into argv: arg outlives it. */
static void tag_filter(const struct profile *p, struct profile_filter *f, char *arg, size_t arglen)
{
    char err[ERR_LEN];
    for (size_t i = 0; i < p->nsample; i++) {
        const struct profile_sample *s = &p->sample[i];
        if (!s->nlabel || !s->label[0].key[0] || strchr(s->label[0].key, '=')) continue;
        if (s->label[0].str) snprintf(arg, arglen, "%s=%s", s->label[0].key, s->label[0].str);
        else snprintf(arg, arglen, "%s=%lld", s->label[0].key, (long long)s->label[0].num);
        require(profile_filter_tag(f, arg, err, sizeof err) == 0, "KEY=VALUE parses");
        return;
    }
    require(profile_filter_tag(f, "thread=main", err, sizeof err) == 0, "KEY=VALUE parses");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct profile_filter focus;
    static bool focus_ready;
    char err[ERR_LEN];
    if (!focus_ready) {
        require(profile_filter_focus(&focus, "main|^\\[|alloc", err, sizeof err) == 0, "focus regex compiles");
        focus_ready = true;
    }
    memset(err, 'x', sizeof err);
    struct profile p;
    int rc = profile_parse(data, size, LABEL, &p, err, sizeof err);
    require(rc == 0 || rc == -1, "returns 0 or -1");
    if (rc != 0) {
        check_refusal(err);
        require(p.pb == NULL && p.sample == NULL && p.nsample == 0, "a refused profile holds nothing");
        return 0;
    }
    check_profile(&p);
    check_types(&p);
    struct profile_filter tags = { 0 };
    char tag_arg[128];
    tag_filter(&p, &tags, tag_arg, sizeof tag_arg);
    /* Every type, up to a few dozen (a profile of thousands of empty types would
     * only slow the fuzzer), and the default one in any case. */
    for (size_t t = 0; t < p.ntype; t++) {
        if (t >= 32 && t != p.default_type) continue;
        build_and_check(&p, (int)t, NULL, false);
        build_and_check(&p, (int)t, &tags, true);
        build_and_check(&p, (int)t, &focus, true);
    }
    profile_filter_free(&tags);
    check_format(p.duration_nanos, "nanoseconds");
    check_format(p.period, p.period_unit);
    profile_free(&p);
    return 0;
}
