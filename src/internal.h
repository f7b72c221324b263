/* internal.h — the umbrella of the engine's per-subsystem headers, for code
 * that uses most of them (the unit tests, tools). Files of src/ and preload/
 * include the headers they need instead. Nothing declared here is exported
 * from libconan.so; the public API is include/conan.h.
 *
 * The data path, in the order the headers are listed:
 *   interposers (preload/) → collectors (metrics, cgroup, procfs, heap, threads)
 *   → trip rules (rules) → samplers (sigprof, cpu, threads) → stack walks
 *   (unwind, frame_rules) → ELF images, symbols → pprof → dump files (dump). */
#ifndef CONAN_INTERNAL_H
#define CONAN_INTERNAL_H

#include "log.h"
#include "once.h"
#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "cgroup.h"
#include "procfs.h"
#include "heap.h"
#include "thread_registry.h"
#include "thread_snapshot.h"
#include "trip_rules.h"
#include "decide.h"
#include "actions.h"
#include "monitor.h"
#include "sigprof.h"
#include "cpu.h"
#include "stack_walk.h"
#include "frame_rules.h"
#include "elf_image.h"
#include "symbols.h"
#include "pprof.h"
#include "context.h"
#include "emit.h"
#include "kinds.h"
#include "dump.h"
#include "fork.h"
#include "stack_slot.h"
#include "inherit.h"
#include "interpose.h"
#include "pressure.h"
#include "stuck.h"
#include "syscall_names.h"
#include "timeline.h"
#include "memory_where.h"
#include "labels.h"
#include "thread_ask.h"
#include "wall.h"

#endif
