/* test_webhook.c — conan agent's webhook bodies (cli/agent_webhook.c) and the
 * event text they share with conan ls (cli/event_text.c): Feishu's sign
 * against a vector computed independently (Python's hmac in
 * tests/agent/webhook_receiver.py --sign, and `openssl dgst -hmac`), the
 * bodies' shapes, texts too long for Feishu's 20 KB or Slack's 40,000
 * characters cut on a character boundary while the JSON stays whole, and the
 * reading of Feishu's answers (which codes pause the reporter, one-line
 * messages whatever Feishu says). */
#include "agent_webhook.h"
#include "event_text.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* webhook_receiver.py --sign 1599360473 conan-test-secret */
#define VECTOR_TS "1599360473"
#define VECTOR_SECRET "conan-test-secret"
#define VECTOR_SIGN "VXFt+meYGOJhGzwh7JTCL2dZYJuLOuRmgOzsqGbGsuE="

static const char event_line[] =
    "{\"time\":\"2026-12-06T11:24:07.834Z\",\"pid\":4242,\"app\":\"shop\",\"kind\":\"cpu\",\"reason\":\"spike\","
    "\"metric\":\"cpu\",\"value\":49.3,\"mean\":12.1,\"thresholds\":{\"min\":10,\"diff\":25,\"abs\":0,\"window\":8,"
    "\"sustain\":1},\"file\":\"/tmp/conan/shop.4242.cpu.20261206T112407.1.pb.gz\",\"samples\":812,\"dropped\":0,"
    "\"duration_s\":2.0}";

static struct agent_dump make_dump(const cJSON *ev)
{
    struct agent_dump d = {
        .path = "/tmp/conan/shop.4242.cpu.20261206T112407.1.pb.gz",
        .file = "shop.4242.cpu.20261206T112407.1.pb.gz",
        .dir = "/tmp/conan",
        .app = "shop",
        .kind = "cpu",
        .pid = 4242,
        .host = "web-7",
        .link = "http://web-7:6060/dumps/shop.4242.cpu.20261206T112407.1.pb.gz",
        .event_text = event_line,
        .event = ev,
    };
    return d;
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0) return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80) return false;
    }
    return true;
}

static void test_sign_vector(void)
{
    char sign[64];
    CHECK_INT(agent_feishu_sign(VECTOR_TS, VECTOR_SECRET, sign, sizeof sign), 0);
    CHECK_STR(sign, VECTOR_SIGN);
    CHECK_INT(agent_feishu_sign(VECTOR_TS, VECTOR_SECRET, sign, 20), -1); /* no room for 44 characters */
}

static void test_feishu_body(const cJSON *ev)
{
    struct agent_dump d = make_dump(ev);
    char *body = agent_webhook_body(CONAN_WEBHOOK_FEISHU, &d, VECTOR_SECRET, 1599360473LL);
    cJSON *o = cJSON_Parse(body);
    CHECK(o != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "timestamp")), VECTOR_TS);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "sign")), VECTOR_SIGN);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg_type")), "text");
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "content"), "text"));
    CHECK(text != NULL);
    if (text) {
        CHECK(strstr(text, "cpu profile of shop (pid 4242) on web-7") != NULL);
        CHECK(strstr(text, "cpu 49.3% spike over mean 12.1% (+25%)") != NULL);
        CHECK(strstr(text, "thresholds: min 10, diff 25, window 8, sustain 1") != NULL);
        CHECK(strstr(text, "812 samples over 2.0 s") != NULL);
        CHECK(strstr(text, "dump: http://web-7:6060/dumps/shop.4242.cpu.20261206T112407.1.pb.gz") != NULL);
    }
    CHECK_INT(cJSON_GetArraySize(o), 4);
    cJSON_Delete(o);
    free(body);

    body = agent_webhook_body(CONAN_WEBHOOK_FEISHU, &d, "", 1599360473LL); /* no secret: no timestamp, no sign */
    o = cJSON_Parse(body);
    CHECK(o && !cJSON_GetObjectItem(o, "timestamp") && !cJSON_GetObjectItem(o, "sign"));
    CHECK_INT(cJSON_GetArraySize(o), 2);
    cJSON_Delete(o);
    free(body);
}

