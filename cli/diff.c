/* diff.c — conan diff: two profiles compared by each function's flat share of
 * its profile's total (percentage points), the functions that grew most and
 * shrank most, and a gate for CI: exit 1 when any function's share grew by
 * more than --threshold points. Shares, not absolute values, so a benchmark
 * that ran longer on one side does not trip the gate. */
#include "conan.h"
#include "profile.h"
#include "report.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: conan diff BASE NEW [--sample-index NAME] [--threshold POINTS] [-n N] [--tag KEY=VALUE]...\n"
    "                  [--focus REGEX] [--json]\n"
    "\n"
    "Compares two profiles by each function's flat share of its own profile's\n"
    "total and lists the functions that grew and shrank most. Exits 1 when any\n"
    "function grew by more than the threshold: the CI gate for a benchmark\n"
    "profiled on main and on a branch.\n"
    "\n"
    "  --sample-index NAME   the value compared (default: the profiles' default type)\n"
    "  --threshold POINTS    largest growth allowed, in percentage points (default 5)\n"
    "  -n N                  rows per list (default 10)\n"
    "  --tag, --focus        only samples with that label / a frame matching REGEX\n"
    "  --json                the comparison as JSON\n";

struct side {
    const char *path;
    struct profile p;
    struct report r;
    int type;
};

struct change {
    const char *name;
    double base, now;   /* flat share, percent */
    int64_t base_flat, new_flat;
};

static int cmp_name_rows(const void *a, const void *b, void *arg)
{
    const struct profile *p = arg;
    return strcmp(p->name[((const struct report_row *)a)->name], p->name[((const struct report_row *)b)->name]);
}

