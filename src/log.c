/* log.c — the shim's only voice: one "libconan: ..." line on stderr per message.
 * Each line goes out in a single write(2), so it never interleaves with the
 * program's own output, and nothing is ever written to stdout. */
#include "log.h"
#include "once.h"

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>
#include <stdio.h>

static void log_line(const char *fmt, va_list ap)
{
    char line[1024];
    int saved_errno = errno;
    size_t len = (size_t)snprintf(line, sizeof line, "libconan: ");
    int n = vsnprintf(line + len, sizeof line - len, fmt, ap);
    if (n > 0) len += (size_t)n;
    if (len > sizeof line - 2) len = sizeof line - 2; /* truncated: still one line */
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    errno = saved_errno;
}

void conan_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}

void conan_log_once(int *once, const char *fmt, ...)
{
    if (!conan_first_time(once)) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(fmt, ap);
    va_end(ap);
}

bool conan_format(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len;
}
