/* check.h — the few assertion macros the unit tests share. A failed check prints
 * where and what, and the test exits non-zero at CHECK_DONE(). */
#ifndef CONAN_CHECK_H
#define CONAN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);   \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_INT(got, want)                                                     \
    do {                                                                         \
        long long g_ = (long long)(got), w_ = (long long)(want);                 \
        if (g_ != w_) {                                                          \
            fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, \
                    #got, g_, w_);                                               \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_NEAR(got, want, eps)                                               \
    do {                                                                         \
        double g_ = (got), w_ = (want);                                          \
        if (!(fabs(g_ - w_) <= (eps))) {                                         \
            fprintf(stderr, "%s:%d: %s is %g, want %g ± %g\n", __FILE__, __LINE__, \
                    #got, g_, w_, (double)(eps));                                \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_STR(got, want)                                                     \
    do {                                                                         \
        const char *g_ = (got), *w_ = (want);                                    \
        if (!g_ || strcmp(g_, w_) != 0) {                                        \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,       \
                    __LINE__, #got, g_ ? g_ : "(null)", w_);                     \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_DONE()                                                             \
    do {                                                                         \
        if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures); \
        return check_failures ? 1 : 0;                                           \
    } while (0)

#endif
