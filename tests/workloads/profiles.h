/* profiles.h — for workloads that wait on libconan: count the profiles of a
 * kind in a dump directory, and ask for profiles on demand (through
 * conan_request_profile, found with dlsym so the workload runs without the
 * shim too) and wait for them. Header-only, like burn.h; C and C++. */
#ifndef CONAN_WORKLOAD_PROFILES_H
#define CONAN_WORKLOAD_PROFILES_H

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Finished profiles "<app>.<pid>.<kind>.<stamp>.<seq>.pb.gz" in dir. */
static inline int profiles_of_kind(const char *dir, const char *kind)
{
    char needle[64];
    snprintf(needle, sizeof needle, ".%s.", kind);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && strstr(e->d_name, needle) && strstr(e->d_name, ".pb.gz")) n++;
    if (d) closedir(d);
    return n;
}

/* Polls (50 ms) until dir holds `want` profiles of kind, or seconds pass. */
static inline int wait_for_profiles(const char *dir, const char *kind, int want, int seconds)
{
    int n = profiles_of_kind(dir, kind);
    for (int i = 0; i < seconds * 20 && n < want; i++) {
        struct timespec ms = { 0, 50000000 };
        nanosleep(&ms, NULL);
        n = profiles_of_kind(dir, kind);
    }
    return n;
}

/* Asks libconan for profiles now and waits (10 s at most) for `want` of kind.
 * Returns 0 if the shim is absent or inert. */
static inline int request_profiles(const char *dir, const char *kind, int want)
{
    int (*request)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "conan_request_profile");
    if (!dir || !request || request() != 0) return 0;
    return wait_for_profiles(dir, kind, want, 10);
}

#endif
