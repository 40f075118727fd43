// aegis-gateway: /metrics (metrics.h).
#include "gateway/metrics.h"

#include <cstdio>
#include <vector>

namespace aegis::gateway {

void Metrics::Request(const std::string &handler, int status, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    counters_["aegis_gateway_requests_total{handler=\"" + handler + "\",code=\"" + std::to_string(status) + "\"}"] += 1;
    counters_["aegis_gateway_request_duration_seconds_sum{handler=\"" + handler + "\"}"] += seconds;
    counters_["aegis_gateway_request_duration_seconds_count{handler=\"" + handler + "\"}"] += 1;
}

void Metrics::Add(const std::string &name_and_labels, double v) {
    std::lock_guard<std::mutex> lock(mu_);
    counters_[name_and_labels] += v;
}

std::string Metrics::Render(size_t in_use, size_t pool) {
    struct Help {
        const char *name, *type, *help;
    };
    static constexpr Help kHelp[] = {
        {"aegis_gateway_requests_total", "counter", "HTTP requests answered, by handler and status code."},
        {"aegis_gateway_request_duration_seconds", "summary", "Time from a request's arrival to its answer."},
        {"aegis_gateway_samples_written_total", "counter",
         "Samples committed to the database, by protocol (remote_write, influx, load)."},
        {"aegis_gateway_samples_skipped_total", "counter",
         "Parts of requests that are not stored, by reason (exemplar, histogram, string_field, bad_line)."},
        {"aegis_gateway_samples_read_total", "counter", "Samples returned by remote read."},
        {"aegis_gateway_metadata_received_total", "counter", "Remote-write metadata entries received."},
        {"aegis_gateway_metadata_errors_total", "counter",
         "Metadata entries the database refused (aegis.describe_metric failed); the request still succeeded."},
        {"aegis_gateway_db_write_duration_seconds", "summary",
         "Time of the aegis._write_request call that commits a request's samples."},
        {"aegis_gateway_series_defined_total", "counter",
         "Series defined to a connection's backend (its metric and tags sent; later samples name it by slot)."},
        {"aegis_gateway_dictionary_resends_total", "counter",
         "Requests sent again from a new series dictionary after the backend refused theirs (55000)."},
    };
    std::string out;
    std::lock_guard<std::mutex> lock(mu_);
    for (const Help &h : kHelp) {
        std::string name = h.name;
        out += "# HELP " + name + " " + h.help + "\n# TYPE " + name + " " + h.type + "\n";
        for (const auto &[key, value] : counters_) {
            if (key.compare(0, name.size(), name) != 0) continue;
            // The counter itself, one of its labelled series, or a summary's
            // _sum and _count.
            char c = key.size() > name.size() ? key[name.size()] : '\0';
            if (c != '\0' && c != '{' && c != '_') continue;
            char num[64];
            std::snprintf(num, sizeof num, "%.17g", value);
            out += key + " " + num + "\n";
        }
    }
    out += "# HELP aegis_gateway_db_connections Database connections of the pool, by state.\n"
           "# TYPE aegis_gateway_db_connections gauge\n";
    out += "aegis_gateway_db_connections{state=\"in_use\"} " + std::to_string(in_use) + "\n";
    out += "aegis_gateway_db_connections{state=\"max\"} " + std::to_string(pool) + "\n";
    return out;
}

}  // namespace aegis::gateway
