/* label_cost.c — figure 14: what conan_label_set + conan_label_clear cost a
 * program (through the PLT, as a program linked with -lconan calls them), and
 * conan_label_push + conan_label_pop. Each round times ITERATIONS pairs of
 * calls on this thread's CPU clock and subtracts the same loop with the calls
 * left out; the values alternate among 8 routes, as a server's would. Prints
 * one line per round: "set_clear NS push_pop NS" (nanoseconds per pair), and
 * what the first set returned (0 active, -1 inert).
 * usage: bench_label_cost ROUNDS ITERATIONS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conan.h"

static const char *const routes[8] = { "/users/:id", "/orders", "/orders/:id", "/health",
                                       "/login", "/search", "/cart", "/checkout" };

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The loop alone: the same index arithmetic and a compiler barrier. */
__attribute__((noinline)) static double empty_loop(long n)
{
    double t = cpu_ns();
    for (long i = 0; i < n; i++) __asm__ volatile("" : : "r"(routes[i & 7]) : "memory");
    return cpu_ns() - t;
}

__attribute__((noinline)) static double set_clear(long n)
{
    double t = cpu_ns();
    for (long i = 0; i < n; i++) {
        conan_label_set("route", routes[i & 7]);
        conan_label_clear("route");
    }
    return cpu_ns() - t;
}

__attribute__((noinline)) static double push_pop(long n)
{
    double t = cpu_ns();
    for (long i = 0; i < n; i++) {
        struct conan_label_scope s;
        conan_label_push(&s, "route", routes[i & 7]);
        conan_label_pop(&s);
    }
    return cpu_ns() - t;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    long n = argc > 2 ? atol(argv[2]) : 10000000;
    printf("first_set %d\n", conan_label_set("warm", "up"));
    conan_label_clear("warm");
    set_clear(n / 10); /* every pair interned, caches warm */
    for (int r = 0; r < rounds; r++) {
        double base = empty_loop(n);
        double sc = set_clear(n), pp = push_pop(n);
        printf("set_clear %.2f push_pop %.2f\n", (sc - base) / n, (pp - base) / n);
    }
    return 0;
}
