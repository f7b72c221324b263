/* config_fuzz.c — libFuzzer target for CONAN_CONFIG: arbitrary bytes go through
 * conan_config_parse, the function conan_config_load hands a file's contents to,
 * and every result is checked against what the parser promises its callers.
 *
 * config.c is included rather than linked so the checks can walk its static key
 * table: each value a successful parse leaves must lie in the range the same
 * table declares. A few limits other files index arrays with are also checked
 * against internal.h's constants directly, in case the table itself is wrong.
 * A broken promise calls abort(), which libFuzzer reports as a crash. */
#include "config.c"

#include <stdint.h>

#define LABEL "fuzz.json"
#define ERR_LEN 1024      /* what preload.c gives conan_config_load */
#define SHORT_ERR_LEN 24  /* a second parse into a buffer that cuts the message */

static void require(bool ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "config_fuzz: broken promise: %s\n", what);
    abort();
}

static bool nul_within(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int choice_count(const char *choices)
{
    int n = 1;
    for (const char *c = choices; *c; c++)
        if (*c == '|') n++;
    return n;
}

static void check_tags(const struct conan_tags *tags)
{
    require(tags->n >= 0 && tags->n <= CONAN_MAX_TAGS, "tags within [0, CONAN_MAX_TAGS]");
    for (int i = 0; i < tags->n; i++) {
        require(nul_within(tags->key[i], CONAN_NAME_MAX), "tag name NUL-terminated in its buffer");
        require(nul_within(tags->value[i], CONAN_NAME_MAX), "tag value NUL-terminated in its buffer");
        require(tags->key[i][0] != '\0', "tag name not empty");
    }
}

static bool is_http_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static void check_webhooks(const struct conan_report_config *r)
{
    require(r->nwebhooks >= 0 && r->nwebhooks <= CONAN_MAX_WEBHOOKS, "webhooks within [0, CONAN_MAX_WEBHOOKS]");
    for (int i = 0; i < r->nwebhooks; i++) {
        const struct conan_webhook *h = &r->webhooks[i];
        require(nul_within(h->url, sizeof h->url) && is_http_url(h->url), "webhook url is an http(s) URL");
        require(h->format >= CONAN_WEBHOOK_FEISHU && h->format <= CONAN_WEBHOOK_JSON, "webhook format known");
        require(nul_within(h->secret_file, sizeof h->secret_file), "secret_file NUL-terminated");
        require(h->secret_file[0] == '\0' || h->secret_file[0] == '/', "secret_file empty or absolute");
    }
}

static void check_names(const struct conan_names *names)
{
    require(names->n >= 0 && names->n <= CONAN_MAX_NAMES, "names within [0, CONAN_MAX_NAMES]");
    for (int i = 0; i < names->n; i++) {
        require(nul_within(names->name[i], CONAN_NAME_MAX), "name NUL-terminated in its buffer");
        require(names->name[i][0] != '\0', "name not empty");
        require(strchr(names->name[i], '/') == NULL, "name has no '/'");
    }
}

/* Every key of the table holds a value its validation allows. */
static void check_against_table(struct conan_config *cfg)
{
    for (size_t i = 0; i < nkeys; i++) {
        const struct config_key *k = &keys[i];
        const void *value = field(cfg, k);
        switch (k->type) {
        case KEY_OBJECT: break;
        case KEY_BOOL: {
            unsigned char byte;
            memcpy(&byte, value, 1); /* read as a byte: a bool holding 2 would itself be UB */
            require(byte <= 1, "bool is 0 or 1");
            break;
        }
        case KEY_INT: {
            int v = *(const int *)value;
            require(v >= k->min && v <= k->max, "integer within its key's range");
            break;
        }
        case KEY_NUMBER: {
            double v = *(const double *)value;
            require(isfinite(v) && v >= k->min && v <= k->max, "number finite and within its key's range");
            break;
        }
        case KEY_ENUM: {
            int v = *(const int *)value;
            require(v >= 0 && v < choice_count(k->choices), "enum index names one of its choices");
            break;
        }
        case KEY_STRING:
        case KEY_PATH:
        case KEY_URL: {
            const char *s = value;
            bool optional = k->def_text && k->def_text[0] == '\0';
            require(nul_within(s, k->size), "string NUL-terminated in its buffer");
            if (k->type == KEY_PATH) require(s[0] == '/' || (optional && !s[0]), "path is absolute");
            if (k->type == KEY_URL) require(!s[0] || is_http_url(s), "URL is empty or http(s)");
            break;
        }
        case KEY_TAGS: check_tags(value); break;
        case KEY_WEBHOOKS: check_webhooks(&cfg->report); break;
        case KEY_NAMES: check_names(value); break;
        }
    }
}

/* Limits that rules.c, monitor.c and dump.c rely on, stated independently of the table. */
static void check_consumer_limits(const struct conan_config *cfg)
{
    const struct conan_rule_config *rules[] = { &cfg->cpu.rule, &cfg->memory.rule, &cfg->heap.rule,
                                                &cfg->threads.rule, &cfg->throttle.rule, &cfg->pressure.cpu,
                                                &cfg->pressure.memory, &cfg->pressure.io };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        require(rules[i]->window >= 0 && rules[i]->window <= CONAN_WINDOW_MAX, "rule window fits its history ring");
        require(rules[i]->sustain >= 1, "rule sustain at least one tick");
        require(rules[i]->cooldown_s >= 0, "rule cooldown not negative");
    }
    require(cfg->limits.max_dumps_per_hour >= 1 && cfg->limits.max_dumps_per_hour <= CONAN_BUDGET_MAX,
            "dump budget fits its ring");
    require(cfg->interval_ms >= 1, "monitor tick positive");
    require(cfg->cpu.hz >= 1, "sampling rate positive");
    require(cfg->mode >= CONAN_MODE_ADAPTIVE && cfg->mode <= CONAN_MODE_OFF, "mode is a known mode");
    require(cfg->cpu.timer == CONAN_TIMER_THREAD || cfg->cpu.timer == CONAN_TIMER_PROCESS, "timer is a known kind");
    require(nul_within(cfg->app, sizeof cfg->app) && cfg->app[0] != '\0', "app named");
    require(nul_within(cfg->version, sizeof cfg->version), "version NUL-terminated");
    require(nul_within(cfg->dump_dir, sizeof cfg->dump_dir), "dump_dir NUL-terminated");
    require(strcmp(cfg->source, LABEL) == 0, "source names where the config came from");
}

