/* api.c — the public functions of include/conan.h, the only symbols of the
 * engine that libconan.so exports. */
#include "conan.h"

#include "monitor.h"

#define CONAN_PUBLIC __attribute__((visibility("default")))

CONAN_PUBLIC const char *conan_version(void)
{
    return CONAN_VERSION_BUILD;
}

CONAN_PUBLIC int conan_request_profile(void)
{
    return conan_monitor_request();
}
