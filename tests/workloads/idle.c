/* idle.c — sleeps for MS milliseconds, then prints the process's CPU time in
 * microseconds: under the shim that is what the monitor thread spent.
 * usage: idle MS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1000;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    printf("%.0f\n", ts.tv_sec * 1e6 + ts.tv_nsec / 1e3);
    return 0;
}
