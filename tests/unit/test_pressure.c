/* test_pressure.c — cpu.stat and PSI parsing, which cgroup the throttle meter
 * reads, which files the PSI meter picks, and the shares both meters report
 * between two readings. Usage: test_pressure <fixtures dir> (tests/fixtures/pressure).
 *
 * The fixtures: cpu_stat/ and psi/ hold file texts as the kernels write them
 * (v1 and v2 cpu.stat with and without burst keys, a PSI cpu file without
 * "full" as older kernels write it) and malformed ones; v2_parent_tighter/,
 * v2_no_quota/ and v1_tie/ are root prefixes for conan_cgroup_resolve, as in
 * tests/fixtures/cgroup. The read tests copy texts into a temporary directory
 * and rewrite them with larger (or smaller) counters between two reads. The
 * real system is checked last: this development host is cgroup v1 for cpu
 * with /proc/pressure, which other hosts may lack (the case is then skipped). */
#include "internal.h"
#include "pressure.h"
#include "check.h"
#include "fixtures.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* "<fixtures>/<relative>" in one of two static buffers (two may be in use). */
static const char *fixture(const char *relative)
{
    static char path[2][PATH_MAX];
    static int which;
    which ^= 1;
    if (!conan_format(path[which], PATH_MAX, "%s/%s", fixtures, relative)) return "(path too long)";
    return path[which];
}

/* The text of a file into buf; "" if unreadable. */
static const char *slurp(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return buf;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *fixture_text(const char *relative)
{
    static char text[4096];
    return slurp(fixture(relative), text, sizeof text);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fputs(text, f) >= 0);
    fclose(f);
}

static void make_dirs(const char *root, const char *relative)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/", root, relative);
    for (char *slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *root) { nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }


/* ---------------------------------------------------------- cpu.stat parsing */

static void test_cpu_stat_v1(void)
{
    struct conan_cpu_stat s;
    CHECK(conan_cpu_stat_parse(fixture_text("cpu_stat/v1"), &s));
    CHECK_INT(s.periods, 1000);
    CHECK_INT(s.throttled, 250);
    CHECK_NEAR(s.throttled_s, 12.5, 1e-12);

    /* Newer kernels add nr_bursts and burst_time to v1 too (this host does). */
    CHECK(conan_cpu_stat_parse(fixture_text("cpu_stat/v1_bursts"), &s));
    CHECK_INT(s.periods, 1000);
    CHECK_INT(s.throttled, 250);
    CHECK_NEAR(s.throttled_s, 12.5, 1e-12);
}

static void test_cpu_stat_v2(void)
{
    const char *files[] = { "cpu_stat/v2", "cpu_stat/v2_bursts", "cpu_stat/v2_reordered_no_newline" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct conan_cpu_stat s;
        CHECK(conan_cpu_stat_parse(fixture_text(files[i]), &s));
        CHECK_INT(s.periods, 5000);
        CHECK_INT(s.throttled, 1000);
        CHECK_NEAR(s.throttled_s, 3.0, 1e-12);
    }
}

/* Without the period counters there is nothing to measure; values that are
 * not plain decimals, or keys that only resemble ours, do not count. */
static void test_cpu_stat_malformed(void)
{
    const char *files[] = { "cpu_stat/v2_no_cpu_controller",    "cpu_stat/malformed_no_periods",
                            "cpu_stat/malformed_negative",      "cpu_stat/malformed_value_on_next_line",
                            "cpu_stat/malformed_trailing_junk", "cpu_stat/malformed_overflow",
                            "cpu_stat/malformed_lookalike_keys" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct conan_cpu_stat s;
        if (conan_cpu_stat_parse(fixture_text(files[i]), &s)) {
            fprintf(stderr, "parsed malformed %s\n", files[i]);
            CHECK(false);
        }
    }
    const char *texts[] = { "",
                            "\n\n",
                            "nr_periods",
                            "nr_periods \nnr_throttled 1",
                            " \t",
                            "nr_periods +5\nnr_throttled 1",
                            "nr_periods 0x10\nnr_throttled 1" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        struct conan_cpu_stat s;
        CHECK(!conan_cpu_stat_parse(texts[i], &s));
    }
    /* A bad throttled time is skipped; the period counters still stand. */
    struct conan_cpu_stat s;
    CHECK(conan_cpu_stat_parse("nr_periods 4\nnr_throttled 1\nthrottled_usec x\n", &s));
    CHECK_INT(s.periods, 4);
    CHECK_NEAR(s.throttled_s, 0, 0);
    CHECK(conan_cpu_stat_parse("nr_periods 4 \t\nnr_throttled\t1", &s)); /* blanks around values */
    CHECK_INT(s.throttled, 1);
}

