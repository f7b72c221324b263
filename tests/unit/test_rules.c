/* test_rules.c — the shared trip rule and the hourly budget, table-tested:
 * empty window, zero mean, exact thresholds, abs without warm-up, sustain,
 * cooldown edges, disabled rules, and trips that are observed but not committed. */
#include "check.h"
#include "internal.h"

static const struct conan_rule_config base = {
    .enable = true, .min = 10, .diff = 25, .abs = 70, .window = 3, .sustain = 1, .cooldown_s = 60,
};

struct step {
    double value, now;
    enum conan_reason want;
    bool commit;            /* act on the trip (starts the cooldown) */
};

struct rule_case {
    const char *name;
    struct conan_rule_config cfg;
    struct step steps[12];
    int nsteps;
};

#define NONE CONAN_REASON_NONE
#define ABS CONAN_REASON_ABS
#define SPIKE CONAN_REASON_SPIKE

static struct conan_rule_config with(int window, int sustain, int cooldown, double min, double diff, double abs)
{
    struct conan_rule_config c = base;
    c.window = window;
    c.sustain = sustain;
    c.cooldown_s = cooldown;
    c.min = min;
    c.diff = diff;
    c.abs = abs;
    return c;
}

static void run_case(const struct rule_case *rc)
{
    struct conan_rule_state st;
    conan_rule_reset(&st);
    for (int i = 0; i < rc->nsteps; i++) {
        const struct step *s = &rc->steps[i];
        struct conan_verdict v = conan_rule_observe(&rc->cfg, &st, s->value, s->now);
        if (v.reason != s->want) {
            fprintf(stderr, "case \"%s\" step %d (value %g at %gs): reason %s, want %s\n", rc->name, i, s->value,
                    s->now, conan_reason_name(v.reason), conan_reason_name(s->want));
            check_failures++;
        }
        if (v.reason != NONE && s->commit) conan_rule_commit(&st, s->now);
    }
}

static void test_rule_table(void)
{
    static struct rule_case cases[16];
    int n = 0;
    cases[n++] = (struct rule_case){ "empty window: no spike until the window is full", with(3, 1, 60, 10, 25, 70),
        { { 20, 1, NONE, 1 }, { 40, 2, NONE, 1 }, { 60, 3, NONE, 1 }, { 60, 4, SPIKE, 1 } }, 4 };
    cases[n++] = (struct rule_case){ "abs needs no warm-up", with(3, 1, 60, 10, 25, 70),
        { { 70, 1, ABS, 1 } }, 1 };
    cases[n++] = (struct rule_case){ "exact thresholds: value == abs trips, just below does not",
        with(3, 1, 0, 10, 25, 70), { { 69.999, 1, NONE, 1 }, { 70, 2, ABS, 1 } }, 2 };
    cases[n++] = (struct rule_case){ "exact spike threshold: mean 20, diff 25% -> 25 trips, 24.99 does not",
        with(3, 1, 0, 10, 25, 90),
        { { 20, 1, NONE, 1 }, { 20, 2, NONE, 1 }, { 20, 3, NONE, 1 }, { 24.99, 4, NONE, 1 },
          { 20, 5, NONE, 1 }, { 20, 6, NONE, 1 }, { 20, 7, NONE, 1 }, { 25, 8, SPIKE, 1 } }, 8 };
    cases[n++] = (struct rule_case){ "below min never trips, not even at abs", with(3, 1, 0, 80, 25, 70),
        { { 75, 1, NONE, 1 }, { 79.9, 2, NONE, 1 }, { 80, 3, ABS, 1 } }, 3 };
    cases[n++] = (struct rule_case){ "zero mean: any value >= min is a spike", with(2, 1, 0, 10, 25, 90),
        { { 0, 1, NONE, 1 }, { 0, 2, NONE, 1 }, { 9, 3, NONE, 1 }, { 0, 4, NONE, 1 }, { 0, 5, NONE, 1 },
          { 10, 6, SPIKE, 1 } }, 6 };
    cases[n++] = (struct rule_case){ "abs 0 turns the absolute test off", with(0, 1, 0, 0, 25, 0),
        { { 0, 1, NONE, 1 }, { 1e9, 2, NONE, 1 } }, 2 };
    cases[n++] = (struct rule_case){ "window 0 turns the spike test off", with(0, 1, 0, 10, 25, 90),
        { { 1, 1, NONE, 1 }, { 1, 2, NONE, 1 }, { 80, 3, NONE, 1 }, { 90, 4, ABS, 1 } }, 4 };
    cases[n++] = (struct rule_case){ "sustain 3: trips on the third consecutive tick", with(3, 3, 0, 10, 25, 70),
        { { 80, 1, NONE, 1 }, { 80, 2, NONE, 1 }, { 80, 3, ABS, 1 } }, 3 };
    cases[n++] = (struct rule_case){ "sustain resets when the condition breaks", with(3, 2, 0, 10, 25, 70),
        { { 80, 1, NONE, 1 }, { 5, 2, NONE, 1 }, { 80, 3, NONE, 1 }, { 80, 4, ABS, 1 } }, 4 };
    cases[n++] = (struct rule_case){ "cooldown: quiet until exactly last trip + cooldown_s", with(3, 1, 60, 10, 25, 70),
        { { 80, 100, ABS, 1 }, { 80, 101, NONE, 1 }, { 80, 159.999, NONE, 1 }, { 80, 160, ABS, 1 } }, 4 };
    cases[n++] = (struct rule_case){ "a trip not committed starts no cooldown", with(3, 1, 60, 10, 25, 70),
        { { 80, 1, ABS, 0 }, { 80, 2, ABS, 1 }, { 80, 3, NONE, 1 } }, 3 };
    cases[n++] = (struct rule_case){ "cooldown 0: every qualifying tick trips", with(3, 1, 0, 10, 25, 70),
        { { 80, 1, ABS, 1 }, { 80, 1, ABS, 1 } }, 2 };
    struct conan_rule_config disabled = base;
    disabled.enable = false;
    cases[n++] = (struct rule_case){ "disabled rule never trips", disabled, { { 100, 1, NONE, 1 } }, 1 };
    cases[n++] = (struct rule_case){ "window mean is of the previous values only", with(2, 1, 0, 10, 100, 95),
        /* 39 after 10, 30 (mean 20, needs 40) does not trip; 20 after 10, 10 does */
        { { 10, 1, NONE, 1 }, { 30, 2, NONE, 1 }, { 39, 3, NONE, 1 }, { 10, 4, NONE, 1 }, { 10, 5, NONE, 1 },
          { 20, 6, SPIKE, 1 } }, 6 };
    for (int i = 0; i < n; i++) run_case(&cases[i]);
}

