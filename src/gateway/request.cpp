// aegis-gateway: series dictionaries and write requests (request.h).
#include "gateway/request.h"

#include <chrono>
#include <functional>
#include <mutex>
#include <random>

#include "core/write_request.h"

namespace aegis::gateway {

void SeriesDictionary::Reset() {
    // Unpredictable ids: a backend that kept another connection's dictionary
    // (a pooler between gateway and server) refuses this one's slots.
    static std::mt19937_64 rng(std::random_device{}() ^
                               static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    static std::mutex mu;
    {
        std::lock_guard<std::mutex> lock(mu);
        do id_ = rng();
        while (id_ == 0);
    }
    reset_pending_ = true;
    keys_.Clear();
}

RequestBuilder::RequestBuilder(SeriesDictionary *dictionary) : dictionary_(dictionary) {
    // A builder before this one may have added series and then never been
    // sent nor followed by a Reset() (an exception while encoding): a
    // request that resets the backend's dictionary must start at slot 0.
    if (dictionary_->Full() || (dictionary_->reset_pending() && dictionary_->size() != 0)) dictionary_->Reset();
    first_slot_ = dictionary_->size();
    defined_.assign(core::kWriteRequestHeaderBytes, '\0');
}

uint32_t RequestBuilder::Define(std::string_view key, std::string_view metric, std::string_view tags_json) {
    core::AppendWriteRequestDefinition(&defined_, metric, tags_json);
    definitions_++;
    return dictionary_->Add(key);
}

void RequestBuilder::Sample(uint32_t slot, int64_t ts, double value) {
    core::AppendWriteRequestSample(&sampled_, slot, ts, value);
    samples_++;
}

std::string RequestBuilder::Finish() {
    core::PutWriteRequestHeader(&defined_[0], dictionary_->id(), dictionary_->reset_pending(), first_slot_,
                                definitions_, samples_);
    defined_.append(sampled_);
    return std::move(defined_);
}

}  // namespace aegis::gateway
