/* preload.c — what runs when libconan.so is preloaded: the constructor reads
 * CONAN_CONFIG and starts the monitor thread; the destructor stops it. No policy
 * lives here. A config we cannot use leaves the shim inert, with one line on
 * stderr: the program runs exactly as it would without us. */
#include <stdlib.h>

#include "internal.h"

static struct conan_config config; /* static: too large for a constructor's stack */

__attribute__((constructor)) static void conan_preload_start(void)
{
    char err[1024];
    conan_config_defaults(&config);
    const char *path = getenv("CONAN_CONFIG");
    if (path && path[0] && conan_config_load(path, &config, err, sizeof err) != 0) {
        conan_log("%s (libconan stays inert)", err);
        return;
    }
    if (config.mode == CONAN_MODE_OFF) return;
    conan_monitor_start(&config);
}

__attribute__((destructor)) static void conan_preload_stop(void)
{
    conan_monitor_stop();
}
