/* agent_webhook.c — conan agent's webhooks (report.webhooks): a Feishu custom
 * bot (signed text message), a Slack incoming webhook ({"text"}) or plain
 * JSON (the event plus host and link). One POST per send(); agent_net.c
 * reads the HTTP answer, and Feishu's own answer (HTTP 200 with a non-zero
 * "code" when it refuses) is read here. The chat text says what tripped,
 * where, against which thresholds, and links the dump when link_base is set. */
#include "agent_webhook.h"
#include "event_text.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Webhooks have no timeout key: a chat service answers in well under this. */
#define WEBHOOK_TIMEOUT_S 15
/* Feishu's documented limits for one custom bot. */
#define FEISHU_PER_SECOND 5
#define FEISHU_PER_MINUTE 100
/* Feishu's codes for a bot that refuses every message alike, whatever it
 * says (the dumps wait for the config to be fixed): "param invalid: incoming
 * webhook access token invalid" (no such bot: the url), "sign match fail or
 * timestamp is not within one hour from current time" (the secret, the
 * clock), "Ip Not Allowed" (the bot's IP allowlist). Its other codes (a body
 * it cannot parse, a message without the bot's keywords) are about one
 * message: dropped. */
#define FEISHU_TOKEN_INVALID 19001
#define FEISHU_SIGN_MISMATCH 19021
#define FEISHU_IP_NOT_ALLOWED 19022
/* Feishu's code for "frequency limited" (it sends no Retry-After: the
 * agent's backoff spaces the retries). */
#define FEISHU_RATE_LIMITED 11232

struct webhook {
    int index;
    enum conan_webhook_format format;
    char url[CONAN_URL_MAX];
    char secret[512];        /* Feishu's signing secret; "" = unsigned */
    char what[192];          /* for messages: "webhook[0] feishu https://host" (the path may hold a token) */
};

static const char *format_name(enum conan_webhook_format f)
{
    return f == CONAN_WEBHOOK_FEISHU ? "feishu" : f == CONAN_WEBHOOK_SLACK ? "slack" : "json";
}

int agent_feishu_sign(const char *timestamp, const char *secret, char *out, size_t len)
{
    char key[1024];
    int klen = snprintf(key, sizeof key, "%s\n%s", timestamp, secret);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (klen < 0 || (size_t)klen >= sizeof key) return -1;
    static const unsigned char empty[1];
    if (!HMAC(EVP_sha256(), key, klen, empty, 0, mac, &maclen) || len < 4 * ((maclen + 2) / 3) + 1) return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
    return 0;
}

/* ---- the chat text ---- */

struct text {
    char *buf;
    size_t len, used;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
    if (t->used + 1 >= t->len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0) t->used += (size_t)n < t->len - t->used ? (size_t)n : t->len - t->used - 1;
}

/* "min 10, diff 25, window 8": the thresholds the event names, zeros left out. */
static void add_thresholds(struct text *t, const cJSON *ev)
{
    const cJSON *item;
    bool first = true;
    cJSON_ArrayForEach(item, cJSON_GetObjectItem(ev, "thresholds")) {
        if (!cJSON_IsNumber(item) || item->valuedouble == 0) continue;
        add(t, "%s%s %g", first ? "\nthresholds: " : ", ", item->string, item->valuedouble);
        first = false;
    }
}

void agent_webhook_text(const struct agent_dump *d, char *out, size_t len)
{
    struct text t = { out, len, 0 };
    if (len) out[0] = '\0';
    char tripped[512];
    event_describe_trip(d->event, tripped, sizeof tripped);
    add(&t, "conan: %s profile of %s (pid %ld) on %s\n", d->kind, d->app, d->pid, d->host);
    add(&t, "tripped: %s", tripped);
    add_thresholds(&t, d->event);
    const cJSON *samples = cJSON_GetObjectItem(d->event, "samples");
    const cJSON *duration = cJSON_GetObjectItem(d->event, "duration_s");
    if (cJSON_IsNumber(samples)) add(&t, "\n%.0f samples", samples->valuedouble);
    if (cJSON_IsNumber(samples) && cJSON_IsNumber(duration)) add(&t, " over %.1f s", duration->valuedouble);
    const char *note = cJSON_GetStringValue(cJSON_GetObjectItem(d->event, "note"));
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItem(d->event, "error"));
    if (note && note[0]) add(&t, "\nnote: %s", note);
    if (error && error[0]) add(&t, "\nerror: %s", error);
    if (d->link) add(&t, "\ndump: %s", d->link);
    else add(&t, "\ndump: %s (on %s)", d->path, d->host);
}

/* ---- the bodies ---- */

/* Cuts s to at most keep bytes (on a UTF-8 character boundary) plus "…". */
static void shorten(char *s, size_t keep)
{
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
    memcpy(s + keep, "\xE2\x80\xA6", 4);
}

