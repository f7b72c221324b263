/* trigger.h — asking a running process under libconan for profiles now (the
 * request file <dump_dir>/conan.trigger.<pid> its monitor reads) and waiting
 * for its answer in events.jsonl: what `conan trigger` and the agent's pull
 * endpoint (agent_endpoint.c) share. Safe to use from several threads at
 * once, each with targets of its own. */
#ifndef CONAN_CLI_TRIGGER_H
#define CONAN_CLI_TRIGGER_H

#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* What is asked for. */
struct trigger_options {
    unsigned kinds;            /* CONAN_WANTS_*; 0 = every enabled kind */
    int seconds;               /* 0 = the process's cpu.profile_seconds */
    long wait_s;               /* -1 = the default (tick, open window, profile, margin) */
    const char *config;        /* instead of the process's CONAN_CONFIG; NULL = its own */
};

/* Where a target's news goes: each problem (one line, no newline, without the
 * pid) and each profile delivered (its kind, its path as the process names
 * it). Called from the thread that called trigger_*(). cancelled, when set,
 * is asked while waiting: true ends the wait (a server shutting down). */
struct trigger_sink {
    void (*problem)(void *arg, pid_t pid, const char *message);
    void (*profile)(void *arg, pid_t pid, const char *kind, const char *path);
    bool (*cancelled)(void *arg);
    void *arg;
};

/* One process asked for profiles. Set pid and sink, zero the rest. */
struct trigger_target {
    pid_t pid;
    struct trigger_sink sink;
    char root[64];             /* "" or /proc/PID/root: its view of the file system */
    char dump_dir[PATH_MAX];   /* as the process names it (paths said are its) */
    char events[PATH_MAX + 96]; /* events.jsonl as we reach it */
    off_t events_read;         /* bytes of it already looked at */
    long long asked_ms;        /* wall clock of the request */
    double deadline_s;         /* monotonic */
    unsigned want, delivered, failed;
    bool threads_seen, threadcreate_seen;
    bool wall_expected;        /* the process has wall.enable: its CPU window also writes a wall profile */
    bool cpu_seen, wall_seen;
    bool finished, ok;
};

/* Whether t->pid is a live process with libconan loaded and its monitor
 * running, and its config as the process reads it (into cfg; t->root and
 * t->dump_dir set). -1 after a problem said to the sink. */
int trigger_resolve(struct trigger_target *t, const char *config, struct conan_config *cfg);
/* Resolves t, then writes its request: 0 when written, -1 after a problem. */
int trigger_request(struct trigger_target *t, const struct trigger_options *o);
/* Waits for the answers of targets[0..n) that trigger_request() accepted
 * (the others: finished = true); true when every one delivered every kind.
 * What was not delivered is a problem said to the sink. */
bool trigger_wait_dump(struct trigger_target *targets, int n);

#endif
