// cxx_local_lib.cpp — a C++ library a C host loads with dlopen(RTLD_LOCAL), as
// Python's ctypes and extension modules do: its C++ runtime is not in the
// global scope. A failed new must still throw bad_alloc here, and the nothrow
// form must still return nullptr.
#include <cstddef>
#include <new>
#include <string>

static char *volatile sink; // keeps the compiler from eliding the allocations

extern "C" int cxx_local_try(std::size_t huge)
{
    int result = 0;
    std::string kept(1000, 'x'); // an ordinary allocation through the library
    try {
        sink = new char[huge];
    } catch (const std::bad_alloc &) {
        result |= 1;
    }
    sink = new (std::nothrow) char[huge];
    if (sink == nullptr) result |= 2;
    return kept.size() == 1000 ? result : -1;
}
