/* config.c — CONAN_CONFIG: one table describes every key (type, default, range,
 * help) and drives the defaults, parsing, validation, error messages and the
 * README's reference, so they cannot drift apart.
 *
 * Every key is optional; unknown keys, wrong types and out-of-range values are
 * errors reported as "<file>: <json.path>: <what is wrong>". The caller then keeps
 * the shim inert: a config we do not understand is never half-applied. */
#include "config.h"
#include "log.h"
#include "procfs.h"
#include "timeline.h"
#include "trip_rules.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdint.h>

enum key_type {
    KEY_OBJECT, KEY_BOOL, KEY_INT, KEY_NUMBER, KEY_STRING, KEY_PATH, KEY_ENUM, KEY_TAGS, KEY_NAMES,
    KEY_URL,     /* a string that is empty or an http:// or https:// URL */
    KEY_WEBHOOKS /* report.webhooks: a list of {url, format, secret_file} */
};

struct config_key {
    const char *path;           /* dotted JSON path */
    enum key_type type;
    size_t offset;              /* into struct conan_config */
    size_t size;                /* for strings: buffer size */
    double def;                 /* numeric default (bool: 0/1, enum: index) */
    const char *def_text;       /* string default, or how the default is derived */
    double min, max;
    const char *choices;        /* enums: "a|b|c", index = stored value */
    const char *help;
};

#define AT(field) offsetof(struct conan_config, field)
#define SIZE(field) sizeof(((struct conan_config *)0)->field)

#define SECTION(name, help) { name, KEY_OBJECT, 0, 0, 0, NULL, 0, 0, NULL, help }
#define BOOL(name, field, d, help) { name, KEY_BOOL, AT(field), 0, d, NULL, 0, 1, NULL, help }
#define INT(name, field, d, lo, hi, help) { name, KEY_INT, AT(field), 0, d, NULL, lo, hi, NULL, help }
#define NUM(name, field, d, lo, hi, help) { name, KEY_NUMBER, AT(field), 0, d, NULL, lo, hi, NULL, help }
#define STR(name, field, d, help) { name, KEY_STRING, AT(field), SIZE(field), 0, d, 0, 0, NULL, help }
#define PATHKEY(name, field, d, help) { name, KEY_PATH, AT(field), SIZE(field), 0, d, 0, 0, NULL, help }
#define ENUM(name, field, d, choices, help) { name, KEY_ENUM, AT(field), 0, d, NULL, 0, 0, choices, help }
#define URL(name, field, help) { name, KEY_URL, AT(field), SIZE(field), 0, "", 0, 0, NULL, help }

/* The rule keys every metric shares; `unit` names what min and abs are in. */
#define RULE_KEYS(sec, r, d_min, d_diff, d_abs, d_window, hi, unit)                                      \
    BOOL(sec ".enable", r.enable, 1, "evaluate this rule"),                                     \
    NUM(sec ".min", r.min, d_min, 0, hi, "never trip below this value (" unit ")"),             \
    NUM(sec ".diff", r.diff, d_diff, 0, 100000, "spike: percent above the mean of the window"), \
    NUM(sec ".abs", r.abs, d_abs, 0, hi,                                                       \
        "trip at or above this value (" unit "), no warm-up; 0 = no absolute threshold"),       \
    INT(sec ".window", r.window, d_window, 0, CONAN_WINDOW_MAX,                                       \
        "previous ticks averaged for the spike test; 0 turns the spike test off"),              \
    INT(sec ".sustain", r.sustain, 1, 1, 1000, "consecutive ticks the condition must hold"),    \
    INT(sec ".cooldown_s", r.cooldown_s, 60, 0, 86400, "seconds the rule stays quiet after a trip")

/* Blocking calls that idle threads park in: event loops, pools, timers,
 * parents waiting for children, signal waits; Rust's parking (std and
 * parking_lot wait on the futex directly, not through pthread). */
#define STUCK_IGNORE_DEFAULT                                                                                   \
    "epoll_wait, epoll_pwait*, *poll, *select, accept*, sigwait*, sigtimedwait, sigsuspend, pause, "              \
    "*pthread_cond_*wait*, *sem_*wait*, pthread_join*, *nanosleep*, usleep, sleep, io_getevents, io_uring_enter, " \
    "wait, waitpid, wait4, waitid, std::thread::park*, *parking_lot*park*, *Condvar*wait*"

