/* agent_webhook.h — what agent_webhook.c builds, for its unit test
 * (tests/unit/test_webhook.c): the body one send() posts, Feishu's sign and
 * the reading of Feishu's answer. */
#ifndef CONAN_CLI_AGENT_WEBHOOK_H
#define CONAN_CLI_AGENT_WEBHOOK_H

#include "agent.h"

/* Feishu's custom bot refuses bodies over 20 KB; Slack cuts text after
 * 40,000 characters. The chat text is shortened to fit, never the JSON. */
#define AGENT_FEISHU_MAX_BODY 20000
#define AGENT_SLACK_MAX_TEXT 40000

/* base64(HMAC-SHA256(key = timestamp "\n" secret, message = "")) into out
 * (at least 45 bytes); -1 when libcrypto fails. */
int agent_feishu_sign(const char *timestamp, const char *secret, char *out, size_t len);

/* The chat text for d: what tripped, where, the thresholds, the link. */
void agent_webhook_text(const struct agent_dump *d, char *out, size_t len);

/* The body posted for d in format (malloc'd JSON; NULL when out of memory).
 * Feishu: signed with secret at Unix time now when secret is not "". */
char *agent_webhook_body(enum conan_webhook_format format, const struct agent_dump *d, const char *secret,
                         long long now);

/* Feishu's answer to a post (HTTP 200 either way): sent for code 0; retried
 * for its rate limit; retried as refused (the reporter pauses, the dumps
 * wait) for a code that says the bot's url, secret or IP allowlist is wrong;
 * dropped for any other code. index is the webhook's in report.webhooks,
 * what names it in the message (which is one line whatever Feishu says). */
void agent_feishu_answer(int index, const char *what, const struct agent_http_response *resp,
                         struct agent_outcome *out);

#endif
