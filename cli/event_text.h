/* event_text.h — an events.jsonl line told to people and programs (event_text.c):
 * its time, what tripped in a few words (conan ls, the chat webhooks) and the JSON that
 * the json webhook and report.exec receive (the event plus host and link). */
#ifndef CONAN_CLI_EVENT_TEXT_H
#define CONAN_CLI_EVENT_TEXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* An event's "time" ("2026-12-06T11:24:07.834Z") as Unix seconds; -1 when s
 * is NULL or not that form. */
double event_time(const char *s);

/* What tripped, in a few words: "cpu 49.3% spike over mean 0.1% (+25%)",
 * "heap 52 MiB >= abs 48 MiB", "stuck: 2 threads for 31 s (after_s 30)", or the
 * reason alone ("on-demand") when the event names no metric. */
void event_describe_trip(const cJSON *ev, char *out, size_t len);

/* The event object with "host" and, when link is not NULL, "link" added, as
 * one line of JSON (malloc'd; NULL when out of memory). */
char *event_payload_json(const cJSON *ev, const char *host, const char *link);

#endif
