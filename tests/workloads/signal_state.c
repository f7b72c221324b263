/* signal_state.c — the program's view of its signals, watched while libconan
 * profiles it. Three threads each set a signal mask of their own and the
 * program installs handlers (SIGUSR1 with SA_RESTART, SIGUSR2 with SA_SIGINFO
 * and a mask, SIGPIPE ignored); then for MS milliseconds every thread burns
 * CPU and compares, again and again, every signal's action (sigaction) and its
 * own mask (pthread_sigmask) with what it set. Afterwards, once the profiling
 * windows have ended, the kernel's view (/proc/self/status SigCgt,
 * SigIgn, SigBlk) must be what it was before them (within 5 s: the last
 * window may still be running). With DUMP_DIR, the burn goes on past MS until
 * DUMP_DIR holds 2 CPU and 5 threads profiles (20 s more at most): a loaded
 * machine gives the monitor fewer ticks in MS, and the test needs that much
 * profiling to have tested anything.
 * usage: signal_state MS [DUMP_DIR]
 * stdout: "changes seen: N" and "kernel view: same|changed (...)". */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "burn.h"
#include "profiles.h"

#define NTHREADS 3

static struct sigaction initial[NSIG];
static long changes;           /* atomic */
static long run_ms;
static const char *dump_dir;
static volatile double sink;
static int stop; /* atomic: main says when the burn ends */

static void on_usr(int sig) { (void)sig; }
static void on_usr_info(int sig, siginfo_t *info, void *uc) { (void)sig; (void)info; (void)uc; }

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
    if (a->sa_flags != b->sa_flags) return false;
    if ((a->sa_flags & SA_SIGINFO) ? a->sa_sigaction != b->sa_sigaction : a->sa_handler != b->sa_handler)
        return false;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s)) return false;
    return true;
}

static bool same_set(const sigset_t *a, const sigset_t *b)
{
    for (int s = 1; s < NSIG; s++)
        if (sigismember(a, s) != sigismember(b, s)) return false;
    return true;
}

static void check_all(const sigset_t *my_mask)
{
    for (int s = 1; s < NSIG; s++) {
        struct sigaction now;
        if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &now) != 0) continue;
        if (!same_action(&now, &initial[s]) && __atomic_fetch_add(&changes, 1, __ATOMIC_RELAXED) < 3)
            fprintf(stderr, "signal %d's action changed: flags %#x, was %#x\n", s, (unsigned)now.sa_flags,
                    (unsigned)initial[s].sa_flags);
    }
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    if (!same_set(&mask, my_mask) && __atomic_fetch_add(&changes, 1, __ATOMIC_RELAXED) < 3)
        fprintf(stderr, "a thread's mask changed\n");
}

static bool profiled_enough(void)
{
    return !dump_dir || (profiles_of_kind(dump_dir, "cpu") >= 2 && profiles_of_kind(dump_dir, "threads") >= 5);
}

/* Every thread burns and checks until main says stop; main decides when. */
__attribute__((noinline)) static void watch_and_burn(const sigset_t *my_mask, bool decides)
{
    double start = burn_now_ms(), checked = start;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        sink = burn_wall_ms(5);
        check_all(my_mask);
        double now = burn_now_ms();
        if (decides && now - start >= run_ms && now - checked >= 100) {
            checked = now;
            if (profiled_enough() || now - start >= run_ms + 20000) __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
        }
    }
}

static void *thread_main(void *arg)
{
    long index = (long)arg;
    sigset_t mine;
    sigemptyset(&mine);
    sigaddset(&mine, SIGUSR1 + (int)index % 2); /* SIGUSR1 or SIGUSR2 */
    if (index == 2) sigaddset(&mine, SIGHUP);
    pthread_sigmask(SIG_SETMASK, &mine, NULL);
    watch_and_burn(&mine, false);
    return NULL;
}

static void kernel_view(char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7) || !strncmp(line, "SigCgt:", 7))
            strncat(out, line, len - strlen(out) - 1);
    if (f) fclose(f);
}

int main(int argc, char **argv)
{
    run_ms = argc > 1 ? atol(argv[1]) : 3000;
    dump_dir = argc > 2 ? argv[2] : NULL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_sigaction = on_usr_info;
    sa.sa_flags = SA_SIGINFO;
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP) sigaction(s, NULL, &initial[s]);
    char before[512], after[512];
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++) pthread_create(&t[i], NULL, thread_main, (void *)i);
    kernel_view(before, sizeof before); /* after glibc's own lazily installed handlers */
    sigset_t main_mask;
    pthread_sigmask(SIG_SETMASK, NULL, &main_mask);
    watch_and_burn(&main_mask, true);
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);

    /* The last window (a rule may trip once more as the burn stops) ends and
     * SIGPROF is given back: up to 5 s. */
    for (int waited = 0; waited < 50; waited++) {
        kernel_view(after, sizeof after);
        if (strcmp(before, after) == 0) break;
        usleep(100000);
    }
    printf("changes seen: %ld\n", changes);
    if (strcmp(before, after) == 0)
        printf("kernel view: same\n");
    else
        printf("kernel view: changed (before:\n%safter:\n%s)\n", before, after);
    return 0;
}
