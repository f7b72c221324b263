/* test_symbols.c — symbols.c against the test process itself: a static and an
 * exported function of this binary, libc, the vdso, build IDs (checked against
 * readelf), addresses in no mapping, and files that are not ELF, truncated,
 * corrupt or deleted. Prints the cost of a snapshot and of a lookup. */
#include "check.h"
#include "internal.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef CORRUPT_ROUNDS
#define CORRUPT_ROUNDS 150   /* -DCORRUPT_ROUNDS=5000 for a longer run */
#endif

static volatile int sink;

int main(void);

static __attribute__((noinline)) int conan_test_static_square_sum(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) total += i * i + sink;
    return total;
}

__attribute__((noinline)) int conan_test_exported_cube_sum(int n)
{
    int total = 0;
    for (int i = 0; i < n; i++) total += i * i * i + sink;
    return total;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A GNU build ID in lowercase hex: 40 chars from GNU ld's sha1 (the Debian
 * default), 16 from lld's default, 32 from md5/uuid styles. */
static bool is_build_id(const char *s)
{
    size_t len = strlen(s);
    if (len < 16 || len > 64 || len % 2 != 0) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
    return true;
}

static const char *name_at(struct conan_symbols *s, uintptr_t pc)
{
    const char *name = NULL, *system_name = NULL;
    if (!conan_symbols_lookup(s, pc, &name, &system_name)) return NULL;
    CHECK(system_name != NULL);
    return name;
}

/* The whole of /proc/self/exe in memory. */
static unsigned char *read_self(size_t *size)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size))) {
        size_t got = 0;
        while (got < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        *size = got;
    }
    close(fd);
    return buf;
}

static bool write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    bool ok = write(fd, data, len) == (ssize_t)len;
    return close(fd) == 0 && ok;
}

static void test_own_functions(struct conan_symbols *s)
{
    uintptr_t static_pc = (uintptr_t)&conan_test_static_square_sum;
    uintptr_t exported_pc = (uintptr_t)&conan_test_exported_cube_sum;

    CHECK_STR(name_at(s, static_pc), "conan_test_static_square_sum");
    CHECK_STR(name_at(s, static_pc + 5), "conan_test_static_square_sum");
    CHECK_STR(name_at(s, exported_pc), "conan_test_exported_cube_sum");
    CHECK_STR(name_at(s, exported_pc + 3), "conan_test_exported_cube_sum");
    CHECK_STR(name_at(s, (uintptr_t)&main), "main");

    char exe[PATH_MAX];
    CHECK(conan_self_exe(exe, sizeof exe));
    long i = conan_symbols_find_mapping(s, static_pc);
    CHECK(i >= 0);
    if (i < 0) return;
    const struct conan_mapping *m = conan_symbols_mapping(s, (size_t)i);
    CHECK_STR(m->path, exe);
    CHECK(m->start <= static_pc && static_pc < m->limit);
    CHECK_INT(conan_symbols_find_mapping(s, exported_pc), i);

    /* (e) the build ID: from the file, from the snapshot, and from readelf. */
    char file_id[65];
    CHECK_INT(conan_build_id_of_file("/proc/self/exe", file_id), 0);
    CHECK(is_build_id(file_id));
    CHECK_STR(m->build_id, file_id);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "readelf -n '%s' 2>/dev/null", exe);
    FILE *readelf = strchr(exe, '\'') ? NULL : popen(cmd, "r");
    if (readelf) {
        char line[512], readelf_id[129] = "";
        while (fgets(line, sizeof line, readelf)) {
            const char *at = strstr(line, "Build ID: ");
            if (at) sscanf(at + strlen("Build ID: "), "%128s", readelf_id);
        }
        if (pclose(readelf) == 0 && readelf_id[0])
            CHECK_STR(file_id, readelf_id);
        else
            fprintf(stderr, "test_symbols: readelf unavailable, build ID not cross-checked\n");
    }
}

