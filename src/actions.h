/* actions.h — the profiles a decision asks for, written (actions.c). */
#ifndef CONAN_ACTIONS_H
#define CONAN_ACTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "context.h"
#include "timeline.h"

struct conan_actions {
    const struct conan_config *cfg;
    const struct conan_context *ctx;
    double memory_limit;                  /* bytes, for the heap profile's comment */
    const char *memory_limit_source;
    const struct conan_timeline *timeline; /* the monitor's, for triggers' events and comments */
    /* the open CPU window */
    double window_end_s;                  /* monotonic */
    int64_t window_wall_start_ns;         /* wall clock */
    struct conan_trigger window_trigger;
    const char *window_note;              /* why it ended early, or NULL */
    struct conan_timeline window_timeline; /* the ticks before it, then during it */
};

/* Writes the heap and thread profiles now and opens a CPU window, as kinds
 * asks (CONAN_WANTS_*); note goes into the heap profile. */
void conan_act(struct conan_actions *a, unsigned kinds, const struct conan_trigger *t, const char *note, double now_s);
/* The monitor's tick t, while a window is open: it joins the window's timeline. */
void conan_act_window_tick(struct conan_actions *a, const struct conan_tick *t);
/* Ends the open window: aggregates its samples into the CPU profile and
 * writes it; note (or NULL) says why it ended early. */
void conan_act_close_window(struct conan_actions *a, const char *note);

#endif
