-- aegis_timeseries: catalog, write, read and lifecycle functions.

-------------------------------------------------------------------------------
-- Catalog (API.md section 2)
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.create_metric(name text, kind text DEFAULT 'gauge', unit text DEFAULT NULL,
                                    description text DEFAULT NULL)
    RETURNS void LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_create_metric';
COMMENT ON FUNCTION aegis.create_metric(text, text, text, text) IS
  'Registers a metric (kind gauge, counter, histogram or summary); an existing name is an error (42710).';

CREATE FUNCTION aegis.drop_metric(name text) RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_drop_metric';
COMMENT ON FUNCTION aegis.drop_metric(text) IS
  'Removes a metric with its series and points; returns the points removed (as many as aegis.read returned). '
  'Waits for writers of the metric; under REPEATABLE READ fails with 40001 when one committed after the snapshot.';

CREATE VIEW aegis.metrics WITH (security_invoker = true) AS
    SELECT m.name, m.kind, m.unit, m.description, m.retention,
           (SELECT count(*) FROM aegis.series s WHERE s.metric = m.name) AS series, m.created_at
      FROM aegis.metric_catalog m
     ORDER BY m.name;
COMMENT ON VIEW aegis.metrics IS
  'Every metric, including those created implicitly by a first write, with its number of series (by name).';

CREATE FUNCTION aegis.find_series(selector text)
    RETURNS TABLE (series_id bigint, metric text, tags jsonb)
    LANGUAGE c STABLE PARALLEL UNSAFE ROWS 100
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_find_series';
COMMENT ON FUNCTION aegis.find_series(text) IS
  'The series a Prometheus-style selector matches, e.g. cpu{host=~"web-.*"}, ordered by series_id.';

CREATE FUNCTION aegis.explain_selector(selector text) RETURNS SETOF text
    LANGUAGE c VOLATILE PARALLEL UNSAFE ROWS 10
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_explain_selector';
COMMENT ON FUNCTION aegis.explain_selector(text) IS
  'EXPLAIN (COSTS OFF) of the catalog query a selector runs: shows the indexes it uses.';

CREATE FUNCTION aegis.metric_names() RETURNS SETOF text
    LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    AS $$ SELECT name FROM aegis.metric_catalog ORDER BY name $$;
COMMENT ON FUNCTION aegis.metric_names() IS 'Every metric name, sorted.';

CREATE FUNCTION aegis.tag_keys(selector text DEFAULT NULL) RETURNS SETOF text
    LANGUAGE sql STABLE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT k
      FROM aegis.series s, jsonb_object_keys(s.tags) AS k
     WHERE selector IS NULL OR s.series_id IN (SELECT f.series_id FROM aegis.find_series(selector) f)
     ORDER BY k
$$;
COMMENT ON FUNCTION aegis.tag_keys(text) IS
  'Tag keys used by the series a selector matches (all series when NULL), sorted.';

CREATE FUNCTION aegis.tag_values(key text, selector text DEFAULT NULL) RETURNS SETOF text
    LANGUAGE sql STABLE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT s.tags ->> key
      FROM aegis.series s
     WHERE s.tags ? key
       AND (selector IS NULL OR s.series_id IN (SELECT f.series_id FROM aegis.find_series(selector) f))
     ORDER BY 1
$$;
COMMENT ON FUNCTION aegis.tag_values(text, text) IS
  'Values of one tag key among the series a selector matches (all series when NULL), sorted.';

-------------------------------------------------------------------------------
-- Writing (API.md section 4)
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.write(metric text, tags jsonb, ts timestamptz, value double precision)
    RETURNS void LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_write_point';
COMMENT ON FUNCTION aegis.write(text, jsonb, timestamptz, double precision) IS
  'Writes one point; an existing point at the same series and ts is replaced (last write wins).';

CREATE FUNCTION aegis.write(metric text, tags jsonb, ts timestamptz[], value double precision[])
    RETURNS bigint LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_write_batch';
