/* test_wall.c — wall.c's rounds on real threads of the test process (the
 * test's main thread stands for the monitor, which the rounds leave out): a
 * thread blocked in read is counted every round, labelled sleeping and read,
 * from /proc without a signal, and once idle for IDLE_ROUNDS it is looked at
 * only every few rounds; a spinning thread is counted every round as running,
 * answered by SIGPROF; a thread CPU clock read (thread_ask.c) holds still for a
 * blocked thread and moves for a running one. */
#include "check.h"
#include "decode.h"
#include "internal.h"
#include "thread_ask.h"
#include "wall.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 40

static int never_written[2];
static int stop_spinning;        /* atomic */
static pid_t reader_tid, spinner_tid; /* atomic */

__attribute__((noinline)) static void blocked_in_read(void)
{
    char c;
    if (read(never_written[0], &c, 1) < 0) abort(); /* returns at the end (the pipe closed) */
}

__attribute__((noinline)) static void spin_here(void)
{
    volatile unsigned long x = 0;
    while (!__atomic_load_n(&stop_spinning, __ATOMIC_ACQUIRE)) x++;
}

static void *reader(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "w-read");
    __atomic_store_n(&reader_tid, gettid(), __ATOMIC_RELEASE);
    blocked_in_read();
    return NULL;
}

static void *spinner(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "w-spin");
    __atomic_store_n(&spinner_tid, gettid(), __ATOMIC_RELEASE);
    spin_here();
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec t = { 0, ms * 1000000L };
    nanosleep(&t, NULL);
}

static bool in_read(pid_t tid)
{
    struct conan_task_syscall at;
    return tid && conan_task_syscall(tid, &at) && !at.running && at.nr == SYS_read;
}

static const char *label_str(const Perftools__Profiles__Profile *prof, const Perftools__Profiles__Sample *s,
                             const char *key)
{
    for (size_t i = 0; i < s->n_label; i++)
        if (strcmp(prof->string_table[s->label[i]->key], key) == 0) return prof->string_table[s->label[i]->str];
    return NULL;
}

/* Rounds counted for thread name, and whether every sample of it had state
 * (and syscall, unless NULL). */
static long rounds_of(const Perftools__Profiles__Profile *prof, const char *name, const char *state,
                      const char *syscall, bool *all_match)
{
    long rounds = 0;
    *all_match = true;
    for (size_t i = 0; i < prof->n_sample; i++) {
        const Perftools__Profiles__Sample *s = prof->sample[i];
        const char *thread = label_str(prof, s, "thread");
        if (!thread || strcmp(thread, name) != 0) continue;
        rounds += s->value[0];
        const char *st = label_str(prof, s, "state"), *call = label_str(prof, s, "syscall");
        if (!st || strcmp(st, state) != 0) *all_match = false;
        if (syscall && (!call || strcmp(call, syscall) != 0)) *all_match = false;
        if (s->value[1] != s->value[0] * 50000000LL) *all_match = false; /* 1/20 s each */
    }
    return rounds;
}

static void test_cpu_clock(void)
{
    int64_t a = conan_ask_cpu_ns(reader_tid);
    int64_t s = conan_ask_cpu_ns(spinner_tid);
    sleep_ms(30);
    CHECK(a >= 0 && s >= 0);
    CHECK(conan_ask_cpu_ns(reader_tid) == a);  /* blocked: has not run */
    CHECK(conan_ask_cpu_ns(spinner_tid) > s);  /* spinning: runs */
    CHECK(conan_ask_cpu_ns(999999999) == -1);  /* no such thread */
}

static void test_rounds(void)
{
    struct conan_config cfg;
    conan_config_defaults(&cfg);
    cfg.wall.hz = 20;
    CHECK_INT(conan_wall_start(&cfg), 0);
    CHECK(conan_wall_active());
    for (int r = 1; r < ROUNDS; r++) {
        sleep_ms(5); /* time for the spinner's handler; rounds are driven by hand */
        conan_wall_round(conan_wall_next_round_s());
    }
    struct conan_wall_stats st;
    struct conan_pprof *p = conan_wall_stop(&st);
    CHECK(p != NULL && !conan_wall_active());
    if (!p) return;
    CHECK_INT(st.rounds, ROUNDS);
    CHECK_INT(st.missed, 0);
    CHECK(st.unlooked > 0);        /* the reader went idle after its first rounds */
    CHECK(st.signalled > 0);       /* the spinner answered (a loaded machine may leave some unanswered) */
    CHECK(st.why_no_signals == NULL);
    struct conan_symbols *syms = conan_symbols_open();
    void *gz = NULL;
    size_t gz_len = 0;
    CHECK_INT(conan_pprof_encode(p, syms, &gz, &gz_len), 0);
    Perftools__Profiles__Profile *prof = gz ? decode(gz, gz_len) : NULL;
    CHECK(prof != NULL);
    if (prof) {
        CHECK_STR(prof->string_table[prof->sample_type[1]->type], "wall");
        CHECK_STR(prof->string_table[prof->period_type->type], "wall");
        CHECK_INT(prof->period, 50000000);
        bool match;
        CHECK_INT(rounds_of(prof, "w-read", "sleeping", "read", &match), ROUNDS);
        CHECK(match);
        CHECK_INT(rounds_of(prof, "w-spin", "running", NULL, &match), ROUNDS);
        CHECK(match);
        perftools__profiles__profile__free_unpacked(prof, NULL);
    }
    free(gz);
    conan_symbols_close(syms);
    conan_pprof_free(p);
}

int main(void)
{
    if (pipe(never_written) != 0) return 1;
    pthread_t r, s;
    pthread_create(&r, NULL, reader, NULL);
    pthread_create(&s, NULL, spinner, NULL);
    for (int i = 0; i < 2000 && !(in_read(__atomic_load_n(&reader_tid, __ATOMIC_ACQUIRE)) &&
                                  __atomic_load_n(&spinner_tid, __ATOMIC_ACQUIRE));
         i++)
        sleep_ms(5); /* setup: both at their places */
    CHECK(in_read(reader_tid));
    test_cpu_clock();
    test_rounds();
    __atomic_store_n(&stop_spinning, 1, __ATOMIC_RELEASE);
    close(never_written[1]);
    pthread_join(r, NULL);
    pthread_join(s, NULL);
    CHECK_DONE();
}