static char *feishu_print(const char *text, const char *secret, long long now)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    if (ok && secret[0]) {
        char ts[24], sign[128];
        snprintf(ts, sizeof ts, "%lld", now);
        ok = agent_feishu_sign(ts, secret, sign, sizeof sign) == 0 && cJSON_AddStringToObject(o, "timestamp", ts) &&
             cJSON_AddStringToObject(o, "sign", sign);
    }
    cJSON *content = NULL;
    ok = ok && cJSON_AddStringToObject(o, "msg_type", "text") && (content = cJSON_AddObjectToObject(o, "content")) &&
         cJSON_AddStringToObject(content, "text", text);
    char *body = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return body;
}

static char *slack_print(const char *text, const char *secret, long long now)
{
    (void)secret;
    (void)now;
    cJSON *o = cJSON_CreateObject();
    char *body = o && cJSON_AddStringToObject(o, "text", text) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return body;
}

/* The body from print(text), the text shortened until the body has at most
 * max_body bytes (escapes make the body longer than the text: hence a loop;
 * every round shortens the text, so it ends). */
static char *fitted(char *(*print)(const char *, const char *, long long), const char *text, size_t max_body,
                    const char *secret, long long now)
{
    char *cut = strdup(text);
    char *body = cut ? print(cut, secret, now) : NULL;
    while (body && strlen(body) > max_body) {
        size_t over = strlen(body) - max_body, n = strlen(cut);
        shorten(cut, n > over + 16 ? n - over - 16 : 0);
        free(body);
        body = print(cut, secret, now);
    }
    free(cut);
    return body;
}

char *agent_webhook_body(enum conan_webhook_format format, const struct agent_dump *d, const char *secret,
                         long long now)
{
    if (format == CONAN_WEBHOOK_JSON) return event_payload_json(d->event, d->host, d->link);
    size_t len = 64 * 1024;
    char *text = malloc(len);
    if (!text) return NULL;
    agent_webhook_text(d, text, len);
    char *body;
    if (format == CONAN_WEBHOOK_FEISHU) {
        body = fitted(feishu_print, text, AGENT_FEISHU_MAX_BODY, secret, now);
    } else {
        if (strlen(text) > AGENT_SLACK_MAX_TEXT) shorten(text, AGENT_SLACK_MAX_TEXT - 3);
        body = slack_print(text, secret, now);
    }
    free(text);
    return body;
}

/* ---- sending ---- */

static bool rate_limited(int code, const char *msg)
{
    return code == FEISHU_RATE_LIMITED || (msg && (strstr(msg, "frequency") || strstr(msg, "too many")));
}

/* For a code that refuses the bot itself: what Feishu refused and what in
 * the config to fix; false for another code. */
static bool refused_because(int code, int index, const char **what, char *fix, size_t len)
{
    if (code == FEISHU_TOKEN_INVALID) {
        *what = "Feishu knows no such bot";
        snprintf(fix, len, "report.webhooks[%d].url must be the bot's webhook address", index);
    } else if (code == FEISHU_SIGN_MISMATCH) {
        *what = "Feishu refused the signature";
        snprintf(fix, len,
                 "report.webhooks[%d].secret_file must hold the bot's secret and this host's clock must be within "
                 "an hour of Feishu's",
                 index);
    } else if (code == FEISHU_IP_NOT_ALLOWED) {
        *what = "Feishu refused this host's address";
        snprintf(fix, len, "the bot's IP allowlist (its security settings) must include it");
    } else {
        return false;
    }
    return true;
}

/* Feishu answers HTTP 200 either way: {"code":0,...} when the message was
 * posted, a non-zero code (and "msg") when it was refused. Older bots answer
 * {"StatusCode":0,"StatusMessage":"success"}. */
void agent_feishu_answer(int index, const char *what, const struct agent_http_response *resp,
                         struct agent_outcome *out)
{
    cJSON *a = cJSON_Parse(resp->body);
    const cJSON *code = cJSON_GetObjectItem(a, "code");
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(a, "msg"));
    if (!cJSON_IsNumber(code)) {
        code = cJSON_GetObjectItem(a, "StatusCode");
        msg = cJSON_GetStringValue(cJSON_GetObjectItem(a, "StatusMessage"));
    }
    char said[256], fix[256];
    const char *refusal = NULL;
    agent_one_line(cJSON_IsNumber(code) ? (msg ? msg : "") : resp->body, said, sizeof said);
    int c = cJSON_IsNumber(code) ? code->valueint : 0;
    out->refused = false;
    if (!cJSON_IsNumber(code)) {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message,
                 "%.192s: HTTP %ld but not Feishu's answer (no \"code\"; is the url a Feishu bot's?): %.160s", what,
                 resp->status, said);
    } else if (c == 0) {
        out->result = AGENT_SENT;
        snprintf(out->message, sizeof out->message, "%.192s: posted", what);
    } else if (refused_because(c, index, &refusal, fix, sizeof fix)) {
        out->result = AGENT_RETRY;
        out->refused = true;
        snprintf(out->message, sizeof out->message, "%.150s: %.40s (code %d: %.100s): %.160s", what, refusal, c, said,
                 fix);
    } else if (rate_limited(c, msg)) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%.192s: Feishu is rate limiting (code %d: %.160s)", what, c,
                 said);
    } else {
        out->result = AGENT_DROP;
        snprintf(out->message, sizeof out->message, "%.192s: Feishu refused the message (code %d: %.160s)", what, c,
                 said);
    }
    cJSON_Delete(a);
}

