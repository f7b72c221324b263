// heap_cpp.cpp — C++ allocation under the shim: new/delete through libstdc++,
// std::string, std::vector, std::map, exceptions thrown and caught, on four
// threads. SessionCache::remember keeps LEAK_MIB MiB alive with new[]; the
// rest is churn that is all freed. Then, with DUMP_DIR and the shim present,
// a heap profile is requested on demand and awaited (10 s at most).
// usage: heap_cpp LEAK_MIB [DUMP_DIR]
#include <dirent.h>
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <time.h>

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

static bool heap_profile_in(const char *dir)
{
    DIR *d = opendir(dir);
    bool found = false;
    while (dirent *e = d ? readdir(d) : nullptr)
        if (e->d_name[0] != '.' && std::strstr(e->d_name, ".heap.") && std::strstr(e->d_name, ".pb.gz")) found = true;
    if (d) closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    std::size_t leak = (argc > 1 ? std::atol(argv[1]) : 32) << 20;
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; t++) workers.emplace_back(parse_requests, t);
    SessionCache cache;
    for (std::size_t kept = 0; kept < leak; kept += 16384) cache.remember(16384);
    for (auto &w : workers) w.join();
    std::printf("kept %zu blocks\n", cache.size());
    std::fflush(stdout);
    auto request = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "conan_request_profile"));
    if (argc > 2 && request && request() == 0)
        for (int i = 0; i < 200 && !heap_profile_in(argv[2]); i++) {
            timespec ms = { 0, 50000000 };
            nanosleep(&ms, nullptr);
        }
    return 0;
}
