/* test_decide.c — the monitor's decisions without a monitor: a fake carries
 * out the actions and plays the CPU window, and each case checks what was
 * asked for, in which order, and what the budget, cooldowns, ceiling,
 * continuous period, deferred requests, follow-up and trigger files did. */
#include "check.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CALLS 32

static struct {
    int n;
    unsigned kinds[MAX_CALLS];
    char metric[MAX_CALLS][16];
    enum conan_reason reason[MAX_CALLS];
    const char *note[MAX_CALLS];
    const struct conan_stuck_report *stuck[MAX_CALLS];
    int cpu_seconds[MAX_CALLS];
    bool window;                 /* the fake window */
    int closed;                  /* close_window calls */
    const char *close_note;
} fake;

static void fake_act(void *arg, unsigned kinds, const struct conan_trigger *t, const char *note, double now_s)
{
    (void)arg, (void)now_s;
    if (fake.n == MAX_CALLS) return;
    fake.kinds[fake.n] = kinds;
    snprintf(fake.metric[fake.n], sizeof fake.metric[0], "%s", t->metric);
    fake.reason[fake.n] = t->reason;
    fake.note[fake.n] = note;
    fake.stuck[fake.n] = t->stuck;
    fake.cpu_seconds[fake.n] = t->cpu_seconds;
    fake.n++;
    if (kinds & CONAN_WANTS_CPU) fake.window = true;
}

static bool fake_window_open(void *arg)
{
    (void)arg;
    return fake.window;
}

static void fake_close(void *arg, const char *note)
{
    (void)arg;
    fake.window = false;
    fake.closed++;
    fake.close_note = note;
}

static const struct conan_decide_ops ops = { .act = fake_act, .window_open = fake_window_open, .close_window = fake_close };

static struct conan_config cfg;
static struct conan_decider d;

static void start(void)
{
    memset(&fake, 0, sizeof fake);
    conan_decider_reset(&d, &cfg, &ops, 0, 1000, 4242);
}

static struct conan_readings cpu_at(double percent)
{
    return (struct conan_readings){ .cpu_percent = percent, .threads = 3, .heap_sampling = true };
}

static void cpu_rule_opens_one_window_and_cools_down(void)
{
    conan_config_defaults(&cfg);
    cfg.cpu.rule.abs = 50;
    cfg.cpu.rule.window = 0;
    cfg.cpu.rule.cooldown_s = 60;
    start();
    struct conan_readings r = cpu_at(20);
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 0);
    r = cpu_at(80);
    conan_decide_tick(&d, 10, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_CPU);
    CHECK_STR(fake.metric[0], "cpu");
    CHECK_INT(fake.reason[0], CONAN_REASON_ABS);
    conan_decide_tick(&d, 15, &r); /* window still open: nothing */
    CHECK_INT(fake.n, 1);
    fake.window = false;
    conan_decide_tick(&d, 20, &r); /* cooling down */
    CHECK_INT(fake.n, 1);
    conan_decide_tick(&d, 71, &r); /* cooldown over */
    CHECK_INT(fake.n, 2);
}

static void ceiling_closes_the_window_and_opens_none(void)
{
    conan_config_defaults(&cfg);
    cfg.cpu.rule.abs = 50;
    cfg.cpu.rule.window = 0;
    cfg.cpu.max = 90;
    cfg.recorder.enable = false;
    start();
    fake.window = true;
    struct conan_readings r = cpu_at(95);
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.closed, 1);
    CHECK_STR(fake.close_note, "stopped early: CPU reached cpu.max");
    CHECK_INT(fake.n, 0);
    CHECK(!fake.window);
}

/* With the flight recorder, a trip above the ceiling gets the recorder's
 * profile of the time before it instead of a window, and the rule cools down. */
static void ceiling_writes_the_recorders_profile_instead(void)
{
    conan_config_defaults(&cfg);
    cfg.cpu.rule.abs = 50;
    cfg.cpu.rule.window = 0;
    cfg.cpu.max = 90;
    start();
    struct conan_readings r = cpu_at(95);
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_BEFORE);
    CHECK(!fake.window);
    conan_decide_tick(&d, 10, &r); /* cooling down */
    CHECK_INT(fake.n, 1);
}

