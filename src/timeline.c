/* timeline.c — the ring of the last timeline.ticks monitor ticks (see
 * timeline.h). No allocation: the ring is part of the monitor's state, sized
 * for CONAN_TIMELINE_MAX and used up to the configured number. */
#include "timeline.h"

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

const struct conan_tick *conan_timeline_at(const struct conan_timeline *tl, int i)
{
    int oldest = (tl->next - tl->n + tl->cap) % (tl->cap ? tl->cap : 1);
    return &tl->tick[(oldest + i) % (tl->cap ? tl->cap : 1)];
}
