// aegis-gateway: its own counters, served at GET /metrics in Prometheus's
// text format (docs/gateway.md lists them).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace aegis::gateway {

class Metrics {
public:
    void Request(const std::string &handler, int status, double seconds);
    void Add(const std::string &name_and_labels, double v);
    // The exposition; `in_use` and `pool` describe the connection pool now.
    std::string Render(size_t in_use, size_t pool);

private:
    std::mutex mu_;
    std::map<std::string, double> counters_;  // "name{labels}" -> value
};

}  // namespace aegis::gateway