/* --------------------------------------------------------------- PSI parsing */

static void test_psi_parse(void)
{
    uint64_t some, full;
    CHECK(conan_psi_parse(fixture_text("psi/cgroup_cpu"), &some, &full));
    CHECK_INT(some, 14141023100ULL);
    CHECK_INT(full, 2500000);
    CHECK(conan_psi_parse(fixture_text("psi/cgroup_io"), &some, &full));
    CHECK_INT(some, 41723991);
    CHECK_INT(full, 13551274);
    /* Older kernels' /proc/pressure/cpu has no "full" line. */
    CHECK(conan_psi_parse(fixture_text("psi/host_cpu_old_kernel"), &some, &full));
    CHECK_INT(some, 14154640045ULL);
    CHECK_INT(full, 0);
    /* No final newline. */
    CHECK(conan_psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=7", &some, &full));
    CHECK_INT(some, 7);
}

static void test_psi_malformed(void)
{
    const char *files[] = { "psi/malformed_empty_total", "psi/malformed_full_only", "psi/malformed_trailing_junk" };
    uint64_t some, full;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (conan_psi_parse(fixture_text(files[i]), &some, &full)) {
            fprintf(stderr, "parsed malformed %s\n", files[i]);
            CHECK(false);
        }
    }
    const char *texts[] = { "",
                            "some",
                            "some \n",
                            "total=5\n",
                            "somex total=5\n",
                            "some total=-5\n",
                            "some total=\n5\n",
                            "some avg10=1 totalx=5\n",
                            "some total=99999999999999999999999\n" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) CHECK(!conan_psi_parse(texts[i], &some, &full));
    /* A broken "full" line is 0, the "some" total still counts. */
    CHECK(conan_psi_parse("some total=9\nfull total=x\n", &some, &full));
    CHECK_INT(some, 9);
    CHECK_INT(full, 0);
}

static void test_psi_names(void)
{
    CHECK_STR(conan_psi_name(CONAN_PSI_CPU), "cpu");
    CHECK_STR(conan_psi_name(CONAN_PSI_MEMORY), "memory");
    CHECK_STR(conan_psi_name(CONAN_PSI_IO), "io");
}

/* ------------------------------------------------------- throttle meter open */

/* v2: the service allows 0.5 CPU but its parent 0.25, so the parent's
 * cpu.stat is the one that counts the throttling. */
static void test_throttle_open_parent_binds(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("v2_parent_tighter", &cg, root), 0);
    char dir[PATH_MAX];
    CHECK_NEAR(conan_cgroup_cpu_quota_dir(&cg, dir, sizeof dir), 0.25, 1e-9);
    CHECK_STR(dir, under(root, "/sys/fs/cgroup/app.slice"));
    CHECK_NEAR(conan_cgroup_cpu_quota(&cg), 0.25, 1e-9);

    struct conan_throttle_meter m;
    CHECK(conan_throttle_meter_open(&m, &cg));
    CHECK_STR(m.path, under(root, "/sys/fs/cgroup/app.slice/cpu.stat"));
    CHECK(!m.primed);

    /* A dir buffer too small for the path: no quota rather than a cut path. */
    char small[8];
    CHECK_NEAR(conan_cgroup_cpu_quota_dir(&cg, small, sizeof small), 0, 0);
    CHECK_STR(small, "");
}

static void test_throttle_open_no_quota(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("v2_no_quota", &cg, root), 0);
    char dir[PATH_MAX] = "x";
    CHECK_NEAR(conan_cgroup_cpu_quota_dir(&cg, dir, sizeof dir), 0, 0);
    CHECK_STR(dir, "");
    struct conan_throttle_meter m;
    memset(&m, 'x', sizeof m);
    CHECK(!conan_throttle_meter_open(&m, &cg));
    CHECK_STR(m.path, "");
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 0, 0);

    CHECK(!conan_throttle_meter_open(&m, NULL)); /* no cgroup found at all */
    CHECK_STR(m.path, "");
}

/* v1: kubepods 4 CPUs, the pod 2, the container 2: of the equal quotas the
 * nearest (the container) binds; the looser kubepods never does. */
