/* symbols.c — owns the snapshot of the process's executable mappings and the
 * turning of program counters into function names and build IDs.
 *
 * Design. conan_symbols_open() reads /proc/self/maps once and keeps every
 * executable mapping. Each distinct file behind them becomes one elf_object
 * (so a library mapped several times is parsed once), read at open time only
 * for its PT_LOAD program headers and its GNU build ID. Its function symbols
 * are loaded on the first lookup that lands in it: .symtab when the file has
 * one (so static functions resolve), else the .symtab of the separate debug
 * file /usr/lib/debug/.build-id/xx/yyyy.debug, else .dynsym. [vdso] is read
 * from memory (AT_SYSINFO_EHDR). A file that is deleted or unreadable falls
 * back to /proc/self/map_files, and to what the dynamic linker knows of it
 * (dl_iterate_phdr: load bias, build ID note).
 *
 * A pc becomes an ELF virtual address through its file offset (pc - start +
 * offset) and the PT_LOAD segment holding that offset (+ p_vaddr - p_offset),
 * i.e. pc - bias with bias = start - offset - (p_vaddr - p_offset): right for
 * PIE, shared objects, non-PIE executables and odd mappings alike.
 *
 * Symbols are kept sorted by address, one per address, and found by binary
 * search. The display name drops a symbol version ("@@GLIBC_2.34", found in
 * the .symtab of versioned libraries) and is demangled with __cxa_demangle
 * when libstdc++ happens to be loaded; it is made on demand and kept until
 * close. The system name is the symbol table's, untouched.
 *
 * Files and images are read through elf_image.c, which reads only ELF of the
 * process's own class and byte order, bounds-checks every read and caps
 * every size, so a truncated, stripped, corrupt or deleted file only means
 * "unknown": nothing here prints, exits or aborts. Runs on a normal thread (it
 * allocates and takes the loader lock); a snapshot is used by one thread at a
 * time.
 */
#include "symbols.h"
#include "elf_image.h"
#include "procfs.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#include <stdio.h>

static const char DELETED_SUFFIX[] = " (deleted)";
static const char DEBUG_BUILD_ID_DIR[] = "/usr/lib/debug/.build-id";
static const char VDSO_NAME[] = "[vdso]";
static const char VSYSCALL_NAME[] = "[vsyscall]";

typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

/* ------------------------------------------------------------- objects */

/* Allocation failures while a snapshot is built or read. A profile made from
 * an incomplete snapshot would show a name it could not allocate as unknown,
 * or a mapping as missing, so its caller refuses it (conan_symbols_complete).
 * Counted per thread: a snapshot is used by one thread. */
static __thread unsigned alloc_failures;

/* Every allocation failure so far on this thread, ours and ELF reading's. */
static unsigned failures_now(void)
{
    return alloc_failures + conan_elf_alloc_failures();
}

static void *counted(void *p, size_t n)
{
    if (!p && n) alloc_failures++;
    return p;
}
static void *counted_malloc(size_t n) { return counted(malloc(n), n); }
static void *counted_calloc(size_t n, size_t size) { return counted(calloc(n, size), n * size); }
static void *counted_realloc(void *old, size_t n) { return counted(realloc(old, n), n); }
static char *counted_strdup(const char *s) { return counted(strdup(s), 1); }
static char *counted_strndup(const char *s, size_t n) { return counted(strndup(s, n), 1); }

struct func_symbol {
    uintptr_t addr, size;          /* ELF virtual address; size 0 when unknown */
    const char *system_name;       /* in the object's string table */
    uint32_t preference;           /* lower wins among aliases; used while sorting */
    uint32_t version_at;           /* index of the '@' of "name@VERSION", 0 if none */
};

struct load_segment {
    uintptr_t vaddr, offset, filesz;
    bool executable;
};

