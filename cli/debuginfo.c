/* debuginfo.c — finds a mapping's object and debug file by build ID and turns
 * addresses into frames with elfutils (libdwfl for symbols and line tables,
 * libdw for the scopes that hold inlined frames).
 *
 * Files. A debug file is looked up by the mapping's build ID in the given
 * directories (DIR/.build-id/xx/yyyy.debug, DIR/xx/yyyy.debug) and then in
 * /usr/lib/debug/.build-id; the object at the mapping's path is used only
 * when its own build ID is the mapping's, so a rebuilt or upgraded binary
 * never names another build's addresses. With both, the object is the
 * module's main file (its program headers and .dynsym) and the debug file
 * comes through libdwfl's find_debuginfo callback; with the object alone,
 * libdwfl's standard search follows its .gnu_debuglink (checked by CRC or
 * build ID). With the debug file alone, it is the main file.
 *
 * Addresses. A profile's address is absolute in the process; the module is
 * reported at its ELF virtual addresses (bias 0), so an address becomes one
 * as pprof computes it: its file offset (address - memory_start +
 * file_offset), then the PT_LOAD segment holding that offset (+ p_vaddr -
 * p_offset). A debug file made by objcopy --only-keep-debug keeps p_vaddr but
 * not the object's p_offset; with no object, the mapping is taken to be the
 * executable segment's (as the engine writes them): it starts at that
 * segment's first page.
 *
 * Names are given only when they are certain: a DWARF subprogram whose
 * ranges hold the address, or a function symbol with a size that holds it
 * (never the nearest symbol below, which in a stripped binary is some other
 * exported function). Inlined frames come from the chain of
 * DW_TAG_inlined_subroutine scopes, each frame's line being the call site
 * recorded in the scope inside it, as eu-addr2line -i prints them. */
#include "debuginfo.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUILD_ID_HEX_MAX 128      /* 64 bytes: longer than any linker writes */
#define SYSTEM_DEBUG_DIR "/usr/lib/debug"
#define ASSUMED_PAGE 4096u

struct debuginfo {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    Dwfl_Callbacks callbacks;
    char *search_path;        /* libdwfl's debuglink search path */
    char *debug_file;         /* found by build ID; NULL: left to the debuglink search */
    char *source;             /* where names come from, for the report */
    bool main_is_debug;       /* the main file is the debug file: p_offset is not the object's */
    bool dwarf;
    GElf_Phdr *load;          /* the main file's PT_LOAD headers */
    size_t nload;
    struct joined_path {      /* source files made absolute, by libdw's strings */
        const char *file, *dir;
        char *path;
    } *paths;
    size_t npath, path_cap;
};

/* ---- files and build IDs ---- */

static bool valid_build_id(const char *id)
{
    size_t n = strlen(id);
    if (n < 8 || n > BUILD_ID_HEX_MAX || n % 2) return false;
    return strspn(id, "0123456789abcdefABCDEF") == n;
}

/* A regular file opened for reading (never a FIFO or device a hostile
 * profile names), or -1. */
static int open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The GNU build ID of an open ELF file, lowercase hex; false if none. */
static bool build_id_of_fd(int fd, char out[BUILD_ID_HEX_MAX + 1])
{
    out[0] = '\0';
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf) return false;
    const void *bits = NULL;
    ssize_t len = dwelf_elf_gnu_build_id(elf, &bits);
    bool ok = len > 0 && (size_t)len * 2 <= BUILD_ID_HEX_MAX;
    for (ssize_t i = 0; ok && i < len; i++) sprintf(out + 2 * i, "%02x", ((const unsigned char *)bits)[i]);
    elf_end(elf);
    return ok;
}

/* The file at path opened when it is an ELF file with build ID want; else -1
 * with *got its build ID ("" when it has none or cannot be read). */
static int open_with_build_id(const char *path, const char *want, char got[BUILD_ID_HEX_MAX + 1])
{
    got[0] = '\0';
    int fd = open_regular(path);
    if (fd < 0) return -1;
    if (build_id_of_fd(fd, got) && strcasecmp(got, want) == 0) return fd;
    close(fd);
    return -1;
}

/* The first debug file with the build ID, malloc'd path, or NULL. */
static char *find_debug_file(const char *build_id, const struct debuginfo_dirs *dirs)
{
    static const char *const layouts[] = { "%s/.build-id/%.2s/%s.debug", "%s/%.2s/%s.debug" };
    char path[4096], got[BUILD_ID_HEX_MAX + 1];
    for (size_t i = 0; i <= dirs->ndir; i++) {
        const char *dir = i < dirs->ndir ? dirs->dir[i] : SYSTEM_DEBUG_DIR;
        for (size_t k = 0; k < (i < dirs->ndir ? 2u : 1u); k++) {
            if (snprintf(path, sizeof path, layouts[k], dir, build_id, build_id + 2) >= (int)sizeof path) continue;
            int fd = open_with_build_id(path, build_id, got);
            if (fd < 0) continue;
            close(fd);
            return strdup(path);
        }
    }
    return NULL;
}