/* A note of 30 KB of quotes, newlines and three-byte characters: the text is
 * cut, the JSON is whole and within each service's limit. */
static void test_long_text(void)
{
    size_t n = 30000;
    char *note = malloc(n + 1);
    for (size_t i = 0; i < n;) {
        static const char piece[] = "\"\n\xE9\xA3\x9E"; /* quote, newline, 飞 */
        size_t k = sizeof piece - 1 < n - i ? sizeof piece - 1 : n - i;
        if (k < sizeof piece - 1) memset(note + i, 'x', k);
        else memcpy(note + i, piece, k);
        i += k;
    }
    note[n] = '\0';
    cJSON *ev = cJSON_Parse(event_line);
    cJSON_AddStringToObject(ev, "note", note);
    struct agent_dump d = make_dump(ev);

    char *body = agent_webhook_body(CONAN_WEBHOOK_FEISHU, &d, VECTOR_SECRET, 1599360473LL);
    CHECK(body && strlen(body) <= AGENT_FEISHU_MAX_BODY);
    cJSON *o = cJSON_Parse(body);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "content"), "text"));
    CHECK(text && valid_utf8(text));
    CHECK(text && strlen(text) > AGENT_FEISHU_MAX_BODY / 4); /* cut, not emptied */
    CHECK(text && strcmp(text + strlen(text) - 3, "\xE2\x80\xA6") == 0);
    CHECK(text && strstr(text, "pid 4242") != NULL);
    cJSON_Delete(o);
    free(body);

    body = agent_webhook_body(CONAN_WEBHOOK_SLACK, &d, "", 0);
    o = cJSON_Parse(body);
    text = cJSON_GetStringValue(cJSON_GetObjectItem(o, "text"));
    CHECK(text && strlen(text) <= AGENT_SLACK_MAX_TEXT && valid_utf8(text));
    CHECK_INT(cJSON_GetArraySize(o), 1);
    cJSON_Delete(o);
    free(body);
    cJSON_Delete(ev);
    free(note);
}

static void test_json_body(const cJSON *ev)
{
    struct agent_dump d = make_dump(ev);
    char *body = agent_webhook_body(CONAN_WEBHOOK_JSON, &d, "", 0);
    cJSON *o = cJSON_Parse(body);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "host")), "web-7");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "link")), d.link);
    cJSON_DeleteItemFromObject(o, "host");
    cJSON_DeleteItemFromObject(o, "link");
    CHECK(cJSON_Compare(o, ev, true));
    cJSON_Delete(o);
    free(body);
    d.link = NULL; /* no link_base: no link */
    body = agent_webhook_body(CONAN_WEBHOOK_JSON, &d, "", 0);
    o = cJSON_Parse(body);
    CHECK(o && !cJSON_GetObjectItem(o, "link"));
    cJSON_Delete(o);
    free(body);
}

static bool one_line(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20) return false;
    return true;
}

/* Feishu's answer body to a post, read for webhook[2]: the result, whether
 * the bot itself is refused, and words the one-line message must hold. */
static void check_answer(const char *body, enum agent_result result, bool refused, const char *want1,
                         const char *want2)
{
    struct agent_http_response resp = { .status = 200 };
    snprintf(resp.body, sizeof resp.body, "%s", body);
    struct agent_outcome out;
    memset(&out, 0, sizeof out);
    agent_feishu_answer(2, "webhook[2] feishu https://open.feishu.cn", &resp, &out);
    CHECK_INT(out.result, result);
    CHECK_INT(out.refused, refused);
    CHECK(strncmp(out.message, "webhook[2] feishu https://open.feishu.cn: ", 41) == 0);
    CHECK(one_line(out.message));
    if (!strstr(out.message, want1) || (want2 && !strstr(out.message, want2)))
        fprintf(stderr, "message: %s\nwant: %s%s%s\n", out.message, want1, want2 ? " and " : "", want2 ? want2 : "");
    CHECK(strstr(out.message, want1) != NULL);
    CHECK(!want2 || strstr(out.message, want2) != NULL);
}

