/* run.c — conan run: a program under the shim. LD_PRELOAD gets the
 * libconan.so that belongs to this conan (found from /proc/self/exe) in
 * front of the entries already there, and CONAN_CONFIG the --config file, or
 * a private temporary file when --set changes keys. The config is checked by
 * the shim's own code before anything runs.
 *
 * Nothing stands between the caller and CMD when it can be helped: without a
 * temporary file, conan execs CMD (same pid). With one, it forks, forwards
 * the signals sent to it, waits, removes the file and then ends as CMD did:
 * the same exit status, or the same signal (no core of its own). */
#include "conan.h"
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CONAN_LIBDIR
#define CONAN_LIBDIR "lib"
#endif

#define MAX_SETS 64
#define CONFIG_TEXT_MAX (1 << 20) /* the shim reads no larger config */

static const char help[] =
    "usage: conan run [--config FILE] [--set KEY=VALUE]... [--] CMD [ARGS]...\n"
    "\n"
    "Runs CMD under libconan: LD_PRELOAD gets the libconan that belongs to this\n"
    "conan (entries already there are kept, after it), CONAN_CONFIG the config.\n"
    "The config is checked first, by libconan's own code.\n"
    "\n"
    "  --config FILE    the config file (default: what libconan would read:\n"
    "                   $CONAN_CONFIG, else " CONAN_SYSTEM_CONFIG " if present, else defaults)\n"
    "  --set KEY=VALUE  change one key of that config, e.g. --set cpu.abs=50\n"
    "                   --set dump_dir=/var/tmp/x; dotted keys are nested; VALUE is\n"
    "                   JSON when it parses as JSON (50, true, [\"a\"], \"123\"), else\n"
    "                   a string. The result goes to a private temporary file,\n"
    "                   removed when CMD ends.\n"
    "\n"
    "Exit status: CMD's own (killed by a signal: conan dies of the same signal);\n"
    "127 CMD not found, 126 CMD not executable; and, with CMD not started: 2 bad\n"
    "options or a config libconan would refuse, 1 no libconan found.\n";

struct run_options {
    const char *config;
    const char *set[MAX_SETS];
    int nset;
};

/* ---- which libconan ---- */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The libconan.so that belongs to this conan: in a build tree the tool is
 * BUILD/cli/conan and the shim BUILD/libconan.so; installed they are
 * PREFIX/bin/conan and PREFIX/LIBDIR/libconan.so.0. */