static const struct config_key keys[] = {
    STR("app", app, "base name the program was started as", "application name, in file names and comments"),
    STR("version", version, "", "application version, in profile comments"),
    { "tags", KEY_TAGS, AT(tags), 0, 0, "{}", 0, CONAN_MAX_TAGS, NULL,
      "string labels for the profile comments, e.g. {\"region\": \"eu-1\"}" },
    { "only", KEY_NAMES, AT(only), 0, 0, "[] (every program)", 0, CONAN_MAX_NAMES, NULL,
      "programs to profile, as names or globs matched against the name the program was started as and its "
      "executable's name, e.g. [\"nginx\", \"java*\"]; every other program stays inert" },
    ENUM("mode", mode, CONAN_MODE_ADAPTIVE, "adaptive|continuous|off",
         "adaptive: profile when a rule trips; continuous: also every continuous.every_s; off: inert"),
    INT("interval_ms", interval_ms, 5000, 10, 3600000, "monitor tick: how often metrics are read"),
    PATHKEY("dump_dir", dump_dir, "/tmp/conan", "absolute directory for profiles and events.jsonl"),
    BOOL("follow_fork", follow_fork, 1,
         "a child of fork() gets a monitor of its own (its pid in file names, its own rules and budget); "
         "false: children stay inert"),
    BOOL("inherit", inherit, 1,
         "programs this one executes are profiled too; false: libconan's LD_PRELOAD entry and CONAN_CONFIG "
         "are removed from the environment at start"),
    SECTION("cpu", "CPU rule and sampling"),
    RULE_KEYS("cpu", cpu.rule, 10, 25, 70, 10, 1000, "% of usable CPUs"),
    INT("cpu.profile_seconds", cpu.profile_seconds, 5, 1, 3600, "length of a CPU profile"),
    INT("cpu.hz", cpu.hz, 100, 1, 1000, "samples per CPU-second per thread"),
    NUM("cpu.max", cpu.max, 0, 0, 100,
        "ceiling (%): no CPU profile starts at or above it, a running one stops; 0 = none"),
    ENUM("cpu.timer", cpu.timer, CONAN_TIMER_THREAD, "thread|process",
         "thread: a CPU-time timer per thread; process: one process-wide CPU-time timer"),
    INT("cpu.thread_timer_limit", cpu.thread_timer_limit, 1000, 1, 100000,
        "above this many threads the process timer is used instead"),
    SECTION("recorder", "flight recorder: every thread's CPU samples at a low rate, all the time, into a bounded "
            "ring of the last seconds; a trigger's CPU profile then also shows what ran before it (label "
            "phase=before; its window's own samples phase=during), and a memory or heap trip gets a CPU profile of "
            "the time before it"),
    BOOL("recorder.enable", recorder.enable, 1, "run the flight recorder (with cpu.enable: no CPU profile, no recorder)"),
    INT("recorder.hz", recorder.hz, 19, 1, 1000,
        "samples per CPU-second per thread; 19 is not a divisor of common timer rates, so it does not beat with them"),
    INT("recorder.seconds", recorder.seconds, 30, 1, 3600, "how far back the ring reaches"),
    INT("recorder.max_mb", recorder.max_mb, 8, 1, 1024,
        "hard cap on the ring's memory (576 bytes a sample); a busy process on many CPUs then keeps fewer seconds"),
    SECTION("wall", "wall-clock profile: during a CPU window, every thread's stack hz times a second whatever it "
            "does (blocked threads read from /proc, no signal; running ones by SIGPROF), labelled with its state and "
            "the system call it blocks in: where the time goes when the CPU is idle"),
    BOOL("wall.enable", wall.enable, 1, "a trigger that writes a CPU profile writes a wall profile of the same window"),
    INT("wall.hz", wall.hz, 20, 1, 250, "rounds a second; each sample stands for 1/hz s of a thread's wall time"),
    INT("wall.max_threads", wall.max_threads, 500, 1, 100000,
        "threads sampled at most: above it the oldest this many are (the profile's comment says how many were "
        "left out); a round costs about 0.5 us per idle thread, 30-60 us per thread that ran since the last"),
    SECTION("memory", "memory rule: resident memory against what the process may use"),
    RULE_KEYS("memory", memory.rule, 10, 25, 80, 10, 100, "% of the smallest of cgroup limit and RAM"),
    SECTION("heap", "heap sampling and the heap rule"),
    RULE_KEYS("heap", heap.rule, 64, 50, 0, 10, 1048576, "MiB in use on the heap"),
    INT("heap.sample_bytes", heap.sample_bytes, 524288, 0, 1 << 30,
        "mean bytes allocated between sampled allocations (Poisson); 0 turns heap sampling off"),
    INT("heap.followup_s", heap.followup_s, 0, 0, 86400,
        "after a memory or heap trip, a second heap profile this many seconds later; 0 = none"),
    SECTION("threads", "thread rule and thread profiles"),
    RULE_KEYS("threads", threads.rule, 100, 50, 0, 10, 1000000, "live threads"),
    INT("threads.max", threads.max, 10000, 1, 1000000,
        "above this many threads only the count and threadcreate profile are taken, no stack snapshot"),
    INT("threads.wait_ms", threads.wait_ms, 100, 1, 5000,
        "longest the stack snapshot waits for threads to answer; the rest are marked unavailable"),
    SECTION("throttle", "CPU throttling rule: the share of the cgroup's CFS periods throttled in a tick (cpu.stat "
            "of the cgroup whose quota binds); a trip writes a CPU profile. Idle without a CPU quota. abs 20: one "
            "period in five cut short already stalls every request that spans it; no spike test (window 0): the share "
            "swings from tick to tick"),
    RULE_KEYS("throttle", throttle.rule, 5, 100, 20, 0, 100, "% of CFS periods throttled"),
    SECTION("pressure", "pressure stall rules (Linux PSI): the share of a tick in which some task of the "
            "process's cgroup waited for CPU, memory or I/O, from the growth of the \"some\" total; "
            "thresholds are absolute (window 0): stall shares swing from tick to tick"),
    BOOL("pressure.host", pressure.host, 0,
         "without cgroup v2 pressure files (cgroup v1 hosts), read the machine's /proc/pressure: every program's "
         "stalls count then, so it is off by default and a neighbour's load cannot spend this process's dumps"),
    SECTION("pressure.cpu", "CPU stalls; a trip writes a CPU profile. abs 50: tasks waited for a CPU half "
            "the time, the point where latency is dominated by queueing"),
    RULE_KEYS("pressure.cpu", pressure.cpu, 10, 100, 50, 0, 100, "% of the tick"),
    SECTION("pressure.memory", "memory stalls (reclaim, swap-in, refaults); a trip writes a heap profile. abs 10: a "
            "healthy process hardly ever waits for memory, a tenth of the time is already severe"),
    RULE_KEYS("pressure.memory", pressure.memory, 2, 100, 10, 0, 100, "% of the tick"),
    SECTION("pressure.io", "I/O stalls; a trip writes the thread profiles (who waits where). abs 40: "
            "disk-bound services wait some of the time; waiting most of it is an incident"),
    RULE_KEYS("pressure.io", pressure.io, 10, 100, 40, 0, 100, "% of the tick"),
    SECTION("stuck", "stuck-thread rule: a thread blocked at one place (same system call, same stack) for "
            "stuck.after_s, after it was seen elsewhere; a trip writes the thread profiles, stuck threads labelled"),
    BOOL("stuck.enable", stuck.enable, 1, "evaluate this rule"),
    INT("stuck.after_s", stuck.after_s, 30, 1, 86400,
        "seconds at one place before a thread is stuck; 30: longer than sane request timeouts, short enough "
        "to catch a hung call or a deadlock while it lasts"),
    INT("stuck.cooldown_s", stuck.cooldown_s, 600, 0, 86400,
        "seconds the rule stays quiet after a trip; a thread already reported is not reported again until it "
        "moves. 600: a deadlock does not end by itself, one profile of it per ten minutes is plenty"),
    INT("stuck.max_threads", stuck.max_threads, 1000, 1, 1000000,
        "above this many threads the check is skipped: it reads each thread's /proc syscall file every tick, "
        "about 10 ms a tick at 1000 threads (figure 7e)"),
    { "stuck.ignore", KEY_NAMES, AT(stuck.ignore), 0, 0, STUCK_IGNORE_DEFAULT, 0, CONAN_MAX_NAMES, NULL,
      "globs of function names: a blocked thread with one of them on its stack is idle, never stuck (event "
      "loops, pools, timers); a list given replaces the defaults" },
    SECTION("timeline", "the story around a trip"),
    INT("timeline.ticks", timeline.ticks, 60, 0, CONAN_TIMELINE_MAX,
        "ticks of every metric kept and written into each event and profile; 60 is 5 minutes at the default "
        "tick; 0 = none"),
    SECTION("continuous", "continuous mode"),
    INT("continuous.every_s", continuous.every_s, 60, 1, 86400, "seconds between continuous profiles"),
    SECTION("limits", "what the shim may spend"),
    INT("limits.max_dumps_per_hour", limits.max_dumps_per_hour, 60, 1, CONAN_BUDGET_MAX,
        "profiles written per hour, all kinds and triggers together"),
    INT("limits.max_dir_mb", limits.max_dir_mb, 256, 1, 1048576,
        "libconan's files in dump_dir are pruned, oldest first, above this size"),
    INT("limits.keep", limits.keep, 200, 1, 100000, "and above this many files"),
    SECTION("report", "where dumps go: read by conan agent, a process of its own (network code never runs in "
                      "the host)"),
    SECTION("report.pyroscope", "send every dump to Grafana Pyroscope"),
    URL("report.pyroscope.url", report.pyroscope.url, "server address, e.g. http://pyroscope:4040; empty = off"),
    ENUM("report.pyroscope.api", report.pyroscope.api, CONAN_PYROSCOPE_PUSH, "push|ingest",
         "push: POST /push.v1.PusherService/Push (Connect, protobuf); ingest: the legacy POST /ingest"),
    ENUM("report.pyroscope.body", report.pyroscope.body, CONAN_INGEST_RAW, "raw|multipart",
         "ingest only: the pprof as the body with format=pprof, or multipart/form-data with sample_type_config"),
    STR("report.pyroscope.tenant", report.pyroscope.tenant, "", "sent as X-Scope-OrgID; empty = none"),
    PATHKEY("report.pyroscope.basic_auth_file", report.pyroscope.basic_auth_file, "",
            "file holding user:password for HTTP basic auth"),
    PATHKEY("report.pyroscope.bearer_token_file", report.pyroscope.bearer_token_file, "",
            "file holding a bearer token (Grafana Cloud: basic auth instead)"),
    { "report.pyroscope.labels", KEY_TAGS, AT(report.pyroscope.labels), 0, 0, "{}", 0, CONAN_MAX_TAGS, NULL,
      "extra static labels on every series, e.g. {\"cluster\": \"eu-1\"}" },
    INT("report.pyroscope.timeout_s", report.pyroscope.timeout_s, 10, 1, 600, "seconds one upload may take"),
    { "report.webhooks", KEY_WEBHOOKS, AT(report.webhooks), 0, 0, "[]", 0, CONAN_MAX_WEBHOOKS, NULL,
      "chat notifications, a list of {\"url\", \"format\": feishu|slack|json, \"secret_file\"} (secret_file: "
      "Feishu's signing secret)" },
    SECTION("report.exec", "a program run once per dump"),
    PATHKEY("report.exec.command", report.exec.command, "",
            "absolute path of a program given the event JSON on stdin; exit 0 = delivered; empty = none"),
    INT("report.exec.timeout_s", report.exec.timeout_s, 30, 1, 3600, "killed after this many seconds"),
    STR("report.listen", report.listen, "",
        "host:port of the pull endpoint (/debug/pprof/..., /dumps/), e.g. 127.0.0.1:6060 (:6060 = loopback); "
        "empty = none"),
    PATHKEY("report.token_file", report.token_file, "",
            "file holding the endpoint's bearer token; required to listen on a non-loopback address"),
    URL("report.link_base", report.link_base, "URL prefix webhooks link a dump with, e.g. http://host:6060/dumps/"),
    BOOL("report.spawn", report.spawn, 1,
         "when a reporter or listen is set, the shim starts one conan agent per dump_dir itself"),
    PATHKEY("report.agent", report.agent, "", "the conan program the shim starts; empty = the one beside libconan"),
    INT("report.idle_exit_s", report.idle_exit_s, 300, 10, 86400,
        "a spawned agent exits after this long with no process using its directory and nothing to send"),
};
static const size_t nkeys = sizeof keys / sizeof keys[0];