COMMENT ON FUNCTION aegis.write(text, jsonb, timestamptz[], double precision[]) IS
  'Writes a batch of points of one series (arrays of equal length); returns the points written (after duplicate timestamps collapsed to their last value). '
  'At least 1000 points (or aegis.block_max_points, when fewer) go straight into compressed blocks.';

CREATE FUNCTION aegis.write_now(metric text, tags jsonb, value double precision)
    RETURNS void LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_write_now';
COMMENT ON FUNCTION aegis.write_now(text, jsonb, double precision) IS
  'Writes one point stamped with the transaction''s now().';

-------------------------------------------------------------------------------
-- Reading (API.md section 5)
-------------------------------------------------------------------------------

-- Inlined SQL: per series, two index probes (the newest recent row, the
-- newest block's last point); a recent row at the same ts is the newer write.
CREATE FUNCTION aegis.latest(selector text)
    RETURNS TABLE (series_id bigint, metric text, tags jsonb, ts timestamptz, value double precision)
    LANGUAGE c STABLE PARALLEL UNSAFE ROWS 100
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_latest';
COMMENT ON FUNCTION aegis.latest(text) IS
  'The newest point of every matching series (from aegis.last_points), ordered by series_id.';

CREATE FUNCTION aegis.series_points(series_id bigint, since timestamptz DEFAULT '-infinity',
                                    until timestamptz DEFAULT 'infinity')
    RETURNS TABLE (ts timestamptz, value double precision)
    LANGUAGE c STABLE PARALLEL UNSAFE ROWS 1000 SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_series_points';
COMMENT ON FUNCTION aegis.series_points(bigint, timestamptz, timestamptz) IS
  'The points of one series with since <= ts < until, in time order (compressed and recent merged).';

CREATE FUNCTION aegis._read_arguments(selector text, since timestamptz, until timestamptz) RETURNS text
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_read_arguments';
COMMENT ON FUNCTION aegis._read_arguments(text, timestamptz, timestamptz) IS
  'Checks aegis.read''s arguments (22004 on NULL) and returns the selector.';

-- A SQL function that PostgreSQL inlines: each series' points are joined to
-- its catalog row, so tags are not copied into every point row of a
-- function result, and EXPLAIN shows the plan.
CREATE FUNCTION aegis.read(selector text, since timestamptz DEFAULT '-infinity',
                           until timestamptz DEFAULT 'infinity')
    RETURNS TABLE (series_id bigint, metric text, tags jsonb, ts timestamptz, value double precision)
    LANGUAGE sql STABLE PARALLEL UNSAFE ROWS 10000 AS $$
    SELECT s.series_id, s.metric, s.tags, p.ts, p.value
      FROM aegis.find_series(aegis._read_arguments(selector, since, until)) s
     CROSS JOIN LATERAL aegis.series_points(s.series_id, since, until) p
$$;
COMMENT ON FUNCTION aegis.read(text, timestamptz, timestamptz) IS
  'Raw points of the matching series with since <= ts < until, ordered by series_id, ts.';

-- first(value, ts) / last(value, ts)
CREATE FUNCTION aegis._first_transfn(state bytea, value double precision, ts timestamptz) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_first_transfn';
CREATE FUNCTION aegis._last_transfn(state bytea, value double precision, ts timestamptz) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_last_transfn';
CREATE FUNCTION aegis._first_combinefn(a bytea, b bytea) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_first_combinefn';
CREATE FUNCTION aegis._last_combinefn(a bytea, b bytea) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_last_combinefn';
CREATE FUNCTION aegis._first_last_finalfn(state bytea) RETURNS double precision
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_first_last_finalfn';
COMMENT ON FUNCTION aegis._first_transfn(bytea, double precision, timestamptz) IS 'Transition of aegis.first.';
COMMENT ON FUNCTION aegis._last_transfn(bytea, double precision, timestamptz) IS 'Transition of aegis.last.';
COMMENT ON FUNCTION aegis._first_combinefn(bytea, bytea) IS 'Combines two partial states of aegis.first.';
COMMENT ON FUNCTION aegis._last_combinefn(bytea, bytea) IS 'Combines two partial states of aegis.last.';
COMMENT ON FUNCTION aegis._first_last_finalfn(bytea) IS 'Final function of aegis.first and aegis.last.';

CREATE AGGREGATE aegis.first(value double precision, ts timestamptz) (
    SFUNC = aegis._first_transfn, STYPE = bytea, COMBINEFUNC = aegis._first_combinefn,
    FINALFUNC = aegis._first_last_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.first(double precision, timestamptz) IS 'The value at the earliest ts.';
CREATE AGGREGATE aegis.last(value double precision, ts timestamptz) (
    SFUNC = aegis._last_transfn, STYPE = bytea, COMBINEFUNC = aegis._last_combinefn,
    FINALFUNC = aegis._first_last_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.last(double precision, timestamptz) IS 'The value at the latest ts.';

-------------------------------------------------------------------------------
-- Lifecycle (API.md section 6)
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.compress(older_than interval DEFAULT NULL) RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_compress';
COMMENT ON FUNCTION aegis.compress(interval) IS
  'Packs recent points older than now() - older_than (default aegis.compress_after) into compressed blocks; '
  'returns points packed.';

CREATE FUNCTION aegis.delete_series(series_id bigint) RETURNS boolean
    LANGUAGE c VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_delete_series';
COMMENT ON FUNCTION aegis.delete_series(bigint) IS
  'Removes one series and its points; false when there was no such series.';

CREATE FUNCTION aegis._block_point_matches(series_id bigint, data bytea, ts timestamptz[]) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_block_point_matches';
COMMENT ON FUNCTION aegis._block_point_matches(bigint, bytea, timestamptz[]) IS
  'How many of the timestamps a block holds (a recent row at such a timestamp replaces the block''s point); '
  'series_id names the series in the error a corrupt block raises.';

-- The stored points of a set of series, counted as aegis.read returns them: a
-- recent row that replaced a block point counts once.
CREATE FUNCTION aegis._series_storage(series_ids bigint[])
    RETURNS TABLE (points bigint, compressed_points bigint, recent_points bigint, block_points bigint,
                   blocks bigint, compressed_bytes bigint, oldest timestamptz, newest timestamptz)
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q text := $q$
    WITH b AS (SELECT coalesce(sum(bl.point_count), 0)::bigint AS points, count(*) AS blocks,
                      coalesce(sum(pg_catalog.pg_column_size(bl.data)), 0)::bigint AS bytes,
                      min(bl.ts_min) AS oldest, max(bl.ts_max) AS newest
                 FROM aegis.blocks bl WHERE bl.series_id = ANY ($1)),
         r AS (SELECT count(*) AS points, min(rp.ts) AS oldest, max(rp.ts) AS newest
                 FROM aegis.recent_points rp WHERE rp.series_id = ANY ($1)),
         -- One index probe per block finds the few with recent rows inside.
         replaced AS (
           SELECT coalesce(sum(aegis._block_point_matches(bl.series_id, bl.data,
                      ARRAY(SELECT rp.ts FROM aegis.recent_points rp
                             WHERE rp.series_id = bl.series_id AND rp.ts BETWEEN bl.ts_min AND bl.ts_max
                             ORDER BY rp.ts))), 0)::bigint AS points
             FROM aegis.blocks bl
            WHERE bl.series_id = ANY ($1)
              AND EXISTS (SELECT 1 FROM aegis.recent_points rp
                           WHERE rp.series_id = bl.series_id AND rp.ts BETWEEN bl.ts_min AND bl.ts_max))
    SELECT b.points - x.points + r.points, b.points - x.points, r.points, b.points, b.blocks, b.bytes,
           least(b.oldest, r.oldest), greatest(b.newest, r.newest)
      FROM b, r, replaced x
$q$;
BEGIN
    IF aegis.is_distributed() THEN
        -- Citus plans no distributed statement with parameters: the ids go
        -- in as a constant (docs/scale-out.md).
        RETURN QUERY EXECUTE replace(q, '$1', format('%L::pg_catalog.int8[]', series_ids));
    ELSIF EXISTS (SELECT FROM aegis._packed_points(series_ids)) THEN
        -- Points of packed batches count as recent ones (a batch's point
        -- replaces a recent row or a block's point at its time).
        q := replace(q, 'FROM aegis.recent_points rp', 'FROM all_recent rp');
        q := replace(q, 'WITH b AS',
                     'WITH all_recent AS MATERIALIZED (SELECT rp.series_id, rp.ts FROM aegis.recent_points rp'
                     ' WHERE rp.series_id = ANY ($1) UNION SELECT pp.series_id, pp.ts'
                     ' FROM aegis._packed_points($1) pp), b AS');
        RETURN QUERY EXECUTE q USING series_ids;
    ELSE
        RETURN QUERY EXECUTE q USING series_ids;
    END IF;
END $$;
COMMENT ON FUNCTION aegis._series_storage(bigint[]) IS
  'Stored points of the series as aegis.read returns them (recent rows replacing block points counted once), '
  'of them in blocks and recent rows, raw block points, blocks, block bytes, oldest and newest timestamp.';

CREATE VIEW aegis.stats WITH (security_invoker = true) AS
    SELECT m.name AS metric,
           (SELECT count(*) FROM aegis.series s WHERE s.metric = m.name) AS series,
           st.points, st.compressed_points, st.blocks, st.compressed_bytes,
           round(st.compressed_bytes::numeric / nullif(st.block_points, 0), 2) AS bytes_per_point,
           st.oldest, st.newest
      FROM aegis.metric_catalog m
     CROSS JOIN LATERAL aegis._series_storage(ARRAY(SELECT s.series_id FROM aegis.series s WHERE s.metric = m.name)) st
     ORDER BY m.name;
COMMENT ON VIEW aegis.stats IS
  'Per metric (by name): series, points (as aegis.read returns them), of them compressed, blocks, '
  'compressed bytes (block data as stored), bytes per point stored in blocks, oldest and newest timestamp.';

-------------------------------------------------------------------------------
-- Bucketing and the aggregation fast path (API.md section 5)
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamptz) IS
  'Start of the bucket holding ts, as TimescaleDB''s time_bucket: aligned to Monday 2000-01-03 '
  '(2000-01-01 for month widths), in UTC.';

CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamptz, origin timestamptz) RETURNS timestamptz
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_origin';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamptz, timestamptz) IS
  'Start of the bucket holding ts, buckets aligned to origin.';

CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamptz, "offset" interval) RETURNS timestamptz
    LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_offset';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamptz, interval) IS
  'Start of the bucket holding ts, buckets shifted by offset (day and month parts in the session time zone).';

CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamptz, timezone text,
                                  origin timestamptz DEFAULT NULL, "offset" interval DEFAULT NULL)
    RETURNS timestamptz
    LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_timezone';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamptz, text, timestamptz, interval) IS
  'Start of the bucket holding ts, bucketed in the wall-clock time of timezone, as TimescaleDB 2.28 does '
  '(offset applied in UTC; a start that falls after ts in a repeated hour steps back by the width). '
  'STABLE: day parts of the offset and width follow the session time zone.';

CREATE FUNCTION aegis.aggregate(selector text, fn text, since timestamptz, until timestamptz,
                                step interval DEFAULT NULL, group_by text[] DEFAULT NULL, fill text DEFAULT 'none')
    RETURNS TABLE (bucket timestamptz, tags jsonb, value double precision)
    LANGUAGE c STABLE PARALLEL UNSAFE ROWS 1000
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_aggregate';
COMMENT ON FUNCTION aegis.aggregate(text, text, timestamptz, timestamptz, interval, text[], text) IS
  'Bucketed aggregate (count, sum, min, max, avg, first, last, median, quantile(q), stddev, variance, and per '
  'series then summed: rate, increase, delta as Prometheus, sample_rate, sample_increase, sample_delta, irate, '
  'resets, changes) of the matching series, per series or grouped by tags, computed in the engine; '
  'rows ordered by tags, then bucket.';
