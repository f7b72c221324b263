/* mutex_queue.c — a lock convoy with a known answer, for the mutex profile.
 *
 * One thread takes a mutex in hold_the_lock and keeps it HOLD_US (sleeping),
 * lets go for a moment, and again; four threads queue for the same mutex in
 * queue_for_the_lock, each taking it and letting go at once. Every
 * pthread_mutex_lock call of the program is timed by the program itself
 * (CLOCK_MONOTONIC around the call); after SECONDS the threads are joined and
 * the total is printed: "waited <ns>" (all lock calls), "queued <ns>" (those
 * in queue_for_the_lock). With TRIGGER_DIR (not "-"), the program then asks
 * libconan for a mutex profile through TRIGGER_DIR/conan.trigger.<pid> and
 * waits, at most 10 s, until one more mutex dump appears there, so the profile holds
 * exactly the waits it measured. Preloaded, the threads label themselves
 * (conan_label_set found with dlsym): role=holder, role=waiter. Prints "done"
 * last.
 * usage: mutex_queue SECONDS HOLD_US TRIGGER_DIR */
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAITERS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long long waited_ns, queued_ns; /* atomic */
static int stop;                       /* atomic */
static long hold_us;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline __attribute__((always_inline)) long long timed_lock(void)
{
    long long t0 = now_ns();
    if (pthread_mutex_lock(&lock) != 0) abort();
    long long ns = now_ns() - t0;
    __atomic_fetch_add(&waited_ns, ns, __ATOMIC_RELAXED);
    return ns;
}

static void pause_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0) {}
}

__attribute__((noinline)) static void hold_the_lock(void)
{
    timed_lock();
    pause_us(hold_us);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void queue_for_the_lock(void)
{
    long long ns = timed_lock();
    __atomic_fetch_add(&queued_ns, ns, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&lock);
    __asm__ volatile("" ::: "memory");
}

/* libconan's conan_label_set when it is preloaded. */
static void label_self(const char *role)
{
    int (*set)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_DEFAULT, "conan_label_set");
    if (set) set("role", role);
}

static void *holder(void *arg)
{
    (void)arg;
    label_self("holder");
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        hold_the_lock();
        pause_us(200);
    }
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    label_self("waiter");
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        queue_for_the_lock();
        pause_us(50);
    }
    return NULL;
}

static int mutex_dumps_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".mutex.") && strstr(e->d_name, ".pb.gz")) found++;
    if (d) closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mutex_queue SECONDS HOLD_US TRIGGER_DIR\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    hold_us = atol(argv[2]);
    pthread_t h, w[WAITERS];
    pthread_create(&h, NULL, holder, NULL);
    for (int i = 0; i < WAITERS; i++) pthread_create(&w[i], NULL, waiter, NULL);
    pause_us((long)(seconds * 1e6));
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    pthread_join(h, NULL);
    for (int i = 0; i < WAITERS; i++) pthread_join(w[i], NULL);
    printf("waited %lld\nqueued %lld\n", waited_ns, queued_ns);
    fflush(stdout);
    if (strcmp(argv[3], "-") != 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/conan.trigger.%d", argv[3], (int)getpid());
        int before = mutex_dumps_in(argv[3]);
        FILE *f = fopen(path, "w");
        if (!f) return 1;
        fputs("{\"kinds\": [\"mutex\"]}\n", f);
        fclose(f);
        for (int i = 0; i < 1000 && mutex_dumps_in(argv[3]) == before; i++) pause_us(10000);
    }
    printf("done\n");
    return 0;
}