static void *field(struct conan_config *cfg, const struct config_key *k)
{
    return (char *)cfg + k->offset;
}

/* The base name of /proc/self/exe, in buf; NULL when it cannot be read. */
static const char *executable_name(char *buf, size_t len)
{
    if (!conan_self_exe(buf, len)) return NULL;
    const char *slash = strrchr(buf, '/');
    return slash ? slash + 1 : buf;
}

/* The name the program was started as (argv[0]'s base name: redis-server, not
 * the redis-check-rdb its symlink points at), else the executable's. */
static void exe_base_name(char *out, size_t len)
{
    const char *name = program_invocation_short_name;
    char exe[PATH_MAX];
    if (!name || !name[0]) name = executable_name(exe, sizeof exe);
    if (!name) name = "unknown";
    if (!conan_format(out, len, "%s", name)) out[len - 1] = '\0'; /* a long name is cut */
}

bool conan_config_selects(const struct conan_config *cfg)
{
    if (cfg->only.n == 0) return true;
    const char *started_as = program_invocation_short_name;
    char exe[PATH_MAX];
    const char *exe_name = executable_name(exe, sizeof exe);
    return (started_as && started_as[0] && conan_names_match(&cfg->only, started_as)) ||
           (exe_name && conan_names_match(&cfg->only, exe_name));
}

