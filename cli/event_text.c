/* event_text.c — an events.jsonl line told to people (what tripped, for conan
 * ls and the chat webhooks) and to programs (the event plus host and link, for
 * the json webhook and report.exec). One place, so they never disagree. */
#include "event_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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
    } else if (strcmp(metric, "stuck") == 0) {
        snprintf(out, len, "stuck: %d thread%s for %.0f s (after_s %g)", cJSON_GetArraySize(stuck),
                 cJSON_GetArraySize(stuck) == 1 ? "" : "s", value->valuedouble,
                 cJSON_IsNumber(after) ? after->valuedouble : 0);
    } else if (strcmp(reason, "spike") == 0 && cJSON_IsNumber(mean) && cJSON_IsNumber(diff)) {
        snprintf(out, len, "%s %.3g spike over mean %.3g (+%g%%)", metric, value->valuedouble, mean->valuedouble,
                 diff->valuedouble);
    } else if (strcmp(reason, "abs") == 0 && cJSON_IsNumber(abs)) {
        snprintf(out, len, "%s %.3g >= abs %g", metric, value->valuedouble, abs->valuedouble);
    } else {
        snprintf(out, len, "%s %s %.3g", metric, reason, value->valuedouble);
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