static int find_shim(char *out, size_t len)
{
    char exe[PATH_MAX], build[PATH_MAX + 32], installed[2 * PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        cli_command_error("run", "cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    char *base = strrchr(exe, '/'); /* exe: PREFIX/DIR/conan, cut into PREFIX, DIR, conan */
    if (base) *base = '\0';
    char *dir = base ? strrchr(exe, '/') : NULL;
    if (dir) *dir++ = '\0';
    const char *prefix = dir ? exe : "";
    snprintf(build, sizeof build, "%s/libconan.so", prefix);
    if (CONAN_LIBDIR[0] == '/')
        snprintf(installed, sizeof installed, "%s/libconan.so.0", CONAN_LIBDIR);
    else
        snprintf(installed, sizeof installed, "%s/%s/libconan.so.0", prefix, CONAN_LIBDIR);
    const char *found = dir && strcmp(dir, "cli") == 0 && is_file(build) ? build
                        : is_file(installed)                              ? installed
                                                                          : NULL;
    if (!found || strlen(found) >= len) {
        cli_command_error("run", "no libconan for this conan (looked for %s%s%s)", dir && strcmp(dir, "cli") == 0 ? build : "",
                          dir && strcmp(dir, "cli") == 0 ? " and " : "", installed);
        return -1;
    }
    snprintf(out, len, "%s", found);
    return 0;
}

/* Is this LD_PRELOAD entry the file shim (same file, or the same path)? */
static bool names_shim(const char *entry, size_t n, const char *shim, const struct stat *shim_st)
{
    char path[PATH_MAX];
    struct stat st;
    if (n == 0 || n >= sizeof path) return false;
    snprintf(path, sizeof path, "%.*s", (int)n, entry);
    if (strcmp(path, shim) == 0) return true;
    return strchr(path, '/') && stat(path, &st) == 0 && st.st_dev == shim_st->st_dev && st.st_ino == shim_st->st_ino;
}

/* LD_PRELOAD with the shim first (ld.so loads the entries in order) and
 * every entry already there kept, in its order; the shim is not added twice. */
static int set_preload(const char *shim)
{
    const char *old = getenv("LD_PRELOAD");
    struct stat shim_st;
    if (stat(shim, &shim_st) != 0) shim_st = (struct stat){ 0 };
    for (const char *p = old ? old : ""; *p;) {
        p += strspn(p, " :");
        size_t n = strcspn(p, " :");
        if (names_shim(p, n, shim, &shim_st)) return 0; /* there already */
        p += n;
    }
    char *value = NULL;
    if (asprintf(&value, "%s%s%s", shim, old && old[0] ? " " : "", old ? old : "") < 0) return -1;
    int rc = setenv("LD_PRELOAD", value, 1);
    free(value);
    return rc;
}

/* ---- the config: checked, and with --set written to a private file ---- */

/* A file's whole text (at most CONFIG_TEXT_MAX bytes); NULL with a message. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    char *text = f ? malloc(CONFIG_TEXT_MAX + 1) : NULL;
    size_t n = text ? fread(text, 1, CONFIG_TEXT_MAX + 1, f) : 0;
    int err = errno;
    if (f) fclose(f);
    if (!text || n > CONFIG_TEXT_MAX) {
        cli_command_error("run", "%s: cannot read: %s", path, !f ? strerror(err) : !text ? "out of memory" : "too large");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* --set KEY=VALUE into root: dotted keys nest (a part that is not an object
 * becomes one); VALUE is JSON when it parses as JSON, else a string. */
static int apply_set(cJSON *root, const char *set)
{
    const char *eq = strchr(set, '=');
    if (!eq || eq == set) return cli_usage_error("run", "--set %s: expected KEY=VALUE", set);
    char key[512];
    if ((size_t)(eq - set) >= sizeof key) return cli_usage_error("run", "--set: key too long");
    snprintf(key, sizeof key, "%.*s", (int)(eq - set), set);
    if (key[0] == '.' || key[strlen(key) - 1] == '.' || strstr(key, ".."))
        return cli_usage_error("run", "--set %s: a key's parts must not be empty", key);
    cJSON *value = cJSON_ParseWithOpts(eq + 1, NULL, true);
    if (!value) value = cJSON_CreateString(eq + 1);
    cJSON *obj = root;
    char *save = NULL;
    for (char *part = strtok_r(key, ".", &save), *next; value && part; part = next) {
        next = strtok_r(NULL, ".", &save);
        cJSON *item = next ? cJSON_CreateObject() : value;
        cJSON *have = cJSON_GetObjectItemCaseSensitive(obj, part);
        if (next && cJSON_IsObject(have)) {
            cJSON_Delete(item);
            obj = have;
            continue;
        }
        bool added = have ? cJSON_ReplaceItemInObjectCaseSensitive(obj, part, item) : cJSON_AddItemToObject(obj, part, item);
        if (!added) {
            cJSON_Delete(item);
            if (next) cJSON_Delete(value);
            value = NULL;
        }
        obj = item;
    }
    if (!value) cli_command_error("run", "out of memory applying --set");
    return value ? 0 : EXIT_FAIL;
}

/* The base config with every --set applied, as JSON text (malloc'd). */
static int merged_config(const char *base, const struct run_options *o, char **out)
{
    char *text = base ? read_text(base) : strdup("{}");
    if (!text) return EXIT_FAIL;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) { /* cannot happen: the shim's check passed */
        cJSON_Delete(root);
        cli_command_error("run", "%s: not a JSON object", base);
        return EXIT_USAGE;
    }
    int rc = 0;
    for (int i = 0; i < o->nset && rc == 0; i++) rc = apply_set(root, o->set[i]);
    *out = rc == 0 ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (rc == 0 && !*out) {
        cli_command_error("run", "out of memory printing the config");
        rc = EXIT_FAIL;
    }
    return rc;
}

/* Writes text to a new private file (mode 0600) under $TMPDIR or /tmp. */
static int write_private(const char *text, char *path, size_t len)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || dir[0] != '/') dir = "/tmp";
    snprintf(path, len, "%s/conan-run.XXXXXX.json", dir);
    int fd = mkstemps(path, 5);
    if (fd < 0) {
        cli_command_error("run", "cannot create a temporary config in %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t n = strlen(text), done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t)w;
    }
    if (close(fd) != 0 || done != n) {
        cli_command_error("run", "%s: cannot write: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* Checks the config CMD will get, as the shim will, and points CONAN_CONFIG
 * at it: --config's file (absolute: CMD may change directory), or with --set
 * a temporary file (its path in temp, else temp is ""). Without either, the
 * environment is left as it is and what the shim would read is checked. */
static int prepare_config(const struct run_options *o, char *temp, size_t len)
{
    static struct conan_config cfg; /* static: large */
    char err[1024], abs_path[PATH_MAX];
    temp[0] = '\0';
    conan_config_defaults(&cfg);
    enum conan_config_origin origin = CONAN_CONFIG_ENVIRONMENT;
    int rc = o->config ? conan_config_load(o->config, &cfg, err, sizeof err) : conan_config_find(&cfg, &origin, err, sizeof err);
    if (rc != 0) {
        cli_command_error("run", "%s", err);
        return EXIT_USAGE;
    }
    if (o->nset == 0) {
        if (!o->config) return 0;
        return setenv("CONAN_CONFIG", realpath(o->config, abs_path) ? abs_path : o->config, 1) == 0 ? 0 : EXIT_FAIL;
    }
    const char *base = o->config                             ? o->config
                       : origin == CONAN_CONFIG_ENVIRONMENT ? getenv("CONAN_CONFIG")
                       : origin == CONAN_CONFIG_SYSTEM      ? CONAN_SYSTEM_CONFIG
                                                            : NULL;
    char *text = NULL;
    if ((rc = merged_config(base, o, &text)) != 0) return rc;
    char label[PATH_MAX + 16];
    snprintf(label, sizeof label, "--set over %s", base ? base : "the defaults");
    conan_config_defaults(&cfg);
    if (conan_config_parse(text, strlen(text), label, &cfg, err, sizeof err) != 0) {
        cli_command_error("run", "%s", err);
        free(text);
        return EXIT_USAGE;
    }
    rc = write_private(text, temp, len);
    free(text);
    if (rc != 0) return EXIT_FAIL;
    return setenv("CONAN_CONFIG", temp, 1) == 0 ? 0 : EXIT_FAIL;
}

/* ---- running CMD ---- */

/* As a shell says it: 127 not found, 126 found but not executable. */
static int exec_failed(const char *cmd, int err)
{
    cli_command_error("run", "%s: %s", cmd, err == ENOENT && !strchr(cmd, '/') ? "command not found" : strerror(err));
    return err == ENOENT ? 127 : 126;
}

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM };
enum { NFORWARDED = sizeof forwarded / sizeof forwarded[0] };
static volatile sig_atomic_t child_pid;

/* A signal sent to conan goes on to CMD. What the terminal sends (^C, ^\,
 * a resize) went to the whole foreground job, CMD included, already: the
 * kernel marks those SI_KERNEL, and they are not sent twice. */
static void forward(int sig, siginfo_t *info, void *context)
{
    (void)context;
    int saved = errno;
    if (info->si_code != SI_KERNEL && child_pid > 0) kill((pid_t)child_pid, sig);
    errno = saved;
}

/* Handlers for the forwarded signals, but not for those ignored when conan
 * started (nohup): CMD inherits the ignoring, and kill cannot reach us. */
static void install_forwarding(struct sigaction old[NFORWARDED])
{
    struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigfillset(&sa.sa_mask);
    for (int i = 0; i < NFORWARDED; i++) {
        sigaction(forwarded[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN) sigaction(forwarded[i], &sa, NULL);
    }
}

/* Ends this process as status says CMD ended: its exit status, or its signal
 * with the default action (and no core dump of ours). */
static int end_like(int status)
{
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (!WIFSIGNALED(status)) return EXIT_FAIL;
    int sig = WTERMSIG(status);
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    return 128 + sig; /* a signal whose default is not to end a process */
}

/* The child: its signal handling as conan found it, then CMD. An exec that
 * fails sends its errno through report (close-on-exec: EOF means CMD runs). */
static void start_child(char **cmd, const struct sigaction old[NFORWARDED], const sigset_t *mask, int report)
{
    for (int i = 0; i < NFORWARDED; i++) sigaction(forwarded[i], &old[i], NULL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    execvp(cmd[0], cmd);
    int err = errno;
    ssize_t ignored = write(report, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

static int run_beside(char **cmd, const char *temp)
{
    struct sigaction old[NFORWARDED];
    sigset_t block, mask;
    sigemptyset(&block);
    for (int i = 0; i < NFORWARDED; i++) sigaddset(&block, forwarded[i]);
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        cli_command_error("run", "pipe: %s", strerror(errno));
        return EXIT_FAIL;
    }
    sigprocmask(SIG_BLOCK, &block, &mask); /* no handler runs in the child before exec */
    install_forwarding(old);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) start_child(cmd, old, &mask, report[1]);
    int fork_errno = errno;
    close(report[1]);
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &mask, NULL);
    int status = 0, exec_errno = 0;
    if (pid > 0) {
        ssize_t n;
        while ((n = read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
        if (n != sizeof exec_errno) exec_errno = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }
    close(report[0]);
    child_pid = 0;
    unlink(temp);
    if (pid < 0) {
        cli_command_error("run", "fork: %s", strerror(fork_errno));
        return EXIT_FAIL;
    }
    if (exec_errno) return exec_failed(cmd[0], exec_errno);
    return end_like(status);
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "set", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 's':
            if (o->nset == MAX_SETS) return cli_usage_error("run", "more than %d --set options", MAX_SETS);
            o->set[o->nset++] = optarg;
            break;
        case 'h': cli_help(help); return -1;
        default: return cli_usage_error("run", "unknown option");
        }
    }
    if (optind >= argc) return cli_usage_error("run", "expected a command to run");
    return 0;
}

int cmd_run(int argc, char **argv)
{
    struct run_options o = { 0 };
    int rc = parse_options(argc, argv, &o);
    if (rc != 0) return rc < 0 ? EXIT_OK : rc;
    char **cmd = argv + optind;
    char shim[PATH_MAX], temp[PATH_MAX];
    if (find_shim(shim, sizeof shim) != 0) return EXIT_FAIL;
    if ((rc = prepare_config(&o, temp, sizeof temp)) != 0) return rc;
    if (set_preload(shim) != 0) {
        cli_command_error("run", "cannot set LD_PRELOAD: %s", strerror(errno));
        if (temp[0]) unlink(temp);
        return EXIT_FAIL;
    }
    if (temp[0]) return run_beside(cmd, temp);
    fflush(NULL);
    execvp(cmd[0], cmd);
    return exec_failed(cmd[0], errno);
}
