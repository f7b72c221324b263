/* validate.c — conan validate (being written). */
#include "conan.h"

int cmd_validate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("validate: not built yet");
    return EXIT_FAIL;
}
