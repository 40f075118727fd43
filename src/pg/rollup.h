// Roll-up and roll-off (API.md section 6): the rollup job, and the reads and
// removals of rolled-up steps that aggregate, delete and retention make.
// Every function needs an open SPI connection and is called from C++.
#pragma once

#include <cstdint>
#include <vector>

#include "pg/maintenance.h"
#include "pg/postgres_headers.h"

namespace aegis::core {
struct StepSummary;  // core/rollup.h, included before PostgreSQL's headers where used
}

namespace aegis::pg {

// False in a database still at 0.1.0, which has no aegis.rollups.
bool RollupsExist();

// False when aegis.rollups is missing or has no page (no metric was ever
// rolled up, or VACUUM gave its pages back): the read path then skips asking
// it for steps.
bool RollupsMayHaveRows();

// rollup: for every metric with downsampling tiers, rolls up raw points older
// than the first tier, promotes steps into coarser tiers and drops steps past
// a drop tier, one series per step (its transaction holds both the removal
// and the summaries). Series other sessions are rewriting are left to the
// next round. A series that fails is rolled back alone, with a WARNING, and
// the job goes on; with report_failures (the background worker, whose series
// are committed one by one) the job then ends with an error naming how many
// failed and the first error, so that aegis.jobs records it.
MaintenanceJob RollupJob(TimestampTz now, bool report_failures);

// The rolled-up steps of a run of series that start in [since, until), read
// with one query; Steps decodes one series' (call in ascending series id or
// in any order).
class RolledUpSteps {
 public:
  // columns: the rollup block columns to decode (core::RollupColumn bits).
  RolledUpSteps(const std::vector<int64_t>& series_ids, TimestampTz since, TimestampTz until, uint16_t columns);
  ~RolledUpSteps();
  RolledUpSteps(const RolledUpSteps&) = delete;
  RolledUpSteps& operator=(const RolledUpSteps&) = delete;

  // The series' steps starting in [since, until), in time order.
  std::vector<core::StepSummary> Steps(int64_t series_id) const;

  // Whether no series has a stored block of steps overlapping the range.
  bool empty() const { return row_series_.empty(); }

 private:
  SPITupleTable* table_ = nullptr;
  std::vector<int64_t> row_series_;  // series id of each row, ascending
  TimestampTz since_;
  TimestampTz until_;
  uint16_t columns_;
};

// Appends the steps of a stored rollup block of a series (its data column,
// maybe toasted) that start in [since, until), in the block's order, with
// the given columns (core::RollupColumn bits); a damaged block is an ERROR
// (XX001) naming the series.
void AppendRolledUpSteps(int64_t series_id, Datum data, TimestampTz since, TimestampTz until, uint16_t columns,
                         std::vector<core::StepSummary>* out);

// Removes the series' rolled-up steps that lie wholly in [since, until)
// (aegis.delete); returns their points. The caller holds the series' locks.
int64_t DeleteRolledUpSteps(int64_t series_id, TimestampTz since, TimestampTz until);

// Removes the series' rolled-up steps holding any point older than cutoff
// (retention); returns their points. The caller holds the series' locks.
int64_t TrimRolledUpSteps(int64_t series_id, TimestampTz cutoff);

}  // namespace aegis::pg
