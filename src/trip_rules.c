/* trip_rules.c — the trip rule every metric shares (when a reading trips a
 * profile: min, abs, spike, sustain, cooldown), and the hourly dump budget.
 * "Trip rules" are these; the "call-frame rules" of frame_rules.c are unwind
 * information, unrelated.
 *
 * Pure code: no clock, no I/O, no globals; the caller passes the value and the
 * time. A rule trips when value >= min and either value >= abs (no warm-up; abs 0
 * means no absolute threshold) or the window of the previous `window` values is
 * full and value >= mean * (1 + diff/100), for `sustain` consecutive ticks, and the rule is not cooling down. Observing and
 * committing are separate so that a trip the monitor cannot act on (budget spent,
 * CPU above the ceiling, a window already running) does not start a cooldown. */
#include "trip_rules.h"
#include "config.h"

const char *conan_reason_name(enum conan_reason reason)
{
    switch (reason) {
    case CONAN_REASON_ABS: return "abs";
    case CONAN_REASON_SPIKE: return "spike";
    case CONAN_REASON_CONTINUOUS: return "continuous";
    case CONAN_REASON_MANUAL: return "manual";
    case CONAN_REASON_NONE: break;
    }
    return "none";
}

void conan_rule_reset(struct conan_rule_state *st)
{
    st->filled = 0;
    st->next = 0;
    st->streak = 0;
    st->has_tripped = false;
    st->last_trip_s = 0;
}

static int window_size(const struct conan_rule_config *cfg)
{
    if (cfg->window < 0) return 0;
    return cfg->window > CONAN_WINDOW_MAX ? CONAN_WINDOW_MAX : cfg->window;
}

static double window_mean(const struct conan_rule_state *st, int size)
{
    double sum = 0;
    for (int i = 0; i < size; i++) sum += st->history[i];
    return size ? sum / size : 0;
}

static void window_push(struct conan_rule_state *st, int size, double value)
{
    if (size == 0) return;
    st->history[st->next] = value;
    st->next = (st->next + 1) % size;
    if (st->filled < size) st->filled++;
}

struct conan_verdict conan_rule_observe(const struct conan_rule_config *cfg,
                                        struct conan_rule_state *st, double value, double now_s)
{
    struct conan_verdict v = { .reason = CONAN_REASON_NONE, .value = value };
    int size = window_size(cfg);

    v.window_full = size > 0 && st->filled == size;
    if (v.window_full) v.mean = window_mean(st, size);
    window_push(st, size, value);

    if (!cfg->enable) {
        st->streak = 0;
        return v;
    }

    enum conan_reason reason = CONAN_REASON_NONE;
    if (value >= cfg->min) {
        if (cfg->abs > 0 && value >= cfg->abs)
            reason = CONAN_REASON_ABS;
        else if (v.window_full && value >= v.mean * (1.0 + cfg->diff / 100.0))
            reason = CONAN_REASON_SPIKE;
    }
    st->streak = reason == CONAN_REASON_NONE ? 0 : st->streak + 1;

    int sustain = cfg->sustain < 1 ? 1 : cfg->sustain;
    if (st->streak < sustain) return v;
    if (st->has_tripped && now_s < st->last_trip_s + cfg->cooldown_s) {
        v.cooling = true;
        return v;
    }
    v.reason = reason;
    return v;
}

void conan_rule_commit(struct conan_rule_state *st, double now_s)
{
    st->has_tripped = true;
    st->last_trip_s = now_s;
    st->streak = 0;
}

/* The budget is a ring of the times of the last per_hour dumps: a new dump is
 * allowed when fewer than per_hour of them are younger than an hour. */
static const double HOUR_S = 3600.0;

static int budget_cap(int per_hour)
{
    if (per_hour < 0) return 0;
    return per_hour > CONAN_BUDGET_MAX ? CONAN_BUDGET_MAX : per_hour;
}

static void budget_expire(struct conan_budget *b, int cap, double now_s)
{
    while (b->count > 0) {
        int oldest = (b->head - b->count + cap) % cap;
        if (now_s - b->when[oldest] < HOUR_S) break;
        b->count--;
    }
}

bool conan_budget_allows(struct conan_budget *b, int per_hour, double now_s, int n)
{
    int cap = budget_cap(per_hour);
    if (cap == 0) return false;
    budget_expire(b, cap, now_s);
    return b->count + n <= cap;
}

void conan_budget_spend(struct conan_budget *b, int per_hour, double now_s, int n)
{
    int cap = budget_cap(per_hour);
    if (cap == 0) return;
    for (int i = 0; i < n; i++) {
        b->when[b->head] = now_s;
        b->head = (b->head + 1) % cap;
        if (b->count < cap) b->count++;
    }
}