static void test_libc(struct conan_symbols *s)
{
    uintptr_t qsort_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "qsort");
    uintptr_t getpid_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
    CHECK(qsort_pc != 0 && getpid_pc != 0);

    const char *name = name_at(s, qsort_pc);
    CHECK(name && strstr(name, "qsort"));
    name = name_at(s, getpid_pc);
    CHECK(name && strstr(name, "getpid"));

    /* (getpid rather than qsort: sanitizers interpose qsort.) */
    long i = conan_symbols_find_mapping(s, getpid_pc);
    CHECK(i >= 0);
    if (i < 0) return;
    const struct conan_mapping *m = conan_symbols_mapping(s, (size_t)i);
    CHECK(ends_with(m->path, "libc.so.6"));
    CHECK(is_build_id(m->build_id));
    char file_id[65];
    CHECK_INT(conan_build_id_of_file(m->path, file_id), 0);
    CHECK_STR(m->build_id, file_id);
}

static void test_vdso(struct conan_symbols *s)
{
    if (getauxval(AT_SYSINFO_EHDR) == 0) {
        fprintf(stderr, "test_symbols: no vdso (valgrind?), not checked\n");
        return;
    }
    size_t n = conan_symbols_mapping_count(s);
    long vdso = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(conan_symbols_mapping(s, i)->path, "[vdso]") == 0) vdso = (long)i;
    CHECK(vdso >= 0);
    void *handle = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    uintptr_t pc = handle ? (uintptr_t)dlsym(handle, "__vdso_clock_gettime") : 0;
    if (!pc) {
        fprintf(stderr, "test_symbols: vdso not reachable through dlopen, lookup not checked\n");
        return;
    }
    CHECK_INT(conan_symbols_find_mapping(s, pc), vdso);
    const char *name = name_at(s, pc);
    CHECK(name && strstr(name, "clock_gettime"));
}

static void test_nowhere(struct conan_symbols *s)
{
    const char *name = "unset", *system_name = "unset";
    CHECK_INT(conan_symbols_find_mapping(s, 0x10), -1);
    CHECK(!conan_symbols_lookup(s, 0x10, &name, &system_name));
    CHECK(name == NULL && system_name == NULL);
    CHECK(!conan_symbols_lookup(s, UINTPTR_MAX - 1, &name, &system_name));
    CHECK(conan_symbols_mapping(s, conan_symbols_mapping_count(s)) == NULL);

    /* Heap and stack are not executable: no mapping either. */
    int on_stack = 0;
    CHECK_INT(conan_symbols_find_mapping(s, (uintptr_t)&on_stack), -1);
}

/* A PLT stub follows .init, whose _init symbol has no size: it must not be
 * named _init (nor anything else in this binary's symbol table). */
static void test_plt_not_init(struct conan_symbols *s, const unsigned char *self, size_t self_size)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)self;
    if (eh->e_shoff == 0 || eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > self_size) return;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(self + eh->e_shoff);
    const char *names = (const char *)self + sh[eh->e_shstrndx].sh_offset;
    Dl_info info;
    CHECK(dladdr((void *)main, &info) != 0);
    uintptr_t base = (uintptr_t)info.dli_fbase;
    int checked = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (strcmp(names + sh[i].sh_name, ".plt") != 0 || sh[i].sh_size < 32) continue;
        const char *name = name_at(s, base + sh[i].sh_addr + 16); /* the first stub */
        if (name) fprintf(stderr, "a .plt stub is named %s\n", name);
        CHECK(name == NULL);
        checked++;
    }
    CHECK(checked == 1);
}

static void test_bad_files(const unsigned char *self, size_t self_size)
{
    char id[65];
    CHECK_INT(conan_build_id_of_file("/etc/passwd", id), -1);
    CHECK_STR(id, "");
    CHECK_INT(conan_build_id_of_file("/nonexistent/conan/file", id), -1);
    CHECK_INT(conan_build_id_of_file("/proc/self", id), -1);
    CHECK_INT(conan_build_id_of_file("/dev/null", id), -1);

    char path[] = "/tmp/conan_test_symbols_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    CHECK(write_file(path, self, 100));
    CHECK_INT(conan_build_id_of_file(path, id), -1);

    /* Every cut of the headers and a few of the rest must fail cleanly or work. */
    for (size_t cut = 0; cut < 4096 && cut < self_size; cut += 7) {
        CHECK(write_file(path, self, cut));
        int rc = conan_build_id_of_file(path, id);
        CHECK(rc == -1 || is_build_id(id));
    }
    size_t cuts[] = {self_size / 2, self_size - 64, self_size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK(write_file(path, self, cuts[i]));
        int rc = conan_build_id_of_file(path, id);
        CHECK(rc == -1 || is_build_id(id));
    }
    unlink(path);
}

