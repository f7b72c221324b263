/* elf_image.c — reading ELF files and in-memory ELF images (the vdso): the
 * header, the program and section header tables, and any part by offset,
 * every read bounds-checked and every size capped; and build IDs, from note
 * sections or PT_NOTE segments, of an image, a file or a loaded object's
 * notes. Only ELF of the process's own class and byte order is read; a
 * truncated, corrupt or unreadable file only means "not found". Symbol tables
 * and mappings are symbols.c's. */
#include "elf_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ELF_DATA ELFDATA2LSB
#else
#define NATIVE_ELF_DATA ELFDATA2MSB
#endif
#define NATIVE_ELF_CLASS (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)

/* A cap that keeps a corrupt header from asking for an absurd table. */
#define MAX_HEADER_COUNT 65536

/* ------------------------------------------------------------ ELF images */

/* Allocation failures here, per thread: see conan_elf_alloc_failures. */
static __thread unsigned alloc_failures;

static void *counted_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p && n) alloc_failures++;
    return p;
}

unsigned conan_elf_alloc_failures(void)
{
    return alloc_failures;
}

static bool image_read(const struct conan_elf_image *img, uint64_t offset, void *buf, uint64_t len)
{
    if (offset > img->size || len > img->size - offset) return false;
    if (img->fd < 0) {
        memcpy(buf, img->memory + offset, len);
        return true;
    }
    unsigned char *out = buf;
    while (len > 0) {
        ssize_t n = pread(img->fd, out, len, (off_t)offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;   /* shrank under us, or an I/O error */
        out += n;
        offset += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return true;
}

/* len bytes at offset in a new buffer followed by a NUL, or NULL. */
char *conan_elf_read_copy(const struct conan_elf_image *img, uint64_t offset, uint64_t len)
{
    if (len > CONAN_ELF_MAX_TABLE_BYTES) return NULL;
    char *buf = counted_malloc(len + 1);
    if (!buf) return NULL;
    if (!image_read(img, offset, buf, len)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static void *image_read_table(const struct conan_elf_image *img, uint64_t offset, size_t count,
                              size_t entry_size)
{
    if (count == 0 || count > MAX_HEADER_COUNT) return NULL;
    return conan_elf_read_copy(img, offset, (uint64_t)count * entry_size);
}

/* Checks the ELF header and reads the program and section header tables that
 * are present and sane. False only when this is not a native ELF at all. */
static bool image_load_headers(struct conan_elf_image *img)
{
    ElfW(Ehdr) *eh = &img->ehdr;
    if (!image_read(img, 0, eh, sizeof *eh)) return false;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != NATIVE_ELF_CLASS ||
        eh->e_ident[EI_DATA] != NATIVE_ELF_DATA || eh->e_ident[EI_VERSION] != EV_CURRENT)
        return false;

    /* Section headers first: with more than 0xff00 entries (or program
     * headers), the real counts live in section header 0. */
    size_t shnum = eh->e_shnum;
    ElfW(Shdr) first;
    bool have_first = eh->e_shoff != 0 && eh->e_shentsize == sizeof(ElfW(Shdr)) &&
                      image_read(img, eh->e_shoff, &first, sizeof first);
    if (have_first && shnum == 0) shnum = (size_t)first.sh_size;
    if (have_first && shnum > 0) {
        img->shdrs = image_read_table(img, eh->e_shoff, shnum, sizeof(ElfW(Shdr)));
        if (img->shdrs) img->shnum = shnum;
    }

    size_t phnum = eh->e_phnum;
    if (phnum == PN_XNUM) phnum = have_first ? first.sh_info : 0;
    if (eh->e_phoff != 0 && eh->e_phentsize == sizeof(ElfW(Phdr)) && phnum > 0) {
        img->phdrs = image_read_table(img, eh->e_phoff, phnum, sizeof(ElfW(Phdr)));
        if (img->phdrs) img->phnum = phnum;
    }
    return true;
}

void conan_elf_close(struct conan_elf_image *img)
{
    if (img->fd >= 0) close(img->fd);
    free(img->phdrs);
    free(img->shdrs);
    memset(img, 0, sizeof *img);
    img->fd = -1;
}

bool conan_elf_open_file(struct conan_elf_image *img, const char *path)
{
    memset(img, 0, sizeof *img);
    img->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (img->fd < 0) return false;
    struct stat st;
    if (fstat(img->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        conan_elf_close(img);
        return false;
    }
    img->size = (uint64_t)st.st_size;
    if (!image_load_headers(img)) {
        conan_elf_close(img);
        return false;
    }
    return true;
}

bool conan_elf_open_memory(struct conan_elf_image *img, const void *base, uint64_t size)
{
    memset(img, 0, sizeof *img);
    img->fd = -1;
    img->memory = base;
    img->size = size;
    if (!image_load_headers(img)) {
        conan_elf_close(img);
        return false;
    }
    return true;
}

/* ----------------------------------------------------------- build IDs */

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

static void hex_encode(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Walks a block of ELF notes for NT_GNU_BUILD_ID owned by "GNU". */
bool conan_elf_notes_build_id(const unsigned char *notes, uint64_t len, uint64_t align, char out[65])
{
    align = align == 8 ? 8 : 4;
    uint64_t pos = 0;
    while (pos <= len && len - pos >= sizeof(ElfW(Nhdr))) {
        ElfW(Nhdr) note;
        memcpy(&note, notes + pos, sizeof note);
        uint64_t name_at = pos + sizeof note;
        if (note.n_namesz > len - name_at) return false;
        uint64_t desc_at = align_up(name_at + note.n_namesz, align);
        if (desc_at > len || note.n_descsz > len - desc_at) return false;
        if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == sizeof "GNU" &&
            memcmp(notes + name_at, "GNU", sizeof "GNU") == 0 && note.n_descsz > 0 &&
            note.n_descsz <= CONAN_BUILD_ID_MAX_BYTES) {
            hex_encode(notes + desc_at, note.n_descsz, out);
            return true;
        }
        pos = align_up(desc_at + note.n_descsz, align);
    }
    return false;
}

static bool image_notes_build_id(const struct conan_elf_image *img, uint64_t offset, uint64_t len,
                                 uint64_t align, char out[65])
{
    if (len == 0 || len > CONAN_ELF_MAX_NOTES_BYTES) return false;
    char *notes = conan_elf_read_copy(img, offset, len);
    if (!notes) return false;
    bool found = conan_elf_notes_build_id((const unsigned char *)notes, len, align, out);
    free(notes);
    return found;
}

/* Note sections first (they survive in debug files), then PT_NOTE segments
 * (they survive section-header stripping). */
bool conan_elf_build_id(const struct conan_elf_image *img, char out[65])
{
    for (size_t i = 0; i < img->shnum; i++) {
        const ElfW(Shdr) *sh = &img->shdrs[i];
        if (sh->sh_type == SHT_NOTE &&
            image_notes_build_id(img, sh->sh_offset, sh->sh_size, sh->sh_addralign, out))
            return true;
    }
    for (size_t i = 0; i < img->phnum; i++) {
        const ElfW(Phdr) *ph = &img->phdrs[i];
        if (ph->p_type == PT_NOTE &&
            image_notes_build_id(img, ph->p_offset, ph->p_filesz, ph->p_align, out))
            return true;
    }
    out[0] = '\0';
    return false;
}

int conan_build_id_of_file(const char *path, char out[65])
{
    out[0] = '\0';
    if (!path) return -1;
    struct conan_elf_image img;
    if (!conan_elf_open_file(&img, path)) return -1;
    bool found = conan_elf_build_id(&img, out);
    conan_elf_close(&img);
    return found ? 0 : -1;
}
