/* diff.c — conan diff (being written). */
#include "conan.h"

int cmd_diff(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("diff: not built yet");
    return EXIT_FAIL;
}
