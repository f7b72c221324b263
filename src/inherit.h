/* inherit.h — preload lists: how libconan came to be loaded, and what
 * children of the program inherit (inherit.c). */
#ifndef CONAN_INHERIT_H
#define CONAN_INHERIT_H

#include <stdbool.h>

/* Whether libconan was loaded through /etc/ld.so.preload alone: this
 * process's LD_PRELOAD does not name it and /etc/ld.so.preload does. False
 * for an explicit LD_PRELOAD, and for a program linked with -lconan. */
bool conan_loaded_by_system_preload(void);


/* Constructor only: removes libconan's LD_PRELOAD entry and CONAN_CONFIG from
 * the environment, so that programs started from here run without it. */
void conan_inherit_stop(void);

#endif
