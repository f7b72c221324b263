/* request.c — links libconan and asks for a profile through include/conan.h,
 * then burns CPU in a named function while the window runs.
 * With "fork", a forked child asks instead: it has no monitor, so it must be
 * told the shim is inert there (-1), and the parent takes no profile.
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

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1500;
    if (argc > 2 && strcmp(argv[2], "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            printf("child request %d\n", conan_request_profile());
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
