/* heap_early_late.c — blocks allocated before libconan's constructor ran and
 * freed while it runs, blocks sampled while it runs and freed (or realloc'd)
 * after its destructor, and a thread allocating while the process exits. See
 * heap_early_lib.c for the before and after.
 * usage: heap_early_late */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EARLY 512
extern void *early_block[EARLY];
void early_keep(void *p);

static void *churn_through_exit(void *arg)
{
    (void)arg;
    for (;;) {
        void *p = malloc(200);
        memset(p, 1, 200);
        free(p);
    }
    return NULL;
}

int main(void)
{
    for (int i = 0; i < EARLY; i += 2) { /* half of the early blocks now */
        free(early_block[i]);
        early_block[i] = NULL;
    }
    for (int i = 0; i < 1000; i++) { /* sampled now, freed after libconan's destructor */
        void *p = malloc(64 + (size_t)i);
        memset(p, 2, 64);
        early_keep(p);
    }
    pthread_t t;
    pthread_create(&t, NULL, churn_through_exit, NULL);
    return 0;
}