static void test_throttle_open_v1_tie(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("v1_tie", &cg, root), 0);
    const char *ctr = "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr";
    char dir[PATH_MAX];
    CHECK_NEAR(conan_cgroup_cpu_quota_dir(&cg, dir, sizeof dir), 2.0, 1e-9);
    CHECK_STR(dir, under(root, ctr));
    struct conan_throttle_meter m;
    CHECK(conan_throttle_meter_open(&m, &cg));
    CHECK_STR(m.path, under(root, "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/ctr/cpu.stat"));

    /* Its first read primes: the fixture is read, nothing reported yet. */
    double percent = -1, throttled_s = -1;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(m.primed);
    CHECK_INT(m.last.periods, 1000);
    CHECK_NEAR(percent, 0, 0);
    CHECK_NEAR(throttled_s, 0, 0);
}

/* Both hierarchies with a quota (mixed by hand, as test_cgroup does): the
 * smaller wins, v1 on a tie (where the cpu controller lives on hybrid hosts). */
static void test_throttle_open_v2_and_v1(void)
{
    struct conan_cgroup v2, v1;
    char v2_root[PATH_MAX], v1_root[PATH_MAX], dir[PATH_MAX];
    CHECK_INT(resolve_fixture("v2_parent_tighter", &v2, v2_root), 0); /* 0.25 */
    CHECK_INT(resolve_fixture("v1_tie", &v1, v1_root), 0);            /* 2.0 */
    memcpy(v2.cpu_v1_dir, v1.cpu_v1_dir, sizeof v2.cpu_v1_dir);
    memcpy(v2.cpu_v1_mount, v1.cpu_v1_mount, sizeof v2.cpu_v1_mount);
    CHECK_NEAR(conan_cgroup_cpu_quota_dir(&v2, dir, sizeof dir), 0.25, 1e-9);
    CHECK_STR(dir, under(v2_root, "/sys/fs/cgroup/app.slice"));

    /* The v1 side tightened to 0.25 too: a tie, v1 binds. */
    char tmp[] = "/tmp/test_pressure_tie.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", tmp);
    write_text(path, "25000\n");
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", tmp);
    write_text(path, "100000\n");
    snprintf(v2.cpu_v1_dir, sizeof v2.cpu_v1_dir, "%s", tmp);
    snprintf(v2.cpu_v1_mount, sizeof v2.cpu_v1_mount, "%s", tmp);
    CHECK_NEAR(conan_cgroup_cpu_quota_dir(&v2, dir, sizeof dir), 0.25, 1e-9);
    CHECK_STR(dir, tmp);
    remove_tree(tmp);
}

/* ------------------------------------------------------- throttle meter read */

/* Copies a cpu.stat fixture into dir and points a meter at the copy. */
static void meter_on_copy(struct conan_throttle_meter *m, const char *dir, const char *fixture_name)
{
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s/cpu.stat", dir);
    write_text(m->path, fixture_text(fixture_name));
}

static void test_throttle_read_v1(void)
{
    char tmp[] = "/tmp/test_pressure_v1.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    struct conan_throttle_meter m;
    meter_on_copy(&m, tmp, "cpu_stat/v1_bursts");
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s)); /* primes */

    /* 100 more periods, 30 of them throttled, 1.5 s more throttled time. */
    write_text(m.path,
               "nr_periods 1100\nnr_throttled 280\nthrottled_time 14000000000\nnr_bursts 3\nburst_time 4000000\n");
    CHECK(conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 30.0, 1e-12);
    CHECK_NEAR(throttled_s, 1.5, 1e-12);

    /* No period ended: 0 %, not a division by zero. */
    CHECK(conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 0, 0);
    CHECK_NEAR(throttled_s, 0, 0);
    remove_tree(tmp);
}

static void test_throttle_read_v2(void)
{
    char tmp[] = "/tmp/test_pressure_v2.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    struct conan_throttle_meter m;
    meter_on_copy(&m, tmp, "cpu_stat/v2_bursts");
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));

    /* 200 periods, 50 throttled, 0.25 s, keys in another order. */
    write_text(m.path, "nr_throttled 1050\nthrottled_usec 3250000\nnr_periods 5200\nusage_usec 1\n");
    CHECK(conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 25.0, 1e-12);
    CHECK_NEAR(throttled_s, 0.25, 1e-12);

    /* Every period throttled. */
    write_text(m.path, "nr_periods 5210\nnr_throttled 1060\nthrottled_usec 3260000\n");
    CHECK(conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 100.0, 0);
    CHECK_NEAR(throttled_s, 0.01, 1e-12);
    remove_tree(tmp);
}

