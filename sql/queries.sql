-- The query engine's semantics (API.md section 5, docs/queries.md): the
-- counter family of aegis.aggregate, aegis.rolling, the SQL aggregates
-- aegis.rate/increase/delta, and what every fn gives on empty and degenerate
-- input.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
-- Blocks of at most 1,000 points, which this test's blocks were laid out
-- for (several blocks a series); blocks cut by size: lifecycle.sql.
SET aegis.block_max_points = 1000;

-- A counter: 10, 15, 3 (a reset), 7, 9 at :00 .. :40, then 12 at 01:30.
SELECT count(aegis.write('req', '{"host": "a"}', t.ts, t.v)) FROM (VALUES
  ('2024-03-02 00:00:00+00'::timestamptz, 10), ('2024-03-02 00:00:10+00', 15), ('2024-03-02 00:00:20+00', 3),
  ('2024-03-02 00:00:30+00', 7), ('2024-03-02 00:00:40+00', 9), ('2024-03-02 00:01:30+00', 12)) t(ts, v);
-- A second counter on another host; half of it compressed.
SELECT count(aegis.write('req', '{"host": "b"}', '2024-03-02 00:00:05+00'::timestamptz + i * interval '15 seconds', i * 2.5))
  FROM generate_series(0, 7) i;
SELECT aegis.compress('0') > 0 AS compressed;

-- Every per-series function for one-minute buckets: rate, increase and delta
-- as Prometheus evaluates rate(req[1m]) at the bucket's end (the issue's
-- example: increase 15.75 and rate 0.2625 for host a at 00:00); the sample_
-- forms without extrapolation; irate, resets, changes.
SELECT fn, bucket, tags ->> 'host' AS host, round(value::numeric, 6) AS value
  FROM unnest(ARRAY['rate', 'increase', 'delta', 'sample_rate', 'sample_increase', 'sample_delta', 'irate',
                    'resets', 'changes']) fn,
       aegis.aggregate('req', fn, '2024-03-02 00:00', '2024-03-02 00:02', '1 minute')
 ORDER BY fn, host, bucket;
-- Grouped: the sum over the series that give a value.
SELECT fn, bucket, round(value::numeric, 6) AS value
  FROM unnest(ARRAY['increase', 'sample_increase', 'resets']) fn,
       aegis.aggregate('req', fn, '2024-03-02 00:00', '2024-03-02 00:02', '1 minute', '{}')
 ORDER BY fn, bucket;
-- A window clipped by since: the bucket [00:00, 00:01) becomes [00:00:15,
-- 00:01), and rate divides by its 45 seconds.
SELECT bucket, tags ->> 'host' AS host, round(value::numeric, 6) AS value
  FROM aegis.aggregate('req{host="a"}', 'rate', '2024-03-02 00:00:15', '2024-03-02 00:02', '1 minute');
-- No step over an infinite range: increase is extrapolated by half an
-- average interval at each open end; rate has no window length: NULL.
SELECT fn, bucket, tags ->> 'host' AS host, round(value::numeric, 6) AS value
  FROM unnest(ARRAY['increase', 'rate', 'sample_rate']) fn, aegis.aggregate('req', fn, '-infinity', 'infinity')
 ORDER BY fn, host;

-- aegis.rolling: for every point, fn over (ts - width, ts].
SELECT ts, round(value::numeric, 6) AS increase
  FROM aegis.rolling('req{host="a"}', 'increase', '1 minute') ORDER BY ts;
SELECT r.ts, r.value AS sum, m.value AS median, c.value AS count
  FROM aegis.rolling('req{host="a"}', 'sum', '25 seconds') r
  JOIN aegis.rolling('req{host="a"}', 'median', '25 seconds') m USING (series_id, ts)
  JOIN aegis.rolling('req{host="a"}', 'count', '25 seconds') c USING (series_id, ts)
 ORDER BY r.ts;
-- since/until choose the points that get a row; windows reach back before
-- since (the point at :20 still sees :00 and :10).
SELECT ts, value FROM aegis.rolling('req{host="a"}', 'count', '1 minute', '2024-03-02 00:00:20', '2024-03-02 00:00:40');
-- Equal to the naive window query over the same points, for every fn that
-- PostgreSQL has.
SELECT fn, count(*) AS points,
       count(*) FILTER (WHERE r.value IS DISTINCT FROM w.value
                          AND NOT abs(r.value - w.value) <= 1e-12 * abs(w.value)) AS different
  FROM unnest(ARRAY['count', 'sum', 'min', 'max', 'avg', 'stddev', 'variance']) fn
  CROSS JOIN LATERAL aegis.rolling('req', fn, '35 seconds') r
  JOIN (SELECT p.series_id, p.ts,
               count(*) OVER w AS count, sum(p.value) OVER w AS sum, min(p.value) OVER w AS min,
               max(p.value) OVER w AS max, avg(p.value) OVER w AS avg, stddev_pop(p.value) OVER w AS stddev,
               var_pop(p.value) OVER w AS variance
          FROM (SELECT s.series_id, x.ts, x.value FROM aegis.series s, aegis.read('req') x
                 WHERE s.tags = x.tags) p
        WINDOW w AS (PARTITION BY p.series_id ORDER BY p.ts RANGE BETWEEN '35 seconds' PRECEDING AND CURRENT ROW
                     EXCLUDE NO OTHERS)) e USING (series_id, ts)
  CROSS JOIN LATERAL (SELECT (to_jsonb(e) ->> fn)::float8 AS value) w
 GROUP BY fn ORDER BY fn;