bool conan_names_match(const struct conan_names *names, const char *name)
{
    for (int i = 0; i < names->n; i++)
        if (fnmatch(names->name[i], name, 0) == 0) return true;
    return false;
}

/* A default list of names, from its text: names separated by ", " (the
 * reference shows that text, and a line can break after a comma). */
static void default_names(struct conan_names *names, const char *text)
{
    names->n = 0;
    while (*text && names->n < CONAN_MAX_NAMES) {
        text += strspn(text, " ");
        size_t len = strcspn(text, ",");
        snprintf(names->name[names->n++], CONAN_NAME_MAX, "%.*s", (int)len, text);
        text += len + (text[len] == ',');
    }
}

void conan_config_defaults(struct conan_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < nkeys; i++) {
        const struct config_key *k = &keys[i];
        switch (k->type) {
        case KEY_BOOL: *(bool *)field(cfg, k) = k->def != 0; break;
        case KEY_INT:
        case KEY_ENUM: *(int *)field(cfg, k) = (int)k->def; break;
        case KEY_NUMBER: *(double *)field(cfg, k) = k->def; break;
        case KEY_URL:
        case KEY_PATH: snprintf(field(cfg, k), k->size, "%s", k->def_text); break;
        case KEY_STRING: /* the app default is derived, version's is empty */
        case KEY_OBJECT:
        case KEY_WEBHOOKS:
        case KEY_TAGS: break;
        case KEY_NAMES:
            if (k->def_text && k->def_text[0] != '[') default_names(field(cfg, k), k->def_text);
            break;
        }
    }
    exe_base_name(cfg->app, sizeof cfg->app);
}

static const struct config_key *find_key(const char *path)
{
    for (size_t i = 0; i < nkeys; i++)
        if (strcmp(keys[i].path, path) == 0) return &keys[i];
    return NULL;
}

/* The valid keys of a section, for the "unknown key" message. */
static void section_keys(const char *prefix, char *out, size_t len)
{
    size_t plen = prefix ? strlen(prefix) : 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nkeys; i++) {
        const char *p = keys[i].path;
        if (plen) {
            if (strncmp(p, prefix, plen) != 0 || p[plen] != '.') continue;
            p += plen + 1;
        }
        if (strchr(p, '.')) continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", p);
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
    }
}

struct parse {
    struct conan_config *cfg;
    const char *label;
    char *err;
    size_t errlen;
};

/* Messages are logged as one line, but keys and values come from the config
 * (cJSON even accepts raw control characters inside strings) and the label from
 * the environment: control characters are shown escaped (\n, \x1b) so a config
 * cannot break the line or forge another. The label and the JSON path are shown
 * up to PART_SHOWN_MAX bytes, so a long or unreadable key cannot push what is
 * wrong out of the caller's buffer. A message is cut at its buffer's end, never
 * mid-escape, so a cut message is a prefix of the whole one. */
#define PART_SHOWN_MAX 200

struct message {
    char *out;
    size_t len, used;
    bool full;
};

static void append(struct message *m, const char *shown, size_t n)
{
    if (m->full || m->used + n >= m->len) {
        m->full = true;
        return;
    }
    memcpy(m->out + m->used, shown, n);
    m->used += n;
    m->out[m->used] = '\0';
}

static void append_escaped(struct message *m, const char *text, size_t max_shown)
{
    size_t shown_so_far = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c && !m->full; c++) {
        char shown[5] = { (char)*c, '\0' };
        if (*c == '\n') snprintf(shown, sizeof shown, "\\n");
        else if (*c == '\r') snprintf(shown, sizeof shown, "\\r");
        else if (*c == '\t') snprintf(shown, sizeof shown, "\\t");
        else if (*c < 0x20 || *c == 0x7f) snprintf(shown, sizeof shown, "\\x%02x", *c);
        size_t n = strlen(shown);
        if (shown_so_far + n > max_shown) {
            append(m, "...", 3);
            return;
        }
        append(m, shown, n);
        shown_so_far += n;
    }
}

static int fail(struct parse *ps, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct parse *ps, const char *path, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    struct message m = { ps->err, ps->errlen, 0, ps->errlen == 0 };
    if (!m.full) m.out[0] = '\0';
    append_escaped(&m, ps->label, PART_SHOWN_MAX);
    append(&m, ": ", 2);
    append_escaped(&m, path, PART_SHOWN_MAX);
    append(&m, ": ", 2);
    append_escaped(&m, what, SIZE_MAX);
    return -1;
}

static const char *json_type_name(const cJSON *item)
{
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsNull(item)) return "null";
    return "an unknown value";
}

static int apply_tags(struct parse *ps, const struct config_key *k, const char *path, const cJSON *obj)
{
    if (!cJSON_IsObject(obj)) return fail(ps, path, "must be an object of strings, got %s", json_type_name(obj));
    struct conan_tags *tags = field(ps->cfg, k);
    tags->n = 0;
    const cJSON *tag;
    cJSON_ArrayForEach(tag, obj) {
        char tpath[512];
        if (tag->string[0] == '\0') return fail(ps, path, "empty tag name"); /* not at the path "tags." */
        if (!conan_format(tpath, sizeof tpath, "%s.%s", path, tag->string)) return fail(ps, path, "tag name too long");
        if (!cJSON_IsString(tag)) return fail(ps, tpath, "must be a string, got %s", json_type_name(tag));
        if (tags->n == CONAN_MAX_TAGS) return fail(ps, tpath, "too many tags (at most %d)", CONAN_MAX_TAGS);
        if (strlen(tag->string) >= CONAN_NAME_MAX || strlen(tag->valuestring) >= CONAN_NAME_MAX)
            return fail(ps, tpath, "too long (at most %d characters)", CONAN_NAME_MAX - 1);
        snprintf(tags->key[tags->n], CONAN_NAME_MAX, "%s", tag->string);
        snprintf(tags->value[tags->n], CONAN_NAME_MAX, "%s", tag->valuestring);
        tags->n++;
    }
    return 0;
}

