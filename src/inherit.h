/* inherit.h — preload lists: how libconan came to be loaded, and what
 * children of the program inherit (inherit.c). */
#ifndef CONAN_INHERIT_H
#define CONAN_INHERIT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether libconan was loaded through /etc/ld.so.preload alone: this
 * process's LD_PRELOAD does not name it and /etc/ld.so.preload does. False
 * for an explicit LD_PRELOAD, and for a program linked with -lconan. */
bool conan_loaded_by_system_preload(void);

/* The preload list `list` (LD_PRELOAD's syntax) without libconan's entries,
 * the others kept in their order, space-separated, into out (len bytes, the
 * list's length + 1 is always enough); false when libconan cannot find its own
 * file or out is too small. */
bool conan_preload_without_us(const char *list, char *out, size_t len);

/* Constructor only: removes libconan's LD_PRELOAD entry and CONAN_CONFIG from
 * the environment, so that programs started from here run without it. */
void conan_inherit_stop(void);

#endif