/* One file (or the vdso) behind one or more executable mappings. */
struct elf_object {
    char *path;                    /* as /proc/self/maps names it */
    uint64_t path_hash;            /* of path, to find objects by path quickly */
    char *open_path;               /* where to read it from; NULL if nowhere */
    bool is_vdso;
    const void *vdso_base;
    uint64_t vdso_size;
    char build_id[65];
    struct load_segment *loads;    /* PT_LOAD segments, from the file */
    size_t nloads;
    bool has_loader_bias;          /* the dynamic linker's load bias, when file unreadable */
    uintptr_t loader_bias;
    bool symbols_loaded;           /* tried, whatever came of it */
    struct func_symbol *symbols;   /* sorted by addr, one per address */
    size_t nsymbols;
    char *strings;                 /* the string table symbols point into */
    const char **names;            /* display names, made on demand (NULL = not yet) */
};

struct conan_symbols {
    struct conan_mapping *mappings; /* sorted by start, as /proc/self/maps lists them */
    struct elf_object **mapping_objects; /* parallel to mappings; NULL for anonymous ones */
    unsigned failures_at_open;     /* failures_now() when it was opened */
    size_t nmappings;
    struct elf_object **objects;
    size_t nobjects, objects_capacity;
    demangle_fn demangle;           /* __cxa_demangle if libstdc++ is loaded */
    size_t last_mapping;            /* where the previous lookup landed */
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void object_take_loads(struct elf_object *obj, const struct conan_elf_image *img)
{
    size_t count = 0;
    for (size_t i = 0; i < img->phnum; i++)
        if (img->phdrs[i].p_type == PT_LOAD) count++;
    if (count == 0) return;
    obj->loads = counted_calloc(count, sizeof *obj->loads);
    if (!obj->loads) return;
    for (size_t i = 0; i < img->phnum; i++) {
        const ElfW(Phdr) *ph = &img->phdrs[i];
        if (ph->p_type != PT_LOAD) continue;
        struct load_segment *seg = &obj->loads[obj->nloads++];
        seg->vaddr = ph->p_vaddr;
        seg->offset = ph->p_offset;
        seg->filesz = ph->p_filesz;
        seg->executable = (ph->p_flags & PF_X) != 0;
    }
}

/* Program headers and build ID from a readable file; false if it is not one. */
static bool object_read_file(struct elf_object *obj, const char *path)
{
    struct conan_elf_image img;
    if (!conan_elf_open_file(&img, path)) return false;
    object_take_loads(obj, &img);
    conan_elf_build_id(&img, obj->build_id);
    conan_elf_close(&img);
    obj->open_path = counted_strdup(path);
    return obj->open_path != NULL;
}

/* What the dynamic linker knows of the object loaded at an address. */
struct loaded_object_query {
    uintptr_t addr;
    size_t page_size;
    bool found;
    uintptr_t bias;
    char build_id[65];
};

static bool loaded_range_readable(const struct dl_phdr_info *info, uintptr_t vaddr, uintptr_t len)
{
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && vaddr >= ph->p_vaddr && len <= ph->p_filesz &&
            vaddr - ph->p_vaddr <= ph->p_filesz - len)
            return true;
    }
    return false;
}

static int match_loaded_object(struct dl_phdr_info *info, size_t info_size, void *data)
{
    struct loaded_object_query *q = data;
    (void)info_size;
    bool contains = false;
    for (size_t i = 0; i < info->dlpi_phnum && !contains; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t begin = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)(q->page_size - 1);
        uintptr_t end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        contains = q->addr >= begin && q->addr < end;
    }
    if (!contains) return 0;
    q->found = true;
    q->bias = info->dlpi_addr;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE || ph->p_memsz > CONAN_ELF_MAX_NOTES_BYTES ||
            !loaded_range_readable(info, ph->p_vaddr, ph->p_memsz))
            continue;
        const unsigned char *notes = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        if (conan_elf_notes_build_id(notes, ph->p_memsz, ph->p_align, q->build_id)) break;
    }
    return 1;
}