static int apply_names(struct parse *ps, const struct config_key *k, const char *path, const cJSON *list)
{
    if (!cJSON_IsArray(list)) return fail(ps, path, "must be a list of strings, got %s", json_type_name(list));
    struct conan_names *names = field(ps->cfg, k);
    names->n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        char ipath[512];
        if (!conan_format(ipath, sizeof ipath, "%s[%d]", path, names->n)) return fail(ps, path, "key too long");
        if (!cJSON_IsString(item)) return fail(ps, ipath, "must be a string, got %s", json_type_name(item));
        if (names->n == CONAN_MAX_NAMES) return fail(ps, ipath, "too many names (at most %d)", CONAN_MAX_NAMES);
        if (item->valuestring[0] == '\0') return fail(ps, ipath, "must not be empty");
        if (strchr(item->valuestring, '/'))
            return fail(ps, ipath, "\"%s\" has a '/': names are matched without their directory",
                        item->valuestring);
        if (strlen(item->valuestring) >= CONAN_NAME_MAX)
            return fail(ps, ipath, "too long (at most %d characters)", CONAN_NAME_MAX - 1);
        snprintf(names->name[names->n], CONAN_NAME_MAX, "%s", item->valuestring);
        names->n++;
    }
    return 0;
}

/* What is wrong with an http(s) URL as a reporter's address, or NULL. */
static const char *url_problem(const char *url)
{
    const char *rest = strncmp(url, "http://", 7) == 0 ? url + 7 : strncmp(url, "https://", 8) == 0 ? url + 8 : NULL;
    if (!rest) return "must be an http:// or https:// URL";
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) return "must not contain spaces or control characters";
    size_t authority = strcspn(rest, "/?#");
    if (memchr(rest, '@', authority))
        return "must not carry user:password@ (credentials belong in a file: report.pyroscope.basic_auth_file)";
    if (authority == 0) return "has no host";
    return NULL;
}

/* One report.webhooks entry at path: {url, format, secret_file}. */
static int apply_webhook(struct parse *ps, const char *path, const cJSON *obj, struct conan_webhook *hook)
{
    if (!cJSON_IsObject(obj)) return fail(ps, path, "must be an object {url, format, secret_file}, got %s",
                                          json_type_name(obj));
    static const char *const formats[] = { "feishu", "slack", "json" };
    hook->format = CONAN_WEBHOOK_JSON;
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        char ipath[600];
        if (!conan_format(ipath, sizeof ipath, "%s.%s", path, item->string)) return fail(ps, path, "key too long");
        if (!cJSON_IsString(item)) return fail(ps, ipath, "must be a string, got %s", json_type_name(item));
        const char *v = item->valuestring;
        if (strcmp(item->string, "url") == 0) {
            const char *why = url_problem(v);
            if (why) return fail(ps, ipath, "%s", why); /* a webhook's URL is its secret: not quoted */
            if (strlen(v) >= sizeof hook->url)
                return fail(ps, ipath, "too long (at most %zu characters)", sizeof hook->url - 1);
            snprintf(hook->url, sizeof hook->url, "%s", v);
        } else if (strcmp(item->string, "format") == 0) {
            int f = 0;
            while (f < 3 && strcmp(v, formats[f]) != 0) f++;
            if (f == 3) return fail(ps, ipath, "must be one of feishu|slack|json, got \"%.64s\"", v);
            hook->format = (enum conan_webhook_format)f;
        } else if (strcmp(item->string, "secret_file") == 0) {
            for (const char *c = v; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f) return fail(ps, ipath, "must not contain control characters");
            if (v[0] != '/') return fail(ps, ipath, "must be an absolute path, got \"%.64s\"", v);
            if (strlen(v) >= sizeof hook->secret_file)
                return fail(ps, ipath, "too long (at most %zu characters)", sizeof hook->secret_file - 1);
            snprintf(hook->secret_file, sizeof hook->secret_file, "%s", v);
        } else {
            return fail(ps, ipath, "unknown key (valid here: url, format, secret_file)");
        }
    }
    if (!hook->url[0]) return fail(ps, path, "has no url");
    return 0;
}

static int apply_webhooks(struct parse *ps, const char *path, const cJSON *list)
{
    if (!cJSON_IsArray(list)) return fail(ps, path, "must be a list of objects, got %s", json_type_name(list));
    struct conan_report_config *r = &ps->cfg->report;
    r->nwebhooks = 0;
    memset(r->webhooks, 0, sizeof r->webhooks);
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        char ipath[512];
        if (!conan_format(ipath, sizeof ipath, "%s[%d]", path, r->nwebhooks)) return fail(ps, path, "key too long");
        if (r->nwebhooks == CONAN_MAX_WEBHOOKS)
            return fail(ps, ipath, "too many webhooks (at most %d)", CONAN_MAX_WEBHOOKS);
        if (apply_webhook(ps, ipath, item, &r->webhooks[r->nwebhooks])) return -1;
        r->nwebhooks++;
    }
    return 0;
}

bool conan_listen_address_valid(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1]) return false; /* ":6060" is loopback */
    if (s[0] == '[' && colon[-1] != ']') return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && port > 0 && port < 65536;
}

bool conan_report_configured(const struct conan_report_config *r)
{
    return r->pyroscope.url[0] || r->nwebhooks > 0 || r->exec.command[0] || r->listen[0];
}

