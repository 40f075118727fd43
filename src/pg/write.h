// Writing the points of one or more series: the one path behind aegis.write,
// aegis.write_now and INSERT/COPY into aegis.points.
#pragma once

#include <string>
#include <string_view>
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
  // Set by WriteSeries; a caller may set it to what ResolveSeries returned
  // for (metric, tags) under the current SeriesCacheGeneration().
  int64_t series_id = -1;
  SeriesLock lock = SeriesLock::kAppend;  // how WriteSeries locked it: kRewrite writes blocks
};

// Writes every series of one statement. Locks are taken in one global order,
// so that writers, compress and deletes never wait for each other in a
// cycle: first the series are resolved, metric by metric in name order (a new
// series locks its metric's catalog row), then every series is locked, and
// then written, in ascending series id (docs/architecture.md, "Locks"). A
// batch of at least StraightWritePoints() points goes straight into
// compressed blocks unless the transaction could not get the series' row for
// that without waiting. Opens and closes its own SPI connection.
// generation: the SeriesCacheGeneration() under which the caller set
// series ids (0: it set none); a packed batch resolves them again if it
// changed by the time the batch is written.
void WriteSeries(std::vector<SeriesWrite>* writes, uint64_t generation = 0);
// The same for writes the caller keeps elsewhere (a gateway connection's
// series dictionary, src/pg/write_request.cpp).
void WriteSeries(const std::vector<SeriesWrite*>& writes, uint64_t generation = 0);

// Buffers one row inserted into aegis.points (metric text, tags jsonb, ts
// timestamptz, value float8): rows are kept per series and written when the
// statement ends (FlushPoints), or mid-statement once a million are
// buffered. A NULL column is an error (22004), as is a bad name or tag set
// the first time a series is seen in the statement.
void AppendPointRow(const Datum* values, const bool* nulls);

// Buffers one point of the series (metric, tags), as AppendPointRow does;
// the metric name and tags are checked the first time the statement buffers
// the series.
void AppendPoint(std::string_view metric, Jsonb* tags, TimestampTz ts, double value);

// Writes the rows buffered in the innermost open subtransaction; at the end
// of an INSERT or COPY into aegis.points.
void FlushPoints();

// Takes over COPY aegis.points FROM STDIN (text, CSV): src/pg/points_copy.cpp.
// From _PG_init.
void InitPointsCopy();

// Registers the callbacks that keep the rows buffered for aegis.points true to
// their (sub)transactions; called from _PG_init.
void InitPointsBuffer();

}  // namespace aegis::pg