/* "<label>: <json.path>: <what>", on one line of printable text. */
static void check_error_message(const char *err, size_t errlen)
{
    require(nul_within(err, errlen), "message NUL-terminated in its buffer");
    require(err[0] != '\0', "message not empty");
    for (const char *p = err; *p; p++)
        require((unsigned char)*p >= 0x20 && *p != 0x7f, "message is one line without control characters");
    if (errlen < ERR_LEN) return; /* a cut message is checked against the whole one instead */
    size_t label_len = strlen(LABEL ": ");
    require(strncmp(err, LABEL ": ", label_len) == 0, "message starts with the label");
    /* Keys may themselves hold ": ", so where the path ends cannot be told
     * exactly; the separator must exist and text must follow it. */
    const char *path = err + label_len;
    const char *what = strstr(path, ": ");
    require(path[0] != '\0' && what != NULL, "message names a JSON path");
    require(what[2] != '\0', "message says what is wrong");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CONFIG_FILE_MAX) return -1; /* conan_config_load refuses these before parsing */
    /* libFuzzer's buffer is exactly size bytes, no NUL after: stricter than the
     * file path, whose buffer has one, so any read past len is caught. */
    const char *json = (const char *)data;

    struct conan_config *cfg = malloc(sizeof *cfg), *again = malloc(sizeof *again);
    char *err = malloc(ERR_LEN), *short_err = malloc(SHORT_ERR_LEN);
    require(cfg && again && err && short_err, "memory for the harness");
    conan_config_defaults(cfg);
    conan_config_defaults(again);
    memset(err, 'x', ERR_LEN);
    memset(short_err, 'x', SHORT_ERR_LEN);

    int rc = conan_config_parse(json, size, LABEL, cfg, err, ERR_LEN);
    require(rc == 0 || rc == -1, "returns 0 or -1");
    if (rc == 0) {
        check_against_table(cfg);
        check_consumer_limits(cfg);
    } else {
        check_error_message(err, ERR_LEN);
        require(cfg->source[0] == '\0', "a rejected config does not claim a source");
    }

    /* The same bytes again, with a message buffer too small for most messages:
     * same verdict, same values, and the cut message a prefix of the whole one. */
    int rc_again = conan_config_parse(json, size, LABEL, again, short_err, SHORT_ERR_LEN);
    require(rc_again == rc, "same verdict on the same bytes");
    if (rc == 0) {
        require(memcmp(cfg, again, sizeof *cfg) == 0, "same values on the same bytes");
    } else {
        check_error_message(short_err, SHORT_ERR_LEN);
        require(strncmp(err, short_err, strlen(short_err)) == 0, "cut message is a prefix of the whole one");
    }

    free(short_err);
    free(err);
    free(again);
    free(cfg);
    return 0;
}
