/* symbolize.c — conan symbolize (being written). */
#include "conan.h"

int cmd_symbolize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("symbolize: not built yet");
    return EXIT_FAIL;
}
