/* sanitized.c — only in libconan-asan.so, the sanitized test build
 * (tests/meson.build): UBSan's reports go where UBSAN_OPTIONS' log_path says.
 * libasan and libubsan each keep a report file of their own, and both export
 * __sanitizer_set_report_path; libubsan's start-up call to it binds to
 * libasan's copy (first in the search order), so without this UBSan would
 * always write to stderr, where a test might never look. */
#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The log_path value in a sanitizer options string, into out; false if none. */
static bool log_path_of(const char *options, char *out, size_t len)
{
    const char *p = options ? strstr(options, "log_path=") : NULL;
    if (!p) return false;
    p += strlen("log_path=");
    size_t n = strcspn(p, ": \t\n");
    if (n == 0 || n >= len) return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

__attribute__((constructor)) static void ubsan_reports_to_log_path(void)
{
    char path[PATH_MAX];
    Dl_info info;
    if (!log_path_of(getenv("UBSAN_OPTIONS"), path, sizeof path)) return;
    void *handler = dlsym(RTLD_DEFAULT, "__ubsan_handle_add_overflow_abort");
    if (!handler || !dladdr(handler, &info) || !info.dli_fname) return;
    void *ubsan = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!ubsan) return;
    void (*set_report_path)(const char *) = (void (*)(const char *))dlsym(ubsan, "__sanitizer_set_report_path");
    if (set_report_path) set_report_path(path);
    dlclose(ubsan);
}
