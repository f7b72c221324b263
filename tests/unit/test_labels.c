/* test_labels.c — the label calls of include/conan.h and what samplers see of
 * them (labels.c): inert until started; set, replace, clear; the 8-key and
 * length bounds; push/pop nesting; the monitor's view of another thread, and
 * of an ended one; the pair table's bound; and pairs added by many threads at
 * once, each resolving to its own strings. */
#include "check.h"
#include "internal.h"
#include "conan.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The calling thread's labels as "k=v k=v", in place order. */
static const char *labels_now(void)
{
    static char out[1024];
    struct conan_label_set set;
    struct conan_label l[CONAN_LABELS_MAX];
    conan_labels_capture(&set);
    int n = conan_labels_resolve(&set, l, CONAN_LABELS_MAX);
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s=%s", i ? " " : "", l[i].key, l[i].str);
    return out;
}

static void bounds_and_scopes(void)
{
    CHECK_INT(conan_label_set("a", "1"), 0);
    CHECK_INT(conan_label_set("b", "2"), 0);
    CHECK_STR(labels_now(), "a=1 b=2");
    CHECK_INT(conan_label_set("a", "3"), 0); /* replaced in place */
    CHECK_STR(labels_now(), "a=3 b=2");
    CHECK_INT(conan_label_clear("a"), 0);
    CHECK_INT(conan_label_clear("never-set"), 0);
    CHECK_STR(labels_now(), "b=2");
    CHECK_INT(conan_label_set("b", NULL), 0);
    CHECK_STR(labels_now(), "");
    CHECK_INT(conan_label_set("", "x"), -1);
    CHECK_INT(conan_label_set(NULL, "x"), -1);

    char key[16];
    for (int i = 0; i < CONAN_LABELS_MAX; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK_INT(conan_label_set(key, "v"), 0);
    }
    CHECK_INT(conan_label_set("ninth", "v"), -1);
    struct conan_label_scope s;
    CHECK_INT(conan_label_push(&s, "ninth", "v"), -1);
    conan_label_pop(&s); /* a failed push pops nothing */
    CHECK_INT(conan_label_set("k3", "w"), 0); /* a set key can still change */
    CHECK_INT(conan_label_clear("k0"), 0);
    CHECK_INT(conan_label_set("ninth", "v"), 0);
    for (int i = 0; i < CONAN_LABELS_MAX; i++) {
        snprintf(key, sizeof key, "k%d", i);
        conan_label_clear(key);
    }
    conan_label_clear("ninth");
    CHECK_STR(labels_now(), "");

    char long_key[64], long_value[200];
    memset(long_key, 'k', sizeof long_key - 1), long_key[sizeof long_key - 1] = '\0';
    memset(long_value, 'v', sizeof long_value - 1), long_value[sizeof long_value - 1] = '\0';
    CHECK_INT(conan_label_set(long_key, long_value), 0);
    struct conan_label_set set;
    struct conan_label l[1];
    conan_labels_capture(&set);
    CHECK_INT(conan_labels_resolve(&set, l, 1), 1);
    CHECK_INT(strlen(l[0].key), CONAN_LABEL_KEY_MAX - 1);
    CHECK_INT(strlen(l[0].str), CONAN_LABEL_VALUE_MAX - 1);
    long_key[40] = '\0'; /* the same key once cut: the same place */
    CHECK_INT(conan_label_clear(long_key), 0);
    CHECK_STR(labels_now(), "");

    struct conan_label_scope outer, inner;
    CHECK_INT(conan_label_set("route", "/a"), 0);
    CHECK_INT(conan_label_push(&outer, "route", "/b"), 0);
    CHECK_INT(conan_label_push(&inner, "stage", "db"), 0);
    CHECK_STR(labels_now(), "route=/b stage=db");
    conan_label_pop(&inner);
    CHECK_STR(labels_now(), "route=/b");
    conan_label_pop(&outer);
    CHECK_STR(labels_now(), "route=/a");
    CHECK_INT(conan_label_push(&outer, "route", "/c"), 0);
    conan_label_clear("route"); /* cleared inside the scope: pop still restores */
    conan_label_pop(&outer);
    CHECK_STR(labels_now(), "route=/a");
    CHECK_INT(conan_label_push(&outer, "route", NULL), 0); /* a scope without the key */
    CHECK_STR(labels_now(), "");
    conan_label_pop(&outer);
    CHECK_STR(labels_now(), "route=/a");
    conan_label_clear("route");
}

struct other { pthread_mutex_t lock; pthread_cond_t cond; int step; pid_t tid; };

