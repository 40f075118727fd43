-- Gap filling in plain SQL, as TimescaleDB users write it: GROUP BY
-- aegis.time_bucket_gapfill(...) over aegis.points, with aegis.locf(agg) and
-- aegis.interpolate(agg). The engine computes them (docs/queries.md, "Gap
-- filling"); called any other way they raise 0A000.
CREATE FUNCTION aegis.time_bucket_gapfill(bucket_width interval, ts timestamptz, start timestamptz DEFAULT NULL,
                                          finish timestamptz DEFAULT NULL) RETURNS timestamptz
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_gapfill';
COMMENT ON FUNCTION aegis.time_bucket_gapfill(interval, timestamptz, timestamptz, timestamptz) IS
  'In a GROUP BY over aegis.points: time_bucket(bucket_width, ts), with a row for every bucket of [start, finish) '
  '(NULL: the query''s ts range) in each group that has points; aggregates are NULL in the added buckets unless '
  'wrapped in aegis.locf or aegis.interpolate.';
CREATE FUNCTION aegis.locf(value anyelement) RETURNS anyelement
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_locf';
COMMENT ON FUNCTION aegis.locf(anyelement) IS
  'In a query grouped by aegis.time_bucket_gapfill: the aggregate, its gaps filled with the last earlier non-NULL value.';
CREATE FUNCTION aegis.interpolate(value double precision) RETURNS double precision
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_interpolate';
COMMENT ON FUNCTION aegis.interpolate(double precision) IS
  'In a query grouped by aegis.time_bucket_gapfill: the aggregate, its gaps filled on the straight line between the '
  'closest buckets with values on both sides (NULL at the edges).';