/* The cgroup made anew: counters restart near 0. That read primes again, the
 * next one measures from it. */
static void test_throttle_read_backwards(void)
{
    char tmp[] = "/tmp/test_pressure_back.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    struct conan_throttle_meter m;
    meter_on_copy(&m, tmp, "cpu_stat/v2");
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));

    write_text(m.path, "nr_periods 10\nnr_throttled 2\nthrottled_usec 1000\n");
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 0, 0);
    CHECK_INT(m.last.periods, 10);

    write_text(m.path, "nr_periods 20\nnr_throttled 7\nthrottled_usec 501000\n");
    CHECK(conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK_NEAR(percent, 50.0, 1e-12);
    CHECK_NEAR(throttled_s, 0.5, 1e-12);

    /* Only the throttled time went back: that is a new cgroup too. */
    write_text(m.path, "nr_periods 30\nnr_throttled 8\nthrottled_usec 0\n");
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    remove_tree(tmp);
}

/* Unreadable or unparsable: false, and the next good read primes again. */
static void test_throttle_read_unreadable(void)
{
    char tmp[] = "/tmp/test_pressure_gone.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    struct conan_throttle_meter m;
    meter_on_copy(&m, tmp, "cpu_stat/v2");
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    unlink(m.path);
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(!m.primed);
    write_text(m.path, "nr_periods 5100\nnr_throttled 1010\nthrottled_usec 3100000\n");
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    write_text(m.path, fixture_text("cpu_stat/malformed_no_periods"));
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(!m.primed);
    write_text(m.path, "");
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    remove_tree(tmp);
}

/* A cpu.stat larger than the read buffer: only whole lines are parsed, so a
 * counter cut at the buffer's end is never taken for a smaller one. */
static void test_throttle_read_long_file(void)
{
    char tmp[] = "/tmp/test_pressure_long.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    struct conan_throttle_meter m;
    memset(&m, 0, sizeof m);
    snprintf(m.path, sizeof m.path, "%s/cpu.stat", tmp);
    static char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "nr_periods 100\nnr_throttled 10\n");
    while (n < sizeof text - 64) n += (size_t)snprintf(text + n, sizeof text - n, "padding_key 123456789\n");
    snprintf(text + n, sizeof text - n, "nr_throttled 99999\n");
    write_text(m.path, text);
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(m.primed);
    CHECK_INT(m.last.throttled, 10); /* the late line lies beyond the buffer */
    remove_tree(tmp);
}

/* ----------------------------------------------------------- PSI meter open */

static void test_psi_open_cgroup(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("v2_parent_tighter", &cg, root), 0);
    struct conan_psi_meter m;
    /* cg's paths hold the root already; root is used for /proc/pressure only. */
    CHECK_INT(conan_psi_meter_open(&m, &cg, true, root), 3);
    CHECK_STR(m.source, "cgroup");
    CHECK_STR(m.path[CONAN_PSI_CPU], under(root, "/sys/fs/cgroup/app.slice/web.service/cpu.pressure"));
    CHECK_STR(m.path[CONAN_PSI_MEMORY], under(root, "/sys/fs/cgroup/app.slice/web.service/memory.pressure"));
    CHECK_STR(m.path[CONAN_PSI_IO], under(root, "/sys/fs/cgroup/app.slice/web.service/io.pressure"));
    CHECK_INT(conan_psi_meter_open(&m, &cg, false, root), 3);
    CHECK_STR(m.source, "cgroup");
}

