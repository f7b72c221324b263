/* log.h — one-line messages on stderr and checked formatting (log.c). */
#ifndef CONAN_LOG_H
#define CONAN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* snprintf that reports truncation: a cut path would name a different file, so
 * callers treat false as an error instead of using the cut string. */
bool conan_format(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One line "libconan: <message>\n" on stderr, written with a single write(2) so
 * it never interleaves with the program's own lines. Never touches stdout. */
void conan_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, at most once per *once flag (for conditions that would repeat). */
void conan_log_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
