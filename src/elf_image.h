/* elf_image.h — ELF files and images read safely, and build IDs
 * (elf_image.c). Named elf_image.h, not elf.h: src/ is on the include path,
 * where an elf.h would stand in for the system's <elf.h>. */
#ifndef CONAN_ELF_IMAGE_H
#define CONAN_ELF_IMAGE_H

#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps that keep a corrupt file from asking for absurd allocations. */
#define CONAN_ELF_MAX_NOTES_BYTES ((uint64_t)1 << 20)
#define CONAN_ELF_MAX_TABLE_BYTES ((uint64_t)1 << 31)
/* The longest GNU build ID we keep (bytes): 64 hex digits and a NUL. */
#define CONAN_BUILD_ID_MAX_BYTES 32

/* An ELF file (through a descriptor) or an ELF image in memory (the vdso). */
struct conan_elf_image {
    int fd;                        /* -1 for an image in memory */
    const unsigned char *memory;   /* the image when fd is -1 */
    uint64_t size;                 /* bytes readable from offset 0 */
    ElfW(Ehdr) ehdr;
    ElfW(Phdr) *phdrs;             /* NULL when absent or unreadable */
    size_t phnum;
    ElfW(Shdr) *shdrs;             /* NULL when absent or unreadable (stripped) */
    size_t shnum;
};

/* Opens a regular file, or an image of size bytes at base, and reads its
 * headers; false (and nothing to close) if it is not a native ELF. */
bool conan_elf_open_file(struct conan_elf_image *img, const char *path);
bool conan_elf_open_memory(struct conan_elf_image *img, const void *base, uint64_t size);
void conan_elf_close(struct conan_elf_image *img);
/* len bytes at offset in a new buffer (malloc) followed by a NUL, or NULL. */
char *conan_elf_read_copy(const struct conan_elf_image *img, uint64_t offset, uint64_t len);

/* The image's GNU build ID, lowercase hex: note sections first, then PT_NOTE
 * segments; false (and "") if it has none. */
bool conan_elf_build_id(const struct conan_elf_image *img, char out[65]);
/* The GNU build ID in a block of len bytes of ELF notes aligned to align. */
bool conan_elf_notes_build_id(const unsigned char *notes, uint64_t len, uint64_t align, char out[65]);
/* GNU build ID of an ELF file on disk, lowercase hex; 0 on success. */
int conan_build_id_of_file(const char *path, char out[65]);

/* Allocations that failed in this file on the calling thread, ever: a
 * caller compares two readings to know whether what it read is complete. */
unsigned conan_elf_alloc_failures(void);

#endif
