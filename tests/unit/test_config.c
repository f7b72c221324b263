/* test_config.c — CONAN_CONFIG: defaults, the full example, and every
 * class of bad config with the exact "<file>: <json.path>: <what>" message. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"

static int parse(const char *json, struct conan_config *cfg, char *err, size_t errlen)
{
    conan_config_defaults(cfg);
    return conan_config_parse(json, strlen(json), "conf.json", cfg, err, errlen);
}

static void test_defaults(void)
{
    struct conan_config c;
    conan_config_defaults(&c);
    CHECK_STR(c.app, program_invocation_short_name); /* test_config, or test_config_asan */
    CHECK_INT(c.mode, CONAN_MODE_ADAPTIVE);
    CHECK_INT(c.interval_ms, 5000);
    CHECK_STR(c.dump_dir, "/tmp/conan");
    CHECK(c.follow_fork);
    CHECK(c.inherit);
    CHECK(c.cpu.rule.enable);
    CHECK_NEAR(c.cpu.rule.min, 10, 0);
    CHECK_NEAR(c.cpu.rule.diff, 25, 0);
    CHECK_NEAR(c.cpu.rule.abs, 70, 0);
    CHECK_INT(c.cpu.rule.window, 10);
    CHECK_INT(c.cpu.rule.sustain, 1);
    CHECK_INT(c.cpu.rule.cooldown_s, 60);
    CHECK_INT(c.cpu.profile_seconds, 5);
    CHECK_INT(c.cpu.hz, 100);
    CHECK_NEAR(c.cpu.max, 0, 0);
    CHECK_INT(c.cpu.timer, CONAN_TIMER_THREAD);
    CHECK(c.memory.rule.enable);
    CHECK_NEAR(c.memory.rule.min, 10, 0);
    CHECK_NEAR(c.memory.rule.abs, 80, 0);
    CHECK(c.heap.rule.enable);
    CHECK_NEAR(c.heap.rule.min, 64, 0);
    CHECK_NEAR(c.heap.rule.diff, 50, 0);
    CHECK_NEAR(c.heap.rule.abs, 0, 0);
    CHECK_INT(c.heap.sample_bytes, 524288);
    CHECK_INT(c.heap.followup_s, 0);
    CHECK(c.threads.rule.enable);
    CHECK_NEAR(c.threads.rule.min, 100, 0);
    CHECK_NEAR(c.threads.rule.abs, 0, 0);
    CHECK_INT(c.threads.max, 10000);
    CHECK_INT(c.threads.wait_ms, 100);
    CHECK_INT(c.continuous.every_s, 60);
    CHECK_INT(c.limits.max_dumps_per_hour, 60);
    CHECK_INT(c.limits.max_dir_mb, 256);
    CHECK_INT(c.limits.keep, 200);
}

