/* secure_probe.c — run set-user-ID: says whether the process is in secure
 * mode (AT_SECURE), whether libconan is mapped, and how many threads it has
 * after half a second of burning CPU (the monitor would be one of them).
 * usage: secure_probe */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "burn.h"

static volatile double sink;

int main(void)
{
    sink = burn_wall_ms(500);
    int threads = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') threads++;
    if (d) closedir(d);
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int mapped = 0;
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "libconan")) mapped = 1;
    if (maps) fclose(maps);
    printf("secure %lu, libconan %s, %d thread%s\n", getauxval(AT_SECURE), mapped ? "mapped" : "absent", threads,
           threads == 1 ? "" : "s");
    return 0;
}
