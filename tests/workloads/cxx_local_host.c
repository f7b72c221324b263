/* cxx_local_host.c — loads a C++ library with dlopen(RTLD_LOCAL) and has it
 * fail an allocation; prints what the library saw (3 = bad_alloc caught and
 * nothrow returned NULL).
 * usage: cxx_local_host LIBRARY */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    void *lib = argc > 1 ? dlopen(argv[1], RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!lib) {
        fprintf(stderr, "cxx_local_host: %s\n", dlerror());
        return 2;
    }
    int (*try_huge)(size_t) = (int (*)(size_t))dlsym(lib, "cxx_local_try");
    volatile size_t huge = (size_t)1 << 62;
    printf("library result %d\n", try_huge ? try_huge(huge) : -2);
    return 0;
}
