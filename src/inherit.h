/* inherit.h — what children of the program inherit (inherit.c). */
#ifndef CONAN_INHERIT_H
#define CONAN_INHERIT_H


/* Constructor only: removes libconan's LD_PRELOAD entry and CONAN_CONFIG from
 * the environment, so that programs started from here run without it. */
void conan_inherit_stop(void);

#endif