static void memory_and_heap_rules_write_one_heap_profile_and_a_followup(void)
{
    conan_config_defaults(&cfg);
    cfg.memory.rule.enable = true;
    cfg.memory.rule.abs = 50;
    cfg.memory.rule.window = 0;
    cfg.heap.rule.enable = true;
    cfg.heap.rule.abs = 10;
    cfg.heap.rule.window = 0;
    cfg.heap.followup_s = 30;
    start();
    struct conan_readings r = { .cpu_percent = 1, .rss_percent = 60, .heap_mib = 20, .threads = 2, .heap_sampling = true };
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_HEAP | CONAN_WANTS_BEFORE); /* what ran while memory grew */
    CHECK_STR(fake.metric[0], "memory"); /* the memory rule names the trigger when both trip */
    CHECK_NEAR(conan_decide_next_deadline(&d, 1000), 35, 1e-9);
    conan_decide_pending(&d, 20, true); /* not yet due */
    CHECK_INT(fake.n, 1);
    conan_decide_pending(&d, 35, true);
    CHECK_INT(fake.n, 2);
    CHECK_INT(fake.kinds[1], CONAN_WANTS_HEAP);
    CHECK_STR(fake.note[1], "follow-up: heap.followup_s after the trip");
    CHECK_NEAR(conan_decide_next_deadline(&d, 1000), 1000, 1e-9);
}

static void thread_rule_excludes_the_monitor(void)
{
    conan_config_defaults(&cfg);
    cfg.threads.rule.enable = true;
    cfg.threads.rule.abs = 10;
    cfg.threads.rule.min = 0;
    cfg.threads.rule.window = 0;
    start();
    struct conan_readings r = { .threads = 10, .heap_sampling = false }; /* 9 of the program's */
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 0);
    r.threads = 11;
    conan_decide_tick(&d, 10, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_THREADS);
}

static void budget_caps_triggers_per_hour(void)
{
    conan_config_defaults(&cfg);
    cfg.threads.rule.enable = true;
    cfg.threads.rule.abs = 1;
    cfg.threads.rule.min = 0;
    cfg.threads.rule.window = 0;
    cfg.threads.rule.cooldown_s = 0;
    cfg.limits.max_dumps_per_hour = 2;
    start();
    struct conan_readings r = { .threads = 50 };
    for (int i = 1; i <= 5; i++) conan_decide_tick(&d, i * 10.0, &r);
    CHECK_INT(fake.n, 2);
    conan_decide_tick(&d, 3611, &r); /* the first has aged out */
    CHECK_INT(fake.n, 3);
}

static void request_waits_for_the_open_window(void)
{
    conan_config_defaults(&cfg);
    cfg.threads.rule.enable = true;
    start();
    fake.window = true;
    conan_decide_request(&d, 5, true, NULL);
    CHECK_INT(fake.n, 0);
    conan_decide_pending(&d, 6, true); /* still open */
    CHECK_INT(fake.n, 0);
    fake.window = false;
    conan_decide_pending(&d, 7, true);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.reason[0], CONAN_REASON_MANUAL);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_CPU | CONAN_WANTS_HEAP | CONAN_WANTS_THREADS | CONAN_WANTS_MUTEX);
    conan_decide_pending(&d, 8, true); /* served once */
    CHECK_INT(fake.n, 1);
}

/* A request names kinds and the CPU window's length: only enabled kinds are
 * taken (none at all costs no budget); requests waiting for the open window
 * are merged. */
