/* trip_rules.h — trip rules: when a metric trips a profile, and the hourly
 * dump budget (trip_rules.c). Pure functions of their arguments. */
#ifndef CONAN_TRIP_RULES_H
#define CONAN_TRIP_RULES_H

#include <stdbool.h>
#include "config.h"

#define CONAN_WINDOW_MAX 1000

enum conan_reason {
    CONAN_REASON_NONE,
    CONAN_REASON_ABS,
    CONAN_REASON_SPIKE,
    CONAN_REASON_CONTINUOUS,
    CONAN_REASON_MANUAL,
};
const char *conan_reason_name(enum conan_reason reason);

struct conan_rule_state {
    double history[CONAN_WINDOW_MAX];  /* ring of previous values */
    int filled;                        /* how many of history are valid */
    int next;                          /* ring position of the next write */
    int streak;                        /* consecutive ticks the condition held */
    bool has_tripped;
    double last_trip_s;
};

struct conan_verdict {
    enum conan_reason reason;          /* NONE, ABS or SPIKE */
    double value;
    double mean;                       /* mean of the window before this value; 0 if not full */
    bool window_full;
    bool cooling;                      /* condition held but the rule is in cooldown */
};

void conan_rule_reset(struct conan_rule_state *st);
/* Feeds one value at time now_s (seconds, monotonic). Pure: depends only on its
 * arguments. A verdict with a reason means "would trip"; the caller decides
 * whether it acts and, if it does, calls conan_rule_commit. */
struct conan_verdict conan_rule_observe(const struct conan_rule_config *cfg,
                                        struct conan_rule_state *st, double value, double now_s);
void conan_rule_commit(struct conan_rule_state *st, double now_s);

/* Sliding one-hour budget of dumps shared by all kinds. */
#define CONAN_BUDGET_MAX 3600
struct conan_budget {
    double when[CONAN_BUDGET_MAX];     /* ring of dump times (monotonic s) */
    int count, head;
};
bool conan_budget_allows(struct conan_budget *b, int per_hour, double now_s, int n);
void conan_budget_spend(struct conan_budget *b, int per_hour, double now_s, int n);

#endif
