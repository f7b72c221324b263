/* conan.h — libconan's public API, for programs that choose to link against it.
 *
 * Most users never include this: LD_PRELOAD=libconan.so profiles an unmodified
 * program. A program that links with -lconan (or finds these symbols with dlsym
 * when preloaded) can ask for a profile itself, e.g. from an admin endpoint. */
#ifndef CONAN_H
#define CONAN_H

#ifdef __cplusplus
extern "C" {
#endif

#define CONAN_VERSION_MAJOR 0
#define CONAN_VERSION_MINOR 1
#define CONAN_VERSION_PATCH 0
#define CONAN_VERSION "0.1.0"

/* The version of the libconan actually loaded, e.g. "0.1.0". */
const char *conan_version(void);

/* Asks libconan to take a profile of every enabled kind now, as creating
 * <dump_dir>/conan.trigger.<pid> would. Honoured during cooldowns; counts toward
 * limits.max_dumps_per_hour. Async-signal-safe. Returns 0 when the request was
 * queued, -1 when libconan is inert (mode "off", or a bad config). */
int conan_request_profile(void);

#ifdef __cplusplus
}
#endif

#endif
