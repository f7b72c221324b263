/* dump.h — dump files, events.jsonl and pruning (dump.c). */
#ifndef CONAN_DUMP_H
#define CONAN_DUMP_H

#include <stddef.h>
#include "config.h"
#include "context.h"

struct conan_recorder_span;

/* Creates dump_dir (0700) if missing. Logs and returns -1 if unusable. */
int conan_dump_dir_ready(const struct conan_config *cfg);
/* Writes data to <dump_dir>/<app>.<pid>.<kind>.<UTC stamp>.<seq>.pb.gz through a
 * temporary name and rename. Returns 0 with the path in path_out, or -1 (logged). */
int conan_dump_write(const struct conan_config *cfg, const char *kind, const void *data,
                     size_t len, char *path_out, size_t path_len);
struct conan_event {
    const char *kind;            /* cpu, heap, threads, threadcreate */
    const struct conan_trigger *trigger;
    const char *file;            /* "" if the dump failed */
    const char *timer;           /* "thread"/"process" for cpu, else NULL */
    long samples, dropped;
    double duration_s;           /* of the sampling window, if any */
    double cpu_s;                /* process CPU-seconds in that window */
    double write_ms;             /* symbolize + encode + write */
    size_t bytes;                /* size of the file */
    const char *note;            /* e.g. "stopped early: cpu above cpu.max" */
    const char *error;           /* why the dump failed, or NULL */
    const struct conan_recorder_span *before; /* cpu: the flight recorder's part, or NULL */
};
/* Appends one JSON line to <dump_dir>/events.jsonl. */
void conan_dump_event(const struct conan_config *cfg, const struct conan_event *ev);
/* Removes the oldest of libconan's own dump files beyond limits.keep / max_dir_mb. */
void conan_dump_prune(const struct conan_config *cfg);
/* A dump's name, <app>.<pid>.<kind>.<UTC yyyymmddThhmmss>.<seq>.pb.gz, taken
 * apart (out may be NULL); false when name is not one (no '/', no leading dot). */
struct conan_dump_name {
    char app[256];
    long pid;
    char kind[32];
    unsigned long seq;
    double when;  /* the stamp, Unix seconds */
};
bool conan_dump_name_parse(const char *name, struct conan_dump_name *out);
/* "<app>" made safe for a file name into out. */
void conan_dump_sanitize(const char *app, char *out, size_t outlen);

#endif