static void request_asks_for_kinds_and_seconds(void)
{
    conan_config_defaults(&cfg);
    cfg.limits.max_dumps_per_hour = 2;
    start();
    struct conan_request heap = { CONAN_WANTS_HEAP, 0 }, cpu3 = { CONAN_WANTS_CPU, 3 };
    conan_decide_request(&d, 5, true, &heap);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_HEAP);
    CHECK_INT(fake.reason[0], CONAN_REASON_MANUAL);
    conan_decide_request(&d, 6, false, &heap); /* heap sampling is off: nothing, no budget spent */
    CHECK_INT(fake.n, 1);
    conan_decide_request(&d, 7, true, &cpu3);
    CHECK_INT(fake.n, 2);
    CHECK_INT(fake.kinds[1], CONAN_WANTS_CPU);
    CHECK_INT(fake.cpu_seconds[1], 3);
    /* The window is open: two requests wait and are served as one. */
    cfg.limits.max_dumps_per_hour = 10;
    struct conan_request cpu8 = { CONAN_WANTS_CPU, 8 };
    conan_decide_request(&d, 8, true, &heap);
    conan_decide_request(&d, 8, true, &cpu8);
    CHECK_INT(fake.n, 2);
    fake.window = false;
    conan_decide_pending(&d, 9, true);
    CHECK_INT(fake.n, 3);
    CHECK_INT(fake.kinds[2], CONAN_WANTS_CPU | CONAN_WANTS_HEAP);
    CHECK_INT(fake.cpu_seconds[2], 8);
    /* A request for every kind absorbs one for some. */
    conan_decide_request(&d, 10, true, &heap);
    conan_decide_request(&d, 10, true, NULL);
    fake.window = false;
    conan_decide_pending(&d, 11, true);
    CHECK_INT(fake.n, 4);
    CHECK_INT(fake.kinds[3], CONAN_WANTS_CPU | CONAN_WANTS_HEAP | CONAN_WANTS_THREADS | CONAN_WANTS_MUTEX);
}

struct request_case { const char *text; int rc; unsigned kinds; int seconds; const char *why; };