/* Maps a file executable the way a JIT or plugin loader might, so that the
 * snapshot must parse it; returns the mapping or NULL if /tmp is noexec. */
static void *map_executable(const char *path, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    void *at = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    return at == MAP_FAILED ? NULL : at;
}

/* The static function's offset in the file, from the real mapping. */
static size_t static_function_file_offset(struct conan_symbols *s)
{
    uintptr_t pc = (uintptr_t)&conan_test_static_square_sum;
    long i = conan_symbols_find_mapping(s, pc);
    if (i < 0) return 0;
    const struct conan_mapping *m = conan_symbols_mapping(s, (size_t)i);
    return pc - m->start + m->offset;
}

/* A copy of this binary mapped whole at offset 0 and then deleted: its symbols
 * are still found (through /proc/self/map_files when permitted). Then copies
 * with corrupt bytes in their headers: nothing may crash. */
static void test_mapped_copies(const unsigned char *self, size_t self_size)
{
    struct conan_symbols *s = conan_symbols_open();
    size_t fn_offset = s ? static_function_file_offset(s) : 0;
    conan_symbols_close(s);
    CHECK(fn_offset != 0);

    char path[] = "/tmp/conan_test_symbols_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    CHECK(write_file(path, self, self_size));
    unsigned char *copy = map_executable(path, self_size);
    unlink(path);
    if (!copy) {
        fprintf(stderr, "test_symbols: /tmp is not executable, mapped copies not checked\n");
        return;
    }
    s = conan_symbols_open();
    CHECK(s != NULL);
    long i = conan_symbols_find_mapping(s, (uintptr_t)copy + fn_offset);
    CHECK(i >= 0);
    if (i >= 0) {
        const struct conan_mapping *m = conan_symbols_mapping(s, (size_t)i);
        CHECK(ends_with(m->path, " (deleted)"));
        char self_id[65];
        CHECK_INT(conan_build_id_of_file("/proc/self/exe", self_id), 0);
        char map_file[64];
        snprintf(map_file, sizeof map_file, "/proc/self/map_files/%lx-%lx",
                 (unsigned long)m->start, (unsigned long)m->limit);
        if (access(map_file, R_OK) == 0) {
            CHECK_STR(m->build_id, self_id);
            CHECK_STR(name_at(s, (uintptr_t)copy + fn_offset), "conan_test_static_square_sum");
            CHECK_STR(name_at(s, (uintptr_t)copy + fn_offset + 5), "conan_test_static_square_sum");
        } else {
            fprintf(stderr, "test_symbols: no access to map_files, deleted copy not resolved\n");
        }
    }
    conan_symbols_close(s);
    munmap(copy, self_size);

    /* A text file mapped executable is no ELF: no name, no crash. */
    struct stat st;
    if (stat("/etc/passwd", &st) == 0 && st.st_size > 0) {
        unsigned char *text = map_executable("/etc/passwd", (size_t)st.st_size);
        if (text) {
            s = conan_symbols_open();
            CHECK(conan_symbols_find_mapping(s, (uintptr_t)text) >= 0);
            CHECK(name_at(s, (uintptr_t)text + 1) == NULL);
            conan_symbols_close(s);
            munmap(text, (size_t)st.st_size);
        }
    }

    /* Corrupt copies: random bytes in the ELF header, program headers, section
     * headers, notes and anywhere else (symbol tables); then open, look up
     * across the mapping, close. */
    unsigned char *bad = malloc(self_size);
    CHECK(bad != NULL);
    if (!bad) return;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)self;
    size_t shdrs_at = eh->e_shoff < self_size ? (size_t)eh->e_shoff : 0;
    size_t shdrs_len = self_size - shdrs_at;
    srand(12345);
    int rounds = CORRUPT_ROUNDS, resolved = 0;
    for (int round = 0; round < rounds; round++) {
        memcpy(bad, self, self_size);
        int flips = 1 + rand() % 8;
        for (int k = 0; k < flips; k++) {
            int region = rand() % 3;
            size_t at = region == 0   ? (size_t)rand() % (4096 < self_size ? 4096 : self_size)
                        : region == 1 ? shdrs_at + (size_t)rand() % shdrs_len
                                      : (size_t)rand() % self_size;
            bad[at] = rand() % 3 == 0 ? 0xff : (unsigned char)rand();
        }
        fd = mkstemp(strcpy(path, "/tmp/conan_test_symbols_XXXXXX"));
        if (fd < 0) break;
        close(fd);
        write_file(path, bad, self_size);
        char id[65];
        conan_build_id_of_file(path, id);
        copy = map_executable(path, self_size);
        if (copy) {
            s = conan_symbols_open();
            for (size_t off = 0; off < self_size; off += 61) {
                const char *name = NULL, *system_name = NULL;
                if (conan_symbols_lookup(s, (uintptr_t)copy + off, &name, &system_name))
                    CHECK(name && system_name);
            }
            if (name_at(s, (uintptr_t)copy + fn_offset)) resolved++;
            conan_symbols_close(s);
            munmap(copy, self_size);
        }
        unlink(path);
    }
    free(bad);
    printf("test_symbols: %d corrupt copies survived, %d still resolved a name\n", rounds,
           resolved);
}