/* Codes that say the bot, its secret or its IP allowlist is wrong pause the
 * reporter (retried as refused, naming what to fix); the rate limit is
 * retried; a code about one message is dropped; whatever Feishu says, the
 * message is one line. */
static void test_feishu_answer(void)
{
    check_answer("{\"code\":0,\"data\":{},\"msg\":\"success\"}", AGENT_SENT, false, "posted", NULL);
    check_answer("{\"StatusCode\":0,\"StatusMessage\":\"success\"}", AGENT_SENT, false, "posted", NULL);
    check_answer("{\"code\":19021,\"msg\":\"sign match fail\\nor timestamp\\r\\tis not within one hour\"}",
                 AGENT_RETRY, true, "code 19021: sign match fail or timestamp  is not within one hour",
                 "report.webhooks[2].secret_file must hold the bot's secret and this host's clock");
    check_answer("{\"code\":19001,\"data\":{},\"msg\":\"param invalid: incoming webhook access token invalid\"}",
                 AGENT_RETRY, true, "code 19001: param invalid", "report.webhooks[2].url");
    check_answer("{\"code\":19022,\"msg\":\"Ip Not Allowed\"}", AGENT_RETRY, true, "code 19022: Ip Not Allowed",
                 "IP allowlist");
    check_answer("{\"code\":11232,\"msg\":\"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]\"}",
                 AGENT_RETRY, false, "rate limiting (code 11232", NULL);
    check_answer("{\"code\":19024,\"msg\":\"Key Words Not Found\"}", AGENT_DROP, false,
                 "refused the message (code 19024: Key Words Not Found)", NULL);
    check_answer("{\"code\":19002,\"msg\":\"params error, msg_type need\"}", AGENT_DROP, false, "code 19002", NULL);
    check_answer("<html>\n<body>\r\nwelcome</body>\n</html>", AGENT_DROP, false, "not Feishu's answer",
                 "<html> <body>  welcome</body> </html>");
}

static void check_trip(const char *line, const char *want)
{
    cJSON *ev = cJSON_Parse(line);
    char out[256];
    event_describe_trip(ev, out, sizeof out);
    CHECK_STR(out, want);
    cJSON_Delete(ev);
}

static void test_describe_trip(void)
{
    check_trip(event_line, "cpu 49.3% spike over mean 12.1% (+25%)");
    check_trip("{\"reason\":\"abs\",\"metric\":\"heap\",\"value\":52.5,\"thresholds\":{\"abs\":48}}",
               "heap 52.5 MiB >= abs 48 MiB");
    check_trip("{\"reason\":\"abs\",\"metric\":\"threads\",\"value\":300,\"thresholds\":{\"abs\":256}}",
               "threads 300 >= abs 256");
    check_trip("{\"reason\":\"abs\",\"metric\":\"stuck\",\"value\":31,\"thresholds\":{\"after_s\":30},"
               "\"stuck\":[{},{}]}",
               "stuck: 2 threads for 31 s (after_s 30)");
    check_trip("{\"reason\":\"manual\",\"metric\":\"\"}", "manual");
    check_trip("{}", "?");
}

int main(void)
{
    cJSON *ev = cJSON_Parse(event_line);
    test_sign_vector();
    test_feishu_body(ev);
    test_long_text();
    test_json_body(ev);
    test_describe_trip();
    test_feishu_answer();
    cJSON_Delete(ev);
    CHECK_DONE();
}
