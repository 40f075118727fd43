// Time partitions of aegis.blocks (docs/architecture.md, "Partitions").
//
// aegis.blocks is partitioned by range of ts_min; every partition is listed
// in aegis.block_partitions. A block never crosses a partition boundary, so
// a partition whose end is older than a cutoff holds only points older than
// it and can be dropped whole. Partitions are created on demand, aligned to
// aegis.partition_interval in UTC, and clipped so they never overlap the ones
// that exist (the interval may change over time). Every function here needs
// an open SPI connection. The bookkeeping tables are read directly (a scan,
// not a statement; under Citus, whose shards hold their rows, a statement)
// or as the tables' owner, whatever the caller's privileges.
#pragma once

#include <cstdint>
#include <vector>

#include "core/types.h"
#include "pg/postgres_headers.h"

namespace aegis::pg {

struct PartitionRange {
  core::Timestamp lo = 0;  // inclusive
  core::Timestamp hi = 0;  // exclusive
  Oid relid = InvalidOid;  // InvalidOid for a 0.1.0 database's one table
  bool exists = true;      // false: none now; [lo, hi) is the gap between partitions around ts
};

// The partition that holds blocks starting at ts, locked (ROW EXCLUSIVE) so
// it cannot be dropped before this transaction ends; created when missing.
// Never waits for another transaction's partition work: creating one holds
// a lock every other creator needs until the creating transaction ends, so a
// partition another transaction is creating (or dropping) right now comes
// back with exists false (the caller keeps those points as recent rows or
// leaves them to the next round).
PartitionRange FindPartition(core::Timestamp ts);

// Every partition, in time order (with a fresh snapshot).
std::vector<PartitionRange> ListPartitions();

// The partitions that may hold blocks starting in [lo, hi), in time order,
// from the backend's cache of aegis.block_partitions, with aegis.blocks
// locked (ACCESS SHARE) first so that the cache has seen the partitions
// attached before; generation changes whenever the cache is reloaded (a
// partition came or went, or aegis.blocks changed). One range with relid
// InvalidOid for a 0.1.0 database. Reads the catalog as the tables' owner.
struct PartitionsInRange {
  Oid parent = InvalidOid;  // aegis.blocks
  uint64_t generation = 0;
  bool complete = false;    // aegis.block_partitions lists exactly aegis.blocks' partitions
  std::vector<PartitionRange> partitions;
};
PartitionsInRange PartitionsBetween(core::Timestamp lo, core::Timestamp hi);

// Whether the cache is still the one of that generation (no invalidation
// seen since: a lock taken after PartitionsBetween has processed them).
bool PartitionCacheUnchanged(uint64_t generation);

// The ends of every partition, in time order, as a timestamptz[] Datum
// (palloc'd; a PostgreSQL call: inside PgCall): where the functions that
// rewrite a series' blocks on its Citus worker cut them. With starts, also
// the partitions' starts, from the same list.
Datum PartitionEndsArray(Datum* starts = nullptr);

// Why a partition is dropped. Retention drops an expired one with its rows;
// an empty one goes only once no snapshot can see a row of it (dropping a
// table is not MVCC-safe: a reader whose snapshot predates the deletes
// that emptied it, and that opens aegis.blocks only after the drop, would
// silently miss those rows).
enum class DropReason { kExpired, kEmpty };

// Drops the partition if no one is using it (waits at most a moment for its
// lock) and, for kEmpty, no snapshot can still see one of its rows; returns
// false when it cannot go now (the next round tries again).
bool TryDropPartition(const PartitionRange& partition, DropReason reason);

// Records that a block spanning `span` microseconds (ts_max - ts_min) was
// written into the partition: adds a row to aegis.block_spans when the
// partition's rows say less (looked up once per partition and
// subtransaction for spans already covered).
void NoteBlockSpan(Oid partition, int64_t span);

// The earliest ts_min a block holding points at or after `since` can have:
// the later of the start of the partition that holds `since` and `since`
// minus the partition's longest block (aegis.block_spans); `since` itself
// when no partition holds it; -infinity for -infinity and for a 0.1.0
// database. Read with the statement's snapshot (a reader: the partition
// from the cache, its span from aegis.block_spans' index) or the latest one
// (a rewriter after its lock: a statement as the tables' owner).
core::Timestamp BlockScanStart(core::Timestamp since, bool latest = false);

// Registers the cache invalidation callback; called from _PG_init.
void InitPartitionCache();

}  // namespace aegis::pg
