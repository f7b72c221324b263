/* label_dlsym.c — a program that does not link libconan but uses its labels
 * when it is preloaded, by finding conan_label_set with dlsym. It burns CPU
 * in labelled_work under job=nightly and in unlabelled_work with no label,
 * after asking for a profile, and prints what it found and what the calls
 * returned ("absent" without the shim).
 * usage: label_dlsym MS */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "burn.h"

volatile double sink;

__attribute__((noinline)) void labelled_work(long ms) { sink = burn_wall_ms(ms); }
__attribute__((noinline)) void unlabelled_work(long ms) { sink = burn_wall_ms(ms) + 1; }

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 1000;
    int (*set)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_DEFAULT, "conan_label_set");
    int (*clear)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "conan_label_clear");
    int (*request)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "conan_request_profile");
    if (!set || !clear || !request) {
        printf("absent\n");
        return 0;
    }
    printf("request %d\n", request());
    for (int round = 0; round < 10; round++) {
        int rc = set("job", "nightly");
        labelled_work(ms / 20);
        clear("job");
        unlabelled_work(ms / 20);
        if (round == 0) printf("label_set %d\n", rc);
        fflush(stdout);
    }
    return 0;
}
