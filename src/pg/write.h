// Writing the points of one or more series: the one path behind aegis.write,
// aegis.write_now and INSERT/COPY into aegis.points.
#pragma once

#include <string>
#include <vector>

#include "core/series_points.h"
#include "pg/catalog.h"
#include "pg/postgres_headers.h"

namespace aegis::pg {

// The points a statement writes to one series. tags is a palloc'd (or
// argument) jsonb that outlives the write.
struct SeriesWrite {
  std::string metric;
  Jsonb* tags = nullptr;
  core::SeriesPoints points;  // time-ordered, duplicate-free
  int64_t series_id = -1;     // set by WriteSeries
  SeriesLock lock = SeriesLock::kAppend;  // how WriteSeries locked it: kRewrite writes blocks
};

// Writes every series of one statement. Locks are taken in one global order,
// so that writers, compress and deletes never wait for each other in a
// cycle: first the series are resolved, metric by metric in name order (a new
// series locks its metric's catalog row), then every series is locked, and
// then written, in ascending series id (docs/architecture.md, "Locks"). A
// batch of at least aegis.block_max_points points goes straight into
// compressed blocks unless the transaction could not get the series' row for
// that without waiting. Opens and closes its own SPI connection.
void WriteSeries(std::vector<SeriesWrite>* writes);

// Registers the callbacks that keep the rows buffered for aegis.points true to
// their (sub)transactions; called from _PG_init.
void InitPointsBuffer();

}  // namespace aegis::pg
