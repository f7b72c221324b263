/* request.c — links libconan and asks for a profile through include/conan.h,
 * then burns CPU in a named function while the window runs.
 * With "fork", a forked child asks instead and burns in burn_in_child; the
 * parent then burns too. The request is the child's alone: its own monitor
 * serves it (0), or, with follow_fork false, it is refused (-1).
 * usage: request BURN_MS [fork] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "burn.h"
#include "conan.h"

volatile double sink;

__attribute__((noinline)) void burn_after_request(long ms)
{
    sink = burn_wall_ms(ms);
}

__attribute__((noinline)) void burn_in_child(long ms)
{
    sink = burn_wall_ms(ms) + 1;
}

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1500;
    if (argc > 2 && strcmp(argv[2], "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            printf("child request %d\n", conan_request_profile());
            fflush(stdout);
            burn_in_child(ms);
            exit(0);
        }
        waitpid(pid, NULL, 0);
        burn_after_request(ms);
        return 0;
    }
    int rc = conan_request_profile();
    printf("version %s request %d\n", conan_version(), rc);
    burn_after_request(ms);
    return rc == 0 ? 0 : 1;
}
