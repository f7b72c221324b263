/* clock.h — the clocks the engine reads (clock.c): wall time for time stamps,
 * monotonic time for intervals and deadlines, CPU time, and sleeping. */
#ifndef CONAN_CLOCK_H
#define CONAN_CLOCK_H

#include <stdint.h>
#include <time.h>

/* clock's time now; zero if it cannot be read. */
struct timespec conan_clock_read(clockid_t clock);
/* The same in seconds, and in nanoseconds. */
double conan_clock_seconds(clockid_t clock);
int64_t conan_clock_nanos(clockid_t clock);

/* CLOCK_MONOTONIC: intervals, deadlines. */
double conan_monotonic_seconds(void);
/* CLOCK_PROCESS_CPUTIME_ID: the CPU time of all the process's threads. */
double conan_process_cpu_seconds(void);
/* CLOCK_REALTIME: time stamps (profiles, file ages). */
int64_t conan_wall_nanos(void);
double conan_wall_seconds(void);

/* Sleeps ms milliseconds, resuming after signals. */
void conan_sleep_ms(long ms);

#endif
