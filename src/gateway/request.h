// aegis-gateway: the aegis._write_request call of one request
// (src/core/write_request.h). Each database connection keeps a series
// dictionary with its backend: a series' metric and tags are sent the first
// time the connection writes it, and from then on only its slot, so neither
// side builds, sends or parses a tag set per sample.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/batch.h"

namespace aegis::gateway {

// The series a connection has defined to its backend, by key: the bytes
// that identify a series in the protocol it came by (a remote-write series'
// label fields, or a parsed series' metric and tags JSON), with a byte in
// front naming the kind. Two keys of one series (labels in another order)
// are two slots of the same series, which the server merges.
class SeriesDictionary {
public:
    SeriesDictionary() { Reset(); }

    // Forgets every slot and takes a new id; the next request tells the
    // backend to start again too. After any failed request (the backend may
    // hold some of its definitions, or none).
    void Reset();
    // The request that carried the reset (if any) was applied.
    void Confirmed() { reset_pending_ = false; }

    uint64_t id() const { return id_; }
    bool reset_pending() const { return reset_pending_; }
    uint32_t size() const { return keys_.size(); }
    // Past this a request starts the dictionary again (the server refuses
    // more than 1,000,000 slots or 256 MB of metrics and tags).
    bool Full() const { return size() >= kMaxSlots || keys_.bytes() >= kMaxKeyBytes; }

    // The slot of `key`, or -1.
    int64_t Find(std::string_view key) const { return keys_.Find(key); }
    // Gives `key` the next slot.
    uint32_t Add(std::string_view key) { return keys_.Add(key); }

    static constexpr uint32_t kMaxSlots = 500000;
    static constexpr size_t kMaxKeyBytes = 64 << 20;

private:
    uint64_t id_ = 0;
    bool reset_pending_ = true;
    KeyIndex keys_;
};

// One request's bytes: the definitions of series new to the dictionary,
// then the samples by slot. Anything but a confirmed write must be followed
// by the dictionary's Reset() (the caller's, see WriteThrough in writer.h).
class RequestBuilder {
public:
    // Starts a full dictionary again first (and one whose reset is pending
    // but which holds series of a request never sent).
    explicit RequestBuilder(SeriesDictionary *dictionary);

    // The slot of `key`; -1 when the dictionary lacks it (then Define it).
    int64_t Find(std::string_view key) const { return dictionary_->Find(key); }
    uint32_t Define(std::string_view key, std::string_view metric, std::string_view tags_json);
    void Sample(uint32_t slot, int64_t ts, double value);

    size_t samples() const { return samples_; }
    size_t definitions() const { return definitions_; }
    // The request (aegis._write_request's argument).
    std::string Finish();

private:
    SeriesDictionary *dictionary_;
    uint32_t first_slot_;
    uint32_t definitions_ = 0, samples_ = 0;
    std::string defined_;  // the header's room, then the definitions
    std::string sampled_;
};

}  // namespace aegis::gateway
