/* interpose.h — what preload/ needs to stand in for a C library function. */
#ifndef CONAN_INTERPOSE_H
#define CONAN_INTERPOSE_H

/* preload/: a definition that takes the place of the C library's for the
 * whole process (everything else in libconan.so is hidden). */
#define CONAN_INTERPOSED __attribute__((visibility("default")))

#endif
