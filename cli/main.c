/* main.c — the conan tool's entry: picks the subcommand, --help and --version,
 * and the error helpers every subcommand shares. Each subcommand lives in its
 * own file (run.c, validate.c, ls.c, top.c, flame.c, diff.c, trigger.c,
 * symbolize.c, agent*.c) and reads profiles through profile.c. */
#include "conan.h"
#include "profile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: conan COMMAND [ARGS]...\n"
    "\n"
    "Reads and takes libconan's profiles; no Go toolchain needed.\n"
    "\n"
    "  run        run a program under libconan:        conan run [--config F] [--set K=V]... -- CMD...\n"
    "  validate   check a config file:                 conan validate FILE [--print]\n"
    "  ls         list the dumps in a directory:       conan ls [DIR] [--json]\n"
    "  top        functions by flat/cum, as pprof -top: conan top FILE [-n N] [--cum]\n"
    "  flame      an interactive flame graph (HTML):   conan flame FILE [-o OUT.html] [--folded]\n"
    "  diff       what grew between two profiles:      conan diff BASE NEW [--threshold POINTS]\n"
    "  trigger    ask running processes for profiles:  conan trigger PID... [--kinds K,...]\n"
    "  symbolize  name functions from debug info:      conan symbolize FILE -o OUT [--debug-dir D]...\n"
    "  agent      send dumps to Pyroscope, chats, Parca: conan agent [--config F] [--dir D]... [--once]\n"
    "\n"
    "conan COMMAND --help shows a command's options; man conan has examples.\n"
    "Exit status: 0 ok, 1 failure (or diff's gate tripped), 2 usage error.\n";

static const struct {
    const char *name;
    int (*run)(int, char **);
} commands[] = {
    { "run", cmd_run },       { "validate", cmd_validate }, { "ls", cmd_ls },           { "top", cmd_top },
    { "flame", cmd_flame },   { "diff", cmd_diff },         { "trigger", cmd_trigger }, { "symbolize", cmd_symbolize },
    { "agent", cmd_agent },
};

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("conan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_command_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "conan %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "conan %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (conan %s --help)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

long cli_parse_count(const char *cmd, const char *option, const char *arg, long max)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 0 || v > max) {
        cli_usage_error(cmd, "%s %s: expected a whole number from 0 to %ld", option, arg, max);
        return -1;
    }
    return v;
}

int cli_filter_option(const char *cmd, int c, const char *arg, struct profile_filter *filter)
{
    char err[512];
    int rc = c == 't' ? profile_filter_tag(filter, arg, err, sizeof err) : profile_filter_focus(filter, arg, err, sizeof err);
    if (rc != 0) cli_usage_error(cmd, "%s", err);
    return rc;
}

int cli_help(const char *text)
{
    fputs(text, stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) return cli_help(usage);
    if (strcmp(cmd, "--version") == 0) {
        printf("conan %s\n", CONAN_VERSION_BUILD);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "conan: no command \"%s\" (conan --help lists them)\n", cmd);
    return EXIT_USAGE;
}