/* No pressure files in the cgroup: the host's, only when allowed. */
static void test_psi_open_host(void)
{
    struct conan_cgroup cg;
    char root[PATH_MAX];
    CHECK_INT(resolve_fixture("v2_no_quota", &cg, root), 0);
    struct conan_psi_meter m;
    CHECK_INT(conan_psi_meter_open(&m, &cg, true, root), 3);
    CHECK_STR(m.source, "host");
    CHECK_STR(m.path[CONAN_PSI_CPU], under(root, "/proc/pressure/cpu"));
    CHECK_STR(m.path[CONAN_PSI_MEMORY], under(root, "/proc/pressure/memory"));
    CHECK_STR(m.path[CONAN_PSI_IO], under(root, "/proc/pressure/io"));

    memset(&m, 'x', sizeof m);
    CHECK_INT(conan_psi_meter_open(&m, &cg, false, root), 0);
    CHECK(m.source == NULL);
    for (int r = 0; r < CONAN_PSI_COUNT; r++) CHECK_STR(m.path[r], "");

    /* No cgroup at all (cg NULL), host allowed. */
    CHECK_INT(conan_psi_meter_open(&m, NULL, true, root), 3);
    CHECK_STR(m.source, "host");
    CHECK_INT(conan_psi_meter_open(&m, NULL, false, root), 0);
    CHECK(m.source == NULL);
    /* Nothing under the root. */
    CHECK_INT(conan_psi_meter_open(&m, NULL, true, "/nonexistent/test_pressure"), 0);
    CHECK(m.source == NULL);
}

/* One resource missing or unusable in the cgroup (an empty file stands for PSI
 * switched off, which reads as an error): the host fills that gap only. */
static void test_psi_open_gaps(void)
{
    char tmp[] = "/tmp/test_pressure_gaps.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    make_dirs(tmp, "cg");
    make_dirs(tmp, "proc/pressure");
    struct conan_cgroup cg;
    memset(&cg, 0, sizeof cg);
    snprintf(cg.v2_dir, sizeof cg.v2_dir, "%s/cg", tmp);
    snprintf(cg.v2_mount, sizeof cg.v2_mount, "%s/cg", tmp);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cg/cgroup.type", tmp); /* a child cgroup, not the root */
    write_text(path, "domain\n");
    snprintf(path, sizeof path, "%s/cg/cpu.pressure", tmp);
    write_text(path, fixture_text("psi/cgroup_cpu"));
    snprintf(path, sizeof path, "%s/cg/memory.pressure", tmp);
    write_text(path, "");
    const char *host[] = { "cpu", "memory", "io" };
    for (int r = 0; r < CONAN_PSI_COUNT; r++) {
        snprintf(path, sizeof path, "%s/proc/pressure/%s", tmp, host[r]);
        write_text(path, fixture_text("psi/cgroup_io"));
    }

    struct conan_psi_meter m;
    CHECK_INT(conan_psi_meter_open(&m, &cg, true, tmp), 3);
    CHECK_STR(m.source, "cgroup");
    CHECK_STR(m.path[CONAN_PSI_CPU], under(tmp, "/cg/cpu.pressure"));
    CHECK_STR(m.path[CONAN_PSI_MEMORY], under(tmp, "/proc/pressure/memory"));
    CHECK_STR(m.path[CONAN_PSI_IO], under(tmp, "/proc/pressure/io"));

    CHECK_INT(conan_psi_meter_open(&m, &cg, false, tmp), 1);
    CHECK_STR(m.path[CONAN_PSI_MEMORY], "");
    CHECK_STR(m.path[CONAN_PSI_IO], "");

    /* The root cgroup (no cgroup.type) holds the whole machine's figures:
     * they count as none without the host fallback, and with it the
     * machine's come from /proc/pressure. */
    snprintf(path, sizeof path, "%s/cg/cgroup.type", tmp);
    CHECK(unlink(path) == 0);
    CHECK_INT(conan_psi_meter_open(&m, &cg, false, tmp), 0);
    CHECK(m.source == NULL);
    CHECK_INT(conan_psi_meter_open(&m, &cg, true, tmp), 3);
    CHECK_STR(m.source, "host");
    CHECK_STR(m.path[CONAN_PSI_CPU], under(tmp, "/proc/pressure/cpu"));
    remove_tree(tmp);
}

/* ----------------------------------------------------------- PSI meter read */

/* A host /proc/pressure copied into tmp (old kernel cpu file, no "full"). */
static void write_host_psi(const char *tmp, const char *cpu, const char *memory, const char *io)
{
    const char *names[] = { "cpu", "memory", "io" }, *texts[] = { cpu, memory, io };
    char path[PATH_MAX];
    for (int r = 0; r < CONAN_PSI_COUNT; r++) {
        snprintf(path, sizeof path, "%s/proc/pressure/%s", tmp, names[r]);
        write_text(path, texts[r]);
    }
}

