/* test_cgroup.c — cgroup resolution, CPU quota and memory limit, against
 * fixture trees and the real system. Usage: test_cgroup <fixtures dir> (tests/fixtures/cgroup).
 *
 * Why fixtures: the development host only has a v1 "cpu" controller (and an
 * empty v2 "unified" mount), so cgroup v2 limits, co-mounted cpu,cpuacct,
 * namespaced and container layouts cannot exist here for real. Each fixture
 * directory is a root prefix holding proc/self/cgroup, proc/self/mountinfo and
 * the sys/fs/cgroup files the quota and memory readers open (v1 memory limits
 * are tested for real, as root, by integration/memory_rule). Trees for garbage input are
 * written at run time into a temporary directory instead. */
#include "internal.h"
#include "check.h"
#include "fixtures.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOCKER_ID "3f4c2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b"
#define POD_CONTAINER_ID "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"


static bool all_empty(const struct conan_cgroup *cg)
{
    return !cg->v2_dir[0] && !cg->v2_mount[0] && !cg->cpu_v1_dir[0] && !cg->cpu_v1_mount[0] &&
           !cg->mem_v1_dir[0] && !cg->mem_v1_mount[0] && !cg->id[0] && !cg->container_id[0];
}

static bool is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* (a) pure v2: the limit sits on the nested cgroup, its parent says "max". */
static void test_v2_nested(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("a_v2_nested", &cg, root), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/app.slice/web.service"));
    CHECK_STR(cg.v2_mount, under(root, "/sys/fs/cgroup"));
    CHECK_STR(cg.cpu_v1_dir, "");
    CHECK_STR(cg.mem_v1_dir, "");
    CHECK_STR(cg.id, "/app.slice/web.service");
    CHECK_STR(cg.container_id, "");
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.5, 1e-9);
    /* memory.max: "max" on the service, 512 MiB on its parent */
    CHECK_NEAR(conan_cgroup_memory_limit(&cg), 536870912.0, 0);
}

/* (b) v2: the parent is tighter than the child, so the walk must reach it. */
static void test_v2_parent_tighter(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("b_v2_parent_tighter", &cg, root), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/system.slice/docker-" DOCKER_ID ".scope"));
    CHECK_STR(cg.id, "/system.slice/docker-" DOCKER_ID ".scope");
    CHECK_STR(cg.container_id, DOCKER_ID);
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.25, 1e-9);
    /* memory.max: 1 GiB on the container, a looser 2 GiB above it */
    CHECK_NEAR(conan_cgroup_memory_limit(&cg), 1073741824.0, 0);
}

/* (c) v2 without any limit. */
static void test_v2_no_limit(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("c_v2_no_limit", &cg, root), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/user.slice/session-1.scope"));
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);
    CHECK_NEAR(conan_cgroup_memory_limit(&cg), 0, 0);
}

/* (d) v1 with cpu,cpuacct co-mounted, docker's cgroupfs layout. The container
 * (1.5) is tighter than its parent "docker" (4), which must not win. */
static void test_v1_cpu_cpuacct(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("d_v1_cpu_cpuacct", &cg, root), 0);
    CHECK_STR(cg.v2_dir, "");
    CHECK_STR(cg.cpu_v1_dir, under(root, "/sys/fs/cgroup/cpu,cpuacct/docker/" DOCKER_ID));
    CHECK_STR(cg.cpu_v1_mount, under(root, "/sys/fs/cgroup/cpu,cpuacct"));
    CHECK_STR(cg.mem_v1_dir, under(root, "/sys/fs/cgroup/memory/docker/" DOCKER_ID));
    CHECK_STR(cg.mem_v1_mount, under(root, "/sys/fs/cgroup/memory"));
    CHECK_STR(cg.id, "/docker/" DOCKER_ID);
    CHECK_STR(cg.container_id, DOCKER_ID);
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 1.5, 1e-9);
}

/* (e) hybrid, like the development host: v1 controllers and an empty unified
 * v2 mount. Both are reported; the quota comes from v1. */
