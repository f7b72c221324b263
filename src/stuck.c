/* stuck.c — STUB, being written: see stuck.h. */
#include "stuck.h"
#include <string.h>
void conan_stuck_reset(void) {}
void conan_stuck_check(const struct conan_config *cfg, double now_s, struct conan_stuck_report *out) { (void)cfg; (void)now_s; out->n = out->fresh = 0; }
void conan_stuck_reported(const struct conan_stuck_report *report) { (void)report; }
const struct conan_stuck_thread *conan_stuck_find(const struct conan_stuck_report *report, pid_t tid) { for (int i = 0; report && i < report->n && i < CONAN_STUCK_MAX; i++) if (report->thread[i].tid == tid) return &report->thread[i]; return NULL; }
const char *conan_syscall_name(long nr) { (void)nr; return NULL; }