static void wait_step(struct other *o, int step)
{
    pthread_mutex_lock(&o->lock);
    while (o->step < step) pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

static void next_step(struct other *o)
{
    pthread_mutex_lock(&o->lock);
    o->step++;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static void *other_thread(void *arg)
{
    struct other *o = arg;
    conan_labels_thread_started();
    o->tid = gettid();
    conan_label_set("job", "other");
    next_step(o);    /* 1: labelled */
    wait_step(o, 2); /* the monitor side has looked */
    conan_labels_thread_ended();
    next_step(o);    /* 3: ended */
    return NULL;
}

/* A forked child (fork.c calls conan_labels_postfork_child in it): the
 * parent's other threads' places are gone, its own labels are seen under its
 * new tid. Exit status 0 when both hold. */
static int child_view(pid_t other)
{
    conan_labels_postfork_child();
    struct conan_label_set set;
    if (conan_labels_of_thread(other, &set)) return 1;
    if (!conan_labels_of_thread(gettid(), &set) || conan_labels_resolve(&set, (struct conan_label[1]){ 0 }, 1) != 1)
        return 2;
    conan_labels_thread_started(); /* a thread of the child takes a place: another one */
    return 0;
}

static void monitor_view(void)
{
    struct other o = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
    pthread_t t;
    pthread_create(&t, NULL, other_thread, &o);
    wait_step(&o, 1);
    struct conan_label_set set;
    struct conan_label l[2];
    CHECK(conan_labels_of_thread(o.tid, &set));
    CHECK_INT(conan_labels_resolve(&set, l, 2), 1);
    CHECK_STR(l[0].key, "job");
    CHECK_STR(l[0].str, "other");
    conan_label_set("forker", "main");
    pid_t child = fork();
    if (child == 0) _exit(child_view(o.tid));
    int status = -1;
    waitpid(child, &status, 0);
    CHECK_INT(status, 0);
    CHECK(conan_labels_of_thread(o.tid, &set)); /* the parent's view is untouched */
    conan_label_clear("forker");
    next_step(&o);
    wait_step(&o, 3);
    CHECK(!conan_labels_of_thread(o.tid, &set));
    CHECK(conan_labels_empty(&set));
    pthread_join(t, NULL);
    CHECK(conan_label_set("mine", "x") == 0 && conan_labels_of_thread(gettid(), &set)); /* main, known since start */
    CHECK_INT(conan_labels_resolve(&set, l, 2), 1);
    conan_label_clear("mine");
}

#define RACERS 4
#define RACE_PAIRS 200

static void *racer(void *arg)
{
    (void)arg;
    char value[16];
    for (int round = 0; round < 50; round++)
        for (int i = 0; i < RACE_PAIRS; i++) {
            snprintf(value, sizeof value, "v%d", i);
            if (conan_label_set("race", value) != 0) return (void *)1;
            struct conan_label_set set;
            struct conan_label l[1];
            conan_labels_capture(&set);
            if (conan_labels_resolve(&set, l, 1) != 1 || strcmp(l[0].key, "race") || strcmp(l[0].str, value))
                return (void *)2;
        }
    conan_label_clear("race");
    return NULL;
}

static void racing_adds(void)
{
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) pthread_create(&t[i], NULL, racer, NULL);
    for (int i = 0; i < RACERS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        CHECK(rc == NULL);
    }
}

static void table_bound(void)
{
    char value[32];
    int refused = 0, accepted = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(value, sizeof value, "fill-%d", i);
        if (conan_label_set("fill", value) == 0) accepted++;
        else refused++;
    }
    CHECK(accepted > 3000 && accepted < 4096); /* 4095 ids, some already used above */
    CHECK_INT(accepted + refused, 5000);
    CHECK_INT(conan_label_set("fill", "fill-1"), 0); /* pairs that exist still work */
    CHECK_STR(labels_now(), "fill=fill-1");
    conan_label_clear("fill");
    /* Refused pairs leave the index as it was (else 20,000 more would fill
     * it, and every later lookup would probe all of it). */
    long used = conan_labels_index_used();
    for (int i = 0; i < 20000; i++) {
        snprintf(value, sizeof value, "more-%d", i);
        CHECK(conan_label_set("fill", value) == -1);
    }
    CHECK_INT(conan_labels_index_used(), used);
    CHECK_INT(conan_label_set("fill", "fill-2"), 0);
    conan_label_clear("fill");
}

int main(void)
{
    CHECK_INT(conan_label_set("early", "1"), -1); /* inert until started */
    CHECK_STR(labels_now(), "");
    conan_labels_start();
    bounds_and_scopes();
    monitor_view();
    racing_adds();
    table_bound(); /* last: fills the table */
    CHECK_DONE();
}
