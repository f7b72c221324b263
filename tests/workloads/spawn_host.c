/* spawn_host — a host that looks at itself the way a program would notice a
 * child or a descriptor it did not make (integration/agent_spawn_host).
 *
 * usage: spawn_host GO_FIFO
 * Counts SIGCHLD, forks one child of its own (which exits 7) and waits for it
 * by pid, then blocks reading one byte from GO_FIFO (the test opens it when it
 * has seen what it waits for). Then prints, one per line: the child's exit
 * status, waitpid(-1)'s answer and errno (ECHILD when no other child exists),
 * wait(-1)'s (when waitpid found no child at all), the SIGCHLDs received (1: our own child's), the open descriptors
 * with what they point at (the FIFO's is left out: its path differs between
 * runs), and the number of threads. Exits 3. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t sigchld_count;

static void on_sigchld(int sig)
{
    (void)sig;
    sigchld_count++;
}

static void print_fds(int skip)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("/proc/self/fd");
        exit(1);
    }
    int own = dirfd(d);
    struct dirent *e;
    char lines[256][300];
    int n = 0;
    while ((e = readdir(d)) && n < 256) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == own || fd == skip) continue;
        char path[64], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        /* pipes and sockets carry an inode number that differs from run to run */
        if (strncmp(target, "pipe:", 5) == 0 || strncmp(target, "socket:", 7) == 0) strchr(target, ':')[1] = '\0';
        snprintf(lines[n++], sizeof lines[0], "fd %d %s", fd, target);
    }
    closedir(d);
    qsort(lines, (size_t)n, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++) printf("%s\n", lines[i]);
}

static int threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: spawn_host GO_FIFO\n");
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_sigchld };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) _exit(7);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    printf("own child exited %d\n", WEXITSTATUS(status));

    int go = open(argv[1], O_RDONLY);
    char byte;
    if (go < 0 || read(go, &byte, 1) != 1) {
        perror(argv[1]);
        return 1;
    }
    pid_t got = waitpid(-1, &status, WNOHANG);
    printf("waitpid(-1) %d %s\n", (int)got, got < 0 ? strerror(errno) : "");
    if (got < 0) { /* else a child is there, and wait would block on it */
        got = wait(&status);
        printf("wait(-1) %d %s\n", (int)got, got < 0 ? strerror(errno) : "");
    }
    printf("sigchld %d\n", (int)sigchld_count);
    print_fds(go);
    printf("threads %d\n", threads());
    fflush(stdout);
    return 3;
}
