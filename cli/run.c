/* run.c — conan run (being written). */
#include "conan.h"

int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("run: not built yet");
    return EXIT_FAIL;
}
