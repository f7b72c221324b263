/* clock.c — every clock read of the engine goes through here: one
 * clock_gettime, converted to what the caller measures in (clock.h). Safe
 * anywhere, signal handlers included (clock_gettime is async-signal-safe). */
#include "clock.h"

#include <errno.h>

struct timespec conan_clock_read(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return (struct timespec){ 0, 0 };
    return ts;
}

double conan_clock_seconds(clockid_t clock)
{
    struct timespec ts = conan_clock_read(clock);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t conan_clock_nanos(clockid_t clock)
{
    struct timespec ts = conan_clock_read(clock);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double conan_monotonic_seconds(void)
{
    return conan_clock_seconds(CLOCK_MONOTONIC);
}

double conan_process_cpu_seconds(void)
{
    return conan_clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

int64_t conan_wall_nanos(void)
{
    return conan_clock_nanos(CLOCK_REALTIME);
}

double conan_wall_seconds(void)
{
    return conan_clock_seconds(CLOCK_REALTIME);
}

void conan_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
