/* leak.c — the workload of figure 4 (heap fidelity): leak_into_cache keeps
 * exactly LEAK_MIB MiB in blocks of 1–64 KiB (random sizes, touched), and
 * nothing else of note is allocated. Then, unless DUMP_DIR is "-", it asks for
 * a profile the way an operator would, by creating DUMP_DIR/conan.trigger,
 * and waits (at most WAIT_S seconds) for a heap profile to appear there. It
 * exits with the leak still held, so profilers that dump at exit (jemalloc's
 * prof_final, gperftools' HEAPPROFILE) see it too. Prints "leaked BYTES".
 * SEED varies the block sizes from run to run.
 * usage: leak LEAK_MIB SEED DUMP_DIR WAIT_S */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void **cache;

static unsigned next_random(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* Every byte this function allocates is the leak (the array holding the
 * pointers is allocated by main). */
__attribute__((noinline)) size_t leak_into_cache(size_t total, unsigned seed)
{
    size_t leaked = 0, n_blocks = 0;
    while (leaked < total) {
        size_t n = 1024 + next_random(&seed) % (63 * 1024 + 1);
        if (n > total - leaked) n = total - leaked;
        char *p = malloc(n);
        if (!p) break;
        memset(p, (int)n_blocks, n);
        cache[n_blocks++] = p;
        leaked += n;
    }
    return leaked;
}

static int heap_profile_exists(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        found = e->d_name[0] != '.' && strstr(e->d_name, ".heap.") && n > 6 && strcmp(e->d_name + n - 6, ".pb.gz") == 0;
    }
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: leak LEAK_MIB SEED DUMP_DIR WAIT_S\n");
        return 2;
    }
    size_t total = (size_t)atol(argv[1]) << 20;
    cache = calloc(total / 1024 + 1, sizeof *cache);
    if (!cache) return 1;
    size_t leaked = leak_into_cache(total, (unsigned)atol(argv[2]));
    const char *dir = argv[3];
    if (strcmp(dir, "-") != 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/conan.trigger", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            perror("leak: creating the trigger file");
            return 1;
        }
        close(fd);
        int waits = atoi(argv[4]) * 100;
        for (int i = 0; i < waits && !heap_profile_exists(dir); i++) {
            struct timespec tick = { 0, 10000000 };
            nanosleep(&tick, NULL);
        }
    }
    printf("leaked %zu\n", leaked);
    return 0;
}
