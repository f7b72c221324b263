/* symbolize.c — conan symbolize: names the locations a profile left unnamed
 * (a stripped binary's frames) from the binaries and separate debug files
 * that have the mappings' build IDs (debuginfo.c, elfutils), and writes the
 * profile again, gzipped.
 *
 * The input is read by the shared reader (profile.c) and validated whole
 * before anything follows a reference in it; the unpacked message is then
 * edited in place: new strings appended to the string table, new Function
 * messages, new Lines for the locations that had no function name (innermost
 * inlined frame first), mapping flags, one comment. Every part of the
 * message is malloc'd (protobuf-c's default allocator), so grown arrays and
 * new parts are freed with it. Locations that were named are not touched. */
#include "conan.h"
#include "debuginfo.h"
#include "profile.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_FRAMES 64       /* inlined frames kept for one address */

/* libstdc++'s demangler (the engine uses the same through dlsym). */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

static const char help[] =
    "usage: conan symbolize FILE -o OUT [--debug-dir DIR]...\n"
    "\n"
    "Names the functions a profile left unnamed (stripped binaries), with file:line\n"
    "and inlined frames where debug info has them, and writes the result gzipped.\n"
    "Files are found by the build ID each mapping records: separate debug files in\n"
    "DIR/.build-id/xx/yyyy.debug, DIR/xx/yyyy.debug and /usr/lib/debug/.build-id\n"
    "(Debian's -dbgsym packages), and the object at the mapping's path only when\n"
    "its build ID is the same. Locations that have a name are left as they are.\n"
    "\n"
    "  -o OUT           where to write the profile (\"-\" for stdout)\n"
    "  --debug-dir DIR  another place for debug files (repeatable; searched first)\n"
    "\n"
    "Exit status: 0 written (some locations may stay unnamed: stderr says which\n"
    "objects lack debug info), 1 failure, 2 usage error.\n";

/* ---- an open-addressing set of indexes, keyed by the caller's hash ---- */

struct index_set {
    uint32_t *slot; /* index + 1; 0 = empty */
    size_t cap, used;
};

/* The slot for hash h where eq(ctx, index) holds, or the empty one to fill. */
static uint32_t *set_find(struct index_set *s, uint64_t h, bool (*eq)(void *, uint32_t), void *ctx)
{
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
        if (!s->slot[i] || eq(ctx, s->slot[i] - 1)) return &s->slot[i];
}