static int apply_enum(struct parse *ps, const struct config_key *k, const cJSON *item)
{
    if (!cJSON_IsString(item))
        return fail(ps, k->path, "must be one of %s, got %s", k->choices, json_type_name(item));
    const char *c = k->choices;
    for (int index = 0; *c; index++) {
        size_t n = strcspn(c, "|");
        if (strlen(item->valuestring) == n && strncmp(c, item->valuestring, n) == 0) {
            *(int *)field(ps->cfg, k) = index;
            return 0;
        }
        c += n + (c[n] == '|');
    }
    return fail(ps, k->path, "must be one of %s, got \"%s\"", k->choices, item->valuestring);
}

static int apply_number(struct parse *ps, const struct config_key *k, const cJSON *item)
{
    if (!cJSON_IsNumber(item)) return fail(ps, k->path, "must be a number, got %s", json_type_name(item));
    double v = item->valuedouble;
    if (k->type == KEY_INT && v != floor(v)) return fail(ps, k->path, "must be a whole number, got %g", v);
    if (!(v >= k->min && v <= k->max))
        return fail(ps, k->path, "%.15g is out of range [%.15g, %.15g]", v, k->min, k->max);
    if (k->type == KEY_INT)
        *(int *)field(ps->cfg, k) = (int)v;
    else
        *(double *)field(ps->cfg, k) = v;
    return 0;
}

static int apply_string(struct parse *ps, const struct config_key *k, const cJSON *item)
{
    if (!cJSON_IsString(item)) return fail(ps, k->path, "must be a string, got %s", json_type_name(item));
    const char *s = item->valuestring;
    if (strlen(s) >= k->size) return fail(ps, k->path, "too long (at most %zu characters)", k->size - 1);
    bool optional = k->def_text && k->def_text[0] == '\0';
    if (k->type == KEY_PATH && s[0] != '/' && !(optional && s[0] == '\0')) return fail(ps, k->path, "must be an absolute path, got \"%s\"", s);
    if (k->offset == AT(app) && s[0] == '\0') return fail(ps, k->path, "must not be empty");
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return fail(ps, k->path, "must not contain control characters");
    if (k->type == KEY_URL && s[0]) {
        const char *why = url_problem(s);
        bool secret = why && strchr(s, '@'); /* the password must not reach a log */
        if (why) return secret ? fail(ps, k->path, "%s", why) : fail(ps, k->path, "%s, got \"%s\"", why, s);
    }
    if (k->offset == AT(report.listen) && s[0] && !conan_listen_address_valid(s))
        return fail(ps, k->path, "must be host:port (e.g. 127.0.0.1:6060 or [::1]:6060), got \"%s\"", s);
    snprintf(field(ps->cfg, k), k->size, "%s", s);
    return 0;
}

static int apply_object(struct parse *ps, const char *prefix, const cJSON *obj)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        char path[512];
        /* Paths are built by joining keys with dots, so {"cpu.hz": 1} would
         * otherwise reach cpu.hz, and {"": 1} would be reported at an empty path. */
        if (item->string[0] == '\0') return fail(ps, prefix ? prefix : "$", "empty key");
        if (strchr(item->string, '.'))
            return fail(ps, prefix ? prefix : "$", "key \"%.64s\" has a dot: sections are nested objects",
                        item->string);
        if (!conan_format(path, sizeof path, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", item->string))
            return fail(ps, prefix ? prefix : "$", "key too long");
        const struct config_key *k = find_key(path);
        if (!k) {
            char valid[512];
            section_keys(prefix, valid, sizeof valid);
            return fail(ps, path, "unknown key (valid here: %s)", valid);
        }
        int rc = 0;
        switch (k->type) {
        case KEY_OBJECT:
            if (!cJSON_IsObject(item)) return fail(ps, path, "must be an object, got %s", json_type_name(item));
            rc = apply_object(ps, path, item);
            break;
        case KEY_BOOL:
            if (!cJSON_IsBool(item)) return fail(ps, path, "must be true or false, got %s", json_type_name(item));
            *(bool *)field(ps->cfg, k) = cJSON_IsTrue(item);
            break;
        case KEY_INT:
        case KEY_NUMBER: rc = apply_number(ps, k, item); break;
        case KEY_STRING:
        case KEY_PATH: rc = apply_string(ps, k, item); break;
        case KEY_ENUM: rc = apply_enum(ps, k, item); break;
        case KEY_TAGS: rc = apply_tags(ps, k, path, item); break;
        case KEY_URL: rc = apply_string(ps, k, item); break;
        case KEY_WEBHOOKS: rc = apply_webhooks(ps, path, item); break;
        case KEY_NAMES: rc = apply_names(ps, k, path, item); break;
        }
        if (rc) return rc;
    }
    return 0;
}

/* Whether host:port names this machine's loopback. */
static bool loopback(const char *listen)
{
    return listen[0] == ':' || strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
           strncmp(listen, "localhost:", 10) == 0;
}

/* What the report keys mean only together. */
static int check_report(struct parse *ps)
{
    const struct conan_report_config *r = &ps->cfg->report;
    if (r->listen[0] && !loopback(r->listen) && !r->token_file[0])
        return fail(ps, "report.listen", "%s is not a loopback address: set report.token_file (a bearer token "
                                         "every request must carry)", r->listen);
    return 0;
}

/* 1-based line and column of offset in text, for "malformed JSON" messages. */
static void line_column(const char *text, size_t offset, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && text[i]; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

int conan_config_parse(const char *json, size_t len, const char *label,
                       struct conan_config *cfg, char *err, size_t errlen)
{
    struct parse ps = { cfg, label, err, errlen };
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        int line, column;
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        line_column(json, at, &line, &column);
        return fail(&ps, "$", "malformed JSON at line %d, column %d", line, column);
    }
    /* Anything but whitespace after the value is malformed too, a NUL byte
     * included: what follows one would otherwise be silently ignored. */
    for (const char *p = end; p && p < json + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            int line, column;
            line_column(json, (size_t)(p - json), &line, &column);
            cJSON_Delete(root);
            return fail(&ps, "$", "malformed JSON: unexpected text at line %d, column %d", line, column);
        }
    }
    int rc;
    if (!cJSON_IsObject(root))
        rc = fail(&ps, "$", "must be a JSON object, got %s", json_type_name(root));
    else
        rc = apply_object(&ps, NULL, root);
    cJSON_Delete(root);
    if (rc == 0) rc = check_report(&ps);
    if (rc == 0) snprintf(cfg->source, sizeof cfg->source, "%s", label);
    return rc;
}

