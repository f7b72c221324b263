/* fixtures.h — the cgroup fixture trees of the unit tests (tests/fixtures/):
 * resolving one as the process's root, and paths under it for expectations.
 * The test's main sets `fixtures` to the directory it was given. */
#ifndef CONAN_TEST_FIXTURES_H
#define CONAN_TEST_FIXTURES_H

#include <limits.h>
#include "cgroup.h"
#include "log.h"

static const char *fixtures;

/* Resolves fixture `name`; its root path goes to root_out for building expectations. */
static inline int resolve_fixture(const char *name, struct conan_cgroup *cg, char *root_out)
{
    if (!conan_format(root_out, PATH_MAX, "%s/%s", fixtures, name)) return -1;
    return conan_cgroup_resolve(root_out, cg);
}

/* "<root><suffix>" in a static buffer (two, alternating), for CHECK_STR expectations. */
static inline const char *under(const char *root, const char *suffix)
{
    static char path[2][PATH_MAX];
    static int which;
    which ^= 1;
    if (!conan_format(path[which], PATH_MAX, "%s%s", root, suffix)) return "(path too long)";
    return path[which];
}

#endif
