/* config.h — the configuration: one struct, its defaults, the JSON
 * loader and the reference table (config.c). */
#ifndef CONAN_CONFIG_H
#define CONAN_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

enum conan_mode { CONAN_MODE_ADAPTIVE, CONAN_MODE_CONTINUOUS, CONAN_MODE_OFF };
enum conan_cpu_timer { CONAN_TIMER_THREAD, CONAN_TIMER_PROCESS };

/* The keys every trip rule shares (cpu, memory, heap, threads). */
struct conan_rule_config {
    bool enable;
    double min;       /* value must be at least this to trip at all */
    double diff;      /* spike: percent above the mean of the window */
    double abs;       /* absolute threshold, needs no warm-up */
    int window;       /* previous values averaged for the spike test; 0 = no spike test */
    int sustain;      /* consecutive ticks the condition must hold */
    int cooldown_s;   /* quiet period after a trip */
};

#define CONAN_MAX_TAGS 16
#define CONAN_NAME_MAX 128
#define CONAN_MAX_NAMES 32

/* String labels: the profile comments' tags, Pyroscope's extra labels. */
struct conan_tags {
    int n;
    char key[CONAN_MAX_TAGS][CONAN_NAME_MAX];
    char value[CONAN_MAX_TAGS][CONAN_NAME_MAX];
};

/* A list of names or globs (only, stuck.ignore). */
struct conan_names {
    int n;
    char name[CONAN_MAX_NAMES][CONAN_NAME_MAX];
};

/* Where dumps go after they are written: read by `conan agent` (cli/agent*.c),
 * a process of its own; the shim only starts it (src/agent_spawn.c). */
#define CONAN_URL_MAX 512
#define CONAN_FILE_MAX 256
#define CONAN_MAX_WEBHOOKS 8
enum conan_pyroscope_api { CONAN_PYROSCOPE_PUSH, CONAN_PYROSCOPE_INGEST };
enum conan_ingest_body { CONAN_INGEST_RAW, CONAN_INGEST_MULTIPART };
enum conan_webhook_format { CONAN_WEBHOOK_FEISHU, CONAN_WEBHOOK_SLACK, CONAN_WEBHOOK_JSON };
struct conan_webhook {
    char url[CONAN_URL_MAX];
    enum conan_webhook_format format;
    char secret_file[CONAN_FILE_MAX];  /* Feishu's signing secret; "" = unsigned */
};
struct conan_report_config {
    struct {
        char url[CONAN_URL_MAX];       /* "" = no Pyroscope */
        enum conan_pyroscope_api api;
        enum conan_ingest_body body;   /* ingest only */
        char tenant[CONAN_NAME_MAX];   /* X-Scope-OrgID; "" = none */
        char basic_auth_file[CONAN_FILE_MAX];
        char bearer_token_file[CONAN_FILE_MAX];
        struct conan_tags labels;
        int timeout_s;
    } pyroscope;
    int nwebhooks;
    struct conan_webhook webhooks[CONAN_MAX_WEBHOOKS];
    struct {
        char command[CONAN_FILE_MAX];  /* "" = none; run with the event JSON on stdin */
        int timeout_s;
    } exec;
    char listen[CONAN_NAME_MAX];       /* "host:port" of the pull endpoint; "" = none */
    char token_file[CONAN_FILE_MAX];
    char link_base[CONAN_URL_MAX];
    bool spawn;
    char agent[CONAN_FILE_MAX];        /* the conan program; "" = the one installed beside libconan */
    int idle_exit_s;
};
/* Whether cfg names any reporter or the pull endpoint: what makes an agent useful. */
bool conan_report_configured(const struct conan_report_config *r);
/* Whether s is "host:port" with a port in 1-65535 (IPv6 hosts in brackets;
 * no host: loopback). */
bool conan_listen_address_valid(const char *s);