-- (PostgreSQL's RANGE '35 seconds' PRECEDING includes ts - 35 s; no point
-- lies exactly 35 s before another here, so the windows are the same.)

-- The SQL aggregates: without a window the change across the samples; with
-- one, Prometheus's extrapolated value. The order of the rows does not
-- matter, and the state is a concrete type (bytea).
SELECT tags ->> 'host' AS host, aegis.increase(value, ts), aegis.rate(value, ts), aegis.delta(value, ts),
       aegis.increase(value, ts, '2024-03-02 00:00', '2024-03-02 00:01'),
       aegis.rate(value, ts, '2024-03-02 00:00', '2024-03-02 00:01'),
       aegis.delta(value, ts, '2024-03-02 00:00', '2024-03-02 00:01')
  FROM aegis.points WHERE metric = 'req' AND ts < '2024-03-02 00:01' GROUP BY tags ORDER BY host;
SELECT aegis.increase(value, ts) AS reversed
  FROM (SELECT * FROM aegis.points WHERE metric = 'req' AND tags = '{"host": "a"}' ORDER BY ts DESC) p;
-- The same per bucket with any GROUP BY, equal to aegis.aggregate's
-- sample_increase and increase.
SELECT b.bucket, b.increase = a.value AS same, b.extrapolated = x.value AS same_extrapolated
  FROM (SELECT aegis.time_bucket('1 minute', ts) AS bucket, aegis.increase(value, ts) AS increase,
               aegis.increase(value, ts, aegis.time_bucket('1 minute', ts),
                              aegis.time_bucket('1 minute', ts) + interval '1 minute') AS extrapolated
          FROM aegis.points WHERE metric = 'req' AND tags = '{"host": "a"}' GROUP BY 1) b
  JOIN aegis.aggregate('req{host="a"}', 'sample_increase', '2024-03-02', '2024-03-03', '1 minute') a USING (bucket)
  JOIN aegis.aggregate('req{host="a"}', 'increase', '2024-03-02', '2024-03-03', '1 minute') x USING (bucket)
 ORDER BY 1;
-- Partial states combine in parallel workers, and the text form of a
-- state reads back to the same state.
CREATE TABLE par_counter AS SELECT g, '2024-01-01'::timestamptz + i * interval '1 second' AS t, (i % 1000)::float8 AS v
  FROM generate_series(1, 4) g, generate_series(1, 50000) i;
ANALYZE par_counter;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT g, aegis.increase(v, t) FROM par_counter GROUP BY g;
SELECT g, aegis.increase(v, t), aegis.rate(v, t, '2024-01-01', '2024-01-02') FROM par_counter GROUP BY g ORDER BY g;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
CREATE AGGREGATE counter_state(float8, timestamptz) (SFUNC = aegis._counter_transfn, STYPE = bytea);
SELECT aegis._increase_finalfn(s) AS direct, aegis._increase_finalfn(s::text::bytea) AS via_text,
       s::text::bytea = s AS round_trip
  FROM (SELECT counter_state(value, ts) AS s FROM aegis.points WHERE metric = 'req' AND tags = '{"host": "a"}') x;
