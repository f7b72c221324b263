/* flame.c — conan flame (being written). */
#include "conan.h"

int cmd_flame(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("flame: not built yet");
    return EXIT_FAIL;
}
