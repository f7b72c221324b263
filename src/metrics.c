/* metrics.c — the numbers the rules watch. CPU is the whole process's CPU time
 * over a tick, as a percent of the CPUs it may really use: the smallest of the
 * cgroup quota (cgroup.c), the affinity mask and the online CPUs. Memory is the
 * resident set against the smaller of the cgroup memory limit and RAM (the heap
 * figure is heap.c's, from the allocator). Everything here is a clock read, a
 * small syscall or one small /proc read, so a monitor tick stays far below 100 µs. */
#include "metrics.h"
#include "cgroup.h"
#include "clock.h"
#include "procfs.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int affinity_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

double conan_usable_cpus(const struct conan_cgroup *cg, const char **source)
{
    double usable = (double)sysconf(_SC_NPROCESSORS_ONLN);
    const char *why = "online";
    if (usable < 1) usable = 1;

    int affinity = affinity_cpus();
    if (affinity > 0 && affinity < usable) {
        usable = affinity;
        why = "affinity";
    }
    double quota = cg ? conan_cgroup_cpu_quota(cg) : 0;
    if (quota > 0 && quota < usable) {
        usable = quota;
        why = "cgroup";
    }
    if (source) *source = why;
    return usable;
}

double conan_cpu_percent(double cpu_s, double wall_s, double usable_cpus)
{
    if (wall_s <= 0 || usable_cpus <= 0 || cpu_s < 0) return 0;
    double percent = cpu_s / wall_s / usable_cpus * 100.0;
    return percent > 100.0 ? 100.0 : percent;
}

double conan_cpu_meter_percent(struct conan_cpu_meter *m, double usable_cpus)
{
    double cpu = conan_process_cpu_seconds(), wall = conan_monotonic_seconds();
    double percent = 0;
    if (m->primed) percent = conan_cpu_percent(cpu - m->last_cpu_s, wall - m->last_wall_s, usable_cpus);
    m->last_cpu_s = cpu;
    m->last_wall_s = wall;
    m->primed = true;
    return percent;
}

bool conan_process_stat(struct conan_process_stat *out)
{
    char stat[512];
    const char *field = conan_task_stat(0, stat, sizeof stat); /* field 3, the state */
    long value[25] = { 0 };
    for (int i = 4; i <= 24 && field; i++) { /* 20 is num_threads, 24 rss */
        field = strchr(field, ' ');
        if (field) value[i] = strtol(++field, NULL, 10);
    }
    if (!field || value[20] <= 0) return false;
    out->threads = value[20];
    out->rss_bytes = (double)value[24] * (double)sysconf(_SC_PAGESIZE);
    return true;
}

double conan_rss_bytes(void)
{
    struct conan_process_stat st;
    return conan_process_stat(&st) ? st.rss_bytes : 0;
}

double conan_memory_limit_bytes(const struct conan_cgroup *cg, const char **source)
{
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    double limit = cg ? conan_cgroup_memory_limit(cg) : 0;
    if (limit > 0 && (ram <= 0 || limit < ram)) {
        if (source) *source = "cgroup";
        return limit;
    }
    if (source) *source = "ram";
    return ram;
}