static void request_content_is_parsed_strictly(void)
{
    static const struct request_case cases[] = {
        { "", 0, 0, 0, "" },
        { " \n", 0, 0, 0, "" },
        { "{}", 0, 0, 0, "" },
        { "{\"kinds\":[\"cpu\",\"heap\"],\"seconds\":5}\n", 0, CONAN_WANTS_CPU | CONAN_WANTS_HEAP, 5, "" },
        { "{\"kinds\":[\"threads\"]}", 0, CONAN_WANTS_THREADS, 0, "" },
        { "{\"kinds\":[\"mutex\"]}", 0, CONAN_WANTS_MUTEX, 0, "" },
        { "{\"seconds\":3600}", 0, 0, 3600, "" },
        { "cpu", -1, 0, 0, "$: not JSON (want {\"kinds\": [\"cpu\", \"heap\", \"threads\"], \"seconds\": N}, or nothing)" },
        { "{} x", -1, 0, 0, "$: not JSON (want {\"kinds\": [\"cpu\", \"heap\", \"threads\"], \"seconds\": N}, or nothing)" },
        { "[\"cpu\"]", -1, 0, 0, "$: must be a JSON object" },
        { "{\"kinds\":[]}", -1, 0, 0, "kinds: must be a non-empty list of cpu, heap, threads, mutex" },
        { "{\"kinds\":\"cpu\"}", -1, 0, 0, "kinds: must be a non-empty list of cpu, heap, threads, mutex" },
        { "{\"kinds\":[\"cpu\",\"disk\"]}", -1, 0, 0, "kinds[1]: not one of cpu, heap, threads, mutex" },
        { "{\"kinds\":[\"threadcreate\"]}", -1, 0, 0, "kinds[0]: not one of cpu, heap, threads, mutex" },
        { "{\"seconds\":0}", -1, 0, 0, "seconds: must be a whole number from 1 to 3600" },
        { "{\"seconds\":3601}", -1, 0, 0, "seconds: must be a whole number from 1 to 3600" },
        { "{\"seconds\":1.5}", -1, 0, 0, "seconds: must be a whole number from 1 to 3600" },
        { "{\"seconds\":\"5\"}", -1, 0, 0, "seconds: must be a whole number from 1 to 3600" },
        { "{\"secs\":5}", -1, 0, 0, "secs: unknown key (valid: kinds, seconds)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct conan_request req = { 99, 99 };
        char why[256] = "";
        int rc = conan_request_parse(cases[i].text, strlen(cases[i].text), &req, why, sizeof why);
        if (rc != cases[i].rc || req.kinds != cases[i].kinds || req.cpu_seconds != cases[i].seconds ||
            strcmp(why, cases[i].why) != 0) {
            fprintf(stderr, "request \"%s\": rc %d kinds %u seconds %d why \"%s\"\n  want %d %u %d \"%s\"\n",
                    cases[i].text, rc, req.kinds, req.cpu_seconds, why, cases[i].rc, cases[i].kinds,
                    cases[i].seconds, cases[i].why);
            check_failures++;
        }
    }
}

/* The per-process trigger file's content reaches the request; a file that
 * is not a regular file, too long or not understood is removed and refused
 * (one log line), never served with guesses. */
static void trigger_file_content(void)
{
    char dir[] = "/tmp/conan-decide-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    conan_config_defaults(&cfg);
    snprintf(cfg.dump_dir, sizeof cfg.dump_dir, "%s", dir);
    start();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/conan.trigger.4242", dir);
    struct conan_request req;
    FILE *f = fopen(path, "w");
    fputs("{\"kinds\":[\"heap\"],\"seconds\":2}", f);
    fclose(f);
    CHECK(conan_trigger_file_present(&d, 1000, &req));
    CHECK_INT(req.kinds, CONAN_WANTS_HEAP);
    CHECK_INT(req.cpu_seconds, 2);
    CHECK(access(path, F_OK) != 0);

    f = fopen(path, "w");
    fputs("{\"kinds\":[\"disk\"]}", f);
    fclose(f);
    d.dump_dir_mtime = (struct timespec){ 0, 0 }; /* the directory changed (its mtime may not have, in a tick) */
    CHECK(!conan_trigger_file_present(&d, 1000, &req));
    CHECK(access(path, F_OK) != 0);               /* refused, and removed */

    f = fopen(path, "w");
    for (int i = 0; i < CONAN_TRIGGER_FILE_MAX; i++) fputc(' ', f);
    fputs("{}", f);
    fclose(f);
    d.dump_dir_mtime = (struct timespec){ 0, 0 };
    CHECK(!conan_trigger_file_present(&d, 1000, &req)); /* too long */
    CHECK(access(path, F_OK) != 0);

    CHECK(mkfifo(path, 0600) == 0);               /* would block a plain read */
    d.dump_dir_mtime = (struct timespec){ 0, 0 };
    CHECK(!conan_trigger_file_present(&d, 1000, &req));
    CHECK(access(path, F_OK) != 0);

    CHECK(symlink("/etc/hostname", path) == 0);
    d.dump_dir_mtime = (struct timespec){ 0, 0 };
    CHECK(!conan_trigger_file_present(&d, 1000, &req));
    CHECK(access("/etc/hostname", F_OK) == 0 || errno == ENOENT); /* the link went, never its target */
    struct stat st;
    CHECK(lstat(path, &st) != 0);
    rmdir(dir);
}

static void continuous_asks_for_every_enabled_kind_on_schedule(void)
{
    conan_config_defaults(&cfg);
    cfg.mode = CONAN_MODE_CONTINUOUS;
    cfg.continuous.every_s = 60;
    cfg.cpu.rule.enable = true;
    cfg.cpu.max = 90;
    cfg.threads.rule.enable = false;
    cfg.mutex.enable = false;
    start();
    struct conan_readings r = cpu_at(5);
    r.heap_sampling = false;
    conan_decide_tick(&d, 30, &r);
    CHECK_INT(fake.n, 0);
    conan_decide_tick(&d, 60, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.reason[0], CONAN_REASON_CONTINUOUS);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_CPU);
    fake.window = false;
    r = cpu_at(95); /* above the ceiling: no CPU window, the rest still comes */
    r.heap_sampling = true;
    conan_decide_tick(&d, 120, &r);
    CHECK_INT(fake.n, 3); /* the CPU rule (abs 70) trips too: the recorder's profile alone */
    CHECK_INT(fake.kinds[1], CONAN_WANTS_BEFORE);
    CHECK_INT(fake.kinds[2], CONAN_WANTS_HEAP | CONAN_WANTS_BEFORE);
}

