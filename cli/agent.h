/* agent.h — conan agent: a process of its own that hands every finished dump
 * to the configured reporters (Pyroscope, webhooks, a program) and serves the
 * pull endpoint, so that no network code ever runs inside the host.
 *
 * The pieces:
 *   agent.c           the subcommand: directories, lock, inotify, the queue,
 *                     the state file, one sending thread per reporter
 *   agent_net.c       the HTTP client every network reporter shares (libcurl),
 *                     the answer's classification, secrets read from files
 *   agent_pyroscope.c Pyroscope push (Connect, push.v1.PusherService/Push) and
 *                     legacy /ingest
 *   agent_webhook.c   Feishu, Slack and plain JSON webhooks
 *   agent_exec.c      report.exec: a program given the event on stdin
 *   agent_endpoint.c  the pull endpoint (libmicrohttpd)
 */
#ifndef CONAN_AGENT_H
#define CONAN_AGENT_H

#include "config.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One finished dump as a reporter sees it. Everything is filled in by agent.c
 * before send() is called; the strings stay valid for the call only. */
struct agent_dump {
    const char *path;        /* absolute path of the .pb.gz */
    const char *file;        /* its name in its directory: app.pid.kind.stamp.seq.pb.gz */
    const char *dir;         /* the dump directory */
    const char *app;         /* from the event, else from the file name */
    const char *kind;        /* cpu, heap, threads, threadcreate */
    long pid;
    double start_s, end_s;   /* the span the profile covers, Unix seconds (start = end for snapshots) */
    const char *host;        /* this machine's host name */
    const char *link;        /* link_base + file, or NULL when link_base is not set */
    const char *event_text;  /* the events.jsonl line (no newline); a synthesized one when none was found */
    const cJSON *event;      /* the same, parsed */
};

/* What one attempt came to. */
enum agent_result {
    AGENT_SENT,   /* delivered: recorded in the state file, never sent again */
    AGENT_RETRY,  /* connection error, timeout, 5xx, 429, program failed: try again later */
    AGENT_DROP,   /* refused for good (other 4xx, unreadable dump): logged, never retried */
};

struct agent_outcome {
    enum agent_result result;
    int retry_after_s;       /* the server's Retry-After, 0 = none: the next try waits at least this */
    bool refused;            /* with AGENT_RETRY: the destination refuses the reporter itself (credentials,
                                signature, URL: 401, 403, 404, 407, Feishu 19021), so every dump would
                                fail alike; the reporter pauses AGENT_PAUSE_S and the dumps wait */
    char message[512];       /* for the log: what happened, with the server's own message */
};

#define AGENT_PAUSE_S 300

/* A reporter: one destination. send() is called from the reporter's own
 * thread, one dump at a time, oldest first; it may block up to its timeout. */
struct agent_reporter {
    char id[600];            /* stable across restarts: the state file's key ("pyroscope http://..."). */
    char name[64];           /* for log lines: "pyroscope", "webhook[0] feishu", "exec" */
    double max_per_second;   /* rate limits (0 = none), enforced by agent.c before send() */
    int max_per_minute;
    void (*send)(struct agent_reporter *r, const struct agent_dump *d, struct agent_outcome *out);
    void (*destroy)(struct agent_reporter *r);
    void *impl;
};

/* Constructors: NULL with err set ("report.webhooks[1].secret_file: ...") when
 * the configuration cannot be used; each reads its secret files once here. */
struct agent_reporter *agent_pyroscope_new(const struct conan_config *cfg, char *err, size_t errlen);
struct agent_reporter *agent_webhook_new(const struct conan_config *cfg, int index, char *err, size_t errlen);
struct agent_reporter *agent_exec_new(const struct conan_config *cfg, char *err, size_t errlen);

/* ---- agent_net.c: the HTTP client (libcurl) ---- */

struct agent_http_request {
    const char *method;              /* "POST" */
    const char *url;
    const char *const *headers;      /* "Name: value" strings, NULL-terminated; may be NULL */
    const void *body;                /* raw body, or NULL with mime set */
    size_t body_len;
    struct curl_mime *mime;          /* multipart body (curl_mime_init on agent_http_handle()) or NULL */
    int timeout_s;
};

struct agent_http_response {
    long status;                     /* 0 when no answer came */
    char body[2048];                 /* the start of the answer's body, NUL-terminated */
    int retry_after_s;               /* Retry-After in seconds, 0 = none */
    char error[256];                 /* libcurl's message when no answer came */
};

/* The calling thread's curl easy handle (one per thread, reused: keeps
 * connections alive); what curl_mime_init needs. */
void *agent_http_handle(void);
/* One request. 0 when an HTTP answer came (any status), -1 when none did
 * (connection refused, timeout, TLS failure; error says which). */
int agent_http(const struct agent_http_request *req, struct agent_http_response *resp);
/* The common reading of an answer: 2xx sent; no answer, 5xx, 429 and 408 retry;
 * 401, 403, 404 and 407 retry as refused (a credential or URL to fix: the
 * dumps wait); any other status is dropped with the server's message quoted.
 * what names the destination in the message. */
void agent_http_outcome(int rc, const struct agent_http_response *resp, const char *what,
                        struct agent_outcome *out);
/* in on one line of at most 200 characters in out (control characters become
 * spaces): a server's answer, quoted in a log line. */
void agent_one_line(const char *in, char *out, size_t len);
/* A secret from a file: its first line, without the newline. -1 with err
 * ("<path>: <why>") when it cannot be read or is empty. */
int agent_read_secret(const char *path, char *buf, size_t len, char *err, size_t errlen);

/* ---- agent_endpoint.c: the pull endpoint ---- */

struct agent_endpoint;
/* Starts serving cfg->report.listen over the dump directories dirs[0..ndirs)
 * in a thread of its own. NULL with err set when it cannot: an address that
 * does not bind, a non-loopback address without a token, an unreadable token. */
struct agent_endpoint *agent_endpoint_start(const struct conan_config *cfg, const char *const *dirs, int ndirs,
                                            char *err, size_t errlen);
void agent_endpoint_stop(struct agent_endpoint *e);

#endif
