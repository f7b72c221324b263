/* metrics.h — process CPU, memory and the limits they are measured
 * against (metrics.c). */
#ifndef CONAN_METRICS_H
#define CONAN_METRICS_H

#include <stdbool.h>
#include "cgroup.h"

/* CPUs the process may really use: the smallest of cgroup quota, affinity mask
 * and online CPUs. *source names which one won ("cgroup", "affinity", "online"). */
double conan_usable_cpus(const struct conan_cgroup *cg, const char **source);

struct conan_cpu_meter {
    double last_cpu_s, last_wall_s;
    bool primed;
};
/* Process CPU over the time since the previous call, as a percent (0–100) of
 * usable_cpus. The first call primes the meter and returns 0. */
double conan_cpu_meter_percent(struct conan_cpu_meter *m, double usable_cpus);

/* Resident set size and live threads, from one read of /proc/self/stat. */
struct conan_process_stat { double rss_bytes; long threads; };
bool conan_process_stat(struct conan_process_stat *out);
/* Resident set size of the process, bytes (0 if unreadable). */
double conan_rss_bytes(void);
/* Memory the process may really use: the smaller of the cgroup limit and RAM.
 * *source names which one won ("cgroup", "ram"). */
double conan_memory_limit_bytes(const struct conan_cgroup *cg, const char **source);
double conan_cpu_percent(double cpu_s, double wall_s, double usable_cpus);

#endif