static void trigger_files(void)
{
    char dir[] = "/tmp/conan-decide-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    conan_config_defaults(&cfg);
    snprintf(cfg.dump_dir, sizeof cfg.dump_dir, "%s", dir);
    cfg.interval_ms = 1000;
    start();
    struct conan_request req;
    CHECK(!conan_trigger_file_present(&d, 1000, &req));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/conan.trigger.4242", dir);
    fclose(fopen(path, "w"));
    CHECK(conan_trigger_file_present(&d, 1000, &req));
    CHECK(access(path, F_OK) != 0);              /* ours: consumed */
    CHECK_INT(req.kinds, 0);                     /* empty: the defaults */
    CHECK_INT(req.cpu_seconds, 0);
    snprintf(path, sizeof path, "%s/conan.trigger", dir);
    fclose(fopen(path, "w"));
    struct stat st;
    CHECK(stat(path, &st) == 0);
    double wall = (double)st.st_mtim.tv_sec + 1; /* the monitor started before the file */
    d.started_wall_s = wall - 10;
    CHECK(conan_trigger_file_present(&d, wall, &req));
    CHECK(!conan_trigger_file_present(&d, wall, &req)); /* once per version of the file */
    CHECK(access(path, F_OK) == 0);              /* shared: stays for the other processes */
    CHECK(!conan_trigger_file_present(&d, wall + 10, &req));
    CHECK(access(path, F_OK) != 0);              /* old enough: removed */
    rmdir(dir);
}

/* Throttling and CPU pressure open a CPU window like the CPU rule; a metric
 * the tick could not read is not fed (an unavailable reading of 0 would
 * otherwise count as a calm tick). */
static void throttle_and_cpu_pressure_open_a_window_only_when_read(void)
{
    conan_config_defaults(&cfg);
    cfg.cpu.rule.enable = false;
    start();
    struct conan_readings r = { .cpu_percent = 30, .threads = 3, .throttle_percent = 90 };
    conan_decide_tick(&d, 5, &r); /* not available: not a trip */
    CHECK_INT(fake.n, 0);
    r.throttle_available = true;
    conan_decide_tick(&d, 10, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_CPU);
    CHECK_STR(fake.metric[0], "throttle");
    r.pressure_available[CONAN_PSI_CPU] = true;
    r.pressure_percent[CONAN_PSI_CPU] = 80;
    conan_decide_tick(&d, 15, &r); /* the window is open: CPU pressure waits, without cooling down */
    CHECK_INT(fake.n, 1);
    fake.window = false;
    conan_decide_tick(&d, 20, &r); /* throttle cools down; CPU pressure trips now */
    CHECK_INT(fake.n, 2);
    CHECK_STR(fake.metric[1], "pressure.cpu");
    fake.window = false;
    r.throttle_percent = 3; /* below throttle.min */
    r.pressure_percent[CONAN_PSI_CPU] = 49; /* below pressure.cpu.abs */
    conan_decide_tick(&d, 200, &r);
    CHECK_INT(fake.n, 2);
}

/* Memory pressure writes a heap profile (one for every memory rule that
 * trips in the tick), I/O pressure the thread profiles. */
static void memory_and_io_pressure(void)
{
    conan_config_defaults(&cfg);
    cfg.heap.rule.enable = false;
    start();
    struct conan_readings r = { .threads = 3, .heap_sampling = true };
    r.pressure_available[CONAN_PSI_MEMORY] = r.pressure_available[CONAN_PSI_IO] = true;
    r.pressure_percent[CONAN_PSI_MEMORY] = 12;
    r.pressure_percent[CONAN_PSI_IO] = 5;
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_HEAP | CONAN_WANTS_BEFORE);
    CHECK_STR(fake.metric[0], "pressure.memory");
    r.pressure_percent[CONAN_PSI_IO] = 45;
    conan_decide_tick(&d, 10, &r); /* memory pressure cools down */
    CHECK_INT(fake.n, 2);
    CHECK_INT(fake.kinds[1], CONAN_WANTS_THREADS);
    CHECK_STR(fake.metric[1], "pressure.io");
    /* With the memory rule tripping in the same tick, one heap profile. */
    conan_config_defaults(&cfg);
    cfg.memory.rule.abs = 50;
    cfg.memory.rule.window = 0;
    start();
    r = (struct conan_readings){ .threads = 3, .rss_percent = 60, .heap_sampling = true };
    r.pressure_available[CONAN_PSI_MEMORY] = true;
    r.pressure_percent[CONAN_PSI_MEMORY] = 30;
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 1);
    CHECK_STR(fake.metric[0], "memory");
    conan_decide_tick(&d, 10, &r); /* both cool down */
    CHECK_INT(fake.n, 1);
}