static void object_ask_loader(struct elf_object *obj, uintptr_t addr)
{
    struct loaded_object_query q = {.addr = addr, .page_size = (size_t)sysconf(_SC_PAGESIZE)};
    if (q.page_size == 0 || (q.page_size & (q.page_size - 1)) != 0) q.page_size = 4096;
    dl_iterate_phdr(match_loaded_object, &q);
    if (!q.found) return;
    obj->has_loader_bias = true;
    obj->loader_bias = q.bias;
    if (!obj->build_id[0]) memcpy(obj->build_id, q.build_id, sizeof q.build_id);
}

static void object_init_vdso(struct elf_object *obj, const struct conan_mapping *m)
{
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (base == 0 || base < m->start || base >= m->limit) return;
    struct conan_elf_image img;
    if (!conan_elf_open_memory(&img, (const void *)base, m->limit - base)) return;
    obj->vdso_base = (const void *)base;
    obj->vdso_size = m->limit - base;
    object_take_loads(obj, &img);
    conan_elf_build_id(&img, obj->build_id);
    conan_elf_close(&img);
}

/* A deleted file: its mapping through /proc/self/map_files (needs privilege),
 * else the dynamic linker's view, else the same path if its build ID still
 * matches (e.g. a package reinstalled unchanged). */
static void object_init_deleted(struct elf_object *obj, const struct conan_mapping *m)
{
    char map_file[64];
    snprintf(map_file, sizeof map_file, "/proc/self/map_files/%lx-%lx", (unsigned long)m->start,
             (unsigned long)m->limit);
    if (object_read_file(obj, map_file)) return;
    object_ask_loader(obj, m->start);
    if (!obj->build_id[0]) return;

    size_t len = strlen(obj->path) - (sizeof DELETED_SUFFIX - 1);
    char *live_path = counted_strndup(obj->path, len);
    if (!live_path) return;
    char live_id[65];
    if (conan_build_id_of_file(live_path, live_id) == 0 && strcmp(live_id, obj->build_id) == 0) {
        struct elf_object probe = {0};
        if (object_read_file(&probe, live_path)) {
            free(obj->loads);
            obj->loads = probe.loads;
            obj->nloads = probe.nloads;
            obj->open_path = probe.open_path;
        } else {
            free(probe.loads);
        }
    }
    free(live_path);
}

static uint64_t path_hash_of(const char *path)
{
    uint64_t hash = 14695981039346656037ull;   /* FNV-1a */
    for (; *path; path++) hash = (hash ^ (unsigned char)*path) * 1099511628211ull;
    return hash;
}

static struct elf_object *object_new(const struct conan_mapping *m, const char *path)
{
    struct elf_object *obj = counted_calloc(1, sizeof *obj);
    if (!obj) return NULL;
    obj->path = counted_strdup(path);
    if (!obj->path) {
        free(obj);
        return NULL;
    }
    obj->path_hash = path_hash_of(path);
    if (strcmp(path, VDSO_NAME) == 0) {
        obj->is_vdso = true;
        object_init_vdso(obj, m);
    } else if (ends_with(path, DELETED_SUFFIX)) {
        object_init_deleted(obj, m);
    } else if (!object_read_file(obj, path)) {
        object_ask_loader(obj, m->start);
    }
    return obj;
}

static void object_free(struct elf_object *obj)
{
    if (!obj) return;
    if (obj->names) {
        for (size_t i = 0; i < obj->nsymbols; i++)
            if (obj->names[i] && obj->names[i] != obj->symbols[i].system_name)
                free((char *)obj->names[i]);
        free(obj->names);
    }
    free(obj->symbols);
    free(obj->strings);
    free(obj->loads);
    free(obj->open_path);
    free(obj->path);
    free(obj);
}

/* The ELF virtual address of a pc in mapping m of obj: through the file
 * offset and the PT_LOAD segment holding it (executable ones first), else
 * through the dynamic linker's load bias. */
