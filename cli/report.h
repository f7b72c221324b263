/* report.h — what top, diff and flame compute from a profile (report.c): each
 * function's flat and cum value as go tool pprof counts them at function
 * granularity, and values printed in pprof's units. */
#ifndef CONAN_CLI_REPORT_H
#define CONAN_CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"

struct report_row {
    uint32_t name;            /* profile name index */
    int64_t flat, cum;
};

struct report {
    struct report_row *row;   /* functions seen in kept samples */
    size_t nrow;
    int64_t total;            /* sum of |value| over all samples, as pprof's total */
    int64_t kept_total;       /* sum of |value| over the samples the filter kept */
    size_t kept;              /* samples the filter kept */
};

/* Flat (leaf) and cum (once per sample, however often the function recurs)
 * per function name over the samples the filter keeps, for sample type `type`. */
int report_build(const struct profile *p, int type, const struct profile_filter *filter, struct report *r);
/* Orders rows as pprof -top does: by |flat| (or |cum|), then name. */
void report_sort(const struct profile *p, struct report *r, bool by_cum);
void report_free(struct report *r);

/* a + b and |v|, saturating at the int64 limits instead of overflowing: for
 * every sum of a profile's values (which may hold anything up to INT64_MAX). */
int64_t report_add(int64_t a, int64_t b);
int64_t report_abs(int64_t v);

/* A value in pprof's notation: auto-scaled ns..hrs, B..PB, plain counts. */
void report_format_value(int64_t value, const char *unit, char *out, size_t len);
/* The unit pprof scales `unit` to ("ns" or "B") and the factor that takes a
 * value there (1e3 for "microseconds"), or NULL for counts: for pages that
 * format values themselves (flame). */
const char *report_unit_base(const char *unit, double *factor);
/* A share in pprof's notation ("12.34%", " 0.5%", "  100%"). */
void report_format_percent(int64_t value, int64_t total, char *out, size_t len);

/* Whether stdout should get colour: a terminal, and NO_COLOR unset. */
bool report_colour(FILE *out);
/* A JSON string literal for s (quotes included), written to out: valid JSON
 * whatever the bytes (invalid UTF-8 becomes U+FFFD) and safe inside an HTML
 * <script> element (< > & ' and U+2028/9 escaped). */
void report_json_string(FILE *out, const char *s);
/* s for a text table: control characters (a newline in a name) as '?'. */
void report_text(FILE *out, const char *s);

#endif
