/* pressure.h — what the container suffers: CPU throttling from the cgroup's
 * cpu.stat and pressure stalls (Linux PSI), each turned into a share of one
 * monitor tick (pressure.c). Monitor thread only. */
#ifndef CONAN_PRESSURE_H
#define CONAN_PRESSURE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "cgroup.h"

/* ---- CPU throttling (CFS bandwidth control) ---- */

/* Cumulative counters of one cgroup's cpu.stat. v1 (cpu controller):
 * nr_periods, nr_throttled, throttled_time (ns); v2: nr_periods,
 * nr_throttled, throttled_usec. */
struct conan_cpu_stat {
    uint64_t periods, throttled;
    double throttled_s;
};
/* Parses the text of a cpu.stat file (v1 or v2 keys, in any order, unknown
 * keys skipped); false if nr_periods or nr_throttled is missing. */
bool conan_cpu_stat_parse(const char *text, struct conan_cpu_stat *out);

/* The throttle meter: which cgroup's cpu.stat it reads (the one whose quota
 * binds: the smallest quota from the process's own cgroup up to the mount
 * point, v2 cpu.max or v1 cfs_quota_us), and the previous reading. */
struct conan_throttle_meter {
    char path[PATH_MAX];         /* its cpu.stat; "" when no quota applies */
    struct conan_cpu_stat last;
    bool primed;
};
/* Finds the cpu.stat to read; false (path "") when no quota applies. */
bool conan_throttle_meter_open(struct conan_throttle_meter *m, const struct conan_cgroup *cg);
/* A quota set, removed or moved since (docker update --cpus, a resize in
 * place): the meter follows the cgroup whose quota binds now. True if it
 * changed (the next read then primes). */
bool conan_throttle_meter_refresh(struct conan_throttle_meter *m, const struct conan_cgroup *cg);
/* Since the previous call: the percent of CFS periods that were throttled
 * (0 when no period ended) and the throttled time. False when unavailable
 * (no quota, unreadable) and on the first call, which primes the meter; a
 * counter that went backwards (the cgroup made anew) and the first good read
 * after an unreadable one prime it again. */
bool conan_throttle_meter_read(struct conan_throttle_meter *m, double *percent, double *throttled_s);

/* ---- pressure stall information ---- */

enum conan_psi_resource { CONAN_PSI_CPU, CONAN_PSI_MEMORY, CONAN_PSI_IO, CONAN_PSI_COUNT };
const char *conan_psi_name(enum conan_psi_resource r);   /* "cpu", "memory", "io" */

/* Parses a pressure file: the total= counters (microseconds) of its "some"
 * and "full" lines ("full" is 0 when absent, as in /proc/pressure/cpu on
 * older kernels); false if there is no "some" line with a total. */
bool conan_psi_parse(const char *text, uint64_t *some_us, uint64_t *full_us);

struct conan_psi_meter {
    char path[CONAN_PSI_COUNT][PATH_MAX]; /* "" when the resource has no file */
    uint64_t last_some_us[CONAN_PSI_COUNT];
    double last_wall_s;                   /* monotonic, at the previous read */
    bool primed[CONAN_PSI_COUNT];
    const char *source;                   /* "cgroup", "host" or NULL (none) */
};
/* Picks the files, per resource: <cg->v2_dir>/<resource>.pressure of the
 * process's own cgroup when it reads as a pressure text (PSI switched off
 * reads as an error), else <root>/proc/pressure/<resource> when host_fallback
 * is set. cg may be NULL (no cgroup found). root prefixes the host path only
 * ("" on a real system; tests pass a fixture tree): cg's paths already hold
 * the root that conan_cgroup_resolve was given. Returns how many resources
 * have a file; m->source says from where: "cgroup" if any file is the
 * cgroup's (the host's then only fill gaps), "host" if all are the host's. */
int conan_psi_meter_open(struct conan_psi_meter *m, const struct conan_cgroup *cg, bool host_fallback,
                         const char *root);
/* Stall share of each resource since the previous call, as a percent of the
 * wall time between the calls (clamped to [0, 100]): the growth of the
 * "some" total (time in which at least one task waited), not the kernel's
 * 10-second average, which lags. available[r] is false for a resource
 * without a file, if unreadable, and on the first call (which primes); a
 * total that went backwards, a clock that did not advance and the first good
 * read after an unreadable one prime again. now_s is monotonic seconds. */
void conan_psi_meter_read(struct conan_psi_meter *m, double now_s, double percent[CONAN_PSI_COUNT],
                          bool available[CONAN_PSI_COUNT]);

#endif
