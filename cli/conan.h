/* conan.h — the conan tool's subcommands (one file each) and the few helpers
 * they share (main.c). Exit codes: 0 ok, 1 failure or a tripped gate, 2 usage. */
#ifndef CONAN_CLI_CONAN_H
#define CONAN_CLI_CONAN_H

#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_flame(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_trigger(int argc, char **argv);
int cmd_symbolize(int argc, char **argv);
int cmd_agent(int argc, char **argv);

/* "conan: <message>" on stderr, one line. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "conan <cmd>: <message>" on stderr, one line: for commands whose messages
 * run beside another program's output (run) or name many targets (trigger). */
void cli_command_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Usage error: the message, a pointer to --help, and EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A non-negative integer option's value; -1 (after a usage message) if not one. */
long cli_parse_count(const char *cmd, const char *option, const char *arg, long max);
/* --tag KEY=VALUE (c 't') or --focus REGEX (c 'f') added to filter; -1
 * after a usage message when arg is not one. */
struct profile_filter;
int cli_filter_option(const char *cmd, int c, const char *arg, struct profile_filter *filter);
/* Prints a subcommand's help text to stdout and returns EXIT_OK. */
int cli_help(const char *text);

#endif