/* Fresh stuck threads write the thread profiles with the report; threads
 * already reported do not; the cooldown holds new ones back. */
static void stuck_threads_trip_once_each(void)
{
    conan_config_defaults(&cfg);
    cfg.stuck.cooldown_s = 100;
    start();
    struct conan_stuck_report report = { .n = 2, .fresh = 2 };
    report.thread[0].for_s = 31;
    report.thread[1].for_s = 40;
    struct conan_readings r = { .threads = 3, .stuck = &report };
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_THREADS);
    CHECK_STR(fake.metric[0], "stuck");
    CHECK(fake.stuck[0] == &report);
    CHECK(d.stuck_acted);
    report.fresh = 0; /* the monitor marked them reported */
    conan_decide_tick(&d, 10, &r);
    CHECK_INT(fake.n, 1);
    CHECK(!d.stuck_acted);
    report.fresh = 1; /* a new one, within the cooldown */
    conan_decide_tick(&d, 50, &r);
    CHECK_INT(fake.n, 1);
    conan_decide_tick(&d, 106, &r);
    CHECK_INT(fake.n, 2);
}

/* The mutex rule: a convoy (waits summed over threads, % of the tick) writes
 * the mutex profile and opens a CPU window; with the window already open, the
 * mutex profile alone; never while the profiler is off (not read). */
static void mutex_rule_writes_a_mutex_profile_and_a_window(void)
{
    conan_config_defaults(&cfg);
    cfg.mutex.rule.window = 0;
    cfg.mutex.rule.cooldown_s = 10;
    start();
    struct conan_readings r = { .threads = 6, .mutex_available = false, .mutex_wait_percent = 400 };
    conan_decide_tick(&d, 5, &r);
    CHECK_INT(fake.n, 0);
    r.mutex_available = true;
    r.mutex_wait_percent = 60; /* below abs 100 */
    conan_decide_tick(&d, 6, &r);
    CHECK_INT(fake.n, 0);
    r.mutex_wait_percent = 350;
    conan_decide_tick(&d, 7, &r);
    CHECK_INT(fake.n, 1);
    CHECK_INT(fake.kinds[0], CONAN_WANTS_MUTEX | CONAN_WANTS_CPU);
    CHECK_STR(fake.metric[0], "mutex");
    CHECK_INT(fake.reason[0], CONAN_REASON_ABS);
    conan_decide_tick(&d, 8, &r); /* cooling down */
    CHECK_INT(fake.n, 1);
    conan_decide_tick(&d, 18, &r); /* the window is still open: the mutex profile alone */
    CHECK_INT(fake.n, 2);
    CHECK_INT(fake.kinds[1], CONAN_WANTS_MUTEX);
}

int main(void)
{
    cpu_rule_opens_one_window_and_cools_down();
    ceiling_closes_the_window_and_opens_none();
    ceiling_writes_the_recorders_profile_instead();
    memory_and_heap_rules_write_one_heap_profile_and_a_followup();
    thread_rule_excludes_the_monitor();
    budget_caps_triggers_per_hour();
    request_waits_for_the_open_window();
    continuous_asks_for_every_enabled_kind_on_schedule();
    trigger_files();
    request_asks_for_kinds_and_seconds();
    request_content_is_parsed_strictly();
    trigger_file_content();
    throttle_and_cpu_pressure_open_a_window_only_when_read();
    memory_and_io_pressure();
    stuck_threads_trip_once_each();
    mutex_rule_writes_a_mutex_profile_and_a_window();
    CHECK_DONE();
}