static void test_hybrid(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("e_hybrid", &cg, root), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/unified"));
    CHECK_STR(cg.v2_mount, under(root, "/sys/fs/cgroup/unified"));
    CHECK_STR(cg.cpu_v1_dir, under(root, "/sys/fs/cgroup/cpu"));
    CHECK_STR(cg.cpu_v1_mount, under(root, "/sys/fs/cgroup/cpu"));
    CHECK_STR(cg.mem_v1_dir, under(root, "/sys/fs/cgroup/memory/process_api/350b"));
    CHECK_STR(cg.id, "/");
    CHECK_STR(cg.container_id, "");
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 2.0, 1e-9);
}

/* (f) v1 with cfs_quota_us = -1 everywhere: no limit. */
static void test_v1_no_quota(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("f_v1_no_quota", &cg, root), 0);
    CHECK_STR(cg.cpu_v1_dir, under(root, "/sys/fs/cgroup/cpu,cpuacct/batch"));
    CHECK_STR(cg.id, "/batch");
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);
}

/* With both v2 and v1 limits (fixtures mixed by hand), the smaller wins. */
static void test_v2_and_v1_together(void)
{
    struct conan_cgroup v2, v1;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("a_v2_nested", &v2, root), 0);        /* 0.5 */
    CHECK_INT(resolve_fixture("j_cpu_lookalikes", &v1, root), 0);   /* 0.75 */
    memcpy(v2.cpu_v1_dir, v1.cpu_v1_dir, sizeof v2.cpu_v1_dir);
    memcpy(v2.cpu_v1_mount, v1.cpu_v1_mount, sizeof v2.cpu_v1_mount);
    CHECK_NEAR(conan_cgroup_cpu_quota(&v2), 0.5, 1e-9);

    CHECK_INT(resolve_fixture("h_cgroupns", &v2, root), 0);         /* 2.0 */
    CHECK_INT(resolve_fixture("d_v1_cpu_cpuacct", &v1, root), 0);   /* 1.5 */
    memcpy(v2.cpu_v1_dir, v1.cpu_v1_dir, sizeof v2.cpu_v1_dir);
    memcpy(v2.cpu_v1_mount, v1.cpu_v1_mount, sizeof v2.cpu_v1_mount);
    CHECK_NEAR(conan_cgroup_cpu_quota(&v2), 1.5, 1e-9);
}

/* (h) cgroup namespace: mountinfo's root is the host's view of the container
 * cgroup, not a prefix of our namespaced path, so the path is used as is. The
 * limit sits on the mount point itself (the container's cgroup). */
static void test_cgroup_namespace(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("h_cgroupns", &cg, root), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/worker"));
    CHECK_STR(cg.v2_mount, under(root, "/sys/fs/cgroup"));
    CHECK_STR(cg.id, "/worker");
    /* Not in our path, but in the mount's root. */
    CHECK_STR(cg.container_id, POD_CONTAINER_ID);
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 2.0, 1e-9);
}

/* (k) v1 bind-mounted into a container without a cgroup namespace: the mount's
 * root equals our path, so it is stripped and the mount point is our cgroup. */
static void test_v1_mount_root_prefix(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("k_v1_mount_root_prefix", &cg, root), 0);
    CHECK_STR(cg.cpu_v1_dir, under(root, "/sys/fs/cgroup/cpu,cpuacct"));
    CHECK_STR(cg.cpu_v1_mount, under(root, "/sys/fs/cgroup/cpu,cpuacct"));
    CHECK_STR(cg.container_id, DOCKER_ID);
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.5, 1e-9);
}

/* (i) a mount point with a space, escaped as \040 in mountinfo. */
static void test_escaped_space(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("i_escaped_space", &cg, root), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/my cgroups/svc"));
    CHECK_STR(cg.v2_mount, under(root, "/sys/fs/cgroup/my cgroups"));
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.3, 1e-9);
}

/* (j) "cpuset" and "cpuacct" lines and mounts around the "cpu" ones must not be
 * taken for it (the wrong directories hold a tighter 0.1 quota as bait). */