#define CONFIG_FILE_MAX (1 << 20)

static int load_fd(int fd, const char *path, bool system, struct conan_config *cfg, char *err, size_t errlen);

int conan_config_load(const char *path, struct conan_config *cfg, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        struct parse ps = { cfg, path, err, errlen };
        return fail(&ps, "$", "cannot open: %s", strerror(errno));
    }
    return load_fd(fd, path, false, cfg, err, errlen);
}

int conan_config_find(struct conan_config *cfg, enum conan_config_origin *origin, char *err, size_t errlen)
{
    const char *path = secure_getenv("CONAN_CONFIG");
    if (path && path[0]) {
        *origin = CONAN_CONFIG_ENVIRONMENT;
        return conan_config_load(path, cfg, err, errlen);
    }
    *origin = CONAN_CONFIG_SYSTEM;
    int fd = open(CONAN_SYSTEM_CONFIG, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        *origin = CONAN_CONFIG_BUILT_IN;
        return 0;
    }
    if (fd < 0) {
        struct parse ps = { cfg, CONAN_SYSTEM_CONFIG, err, errlen };
        return fail(&ps, "$", "cannot open: %s", strerror(errno));
    }
    return load_fd(fd, CONAN_SYSTEM_CONFIG, true, cfg, err, errlen);
}

/* Reads and parses the open config file fd (closed here). A system config
 * must be root's and writable by root alone: every program on the machine,
 * root's daemons included, obeys it. */
static int load_fd(int fd, const char *path, bool system, struct conan_config *cfg, char *err, size_t errlen)
{
    struct parse ps = { cfg, path, err, errlen };
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(&ps, "$", "not a regular file");
    }
    if (system && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
        close(fd);
        return fail(&ps, "$", "a system-wide config must be owned by root and writable by root alone");
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        close(fd);
        return fail(&ps, "$", "larger than %d bytes", CONFIG_FILE_MAX);
    }
    char *text = malloc((size_t)st.st_size + 1);
    if (!text) {
        close(fd);
        return fail(&ps, "$", "out of memory reading it");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    int read_errno = errno;
    close(fd);
    if (got != (size_t)st.st_size) {
        free(text);
        return fail(&ps, "$", "cannot read: %s", strerror(read_errno));
    }
    text[got] = '\0';
    int rc = conan_config_parse(text, got, path, cfg, err, errlen);
    free(text);
    return rc;
}

/* ---- the effective configuration, as JSON ---- */

const char *conan_config_key(size_t i)
{
    return i < nkeys ? keys[i].path : NULL;
}

/* The object a dotted path's last part goes into, made on the way (sections
 * come before their keys in the table, but a missing one is made here too);
 * *leaf is that last part. NULL when out of memory. */
static cJSON *parent_of(cJSON *root, const char *path, char *leaf, size_t leaflen)
{
    cJSON *obj = root;
    const char *part = path;
    for (const char *dot; obj && (dot = strchr(part, '.')); part = dot + 1) {
        char name[CONAN_NAME_MAX];
        snprintf(name, sizeof name, "%.*s", (int)(dot - part), part);
        cJSON *next = cJSON_GetObjectItemCaseSensitive(obj, name);
        obj = next ? next : cJSON_AddObjectToObject(obj, name);
    }
    snprintf(leaf, leaflen, "%s", part);
    return obj;
}

/* An enum's value as its name in the choices. */
static cJSON *enum_json(const struct config_key *k, int index)
{
    const char *c = k->choices;
    for (int i = 0; i < index && *c; i++) c += strcspn(c, "|") + (c[strcspn(c, "|")] == '|');
    char name[CONAN_NAME_MAX];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(c, "|"), c);
    return cJSON_CreateString(name);
}

static cJSON *webhooks_json(const struct conan_config *cfg)
{
    static const char *const formats[] = { "feishu", "slack", "json" };
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; list && i < cfg->report.nwebhooks; i++) {
        const struct conan_webhook *h = &cfg->report.webhooks[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddItemToArray(list, o);
        cJSON_AddStringToObject(o, "url", h->url);
        cJSON_AddStringToObject(o, "format", formats[h->format]);
        if (h->secret_file[0]) cJSON_AddStringToObject(o, "secret_file", h->secret_file);
    }
    return list;
}

static cJSON *key_json(const struct conan_config *cfg, const struct config_key *k)
{
    const void *at = (const char *)cfg + k->offset;
    switch (k->type) {
    case KEY_OBJECT: return cJSON_CreateObject();
    case KEY_BOOL: return cJSON_CreateBool(*(const bool *)at);
    case KEY_INT: return cJSON_CreateNumber(*(const int *)at);
    case KEY_NUMBER: return cJSON_CreateNumber(*(const double *)at);
    case KEY_STRING:
    case KEY_URL:
    case KEY_PATH: return cJSON_CreateString(at);
    case KEY_WEBHOOKS: return webhooks_json(cfg);
    case KEY_ENUM: return enum_json(k, *(const int *)at);
    case KEY_TAGS: {
        const struct conan_tags *t = at;
        cJSON *tags = cJSON_CreateObject();
        for (int i = 0; tags && i < t->n; i++)
            if (!cJSON_AddStringToObject(tags, t->key[i], t->value[i])) break;
        return tags;
    }
    case KEY_NAMES: {
        const struct conan_names *names = at;
        cJSON *list = cJSON_CreateArray();
        for (int i = 0; list && i < names->n; i++) {
            cJSON *name = cJSON_CreateString(names->name[i]);
            if (!name) break;
            cJSON_AddItemToArray(list, name);
        }
        return list;
    }
    }
    return NULL;
}

