/* cgroup.h — where the process's cgroups are and what they allow (cgroup.c). */
#ifndef CONAN_CGROUP_H
#define CONAN_CGROUP_H

#include <limits.h>
#include <stddef.h>

/* Where this process's cgroups live. Paths include the root prefix that
 * conan_cgroup_resolve was given, so readers can open them directly. */
struct conan_cgroup {
    char v2_dir[PATH_MAX];       /* unified-hierarchy directory, "" if none */
    char v2_mount[PATH_MAX];     /* its mount point (where the ancestor walk stops) */
    char cpu_v1_dir[PATH_MAX];   /* v1 "cpu" controller directory, "" if none */
    char cpu_v1_mount[PATH_MAX];
    char mem_v1_dir[PATH_MAX];   /* v1 "memory" controller directory, "" if none */
    char mem_v1_mount[PATH_MAX];
    char id[PATH_MAX];           /* the cgroup path as /proc/self/cgroup shows it */
    char container_id[80];       /* a container id found in that path, or "" */
};

/* Finds the cgroups from <root>/proc/self/cgroup and <root>/proc/self/mountinfo
 * (root is "" on a real system; tests pass a fixture tree). Returns 0 if at least
 * one hierarchy was found, -1 otherwise (out is then all empty strings). */
int conan_cgroup_resolve(const char *root, struct conan_cgroup *out);
/* CPUs the cgroup quota allows (e.g. 0.5), the smallest along the path up to the
 * mount point, v2 cpu.max and v1 cfs_quota_us/cfs_period_us both considered.
 * Returns 0 when no quota applies or nothing could be read. */
double conan_cgroup_cpu_quota(const struct conan_cgroup *cg);
/* The same quota, and the directory of the cgroup that sets it into dir (if
 * not NULL): the nearest to the process among equal quotas; v1 on a tie
 * between v2 and v1. Returns 0 and dir "" when no quota applies or the
 * directory does not fit in len. */
double conan_cgroup_cpu_quota_dir(const struct conan_cgroup *cg, char *dir, size_t len);
/* Bytes of memory the cgroups allow (v2 memory.max, v1 memory.limit_in_bytes),
 * the smallest along the path up to the mount point; 0 when none applies. */
double conan_cgroup_memory_limit(const struct conan_cgroup *cg);

#endif
