/* config_reference.c — prints the config reference table generated from the
 * config key table, for the README (scripts/update-readme-reference.sh). */
#include "internal.h"

int main(void)
{
    conan_config_reference(stdout);
    return 0;
}
