/* closefrom_logs.c — a daemon-style program: burns CPU (so a profiling window
 * opens and the unwinder is initialised), then closes every descriptor above
 * stderr it did not open itself, opens three log files (which reuse the low
 * numbers) and writes 30 lines to each from a busy thread while the next
 * window samples it. Prints how many writes failed and the lines per file.
 * usage: closefrom_logs DIR */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "burn.h"

static int fd[3];
static int failed;
volatile double sink;

__attribute__((noinline)) static void *write_logs(void *arg)
{
    (void)arg;
    for (int i = 0; i < 30; i++) {
        sink = burn_wall_ms(60);
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        for (int f = 0; f < 3; f++)
            if (write(fd[f], line, (size_t)n) != n) failed++;
    }
    return NULL;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int lines = 0, c;
    while (f && (c = fgetc(f)) != EOF) lines += c == '\n';
    if (f) fclose(f);
    return lines;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    sink = burn_wall_ms(1500);
    usleep(1200000);
    closefrom(3);
    char path[3][512];
    for (int f = 0; f < 3; f++) {
        snprintf(path[f], sizeof path[f], "%s/log%d", argv[1], f);
        fd[f] = open(path[f], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    pthread_t t;
    pthread_create(&t, NULL, write_logs, NULL);
    pthread_join(t, NULL);
    for (int f = 0; f < 3; f++) close(fd[f]);
    printf("failed writes %d, lines %d %d %d\n", failed, count_lines(path[0]), count_lines(path[1]),
           count_lines(path[2]));
    return 0;
}
