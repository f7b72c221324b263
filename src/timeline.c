/* timeline.c — the story around a trip: a ring of the last timeline.ticks
 * monitor ticks of every metric (what the rules saw, as they saw it), and
 * its two written forms, the "timeline" object of an events.jsonl line and
 * one comment line per metric in a profile.
 *
 * No allocation while ticking: the ring is part of the monitor's state,
 * sized for CONAN_TIMELINE_MAX and used up to the configured number. A metric
 * that was not read in a tick (no CPU quota, no PSI, a rule that is off) is
 * NaN there and left out of both forms. Ticks at or before the trip are
 * "before" it; later ones (a CPU window's, when its profile is written at
 * the end) are "during". */
#include "timeline.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void conan_timeline_reset(struct conan_timeline *tl, int ticks)
{
    tl->cap = ticks < 0 ? 0 : ticks > CONAN_TIMELINE_MAX ? CONAN_TIMELINE_MAX : ticks;
    tl->n = tl->next = 0;
}

void conan_timeline_add(struct conan_timeline *tl, const struct conan_tick *t)
{
    if (tl->cap == 0) return;
    tl->tick[tl->next] = *t;
    tl->next = (tl->next + 1) % tl->cap;
    if (tl->n < tl->cap) tl->n++;
}

void conan_timeline_freeze(struct conan_timeline *dst, const struct conan_timeline *src)
{
    for (int i = 0; i < src->n; i++) dst->tick[i] = *conan_timeline_at(src, i);
    dst->n = dst->next = src->n;
    dst->cap = src->cap ? CONAN_TIMELINE_MAX : 0; /* timeline.ticks 0: none, during the window too */
}

void conan_timeline_extend(struct conan_timeline *tl, const struct conan_tick *t)
{
    if (tl->n < tl->cap) conan_timeline_add(tl, t);
}

const struct conan_tick *conan_timeline_at(const struct conan_timeline *tl, int i)
{
    int oldest = (tl->next - tl->n + tl->cap) % tl->cap;
    return &tl->tick[(oldest + i) % tl->cap];
}

/* Every metric a tick has: its name in both forms and where it is. */
static const struct metric {
    const char *json;            /* key in the event's tick objects */
    const char *comment;         /* label of its comment line */
    size_t offset;
} metrics[] = {
    { "cpu_pct", "cpu %", offsetof(struct conan_tick, cpu_percent) },
    { "rss_mib", "rss MiB", offsetof(struct conan_tick, rss_mib) },
    { "heap_mib", "heap MiB", offsetof(struct conan_tick, heap_mib) },
    { "threads", "threads", offsetof(struct conan_tick, threads) },
    { "throttled_pct", "throttled % of periods", offsetof(struct conan_tick, throttled_percent) },
    { "throttled_s", "throttled s", offsetof(struct conan_tick, throttled_s) },
    { "psi_cpu_pct", "cpu pressure %", offsetof(struct conan_tick, pressure[CONAN_PSI_CPU]) },
    { "psi_memory_pct", "memory pressure %", offsetof(struct conan_tick, pressure[CONAN_PSI_MEMORY]) },
    { "psi_io_pct", "io pressure %", offsetof(struct conan_tick, pressure[CONAN_PSI_IO]) },
    { "stuck", "stuck threads", offsetof(struct conan_tick, stuck) },
};
enum { NMETRICS = sizeof metrics / sizeof metrics[0] };

static double metric_of(const struct conan_tick *t, const struct metric *m)
{
    double v;
    memcpy(&v, (const char *)t + m->offset, sizeof v);
    return v;
}

/* Two decimals are plenty for a story, and keep a 60-tick line short. */
static double rounded(double v)
{
    return round(v * 100.0) / 100.0;
}

static cJSON *tick_json(const struct conan_tick *t, double at_s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "wall_s", round(t->wall_s * 1000.0) / 1000.0);
    cJSON_AddNumberToObject(o, "t_s", rounded(t->mono_s - at_s));
    for (int i = 0; i < NMETRICS; i++) {
        double v = metric_of(t, &metrics[i]);
        if (!isnan(v)) cJSON_AddNumberToObject(o, metrics[i].json, rounded(v));
    }
    return o;
}

cJSON *conan_timeline_json(const struct conan_timeline *tl, double at_s, int interval_ms)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "interval_ms", interval_ms);
    cJSON *before = cJSON_AddArrayToObject(o, "before");
    cJSON *during = NULL;
    for (int i = 0; before && i < tl->n; i++) {
        const struct conan_tick *t = conan_timeline_at(tl, i);
        if (t->mono_s > at_s && !during) during = cJSON_AddArrayToObject(o, "during");
        cJSON *list = t->mono_s > at_s ? during : before;
        cJSON *item = list ? tick_json(t, at_s) : NULL;
        if (item) cJSON_AddItemToArray(list, item);
    }
    return o;
}

/* Appends to a line, never past its end (a cut line stays terminated). */
static void append(char *line, size_t size, size_t *used, const char *fmt, double v)
{
    if (*used >= size - 1) return;
    int n = snprintf(line + *used, size - *used, fmt, v);
    if (n > 0) *used += (size_t)n < size - *used ? (size_t)n : size - *used - 1;
}

/* One metric's values, oldest first, "|" where the trip is. */
static void metric_comment(struct conan_pprof *p, const struct conan_timeline *tl, const struct metric *m,
                           double at_s)
{
    char line[CONAN_TIMELINE_MAX * 9 + 64];
    size_t used = 0;
    bool any = false, marked = false;
    line[0] = '\0';
    for (int i = 0; i < tl->n; i++) {
        const struct conan_tick *t = conan_timeline_at(tl, i);
        if (t->mono_s > at_s && !marked) {
            append(line, sizeof line, &used, " |", 0);
            marked = true;
        }
        double v = metric_of(t, m);
        any |= !isnan(v);
        if (isnan(v))
            append(line, sizeof line, &used, " -", 0);
        else
            append(line, sizeof line, &used, v == floor(v) || fabs(v) >= 10 ? " %.0f" : " %.1f", v);
    }
    if (any) conan_pprof_comment(p, "timeline %s:%s", m->comment, line);
}

void conan_timeline_comments(struct conan_pprof *p, const struct conan_timeline *tl, double at_s, int interval_ms)
{
    if (!tl || tl->n == 0) return;
    int before = 0;
    for (int i = 0; i < tl->n; i++) before += conan_timeline_at(tl, i)->mono_s <= at_s;
    conan_pprof_comment(p, "timeline: %d ticks %.1f s apart, oldest first; %d up to the trip%s", tl->n,
                        interval_ms / 1000.0, before, before < tl->n ? ", \"|\" marks it" : "");
    for (int i = 0; i < NMETRICS; i++) metric_comment(p, tl, &metrics[i], at_s);
}