/* Makes room for one more; rehash(ctx, index) gives an entry's hash. */
static int set_reserve(struct index_set *s, uint64_t (*rehash)(void *, uint32_t), void *ctx)
{
    if ((s->used + 1) * 2 <= s->cap) return 0;
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i]) continue;
        size_t j = rehash(ctx, s->slot[i] - 1) & (cap - 1);
        while (slot[j]) j = (j + 1) & (cap - 1);
        slot[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = slot;
    s->cap = cap;
    return 0;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* ---- the profile being edited ---- */

struct object {              /* one (path, build ID): opened once */
    const char *path, *build_id;
    struct debuginfo *d;
    enum debuginfo_found found;
    char note[640];
    size_t unnamed, named;
};

struct mapping_tally {
    size_t locations, named, with_lines, inline_aware;
    bool touched;
};

struct editor {
    Perftools__Profiles__Profile *pb;
    size_t string_cap, function_cap;
    struct index_set strings, functions;
    const char *want_string;                  /* the probe, for eq callbacks */
    const Perftools__Profiles__Function *want_function;
    struct profile_ids fn_ids, map_ids;       /* the input's functions and mappings by id */
    size_t nfn_input;
    uint64_t first_new_function_id, next_function_id;
    struct object *object;
    size_t nobject;
    struct mapping_tally *tally;              /* per pb->mapping index */
    size_t unnamed, named;
};

static uint64_t string_hash(void *ctx, uint32_t i)
{
    const char *s = ((struct editor *)ctx)->pb->string_table[i];
    return hash_bytes(1469598103934665603ULL, s, strlen(s));
}

static bool string_eq(void *ctx, uint32_t i)
{
    struct editor *e = ctx;
    return strcmp(e->pb->string_table[i], e->want_string) == 0;
}

/* The string's index in the string table, appended when new; -1 if out of memory. */
static int64_t intern(struct editor *e, const char *s)
{
    if (set_reserve(&e->strings, string_hash, e) != 0) return -1;
    e->want_string = s;
    uint32_t *slot = set_find(&e->strings, hash_bytes(1469598103934665603ULL, s, strlen(s)), string_eq, e);
    if (*slot) return *slot - 1;
    Perftools__Profiles__Profile *pb = e->pb;
    if (pb->n_string_table >= UINT32_MAX - 1) return -1;
    if (pb->n_string_table == e->string_cap) {
        size_t cap = e->string_cap * 2;
        char **grown = realloc(pb->string_table, cap * sizeof *grown);
        if (!grown) return -1;
        pb->string_table = grown;
        e->string_cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) return -1;
    pb->string_table[pb->n_string_table] = copy;
    *slot = (uint32_t)pb->n_string_table + 1;
    e->strings.used++;
    return (int64_t)pb->n_string_table++;
}

static uint64_t function_key_hash(const Perftools__Profiles__Function *f)
{
    int64_t key[4] = { f->name, f->system_name, f->filename, f->start_line };
    return hash_bytes(1469598103934665603ULL, key, sizeof key);
}

static uint64_t function_hash(void *ctx, uint32_t i)
{
    return function_key_hash(((struct editor *)ctx)->pb->function[i]);
}

static bool function_eq(void *ctx, uint32_t i)
{
    struct editor *e = ctx;
    const Perftools__Profiles__Function *f = e->pb->function[i], *w = e->want_function;
    return f->name == w->name && f->system_name == w->system_name && f->filename == w->filename &&
           f->start_line == w->start_line;
}

/* The id of the function with these fields (an existing one when equal), 0
 * if out of memory. */
static uint64_t function_for(struct editor *e, const Perftools__Profiles__Function *want)
{
    if (set_reserve(&e->functions, function_hash, e) != 0) return 0;
    e->want_function = want;
    uint32_t *slot = set_find(&e->functions, function_key_hash(want), function_eq, e);
    if (*slot) return e->pb->function[*slot - 1]->id;
    Perftools__Profiles__Profile *pb = e->pb;
    if (pb->n_function >= UINT32_MAX - 1) return 0;
    if (pb->n_function == e->function_cap) {
        size_t cap = e->function_cap ? e->function_cap * 2 : 64;
        Perftools__Profiles__Function **grown = realloc(pb->function, cap * sizeof *grown);
        if (!grown) return 0;
        pb->function = grown;
        e->function_cap = cap;
    }
    Perftools__Profiles__Function *f = malloc(sizeof *f);
    if (!f) return 0;
    perftools__profiles__function__init(f);
    f->id = e->next_function_id++;
    f->name = want->name;
    f->system_name = want->system_name;
    f->filename = want->filename;
    f->start_line = want->start_line;
    pb->function[pb->n_function] = f;
    *slot = (uint32_t)pb->n_function + 1;
    e->functions.used++;
    pb->n_function++;
    return f->id;
}

/* ---- lookups by id in the validated profile ---- */

/* A function of the input (by its id index) or one added here (in order,
 * after the input's). */
static const Perftools__Profiles__Function *function_by_id(const struct editor *e, uint64_t id)
{
    if (id >= e->first_new_function_id) {
        uint64_t k = id - e->first_new_function_id;
        return k < e->pb->n_function - e->nfn_input ? e->pb->function[e->nfn_input + k] : NULL;
    }
    long at = profile_ids_find(&e->fn_ids, id);
    return at >= 0 ? e->pb->function[at] : NULL;
}

static long mapping_index(const struct editor *e, uint64_t id)
{
    return profile_ids_find(&e->map_ids, id);
}

static int editor_init(struct editor *e, Perftools__Profiles__Profile *pb)
{
    memset(e, 0, sizeof *e);
    e->pb = pb;
    e->string_cap = pb->n_string_table;
    e->function_cap = pb->n_function;
    size_t nf = pb->n_function, nm = pb->n_mapping;
    uint64_t bad;
    e->object = calloc(nm ? nm : 1, sizeof *e->object);
    e->tally = calloc(nm ? nm : 1, sizeof *e->tally);
    if (!e->object || !e->tally) return -1;
    /* ids were checked unique and nonzero by profile_parse */
    if (profile_ids_build(&e->fn_ids, nf, profile_function_id, pb, &bad) != 0 ||
        profile_ids_build(&e->map_ids, nm, profile_mapping_id, pb, &bad) != 0)
        return -1;
    e->nfn_input = nf;
    e->first_new_function_id = e->next_function_id = nf ? e->fn_ids.id[nf - 1] + 1 : 1;
    if (e->next_function_id == 0) return -1; /* an id of UINT64_MAX leaves none to give */
    for (size_t i = 0; i < pb->n_string_table; i++) {
        if (set_reserve(&e->strings, string_hash, e) != 0) return -1;
        e->want_string = pb->string_table[i];
        uint32_t *slot = set_find(&e->strings, string_hash(e, (uint32_t)i), string_eq, e);
        if (!*slot) { /* a repeated string keeps its first index */
            *slot = (uint32_t)i + 1;
            e->strings.used++;
        }
    }
    return 0;
}

static void editor_free(struct editor *e)
{
    for (size_t i = 0; i < e->nobject; i++) debuginfo_close(e->object[i].d);
    free(e->object);
    free(e->tally);
    profile_ids_free(&e->fn_ids);
    profile_ids_free(&e->map_ids);
    free(e->strings.slot);
    free(e->functions.slot);
}

/* ---- symbolizing ---- */

static bool location_named(const struct editor *e, const Perftools__Profiles__Location *l)
{
    for (size_t k = 0; k < l->n_line; k++) {
        const Perftools__Profiles__Function *f = function_by_id(e, l->line[k]->function_id);
        if (f && e->pb->string_table[f->name][0]) return true;
    }
    return false;
}

static struct object *object_for(struct editor *e, const Perftools__Profiles__Mapping *m,
                                 const struct debuginfo_dirs *dirs)
{
    const char *path = e->pb->string_table[m->filename], *build_id = e->pb->string_table[m->build_id];
    for (size_t i = 0; i < e->nobject; i++)
        if (strcmp(e->object[i].path, path) == 0 && strcmp(e->object[i].build_id, build_id) == 0)
            return &e->object[i];
    struct object *o = &e->object[e->nobject++];
    o->path = path;
    o->build_id = build_id;
    o->d = debuginfo_open(path, build_id, dirs, &o->found, o->note, sizeof o->note);
    return o;
}

/* name demangled (C++) and without a symbol version ("@@GLIBC_2.2.5"). */
static int64_t display_name(struct editor *e, const char *symbol)
{
    char *plain = NULL;
    const char *at = strchr(symbol, '@');
    if (at && at != symbol) {
        plain = strndup(symbol, (size_t)(at - symbol));
        if (!plain) return -1;
    }
    const char *name = plain ? plain : symbol;
    char *demangled = NULL;
    int status = -1;
    if (name[0] == '_' && name[1] == 'Z') demangled = __cxa_demangle(name, NULL, NULL, &status);
    int64_t index = intern(e, demangled && status == 0 ? demangled : name);
    free(demangled);
    free(plain);
    return index;
}

/* New lines for l from frames; replaces (and frees) the ones it had. */
static int set_lines(struct editor *e, Perftools__Profiles__Location *l, const struct debuginfo_frame *frame, int n)
{
    Perftools__Profiles__Line **lines = calloc((size_t)n, sizeof *lines);
    if (!lines) return -1;
    for (int i = 0; i < n; i++) {
        Perftools__Profiles__Function want = PERFTOOLS__PROFILES__FUNCTION__INIT;
        want.system_name = intern(e, frame[i].symbol);
        want.name = display_name(e, frame[i].symbol);
        want.filename = intern(e, frame[i].file);
        want.start_line = frame[i].start_line;
        uint64_t id = want.system_name < 0 || want.name < 0 || want.filename < 0 ? 0 : function_for(e, &want);
        lines[i] = id ? malloc(sizeof *lines[i]) : NULL;
        if (!lines[i]) {
            for (int k = 0; k < i; k++) free(lines[k]);
            free(lines);
            return -1;
        }
        perftools__profiles__line__init(lines[i]);
        lines[i]->function_id = id;
        lines[i]->line = frame[i].line;
        lines[i]->column = frame[i].column;
    }
    for (size_t k = 0; k < l->n_line; k++) perftools__profiles__line__free_unpacked(l->line[k], NULL);
    free(l->line);
    l->line = lines;
    l->n_line = (size_t)n;
    return 0;
}

/* Every line has a file and a line number. */
static bool location_has_lines(const struct editor *e, const Perftools__Profiles__Location *l)
{
    for (size_t k = 0; k < l->n_line; k++) {
        const Perftools__Profiles__Function *f = function_by_id(e, l->line[k]->function_id);
        if (!f || !e->pb->string_table[f->filename][0] || l->line[k]->line <= 0) return false;
    }
    return l->n_line > 0;
}

static int symbolize_location(struct editor *e, Perftools__Profiles__Location *l, const struct debuginfo_dirs *dirs)
{
    long mi = l->mapping_id ? mapping_index(e, l->mapping_id) : -1;
    struct mapping_tally *t = mi >= 0 ? &e->tally[mi] : NULL;
    if (t) t->locations++;
    bool named = location_named(e, l), dwarf = false;
    if (!named) {
        e->unnamed++;
        if (!t) return 0;
        const Perftools__Profiles__Mapping *m = e->pb->mapping[mi];
        struct object *o = object_for(e, m, dirs);
        o->unnamed++;
        struct debuginfo_frame frame[MAX_FRAMES];
        int n = o->d ? debuginfo_frames(o->d, l->address, m->memory_start, m->file_offset, frame, MAX_FRAMES) : 0;
        if (n > 0) {
            if (set_lines(e, l, frame, n) != 0) return -1;
            named = t->touched = true;
            dwarf = debuginfo_has_dwarf(o->d);
            o->named++;
            e->named++;
        }
    }
    if (t && named) t->named++;
    if (t && named && location_has_lines(e, l)) t->with_lines++;
    if (t && dwarf) t->inline_aware++;
    return 0;
}

static void set_mapping_flags(struct editor *e)
{
    for (size_t i = 0; i < e->pb->n_mapping; i++) {
        const struct mapping_tally *t = &e->tally[i];
        Perftools__Profiles__Mapping *m = e->pb->mapping[i];
        if (!t->touched || t->named != t->locations) continue;
        m->has_functions = true;
        if (t->with_lines == t->locations) m->has_filenames = m->has_line_numbers = true;
        if (t->inline_aware == t->locations) m->has_inline_frames = true;
    }
}

/* One comment: how many were named, from which files. */
static int add_comment(struct editor *e)
{
    size_t len = 128;
    for (size_t i = 0; i < e->nobject; i++)
        if (e->object[i].named) len += strlen(debuginfo_source(e->object[i].d)) + 32;
    char *text = malloc(len);
    if (!text) return -1;
    int at = snprintf(text, len, "conan symbolize: named %zu of %zu unnamed locations", e->named, e->unnamed);
    const char *sep = " (";
    for (size_t i = 0; i < e->nobject; i++) {
        if (!e->object[i].named) continue;
        at += snprintf(text + at, len - (size_t)at, "%s%zu from %s", sep, e->object[i].named,
                       debuginfo_source(e->object[i].d));
        sep = ", ";
    }
    if (sep[0] == ',') snprintf(text + at, len - (size_t)at, ")");
    int64_t index = intern(e, text);
    free(text);
    Perftools__Profiles__Profile *pb = e->pb;
    int64_t *comment = index < 0 ? NULL : realloc(pb->comment, (pb->n_comment + 1) * sizeof *comment);
    if (!comment) return -1;
    comment[pb->n_comment++] = index;
    pb->comment = comment;
    return 0;
}

static void report(const struct editor *e, const char *out)
{
    fprintf(stderr, "conan symbolize: named %zu of %zu unnamed locations; wrote %s\n", e->named, e->unnamed,
            strcmp(out, "-") == 0 ? "stdout" : out);
    for (size_t i = 0; i < e->nobject; i++) {
        const struct object *o = &e->object[i];
        if (o->note[0]) fprintf(stderr, "conan symbolize: %s\n", o->note);
        if (o->found == DEBUGINFO_NOTHING)
            fprintf(stderr,
                    "conan symbolize: %s (build ID %s): no debug info, %zu locations unnamed (install its -dbgsym "
                    "package, or give --debug-dir DIR)\n",
                    o->path, o->build_id, o->unnamed - o->named);
    }
}

/* ---- writing ---- */

static int write_gzip(int fd, const void *data, size_t len)
{
    gzFile gz = gzdopen(fd, "wb");
    if (!gz) {
        close(fd);
        return -1;
    }
    const char *p = data;
    int ok = 1;
    while (ok && len > 0) {
        unsigned chunk = len > (1u << 30) ? 1u << 30 : (unsigned)len;
        ok = gzwrite(gz, p, chunk) == (int)chunk;
        p += chunk;
        len -= chunk;
    }
    return gzclose(gz) == Z_OK && ok ? 0 : -1;
}

/* Packs and writes gzipped: to a temporary file beside out, renamed over it. */
static int write_profile(const Perftools__Profiles__Profile *pb, const char *out)
{
    size_t len = perftools__profiles__profile__get_packed_size(pb);
    uint8_t *raw = malloc(len ? len : 1);
    if (!raw) {
        cli_error("%s: out of memory packing the profile", out);
        return -1;
    }
    perftools__profiles__profile__pack(pb, raw);
    if (strcmp(out, "-") == 0) {
        int fd = dup(STDOUT_FILENO), rc = fd < 0 ? -1 : write_gzip(fd, raw, len);
        free(raw);
        if (rc != 0) cli_error("stdout: write failed");
        return rc;
    }
    size_t tlen = strlen(out) + 16;
    char *tmp = malloc(tlen);
    int fd = -1;
    if (tmp) {
        snprintf(tmp, tlen, "%s.tmp.XXXXXX", out);
        fd = mkstemp(tmp);
    }
    if (fd < 0) {
        cli_error("%s: cannot create a file beside it: %m", out);
        free(tmp);
        free(raw);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    int rc = fchmod(fd, 0666 & ~mask) == 0 ? write_gzip(fd, raw, len) : (close(fd), -1);
    if (rc == 0 && rename(tmp, out) != 0) rc = -1;
    if (rc != 0) {
        cli_error("%s: cannot write: %m", out);
        unlink(tmp);
    }
    free(tmp);
    free(raw);
    return rc;
}

/* ---- the command ---- */

static int symbolize(struct profile *p, const char *out, const struct debuginfo_dirs *dirs)
{
    struct editor e;
    int rc = editor_init(&e, p->pb);
    for (size_t i = 0; rc == 0 && i < p->pb->n_location; i++) rc = symbolize_location(&e, p->pb->location[i], dirs);
    if (rc == 0) set_mapping_flags(&e);
    if (rc == 0) rc = add_comment(&e);
    if (rc != 0) cli_error("symbolize: out of memory");
    if (rc == 0) rc = write_profile(p->pb, out);
    if (rc == 0) report(&e, out);
    editor_free(&e);
    return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_symbolize(int argc, char **argv)
{
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' },
        { "debug-dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char **dir = calloc((size_t)argc + 1, sizeof *dir);
    struct debuginfo_dirs dirs = { dir, 0 };
    const char *out = NULL;
    int c, status = EXIT_USAGE;
    if (!dir) {
        cli_error("symbolize: out of memory");
        return EXIT_FAIL;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'd': dir[dirs.ndir++] = optarg; break;
        case 'h': status = cli_help(help); goto done;
        default: cli_usage_error("symbolize", "unknown option"); goto done;
        }
    }
    if (optind != argc - 1) {
        cli_usage_error("symbolize", "expected one profile file");
        goto done;
    }
    if (!out || !out[0]) {
        cli_usage_error("symbolize", "-o OUT is required");
        goto done;
    }
    /* Local files only: never a debuginfod download behind the user's back. */
    unsetenv("DEBUGINFOD_URLS");
    const char *path = argv[optind];
    char err[512];
    struct profile p;
    status = EXIT_FAIL;
    if (profile_read(path, &p, err, sizeof err) != 0) {
        cli_error("%s", err);
        goto done;
    }
    status = symbolize(&p, out, &dirs);
    profile_free(&p);
done:
    free(dir);
    return status;
}
