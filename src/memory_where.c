/* memory_where.c — where the process's memory is, said in the heap profile's
 * comments: the resident set by kind, the allocator's own view of its memory,
 * and the sum that splits the resident set the profile does not show, so "the
 * heap profile says 200 MiB, RSS is 2 GiB" is answered in the same file.
 *
 * Where each number comes from:
 * - resident, anonymous, file, shmem, swap: VmRSS, RssAnon, RssFile, RssShmem
 *   and VmSwap of /proc/self/status, taken from one read so they belong
 *   together (procfs.c's field reader opens the file once per field). These
 *   are the kernel's per-process counters: VmRSS is by definition the sum of
 *   the other three, and the same counter as the rss of /proc/self/stat that
 *   the memory rule watches. /proc/self/smaps_rollup is not read: it walks
 *   every page table of the process under its mmap_lock (time grows with the
 *   memory mapped, while the program's mmap and munmap wait), and what it adds
 *   (Pss_Anon, Pss_File, Pss_Shmem: shares of pages shared with other
 *   processes) says who pays across processes, not where this one's memory is.
 * - the allocator's view: heap.c (conan_heap_allocator_stats), the one place
 *   that asks the allocator — mallinfo2() for glibc, skipped once it has
 *   proved slow; jemalloc's stats.* through its mallctl.
 * - the heap profile's in-use estimate: the sampled inuse_space total. */
#include "memory_where.h"
#include "procfs.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)
/* /proc/self/status is about 1.5 KiB; the fields read here come in its first
 * half, so a longer one (long CPU or node masks) cut at this size still has them. */
#define STATUS_MAX 8192

/* ---- reading ---- */

/* The "<field>:  <n> kB" line of status, in bytes. */
static bool status_bytes(const char *status, const char *field, double *bytes)
{
    size_t flen = strlen(field);
    for (const char *line = status; *line;) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            *bytes = strtod(line + flen + 1, NULL) * 1024.0;
            return true;
        }
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return false;
}

static bool read_resident(struct conan_memory_where *w)
{
    char status[STATUS_MAX];
    if (!conan_read_small_text("/proc/self/status", status, sizeof status)) return false;
    if (!status_bytes(status, "VmSwap", &w->swap)) w->swap = 0;
    return status_bytes(status, "VmRSS", &w->resident) && status_bytes(status, "RssAnon", &w->anonymous) &&
           status_bytes(status, "RssFile", &w->file) && status_bytes(status, "RssShmem", &w->shmem);
}

void conan_memory_where_read(struct conan_memory_where *w)
{
    *w = (struct conan_memory_where){ 0 };
    w->have_resident = read_resident(w);
    conan_heap_allocator_stats(&w->allocator);
}

/* ---- saying it ---- */

static void comment_allocator(struct conan_pprof *p, const struct conan_allocator_stats *a)
{
    switch (a->view) {
    case CONAN_ALLOCATOR_GLIBC:
        conan_pprof_comment(p, "allocator glibc (mallinfo2): in use %.1f MiB, free in arenas %.1f MiB, releasable "
                            "top %.1f MiB, arenas %.1f MiB (sbrk and thread heaps), mmapped %.1f MiB",
                            (a->glibc.in_use + a->glibc.mmapped) / MIB, a->glibc.free / MIB,
                            a->glibc.top_releasable / MIB, a->glibc.arena / MIB, a->glibc.mmapped / MIB);
        return;
    case CONAN_ALLOCATOR_JEMALLOC:
        conan_pprof_comment(p, "allocator jemalloc: allocated %.1f MiB, active %.1f, resident %.1f, mapped %.1f, "
                            "retained %.1f, metadata %.1f MiB",
                            a->jemalloc.allocated / MIB, a->jemalloc.active / MIB, a->jemalloc.resident / MIB,
                            a->jemalloc.mapped / MIB, a->jemalloc.retained / MIB, a->jemalloc.metadata / MIB);
        return;
    case CONAN_ALLOCATOR_NONE:
        break;
    }
    conan_pprof_comment(p, "allocator %s: no statistics (%s)", conan_allocator.name, a->why_none);
}

/* What the allocator holds (for glibc address space, some of it perhaps
 * never touched or trimmed; for jemalloc its own estimate of resident pages)
 * and what of it is in use. false without statistics. */
static bool allocator_totals(const struct conan_allocator_stats *a, double *holds, double *in_use)
{
    switch (a->view) {
    case CONAN_ALLOCATOR_GLIBC:
        *holds = a->glibc.arena + a->glibc.mmapped;
        *in_use = a->glibc.in_use + a->glibc.mmapped;
        return true;
    case CONAN_ALLOCATOR_JEMALLOC:
        /* an older jemalloc without stats.resident (NaN): what is active */
        *holds = !isnan(a->jemalloc.resident) ? a->jemalloc.resident
                 : !isnan(a->jemalloc.active) ? a->jemalloc.active : a->jemalloc.allocated;
        *in_use = a->jemalloc.allocated;
        return true;
    case CONAN_ALLOCATOR_NONE:
        break;
    }
    return false;
}

/* The resident set less the profile's estimate, as terms that add up to it:
 * (in use - estimate) + (holds - in use) + (anonymous - holds) + file + shmem
 * = anonymous + file + shmem - estimate. A term may be negative: the estimate
 * above the allocator's count (sampling), or the allocator holding address
 * space that is not resident (anonymous outside the allocator < 0). */
static void comment_not_in_profile(struct conan_pprof *p, const struct conan_memory_where *w, double in_profile)
{
    double holds, in_use;
    double rest = w->resident - in_profile;
    if (!allocator_totals(&w->allocator, &holds, &in_use)) {
        conan_pprof_comment(p, "resident not in the heap profile: %.1f MiB (resident %.1f less the profile's in-use "
                            "estimate %.1f) = anonymous beyond the estimate %.1f + file %.1f + shmem %.1f MiB "
                            "(without the allocator's statistics, its free memory and overhead are not told "
                            "apart from other anonymous memory)",
                            rest / MIB, w->resident / MIB, in_profile / MIB, (w->anonymous - in_profile) / MIB,
                            w->file / MIB, w->shmem / MIB);
        return;
    }
    conan_pprof_comment(p, "resident not in the heap profile: %.1f MiB (resident %.1f less the profile's in-use "
                        "estimate %.1f) = in use beyond the estimate %.1f + allocator's free and overhead %.1f + "
                        "anonymous outside the allocator %.1f + file %.1f + shmem %.1f MiB",
                        rest / MIB, w->resident / MIB, in_profile / MIB, (in_use - in_profile) / MIB,
                        (holds - in_use) / MIB, (w->anonymous - holds) / MIB, w->file / MIB, w->shmem / MIB);
}

void conan_memory_where_comment(struct conan_pprof *p, const struct conan_memory_where *w, double in_profile)
{
    if (w->have_resident)
        conan_pprof_comment(p, "resident: %.1f MiB = anonymous %.1f + file %.1f + shmem %.1f MiB; swap %.1f MiB",
                            w->resident / MIB, w->anonymous / MIB, w->file / MIB, w->shmem / MIB, w->swap / MIB);
    else
        conan_pprof_comment(p, "resident: unknown (/proc/self/status unreadable)");
    comment_allocator(p, &w->allocator);
    if (w->have_resident) comment_not_in_profile(p, w, in_profile);
}