static bool object_vaddr_of(const struct elf_object *obj, const struct conan_mapping *m,
                            uintptr_t pc, uintptr_t *vaddr)
{
    uintptr_t file_offset = pc - m->start + m->offset;
    for (int want_executable = 1; want_executable >= 0; want_executable--) {
        for (size_t i = 0; i < obj->nloads; i++) {
            const struct load_segment *seg = &obj->loads[i];
            if (seg->executable != (bool)want_executable || file_offset < seg->offset ||
                file_offset - seg->offset >= seg->filesz)
                continue;
            *vaddr = file_offset - seg->offset + seg->vaddr;
            return true;
        }
    }
    if (obj->has_loader_bias) {
        *vaddr = pc - obj->loader_bias;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------- symbols */

static uint32_t symbol_preference(const ElfW(Sym) *sym, const char *name, uint32_t version_at)
{
    /* Among aliases at one address: exported before local, fewer leading
     * underscores (getpid before __getpid), unversioned before default
     * version (@@) before old version (@), global before weak, shorter. */
    unsigned binding = ELF64_ST_BIND(sym->st_info);
    bool exported = binding == STB_GLOBAL || binding == STB_WEAK || binding == STB_GNU_UNIQUE;
    uint32_t local = exported ? 0 : 1;
    uint32_t version = version_at == 0 ? 0 : name[version_at + 1] == '@' ? 1 : 2;
    uint32_t underscores = 0;
    while (name[underscores] == '_' && underscores < 7) underscores++;
    uint32_t weak = binding == STB_WEAK ? 1 : 0;
    size_t len = strlen(name);
    uint32_t length = len > 0xffff ? 0xffff : (uint32_t)len;
    return local << 31 | underscores << 28 | version << 26 | weak << 25 | length;
}

static uint32_t version_suffix_at(const char *name)
{
    const char *at = strchr(name, '@');
    if (!at || at == name || at - name > (ptrdiff_t)UINT32_MAX) return 0;
    return (uint32_t)(at - name);
}

static int compare_symbols(const void *a, const void *b)
{
    const struct func_symbol *x = a, *y = b;
    if (x->addr != y->addr) return x->addr < y->addr ? -1 : 1;
    if (x->preference != y->preference) return x->preference < y->preference ? -1 : 1;
    return strcmp(x->system_name, y->system_name);
}

/* Reads the symbol table of the given type (SHT_SYMTAB or SHT_DYNSYM) and its
 * string table into obj. False if the image has no usable such table. */
static bool object_take_symbols(struct elf_object *obj, const struct conan_elf_image *img, uint32_t type)
{
    const ElfW(Shdr) *table = NULL, *strtab = NULL;
    for (size_t i = 0; i < img->shnum && !table; i++) {
        const ElfW(Shdr) *sh = &img->shdrs[i];
        if (sh->sh_type != type || sh->sh_entsize != sizeof(ElfW(Sym)) ||
            (sh->sh_flags & SHF_COMPRESSED) || sh->sh_link == 0 || sh->sh_link >= img->shnum)
            continue;
        const ElfW(Shdr) *linked = &img->shdrs[sh->sh_link];
        if (linked->sh_type != SHT_STRTAB || (linked->sh_flags & SHF_COMPRESSED)) continue;
        table = sh;
        strtab = linked;
    }
    if (!table || table->sh_size < sizeof(ElfW(Sym))) return false;
    if (table->sh_size > CONAN_ELF_MAX_TABLE_BYTES || strtab->sh_size > CONAN_ELF_MAX_TABLE_BYTES) return false;

    size_t count = table->sh_size / sizeof(ElfW(Sym));
    ElfW(Sym) *syms = (ElfW(Sym) *)conan_elf_read_copy(img, table->sh_offset, count * sizeof *syms);
    char *strings = conan_elf_read_copy(img, strtab->sh_offset, strtab->sh_size);
    struct func_symbol *funcs = NULL;
    size_t nfuncs = 0;
    if (syms && strings) funcs = counted_malloc(count * sizeof *funcs);
    if (!funcs) {
        free(syms);
        free(strings);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const ElfW(Sym) *sym = &syms[i];
        unsigned kind = ELF64_ST_TYPE(sym->st_info);
        if ((kind != STT_FUNC && kind != STT_GNU_IFUNC) || sym->st_value == 0 ||
            sym->st_shndx == SHN_UNDEF || sym->st_name == 0 || sym->st_name >= strtab->sh_size)
            continue;
        const char *name = strings + sym->st_name;
        if (!name[0]) continue;
        struct func_symbol *f = &funcs[nfuncs++];
        f->addr = sym->st_value;
        f->size = sym->st_size;
        /* A symbol without a size (_init, hand-written assembly) ends with its
         * section at the latest: the .plt that follows .init is not _init. */
        if (f->size == 0 && sym->st_shndx < img->shnum) {
            const ElfW(Shdr) *section = &img->shdrs[sym->st_shndx];
            if (sym->st_value >= section->sh_addr && sym->st_value < section->sh_addr + section->sh_size)
                f->size = section->sh_addr + section->sh_size - sym->st_value;
        }
        f->system_name = name;
        f->version_at = version_suffix_at(name);
        f->preference = symbol_preference(sym, name, f->version_at);
    }
    free(syms);
    if (nfuncs == 0) {
        free(funcs);
        free(strings);
        return false;
    }

    qsort(funcs, nfuncs, sizeof *funcs, compare_symbols);
    size_t kept = 0;
    for (size_t i = 0; i < nfuncs; i++) {
        if (kept > 0 && funcs[kept - 1].addr == funcs[i].addr) {
            if (funcs[i].size > funcs[kept - 1].size) funcs[kept - 1].size = funcs[i].size;
            continue;
        }
        funcs[kept++] = funcs[i];
    }
    struct func_symbol *shrunk = realloc(funcs, kept * sizeof *funcs);
    obj->symbols = shrunk ? shrunk : funcs;
    obj->nsymbols = kept;
    obj->strings = strings;
    return true;
}

static bool object_take_debug_file_symbols(struct elf_object *obj)
{
    size_t id_len = strlen(obj->build_id);
    if (id_len < 3) return false;
    char path[sizeof DEBUG_BUILD_ID_DIR + 2 * CONAN_BUILD_ID_MAX_BYTES + 16];
    snprintf(path, sizeof path, "%s/%.2s/%s.debug", DEBUG_BUILD_ID_DIR, obj->build_id,
             obj->build_id + 2);
    struct conan_elf_image img;
    if (!conan_elf_open_file(&img, path)) return false;
    bool ok = object_take_symbols(obj, &img, SHT_SYMTAB);
    conan_elf_close(&img);
    return ok;
}

static void object_load_symbols(struct elf_object *obj)
{
    obj->symbols_loaded = true;
    struct conan_elf_image img;
    if (obj->is_vdso) {
        if (!obj->vdso_base || !conan_elf_open_memory(&img, obj->vdso_base, obj->vdso_size)) return;
        if (!object_take_symbols(obj, &img, SHT_SYMTAB))
            object_take_symbols(obj, &img, SHT_DYNSYM);
        conan_elf_close(&img);
        return;
    }
    bool have_image = obj->open_path && conan_elf_open_file(&img, obj->open_path);
    if (have_image && object_take_symbols(obj, &img, SHT_SYMTAB)) {
        conan_elf_close(&img);
        return;
    }
    if (!object_take_debug_file_symbols(obj) && have_image)
        object_take_symbols(obj, &img, SHT_DYNSYM);
    if (have_image) conan_elf_close(&img);
}

/* The symbol containing vaddr, or NULL. */
static const struct func_symbol *object_find_symbol(const struct elf_object *obj, uintptr_t vaddr)
{
    size_t low = 0, high = obj->nsymbols;   /* first symbol above vaddr is in [low, high] */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (obj->symbols[mid].addr <= vaddr)
            low = mid + 1;
        else
            high = mid;
    }
    if (low == 0) return NULL;
    const struct func_symbol *sym = &obj->symbols[low - 1];
    if (sym->size > 0 && vaddr - sym->addr >= sym->size) return NULL;
    return sym;
}

/* The name without its symbol version, demangled when it can be. */
static const char *object_display_name(struct conan_symbols *s, struct elf_object *obj,
                                       const struct func_symbol *sym)
{
    const char *raw = sym->system_name;
    bool mangled = s->demangle && raw[0] == '_' && raw[1] == 'Z';
    if (!mangled && sym->version_at == 0) return raw;
    if (!obj->names) {
        obj->names = counted_calloc(obj->nsymbols, sizeof *obj->names);
        if (!obj->names) return raw;
    }
    size_t index = (size_t)(sym - obj->symbols);
    if (obj->names[index]) return obj->names[index];

    char *unversioned = sym->version_at ? counted_strndup(raw, sym->version_at) : NULL;
    char *display = unversioned;
    if (mangled) {
        int status = -1;
        char *demangled = s->demangle(unversioned ? unversioned : raw, NULL, NULL, &status);
        if (status == -1) alloc_failures++; /* -1: out of memory */
        if (demangled && status == 0) {
            free(unversioned);
            display = demangled;
        } else {
            free(demangled);
        }
    }
    obj->names[index] = display ? display : raw;
    return obj->names[index];
}

/* ------------------------------------------------------------ snapshot */

static bool add_mapping(struct conan_symbols *s, size_t *capacity, uintptr_t start,
                        uintptr_t limit, uintptr_t offset, const char *path)
{
    if (s->nmappings == *capacity) {
        size_t grown = *capacity ? 2 * *capacity : 64;
        struct conan_mapping *mappings = counted_realloc(s->mappings, grown * sizeof *mappings);
        if (!mappings) return false;
        s->mappings = mappings;
        struct elf_object **objects = counted_realloc(s->mapping_objects, grown * sizeof *objects);
        if (!objects) return false;
        s->mapping_objects = objects;
        *capacity = grown;
    }
    struct conan_mapping *m = &s->mappings[s->nmappings];
    memset(m, 0, sizeof *m);
    m->start = start;
    m->limit = limit;
    m->offset = offset;
    snprintf(m->path, sizeof m->path, "%s", path);
    s->mapping_objects[s->nmappings] = NULL;
    s->nmappings++;
    return true;
}

static int compare_mappings(const void *a, const void *b)
{
    const struct conan_mapping *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

struct mappings_build {
    struct conan_symbols *s;
    size_t capacity;
    bool ok;
};

static bool add_executable_mapping(const struct conan_maps_entry *m, void *arg)
{
    struct mappings_build *b = arg;
    if (m->perms[2] != 'x' || m->end <= m->start || strcmp(m->path, VSYSCALL_NAME) == 0) return true;
    b->ok = add_mapping(b->s, &b->capacity, m->start, m->end, m->offset, m->path);
    return b->ok;
}

static bool read_executable_mappings(struct conan_symbols *s)
{
    struct mappings_build b = { .s = s, .ok = true };
    int rc = conan_for_each_mapping(add_executable_mapping, &b);
    if (rc < 0) return false;
    bool ok = b.ok;
    if (ok && rc == ENOMEM) alloc_failures++; /* a line could not be read: mappings are missing */
    /* The kernel lists mappings in address order; lookups rely on it. */
    for (size_t i = 1; ok && i < s->nmappings; i++) {
        if (s->mappings[i].start < s->mappings[i - 1].start) {
            qsort(s->mappings, s->nmappings, sizeof *s->mappings, compare_mappings);
            break;
        }
    }
    return ok;
}

static struct elf_object *find_or_add_object(struct conan_symbols *s, const struct conan_mapping *m)
{
    /* Files and the vdso only: not anonymous memory, not [stack] or the like. */
    if (m->path[0] != '/' && strcmp(m->path, VDSO_NAME) != 0) return NULL;
    uint64_t hash = path_hash_of(m->path);
    for (size_t i = s->nobjects; i-- > 0;)
        if (s->objects[i]->path_hash == hash && strcmp(s->objects[i]->path, m->path) == 0)
            return s->objects[i];
    if (s->nobjects == s->objects_capacity) {
        size_t grown = s->objects_capacity ? 2 * s->objects_capacity : 32;
        struct elf_object **objects = counted_realloc(s->objects, grown * sizeof *objects);
        if (!objects) return NULL;
        s->objects = objects;
        s->objects_capacity = grown;
    }
    struct elf_object *obj = object_new(m, m->path);
    if (obj) s->objects[s->nobjects++] = obj;
    return obj;
}

struct conan_symbols *conan_symbols_open(void)
{
    unsigned failures_before = failures_now();
    struct conan_symbols *s = counted_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->failures_at_open = failures_before;
    if (!read_executable_mappings(s)) {
        conan_symbols_close(s);
        return NULL;
    }
    for (size_t i = 0; i < s->nmappings; i++) {
        struct conan_mapping *m = &s->mappings[i];
        struct elf_object *obj = find_or_add_object(s, m);
        s->mapping_objects[i] = obj;
        if (obj) memcpy(m->build_id, obj->build_id, sizeof m->build_id);
    }
    s->demangle = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
    if (!s->demangle) { /* no C++ runtime loaded: free the error dlsym kept now, not at the next dl call */
        dlerror();
        dlerror();
    }
    return s;
}

size_t conan_symbols_mapping_count(const struct conan_symbols *s)
{
    return s ? s->nmappings : 0;
}

const struct conan_mapping *conan_symbols_mapping(const struct conan_symbols *s, size_t i)
{
    return s && i < s->nmappings ? &s->mappings[i] : NULL;
}

long conan_symbols_find_mapping(const struct conan_symbols *s, uintptr_t pc)
{
    if (!s) return -1;
    size_t low = 0, high = s->nmappings;   /* first mapping starting above pc */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (s->mappings[mid].start <= pc)
            low = mid + 1;
        else
            high = mid;
    }
    if (low == 0 || pc >= s->mappings[low - 1].limit) return -1;
    return (long)(low - 1);
}

bool conan_symbols_lookup(struct conan_symbols *s, uintptr_t pc, const char **name,
                          const char **system_name)
{
    if (name) *name = NULL;
    if (system_name) *system_name = NULL;
    if (!s || s->nmappings == 0) return false;

    size_t index = s->last_mapping;
    if (index >= s->nmappings || pc < s->mappings[index].start || pc >= s->mappings[index].limit) {
        long found = conan_symbols_find_mapping(s, pc);
        if (found < 0) return false;
        index = (size_t)found;
        s->last_mapping = index;
    }
    struct elf_object *obj = s->mapping_objects[index];
    uintptr_t vaddr;
    if (!obj || !object_vaddr_of(obj, &s->mappings[index], pc, &vaddr)) return false;
    if (!obj->symbols_loaded) object_load_symbols(obj);

    const struct func_symbol *sym = object_find_symbol(obj, vaddr);
    if (!sym) return false;
    if (system_name) *system_name = sym->system_name;
    if (name) *name = object_display_name(s, obj, sym);
    return true;
}

void conan_symbols_close(struct conan_symbols *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nobjects; i++) object_free(s->objects[i]);
    free(s->objects);
    free(s->mapping_objects);
    free(s->mappings);
    free(s);
}

bool conan_symbols_complete(const struct conan_symbols *s)
{
    return s && failures_now() == s->failures_at_open;
}
