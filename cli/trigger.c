/* trigger.c — conan trigger (being written). */
#include "conan.h"

int cmd_trigger(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("trigger: not built yet");
    return EXIT_FAIL;
}
