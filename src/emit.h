/* emit.h — how a built profile becomes a dump, the same for every kind
 * (emit.c). */
#ifndef CONAN_EMIT_H
#define CONAN_EMIT_H

#include <stdint.h>
#include "config.h"
#include "context.h"
#include "dump.h"
#include "pprof.h"
#include "symbols.h"

/* Right after p is built (before its own comments): its time and duration,
 * and the context comments (process, trigger, rule). p may be NULL. */
void conan_emit_stamp(struct conan_pprof *p, const struct conan_config *cfg, const struct conan_context *ctx,
                      const struct conan_trigger *t, int64_t time_ns, int64_t duration_ns);
/* Symbolizes (with syms, opened when p was built, or symbols opened now),
 * encodes and writes p as a dump of ev->kind, fills ev's file, size and
 * write_ms (from t0_s, monotonic), appends ev to events.jsonl and prunes the
 * directory. Takes p and syms. A NULL p (out of memory) is an event with an
 * error. */
void conan_emit_write(const struct conan_config *cfg, struct conan_pprof *p, struct conan_symbols *syms,
                      struct conan_event *ev, double t0_s);

#endif
