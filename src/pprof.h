/* pprof.h — building a pprof profile and encoding it as gzipped
 * profile.proto (pprof.c). */
#ifndef CONAN_PPROF_H
#define CONAN_PPROF_H

#include <stdint.h>
#include "symbols.h"

struct conan_value_type { const char *type, *unit; };
#define CONAN_PPROF_MAX_LABELS 16 /* labels one sample may carry: ours, and a program's (labels.h) */
struct conan_label { const char *key; const char *str; int64_t num; const char *num_unit; };

struct conan_pprof;
struct conan_pprof *conan_pprof_new(const struct conan_value_type *types, int ntypes,
                                    struct conan_value_type period_type, int64_t period);
/* Adds one stack (leaf first, addresses already adjusted as conan_unwind_context
 * gives them). Samples with the same stack and labels are merged. */
int conan_pprof_add(struct conan_pprof *p, const uintptr_t *pcs, int depth,
                    const int64_t *values, const struct conan_label *labels, int nlabels);
void conan_pprof_comment(struct conan_pprof *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A frame that is not code (e.g. "unavailable"): an address to put in a
 * stack, which encodes as a location with that function name and no mapping.
 * 0 if too many names are in use. */
uintptr_t conan_pprof_pseudo_frame(struct conan_pprof *p, const char *name);
void conan_pprof_set_time(struct conan_pprof *p, int64_t time_nanos, int64_t duration_nanos);
void conan_pprof_set_default_type(struct conan_pprof *p, int index);
/* Symbolizes against syms, encodes profile.proto and gzips it into a malloc'd
 * buffer. Returns 0 or -1. */
int conan_pprof_encode(struct conan_pprof *p, struct conan_symbols *syms,
                       void **gz, size_t *gz_len);
void conan_pprof_free(struct conan_pprof *p);

#endif
