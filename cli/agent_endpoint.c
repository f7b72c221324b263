/* agent_endpoint.c — conan agent's pull endpoint (report.listen), in the
 * shape of Go's net/http/pprof, served by libmicrohttpd (a thread per
 * connection, a few connections at most):
 *   GET /debug/pprof/                 the list of what is here
 *   GET /debug/pprof/profile?seconds=N&pid=P   a CPU profile of N s, taken now
 *   GET /debug/pprof/{heap,threads,threadcreate}?pid=P   a snapshot, taken now
 *   GET /dumps/                       the dumps in the directories (JSON; ?format=text)
 *   GET /dumps/<file>                 one of them (what webhooks link to)
 * A profile taken now is the on-demand request `conan trigger` writes
 * (trigger.h), answered by the process's monitor; the file it writes is sent.
 * Without pid= the process is the only live one under libconan writing to one
 * of the agent's directories. Files are only ever opened by a name of ours
 * (app.pid.kind.stamp.seq.pb.gz), relative to a directory opened at start,
 * without following links; anything else is 404. With report.token_file
 * every request needs "Authorization: Bearer <token>" (compared in constant
 * time, as SHA-256 digests); without one, only a loopback address is served. */
#include "agent.h"
#include "decide.h"
#include "dump.h"
#include "kinds.h"
#include "trigger.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONNECTIONS 8      /* at once, in all */
#define MAX_PER_IP 4           /* at once, from one address */
#define IDLE_TIMEOUT_S 30      /* a connection silent this long is closed */
#define DEFAULT_SECONDS 30     /* a CPU profile's length without seconds= (Go's default) */
#define TOKEN_MAX 1024
#define MAX_LISTED 10000       /* dumps listed by /dumps/ at most */

struct agent_endpoint {
    struct MHD_Daemon *daemon;
    int ndirs;
    int *dirfd;                /* each directory, opened at start */
    struct stat *dirst;        /* and what it is (device, inode) */
    char **dirs;
    bool has_token;
    unsigned char token_digest[EVP_MAX_MD_SIZE];
    atomic_bool stopping;      /* ends the waits for profiles */
};

/* An answer: a status, a body in memory or a file, extra headers. */
struct answer {
    unsigned status;
    char *body;                /* malloc'd, or NULL */
    size_t len;
    int fd;                    /* a file to send instead, or -1 */
    off_t fd_size;
    const char *type;
    char disposition[NAME_MAX + 32];     /* Content-Disposition, or "" */
    bool auth_challenge;       /* WWW-Authenticate: Bearer */
};

static void set_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A text answer (a message: one line, newline added). */
static void text(struct answer *a, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text(struct answer *a, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    a->status = status;
    a->type = "text/plain; charset=utf-8";
    free(a->body);
    a->body = n >= 0 ? s : NULL;
    a->len = n >= 0 ? (size_t)n : 0;
}

/* ---- the address ---- */

/* report.listen ("127.0.0.1:6060", "[::1]:6060", "localhost:6060", or
 * ":6060" for loopback) as a socket address; -1 with err when the host is
 * none of those forms. */
static int parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err, size_t errlen)
{
    const char *colon = strrchr(addr, ':');
    char host[256];
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        set_error(err, errlen, "report.listen: \"%s\" is not host:port", addr);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 1 || port > 65535) {
        set_error(err, errlen, "report.listen: \"%s\": the port must be 1-65535", addr);
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    size_t hl = strlen(host);
    if (strcmp(host, "localhost") == 0 || !host[0]) snprintf(host, sizeof host, "127.0.0.1"); /* the default */
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            *sslen = sizeof *v6;
            return 0;
        }
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *sslen = sizeof *v4;
        return 0;
    }
    set_error(err, errlen, "report.listen: \"%s\": the host must be an IPv4 address, an IPv6 address in brackets "
                           "or localhost", addr);
    return -1;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) return a->s6_addr[12] == 127;
    return IN6_IS_ADDR_LOOPBACK(a);
}

