/* config_reference.c — prints the reference generated from the config key
 * table (src/config.c): the README's Markdown table, or with --man TEMPLATE
 * the conan.json(5) page, TEMPLATE with its line "@KEYS@" replaced by one
 * roff paragraph per key. Run at build time (man/meson.build) and by
 * scripts/update-readme-reference.sh. */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 1) {
        conan_config_reference(stdout, CONAN_REFERENCE_MARKDOWN);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "--man") != 0) {
        fprintf(stderr, "usage: config_reference [--man TEMPLATE]\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    char line[4096];
    int replaced = 0;
    while (fgets(line, sizeof line, in)) {
        if (strcmp(line, "@KEYS@\n") == 0) {
            conan_config_reference(stdout, CONAN_REFERENCE_ROFF);
            replaced++;
        } else {
            fputs(line, stdout);
        }
    }
    fclose(in);
    if (replaced != 1) {
        fprintf(stderr, "%s: expected one line \"@KEYS@\", found %d\n", argv[2], replaced);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