/* ---- the libdwfl module ---- */

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                          char **debuginfo_file_name)
{
    struct debuginfo *d = *userdata;
    if (d && d->debug_file && !d->main_is_debug) {
        int fd = open_regular(d->debug_file);
        if (fd >= 0) *debuginfo_file_name = strdup(d->debug_file);
        return fd;
    }
    return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
                                        debuginfo_file_name);
}

static bool read_loads(struct debuginfo *d)
{
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(d->mod, &bias);
    size_t phnum;
    if (!elf || elf_getphdrnum(elf, &phnum) != 0) return false;
    d->load = calloc(phnum ? phnum : 1, sizeof *d->load);
    if (!d->load) return false;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) d->load[d->nload++] = ph;
    }
    return true;
}

static bool elf_has_symtab(Elf *elf)
{
    for (Elf_Scn *scn = elf ? elf_nextscn(elf, NULL) : NULL; scn; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB) return true;
    }
    return false;
}

/* What the module can name, once libdwfl has looked for its debug info. */
static enum debuginfo_found module_found(struct debuginfo *d)
{
    Dwarf_Addr bias;
    d->dwarf = dwfl_module_getdwarf(d->mod, &bias) != NULL;
    const char *mainfile = NULL, *debugfile = NULL;
    dwfl_module_info(d->mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
    if (!d->debug_file && debugfile && mainfile && strcmp(debugfile, mainfile) != 0) d->debug_file = strdup(debugfile);
    if (d->dwarf) return DEBUGINFO_DWARF;
    GElf_Addr elf_bias;
    if (d->debug_file || elf_has_symtab(dwfl_module_getelf(d->mod, &elf_bias))) return DEBUGINFO_SYMBOLS;
    return DEBUGINFO_NOTHING;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Reports main (fd consumed) as the module, at its ELF addresses. */
static bool report_module(struct debuginfo *d, const char *main_path, int fd, const struct debuginfo_dirs *dirs)
{
    size_t len = strlen(":.debug:" SYSTEM_DEBUG_DIR) + 1;
    for (size_t i = 0; i < dirs->ndir; i++) len += strlen(dirs->dir[i]) + 1;
    d->search_path = malloc(len);
    if (!d->search_path) {
        close(fd);
        return false;
    }
    strcpy(d->search_path, ":.debug:" SYSTEM_DEBUG_DIR);
    for (size_t i = 0; i < dirs->ndir; i++) strcat(strcat(d->search_path, ":"), dirs->dir[i]);
    d->callbacks.find_elf = dwfl_build_id_find_elf;
    d->callbacks.find_debuginfo = find_debuginfo;
    d->callbacks.section_address = dwfl_offline_section_address;
    d->callbacks.debuginfo_path = &d->search_path;
    d->dwfl = dwfl_begin(&d->callbacks);
    if (!d->dwfl) {
        close(fd);
        return false;
    }
    dwfl_report_begin(d->dwfl);
    d->mod = dwfl_report_elf(d->dwfl, base_name(main_path), main_path, fd, 0, true);
    if (!d->mod) close(fd);
    if (dwfl_report_end(d->dwfl, NULL, NULL) != 0 || !d->mod) return false;
    void **userdata;
    dwfl_module_info(d->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
    *userdata = d;
    return read_loads(d);
}

struct debuginfo *debuginfo_open(const char *path, const char *build_id, const struct debuginfo_dirs *dirs,
                                 enum debuginfo_found *found, char *note, size_t notelen)
{
    *found = DEBUGINFO_NO_FILE;
    note[0] = '\0';
    if (elf_version(EV_CURRENT) == EV_NONE) {
        snprintf(note, notelen, "%s: libelf does not work here (elf_version)", path);
        return NULL;
    }
    if (!build_id[0]) {
        snprintf(note, notelen, "%s: the profile gives no build ID, so no file can be proved to be its own", path);
        return NULL;
    }
    if (!valid_build_id(build_id)) {
        snprintf(note, notelen, "%s: build ID \"%.*s\" is not hex: not looked up", path, 64, build_id);
        return NULL;
    }
    struct debuginfo *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->debug_file = find_debug_file(build_id, dirs);
    char got[BUILD_ID_HEX_MAX + 1] = "";
    int fd = path[0] == '/' ? open_with_build_id(path, build_id, got) : -1;
    if (fd < 0 && got[0])
        snprintf(note, notelen, "%s on disk has build ID %s, not the profile's %s: not used", path, got, build_id);
    else if (fd < 0 && !d->debug_file && path[0] != '/')
        snprintf(note, notelen, "%s (build ID %s): not a file (the kernel's, or anonymous), and no debug file with "
                 "that build ID", path, build_id);
    else if (fd < 0 && !d->debug_file)
        snprintf(note, notelen, "%s (build ID %s): no file with that build ID, at its path or in a debug directory",
                 path, build_id);
    const char *main_path = path;
    if (fd < 0 && d->debug_file) {
        main_path = d->debug_file;
        d->main_is_debug = true;
        fd = open_regular(main_path);
    }
    if (fd < 0 || !report_module(d, main_path, fd, dirs)) {
        debuginfo_close(d);
        return NULL;
    }
    *found = module_found(d);
    d->source = strdup(d->debug_file ? d->debug_file : path);
    if (!d->source) {
        debuginfo_close(d);
        return NULL;
    }
    return d;
}

void debuginfo_close(struct debuginfo *d)
{
    if (!d) return;
    if (d->dwfl) dwfl_end(d->dwfl);
    free(d->search_path);
    free(d->debug_file);
    free(d->source);
    free(d->load);
    for (size_t i = 0; i < d->npath; i++) free(d->paths[i].path);
    free(d->paths);
    free(d);
}

const char *debuginfo_source(const struct debuginfo *d) { return d->source; }
bool debuginfo_has_dwarf(const struct debuginfo *d) { return d->dwarf; }

/* ---- addresses ---- */

static bool to_vaddr(const struct debuginfo *d, uint64_t address, uint64_t start, uint64_t file_offset,
                     uint64_t *vaddr)
{
    if (address < start) return false;
    uint64_t offset = address - start + file_offset;
    if (!d->main_is_debug) {
        for (size_t i = 0; i < d->nload; i++) {
            const GElf_Phdr *ph = &d->load[i];
            if (offset >= ph->p_offset && offset - ph->p_offset < ph->p_filesz) {
                *vaddr = offset - ph->p_offset + ph->p_vaddr;
                return true;
            }
        }
        return false;
    }
    const GElf_Phdr *text = NULL;
    for (size_t i = 0; i < d->nload; i++) {
        if (!(d->load[i].p_flags & PF_X)) continue;
        if (text) return false; /* several executable segments: which one is unknown */
        text = &d->load[i];
    }
    if (!text) return false;
    *vaddr = address - start + (text->p_vaddr & ~(uint64_t)(ASSUMED_PAGE - 1));
    return *vaddr >= text->p_vaddr && *vaddr - text->p_vaddr < text->p_memsz;
}

/* ---- source files ---- */

/* Drops "." and resolves ".." in an absolute path, in place. */
static void normalize(char *path)
{
    char *out = path, *in = path;
    while (*in) {
        while (*in == '/') in++;
        char *end = in + strcspn(in, "/");
        size_t n = (size_t)(end - in);
        if (n == 1 && in[0] == '.') {
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > path && *--out != '/') {
            }
        } else if (n > 0) {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in = end;
    }
    if (out == path) *out++ = '/';
    *out = '\0';
}

/* file as the line table names it, made absolute with the compilation
 * directory when it is relative (as a reader of the profile needs it);
 * kept until close. NULL stays NULL. */
static const char *absolute_file(struct debuginfo *d, const char *file, Dwarf_Die *cu)
{
    Dwarf_Attribute attr;
    const char *dir = cu ? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)) : NULL;
    if (!file || file[0] == '/' || !file[0] || !dir || dir[0] != '/') return file;
    for (size_t i = 0; i < d->npath; i++)
        if (d->paths[i].file == file && d->paths[i].dir == dir) return d->paths[i].path;
    if (d->npath == d->path_cap) {
        size_t cap = d->path_cap ? d->path_cap * 2 : 16;
        struct joined_path *grown = realloc(d->paths, cap * sizeof *grown);
        if (!grown) return file;
        d->paths = grown;
        d->path_cap = cap;
    }
    char *path = malloc(strlen(dir) + strlen(file) + 2);
    if (!path) return file;
    sprintf(path, "%s/%s", dir, file);
    normalize(path);
    d->paths[d->npath++] = (struct joined_path){ file, dir, path };
    return path;
}

/* ---- frames ---- */

/* The function symbol with a size that holds vaddr, or NULL. */
static const char *symbol_at(struct debuginfo *d, uint64_t vaddr)
{
    GElf_Off offset;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(d->mod, vaddr, &offset, &sym, NULL, NULL, NULL);
    if (!name || !name[0] || sym.st_size == 0 || offset >= sym.st_size) return NULL;
    int type = GELF_ST_TYPE(sym.st_info);
    return type == STT_FUNC || type == STT_GNU_IFUNC ? name : NULL;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!name) name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (!name) name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    return name && name[0] ? name : NULL;
}