/* The listening socket, made here so that a failure names report.listen. */
static int open_listener(const char *addr, const struct sockaddr_storage *ss, socklen_t sslen, char *err,
                         size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd >= 0 && ss->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (fd < 0 || bind(fd, (const struct sockaddr *)ss, sslen) != 0 || listen(fd, 16) != 0) {
        set_error(err, errlen, "report.listen: cannot listen on %s: %s", addr, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* ---- the token ---- */

static void digest(const void *data, size_t len, unsigned char out[EVP_MAX_MD_SIZE])
{
    unsigned n = 0;
    memset(out, 0, EVP_MAX_MD_SIZE);
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

/* Whether the request carries the token. Digests of equal length are
 * compared, in constant time: neither the token's bytes nor its length show
 * in how long a wrong guess takes. */
static bool authorized(const struct agent_endpoint *e, struct MHD_Connection *c)
{
    if (!e->has_token) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    const char *given = h + 7 + strspn(h + 7, " ");
    unsigned char d[EVP_MAX_MD_SIZE];
    digest(given, strlen(given), d);
    return CRYPTO_memcmp(d, e->token_digest, sizeof d) == 0;
}

/* ---- names and files ---- */

/* A dump's name, strictly: libconan's pattern (dump.h) with the app as the
 * shim makes it (letters, digits, - and _), so no '/', no "..", no leading dot. */
static bool dump_name_ok(const char *name)
{
    if (strlen(name) > NAME_MAX || !conan_dump_name_parse(name, NULL)) return false;
    const char *p = name;
    for (; *p && *p != '.'; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') return false;
    return p > name;
}

/* Opens a dump by name in directory i: a regular file, never through a link. */
static int open_dump(const struct agent_endpoint *e, int i, const char *name, off_t *size)
{
    if (!dump_name_ok(name)) return -1;
    int fd = openat(e->dirfd[i], name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        *size = st.st_size;
        return fd;
    }
    if (fd >= 0) close(fd);
    return -1;
}

static void send_file(struct answer *a, int fd, off_t size, const char *name)
{
    a->status = MHD_HTTP_OK;
    a->fd = fd;
    a->fd_size = size;
    a->type = "application/octet-stream";
    snprintf(a->disposition, sizeof a->disposition, "attachment; filename=\"%.*s\"", NAME_MAX, name);
}

/* ---- /dumps/ ---- */

struct listed {
    char name[NAME_MAX + 1];
    off_t size;
    struct timespec mtime;
};

static int older_first(const void *x, const void *y)
{
    const struct listed *a = x, *b = y;
    if (a->mtime.tv_sec != b->mtime.tv_sec) return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
    if (a->mtime.tv_nsec != b->mtime.tv_nsec) return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* The dumps of directory i appended to *list. */
static void collect_dumps(const struct agent_endpoint *e, int i, struct listed **list, size_t *n, size_t *cap)
{
    int fd = openat(e->dirfd[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir && fd >= 0) close(fd);
    for (struct dirent *d; dir && *n < MAX_LISTED && (d = readdir(dir));) {
        struct stat st;
        if (!dump_name_ok(d->d_name) || fstatat(e->dirfd[i], d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (*n == *cap) {
            size_t want = *cap ? *cap * 2 : 64;
            struct listed *more = realloc(*list, want * sizeof *more);
            if (!more) break;
            *list = more;
            *cap = want;
        }
        struct listed *l = &(*list)[(*n)++];
        snprintf(l->name, sizeof l->name, "%s", d->d_name);
        l->size = st.st_size;
        l->mtime = st.st_mtim;
    }
    if (dir) closedir(dir);
}

static void list_dumps(const struct agent_endpoint *e, struct MHD_Connection *c, struct answer *a)
{
    struct listed *list = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < e->ndirs; i++) collect_dumps(e, i, &list, &n, &cap);
    if (n) qsort(list, n, sizeof *list, older_first);
    const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    bool plain = format && strcmp(format, "text") == 0;
    cJSON *array = plain ? NULL : cJSON_CreateArray();
    size_t used = 0, room = plain ? n * (NAME_MAX + 64) + 1 : 0;
    char *out = plain ? malloc(room) : NULL;
    if (out) out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char mtime[32];
        struct conan_dump_name dn;
        conan_dump_name_parse(list[i].name, &dn);
        struct tm tm;
        gmtime_r(&list[i].mtime.tv_sec, &tm);
        strftime(mtime, sizeof mtime, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (out) {
            used += (size_t)snprintf(out + used, room - used, "%s\t%lld\t%s\n", list[i].name,
                                     (long long)list[i].size, mtime);
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", list[i].name);
        cJSON_AddNumberToObject(o, "size", (double)list[i].size);
        cJSON_AddStringToObject(o, "mtime", mtime);
        cJSON_AddStringToObject(o, "kind", dn.kind);
        cJSON_AddNumberToObject(o, "pid", (double)dn.pid);
        cJSON_AddStringToObject(o, "app", dn.app);
        cJSON_AddItemToArray(array, o);
    }
    free(list);
    char *json = array ? cJSON_PrintUnformatted(array) : NULL;
    cJSON_Delete(array);
    if (plain ? !out : !json) {
        free(out);
        free(json);
        text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return;
    }
    a->status = MHD_HTTP_OK;
    a->type = plain ? "text/plain; charset=utf-8" : "application/json";
    a->body = plain ? out : json;
    a->len = strlen(a->body);
}

static void get_dump(const struct agent_endpoint *e, const char *name, struct answer *a)
{
    off_t size;
    for (int i = 0; i < e->ndirs; i++) {
        int fd = open_dump(e, i, name, &size);
        if (fd >= 0) {
            send_file(a, fd, size, name);
            return;
        }
    }
    text(a, MHD_HTTP_NOT_FOUND, "404 page not found\n");
}

/* ---- /debug/pprof/: profiles taken now ---- */

/* What one wait for a profile collects (a trigger_sink's arg). */
struct taking {
    const struct agent_endpoint *e;
    const char *kind;          /* the kind whose file is sent */
    char path[PATH_MAX];       /* its path, as the process names it */
    char problems[1024];       /* what went wrong, one line each */
};

static void took_problem(void *arg, pid_t pid, const char *message)
{
    struct taking *t = arg;
    size_t used = strlen(t->problems);
    snprintf(t->problems + used, sizeof t->problems - used, "pid %d: %s\n", (int)pid, message);
}

static void took_profile(void *arg, pid_t pid, const char *kind, const char *path)
{
    struct taking *t = arg;
    (void)pid;
    if (strcmp(kind, t->kind) == 0) snprintf(t->path, sizeof t->path, "%s", path);
}

static bool took_cancelled(void *arg)
{
    const struct taking *t = arg;
    return atomic_load(&((struct agent_endpoint *)t->e)->stopping);
}

static void ignore_problem(void *arg, pid_t pid, const char *message)
{
    (void)arg, (void)pid, (void)message;
}

/* Which of the agent's directories the resolved target writes to; -1 if none. */
static int target_dir(const struct agent_endpoint *e, const struct trigger_target *t)
{
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s%s", t->root, t->dump_dir);
    if (stat(path, &st) != 0) return -1;
    for (int i = 0; i < e->ndirs; i++)
        if (st.st_dev == e->dirst[i].st_dev && st.st_ino == e->dirst[i].st_ino) return i;
    return -1;
}

/* The live processes under libconan whose dump_dir is one of ours, into
 * pids (at most max); their count. */
static int find_processes(const struct agent_endpoint *e, pid_t *pids, int max, struct conan_config *cfg)
{
    DIR *proc = opendir("/proc");
    int n = 0;
    for (struct dirent *d; proc && (d = readdir(proc));) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid()) continue;
        char maps[64], line[PATH_MAX + 256];
        snprintf(maps, sizeof maps, "/proc/%ld/maps", pid);
        FILE *f = fopen(maps, "re");
        bool shim = false;
        while (f && !shim && fgets(line, sizeof line, f)) shim = strstr(line, "/libconan") != NULL;
        if (f) fclose(f);
        if (!shim) continue;
        struct trigger_target t = { .pid = (pid_t)pid, .sink = { .problem = ignore_problem } };
        if (trigger_resolve(&t, NULL, cfg) != 0 || target_dir(e, &t) < 0) continue;
        if (n < max) pids[n] = (pid_t)pid;
        n++;
    }
    if (proc) closedir(proc);
    return n;
}

/* The process a profile is asked of: pid= or the only one; 0 after an
 * answer was set. */
static pid_t choose_process(const struct agent_endpoint *e, struct MHD_Connection *c, struct answer *a,
                            struct conan_config *cfg)
{
    const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pid");
    if (arg) {
        char *end;
        errno = 0;
        long pid = strtol(arg, &end, 10);
        if (errno || end == arg || *end || pid <= 0 || pid > INT_MAX) {
            text(a, MHD_HTTP_BAD_REQUEST, "pid=%s: not a process id\n", arg);
            return 0;
        }
        struct taking why = { .e = e };
        struct trigger_target t = { .pid = (pid_t)pid, .sink = { .problem = took_problem, .arg = &why } };
        if (trigger_resolve(&t, NULL, cfg) != 0) {
            text(a, MHD_HTTP_BAD_REQUEST, "%s", why.problems);
            return 0;
        }
        if (target_dir(e, &t) < 0) {
            text(a, MHD_HTTP_BAD_REQUEST, "pid %ld writes its dumps to %s, which this agent does not serve\n", pid,
                 t.dump_dir);
            return 0;
        }
        return (pid_t)pid;
    }
    pid_t pids[16];
    int n = find_processes(e, pids, 16, cfg);
    if (n == 1) return pids[0];
    if (n == 0) {
        text(a, MHD_HTTP_BAD_REQUEST, "no live process under libconan writes to this agent's dump directories\n");
        return 0;
    }
    char list[16 * 12] = "";
    for (int i = 0, used = 0; i < n && i < 16; i++)
        used += snprintf(list + used, sizeof list - (size_t)used, "%s%d", i ? ", " : "", (int)pids[i]);
    text(a, MHD_HTTP_BAD_REQUEST, "%d processes write to this agent's dump directories (%s%s): choose one with pid=\n",
         n, list, n > 16 ? ", ..." : "");
    return 0;
}

/* seconds= of a CPU profile: 1-3600, default 30; 0 after an answer was set. */
static int cpu_seconds(struct MHD_Connection *c, struct answer *a)
{
    const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
    if (!arg) return DEFAULT_SECONDS;
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > CONAN_REQUEST_SECONDS_MAX) {
        text(a, MHD_HTTP_BAD_REQUEST, "seconds=%s: must be a whole number of seconds, 1 to %d\n", arg,
             CONAN_REQUEST_SECONDS_MAX);
        return 0;
    }
    return (int)v;
}

/* Asks the process for a profile of kind, waits for it, sends its file. */
static void take_profile(const struct agent_endpoint *e, struct MHD_Connection *c, const char *kind,
                         struct answer *a)
{
    bool cpu = strcmp(kind, "cpu") == 0;
    int seconds = cpu ? cpu_seconds(c, a) : 0;
    if (cpu && !seconds) return;
    struct conan_config *cfg = malloc(sizeof *cfg); /* large: not on the connection thread's stack */
    pid_t pid = cfg ? choose_process(e, c, a, cfg) : 0;
    free(cfg);
    if (!pid) {
        if (!a->status) text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return;
    }
    struct taking took = { .e = e, .kind = kind };
    struct trigger_target t = {
        .pid = pid,
        .sink = { .problem = took_problem, .profile = took_profile, .cancelled = took_cancelled, .arg = &took },
    };
    unsigned wants = cpu                            ? CONAN_WANTS_CPU
                     : strcmp(kind, "heap") == 0  ? CONAN_WANTS_HEAP
                     : strcmp(kind, "mutex") == 0 ? CONAN_WANTS_MUTEX
                                                  : CONAN_WANTS_THREADS;
    struct trigger_options o = { .kinds = wants, .seconds = seconds, .wait_s = -1 };
    if (trigger_request(&t, &o) != 0) {
        text(a, MHD_HTTP_BAD_REQUEST, "%s", took.problems);
        return;
    }
    trigger_wait_dump(&t, 1);
    const char *name = strrchr(took.path, '/');
    name = name ? name + 1 : took.path;
    off_t size;
    int i = target_dir(e, &t), fd = name[0] && i >= 0 ? open_dump(e, i, name, &size) : -1;
    if (fd >= 0) send_file(a, fd, size, name);
    else if (took.problems[0]) text(a, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", took.problems);
    else text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "pid %d wrote %s, which cannot be opened here\n", (int)pid, took.path);
}

static const char index_text[] =
    "conan agent: profiles of the processes under libconan that write to this agent's dump directories\n"
    "\n"
    "/debug/pprof/profile?seconds=N&pid=P  CPU profile of N s (default 30, at most 3600), taken now\n"
    "/debug/pprof/heap?pid=P               heap profile (in use and allocated), taken now\n"
    "/debug/pprof/threads?pid=P            threads and where they are, taken now\n"
    "/debug/pprof/threadcreate?pid=P       where the threads were created, taken now\n"
    "/debug/pprof/mutex?pid=P              lock contention since the previous mutex profile, taken now\n"
    "/dumps/                               the dumps written (JSON; ?format=text for lines)\n"
    "/dumps/FILE                           one of them\n"
    "\n"
    "pid= may be left out when exactly one such process is running.\n";

/* ---- the request ---- */

static void route(const struct agent_endpoint *e, struct MHD_Connection *c, const char *url, struct answer *a)
{
    static const char *const snapshots[] = { "heap", "threads", "threadcreate", "mutex" };
    if (strcmp(url, "/debug/pprof/") == 0 || strcmp(url, "/debug/pprof") == 0) {
        text(a, MHD_HTTP_OK, "%s", index_text);
        return;
    }
    if (strcmp(url, "/debug/pprof/profile") == 0) {
        take_profile(e, c, "cpu", a);
        return;
    }
    for (size_t i = 0; i < sizeof snapshots / sizeof snapshots[0]; i++)
        if (strncmp(url, "/debug/pprof/", 13) == 0 && strcmp(url + 13, snapshots[i]) == 0) {
            take_profile(e, c, snapshots[i], a);
            return;
        }
    if (strcmp(url, "/dumps/") == 0 || strcmp(url, "/dumps") == 0) list_dumps(e, c, a);
    else if (strncmp(url, "/dumps/", 7) == 0) get_dump(e, url + 7, a);
    else text(a, MHD_HTTP_NOT_FOUND, "404 page not found\n");
}

static enum MHD_Result queue(struct MHD_Connection *c, struct answer *a)
{
    struct MHD_Response *r =
        a->fd >= 0 ? MHD_create_response_from_fd((uint64_t)a->fd_size, a->fd)
                   : MHD_create_response_from_buffer(a->len, a->body ? a->body : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (a->fd >= 0) close(a->fd);
        free(a->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (a->disposition[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, a->disposition);
    if (a->auth_challenge) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"conan\"");
    if (a->status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, a->status, r);
    MHD_destroy_response(r);
    free(a->body);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    const struct agent_endpoint *e = cls;
    (void)version, (void)upload_data, (void)upload_data_size, (void)state;
    struct answer a = { .fd = -1 };
    if (!authorized(e, c)) {
        text(&a, MHD_HTTP_UNAUTHORIZED, "401 unauthorized: send Authorization: Bearer <the token>\n");
        a.auth_challenge = true;
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        text(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed: only GET and HEAD\n");
    else
        route(e, c, url, &a);
    return queue(c, &a);
}

/* libmicrohttpd's own complaints, as the agent's log lines. */
static void log_mhd(void *arg, const char *fmt, va_list ap)
{
    char line[512];
    (void)arg;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    fprintf(stderr, "conan agent: endpoint: %s\n", line);
}

/* ---- start, stop ---- */

static int open_dirs(struct agent_endpoint *e, const char *const *dirs, int ndirs, char *err, size_t errlen)
{
    e->dirfd = calloc((size_t)ndirs, sizeof *e->dirfd);
    e->dirst = calloc((size_t)ndirs, sizeof *e->dirst);
    e->dirs = calloc((size_t)ndirs, sizeof *e->dirs);
    if (!e->dirfd || !e->dirst || !e->dirs) {
        set_error(err, errlen, "report.listen: out of memory");
        return -1;
    }
    for (int i = 0; i < ndirs; i++) e->dirfd[i] = -1;
    e->ndirs = ndirs;
    for (int i = 0; i < ndirs; i++) {
        e->dirs[i] = strdup(dirs[i]);
        e->dirfd[i] = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!e->dirs[i] || e->dirfd[i] < 0 || fstat(e->dirfd[i], &e->dirst[i]) != 0) {
            set_error(err, errlen, "report.listen: cannot open the dump directory %s: %s", dirs[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int read_token(struct agent_endpoint *e, const struct conan_config *cfg, char *err, size_t errlen)
{
    if (!cfg->report.token_file[0]) return 0;
    char token[TOKEN_MAX], why[512];
    if (agent_read_secret(cfg->report.token_file, token, sizeof token, why, sizeof why) != 0) {
        set_error(err, errlen, "report.token_file: %s", why);
        return -1;
    }
    digest(token, strlen(token), e->token_digest);
    OPENSSL_cleanse(token, sizeof token);
    e->has_token = true;
    return 0;
}

struct agent_endpoint *agent_endpoint_start(const struct conan_config *cfg, const char *const *dirs, int ndirs,
                                            char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    const char *addr = cfg->report.listen;
    if (parse_listen(addr, &ss, &sslen, err, errlen) != 0) return NULL;
    if (!is_loopback(&ss) && !cfg->report.token_file[0]) {
        set_error(err, errlen, "report.listen: %s is not a loopback address, and without report.token_file anyone "
                               "who reaches it could take profiles: set report.token_file, or listen on 127.0.0.1",
                  addr);
        return NULL;
    }
    struct agent_endpoint *e = calloc(1, sizeof *e);
    if (!e) {
        set_error(err, errlen, "report.listen: out of memory");
        return NULL;
    }
    int fd = -1;
    if (read_token(e, cfg, err, errlen) != 0 || open_dirs(e, dirs, ndirs, err, errlen) != 0 ||
        (fd = open_listener(addr, &ss, sslen, err, errlen)) < 0) {
        agent_endpoint_stop(e);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    e->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, e, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_IP,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (!e->daemon) {
        set_error(err, errlen, "report.listen: cannot serve %s (libmicrohttpd would not start)", addr);
        close(fd);
        agent_endpoint_stop(e);
        return NULL;
    }
    return e;
}

void agent_endpoint_stop(struct agent_endpoint *e)
{
    if (!e) return;
    atomic_store(&e->stopping, true); /* the waits for profiles end within a poll */
    if (e->daemon) MHD_stop_daemon(e->daemon);
    for (int i = 0; i < e->ndirs; i++) {
        if (e->dirfd && e->dirfd[i] >= 0) close(e->dirfd[i]);
        if (e->dirs) free(e->dirs[i]);
    }
    free(e->dirfd);
    free(e->dirst);
    free(e->dirs);
    free(e);
}
