/* burst.c — the workload of figure 6 (trigger latency): calm for CALM_MS,
 * then two threads burn CPU for BURST_MS in burst_a and burst_b (the whole
 * machine on a 2-core host), while the main thread watches DUMP_DIR with
 * inotify for the first CPU profile to appear there (renamed into place under
 * its final name), for at most WAIT_S seconds after the burst began.
 * Prints, as CLOCK_REALTIME nanoseconds:
 *   burst_start_ns T          just before the burning threads are created
 *   profile_ns T NAME         when NAME (a *.cpu.*.pb.gz) appeared, or
 *   profile_ns 0 -            if none did in time
 * usage: burst CALM_MS BURST_MS DUMP_DIR WAIT_S */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

static long burst_ms;
volatile double sink[2];

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long long realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double burn(void)
{
    double end = monotonic_ms() + (double)burst_ms, x = 1.0001;
    while (monotonic_ms() < end)
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    return x;
}

__attribute__((noinline)) static void *burst_a(void *arg) { (void)arg; sink[0] = burn(); return NULL; }
__attribute__((noinline)) static void *burst_b(void *arg) { (void)arg; sink[1] = burn(); return NULL; }

/* A final CPU profile name: <app>.<pid>.cpu.<time>.<seq>.pb.gz, not hidden. */
static int is_cpu_profile(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && strstr(name, ".cpu.") && n > 6 && strcmp(name + n - 6, ".pb.gz") == 0;
}

/* Waits for a CPU profile in the watched directory until deadline_ms. */
static long long wait_for_profile(int fd, double deadline_ms, char *name, size_t name_len)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        double left = deadline_ms - monotonic_ms();
        if (left <= 0) return 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, (int)left + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        ssize_t len = read(fd, buf, sizeof buf);
        if (len < 0 && errno == EINTR) continue;
        if (len <= 0) return 0;
        long long now = realtime_ns();
        for (char *p2 = buf; p2 < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p2;
            if (ev->len && is_cpu_profile(ev->name)) {
                snprintf(name, name_len, "%s", ev->name);
                return now;
            }
            p2 += sizeof *ev + ev->len;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: burst CALM_MS BURST_MS DUMP_DIR WAIT_S\n");
        return 2;
    }
    long calm_ms = atol(argv[1]);
    burst_ms = atol(argv[2]);
    double wait_ms = atof(argv[4]) * 1e3;
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, argv[3], IN_MOVED_TO | IN_CREATE) < 0) {
        perror("burst: inotify on DUMP_DIR");
        return 1;
    }
    struct timespec calm = { calm_ms / 1000, (calm_ms % 1000) * 1000000L };
    while (nanosleep(&calm, &calm) != 0) {
    }
    pthread_t a, b;
    double started_ms = monotonic_ms();
    long long start_ns = realtime_ns();
    pthread_create(&a, NULL, burst_a, NULL);
    pthread_create(&b, NULL, burst_b, NULL);
    char name[256] = "-";
    long long profile_ns = wait_for_profile(fd, started_ms + wait_ms, name, sizeof name);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("burst_start_ns %lld\nprofile_ns %lld %s\n", start_ns, profile_ns, name);
    return 0;
}
