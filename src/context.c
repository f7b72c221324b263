/* context.c — the context of the moment, carried in every profile's comments:
 * who (app, version, tags, host, pid, executable and its build ID, cgroup and
 * container), on what (kernel, glibc, libconan) and why (the trigger with its
 * value, window mean and thresholds). Static facts are collected once at start. */
#include "context.h"
#include "cgroup.h"
#include "config.h"
#include "elf_image.h"
#include "pprof.h"
#include "procfs.h"
#include "stuck.h"
#include "syscall_names.h"
#include "timeline.h"
#include "trip_rules.h"
#include "symbols.h"

#include <gnu/libc-version.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void conan_context_collect(struct conan_context *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    if (gethostname(ctx->host, sizeof ctx->host - 1) != 0) snprintf(ctx->host, sizeof ctx->host, "unknown");
    if (conan_self_exe(ctx->exe, sizeof ctx->exe)) conan_build_id_of_file(ctx->exe, ctx->exe_build_id);
    struct utsname u;
    if (uname(&u) == 0) snprintf(ctx->kernel, sizeof ctx->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    snprintf(ctx->glibc, sizeof ctx->glibc, "%s", gnu_get_libc_version());
    ctx->have_cgroup = conan_cgroup_resolve("", &ctx->cgroup) == 0;
}

static void stuck_comments(struct conan_pprof *p, const struct conan_config *cfg, const struct conan_stuck_report *r)
{
    conan_pprof_comment(p, "trigger: stuck, %d thread%s blocked at one place for stuck.after_s (%d s) or more", r->n,
                        r->n == 1 ? "" : "s", cfg->stuck.after_s);
    for (int i = 0; i < r->n && i < CONAN_STUCK_MAX; i++) {
        const struct conan_stuck_thread *st = &r->thread[i];
        const char *call = conan_syscall_name(st->syscall);
        conan_pprof_comment(p, "stuck: thread %s (tid %d) for %.0f s in %s%s%s", st->name, (int)st->tid, st->for_s,
                            call ? call : "a system call", st->function[0] ? ", in " : "", st->function);
    }
}

void conan_context_comments(struct conan_pprof *p, const struct conan_config *cfg,
                            const struct conan_context *ctx, const struct conan_trigger *t)
{
    conan_pprof_comment(p, "app: %s", cfg->app);
    if (cfg->version[0]) conan_pprof_comment(p, "version: %s", cfg->version);
    for (int i = 0; i < cfg->tags.n; i++) conan_pprof_comment(p, "tag: %s=%s", cfg->tags.key[i], cfg->tags.value[i]);
    conan_pprof_comment(p, "host: %s", ctx->host);
    conan_pprof_comment(p, "pid: %d", (int)getpid());
    conan_pprof_comment(p, "executable: %s", ctx->exe);
    if (ctx->exe_build_id[0]) conan_pprof_comment(p, "build id: %s", ctx->exe_build_id);
    if (ctx->have_cgroup) conan_pprof_comment(p, "cgroup: %s", ctx->cgroup.id);
    /* On hybrid hosts the CPU controller is in v1, elsewhere than the v2 path. */
    if (ctx->cgroup.cpu_v1_dir[0]) conan_pprof_comment(p, "cgroup cpu controller: %s", ctx->cgroup.cpu_v1_dir);
    if (ctx->cgroup.container_id[0]) conan_pprof_comment(p, "container: %s", ctx->cgroup.container_id);
    conan_pprof_comment(p, "kernel: %s", ctx->kernel);
    conan_pprof_comment(p, "glibc: %s", ctx->glibc);
    conan_pprof_comment(p, "libconan: %s", CONAN_VERSION_BUILD);
    if (t->rule)
        conan_pprof_comment(p, "trigger: %s %s, value %.1f, window mean %.1f (min %g, diff %g%%, abs %g, window %d, sustain %d)",
                            t->metric, conan_reason_name(t->reason), t->value, t->mean, t->rule->min,
                            t->rule->diff, t->rule->abs, t->rule->window, t->rule->sustain);
    else if (t->stuck)
        stuck_comments(p, cfg, t->stuck);
    else
        conan_pprof_comment(p, "trigger: %s", conan_reason_name(t->reason));
    conan_timeline_comments(p, t->timeline, t->at_s, cfg->interval_ms);
}