static void test_psi_read(void)
{
    char tmp[] = "/tmp/test_pressure_psi.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    make_dirs(tmp, "proc/pressure");
    char cpu[256], memory[256], io[256];
    snprintf(cpu, sizeof cpu, "%s", fixture_text("psi/host_cpu_old_kernel"));
    snprintf(memory, sizeof memory, "%s", fixture_text("psi/cgroup_memory"));
    snprintf(io, sizeof io, "%s", fixture_text("psi/cgroup_io"));
    write_host_psi(tmp, cpu, memory, io);

    struct conan_psi_meter m;
    CHECK_INT(conan_psi_meter_open(&m, NULL, true, tmp), 3);
    double percent[CONAN_PSI_COUNT];
    bool available[CONAN_PSI_COUNT];
    conan_psi_meter_read(&m, 10.0, percent, available); /* primes */
    for (int r = 0; r < CONAN_PSI_COUNT; r++) {
        CHECK(!available[r]);
        CHECK_NEAR(percent[r], 0, 0);
    }

    /* One second later: cpu stalled 0.25 s, memory not at all, io 2 s
     * (clamped: the kernel's clock and ours differ a little). */
    write_host_psi(tmp, "some avg10=5.89 avg60=8.04 avg300=7.28 total=14154890045\n", memory,
                   "some avg10=0.00 avg60=0.04 avg300=0.02 total=43723991\nfull avg10=0.00 avg60=0.02 avg300=0.00 "
                   "total=13551274\n");
    conan_psi_meter_read(&m, 11.0, percent, available);
    for (int r = 0; r < CONAN_PSI_COUNT; r++) CHECK(available[r]);
    CHECK_NEAR(percent[CONAN_PSI_CPU], 25.0, 1e-12);
    CHECK_NEAR(percent[CONAN_PSI_MEMORY], 0, 0);
    CHECK_NEAR(percent[CONAN_PSI_IO], 100.0, 0);

    /* Half a second, 0.1 s of memory stall: 20 %. */
    write_host_psi(
        tmp, "some avg10=5.89 avg60=8.04 avg300=7.28 total=14154890045\n",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=209895\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3389\n",
        "some avg10=0.00 avg60=0.04 avg300=0.02 total=43723991\n");
    conan_psi_meter_read(&m, 11.5, percent, available);
    CHECK(available[CONAN_PSI_MEMORY]);
    CHECK_NEAR(percent[CONAN_PSI_MEMORY], 20.0, 1e-12);
    CHECK_NEAR(percent[CONAN_PSI_CPU], 0, 0);
    remove_tree(tmp);
}

/* A total that went backwards re-primes that resource alone; an unreadable
 * file is unavailable and primes again once back; a clock that did not
 * advance measures nothing. */
static void test_psi_read_reprime(void)
{
    char tmp[] = "/tmp/test_pressure_psi_back.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    make_dirs(tmp, "proc/pressure");
    write_host_psi(tmp, "some total=1000000\n", "some total=1000000\n", "some total=1000000\n");
    struct conan_psi_meter m;
    CHECK_INT(conan_psi_meter_open(&m, NULL, true, tmp), 3);
    double percent[CONAN_PSI_COUNT];
    bool available[CONAN_PSI_COUNT];
    conan_psi_meter_read(&m, 100.0, percent, available);

    write_host_psi(tmp, "some total=500\n", "some total=1100000\n", "some total=1000000\n");
    conan_psi_meter_read(&m, 101.0, percent, available);
    CHECK(!available[CONAN_PSI_CPU]);
    CHECK(available[CONAN_PSI_MEMORY]);
    CHECK_NEAR(percent[CONAN_PSI_MEMORY], 10.0, 1e-12);
    CHECK(available[CONAN_PSI_IO]);

    write_host_psi(tmp, "some total=400500\n", "some total=1100000\n", "some total=1000000\n");
    conan_psi_meter_read(&m, 103.0, percent, available);
    CHECK(available[CONAN_PSI_CPU]);
    CHECK_NEAR(percent[CONAN_PSI_CPU], 20.0, 1e-12);

    /* io removed, then back. */
    char io[PATH_MAX];
    snprintf(io, sizeof io, "%s/proc/pressure/io", tmp);
    unlink(io);
    conan_psi_meter_read(&m, 104.0, percent, available);
    CHECK(!available[CONAN_PSI_IO]);
    CHECK(available[CONAN_PSI_CPU]);
    write_text(io, "some total=2000000\n");
    conan_psi_meter_read(&m, 105.0, percent, available);
    CHECK(!available[CONAN_PSI_IO]);
    write_text(io, "some total=2300000\n");
    conan_psi_meter_read(&m, 106.0, percent, available);
    CHECK(available[CONAN_PSI_IO]);
    CHECK_NEAR(percent[CONAN_PSI_IO], 30.0, 1e-12);

    /* The same instant again: nothing to divide by, so it primes. */
    conan_psi_meter_read(&m, 106.0, percent, available);
    for (int r = 0; r < CONAN_PSI_COUNT; r++) CHECK(!available[r]);
    conan_psi_meter_read(&m, 107.0, percent, available);
    for (int r = 0; r < CONAN_PSI_COUNT; r++) CHECK(available[r]);

    /* A meter with no files reads as all unavailable. */
    struct conan_psi_meter none;
    CHECK_INT(conan_psi_meter_open(&none, NULL, false, tmp), 0);
    conan_psi_meter_read(&none, 1.0, percent, available);
    conan_psi_meter_read(&none, 2.0, percent, available);
    for (int r = 0; r < CONAN_PSI_COUNT; r++) CHECK(!available[r]);
    remove_tree(tmp);
}

