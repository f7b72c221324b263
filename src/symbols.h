/* symbols.h — executable mappings and their symbol tables (symbols.c); ELF
 * reading and build IDs are elf_image.h's. */
#ifndef CONAN_SYMBOLS_H
#define CONAN_SYMBOLS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conan_mapping {
    uintptr_t start, limit, offset;
    char path[PATH_MAX];         /* as /proc/self/maps names it ("[vdso]" too) */
    char build_id[65];           /* GNU build ID, lowercase hex, "" if none */
};

/* A snapshot of the process's executable mappings with their symbol tables
 * (.symtab when present, so static functions resolve; else .dynsym). */
struct conan_symbols;

struct conan_symbols *conan_symbols_open(void);
size_t conan_symbols_mapping_count(const struct conan_symbols *s);
const struct conan_mapping *conan_symbols_mapping(const struct conan_symbols *s, size_t i);
/* Index of the mapping containing pc, or -1. */
long conan_symbols_find_mapping(const struct conan_symbols *s, uintptr_t pc);
/* Function containing pc: *name demangled when a demangler is present, *system_name
 * as in the symbol table. Strings live until conan_symbols_close. */
bool conan_symbols_lookup(struct conan_symbols *s, uintptr_t pc,
                          const char **name, const char **system_name);
void conan_symbols_close(struct conan_symbols *s);
/* False if an allocation failed while s was built or read: names or mappings
 * may be missing, so a profile made from it is refused. */
bool conan_symbols_complete(const struct conan_symbols *s);

#endif
