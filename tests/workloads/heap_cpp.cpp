// heap_cpp.cpp — C++ allocation under the shim: new/delete, std::string,
// std::vector, std::map, exceptions thrown and caught, on four threads.
// SessionCache::remember keeps LEAK_MIB MiB alive with new[]; the rest is
// churn that is all freed. operator new's contract is checked too: bad_alloc
// thrown, nothrow's nullptr, the new_handler called, over-aligned types. Then,
// with DUMP_DIR and the shim present, a heap profile is requested on demand
// and awaited (10 s at most). With HEAP_CPP_NO_FAILING_NEW set, the checks
// of failing allocations are left out (under a sanitizer, whose operator new aborts).
// usage: heap_cpp LEAK_MIB [DUMP_DIR]
#include <cstdint>
#include <cstdio>
#include <new>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <time.h>

#include "profiles.h"

class SessionCache {
public:
    __attribute__((noinline)) void remember(std::size_t bytes)
    {
        char *block = new char[bytes];
        std::memset(block, 7, bytes);
        blocks_.push_back(block);
    }
    std::size_t size() const { return blocks_.size(); }

private:
    std::vector<char *> blocks_;
};

__attribute__((noinline)) static void parse_requests(int seed)
{
    std::map<std::string, std::vector<int>> index;
    for (int i = 0; i < 20000; i++) {
        std::string key = "request-" + std::to_string((i * 7919 + seed) % 5000);
        index[key].push_back(i);
        try {
            if (i % 97 == 0) throw std::runtime_error("bad request " + key);
        } catch (const std::exception &e) {
            auto copy = std::make_unique<std::string>(e.what());
            if (copy->empty()) std::abort();
        }
    }
}

struct alignas(256) Aligned {
    char bytes[300];
};

static int handler_calls;
static void count_and_give_up()
{
    handler_calls++;
    std::set_new_handler(nullptr); // the next failure throws
}

// operator new's contract, which the shim must keep, for failing allocations:
// bad_alloc thrown, nothrow's nullptr, the new_handler called. Prints one line.
__attribute__((noinline)) static void check_failing_new()
{
    volatile std::size_t huge = std::size_t(1) << 62;
    bool threw = false;
    try {
        char *p = new char[huge];
        p[0] = 1;
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    char *none = new (std::nothrow) char[huge];
    std::set_new_handler(count_and_give_up);
    bool threw_after_handler = false;
    try {
        char *p = new char[huge];
        p[0] = 1;
    } catch (const std::bad_alloc &) {
        threw_after_handler = true;
    }
    std::printf("bad_alloc %d, nothrow null %d, new_handler calls %d then bad_alloc %d\n", threw, none == nullptr,
                handler_calls, threw_after_handler);
}

// The rest of it (over-aligned types, new of 0 bytes). Prints one line.
__attribute__((noinline)) static void check_operator_new()
{
    if (!std::getenv("HEAP_CPP_NO_FAILING_NEW")) check_failing_new();
    bool aligned = true;
    std::vector<std::unique_ptr<Aligned>> objects;
    for (int i = 0; i < 100; i++) {
        objects.emplace_back(new Aligned());
        aligned = aligned && reinterpret_cast<std::uintptr_t>(objects.back().get()) % 256 == 0;
    }
    Aligned *array = new Aligned[3];
    aligned = aligned && reinterpret_cast<std::uintptr_t>(array) % 256 == 0;
    delete[] array;
    char *zero = new char[0];
    delete[] zero;
    std::printf("aligned %d, new[0] %d\n", aligned, zero != nullptr);
}

int main(int argc, char **argv)
{
    std::size_t leak = (argc > 1 ? std::atol(argv[1]) : 32) << 20;
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; t++) workers.emplace_back(parse_requests, t);
    SessionCache cache;
    for (std::size_t kept = 0; kept < leak; kept += 16384) cache.remember(16384);
    for (auto &w : workers) w.join();
    check_operator_new();
    std::printf("kept %zu blocks\n", cache.size());
    std::fflush(stdout);
    if (argc > 2) request_profiles(argv[2], "heap", 1);
    return 0;
}
