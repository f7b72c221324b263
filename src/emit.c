/* emit.c — one way for every kind (cpu, heap, threadcreate, threads) to turn
 * a built profile into a dump file and its events.jsonl line: stamp it with
 * its time and context, encode, write, record, prune. Monitor thread only. */
#include "emit.h"

#include <assert.h>
#include <stdlib.h>
#include "clock.h"
#include "log.h"

void conan_emit_stamp(struct conan_pprof *p, const struct conan_config *cfg, const struct conan_context *ctx,
                      const struct conan_trigger *t, int64_t time_ns, int64_t duration_ns)
{
    if (!p) return;
    conan_pprof_set_time(p, time_ns, duration_ns);
    conan_context_comments(p, cfg, ctx, t);
}

void conan_emit_write(const struct conan_config *cfg, struct conan_pprof *p, struct conan_symbols *syms,
                      struct conan_event *ev, double t0_s)
{
    assert(ev->kind && ev->trigger);
    char path[PATH_MAX] = "";
    void *gz = NULL;
    size_t gz_len = 0;
    if (!syms) syms = conan_symbols_open();
    int rc = p && syms ? conan_pprof_encode(p, syms, &gz, &gz_len) : -1; /* no symbols: out of memory */
    if (syms) conan_symbols_close(syms);
    if (rc != 0) {
        ev->error = "could not build the profile (out of memory?)";
        conan_log("could not build the %s profile; skipped", ev->kind);
    } else if (conan_dump_write(cfg, ev->kind, gz, gz_len, path, sizeof path) != 0) {
        ev->error = "could not write the profile (see stderr)";
    } else {
        ev->file = path;
        ev->bytes = gz_len;
    }
    free(gz);
    ev->write_ms = (conan_monotonic_seconds() - t0_s) * 1000.0;
    conan_pprof_free(p);
    conan_dump_event(cfg, ev);
    conan_dump_prune(cfg);
}
