/* top.c — conan top: the go tool pprof -top table (flat, flat%, sum%, cum,
 * cum%, name) under a header of the profile's type, time, duration and
 * comments. The numbers are pprof's (report.c counts as pprof does); --json
 * gives them unformatted for scripts. */
#include "conan.h"
#include "profile.h"
#include "report.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
    "usage: conan top FILE [-n N] [--sample-index NAME] [--cum] [--tag KEY=VALUE]... [--focus REGEX] [--json]\n"
    "\n"
    "The functions of a pprof profile (gzipped or not, any producer) by flat value,\n"
    "as go tool pprof -top prints them, under the profile's comments.\n"
    "\n"
    "  -n N                 only the first N rows (default: all)\n"
    "  --sample-index NAME  the value to show (e.g. inuse_space, alloc_space, samples);\n"
    "                       default: the profile's default, else its last type\n"
    "  --cum                order by cum instead of flat\n"
    "  --tag KEY=VALUE      only samples with this label (repeatable: all must match)\n"
    "  --focus REGEX        only samples with a frame matching REGEX (POSIX extended)\n"
    "  --json               rows as JSON with raw values in the sample type's unit\n";

static void print_header(const struct profile *p, const struct report *r, const char *path, int type, bool colour)
{
    printf("%sFile: %s%s\n", colour ? "\033[1m" : "", path, colour ? "\033[0m" : "");
    printf("Type: %s\n", p->type[type]);
    if (p->time_nanos > 0) {
        time_t t = (time_t)(p->time_nanos / 1000000000);
        struct tm utc;
        char when[64];
        gmtime_r(&t, &utc);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &utc);
        printf("Time: %s\n", when);
    }
    if (p->duration_nanos > 0) {
        char d[32], t[32], pct[16];
        report_format_value(p->duration_nanos, "nanoseconds", d, sizeof d);
        report_format_value(r->total, p->unit[type], t, sizeof t);
        report_format_percent(r->total, p->duration_nanos, pct, sizeof pct);
        if (strcmp(p->unit[type], "nanoseconds") == 0)
            printf("Duration: %s, Total samples = %s (%s)\n", d, t, pct + strspn(pct, " "));
        else
            printf("Duration: %s\n", d);
    }
    for (size_t i = 0; i < p->ncomment; i++) {
        report_text(stdout, p->comment[i]);
        putchar('\n');
    }
}

static void print_json(const struct profile *p, const struct report *r, int type, size_t rows)
{
    printf("{\"type\":");
    report_json_string(stdout, p->type[type]);
    printf(",\"unit\":");
    report_json_string(stdout, p->unit[type]);
    printf(",\"total\":%lld,\"kept_total\":%lld,\"samples\":%zu,\"comments\":[", (long long)r->total,
           (long long)r->kept_total, r->kept);
    for (size_t i = 0; i < p->ncomment; i++) {
        if (i) putchar(',');
        report_json_string(stdout, p->comment[i]);
    }
    printf("],\"functions\":%zu,\"rows\":[", r->nrow);
    for (size_t i = 0; i < rows; i++) {
        printf("%s{\"name\":", i ? "," : "");
        report_json_string(stdout, p->name[r->row[i].name]);
        printf(",\"flat\":%lld,\"cum\":%lld}", (long long)r->row[i].flat, (long long)r->row[i].cum);
    }
    printf("]}\n");
}

/* Rows with no value under the chosen type (an allocation site whose blocks
 * are all freed, under inuse_space) left out of the table, order kept; how
 * many. --json keeps them, as pprof -nodefraction=0 does. */
static size_t drop_empty_rows(struct report *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->nrow; i++)
        if (r->row[i].flat != 0 || r->row[i].cum != 0) r->row[kept++] = r->row[i];
    size_t dropped = r->nrow - kept;
    r->nrow = kept;
    return dropped;
}