struct conan_config {
    char source[PATH_MAX];            /* file it came from, or "" for built-in defaults */
    char app[CONAN_NAME_MAX];
    char version[CONAN_NAME_MAX];
    struct conan_tags tags;
    struct conan_names only;          /* empty: every program */
    enum conan_mode mode;
    int interval_ms;
    char dump_dir[PATH_MAX];
    bool follow_fork;                 /* a forked child restarts its own monitor */
    bool inherit;                     /* children keep LD_PRELOAD and CONAN_CONFIG */
    struct {
        struct conan_rule_config rule;
        int profile_seconds;
        int hz;
        double max;                   /* ceiling: no CPU profile at/above this percent; 0 = none */
        enum conan_cpu_timer timer;
        int thread_timer_limit;       /* above this many threads, use the process timer */
    } cpu;
    struct {
        bool enable;
        int hz;                       /* samples per CPU-second per thread */
        int seconds;                  /* how far back the ring reaches */
        int max_mb;                   /* hard cap on the ring */
    } recorder;
    struct {
        bool enable;                  /* a CPU window also writes a wall profile */
        int hz;                       /* rounds a second: every thread's stack each round */
        int max_threads;              /* threads sampled at most (the oldest); the rest counted */
    } wall;
    struct {
        struct conan_rule_config rule; /* RSS as a percent of the memory the process may use */
    } memory;
    struct {
        struct conan_rule_config rule; /* bytes in use on the heap, in MiB */
        int sample_bytes;             /* mean bytes between sampled allocations; 0 = no sampling */
        int followup_s;               /* a second heap profile this long after a trip; 0 = none */
    } heap;
    struct {
        bool enable;                  /* time contended lock waits, write mutex profiles */
        int sample_ns;                /* mean nanoseconds waited between sampled waits */
        struct conan_rule_config rule; /* percent of the tick threads spent waiting on locks */
    } mutex;
    struct {
        struct conan_rule_config rule; /* live threads */
        int max;                      /* above this many, no stack snapshot */
        int wait_ms;                  /* longest the snapshot waits for threads to answer */
    } threads;
    struct {
        struct conan_rule_config rule; /* percent of CFS periods throttled in a tick */
    } throttle;
    struct {
        bool host;                    /* without cgroup v2 pressure files, read /proc/pressure */
        struct conan_rule_config cpu, memory, io; /* stall share of a tick, percent */
    } pressure;
    struct {
        bool enable;
        int after_s;                  /* blocked at one place this long = stuck */
        int cooldown_s;
        int max_threads;              /* above this many threads the check is skipped */
        struct conan_names ignore;    /* globs of function names: waits that are idle, not stuck */
    } stuck;
    struct { int ticks; } timeline;
    struct { int every_s; } continuous;
    struct { int max_dumps_per_hour; int max_dir_mb; int keep; } limits;
    struct conan_report_config report;  /* read by `conan agent`; the shim only spawns it */
};

/* Where the config comes from: $CONAN_CONFIG when set and not empty, else
 * CONAN_SYSTEM_CONFIG when that file exists (the system-wide preload's
 * config; it must be root's and writable by root alone), else the built-in
 * defaults. Loads it over cfg's defaults and says where it came from; -1 with
 * err when the file found cannot be used (never a fall-back to the next). */
#define CONAN_SYSTEM_CONFIG "/etc/conan/conan.json"
enum conan_config_origin { CONAN_CONFIG_BUILT_IN, CONAN_CONFIG_ENVIRONMENT, CONAN_CONFIG_SYSTEM };
int conan_config_find(struct conan_config *cfg, enum conan_config_origin *origin, char *err, size_t errlen);
/* Whether this program is one the config's `only` list names (always, when
 * the list is empty): matched by name glob against the name it was started as
 * and its executable's name. */
bool conan_config_selects(const struct conan_config *cfg);
/* Whether name matches one of the globs in names. */
bool conan_names_match(const struct conan_names *names, const char *name);

void conan_config_defaults(struct conan_config *cfg);
/* Reads and validates a JSON config file over the defaults. On any problem
 * returns -1 with err = "<file>: <json.path>: <what is wrong>". */
int conan_config_load(const char *path, struct conan_config *cfg, char *err, size_t errlen);
/* The same from a buffer; `label` names the source in messages. */
int conan_config_parse(const char *json, size_t len, const char *label,
                       struct conan_config *cfg, char *err, size_t errlen);
/* The configuration cfg as a JSON object every key of the table is in, at its
 * nested place (conan validate --print): parsed back it gives cfg again. A
 * malloc'd, indented text; NULL when out of memory. */
char *conan_config_to_json(const struct conan_config *cfg);
/* The table's i-th key as its dotted path (sections included); NULL past the
 * last. */
const char *conan_config_key(size_t i);
/* Every key (name, type, default, range, meaning): as the README's Markdown
 * table, or as roff paragraphs for conan.json(5). */
enum conan_reference_format { CONAN_REFERENCE_MARKDOWN, CONAN_REFERENCE_ROFF };
void conan_config_reference(FILE *out, enum conan_reference_format format);

#endif