static void webhook_send(struct agent_reporter *r, const struct agent_dump *d, struct agent_outcome *out)
{
    struct webhook *w = r->impl;
    memset(out, 0, sizeof *out);
    char *body = agent_webhook_body(w->format, d, w->secret, (long long)time(NULL));
    if (!body) {
        out->result = AGENT_RETRY;
        snprintf(out->message, sizeof out->message, "%s: out of memory building the message", w->what);
        return;
    }
    static const char *const headers[] = { "Content-Type: application/json", NULL };
    struct agent_http_request req = {
        .method = "POST", .url = w->url, .headers = headers, .body = body, .body_len = strlen(body),
        .timeout_s = WEBHOOK_TIMEOUT_S,
    };
    struct agent_http_response resp;
    int rc = agent_http(&req, &resp);
    free(body);
    agent_http_outcome(rc, &resp, w->what, out);
    if (w->format == CONAN_WEBHOOK_FEISHU && out->result == AGENT_SENT)
        agent_feishu_answer(w->index, w->what, &resp, out);
}

static void webhook_destroy(struct agent_reporter *r)
{
    if (!r) return;
    struct webhook *w = r->impl;
    if (w) OPENSSL_cleanse(w->secret, sizeof w->secret);
    free(w);
    free(r);
}

/* "https://open.feishu.cn" from the url: its path may be the bot's token. */
static void url_origin(const char *url, char *out, size_t len)
{
    snprintf(out, len, "?");
    CURLU *u = curl_url();
    char *origin = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_set(u, CURLUPART_PATH, NULL, 0);
        curl_url_set(u, CURLUPART_QUERY, NULL, 0);
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
        curl_url_set(u, CURLUPART_USER, NULL, 0);
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
        if (curl_url_get(u, CURLUPART_URL, &origin, 0) == CURLUE_OK) snprintf(out, len, "%s", origin);
    }
    size_t n = strlen(out);
    if (n > 1 && out[n - 1] == '/') out[n - 1] = '\0';
    curl_free(origin);
    curl_url_cleanup(u);
}

/* The state file's key: the format and a digest of the url (never the url:
 * a webhook's url is its credential, and the state file lies in the dump dir). */
static void webhook_id(const struct webhook *w, char *out, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * 16 + 1] = "";
    if (EVP_Digest(w->url, strlen(w->url), md, &mdlen, EVP_sha256(), NULL))
        for (unsigned i = 0; i < 16 && i < mdlen; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(out, len, "webhook %s sha256:%s", format_name(w->format), hex);
}

struct agent_reporter *agent_webhook_new(const struct conan_config *cfg, int index, char *err, size_t errlen)
{
    if (index < 0 || index >= cfg->report.nwebhooks) {
        snprintf(err, errlen, "report.webhooks[%d]: no such webhook", index);
        return NULL;
    }
    const struct conan_webhook *c = &cfg->report.webhooks[index];
    if (c->secret_file[0] && c->format != CONAN_WEBHOOK_FEISHU) {
        snprintf(err, errlen, "report.webhooks[%d].secret_file: only feishu webhooks are signed (this one is %s)",
                 index, format_name(c->format));
        return NULL;
    }
    struct agent_reporter *r = calloc(1, sizeof *r);
    struct webhook *w = calloc(1, sizeof *w);
    if (!r || !w) {
        snprintf(err, errlen, "report.webhooks[%d]: out of memory", index);
        free(r);
        free(w);
        return NULL;
    }
    r->impl = w;
    w->index = index;
    w->format = c->format;
    snprintf(w->url, sizeof w->url, "%s", c->url);
    char why[600];
    if (c->secret_file[0] && agent_read_secret(c->secret_file, w->secret, sizeof w->secret, why, sizeof why) != 0) {
        snprintf(err, errlen, "report.webhooks[%d].secret_file: %s", index, why);
        webhook_destroy(r);
        return NULL;
    }
    char origin[CONAN_URL_MAX];
    url_origin(w->url, origin, sizeof origin);
    snprintf(r->name, sizeof r->name, "webhook[%d] %s", index, format_name(w->format));
    snprintf(w->what, sizeof w->what, "%s %.120s", r->name, origin);
    webhook_id(w, r->id, sizeof r->id);
    if (w->format == CONAN_WEBHOOK_FEISHU) {
        r->max_per_second = FEISHU_PER_SECOND;
        r->max_per_minute = FEISHU_PER_MINUTE;
    } else if (w->format == CONAN_WEBHOOK_SLACK) {
        r->max_per_second = 1; /* Slack: one message a second per incoming webhook */
    }
    r->send = webhook_send;
    r->destroy = webhook_destroy;
    return r;
}
