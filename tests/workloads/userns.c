/* userns.c — enters a new user namespace with unshare(CLONE_NEWUSER), which
 * the kernel allows only to a single-threaded process, then burns CPU.
 * Prints the call's result. usage: userns MS */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "burn.h"

volatile double sink;

__attribute__((noinline)) static void burn_in_new_namespace(long ms)
{
    sink = burn_wall_ms(ms);
}

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1500;
    int rc = unshare(CLONE_NEWUSER);
    printf("unshare: %s\n", rc == 0 ? "ok" : strerror(errno));
    burn_in_new_namespace(ms);
    return rc == 0 ? 0 : 1;
}