static int64_t die_udata(Dwarf_Die *die, int name)
{
    Dwarf_Attribute attr;
    Dwarf_Word value;
    if (dwarf_formudata(dwarf_attr(die, name, &attr), &value) != 0 || value > INT64_MAX) return 0;
    return (int64_t)value;
}

struct position {
    const char *file;
    int64_t line, column;
};

static void add_frame(struct debuginfo *d, struct debuginfo_frame *f, const char *symbol, Dwarf_Die *die,
                      const struct position *at)
{
    int line = 0;
    f->symbol = symbol;
    f->file = at->file ? at->file : "";
    f->line = at->line;
    f->column = at->column;
    f->start_line = die && dwarf_decl_line(die, &line) == 0 && line > 0 ? line : 0;
    Dwarf_Die cu;
    if (!f->file[0] && die && dwarf_diecu(die, &cu, NULL, NULL)) {
        const char *decl = absolute_file(d, dwarf_decl_file(die), &cu);
        f->file = decl ? decl : "";
    }
}

/* Frames from the DWARF scopes that hold vaddr: inlined subroutines up to
 * the subprogram, which is named by its symbol when one holds vaddr. */
static int dwarf_frames(struct debuginfo *d, uint64_t vaddr, struct position at, struct debuginfo_frame *frame,
                        int max)
{
    Dwarf_Addr bias = 0;
    Dwarf_Die *cudie = dwfl_module_addrdie(d->mod, vaddr, &bias), *scopes = NULL, *chain = NULL;
    if (!cudie) return 0;
    int nscopes = dwarf_getscopes(cudie, vaddr - bias, &scopes);
    if (nscopes <= 0) {
        free(scopes);
        return 0;
    }
    Dwarf_Die inner = scopes[0];
    free(scopes);
    int nchain = dwarf_getscopes_die(&inner, &chain);
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = NULL;
    int n = 0;
    bool complete = false;
    for (int i = 0; i < nchain && n < max && !complete; i++) {
        Dwarf_Die *die = &chain[i];
        int tag = dwarf_tag(die);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
            const char *name = symbol_at(d, vaddr);
            if (!name) name = die_name(die);
            if (name) add_frame(d, &frame[n++], name, die, &at);
            complete = name != NULL;
        } else if (tag == DW_TAG_inlined_subroutine) {
            const char *name = die_name(die);
            if (name) add_frame(d, &frame[n++], name, die, &at);
            Dwarf_Word call_file = (Dwarf_Word)die_udata(die, DW_AT_call_file);
            bool has_file = files && dwarf_hasattr(die, DW_AT_call_file) && call_file < nfiles;
            at.file = has_file ? dwarf_filesrc(files, call_file, NULL, NULL) : NULL;
            at.file = absolute_file(d, at.file, cudie);
            at.line = die_udata(die, DW_AT_call_line);
            at.column = die_udata(die, DW_AT_call_column);
        }
    }
    free(chain);
    return complete ? n : 0; /* no subprogram at the end: not certain */
}

int debuginfo_frames(struct debuginfo *d, uint64_t address, uint64_t memory_start, uint64_t file_offset,
                     struct debuginfo_frame *frame, int max)
{
    uint64_t vaddr;
    if (max <= 0 || !to_vaddr(d, address, memory_start, file_offset, &vaddr)) return 0;
    struct position at = { NULL, 0, 0 };
    Dwfl_Line *line = dwfl_module_getsrc(d->mod, vaddr);
    if (line) {
        int lineno = 0, column = 0;
        at.file = absolute_file(d, dwfl_lineinfo(line, NULL, &lineno, &column, NULL, NULL), dwfl_linecu(line));
        at.line = lineno > 0 ? lineno : 0;
        at.column = column > 0 ? column : 0;
    }
    int n = d->dwarf ? dwarf_frames(d, vaddr, at, frame, max) : 0;
    if (n > 0) return n;
    const char *name = symbol_at(d, vaddr);
    if (!name) return 0;
    add_frame(d, &frame[0], name, NULL, &at);
    return 1;
}