static void time_lookups(void)
{
    uintptr_t qsort_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "qsort");
    double t0 = now_seconds();
    struct conan_symbols *s = conan_symbols_open();
    double t1 = now_seconds();
    const char *name = name_at(s, qsort_pc);
    double t2 = now_seconds();
    CHECK(name != NULL);

    /* Pcs spread over this binary's and libc's text, plus the known ones. */
    enum { NPCS = 1024, LOOKUPS = 100000 };
    static uintptr_t pcs[NPCS];
    long exe = conan_symbols_find_mapping(s, (uintptr_t)&conan_test_static_square_sum);
    long libc = conan_symbols_find_mapping(s, qsort_pc);
    CHECK(exe >= 0 && libc >= 0);
    if (exe < 0 || libc < 0) {
        conan_symbols_close(s);
        return;
    }
    const struct conan_mapping *me = conan_symbols_mapping(s, (size_t)exe);
    const struct conan_mapping *ml = conan_symbols_mapping(s, (size_t)libc);
    for (int i = 0; i < NPCS; i++) {
        const struct conan_mapping *m = i % 4 == 0 ? me : ml;
        pcs[i] = m->start + ((uintptr_t)i * 2654435761u) % (m->limit - m->start);
    }
    pcs[0] = (uintptr_t)&conan_test_static_square_sum;
    pcs[1] = qsort_pc;
    name_at(s, (uintptr_t)&conan_test_static_square_sum);   /* loads the exe's table */

    int found = 0;
    double t3 = now_seconds();
    for (int i = 0; i < LOOKUPS; i++) {
        const char *n = NULL, *sys = NULL;
        found += conan_symbols_lookup(s, pcs[i % NPCS], &n, &sys);
    }
    double t4 = now_seconds();
    CHECK(found > LOOKUPS / 2);
    printf("test_symbols: open %.0f us, first libc lookup %.0f us, lookup %.0f ns "
           "(%zu mappings, %d%% found)\n",
           (t1 - t0) * 1e6, (t2 - t1) * 1e6, (t4 - t3) * 1e9 / LOOKUPS,
           conan_symbols_mapping_count(s), found * 100 / LOOKUPS);
    conan_symbols_close(s);
}

int main(void)
{
    CHECK(conan_test_static_square_sum(4) == 14);
    CHECK(conan_test_exported_cube_sum(3) == 9);

    struct conan_symbols *s = conan_symbols_open();
    CHECK(s != NULL);
    if (!s) CHECK_DONE();
    CHECK(conan_symbols_mapping_count(s) > 2);
    test_own_functions(s);
    test_libc(s);
    test_vdso(s);
    test_nowhere(s);
    conan_symbols_close(s);
    conan_symbols_close(NULL);

    size_t self_size = 0;
    unsigned char *self = read_self(&self_size);
    CHECK(self != NULL && self_size > sizeof(ElfW(Ehdr)));
    if (self && self_size > sizeof(ElfW(Ehdr))) {
        s = conan_symbols_open();
        if (s) test_plt_not_init(s, self, self_size);
        conan_symbols_close(s);
        test_bad_files(self, self_size);
        test_mapped_copies(self, self_size);
    }
    free(self);

    time_lookups();
    CHECK_DONE();
}