-- Errors: a different window within a group, since >= until, a malformed
-- state, NULL bounds.
SELECT aegis.increase(value, ts, ts, ts + interval '1 minute') FROM aegis.points WHERE metric = 'req';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.increase(value, ts, '2024-03-02 00:01', '2024-03-02 00:00') FROM aegis.points WHERE metric = 'req';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.increase(value, ts, NULL, '2024-03-02 00:00') FROM aegis.points WHERE metric = 'req';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._increase_finalfn('\x4143010000000000'::bytea);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._increase_finalfn(decode(repeat('00', 40), 'hex'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._counter_transfn(NULL, 1, now());
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.rolling('req', 'sum', '1 month');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.rolling('req', 'sum', '-1 second');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.rolling('req', 'sum', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.rolling('req', 'p99', '1 minute');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- aegis._rolling_series, what the Citus shards run for aegis.rolling, gives
-- aegis.rolling's rows from a series' block rows (here all of them: it
-- keeps the range itself) and recent rows: several blocks, and recent rows
-- replacing a block point, between two points and after the last.
SELECT aegis.write('rs', '{}', ARRAY(SELECT '2024-03-02'::timestamptz + i * interval '10 seconds' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT (i % 97)::float8 FROM generate_series(0, 2999) i)) AS written;
SELECT aegis.write('rs', '{}', ARRAY['2024-03-02 00:05:00', '2024-03-02 00:05:05', '2024-03-02 09:00:00']::timestamptz[],
                   ARRAY[1000, 1001, 1002]::float8[]) AS written;
SELECT count(*) > 1 AS blocks FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'rs';
CREATE TEMP TABLE rs_parts AS
SELECT s.series_id, (SELECT array_agg(data ORDER BY ts_min) FROM aegis.blocks b WHERE b.series_id = s.series_id) AS blocks,
       (SELECT array_agg(point_count ORDER BY ts_min) FROM aegis.blocks b WHERE b.series_id = s.series_id) AS counts,
       (SELECT array_agg(ts ORDER BY ts) FROM aegis.recent_points r WHERE r.series_id = s.series_id) AS ts,
       (SELECT array_agg(value ORDER BY ts) FROM aegis.recent_points r WHERE r.series_id = s.series_id) AS vals
  FROM aegis.series s WHERE s.metric = 'rs';
SELECT cardinality(blocks) > 1 AS blocks, cardinality(ts) AS recent_rows FROM rs_parts;
SELECT fn, count(*) AS rows,
       count(*) FILTER (WHERE j.e_ts IS NULL OR j.a_ts IS NULL OR j.e_value IS DISTINCT FROM j.a_value) AS differ
  FROM unnest(ARRAY['count', 'sum', 'min', 'max', 'median', 'stddev', 'rate', 'last']) fn
 CROSS JOIN LATERAL (
   SELECT e.ts AS e_ts, a.ts AS a_ts, e.value AS e_value, a.value AS a_value
     FROM (SELECT x.ts, x.value FROM rs_parts p, aegis._rolling_series(p.series_id, p.blocks, p.ts, p.vals, fn,
                                  '95 seconds', '2024-03-02 00:03', '2024-03-02 10:00') x) e
     FULL JOIN (SELECT r.ts, r.value FROM aegis.rolling('rs', fn, '95 seconds', '2024-03-02 00:03', '2024-03-02 10:00') r) a
       ON a.ts = e.ts) j
 GROUP BY fn ORDER BY fn;
SELECT count(*) AS no_points FROM aegis._rolling_series(1, NULL, NULL, NULL, 'max', '1 minute', '-infinity', 'infinity');
SELECT * FROM aegis._rolling_series(1, ARRAY['\x00'::bytea], NULL, NULL, 'max', '1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rolling_series(1, NULL, ARRAY['2024-01-02', '2024-01-01']::timestamptz[], ARRAY[1, 2]::float8[],
                                    'max', '1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rolling_series(1, NULL, ARRAY['2024-01-01']::timestamptz[], ARRAY[1, 2]::float8[],
                                    'max', '1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rolling_series(1, ARRAY[NULL]::bytea[], NULL, NULL, 'max', '1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rolling_series(1, NULL, NULL, NULL, 'max', '-1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rolling_series(1, NULL, NULL, NULL, 'p99', '1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rolling_series(NULL, NULL, NULL, NULL, 'max', '1 minute', '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- aegis._points_of, what the Citus shards run for aegis.read, gives
-- aegis.read's points from the same parts: whole, and cut at both ends of a
-- range inside blocks, with the recent rows merged over block points.
SELECT r.since, count(*) AS points,
       count(*) FILTER (WHERE j.e_ts IS NULL OR j.a_ts IS NULL OR j.e_value IS DISTINCT FROM j.a_value) AS differ
  FROM (VALUES ('-infinity'::timestamptz, 'infinity'::timestamptz), ('2024-03-02 00:04:55', '2024-03-02 05:00:05'))
       r (since, until)
 CROSS JOIN LATERAL (
   SELECT e.ts AS e_ts, a.ts AS a_ts, e.value AS e_value, a.value AS a_value
     FROM (SELECT x.ts, x.value FROM rs_parts p, aegis._points_of(p.series_id, p.blocks, p.counts, p.ts, p.vals, r.since, r.until) x) e
     FULL JOIN (SELECT ts, value FROM aegis.read('rs', r.since, r.until)) a ON a.ts = e.ts) j
 GROUP BY r.since ORDER BY r.since;
-- In time order as it emits them (the shards' rows are not sorted again).
SELECT bool_and(ts > prev) AS ascending
  FROM (SELECT x.ts, lag(x.ts) OVER () AS prev
          FROM rs_parts p, aegis._points_of(p.series_id, p.blocks, p.counts, p.ts, p.vals, '-infinity', 'infinity') x) o
 WHERE prev IS NOT NULL;
SELECT count(*) AS no_points FROM aegis._points_of(1, NULL, NULL, NULL, NULL, '-infinity', 'infinity');
SELECT * FROM aegis._points_of(1, ARRAY['\x00'::bytea], ARRAY[1], NULL, NULL, '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM rs_parts p, aegis._points_of(p.series_id, ARRAY[p.blocks[2], p.blocks[1]],
                                                  ARRAY[p.counts[2], p.counts[1]], NULL, NULL, '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A block whose points disagree with its row's count is damage, as on one
-- node; a count that is no count, and counts that do not go with the
-- blocks, are the caller's error.
SELECT count(*) FROM rs_parts p, aegis._points_of(p.series_id, p.blocks[1:1], ARRAY[p.counts[1] + 1], NULL, NULL,
                                                  '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM rs_parts p, aegis._points_of(p.series_id, p.blocks[1:1], ARRAY[0], NULL, NULL,
                                                  '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM rs_parts p, aegis._points_of(p.series_id, p.blocks, p.counts[1:1], NULL, NULL,
                                                  '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._points_of(1, NULL, NULL, ARRAY['2024-01-02', '2024-01-01']::timestamptz[], ARRAY[1, 2]::float8[],
                               '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._points_of(NULL, NULL, NULL, NULL, NULL, '-infinity', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- aegis._bucket_parts, what the Citus shards run for aegis.aggregate: a
-- series' blocks (leaving out the times of its recent rows) and its recent
-- rows, each packed per bucket (a 12-byte header, then 72-byte entries:
-- bucket, first and last time, count, ...), count per bucket what
-- aegis.aggregate counts.
CREATE FUNCTION pg_temp.le64(b bytea, o int) RETURNS bigint LANGUAGE sql AS
$$ SELECT ('x' || string_agg(lpad(to_hex(get_byte(b, o + 7 - i)), 2, '0'), '' ORDER BY i))::bit(64)::bigint
     FROM generate_series(0, 7) i $$;
CREATE TEMP TABLE rs_packs AS
SELECT aegis._bucket_parts(b.series_id, b.data, b.ts_min, b.ts_max, b.point_count, b.min_value, b.max_value,
                           b.sum_value, b.first_value, b.last_value, b.segments, NULL, NULL, p.ts,
                           '-infinity', 'infinity', '1 hour', 1, NULL) AS pack
  FROM aegis.blocks b JOIN rs_parts p USING (series_id)
UNION ALL
SELECT aegis._bucket_parts(p.series_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, p.ts, p.vals,
                           NULL, '-infinity', 'infinity', '1 hour', 1, NULL)
  FROM rs_parts p;
SELECT count(*) AS packs, bool_and(get_byte(pack, 0) = 65 AND (length(pack) - 12) % 72 = 0) AS shaped FROM rs_packs;
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE e.points IS DISTINCT FROM a.value::bigint) AS differ
  FROM (SELECT '2000-01-01 00:00 UTC'::timestamptz + pg_temp.le64(pack, 12 + 72 * k) * interval '1 microsecond' AS bucket,
               sum(pg_temp.le64(pack, 12 + 72 * k + 24)) AS points
          FROM rs_packs, generate_series(0, (length(pack) - 12) / 72 - 1) k GROUP BY 1) e
  FULL JOIN aegis.aggregate('rs', 'count', '-infinity', 'infinity', '1 hour') a ON a.bucket = e.bucket;
-- With an origin, the buckets are time_bucket(step, ts, origin)'s: the
-- counts per bucket equal SQL's over the series' points.
SELECT count(*) AS buckets, count(*) FILTER (WHERE e.points IS DISTINCT FROM r.points) AS differ
  FROM (SELECT '2000-01-01 00:00 UTC'::timestamptz + pg_temp.le64(pack, 12 + 72 * k) * interval '1 microsecond' AS bucket,
               sum(pg_temp.le64(pack, 12 + 72 * k + 24)) AS points
          FROM (SELECT aegis._bucket_parts(b.series_id, b.data, b.ts_min, b.ts_max, b.point_count, b.min_value,
                                           b.max_value, b.sum_value, b.first_value, b.last_value, b.segments, NULL,
                                           NULL, p.ts, '-infinity', 'infinity', '1 hour', 1,
                                           '2024-03-02 00:20') AS pack
                  FROM aegis.blocks b JOIN rs_parts p USING (series_id)
                UNION ALL
                SELECT aegis._bucket_parts(p.series_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                           p.ts, p.vals, NULL, '-infinity', 'infinity', '1 hour', 1,
                                           '2024-03-02 00:20')
                  FROM rs_parts p) x, generate_series(0, (length(pack) - 12) / 72 - 1) k GROUP BY 1) e
  FULL JOIN (SELECT aegis.time_bucket('1 hour', ts, '2024-03-02 00:20'::timestamptz) AS bucket, count(*) AS points
               FROM aegis.read('rs') GROUP BY 1) r ON r.bucket = e.bucket;
-- With parts (mode 2: Sxx, 4: counter state) every block's part of a bucket
-- comes apart, in 120-byte entries, and the parts count every point once.
SELECT count(*) AS parts, sum(pg_temp.le64(pack, 12 + 120 * k + 24)) AS points,
       (SELECT value::bigint FROM aegis.aggregate('rs', 'count', '-infinity', 'infinity')) AS aggregate_points,
       bool_and(get_byte(pack, 4) = 1 AND (length(pack) - 12) % 120 = 0) AS shaped
  FROM (SELECT aegis._bucket_parts(b.series_id, b.data, b.ts_min, b.ts_max, b.point_count, b.min_value, b.max_value,
                                   b.sum_value, b.first_value, b.last_value, b.segments, NULL, NULL, p.ts,
                                   '-infinity', 'infinity', '1 hour', 6, NULL) AS pack
          FROM aegis.blocks b JOIN rs_parts p USING (series_id)
        UNION ALL
        SELECT aegis._bucket_parts(p.series_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, p.ts,
                                   p.vals, NULL, '-infinity', 'infinity', '1 hour', 6, NULL)
          FROM rs_parts p) x, generate_series(0, (length(pack) - 12) / 120 - 1) k;
SELECT aegis._bucket_parts(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                           '-infinity', 'infinity', NULL, 8, NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.drop_metric('rs') > 0 AS dropped;

-- Empty and degenerate input, for every fn. Series: one with no points in
-- the range, one with a single point, one of NaN only, one regular.
SELECT aegis.write('edge', '{"s": "one"}', '2024-03-02 00:00:30', 5);
SELECT aegis.write('edge', '{"s": "nan"}', '2024-03-02 00:00:00'::timestamptz + i * interval '10 seconds', 'NaN')
  FROM generate_series(0, 5) i;
SELECT aegis.write('edge', '{"s": "far"}', '2024-05-01', 1);
CREATE TABLE fns(fn) AS SELECT unnest(ARRAY['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'median',
  'quantile(0.5)', 'stddev', 'variance', 'delta', 'rate', 'increase', 'sample_delta', 'sample_rate',
  'sample_increase', 'irate', 'resets', 'changes']);
-- One point and all-NaN, one bucket [00:00, 00:01): a lone point gives
-- count 1, its value for sum/min/max/avg/first/last/median, stddev and
-- variance 0, resets and changes 0, and NULL for the functions that need two
-- points; NaN values give NaN (changes: NaN after NaN is no change).
SELECT f.fn, a.tags ->> 's' AS s, a.value
  FROM fns f, aegis.aggregate('edge{s=~"one|nan"}', f.fn, '2024-03-02 00:00', '2024-03-02 00:01', '1 minute') a
 ORDER BY f.fn, s;
-- No points in the range: no rows (fill 'none'), or every bucket NULL with
-- fill 'null'; since >= until: no rows for every fn.
SELECT count(*) AS rows FROM fns f, aegis.aggregate('edge', f.fn, '2024-03-03', '2024-03-04', '1 hour');
SELECT count(*) AS rows, count(value) AS non_null
  FROM fns f, aegis.aggregate('edge{s="one"}', f.fn, '2024-03-03', '2024-03-03 03:00', '1 hour', NULL, 'null');
SELECT count(*) AS rows FROM fns f, aegis.aggregate('edge', f.fn, '2024-03-02 01:00', '2024-03-02 00:00', '1 hour');
SELECT count(*) AS rows FROM fns f, aegis.rolling('edge', f.fn, '1 hour', '2024-03-02 01:00', '2024-03-02 00:00');
-- A step larger than the range: one bucket, starting before since; its
-- window for rate/increase/delta is the part inside [since, until).
SELECT f.fn, a.bucket, round(a.value::numeric, 6) AS value
  FROM fns f, aegis.aggregate('req{host="a"}', f.fn, '2024-03-02 00:00:05', '2024-03-02 00:00:45', '1 day') a
 ORDER BY f.fn;
-- Month steps: calendar months in UTC, whatever the session's time zone
-- (as aegis.time_bucket(width, ts) without a time zone).
SET TimeZone = 'America/New_York';
SELECT f.fn, a.bucket, a.value
  FROM (VALUES ('count'), ('resets'), ('increase')) f(fn),
       aegis.aggregate('edge', f.fn, '2024-02-01', '2024-06-01', '1 month', '{}') a
 ORDER BY f.fn, a.bucket;
RESET TimeZone;
-- rolling over a lone point and NaN: one row per point.
SELECT f.fn, r.tags ->> 's' AS s, count(*) AS rows, count(r.value) AS non_null
  FROM fns f, aegis.rolling('edge{s=~"one|nan"}', f.fn, '1 minute') r
 GROUP BY f.fn, s ORDER BY f.fn, s;
-- The SQL aggregates over no rows, one row and NULLs: NULL.
SELECT aegis.increase(value, ts) AS none FROM aegis.points WHERE false;
SELECT aegis.increase(value, ts) AS one, aegis.delta(value, ts, '-infinity', 'infinity') AS one_windowed
  FROM aegis.points WHERE metric = 'edge' AND tags = '{"s": "one"}';
SELECT aegis.increase(NULL, now()) AS null_value, aegis.increase(1, NULL) AS null_time;
-- aegis.latest reads aegis.last_points, which every write keeps current (at
-- commit) and every removal recomputes.
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:10', 1);
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:05', 2);   -- older: the newest stays
SELECT ts, value FROM aegis.latest('lv');
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:10', 3);   -- the newest overwritten
SELECT ts, value FROM aegis.latest('lv');
BEGIN;
SAVEPOINT s;
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:20', 4);
ROLLBACK TO SAVEPOINT s;                                   -- the newer write is gone
SELECT aegis.write('lv', '{}', ARRAY['2024-03-02 00:00:15', '2024-03-02 00:00:12']::timestamptz[], ARRAY[5, 6]::float8[]);
COMMIT;
SELECT ts, value FROM aegis.latest('lv');
BEGIN;                                                     -- a transaction sees its own writes
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:16', 8);
SELECT ts, value FROM aegis.latest('lv');
ROLLBACK;
SELECT ts, value FROM aegis.latest('lv');
SELECT aegis.compress('0') > 0 AS compressed;
SELECT ts, value FROM aegis.latest('lv');
SELECT aegis.delete('lv', '2024-03-02 00:00:13', 'infinity');  -- removes the newest (in a block)
SELECT ts, value FROM aegis.latest('lv');
DELETE FROM aegis.points WHERE metric = 'lv' AND ts >= '2024-03-02 00:00:11';
SELECT ts, value FROM aegis.latest('lv');
SELECT aegis.delete('lv', '-infinity', 'infinity');
SELECT count(*) AS latest_rows FROM aegis.latest('lv');
-- The commit takes the newest point of each series as the transaction
-- wrote it, unless something else changed the series in the transaction:
-- then it reads the newest point back from storage.
BEGIN;                                                     -- the same timestamp written twice
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:40', 9);
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:40', 10);
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:35', 11);  -- older: not the newest
COMMIT;
SELECT ts, value FROM aegis.latest('lv');
BEGIN;                                                     -- written, then deleted
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:50', 12);
SELECT aegis.delete('lv', '2024-03-02 00:00:38', 'infinity');
COMMIT;
SELECT ts, value FROM aegis.latest('lv');
BEGIN;                                                     -- deleted, then written again
SELECT aegis.delete('lv', '2024-03-02 00:00:31', 'infinity');
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:33', 13);
COMMIT;
SELECT ts, value FROM aegis.latest('lv');
BEGIN;                                                     -- a rolled-back subtransaction among writes
SELECT aegis.write('lv', '{}', '2024-03-02 00:01:00', 14);
SAVEPOINT s;
SELECT aegis.write('lv', '{}', '2024-03-02 00:01:10', 15);
ROLLBACK TO SAVEPOINT s;
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:55', 16);
COMMIT;
SELECT ts, value FROM aegis.latest('lv');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT aegis.write('lv', '{}', '2024-03-02 00:01:20', 17);
COMMIT;
SELECT ts, value FROM aegis.latest('lv');
BEGIN;                                                     -- written, then its series removed
SELECT aegis.write('lv_gone', '{"k": "a"}', '2024-03-02 00:02:00', 18);
SELECT aegis.write('lv_gone', '{"k": "b"}', '2024-03-02 00:02:00', 19);
SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'lv_gone' AND tags ->> 'k' = 'a';
COMMIT;
SELECT tags, ts, value FROM aegis.latest('lv_gone');
BEGIN;
SELECT aegis.write('lv_gone', '{"k": "b"}', '2024-03-02 00:03:00', 20);
SELECT aegis.drop_metric('lv_gone') > 0 AS dropped;
COMMIT;
SELECT count(*) AS last_points_of_dropped FROM aegis.last_points l
 WHERE NOT EXISTS (SELECT FROM aegis.series s WHERE s.series_id = l.series_id);
SELECT aegis.write('lv', '{}', '2024-03-02 00:00:30', 7);
SELECT aegis.drop_metric('lv') > 0 AS dropped;
SELECT count(*) AS last_points_left FROM aegis.last_points l
 WHERE NOT EXISTS (SELECT FROM aegis.series s WHERE s.series_id = l.series_id);
-- A series no longer written, wholly older than its retention: latest
-- forgets it (the trim deletes its blocks and rows by index).
SELECT aegis.write('gone', '{}', ARRAY(SELECT '2024-03-02'::timestamptz + i * interval '1 minute' FROM generate_series(0, 1499) i),
                   ARRAY(SELECT i::float8 FROM generate_series(0, 1499) i)) AS written;
SELECT aegis.set_retention('gone', now() - timestamptz '2024-03-10');
SELECT aegis.apply_retention() > 0 AS trimmed;
SELECT count(*) AS latest_rows_of_gone FROM aegis.latest('gone');
SELECT aegis.drop_metric('gone') >= 0 AS dropped;
-- rolling never raises an overflow that no window's own sum raises.
SELECT aegis.write('big', '{}', ARRAY['2024-03-02 00:00:00', '2024-03-02 00:00:01', '2024-03-02 00:00:20']::timestamptz[],
                   ARRAY[0, 1e308, 1e308]::float8[]) AS written;
SELECT ts, value FROM aegis.rolling('big', 'sum', '10 seconds');
SELECT ts, value FROM aegis.rolling('big', 'avg', '10 seconds');
SELECT ts, value FROM aegis.rolling('big', 'sum', '1 minute');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The counter aggregates refuse infinite sample times.
SELECT aegis.rate(v, t) FROM (VALUES (1.0::float8, '-infinity'::timestamptz), (2, '2024-01-01')) x(v, t);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE par_counter, fns;
DROP AGGREGATE counter_state(float8, timestamptz);
SET client_min_messages = warning;
DROP EXTENSION aegis_timeseries CASCADE;
-- The backend keeps the plans of the selector queries it ran: after the
-- extension is dropped and created again in this session they are planned
-- anew over the new tables.
CREATE EXTENSION aegis_timeseries;
SELECT aegis.write('again', '{"h":"a"}', '2024-01-01', 5);
SELECT count(*) FROM aegis.find_series('again{h="a"}');
SELECT value FROM aegis.aggregate('again{h="a"}', 'sum', '-infinity', 'infinity');

-- Segment summaries (docs/block-format.md section 11): the 1,000-point
-- blocks of a 10-second series keep one per hour they touch, and hourly
-- buckets read them instead of decoding; the results equal SQL over the
-- points, also where since and until cut an hour.
SELECT aegis.write('dense', '{"h":"a"}',
                   ARRAY(SELECT '2024-01-01 00:07:13'::timestamptz + i * interval '10 s' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT round((50 + 20 * sin(i / 50.0))::numeric, 2)::float8 FROM generate_series(0, 2999) i));
SELECT count(*) AS blocks, count(segments) AS with_segments FROM aegis.blocks b JOIN aegis.series s USING (series_id)
 WHERE s.metric = 'dense';
SELECT fn, count(*) AS buckets,
       count(*) FILTER (WHERE a.value IS NOT DISTINCT FROM r.value) AS equal
  FROM unnest(ARRAY['count', 'min', 'max', 'first', 'last']) fn
 CROSS JOIN LATERAL aegis.aggregate('dense', fn, '2024-01-01 00:30', '2024-01-01 07:45', '1 hour') a
  JOIN (SELECT aegis.time_bucket('1 hour', ts) AS bucket, count(*)::float8 AS n, min(value) AS lo, max(value) AS hi,
               aegis.first(value, ts) AS f, aegis.last(value, ts) AS l
          FROM aegis.read('dense', '2024-01-01 00:30', '2024-01-01 07:45') GROUP BY 1) x ON x.bucket = a.bucket
 CROSS JOIN LATERAL (SELECT CASE fn WHEN 'count' THEN x.n WHEN 'min' THEN x.lo WHEN 'max' THEN x.hi
                                    WHEN 'first' THEN x.f ELSE x.l END AS value) r
 GROUP BY fn ORDER BY fn;
-- Steps shorter than the segments' hour decode the blocks (a block that
-- since cuts from the segment since falls in: decimal digits are summed from
-- that segment's first value, not the block's), a day takes whole segments:
-- every bucket equals SQL over the points.
SELECT step, count(*) AS buckets, count(*) FILTER (WHERE a.value = x.hi) AS equal
  FROM unnest(ARRAY['1 minute', '5 minutes', '1 day']::interval[]) step
 CROSS JOIN LATERAL aegis.aggregate('dense', 'max', '2024-01-01 00:30', '2024-01-01 07:45', step) a
 CROSS JOIN LATERAL (SELECT max(value) AS hi FROM aegis.read('dense', greatest(a.bucket, '2024-01-01 00:30'),
                                                             least(a.bucket + step, '2024-01-01 07:45'))) x
 GROUP BY step ORDER BY step;
-- The segments are not covered by the block's checksum: damaged ones are an
-- error (XX001) where they are read, hourly buckets of a function that takes
-- summaries; other functions and steps, aegis.read and aegis.rolling do not
-- read them.
UPDATE aegis.blocks SET segments = '\x01'::bytea
 WHERE ts_min = (SELECT min(ts_min) FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'dense');
SELECT count(*) FROM aegis.aggregate('dense', 'max', '-infinity', 'infinity', '1 hour');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM aegis.aggregate('dense', 'median', '-infinity', 'infinity', '1 hour');
SELECT count(*) FROM aegis.aggregate('dense', 'max', '-infinity', 'infinity');
SELECT count(*) FROM aegis.read('dense');
SELECT count(*) FROM aegis.rolling('dense', 'max', '1 hour', '-infinity', 'infinity');
-- One byte changed: the segments' own checksum does not match.
UPDATE aegis.blocks b SET segments = set_byte(s.segments, 6, get_byte(s.segments, 6) # 1)
  FROM aegis.blocks s WHERE b.segments = '\x01'::bytea AND s.ts_min > b.ts_min AND s.segments IS NOT NULL
   AND s.ts_min = (SELECT min(ts_min) FROM aegis.blocks x WHERE x.ts_min > b.ts_min);
SELECT count(*) FROM aegis.aggregate('dense', 'max', '-infinity', 'infinity', '1 hour');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Five-minute buckets cannot take hour segments whole: they are not read
-- (their header says their span), and the block is decoded.
SELECT count(*) FROM aegis.aggregate('dense', 'max', '-infinity', 'infinity', '5 minutes');
-- Another block's segments do not start and end where this block does.
UPDATE aegis.blocks b SET segments = (SELECT segments FROM aegis.blocks WHERE ts_min > b.ts_min ORDER BY ts_min LIMIT 1)
 WHERE ts_min = (SELECT min(ts_min) FROM aegis.blocks x JOIN aegis.series s USING (series_id) WHERE s.metric = 'dense');
SELECT count(*) FROM aegis.aggregate('dense', 'max', '-infinity', 'infinity', '1 hour');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Without segments (NULL) the block is decoded, with the same result.
UPDATE aegis.blocks b SET segments = NULL
 WHERE ts_min = (SELECT min(ts_min) FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'dense');
SELECT count(*), sum(value) FROM aegis.aggregate('dense', 'max', '-infinity', 'infinity', '1 hour');
SELECT count(*), sum(m) FROM (SELECT max(value) AS m FROM aegis.read('dense') GROUP BY aegis.time_bucket('1 hour', ts)) x;
-- A random walk of 2-decimal values (steps of about a unit, as the
-- benchmark's set) stores its digit differences Rice-coded: a 1-minute read
-- from 07:30 decodes the last block from its 07:00 segment on (the segment's
-- first value gives the digits there), and every bucket equals SQL over the
-- points.
CREATE TEMP TABLE walk_points AS
SELECT '2024-01-01 00:07:13'::timestamptz + i * interval '10 s' AS ts,
       (5000 + sum((i * 7919) % 201 + (i * 104729) % 201 + (i * 1299709) % 201 - 300) OVER (ORDER BY i)) / 100.0 AS v
  FROM generate_series(0::bigint, 2999) i;
SELECT aegis.write('walk', '{"h":"a"}', array_agg(ts ORDER BY ts), array_agg(v::float8 ORDER BY ts)),
       aegis.write('walk_twin', '{"h":"a"}', array_agg(ts ORDER BY ts), array_agg((v + 20)::float8 ORDER BY ts))
  FROM walk_points;
SELECT count(*) AS buckets, count(*) FILTER (WHERE a.value = x.hi) AS equal
  FROM aegis.aggregate('walk', 'max', '2024-01-01 07:30', 'infinity', '1 minute') a
  JOIN (SELECT aegis.time_bucket('1 minute', ts) AS bucket, max(v)::float8 AS hi FROM walk_points
         WHERE ts >= '2024-01-01 07:30' GROUP BY 1) x USING (bucket);
-- Segments with a valid checksum that belong to another series over the same
-- times, the same walk 20 higher (their counts, times and differences agree
-- with the block, their values do not): the decode that starts from a
-- segment's first value checks the block's last value against its catalog
-- row's, and the disagreement is an error (XX001), never other values.
UPDATE aegis.blocks b SET segments = o.segments
  FROM aegis.blocks o, aegis.series sb, aegis.series so
 WHERE sb.series_id = b.series_id AND sb.metric = 'walk' AND so.series_id = o.series_id AND so.metric = 'walk_twin'
   AND o.ts_min = b.ts_min AND b.ts_min = '2024-01-01 05:40:33';
SELECT count(*) FROM aegis.aggregate('walk', 'max', '2024-01-01 07:30', 'infinity', '1 minute');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- aegis.latest over many series reads aegis.last_points in one scan (at
-- least 256 series and half the table), over few by index; both give each
-- series' newest point, also for series this transaction wrote.
SELECT count(aegis.write('many', jsonb_build_object('i', i::text), '2024-01-01'::timestamptz + j * interval '1 minute',
                         i * 1000 + j))
  FROM generate_series(1, 600) i, generate_series(1, 3) j;
ANALYZE aegis.last_points;
BEGIN;
SELECT aegis.write('many', '{"i":"7"}', '2024-01-02', -7);
SELECT count(*) AS series, count(*) FILTER (WHERE value = (tags->>'i')::int * 1000 + 3) AS newest_of_three,
       count(*) FILTER (WHERE value = -7 AND ts = '2024-01-02') AS written_here
  FROM aegis.latest('many');
SELECT count(*) AS series, count(*) FILTER (WHERE value = (tags->>'i')::int * 1000 + 3) AS newest_of_three
  FROM aegis.latest('many{i=~"1.*"}');
COMMIT;
DROP EXTENSION aegis_timeseries CASCADE;