/* ------------------------------------------------------------- real system */

/* This host has /proc/pressure/{cpu,io,memory} (kernels since 4.20 with PSI
 * on); with the host allowed and no cgroup, all three come from there. */
static void test_real_host_psi(void)
{
    if (access("/proc/pressure/cpu", R_OK) != 0) {
        printf("skip real PSI: /proc/pressure/cpu is not readable (kernel without PSI, or psi=0)\n");
        return;
    }
    struct conan_psi_meter m;
    CHECK_INT(conan_psi_meter_open(&m, NULL, true, ""), 3);
    CHECK_STR(m.source, "host");
    CHECK_STR(m.path[CONAN_PSI_CPU], "/proc/pressure/cpu");
    double percent[CONAN_PSI_COUNT];
    bool available[CONAN_PSI_COUNT];
    conan_psi_meter_read(&m, conan_monotonic_seconds(), percent, available);
    conan_sleep_ms(20);
    conan_psi_meter_read(&m, conan_monotonic_seconds(), percent, available);
    for (int r = 0; r < CONAN_PSI_COUNT; r++) {
        CHECK(available[r]);
        CHECK(percent[r] >= 0 && percent[r] <= 100);
    }

    /* With the process's own cgroup: whatever it offers, still 3 files. */
    struct conan_cgroup cg;
    if (conan_cgroup_resolve("", &cg) != 0) return;
    CHECK_INT(conan_psi_meter_open(&m, &cg, true, ""), 3);
    CHECK(m.source != NULL);
    printf("real PSI with the cgroup: source %s, cpu file %s\n", m.source ? m.source : "(none)", m.path[CONAN_PSI_CPU]);
}

/* The throttle meter opens exactly when some quota applies. */
static void test_real_throttle(void)
{
    struct conan_cgroup cg;
    if (conan_cgroup_resolve("", &cg) != 0) {
        printf("skip real throttle: no cgroup found\n");
        return;
    }
    struct conan_throttle_meter m;
    bool opened = conan_throttle_meter_open(&m, &cg);
    CHECK(opened == (conan_cgroup_cpu_quota(&cg) > 0));
    CHECK(opened == (m.path[0] != '\0'));
    printf("real throttle meter: %s\n", opened ? m.path : "no quota applies");
    if (!opened) return;
    double percent, throttled_s;
    CHECK(!conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(conan_throttle_meter_read(&m, &percent, &throttled_s));
    CHECK(percent >= 0 && percent <= 100 && throttled_s >= 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <fixtures dir>\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    test_cpu_stat_v1();
    test_cpu_stat_v2();
    test_cpu_stat_malformed();
    test_psi_parse();
    test_psi_malformed();
    test_psi_names();
    test_throttle_open_parent_binds();
    test_throttle_open_no_quota();
    test_throttle_open_v1_tie();
    test_throttle_open_v2_and_v1();
    test_throttle_read_v1();
    test_throttle_read_v2();
    test_throttle_read_backwards();
    test_throttle_read_unreadable();
    test_throttle_read_long_file();
    test_psi_open_cgroup();
    test_psi_open_host();
    test_psi_open_gaps();
    test_psi_read();
    test_psi_read_reprime();
    test_real_host_psi();
    test_real_throttle();
    CHECK_DONE();
}
