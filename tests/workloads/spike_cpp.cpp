// spike_cpp.cpp — a C++ workload whose hot function lives in a namespace and a
// class, so tests can check that pprof shows demangled names.
// usage: spike_cpp CALM_MS BURST_MS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace conan_demo {

class Crunch {
public:
    __attribute__((noinline)) double hot_loop(long ms)
    {
        auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        double x = 1.0001;
        std::vector<std::string> names;
        while (std::chrono::steady_clock::now() < end)
            for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
        return x;
    }
};

}  // namespace conan_demo

int main(int argc, char **argv)
{
    long calm = argc > 1 ? std::atol(argv[1]) : 500, burst = argc > 2 ? std::atol(argv[2]) : 2000;
    std::this_thread::sleep_for(std::chrono::milliseconds(calm));
    conan_demo::Crunch c;
    volatile double r = c.hot_loop(burst);
    std::printf("crunched %d\n", r > 0);
    return 0;
}