static void test_verdict_reports_mean(void)
{
    struct conan_rule_config cfg = with(2, 1, 0, 10, 25, 90);
    struct conan_rule_state st;
    conan_rule_reset(&st);
    conan_rule_observe(&cfg, &st, 10, 1);
    struct conan_verdict v = conan_rule_observe(&cfg, &st, 20, 2);
    CHECK(!v.window_full);
    v = conan_rule_observe(&cfg, &st, 50, 3);
    CHECK(v.window_full);
    CHECK_NEAR(v.mean, 15, 1e-9);
    CHECK_INT(v.reason, SPIKE);
}

static void test_cooling_flag(void)
{
    struct conan_rule_config cfg = with(3, 1, 60, 10, 25, 70);
    struct conan_rule_state st;
    conan_rule_reset(&st);
    struct conan_verdict v = conan_rule_observe(&cfg, &st, 90, 0);
    conan_rule_commit(&st, 0);
    v = conan_rule_observe(&cfg, &st, 90, 10);
    CHECK(v.cooling);
    CHECK_INT(v.reason, NONE);
}

static void test_budget(void)
{
    static struct conan_budget b;
    CHECK(conan_budget_allows(&b, 2, 0, 1));
    conan_budget_spend(&b, 2, 0, 1);
    conan_budget_spend(&b, 2, 10, 1);
    CHECK(!conan_budget_allows(&b, 2, 20, 1));
    CHECK(!conan_budget_allows(&b, 2, 3599.9, 1));  /* the first is not yet an hour old */
    CHECK(conan_budget_allows(&b, 2, 3600, 1));     /* now it is */
    conan_budget_spend(&b, 2, 3600, 1);
    CHECK(!conan_budget_allows(&b, 2, 3605, 1));
    CHECK(conan_budget_allows(&b, 2, 7210, 2));     /* both aged out */
    CHECK(!conan_budget_allows(&b, 0, 0, 1));       /* zero budget allows nothing */
}

int main(void)
{
    test_rule_table();
    test_verdict_reports_mean();
    test_cooling_flag();
    test_budget();
    CHECK_DONE();
}
