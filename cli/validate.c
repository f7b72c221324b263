/* validate.c — conan validate: a config file checked by the shim's own code
 * (conan_config_load, config.c), with the shim's one-line message naming the
 * file and the JSON path; --print shows the effective configuration, every
 * default filled in, as JSON generated from the config key table. */
#include "conan.h"
#include "config.h"

#include <getopt.h>
#include <stdlib.h>

static const char help[] =
    "usage: conan validate FILE [--print]\n"
    "\n"
    "Checks a libconan config file with the code libconan itself runs at start.\n"
    "A problem is one line, as libconan would log it: FILE: JSON.PATH: what is wrong.\n"
    "\n"
    "  --print   print the effective configuration (every key, defaults filled in) as JSON;\n"
    "            \"app\" shows this tool's name where the file sets none (libconan uses the\n"
    "            name the program was started as)\n"
    "\n"
    "Exit status: 0 valid, 1 not valid or unreadable, 2 usage error.\n";

int cmd_validate(int argc, char **argv)
{
    static const struct option options[] = {
        { "print", no_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool print = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'p': print = true; break;
        case 'h': return cli_help(help);
        default: return cli_usage_error("validate", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage_error("validate", "expected one config file");

    static struct conan_config cfg; /* static: large */
    char err[1024];
    conan_config_defaults(&cfg);
    if (conan_config_load(argv[optind], &cfg, err, sizeof err) != 0) {
        cli_command_error("validate", "%s", err);
        return EXIT_FAIL;
    }
    if (!print) return EXIT_OK;
    char *text = conan_config_to_json(&cfg);
    if (!text) {
        cli_command_error("validate", "out of memory printing the configuration");
        return EXIT_FAIL;
    }
    puts(text);
    free(text);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
