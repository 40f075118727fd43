// make bench: remote-write load on aegis-gateway, as Prometheus sends it.
//
//   remote_write_bench URL SERIES SAMPLES_PER_REQUEST ROUNDS CONCURRENCY [FIRST_ROUND]
//
// SERIES series (metric bench_metric_<i % 100>, labels instance and job),
// one sample per series per round (10 s apart, values a random walk with
// two decimals); each round is cut into requests of SAMPLES_PER_REQUEST
// samples, snappy-compressed WriteRequests built before the clock starts,
// sent by CONCURRENCY connections (request k of a round always by connection
// k % CONCURRENCY, as Prometheus's shards keep a series on one connection). Round r is stamped 2023-11-14 22:13:20
// UTC + r * 10 s (FIRST_ROUND, default 0, continues an earlier run). Prints "samples N seconds S rate R
// failed F" (F: requests not answered 2xx).
#include <httplib.h>
#include <snappy.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "remote.pb.h"

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        std::fprintf(stderr, "usage: %s URL SERIES SAMPLES_PER_REQUEST ROUNDS CONCURRENCY [FIRST_ROUND]\n", argv[0]);
        return 2;
    }
    std::string url = argv[1];
    long series = std::atol(argv[2]), per_request = std::atol(argv[3]), rounds = std::atol(argv[4]);
    int concurrency = std::atoi(argv[5]);
    long first_round = argc == 7 ? std::atol(argv[6]) : 0;
    size_t slash = url.find('/', url.find("//") + 2);
    std::string host = url.substr(0, slash), path = url.substr(slash);

    std::mt19937_64 rng(42);
    std::vector<double> value(static_cast<size_t>(series));
    for (double &v : value) v = static_cast<double>(rng() % 10000) / 100;
    std::vector<std::string> bodies;
    int64_t t0 = 1700000000000;
    size_t samples = 0;
    for (long r = first_round; r < first_round + rounds; r++) {
        for (long first = 0; first < series; first += per_request) {
            aegis::prompb::WriteRequest req;
            for (long i = first; i < std::min(series, first + per_request); i++) {
                auto *ts = req.add_timeseries();
                auto *l = ts->add_labels();
                l->set_name("__name__");
                l->set_value("bench_metric_" + std::to_string(i % 100));
                l = ts->add_labels();
                l->set_name("instance");
                l->set_value("host-" + std::to_string(i / 100) + ":9100");
                l = ts->add_labels();
                l->set_name("job");
                l->set_value("node");
                auto *s = ts->add_samples();
                value[static_cast<size_t>(i)] += static_cast<double>(static_cast<int>(rng() % 201) - 100) / 100;
                s->set_value(value[static_cast<size_t>(i)]);
                s->set_timestamp(t0 + r * 10000);
                samples++;
            }
            std::string raw = req.SerializeAsString(), body;
            snappy::Compress(raw.data(), raw.size(), &body);
            bodies.push_back(std::move(body));
        }
    }
    // As Prometheus's shards: a series always goes through the same
    // connection, its rounds in order (Prometheus refuses out-of-order
    // samples), so connection c sends request k of every round with k % C == c.
    const size_t per_round = static_cast<size_t>((series + per_request - 1) / per_request);
    std::atomic<size_t> failed{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < concurrency; c++) {
        threads.emplace_back([&, c] {
            httplib::Client client(host);
            client.set_read_timeout(60, 0);
            httplib::Headers h = {{"Content-Encoding", "snappy"}, {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
            for (size_t round = 0; round * per_round < bodies.size(); round++) {
                for (size_t k = static_cast<size_t>(c); k < per_round; k += static_cast<size_t>(concurrency)) {
                    size_t i = round * per_round + k;
                    if (i >= bodies.size()) break;
                    auto res = client.Post(path.c_str(), h, bodies[i], "application/x-protobuf");
                    if (!res || res->status / 100 != 2) failed++;
                }
            }
        });
    }
    for (auto &t : threads) t.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("samples %zu seconds %.3f rate %.0f failed %zu\n", samples, s, samples / s, failed.load());
    return failed > 0 ? 1 : 0;
}
