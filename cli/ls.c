/* ls.c — conan ls (being written). */
#include "conan.h"

int cmd_ls(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("ls: not built yet");
    return EXIT_FAIL;
}