static void test_cpu_lookalikes(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("j_cpu_lookalikes", &cg, root), 0);
    CHECK_STR(cg.cpu_v1_dir, under(root, "/sys/fs/cgroup/cpu/right"));
    CHECK_STR(cg.cpu_v1_mount, under(root, "/sys/fs/cgroup/cpu"));
    CHECK_STR(cg.id, "/right");
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.75, 1e-9);

    /* Only cpuacct and cpuset are mounted: the "cpu" line has no mount. */
    CHECK_INT(resolve_fixture("j2_no_cpu_mount", &cg, root), -1);
    CHECK(all_empty(&cg));
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);
}

/* ------------------------------------------------ trees written at run time */

static void write_file(const char *root, const char *relative, const char *content, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, relative);
    for (char *slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(content, 1, len, f) == len);
    fclose(f);
}

static void write_text(const char *root, const char *relative, const char *text)
{
    write_file(root, relative, text, strlen(text));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *root)
{
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* (g) nothing to read: an empty root, a root with half the files, a missing root. */
static void test_missing_files(void)
{
    struct conan_cgroup cg;
    char empty[] = "/tmp/test_cgroup_empty.XXXXXX";
    CHECK(mkdtemp(empty) != NULL);
    memset(&cg, 'x', sizeof cg);
    CHECK_INT(conan_cgroup_resolve(empty, &cg), -1);
    CHECK(all_empty(&cg));
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);

    /* Only the cgroup file, no mountinfo. */
    write_text(empty, "proc/self/cgroup", "0::/a\n");
    CHECK_INT(conan_cgroup_resolve(empty, &cg), -1);
    CHECK(all_empty(&cg));
    remove_tree(empty);

    CHECK_INT(conan_cgroup_resolve("/nonexistent/test_cgroup/root", &cg), -1);
    CHECK(all_empty(&cg));
}

/* Long lines, missing fields, relative paths and unparsable or unreadable
 * limit files are skipped; the good lines after them still count. */
static void test_garbage_input(void)
{
    char root[] = "/tmp/test_cgroup_garbage.XXXXXX";
    CHECK(mkdtemp(root) != NULL);

    static char long_line[20000];
    memset(long_line, 'a', sizeof long_line);
    memcpy(long_line, "0::/", 4);
    long_line[sizeof long_line - 1] = '\n';

    char cgroup[sizeof long_line + 256];
    size_t n = 0;
    memcpy(cgroup, long_line, sizeof long_line);
    n += sizeof long_line;
    const char *rest = "garbage\n::\n5:memory\n0::relative\n\n1:cpu\n0::/good";  /* no final newline */
    memcpy(cgroup + n, rest, strlen(rest));
    n += strlen(rest);
    write_file(root, "proc/self/cgroup", cgroup, n);

    char mountinfo[sizeof long_line + 1024];
    n = 0;
    memcpy(mountinfo, long_line, sizeof long_line);
    n += sizeof long_line;
    rest = "1 2 3\n"
           "1 2 0:1 / /x rw -\n"
           "1 2 0:1 / /x rw - cgroup2\n"
           "1 2 0:1 / /y rw shared:1 cgroup2 cgroup2 rw\n"
           "1 2 0:1 / relative rw - cgroup2 cgroup2 rw\n"
           "1 2 0:1 / /z\\000 rw - cgroup2 cgroup2 rw\n"
           "26 23 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    memcpy(mountinfo + n, rest, strlen(rest));
    n += strlen(rest);
    write_file(root, "proc/self/mountinfo", mountinfo, n);

    write_text(root, "sys/fs/cgroup/good/cpu.max", "garbage\n");
    write_text(root, "sys/fs/cgroup/cpu.max/placeholder", "cpu.max is a directory\n");

    struct conan_cgroup cg;
    CHECK_INT(conan_cgroup_resolve(root, &cg), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/good"));
    CHECK_STR(cg.v2_mount, under(root, "/sys/fs/cgroup"));
    CHECK_STR(cg.id, "/good");
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);

    /* Other unusable limit values. */
    const char *bad_cpu_max[] = { "", "0 100000", "-5 100000", "50000 0", "50000", "50000 x",
                                  "99999999999999999999999 100000" };
    for (size_t i = 0; i < sizeof bad_cpu_max / sizeof *bad_cpu_max; i++) {
        write_text(root, "sys/fs/cgroup/good/cpu.max", bad_cpu_max[i]);
        CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);
    }
    write_text(root, "sys/fs/cgroup/good/cpu.max", "  20000   100000");
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.2, 1e-9);

    /* A path escaping the namespace ("/../..") falls back to the mount point. */
    write_text(root, "proc/self/cgroup", "0::/../../elsewhere\n");
    CHECK_INT(conan_cgroup_resolve(root, &cg), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup"));

    /* A mount root that shares only a prefix of characters is not a parent:
     * "/doc" does not contain "/docker/x". */
    write_text(root, "proc/self/cgroup", "0::/docker/x\n");
    write_text(root, "proc/self/mountinfo", "26 23 0:23 /doc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    CHECK_INT(conan_cgroup_resolve(root, &cg), 0);
    CHECK_STR(cg.v2_dir, under(root, "/sys/fs/cgroup/docker/x"));

    remove_tree(root);
}

/* Hand-made structs with odd paths: the ancestor walk must end, never read
 * outside what it was given, and give 0 when nothing is readable. */
static void test_odd_paths(void)
{
    struct conan_cgroup cg;
    memset(&cg, 0, sizeof cg);
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);

    const char *dirs[][2] = {
        { "/nonexistent/a/b/../c//", "/nonexistent/x" },  /* dir not under mount */
        { "/nonexistent/a/b/", "/nonexistent" },
        { "relative/path", "" },
        { "///", "/" },
        { "/", "/" },
        { "/nonexistent", "" },
        { "", "/nonexistent" },
    };
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(cg.v2_dir, sizeof cg.v2_dir, "%s", dirs[i][0]);
        snprintf(cg.v2_mount, sizeof cg.v2_mount, "%s", dirs[i][1]);
        snprintf(cg.cpu_v1_dir, sizeof cg.cpu_v1_dir, "%s", dirs[i][0]);
        snprintf(cg.cpu_v1_mount, sizeof cg.cpu_v1_mount, "%s", dirs[i][1]);
        CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0, 0);
    }
}

