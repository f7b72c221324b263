// cpp_server.cpp — a small C++ "server" for CPU profiles of idiomatic C++:
// worker threads (named worker-N) each parse a deterministic stream of text
// requests into std::string/std::vector, apply them to their own shard
// (std::unordered_map and std::map; kvstore::fingerprint hashes the values),
// and reject malformed ones by throwing kvstore::BadRequest from a few frames
// down, caught in the serving loop.
// Prints one line per worker and a total; the output does not depend on
// timing.
// usage: cpp_server THREADS REQUESTS_PER_THREAD
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <pthread.h>

namespace kvstore {

class BadRequest : public std::runtime_error {
public:
    explicit BadRequest(const std::string &what) : std::runtime_error(what) {}
};

struct Request {
    std::string verb;
    std::vector<std::string> args;
};

class RequestParser {
public:
    __attribute__((noinline)) Request parse(const std::string &line) const
    {
        Request r;
        std::size_t start = 0;
        while (start < line.size()) {
            std::size_t end = line.find(' ', start);
            if (end == std::string::npos) end = line.size();
            std::string word = line.substr(start, end - start);
            if (r.verb.empty())
                r.verb = word;
            else
                r.args.push_back(validate_argument(word));
            start = end + 1;
        }
        return r;
    }

private:
    __attribute__((noinline)) static std::string validate_argument(const std::string &word)
    {
        for (char c : word)
            if (c == '!') throw BadRequest("bad character in '" + word + "'");
        return word;
    }
};

// FNV-1a over the value, a few rounds: the shard's own hot spot.
__attribute__((noinline)) std::uint64_t fingerprint(const std::string &value)
{
    std::uint64_t h = 14695981039346656037ull;
    for (int round = 0; round < 64; round++)
        for (unsigned char c : value) h = (h ^ c) * 1099511628211ull;
    return h;
}

class Shard {
public:
    __attribute__((noinline)) void apply(const Request &r)
    {
        if (r.verb == "SET" && r.args.size() == 2) {
            values_[r.args[0]] = r.args[1];
            writes_[r.args[0]]++;
            digest_ ^= fingerprint(r.args[1]);
        } else if (r.verb == "GET" && r.args.size() == 1) {
            auto it = values_.find(r.args[0]);
            hits_ += it != values_.end();
        } else {
            throw BadRequest("unknown verb " + r.verb);
        }
    }
    std::size_t keys() const { return values_.size(); }
    long hits() const { return hits_; }
    std::uint64_t digest() const { return digest_; }
    long most_written() const
    {
        long most = 0;
        for (const auto &w : writes_) most = w.second > most ? w.second : most;
        return most;
    }

private:
    std::unordered_map<std::string, std::string> values_;
    std::map<std::string, long> writes_;
    long hits_ = 0;
    std::uint64_t digest_ = 0;
};

class Worker {
public:
    explicit Worker(int id) : id_(id) {}

    __attribute__((noinline)) void serve(long requests)
    {
        char name[16];
        std::snprintf(name, sizeof name, "worker-%d", id_);
        pthread_setname_np(pthread_self(), name);
        RequestParser parser;
        for (long i = 0; i < requests; i++) {
            try {
                shard_.apply(parser.parse(next_request(i)));
                served_++;
            } catch (const BadRequest &) {
                rejected_++;
            }
        }
    }

    void report() const
    {
        std::printf("worker-%d served %ld rejected %ld keys %zu hits %ld most written %ld digest %016llx\n", id_,
                    served_, rejected_, shard_.keys(), shard_.hits(), shard_.most_written(),
                    (unsigned long long)shard_.digest());
    }
    long served() const { return served_; }
    long rejected() const { return rejected_; }

private:
    // Blocks of 20 requests on one key: three SETs, then GETs; one request
    // in ten is malformed (a bad character, or an unknown verb).
    std::string next_request(long i) const
    {
        std::string key = "user:" + std::to_string((i / 20 * 7919 + id_) % 5000);
        switch (i % 20) {
        case 3: return "SET " + key + " bad!value";
        case 17: return "DEL " + key;
        case 0: case 1: case 2: return "SET " + key + " session-" + std::to_string(i) + "-of-a-signed-in-user";
        default: return "GET " + key;
        }
    }

    int id_;
    Shard shard_;
    long served_ = 0, rejected_ = 0;
};

}  // namespace kvstore

int main(int argc, char **argv)
{
    int threads = argc > 1 ? std::atoi(argv[1]) : 2;
    long requests = argc > 2 ? std::atol(argv[2]) : 1000000;
    std::vector<kvstore::Worker> workers;
    for (int t = 0; t < threads; t++) workers.emplace_back(t);
    std::vector<std::thread> running;
    for (auto &w : workers) running.emplace_back(&kvstore::Worker::serve, &w, requests);
    for (auto &t : running) t.join();
    long served = 0, rejected = 0;
    for (const auto &w : workers) {
        w.report();
        served += w.served();
        rejected += w.rejected();
    }
    std::printf("total served %ld rejected %ld\n", served, rejected);
    return 0;
}
