/* pressure.c — STUB, being written: see pressure.h. */
#include "pressure.h"
#include <string.h>
bool conan_cpu_stat_parse(const char *text, struct conan_cpu_stat *out) { (void)text; memset(out, 0, sizeof *out); return false; }
bool conan_throttle_meter_open(struct conan_throttle_meter *m, const struct conan_cgroup *cg) { (void)cg; memset(m, 0, sizeof *m); return false; }
bool conan_throttle_meter_read(struct conan_throttle_meter *m, double *percent, double *throttled_s) { (void)m; *percent = *throttled_s = 0; return false; }
const char *conan_psi_name(enum conan_psi_resource r) { return r == CONAN_PSI_CPU ? "cpu" : r == CONAN_PSI_MEMORY ? "memory" : "io"; }
bool conan_psi_parse(const char *text, uint64_t *some_us, uint64_t *full_us) { (void)text; *some_us = *full_us = 0; return false; }
int conan_psi_meter_open(struct conan_psi_meter *m, const struct conan_cgroup *cg, bool host_fallback, const char *root) { (void)cg; (void)host_fallback; (void)root; memset(m, 0, sizeof *m); return 0; }
void conan_psi_meter_read(struct conan_psi_meter *m, double now_s, double percent[CONAN_PSI_COUNT], bool available[CONAN_PSI_COUNT]) { (void)m; (void)now_s; for (int i = 0; i < CONAN_PSI_COUNT; i++) { percent[i] = 0; available[i] = false; } }