static void test_full_example(void)
{
    const char *json =
        "{ \"app\": \"checkout\", \"version\": \"1.4.2\", \"tags\": {\"region\": \"eu-1\", \"tier\": \"web\"},\n"
        "  \"mode\": \"continuous\", \"interval_ms\": 200, \"dump_dir\": \"/var/tmp/c\",\n"
        "  \"cpu\": { \"enable\": true, \"min\": 12, \"diff\": 30, \"abs\": 75.5, \"window\": 7, \"sustain\": 2,\n"
        "           \"cooldown_s\": 30, \"profile_seconds\": 3, \"hz\": 250, \"max\": 95, \"timer\": \"process\" },\n"
        "  \"memory\": { \"abs\": 90, \"window\": 0 },\n"
        "  \"heap\": { \"min\": 128, \"abs\": 2048, \"sample_bytes\": 65536, \"followup_s\": 30 },\n"
        "  \"continuous\": { \"every_s\": 90 },\n"
        "  \"limits\": { \"max_dumps_per_hour\": 10, \"max_dir_mb\": 64, \"keep\": 20 } }\n";
    struct conan_config c;
    char err[512] = "";
    CHECK_INT(parse(json, &c, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(c.app, "checkout");
    CHECK_STR(c.version, "1.4.2");
    CHECK_INT(c.tags.n, 2);
    CHECK_STR(c.tags.key[0], "region");
    CHECK_STR(c.tags.value[0], "eu-1");
    CHECK_STR(c.tags.value[1], "web");
    CHECK_INT(c.mode, CONAN_MODE_CONTINUOUS);
    CHECK_INT(c.interval_ms, 200);
    CHECK_STR(c.dump_dir, "/var/tmp/c");
    CHECK_NEAR(c.cpu.rule.min, 12, 0);
    CHECK_NEAR(c.cpu.rule.diff, 30, 0);
    CHECK_NEAR(c.cpu.rule.abs, 75.5, 0);
    CHECK_INT(c.cpu.rule.window, 7);
    CHECK_INT(c.cpu.rule.sustain, 2);
    CHECK_INT(c.cpu.rule.cooldown_s, 30);
    CHECK_INT(c.cpu.profile_seconds, 3);
    CHECK_INT(c.cpu.hz, 250);
    CHECK_NEAR(c.cpu.max, 95, 0);
    CHECK_INT(c.cpu.timer, CONAN_TIMER_PROCESS);
    CHECK_NEAR(c.memory.rule.abs, 90, 0);
    CHECK_INT(c.memory.rule.window, 0);
    CHECK_NEAR(c.heap.rule.min, 128, 0);
    CHECK_NEAR(c.heap.rule.abs, 2048, 0);
    CHECK_INT(c.heap.sample_bytes, 65536);
    CHECK_INT(c.heap.followup_s, 30);
    CHECK_INT(c.continuous.every_s, 90);
    CHECK_INT(c.limits.max_dumps_per_hour, 10);
    CHECK_INT(c.limits.max_dir_mb, 64);
    CHECK_INT(c.limits.keep, 20);
    CHECK_STR(c.source, "conf.json");
}

static void test_empty_object_keeps_defaults(void)
{
    struct conan_config c;
    char err[512];
    CHECK_INT(parse("{}", &c, err, sizeof err), 0);
    CHECK_INT(c.cpu.hz, 100);
    CHECK_INT(parse(" { \"cpu\": {} } \n", &c, err, sizeof err), 0);
    CHECK_INT(c.cpu.rule.window, 10);
}

struct bad_case { const char *json, *message; };

static void test_bad_configs(void)
{
    static const struct bad_case cases[] = {
        { "{ \"cpu\": { \"hz\": 100, }", "conf.json: $: malformed JSON at line 1, column 23" },
        { "{\n\"a\": 1\n\"b\": 2}", "conf.json: $: malformed JSON at line 3, column 1" },
        { "{} trailing", "conf.json: $: malformed JSON: unexpected text at line 1, column 4" },
        { "[1, 2]", "conf.json: $: must be a JSON object, got an array" },
        { "{ \"colour\": 1 }",
          "conf.json: colour: unknown key (valid here: app, version, tags, only, mode, interval_ms, dump_dir, "
          "follow_fork, inherit, cpu, recorder, wall, memory, heap, mutex, threads, throttle, pressure, stuck, timeline, continuous, limits, report)" },
        { "{ \"cpu\": { \"hertz\": 99 } }",
          "conf.json: cpu.hertz: unknown key (valid here: enable, min, diff, abs, window, sustain, cooldown_s, "
          "profile_seconds, hz, max, timer, thread_timer_limit)" },
        { "{ \"cpu\": { \"hz\": \"100\" } }", "conf.json: cpu.hz: must be a number, got a string" },
        { "{ \"inherit\": \"no\" }", "conf.json: inherit: must be true or false, got a string" },
        { "{ \"cpu\": { \"hz\": 1001 } }", "conf.json: cpu.hz: 1001 is out of range [1, 1000]" },
        { "{ \"cpu\": { \"hz\": 0 } }", "conf.json: cpu.hz: 0 is out of range [1, 1000]" },
        { "{ \"cpu\": { \"hz\": 99.5 } }", "conf.json: cpu.hz: must be a whole number, got 99.5" },
        { "{ \"cpu\": { \"max\": -1 } }", "conf.json: cpu.max: -1 is out of range [0, 100]" },
        { "{ \"cpu\": { \"enable\": 1 } }", "conf.json: cpu.enable: must be true or false, got a number" },
        { "{ \"cpu\": 5 }", "conf.json: cpu: must be an object, got a number" },
        { "{ \"mode\": \"sometimes\" }",
          "conf.json: mode: must be one of adaptive|continuous|off, got \"sometimes\"" },
        { "{ \"cpu\": { \"timer\": true } }",
          "conf.json: cpu.timer: must be one of thread|process, got a boolean" },
        { "{ \"dump_dir\": \"relative/dir\" }",
          "conf.json: dump_dir: must be an absolute path, got \"relative/dir\"" },
        { "{ \"app\": \"\" }", "conf.json: app: must not be empty" },
        { "{ \"app\": null }", "conf.json: app: must be a string, got null" },
        { "{ \"tags\": [\"a\"] }", "conf.json: tags: must be an object of strings, got an array" },
        { "{ \"tags\": { \"region\": 3 } }", "conf.json: tags.region: must be a string, got a number" },
        { "{ \"limits\": { \"keep\": 0 } }", "conf.json: limits.keep: 0 is out of range [1, 100000]" },
        { "{ \"interval_ms\": 5 }", "conf.json: interval_ms: 5 is out of range [10, 3600000]" },
        { "{ \"heap\": { \"sample_bytes\": -1 } }", "conf.json: heap.sample_bytes: -1 is out of range [0, 1073741824]" },
        { "{ \"heap\": { \"followup_s\": 1.5 } }", "conf.json: heap.followup_s: must be a whole number, got 1.5" },
        { "{ \"memory\": { \"abs\": 101 } }", "conf.json: memory.abs: 101 is out of range [0, 100]" },
        { "{ \"threads\": { \"wait_ms\": 0 } }", "conf.json: threads.wait_ms: 0 is out of range [1, 5000]" },
        { "{ \"report\": { \"pyroscope\": { \"url\": \"pyroscope:4040\" } } }",
          "conf.json: report.pyroscope.url: must be an http:// or https:// URL, got \"pyroscope:4040\"" },
        { "{ \"report\": { \"pyroscope\": { \"url\": \"https://u:p@p:4040/\" } } }",
          "conf.json: report.pyroscope.url: must not carry user:password@ (credentials belong in a file: "
          "report.pyroscope.basic_auth_file)" },
        { "{ \"report\": { \"pyroscope\": { \"tenant\": \"a\\r\\nX-Evil: 1\" } } }",
          "conf.json: report.pyroscope.tenant: must not contain control characters" },
        { "{ \"report\": { \"listen\": \"0.0.0.0:6060\" } }",
          "conf.json: report.listen: 0.0.0.0:6060 is not a loopback address: set report.token_file (a bearer token "
          "every request must carry)" },
        { "{ \"report\": { \"webhooks\": [ { \"url\": \"https://hooks slack\" } ] } }",
          "conf.json: report.webhooks[0].url: must not contain spaces or control characters" },
        { "{ \"report\": { \"listen\": \"6060\" } }",
          "conf.json: report.listen: must be host:port (e.g. 127.0.0.1:6060 or [::1]:6060), got \"6060\"" },
        { "{ \"report\": { \"listen\": \"localhost:70000\" } }",
          "conf.json: report.listen: must be host:port (e.g. 127.0.0.1:6060 or [::1]:6060), got \"localhost:70000\"" },
        { "{ \"report\": { \"webhooks\": {} } }", "conf.json: report.webhooks: must be a list of objects, got an object" },
        { "{ \"report\": { \"webhooks\": [ { \"format\": \"slack\" } ] } }", "conf.json: report.webhooks[0]: has no url" },
        { "{ \"report\": { \"webhooks\": [ { \"url\": \"http://x\", \"format\": \"teams\" } ] } }",
          "conf.json: report.webhooks[0].format: must be one of feishu|slack|json, got \"teams\"" },
        { "{ \"report\": { \"webhooks\": [ { \"url\": \"http://x\", \"secret\": \"s\" } ] } }",
          "conf.json: report.webhooks[0].secret: unknown key (valid here: url, format, secret_file)" },
        { "{ \"report\": { \"exec\": { \"command\": \"notify.sh\" } } }",
          "conf.json: report.exec.command: must be an absolute path, got \"notify.sh\"" },
        { "{ \"only\": \"nginx\" }", "conf.json: only: must be a list of strings, got a string" },
        { "{ \"only\": [\"nginx\", 3] }", "conf.json: only[1]: must be a string, got a number" },
        { "{ \"only\": [\"\"] }", "conf.json: only[0]: must not be empty" },
        { "{ \"only\": [\"/usr/sbin/nginx\"] }",
          "conf.json: only[0]: \"/usr/sbin/nginx\" has a '/': names are matched without their directory" },
        { "{ \"only\": [\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
          "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"b\"] }",
          "conf.json: only[32]: too many names (at most 32)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct conan_config c;
        char err[512] = "";
        int rc = parse(cases[i].json, &c, err, sizeof err);
        if (rc != -1 || strcmp(err, cases[i].message) != 0) {
            fprintf(stderr, "config %s\n  rc %d, message \"%s\"\n  want -1, \"%s\"\n", cases[i].json, rc, err,
                    cases[i].message);
            check_failures++;
        }
    }
}

/* `only`: globs against the name this program was started as (test_config,
 * or test_config_asan) and its executable's name. */
static void test_only_selects_by_name(void)
{
    struct conan_config c;
    char err[512] = "";
    CHECK_INT(parse("{}", &c, err, sizeof err), 0);
    CHECK_INT(c.only.n, 0);
    CHECK(conan_config_selects(&c)); /* no list: every program */
    CHECK_INT(parse("{ \"only\": [\"nginx\", \"java*\"] }", &c, err, sizeof err), 0);
    CHECK_INT(c.only.n, 2);
    CHECK_STR(c.only.name[1], "java*");
    CHECK(!conan_config_selects(&c));
    CHECK_INT(parse("{ \"only\": [\"nginx\", \"test_conf?g*\"] }", &c, err, sizeof err), 0);
    CHECK(conan_config_selects(&c));
    CHECK_INT(parse("{ \"only\": [\"test_config_\"] }", &c, err, sizeof err), 0);
    CHECK(!conan_config_selects(&c)); /* whole names, not prefixes */
    CHECK_INT(parse("{ \"only\": [] }", &c, err, sizeof err), 0);
    CHECK(conan_config_selects(&c));
}

/* stuck.ignore: the defaults name the idle waits; a list given replaces
 * them; a nested rule section is checked like the others. */
static void test_stuck_ignore_and_pressure(void)
{
    struct conan_config c;
    char err[512] = "";
    CHECK_INT(parse("{}", &c, err, sizeof err), 0);
    CHECK(c.stuck.ignore.n > 10);
    CHECK(conan_names_match(&c.stuck.ignore, "epoll_wait"));
    CHECK(conan_names_match(&c.stuck.ignore, "pthread_cond_wait"));
    CHECK(conan_names_match(&c.stuck.ignore, "__pthread_cond_timedwait"));
    CHECK(conan_names_match(&c.stuck.ignore, "__poll"));
    CHECK(!conan_names_match(&c.stuck.ignore, "pthread_mutex_lock"));
    CHECK(!conan_names_match(&c.stuck.ignore, "read"));
    CHECK(!c.pressure.host);
    CHECK_INT(c.pressure.cpu.window, 0);
    CHECK_INT(c.timeline.ticks, 60);
    CHECK_INT(parse("{ \"stuck\": { \"ignore\": [\"my_pool_wait\"] }, \"pressure\": { \"io\": { \"abs\": 30 } } }",
                    &c, err, sizeof err), 0);
    CHECK_INT(c.stuck.ignore.n, 1);
    CHECK(!conan_names_match(&c.stuck.ignore, "epoll_wait"));
    CHECK_NEAR(c.pressure.io.abs, 30, 1e-9);
    CHECK_INT(parse("{ \"pressure\": { \"io\": { \"abs\": 300 } } }", &c, err, sizeof err), -1);
    CHECK_STR(err, "conf.json: pressure.io.abs: 300 is out of range [0, 100]");
    CHECK_INT(parse("{ \"pressure\": { \"disk\": {} } }", &c, err, sizeof err), -1);
    CHECK_STR(err, "conf.json: pressure.disk: unknown key (valid here: host, cpu, memory, io)");
}

static void test_file_errors(void)
{
    struct conan_config c;
    char err[512] = "";
    conan_config_defaults(&c);
    CHECK_INT(conan_config_load("/nonexistent/conan.json", &c, err, sizeof err), -1);
    CHECK_STR(err, "/nonexistent/conan.json: $: cannot open: No such file or directory");
    CHECK_INT(conan_config_load("/tmp", &c, err, sizeof err), -1);
    CHECK_STR(err, "/tmp: $: not a regular file");

    char path[] = "/tmp/conan-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "{ \"cpu\": { \"hz\": 50 } }";
    CHECK_INT(write(fd, text, strlen(text)), (long)strlen(text));
    close(fd);
    CHECK_INT(conan_config_load(path, &c, err, sizeof err), 0);
    CHECK_INT(c.cpu.hz, 50);
    CHECK_STR(c.source, path);
    unlink(path);
}

/* The Markdown reference, as a malloc'd text. */
static char *reference_markdown(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    conan_config_reference(f, CONAN_REFERENCE_MARKDOWN);
    fclose(f);
    return text;
}

static void test_reference_lists_every_key(void)
{
    char *text = reference_markdown();
    static const char *const keys[] = { "`app`", "`version`", "`tags`", "`only`", "`mode`", "`interval_ms`", "`dump_dir`",
                                        "`cpu.enable`", "`cpu.min`", "`cpu.diff`", "`cpu.abs`", "`cpu.window`",
                                        "`cpu.sustain`", "`cpu.cooldown_s`", "`cpu.profile_seconds`", "`cpu.hz`",
                                        "`cpu.max`", "`cpu.timer`", "`continuous.every_s`",
                                        "`limits.max_dumps_per_hour`", "`limits.max_dir_mb`", "`limits.keep`" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(text, keys[i])) {
            fprintf(stderr, "reference lacks %s\n", keys[i]);
            check_failures++;
        }
    CHECK(strstr(text, "| `cpu.hz` | integer | 100 | 1 – 1000 |") != NULL);
    CHECK(strstr(text, "| `mode` | enum | adaptive | adaptive/continuous/off |") != NULL);
    free(text);
}

/* The item at a dotted path of a parsed JSON tree, or NULL. */
static const cJSON *at_path(const cJSON *root, const char *path)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", path);
    const cJSON *item = root;
    for (char *save = NULL, *part = strtok_r(copy, ".", &save); item && part; part = strtok_r(NULL, ".", &save))
        item = cJSON_GetObjectItemCaseSensitive(item, part);
    return item;
}

/* The keys the Markdown reference lists, one row each. */
static long reference_rows(void)
{
    char *text = reference_markdown();
    long rows = 0;
    for (const char *line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, "| `", 3) == 0) rows++;
    free(text);
    return rows;
}

/* conan validate --print: every key of the table is in the JSON, and the JSON
 * parsed back over the defaults gives the same config, byte for byte. */
static void print_round_trip(const char *json)
{
    struct conan_config c, back;
    char err[512] = "";
    CHECK_INT(parse(json, &c, err, sizeof err), 0);
    char *text = conan_config_to_json(&c);
    CHECK(text != NULL);
    if (!text) return;
    cJSON *tree = cJSON_Parse(text);
    CHECK(cJSON_IsObject(tree));
    size_t n = 0;
    for (const char *key; (key = conan_config_key(n)); n++)
        if (!at_path(tree, key)) {
            fprintf(stderr, "--print lacks %s\n", key);
            check_failures++;
        }
    CHECK_INT(n, reference_rows()); /* the whole table, as the reference shows it */
    cJSON_Delete(tree);
    CHECK_INT(parse(text, &back, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK(memcmp(&c, &back, sizeof c) == 0);
    char *again = conan_config_to_json(&back);
    CHECK(again && strcmp(text, again) == 0);
    free(again);
    free(text);
}

static void print_lists_every_key_and_round_trips(void)
{
    print_round_trip("{}");
    print_round_trip(
        "{ \"app\": \"checkout \\\"eu\\\"\", \"version\": \"1.4.2\", \"tags\": {\"region\": \"eu-1\", \"tier\": \"web\"},\n"
        "  \"only\": [\"nginx\", \"java*\"], \"mode\": \"continuous\", \"interval_ms\": 200,\n"
        "  \"dump_dir\": \"/var/tmp/c\", \"follow_fork\": false,\n"
        "  \"cpu\": { \"enable\": false, \"min\": 12.25, \"abs\": 75.1, \"timer\": \"process\", \"max\": 0.1 },\n"
        "  \"heap\": { \"sample_bytes\": 0 }, \"pressure\": { \"host\": true, \"io\": { \"abs\": 33.3 } },\n"
        "  \"stuck\": { \"ignore\": [\"my_pool_wait\"] }, \"limits\": { \"keep\": 20 },\n"
        "  \"report\": { \"pyroscope\": { \"url\": \"https://p:4040\", \"api\": \"ingest\", \"labels\": {\"c\": \"eu\"} },\n"
        "    \"webhooks\": [ { \"url\": \"http://h/x\", \"format\": \"feishu\", \"secret_file\": \"/s\" },\n"
        "                  { \"url\": \"http://h/y\" } ], \"listen\": \"[::1]:6060\", \"spawn\": false } }");
    struct conan_config c;
    conan_config_defaults(&c);
    char *text = conan_config_to_json(&c);
    CHECK(text && strstr(text, "\n  \"mode\": \"adaptive\",\n") && strstr(text, "\n    \"hz\": 100,\n"));
    free(text);
}

/* report.listen without a host is loopback: valid without a token. */
static void listen_without_host_is_loopback(void)
{
    struct conan_config c;
    char err[512] = "";
    CHECK_INT(parse("{ \"report\": { \"listen\": \":6060\" } }", &c, err, sizeof err), 0);
    CHECK_STR(c.report.listen, ":6060");
    CHECK(conan_report_configured(&c.report));
}

int main(void)
{
    test_defaults();
    test_full_example();
    test_empty_object_keeps_defaults();
    test_bad_configs();
    test_only_selects_by_name();
    test_stuck_ignore_and_pressure();
    test_file_errors();
    test_reference_lists_every_key();
    print_lists_every_key_and_round_trips();
    listen_without_host_is_loopback();
    CHECK_DONE();
}