static int cmp_delta(const void *a, const void *b)
{
    const struct change *x = a, *y = b;
    double dx = x->now - x->base, dy = y->now - y->base;
    if (dx != dy) return dx > dy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static double share(int64_t flat, int64_t total) { return total ? 100.0 * (double)flat / (double)total : 0; }

/* Both sides' rows merged by name (each sorted by name first). */
static struct change *merge(struct side *b, struct side *n, size_t *count)
{
    qsort_r(b->r.row, b->r.nrow, sizeof *b->r.row, cmp_name_rows, &b->p);
    qsort_r(n->r.row, n->r.nrow, sizeof *n->r.row, cmp_name_rows, &n->p);
    struct change *c = malloc((b->r.nrow + n->r.nrow + 1) * sizeof *c);
    if (!c) return NULL;
    size_t i = 0, j = 0, k = 0;
    while (i < b->r.nrow || j < n->r.nrow) {
        const char *bn = i < b->r.nrow ? b->p.name[b->r.row[i].name] : NULL;
        const char *nn = j < n->r.nrow ? n->p.name[n->r.row[j].name] : NULL;
        int order = !bn ? 1 : !nn ? -1 : strcmp(bn, nn);
        struct change *ch = &c[k++];
        memset(ch, 0, sizeof *ch);
        if (order <= 0) {
            ch->name = bn;
            ch->base_flat = b->r.row[i++].flat;
        }
        if (order >= 0) {
            ch->name = nn;
            ch->new_flat = n->r.row[j++].flat;
        }
        ch->base = share(ch->base_flat, b->r.total);
        ch->now = share(ch->new_flat, n->r.total);
    }
    qsort(c, k, sizeof *c, cmp_delta);
    *count = k;
    return c;
}

static int load(struct side *s, const char *sample_index, const struct profile_filter *f)
{
    char err[512];
    if (profile_read(s->path, &s->p, err, sizeof err) != 0) {
        cli_error("%s", err);
        return -1;
    }
    s->type = profile_type_index(&s->p, sample_index, err, sizeof err);
    if (s->type < 0) {
        cli_error("%s: %s", s->path, err);
        return -1;
    }
    if (report_build(&s->p, s->type, f, &s->r) != 0) {
        cli_error("%s: out of memory", s->path);
        return -1;
    }
    return 0;
}

static void print_row(const struct change *c, bool colour)
{
    double d = c->now - c->base;
    const char *on = colour ? (d > 0 ? "\033[31m" : "\033[32m") : "", *off = colour ? "\033[0m" : "";
    printf("  %s%+7.2f%s  %6.2f%% -> %6.2f%%  ", on, d, off, c->base, c->now);
    report_text(stdout, c->name);
    putchar('\n');
}

static void print_json(const struct side *b, const struct side *n, const struct change *c, size_t count,
                       double threshold, size_t tripped)
{
    printf("{\"type\":");
    report_json_string(stdout, n->p.type[n->type]);
    printf(",\"base\":{\"file\":");
    report_json_string(stdout, b->path);
    printf(",\"total\":%lld},\"new\":{\"file\":", (long long)b->r.total);
    report_json_string(stdout, n->path);
    printf(",\"total\":%lld},\"threshold\":%g,\"tripped\":%zu,\"functions\":[", (long long)n->r.total, threshold,
           tripped);
    for (size_t i = 0; i < count; i++) {
        printf("%s{\"name\":", i ? "," : "");
        report_json_string(stdout, c[i].name);
        printf(",\"base_share\":%.4f,\"new_share\":%.4f,\"delta\":%.4f,\"base_flat\":%lld,\"new_flat\":%lld}",
               c[i].base, c[i].now, c[i].now - c[i].base, (long long)c[i].base_flat, (long long)c[i].new_flat);
    }
    printf("]}\n");
}

static void print_text(const struct side *b, const struct side *n, const struct change *c, size_t count,
                       size_t rows, double threshold, size_t tripped)
{
    bool colour = report_colour(stdout);
    char bt[32], nt[32];
    report_format_value(b->r.total, b->p.unit[b->type], bt, sizeof bt);
    report_format_value(n->r.total, n->p.unit[n->type], nt, sizeof nt);
    printf("base: %s (%s, total %s)\nnew:  %s (%s, total %s)\n", b->path, b->p.type[b->type], bt, n->path,
           n->p.type[n->type], nt);
    printf("%sgrew most (flat share, percentage points):%s\n", colour ? "\033[1m" : "", colour ? "\033[0m" : "");
    size_t shown = 0;
    for (size_t i = 0; i < count && shown < rows && c[i].now - c[i].base > 0.005; i++, shown++) print_row(&c[i], colour);
    if (!shown) printf("  (none)\n");
    printf("%sshrank most:%s\n", colour ? "\033[1m" : "", colour ? "\033[0m" : "");
    shown = 0;
    for (size_t i = count; i-- > 0 && shown < rows && c[i].now - c[i].base < -0.005; shown++) print_row(&c[i], colour);
    if (!shown) printf("  (none)\n");
    if (tripped)
        printf("gate: %zu function%s grew by more than %g points (largest: %s, %+.2f)\n", tripped,
               tripped == 1 ? "" : "s", threshold, c[0].name, c[0].now - c[0].base);
    else
        printf("gate: no function grew by more than %g points\n", threshold);
}

int cmd_diff(int argc, char **argv)
{
    static const struct option options[] = {
        { "sample-index", required_argument, NULL, 's' }, { "threshold", required_argument, NULL, 'T' },
        { "tag", required_argument, NULL, 't' },          { "focus", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },               { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct profile_filter filter = { 0 };
    const char *sample_index = NULL;
    double threshold = 5;
    long rows = 10;
    bool json = false;
    char *end;
    int c, status = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", options, NULL)) != -1) {
        switch (c) {
        case 'n':
            if ((rows = cli_parse_count("diff", "-n", optarg, 1L << 30)) < 0) goto out;
            break;
        case 's': sample_index = optarg; break;
        case 'T':
            threshold = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(threshold) || threshold < 0 || threshold > 100) {
                cli_usage_error("diff", "--threshold %s: expected percentage points from 0 to 100", optarg);
                goto out;
            }
            break;
        case 'j': json = true; break;
        case 't':
        case 'f':
            if (cli_filter_option("diff", c, optarg, &filter) != 0) goto out;
            break;
        case 'h': status = cli_help(help); goto out;
        default: cli_usage_error("diff", "unknown option"); goto out;
        }
    }
    if (argc - optind != 2) {
        cli_usage_error("diff", "expected two profiles, BASE and NEW");
        goto out;
    }
    struct side base = { .path = argv[optind] }, now = { .path = argv[optind + 1] };
    status = EXIT_FAIL;
    if (load(&base, sample_index, &filter) == 0 && load(&now, sample_index, &filter) == 0) {
        if (strcmp(base.p.type[base.type], now.p.type[now.type]) != 0 ||
            strcmp(base.p.unit[base.type], now.p.unit[now.type]) != 0) {
            cli_error("%s is %s/%s but %s is %s/%s: choose one with --sample-index", base.path,
                      base.p.type[base.type], base.p.unit[base.type], now.path, now.p.type[now.type],
                      now.p.unit[now.type]);
        } else {
            size_t count = 0, tripped = 0;
            struct change *ch = merge(&base, &now, &count);
            if (!ch) {
                cli_error("out of memory");
            } else {
                for (size_t i = 0; i < count; i++)
                    if (ch[i].now - ch[i].base > threshold) tripped++;
                if (json) print_json(&base, &now, ch, count, threshold, tripped);
                else print_text(&base, &now, ch, count, (size_t)rows, threshold, tripped);
                status = tripped ? EXIT_FAIL : EXIT_OK;
                free(ch);
            }
        }
    }
    report_free(&base.r);
    report_free(&now.r);
    profile_free(&base.p);
    profile_free(&now.p);
out:
    profile_filter_free(&filter);
    return status;
}
