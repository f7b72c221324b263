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

/* Labels: key=value pairs on the calling thread, carried by every CPU, wall,
 * mutex and heap sample libconan takes of it until they change, so a profile
 * can be split by them (go tool pprof -tagfocus=route=/users/:id). Keep their
 * values few: a route pattern, not a URL; a bucketed tenant; never a request
 * id. A process can hold 4096 distinct pairs; past that, new ones are refused.
 *
 * A thread carries at most 8 keys. Keys are cut to 31 bytes and values to 63,
 * and both are copied, so the caller's strings may change right after. A set
 * and a clear take about 20 ns together, with no lock and no allocation (a
 * signal handler may call them, but a handler's change to labels the code it
 * interrupted is changing may be lost); while libconan is inert (mode "off",
 * a bad config) they return -1 at once and change nothing. A program that does not link with -lconan can
 * find them with dlsym(RTLD_DEFAULT, "conan_label_set") when preloaded. */

/* Sets key to value on the calling thread (value NULL clears it). Returns 0,
 * or -1 when libconan is inert, key is NULL or empty, 8 other keys are set,
 * or the process's pairs are used up. */
int conan_label_set(const char *key, const char *value);
/* Removes key from the calling thread; 0, or -1 when libconan is inert or key
 * is NULL or empty. */
int conan_label_clear(const char *key);

/* A scope: push sets key to value (NULL: no value) and remembers what key
 * was; pop restores it (the previous value, or no value). Pops must come in
 * reverse order of pushes on the same thread. The fields are libconan's. */
struct conan_label_scope { unsigned int pushed, previous; };
int conan_label_push(struct conan_label_scope *scope, const char *key, const char *value);
void conan_label_pop(struct conan_label_scope *scope);

#ifdef __cplusplus
}

namespace conan {
/* The scope as a guard: { conan::label_scope route("route", "/users/:id"); ... } */
class label_scope {
public:
    label_scope(const char *key, const char *value) { conan_label_push(&scope_, key, value); }
    ~label_scope() { conan_label_pop(&scope_); }
    label_scope(const label_scope &) = delete;
    label_scope &operator=(const label_scope &) = delete;

private:
    conan_label_scope scope_;
};
} /* namespace conan */
#endif

#endif