/* The real system, whatever it is. On the development host (hybrid, v1 "cpu")
 * this demands a cpu_v1_dir that exists; on a pure v2 host, a v2_dir. */
static void test_real_system(void)
{
    struct conan_cgroup cg;
    CHECK_INT(conan_cgroup_resolve("", &cg), 0);

    /* Independent of the parser: does /proc/self/cgroup list a v1 "cpu" controller? */
    bool has_v1_cpu = false, has_v2 = false;
    FILE *f = fopen("/proc/self/cgroup", "r");
    CHECK(f != NULL);
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) == 0) has_v2 = true;
        if (strstr(line, ":cpu:") || strstr(line, ":cpu,") || strstr(line, ",cpu:") ||
            strstr(line, ",cpu,"))
            has_v1_cpu = true;
    }
    if (f) fclose(f);

    if (has_v1_cpu) {
        CHECK(cg.cpu_v1_dir[0] != '\0');
        CHECK(is_directory(cg.cpu_v1_dir));
        CHECK(is_directory(cg.cpu_v1_mount));
        CHECK(strncmp(cg.cpu_v1_dir, cg.cpu_v1_mount, strlen(cg.cpu_v1_mount)) == 0);
    } else if (has_v2) {
        CHECK(cg.v2_dir[0] != '\0');
    }
    if (cg.v2_dir[0]) CHECK(is_directory(cg.v2_dir));
    if (cg.mem_v1_dir[0]) CHECK(is_directory(cg.mem_v1_dir));
    CHECK(cg.id[0] == '/');
    CHECK(conan_cgroup_cpu_quota(&cg) >= 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <fixtures dir>\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    CHECK_INT(strlen(DOCKER_ID), 64);
    CHECK_INT(strlen(POD_CONTAINER_ID), 64);

    test_v2_nested();
    test_v2_parent_tighter();
    test_v2_no_limit();
    test_v1_cpu_cpuacct();
    test_hybrid();
    test_v1_no_quota();
    test_missing_files();
    test_cgroup_namespace();
    test_escaped_space();
    test_cpu_lookalikes();
    test_v1_mount_root_prefix();
    test_v2_and_v1_together();
    test_garbage_input();
    test_odd_paths();
    test_real_system();
    CHECK_DONE();
}
