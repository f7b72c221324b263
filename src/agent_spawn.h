/* agent_spawn.h — starting `conan agent` from the shim, one per dump
 * directory (agent_spawn.c). */
#ifndef CONAN_AGENT_SPAWN_H
#define CONAN_AGENT_SPAWN_H

#include "config.h"

/* On the thread that starts the monitor (the constructor's, or a forked
 * child's as fork returns), before the monitor thread exists: decides whether
 * this process spawns agents at all (report.spawn and a reporter configured)
 * and, the first time, copies what the agent will get from the process (its
 * environment without libconan's preload entry, the config file's absolute
 * path) while no other thread can change it. Spawns nothing. */
void conan_agent_spawn_prepare(const struct conan_config *cfg);

/* Monitor thread only. _start at the thread's start, _tick after every tick:
 * every min(report.idle_exit_s / 2, 30) seconds (counted in ticks) the lock
 * file DIR/.conan-agent.lock says whether an agent serves dump_dir; if one
 * does, the file's mtime is set to now (the agent's sign that the directory
 * is in use), and if none does, one is started. */
void conan_agent_spawn_start(const struct conan_config *cfg);
void conan_agent_spawn_tick(const struct conan_config *cfg);

/* An agent that cannot start (its config, a reporter or its listen address
 * refused) writes "failed <unix time>" into the lock file as it leaves
 * (cli/agent.c); for this long afterwards no process starts another. */
#define CONAN_AGENT_FAILED_BACKOFF_S 600

/* Fork hooks (src/fork.c): the prefork hook counts forks begun; the
 * postfork-child hook closes the lock file's descriptor if a check had it
 * open at the fork, so the child never holds the directory's lock. */
void conan_agent_spawn_prefork(void);
void conan_agent_spawn_postfork_child(void);

#endif
