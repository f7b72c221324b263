/* label_server.cpp — the labels example of the README: a toy server whose
 * workers label each request with its route pattern (a C++ scope guard) and
 * its tenant's bucket (the C calls), so a profile splits by route.
 *
 * Three workers take requests in turn: /users/:id (handle_users: CPU, a kept
 * allocation, and a db_query under a nested "stage" label), /orders
 * (handle_orders: CPU), /health (handle_health: a little CPU), /slow
 * (handle_slow: asleep in nanosleep, for the wall profile) and /locked
 * (handle_locked: a lock the workers share, held 2 ms, for the mutex
 * profile). Between
 * requests each worker does unlabelled bookkeeping (do_bookkeeping). The
 * program asks for a profile after one second (conan_request_profile: the
 * heap profile then holds the kept blocks), runs for SECONDS in all and
 * prints what conan_label_set and the request returned, so a test can tell
 * an inert shim (-1) from an active one (0).
 * usage: label_server SECONDS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "burn.h"
#include "conan.h"

static volatile double sink;
static double seconds_to_run;

__attribute__((noinline)) void db_query(void) { sink = burn_cpu_ms(1.0); }

static thread_local void *kept[64]; /* each worker's recent blocks */
static thread_local unsigned nkept;

__attribute__((noinline)) void handle_users(void)
{
    sink = burn_cpu_ms(2.0);
    {
        conan::label_scope stage("stage", "db");
        db_query();
    }
    void *block = malloc(256 * 1024); /* kept a while: the heap profile sees it under the route */
    unsigned at = nkept++ % 64;
    free(kept[at]);
    kept[at] = block;
}

__attribute__((noinline)) void handle_orders(void) { sink = burn_cpu_ms(1.5); }
__attribute__((noinline)) void handle_health(void) { sink = burn_cpu_ms(0.2); }
__attribute__((noinline)) void do_bookkeeping(void) { sink = burn_cpu_ms(0.5); }

__attribute__((noinline)) void handle_slow(void)
{
    struct timespec wait = { 0, 3000000 };
    nanosleep(&wait, NULL);
}

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

/* Holds the lock 2 ms, asleep most of it, so the workers queue on it often
 * whatever else the machine runs. */
__attribute__((noinline)) void handle_locked(void)
{
    struct timespec held = { 0, 2000000 };
    pthread_mutex_lock(&shared_lock);
    nanosleep(&held, NULL);
    pthread_mutex_unlock(&shared_lock);
}

struct route { const char *pattern; void (*handle)(void); };
static const struct route routes[] = { { "/users/:id", handle_users }, { "/orders", handle_orders },
                                       { "/health", handle_health }, { "/slow", handle_slow },
                                       { "/locked", handle_locked } };
#define NROUTES (sizeof routes / sizeof routes[0])

static void *worker(void *arg)
{
    long id = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%ld", id);
    pthread_setname_np(pthread_self(), name);
    double end = burn_now_ms() + seconds_to_run * 1e3;
    for (unsigned n = (unsigned)id; burn_now_ms() < end; n++) {
        const struct route *r = &routes[n % NROUTES];
        conan_label_set("tenant", n % 2 ? "bucket-1" : "bucket-2");
        {
            conan::label_scope route("route", r->pattern);
            r->handle();
        }
        conan_label_clear("tenant");
        do_bookkeeping();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    seconds_to_run = argc > 1 ? atof(argv[1]) : 3;
    int first = conan_label_set("probe", "1");
    conan_label_clear("probe");
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    struct timespec second = { 1, 0 };
    nanosleep(&second, NULL);
    printf("label_set %d request %d\n", first, conan_request_profile());
    fflush(stdout);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    return 0;
}
