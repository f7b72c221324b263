/* timeline.h — the last timeline.ticks monitor ticks of every metric, in a
 * fixed ring, for the events and the profile comments (timeline.c). Written
 * by the monitor thread only, read by it when it writes a dump. */
#ifndef CONAN_TIMELINE_H
#define CONAN_TIMELINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include "pprof.h"
#include "pressure.h"

#define CONAN_TIMELINE_MAX 600

/* One tick: what the rules saw. A metric that was not read is NaN. */
struct conan_tick {
    double mono_s, wall_s;
    double cpu_percent;          /* of the usable CPUs */
    double rss_mib;
    double heap_mib;             /* NaN when the heap rule is off */
    double threads;              /* the monitor excluded */
    double throttled_percent;    /* of the CFS periods that ended in the tick; NaN: no quota */
    double throttled_s;
    double pressure[CONAN_PSI_COUNT]; /* stall share (%); NaN: unavailable */
    double stuck;                /* threads stuck now; NaN when the stuck rule is off */
};

struct conan_timeline {
    struct conan_tick tick[CONAN_TIMELINE_MAX];
    int cap, n, next;
};

void conan_timeline_reset(struct conan_timeline *tl, int ticks);
void conan_timeline_add(struct conan_timeline *tl, const struct conan_tick *t);
/* A CPU window's own timeline: dst gets src's ticks, oldest first, with
 * room for CONAN_TIMELINE_MAX in all, so the ticks during the window, added
 * with conan_timeline_extend, never push out those before it (ticks beyond
 * the room are dropped). */
void conan_timeline_freeze(struct conan_timeline *dst, const struct conan_timeline *src);
void conan_timeline_extend(struct conan_timeline *tl, const struct conan_tick *t);
/* The i-th oldest tick kept (0 <= i < tl->n). */
const struct conan_tick *conan_timeline_at(const struct conan_timeline *tl, int i);

/* The event's "timeline" object: {"interval_ms", "before": [ticks up to
 * at_s], "during": [later ticks, if any]}, each tick with wall_s, t_s
 * (seconds from the trip) and the metrics read. NULL on allocation failure. */
cJSON *conan_timeline_json(const struct conan_timeline *tl, double at_s, int interval_ms);
/* The same as profile comments: a header line, then one line per metric
 * with its values oldest first and "|" after the trip's tick. */
void conan_timeline_comments(struct conan_pprof *p, const struct conan_timeline *tl, double at_s, int interval_ms);

#endif
