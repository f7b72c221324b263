/* agent_webhook.h — what agent_webhook.c builds, for its unit test
 * (tests/unit/test_webhook.c): the body one send() posts and Feishu's sign. */
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

#endif
