/* event_text.c — an events.jsonl line told to people (what tripped, for conan
 * ls and the chat webhooks) and to programs (the event plus host and link, for
 * the json webhook and report.exec). One place, so they never disagree. */
#include "event_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The unit a rule's metric is read in: percent of the CPU quota, of the
 * memory limit, of the periods or of the time; MiB of heap; threads counted. */
static const char *metric_unit(const char *metric)
{
    if (strcmp(metric, "heap") == 0) return " MiB";
    if (strcmp(metric, "threads") == 0) return "";
    if (strcmp(metric, "cpu") == 0 || strcmp(metric, "memory") == 0 || strcmp(metric, "throttle") == 0 ||
        strcmp(metric, "mutex") == 0 || strncmp(metric, "pressure.", 9) == 0)
        return "%";
    return "";
}

void event_describe_trip(const cJSON *ev, char *out, size_t len)
{
    const char *reason = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "reason"));
    const char *metric = cJSON_GetStringValue(cJSON_GetObjectItem(ev, "metric"));
    const cJSON *value = cJSON_GetObjectItem(ev, "value"), *mean = cJSON_GetObjectItem(ev, "mean");
    const cJSON *th = cJSON_GetObjectItem(ev, "thresholds");
    const cJSON *abs = cJSON_GetObjectItem(th, "abs"), *diff = cJSON_GetObjectItem(th, "diff");
    const cJSON *after = cJSON_GetObjectItem(th, "after_s"), *stuck = cJSON_GetObjectItem(ev, "stuck");
    if (!reason) reason = "?";
    if (!metric || !metric[0] || !cJSON_IsNumber(value)) {
        snprintf(out, len, "%s", reason);
        return;
    }
    const char *unit = metric_unit(metric);
    if (strcmp(metric, "stuck") == 0) {
        snprintf(out, len, "stuck: %d thread%s for %.0f s (after_s %g)", cJSON_GetArraySize(stuck),
                 cJSON_GetArraySize(stuck) == 1 ? "" : "s", value->valuedouble,
                 cJSON_IsNumber(after) ? after->valuedouble : 0);
    } else if (strcmp(reason, "spike") == 0 && cJSON_IsNumber(mean) && cJSON_IsNumber(diff)) {
        snprintf(out, len, "%s %.3g%s spike over mean %.3g%s (+%g%%)", metric, value->valuedouble, unit,
                 mean->valuedouble, unit, diff->valuedouble);
    } else if (strcmp(reason, "abs") == 0 && cJSON_IsNumber(abs)) {
        snprintf(out, len, "%s %.3g%s >= abs %g%s", metric, value->valuedouble, unit, abs->valuedouble, unit);
    } else {
        snprintf(out, len, "%s %s %.3g%s", metric, reason, value->valuedouble, unit);
    }
}

char *event_payload_json(const cJSON *ev, const char *host, const char *link)
{
    cJSON *o = cJSON_IsObject(ev) ? cJSON_Duplicate(ev, true) : cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "host");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "link");
    char *text = NULL;
    if (cJSON_AddStringToObject(o, "host", host ? host : "") && (!link || cJSON_AddStringToObject(o, "link", link)))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

double event_time(const char *s)
{
    struct tm tm = { 0 };
    int ms = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + ms / 1000.0;
}
