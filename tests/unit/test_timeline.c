/* test_timeline.c — the ring keeps the last timeline.ticks ticks in order,
 * and the event's form splits them at the trip, leaves unread metrics out
 * and keeps the values the rules saw. */
#include "check.h"
#include "timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct conan_tick tick_at(double mono_s, double cpu)
{
    struct conan_tick t = { .mono_s = mono_s, .wall_s = 1000 + mono_s, .cpu_percent = cpu, .rss_mib = 10,
                            .heap_mib = NAN, .threads = 4, .throttled_percent = NAN, .throttled_s = NAN,
                            .stuck = NAN };
    for (int i = 0; i < CONAN_PSI_COUNT; i++) t.pressure[i] = NAN;
    return t;
}

static void ring_keeps_the_last_ticks_oldest_first(void)
{
    static struct conan_timeline tl;
    conan_timeline_reset(&tl, 5);
    for (int i = 0; i < 12; i++) {
        struct conan_tick t = tick_at(i, i * 10);
        conan_timeline_add(&tl, &t);
    }
    CHECK_INT(tl.n, 5);
    for (int i = 0; i < 5; i++) CHECK_NEAR(conan_timeline_at(&tl, i)->mono_s, 7 + i, 1e-9);
    conan_timeline_reset(&tl, 0); /* off: nothing kept */
    struct conan_tick t = tick_at(1, 1);
    conan_timeline_add(&tl, &t);
    CHECK_INT(tl.n, 0);
    conan_timeline_reset(&tl, CONAN_TIMELINE_MAX + 50); /* capped */
    CHECK_INT(tl.cap, CONAN_TIMELINE_MAX);
}

static void event_form_splits_at_the_trip(void)
{
    static struct conan_timeline tl;
    conan_timeline_reset(&tl, 10);
    for (int i = 1; i <= 6; i++) {
        struct conan_tick t = tick_at(i * 5.0, i == 4 ? 87.654 : 5);
        if (i >= 4) t.throttled_percent = 40; /* read from the fourth tick on */
        conan_timeline_add(&tl, &t);
    }
    cJSON *o = conan_timeline_json(&tl, 20.0, 5000); /* the trip was the fourth tick's */
    CHECK(o != NULL);
    CHECK_INT(cJSON_GetObjectItem(o, "interval_ms")->valueint, 5000);
    const cJSON *before = cJSON_GetObjectItem(o, "before"), *during = cJSON_GetObjectItem(o, "during");
    CHECK_INT(cJSON_GetArraySize(before), 4);
    CHECK_INT(cJSON_GetArraySize(during), 2);
    const cJSON *trip = cJSON_GetArrayItem(before, 3);
    CHECK_NEAR(cJSON_GetObjectItem(trip, "t_s")->valuedouble, 0, 1e-9);
    CHECK_NEAR(cJSON_GetObjectItem(trip, "cpu_pct")->valuedouble, 87.65, 1e-9);
    CHECK_NEAR(cJSON_GetObjectItem(trip, "throttled_pct")->valuedouble, 40, 1e-9);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(before, 0), "throttled_pct") == NULL); /* NaN: left out */
    CHECK(cJSON_GetObjectItem(trip, "heap_mib") == NULL);
    CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetArrayItem(before, 0), "t_s")->valuedouble, -15, 1e-9);
    CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetArrayItem(during, 1), "t_s")->valuedouble, 10, 1e-9);
    cJSON_Delete(o);
    /* An instant dump (no later ticks): no "during". */
    o = conan_timeline_json(&tl, 30.0, 5000);
    CHECK(cJSON_GetObjectItem(o, "during") == NULL);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(o, "before")), 6);
    cJSON_Delete(o);
}

/* A window's copy keeps every tick before the trip however many come during
 * it, within CONAN_TIMELINE_MAX; timeline.ticks 0 keeps none, during a window
 * too. */
static void window_copy_keeps_the_ticks_before(void)
{
    static struct conan_timeline live, window;
    conan_timeline_reset(&live, 3);
    for (int i = 0; i < 5; i++) {
        struct conan_tick t = tick_at(i, 1);
        conan_timeline_add(&live, &t);
    }
    conan_timeline_freeze(&window, &live);
    for (int i = 5; i < 15; i++) {
        struct conan_tick t = tick_at(i, 2);
        conan_timeline_extend(&window, &t);
    }
    CHECK_INT(window.n, 13);
    CHECK_NEAR(conan_timeline_at(&window, 0)->mono_s, 2, 1e-9);
    CHECK_NEAR(conan_timeline_at(&window, 12)->mono_s, 14, 1e-9);
    conan_timeline_reset(&live, 0);
    conan_timeline_freeze(&window, &live);
    struct conan_tick t = tick_at(20, 2);
    conan_timeline_extend(&window, &t);
    CHECK_INT(window.n, 0);
}

int main(void)
{
    ring_keeps_the_last_ticks_oldest_first();
    event_form_splits_at_the_trip();
    window_copy_keeps_the_ticks_before();
    CHECK_DONE();
}