/* cJSON indents with tabs and puts one after each colon; strings never hold a
 * raw tab (it is escaped), so every tab is layout: two spaces of indent at a
 * line's start, one space after a colon. A new text (text is freed); NULL when
 * out of memory. */
static char *indent_with_spaces(char *text)
{
    char *spaced = malloc(2 * strlen(text) + 1), *out = spaced;
    bool line_start = true;
    for (const char *in = text; spaced && *in; in++) {
        if (*in == '\t') {
            *out++ = ' ';
            if (line_start) *out++ = ' ';
        } else {
            *out++ = *in;
            line_start = *in == '\n';
        }
    }
    if (spaced) *out = '\0';
    free(text);
    return spaced;
}

char *conan_config_to_json(const struct conan_config *cfg)
{
    cJSON *root = cJSON_CreateObject();
    bool complete = root != NULL;
    for (size_t i = 0; complete && i < nkeys; i++) {
        char leaf[CONAN_NAME_MAX];
        cJSON *parent = parent_of(root, keys[i].path, leaf, sizeof leaf);
        if (parent && cJSON_GetObjectItemCaseSensitive(parent, leaf)) continue; /* a section made on the way */
        cJSON *value = parent ? key_json(cfg, &keys[i]) : NULL;
        complete = value && cJSON_AddItemToObject(parent, leaf, value);
        if (!complete) cJSON_Delete(value);
    }
    char *text = complete ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text ? indent_with_spaces(text) : NULL;
}

static const char *type_name(const struct config_key *k)
{
    switch (k->type) {
    case KEY_OBJECT: return "object";
    case KEY_BOOL: return "bool";
    case KEY_INT: return "integer";
    case KEY_NUMBER: return "number";
    case KEY_STRING: return "string";
    case KEY_PATH: return "path";
    case KEY_ENUM: return "enum";
    case KEY_TAGS: return "object";
    case KEY_NAMES: return "list";
    case KEY_URL: return "URL";
    case KEY_WEBHOOKS: return "list";
    }
    return "?";
}

/* A key's default and range, as the reference shows them. */
static void describe(const struct config_key *k, char *def, size_t deflen, char *range, size_t rangelen)
{
    def[0] = range[0] = '\0';
    switch (k->type) {
    case KEY_OBJECT: break;
    case KEY_BOOL: snprintf(def, deflen, "%s", k->def ? "true" : "false"); break;
    case KEY_INT:
    case KEY_NUMBER:
        snprintf(def, deflen, "%.15g", k->def);
        snprintf(range, rangelen, "%.15g – %.15g", k->min, k->max);
        break;
    case KEY_ENUM: {
        size_t n = strcspn(k->choices, "|");
        const char *c = k->choices;
        for (int index = 0; index < (int)k->def; index++) {
            c += n + 1;
            n = strcspn(c, "|");
        }
        snprintf(def, deflen, "%.*s", (int)n, c);
        snprintf(range, rangelen, "%s", k->choices);
        for (char *p = range; *p; p++)
            if (*p == '|') *p = '/';
        break;
    }
    case KEY_STRING:
    case KEY_PATH:
    case KEY_URL:
    case KEY_TAGS:
    case KEY_NAMES:
    case KEY_WEBHOOKS:
        snprintf(def, deflen, "%s", k->def_text && k->def_text[0] ? k->def_text : "\"\"");
        if (k->type != KEY_STRING && k->type != KEY_PATH && k->type != KEY_URL)
            snprintf(range, rangelen, "≤ %g entries", k->max);
        break;
    }
}

/* Text for a roff page: a backslash is \e, a hyphen \-, the two non-ASCII
 * characters the table uses are named glyphs, and a line may not start with a
 * control character ('.' or '\''). */
static void roff_text(FILE *out, const char *text)
{
    if (text[0] == '.' || text[0] == '\'') fputs("\\&", out);
    for (const char *c = text; *c; c++) {
        if (strncmp(c, "–", strlen("–")) == 0) {
            fputs("\\(en", out);
            c += strlen("–") - 1;
        } else if (strncmp(c, "≤", strlen("≤")) == 0) {
            fputs("\\(<=", out);
            c += strlen("≤") - 1;
        } else if (*c == '\\')
            fputs("\\e", out);
        else if (*c == '-')
            fputs("\\-", out);
        else
            fputc(*c, out);
    }
}

void conan_config_reference(FILE *out, enum conan_reference_format format)
{
    if (format == CONAN_REFERENCE_MARKDOWN) {
        fprintf(out, "| key | type | default | range | meaning |\n");
        fprintf(out, "| --- | --- | --- | --- | --- |\n");
    }
    for (size_t i = 0; i < nkeys; i++) {
        const struct config_key *k = &keys[i];
        char def[512], range[160];
        describe(k, def, sizeof def, range, sizeof range);
        if (format == CONAN_REFERENCE_MARKDOWN) {
            /* a list of globs in code style: its '*' would otherwise be emphasis */
            bool code = k->type == KEY_NAMES && def[0] != '[';
            fprintf(out, "| `%s` | %s | %s%s%s | %s | %s |\n", k->path, type_name(k), code ? "`" : "", def,
                    code ? "`" : "", range, k->help);
            continue;
        }
        /* roff: one tagged paragraph per key. */
        fputs(".TP\n.B ", out);
        roff_text(out, k->path);
        fputs("\n(", out);
        roff_text(out, type_name(k));
        if (def[0]) {
            fputs("; default ", out);
            roff_text(out, def);
        }
        if (range[0]) {
            fputs("; ", out);
            roff_text(out, range);
        }
        fputs(")\n.br\n", out);
        roff_text(out, k->help);
        fputs("\n", out);
    }
}