static void print_table(const struct profile *p, const struct report *r, int type, size_t rows, size_t dropped,
                        bool colour)
{
    const char *unit = p->unit[type];
    char total[32], shown[32], pct[16];
    int64_t shown_flat = 0;
    for (size_t i = 0; i < rows; i++) shown_flat = report_add(shown_flat, r->row[i].flat);
    report_format_value(r->total, unit, total, sizeof total);
    report_format_value(shown_flat, unit, shown, sizeof shown);
    report_format_percent(shown_flat, r->total, pct, sizeof pct);
    printf("Showing nodes accounting for %s, %s of %s total\n", shown, pct[0] == ' ' ? pct + strspn(pct, " ") : pct,
           total);
    if (dropped) printf("Dropped %zu functions with no %s\n", dropped, p->type[type]);
    if (rows < r->nrow) printf("Showing top %zu nodes out of %zu\n", rows, r->nrow);
    printf("%s%10s %5s%% %5s%% %10s %5s%%%s\n", colour ? "\033[1m" : "", "flat", "flat", "sum", "cum", "cum",
           colour ? "\033[0m" : "");
    int64_t sum = 0;
    for (size_t i = 0; i < rows; i++) {
        const struct report_row *row = &r->row[i];
        char flat[32], flat_pct[16], sum_pct[16], cum[32], cum_pct[16];
        sum = report_add(sum, row->flat);
        report_format_value(row->flat, unit, flat, sizeof flat);
        report_format_percent(row->flat, r->total, flat_pct, sizeof flat_pct);
        report_format_percent(sum, r->total, sum_pct, sizeof sum_pct);
        report_format_value(row->cum, unit, cum, sizeof cum);
        report_format_percent(row->cum, r->total, cum_pct, sizeof cum_pct);
        printf("%10s %s %s %10s %s  ", flat, flat_pct, sum_pct, cum, cum_pct);
        report_text(stdout, p->name[row->name]);
        putchar('\n');
    }
}

int cmd_top(int argc, char **argv)
{
    static const struct option options[] = {
        { "sample-index", required_argument, NULL, 's' }, { "cum", no_argument, NULL, 'c' },
        { "tag", required_argument, NULL, 't' },          { "focus", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },               { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct profile_filter filter = { 0 };
    const char *sample_index = NULL;
    long max_rows = -1;
    bool by_cum = false, json = false;
    char err[512];
    int c, status = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if ((max_rows = cli_parse_count("top", "-n", optarg, 1L << 30)) < 0) goto out;
            break;
        case 's': sample_index = optarg; break;
        case 'c': by_cum = true; break;
        case 'j': json = true; break;
        case 't':
        case 'f':
            if (cli_filter_option("top", c, optarg, &filter) != 0) goto out;
            break;
        case 'h': status = cli_help(help); goto out;
        default: cli_usage_error("top", "unknown option"); goto out;
        }
    }
    if (optind != argc - 1) {
        cli_usage_error("top", "expected one profile file");
        goto out;
    }
    const char *path = argv[optind];
    struct profile p;
    status = EXIT_FAIL;
    if (profile_read(path, &p, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto out;
    }
    int type = profile_type_index(&p, sample_index, err, sizeof err);
    struct report r;
    if (type < 0) {
        cli_error("%s: %s", path, err);
    } else if (report_build(&p, type, &filter, &r) != 0) {
        cli_error("%s: out of memory", path);
    } else {
        report_sort(&p, &r, by_cum);
        size_t dropped = json ? 0 : drop_empty_rows(&r);
        size_t rows = max_rows >= 0 && (size_t)max_rows < r.nrow ? (size_t)max_rows : r.nrow;
        if (json) {
            print_json(&p, &r, type, rows);
        } else {
            bool colour = report_colour(stdout);
            print_header(&p, &r, path, type, colour);
            print_table(&p, &r, type, rows, dropped, colour);
        }
        report_free(&r);
        status = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
    }
    profile_free(&p);
out:
    profile_filter_free(&filter);
    return status;
}
