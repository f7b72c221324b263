/* debuginfo.h — the ELF side of conan symbolize (debuginfo.c): a mapping's
 * object and its separate debug file, found by build ID and never by name
 * alone, and an address in the process turned into frames (function, file,
 * line), innermost first, with elfutils' libdwfl. */
#ifndef CONAN_CLI_DEBUGINFO_H
#define CONAN_CLI_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where to look for separate debug files: the given directories (each as
 * DIR/.build-id/xx/yyyy.debug and DIR/xx/yyyy.debug), then the system's
 * /usr/lib/debug/.build-id/xx/yyyy.debug. */
struct debuginfo_dirs {
    const char *const *dir;
    size_t ndir;
};

/* One object file (by path and build ID) opened for lookups. */
struct debuginfo;

/* What debuginfo_open found. */
enum debuginfo_found {
    DEBUGINFO_DWARF,      /* debug info: names, files, lines, inlined frames */
    DEBUGINFO_SYMBOLS,    /* a symbol table but no debug info: names only */
    DEBUGINFO_NOTHING,    /* the object was found but names nothing */
    DEBUGINFO_NO_FILE,    /* no file with the mapping's build ID */
};

/* Opens what belongs to the mapping's object: a debug file with its build ID
 * and the object at path when its build ID is the same. NULL when nothing
 * with that build ID was found, with *found set and note saying why (one
 * line, e.g. the build ID of a different file at path); note may also be set
 * when something was opened (a file at path that was not used). */
struct debuginfo *debuginfo_open(const char *path, const char *build_id, const struct debuginfo_dirs *dirs,
                                 enum debuginfo_found *found, char *note, size_t notelen);
void debuginfo_close(struct debuginfo *d);
/* The file the names come from: the debug file, else the object. */
const char *debuginfo_source(const struct debuginfo *d);
bool debuginfo_has_dwarf(const struct debuginfo *d);

struct debuginfo_frame {
    const char *symbol;      /* the linker's name (mangled for C++) */
    const char *file;        /* "" when unknown */
    int64_t line, column;    /* 0 when unknown */
    int64_t start_line;      /* the function's first line; 0 when unknown */
};

/* The frames at address (absolute in the process whose mapping started at
 * memory_start, mapping the file from file_offset), innermost first: at most
 * max, 0 when nothing names the address for certain (no function whose
 * range holds it). The strings live until debuginfo_close. */
int debuginfo_frames(struct debuginfo *d, uint64_t address, uint64_t memory_start, uint64_t file_offset,
                     struct debuginfo_frame *frame, int max);

#endif
