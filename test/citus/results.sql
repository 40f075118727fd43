-- What the scale-out tier compares between a single node and the Citus
-- cluster (test/citus/run.sh). Values as exact text (float8 output
-- round-trips), points as a digest over their bit patterns.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
SELECT metric, count(*) AS points, md5(string_agg(tags::text || ts::text || float8send(value)::text, ','
                                                  ORDER BY tags::text, ts)) AS digest
  FROM aegis.read('{__name__=~".+"}') GROUP BY metric ORDER BY metric;
SELECT series_id, metric, tags FROM aegis.series ORDER BY series_id;
SELECT series_id, metric, tags, ts, value FROM aegis.latest('{__name__=~".+"}');
SELECT metric, series, points, compressed_points, oldest, newest FROM aegis.stats;
SELECT metric, step, series, points, steps FROM aegis.rollup_stats;
SELECT metric, count(*), min(ts), max(ts), sum(value::numeric) FROM aegis.points GROUP BY metric ORDER BY metric;
SELECT metric, tags, ts, value FROM aegis.points
 WHERE metric = 'cpu' AND tags @> '{"host": "h3"}' AND ts >= '2024-01-01 01:55' AND ts < '2024-01-01 02:05'
 ORDER BY ts;
-- The fast path, every function, per series and grouped.
SELECT fn, g, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || a.value::text, ',' ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['count', 'min', 'max', 'first', 'last', 'median', 'quantile(0.9)', 'rate', 'increase',
                    'delta', 'irate', 'resets', 'changes', 'sample_increase']) fn,
       unnest(ARRAY['none', 'dc']) g,
       aegis.aggregate(CASE WHEN fn IN ('rate', 'increase', 'irate', 'resets', 'sample_increase') THEN 'req'
                            ELSE 'cpu{host=~"h1.*"}' END,
                       fn, '2024-01-01 01:30', '2024-01-01 10:00', '1 hour',
                       CASE WHEN g = 'dc' AND fn NOT IN ('rate', 'increase', 'irate', 'resets', 'sample_increase')
                            THEN ARRAY['dc'] END) a
 GROUP BY fn, g ORDER BY fn, g;
-- The functions block summaries answer, on a metric without roll-ups (on
-- Citus summed up per bucket on the shards), every grouping, with and
-- without a step, with fills.
-- The second range starts and ends on samples inside compressed blocks; the
-- late samples written after the last compression are recent rows there.
SELECT fn, g, st, fill, since, until, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || coalesce(a.value::text, 'null'), ','
                      ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'delta', 'sample_delta']) fn,
       unnest(ARRAY['series', 'all', 'host']) g,
       unnest(ARRAY['1 hour', '7 minutes', NULL]::interval[]) st,
       unnest(ARRAY['none', 'previous']) fill,
       unnest(ARRAY['2024-01-01 01:13', '2024-01-01 03:07:30']::timestamptz[]) since,
       unnest(ARRAY['2024-01-01 09:00', '2024-01-01 06:02:45']::timestamptz[]) until,
       aegis.aggregate('req', fn, since, until, st,
                       CASE g WHEN 'all' THEN '{}'::text[] WHEN 'host' THEN ARRAY['host'] END, fill) a
 GROUP BY fn, g, st, fill, since, until ORDER BY fn, g, st, fill, since, until;
-- The counter functions on the metric without roll-ups (on Citus computed
-- on the shards, each block's part of a bucket with its counter state, where the
-- parts follow each other in time: the first range holds no recent row;
-- read by the coordinator where they do not: recent rows lie inside the
-- blocks of the second), every grouping, with and without a step.
SELECT fn, g, st, r.since, r.until, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || coalesce(a.value::text, 'null'), ','
                      ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['rate', 'increase', 'sample_rate', 'sample_increase', 'irate', 'resets', 'changes']) fn,
       unnest(ARRAY['series', 'all', 'host']) g,
       unnest(ARRAY['1 hour', '7 minutes', NULL]::interval[]) st,
       unnest(ARRAY['2024-01-01 04:30', '2024-01-01 02:07:30']::timestamptz[],
              ARRAY['2024-01-01 08:20', '2024-01-01 05:10']::timestamptz[]) r(since, until),
       aegis.aggregate('req', fn, r.since, r.until, st,
                       CASE g WHEN 'all' THEN '{}'::text[] WHEN 'host' THEN ARRAY['host'] END) a
 GROUP BY fn, g, st, r.since, r.until ORDER BY fn, g, st, r.since, r.until;
-- stddev and variance on the metric without roll-ups (on Citus each block's
-- part of a bucket comes with its sum of squared deviations, combined on
-- the coordinator, so the last bits may differ from a single node's:
-- docs/scale-out.md): each layout's values against PostgreSQL's own
-- stddev_pop/var_pop over the same points, to a relative 1e-9.
CREATE TEMP TABLE moments_check AS
WITH pts AS MATERIALIZED (SELECT tags, ts, value FROM aegis.points WHERE metric = 'req'),
grid AS (SELECT fn, g, st, coalesce(st::text, 'none') AS stk, since, until
           FROM unnest(ARRAY['stddev', 'variance']) fn,
                unnest(ARRAY['series', 'all', 'host']) g,
                unnest(ARRAY['1 hour', '7 minutes', NULL]::interval[]) st,
                unnest(ARRAY['2024-01-01 01:13', '2024-01-01 03:07:30']::timestamptz[]) since,
                unnest(ARRAY['2024-01-01 09:00', '2024-01-01 06:02:45']::timestamptz[]) until),
got AS (SELECT grid.*, a.bucket, a.tags::text AS k, a.value
          FROM grid, aegis.aggregate('req', fn, since, until, st,
                                     CASE g WHEN 'all' THEN '{}'::text[] WHEN 'host' THEN ARRAY['host'] END) a),
want AS (SELECT grid.fn, grid.g, grid.stk, grid.since, grid.until,
                coalesce(aegis.time_bucket(grid.st, p.ts), grid.since) AS bucket,
                CASE grid.g WHEN 'all' THEN '{}' ELSE p.tags::text END AS k,
                CASE grid.fn WHEN 'stddev' THEN stddev_pop(p.value) ELSE var_pop(p.value) END AS value
           FROM grid JOIN pts p ON p.ts >= grid.since AND p.ts < grid.until
          GROUP BY 1, 2, 3, 4, 5, 6, 7)
SELECT fn, g, stk AS step, since, until, count(*) AS buckets,
       count(*) FILTER (WHERE got.value IS NULL OR want.value IS NULL
                           OR abs(got.value - want.value) > 1e-9 * greatest(abs(want.value), 1e-300)) AS differ
  FROM (SELECT fn, g, stk, since, until, bucket, k, value FROM got) got
  FULL JOIN want USING (fn, g, stk, since, until, bucket, k)
 GROUP BY fn, g, stk, since, until;
SELECT * FROM moments_check ORDER BY fn, g, step, since, until;
DO $$
BEGIN
  IF (SELECT count(*) FROM moments_check) <> 72 OR EXISTS (SELECT FROM moments_check WHERE differ > 0) THEN
    RAISE EXCEPTION 'stddev/variance differ from PostgreSQL''s stddev_pop/var_pop over the same points';
  END IF;
END $$;
-- Across cpu's rolled-up range (10-minute steps before 01:00, then raw
-- points; on Citus the coordinator folds the steps, then the shards'
-- summaries of the raw points), steps finer than, equal to and coarser than
-- the stored one, and one bucket.
SELECT fn, st, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || coalesce(a.value::text, 'null'), ','
                      ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['count', 'min', 'max', 'first', 'last', 'delta', 'sample_delta']) fn,
       unnest(ARRAY['5 minutes', '10 minutes', '20 minutes', NULL]::interval[]) st,
       aegis.aggregate('cpu', fn, '2024-01-01 00:00', '2024-01-01 03:00', st) a
 GROUP BY fn, st ORDER BY fn, st;
SELECT fn, st, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || round(a.value::numeric, 6)::text, ','
                      ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['sum', 'avg', 'stddev', 'variance']) fn,
       unnest(ARRAY['10 minutes', '20 minutes', NULL]::interval[]) st,
       aegis.aggregate('cpu', fn, '2024-01-01 00:00', '2024-01-01 03:00', st) a
 GROUP BY fn, st ORDER BY fn, st;
-- The counter functions over the rolled-up range (on Citus the coordinator
-- joins the steps, then the shards' counter runs of the raw points), and the
-- ones steps cannot answer fail on both layouts alike. cpu's values are not
-- whole numbers: a step's resets and the raw points' are summed apart on
-- Citus (docs/scale-out.md), so to 6 decimals, as the sums below.
SELECT fn, st, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || coalesce(round(a.value::numeric, 6)::text, 'null'), ','
                      ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['rate', 'increase', 'sample_rate', 'sample_increase']) fn,
       unnest(ARRAY['20 minutes', NULL]::interval[]) st,
       aegis.aggregate('cpu', fn, '2024-01-01 00:00', '2024-01-01 03:00', st) a
 GROUP BY fn, st ORDER BY fn, st;
-- A counter whose raw points (a late block and a recent row over it) lie
-- inside its rolled-up steps: joined as one node joins them, bit for bit.
SELECT fn, st, count(*) AS buckets,
       md5(string_agg(a.bucket::text || a.tags::text || coalesce(a.value::text, 'null'), ','
                      ORDER BY a.tags::text, a.bucket)) AS digest
  FROM unnest(ARRAY['rate', 'increase', 'sample_rate', 'sample_increase', 'delta']) fn,
       unnest(ARRAY['10 minutes', '25 minutes', NULL]::interval[]) st,
       aegis.aggregate('cnt', fn, '2024-01-01 00:00', '2024-01-01 02:00', st) a
 GROUP BY fn, st ORDER BY fn, st;
DO $$
DECLARE
  fn text;
BEGIN
  FOREACH fn IN ARRAY ARRAY['irate', 'resets', 'changes'] LOOP
    BEGIN
      PERFORM count(*) FROM aegis.aggregate('cpu', fn, '2024-01-01 00:00', '2024-01-01 03:00', '20 minutes');
      RAISE EXCEPTION '% over rolled-up steps did not fail', fn;
    EXCEPTION WHEN feature_not_supported THEN
      NULL;
    END;
  END LOOP;
END $$;
-- Sums in another order differ in the last bits (docs/scale-out.md): to 6
-- decimals.
SELECT fn, a.bucket, a.tags, round(a.value::numeric, 6)
  FROM unnest(ARRAY['sum', 'avg', 'stddev']) fn,
       aegis.aggregate('cpu', fn, '2024-01-01', '2024-01-01 12:00', '3 hours', ARRAY['dc']) a
 ORDER BY fn, a.tags::text, a.bucket;
-- SQL aggregates over aegis.points (on Citus summarised on the shards where
-- the engine buckets them: docs/scale-out.md), per dc over cpu's raw points
-- (late writes, deletes and recent rows among them): time_bucket with and
-- without an origin, Grafana's epoch buckets, date_trunc in UTC, one
-- bucket, and a value condition (every point tested, on the coordinator).
-- Sums in another order differ in the last bits: to 6 decimals.
SET TIME ZONE 'UTC';
SELECT k, count(*) AS rows,
       md5(string_agg(concat_ws('|', b, dc, n, lo, hi, f, l, round(su::numeric, 6), round(av::numeric, 6),
                                round(sd::numeric, 6), round(va::numeric, 6)), ',' ORDER BY b, dc)) AS digest
  FROM (SELECT 'time_bucket' AS k, aegis.time_bucket('20 minutes', ts)::text AS b, tags ->> 'dc' AS dc, count(*) AS n,
               min(value) AS lo, max(value) AS hi, aegis.first(value, ts) AS f, aegis.last(value, ts) AS l,
               sum(value) AS su, avg(value) AS av, stddev_samp(value) AS sd, var_pop(value) AS va
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 10:00'
         GROUP BY 2, 3
        UNION ALL
        SELECT 'origin', aegis.time_bucket('20 minutes', ts, '2024-01-01 00:07'::timestamptz)::text, tags ->> 'dc',
               count(*), min(value), max(value), aegis.first(value, ts), aegis.last(value, ts), sum(value),
               avg(value), stddev_samp(value), var_pop(value)
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 10:00'
         GROUP BY 2, 3
        UNION ALL
        SELECT 'epoch', (floor(extract(epoch FROM ts) / 900) * 900)::text, tags ->> 'dc', count(*), min(value),
               max(value), aegis.first(value, ts), aegis.last(value, ts), sum(value), avg(value),
               stddev_samp(value), var_pop(value)
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 10:00'
         GROUP BY 2, 3
        UNION ALL
        SELECT 'date_trunc', date_trunc('hour', ts)::text, tags ->> 'dc', count(*), min(value), max(value),
               aegis.first(value, ts), aegis.last(value, ts), sum(value), avg(value), stddev_samp(value),
               var_pop(value)
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 10:00'
         GROUP BY 2, 3
        UNION ALL
        SELECT 'one bucket', NULL, tags ->> 'dc', count(*), min(value), max(value), aegis.first(value, ts),
               aegis.last(value, ts), sum(value), avg(value), stddev_samp(value), var_pop(value)
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' GROUP BY 3
        UNION ALL
        SELECT 'summaries only', aegis.time_bucket('20 minutes', ts)::text, tags ->> 'dc', count(*), min(value),
               max(value), aegis.first(value, ts), aegis.last(value, ts), sum(value), avg(value), NULL, NULL
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 10:00'
         GROUP BY 2, 3
        UNION ALL
        SELECT 'value condition', aegis.time_bucket('20 minutes', ts)::text, tags ->> 'dc', count(*), min(value),
               max(value), aegis.first(value, ts), aegis.last(value, ts), sum(value), avg(value),
               stddev_samp(value), var_pop(value)
          FROM aegis.points WHERE metric = 'cpu' AND ts >= '2024-01-01 01:00' AND value > 20 GROUP BY 2, 3) x
 GROUP BY k ORDER BY k;
-- The counter aggregates per series over aegis.points (on Citus the shards'
-- counter runs where they follow each other in time, the first range; the
-- coordinator's read where recent rows lie inside blocks, the second).
SELECT k, count(*) AS rows,
       md5(string_agg(concat_ws('|', tags, b, rate, increase, delta, n, av), ',' ORDER BY tags::text, b)) AS digest
  FROM (SELECT 'in order' AS k, tags, aegis.time_bucket('1 hour', ts) AS b, aegis.rate(value, ts) AS rate,
               aegis.increase(value, ts) AS increase, aegis.delta(value, ts) AS delta, count(*) AS n,
               avg(value) AS av
          FROM aegis.points WHERE metric = 'req' AND ts >= '2024-01-01 04:30' AND ts < '2024-01-01 08:20'
         GROUP BY metric, tags, 3
        UNION ALL
        SELECT 'recent rows inside blocks', tags, aegis.time_bucket('1 hour', ts), aegis.rate(value, ts),
               aegis.increase(value, ts), aegis.delta(value, ts), count(*), avg(value)
          FROM aegis.points WHERE metric = 'req' AND ts >= '2024-01-01 02:07:30' AND ts < '2024-01-01 05:10'
         GROUP BY metric, tags, 3) x
 GROUP BY k ORDER BY k;
-- At float8's edge, the same values or the same error (SQLSTATE) as one
-- node: a sum that overflows after an infinite block (no error: the running
-- sum is infinite), beside stddev (each part apart) and alone (combined per
-- bucket; the recent rows come in a pack of their own, so the coordinator
-- judges their overflow against the running sum), also through
-- aegis.aggregate and over the group of both series; avg beside a counter
-- aggregate over values whose Sxx overflows (float8_accum's error), and
-- alone from the block's summary (no error) or over recent rows (the
-- error); a sum that overflows after another series' finite sum (the
-- error, judged on the coordinator).
CREATE TEMP TABLE edge_outcomes (q text, outcome text);
DO $$
DECLARE
  q text;
  r text;
BEGIN
  FOREACH q IN ARRAY ARRAY[
    'SELECT sum(value), stddev(value) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' = ''a''',
    'SELECT sum(value), count(*) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' = ''a''',
    'SELECT avg(value), aegis.rate(value, ts) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' = ''b'' '
      'GROUP BY metric, tags',
    'SELECT avg(value) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' = ''b''',
    'SELECT sum(value), aegis.rate(value, ts) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' = ''a'' '
      'GROUP BY metric, tags',
    'SELECT fn, value FROM unnest(ARRAY[''sum'', ''avg'']) fn, '
      'aegis.aggregate(''big{host="a"}'', fn, ''-infinity'', ''infinity'')',
    'SELECT fn, value FROM unnest(ARRAY[''sum'', ''avg'', ''stddev'']) fn, '
      'aegis.aggregate(''big'', fn, ''-infinity'', ''infinity'', NULL, ''{}'')',
    'SELECT avg(value) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' = ''c''',
    'SELECT value FROM aegis.aggregate(''big{host="c"}'', ''avg'', ''-infinity'', ''infinity'')',
    'SELECT sum(value) FROM aegis.points WHERE metric = ''big'' AND tags ->> ''host'' IN (''b'', ''g'')',
    'SELECT fn, value FROM unnest(ARRAY[''sum'', ''avg'']) fn, '
      'aegis.aggregate(''big{host=~"b|g"}'', fn, ''-infinity'', ''infinity'', NULL, ''{}'')'] LOOP
    BEGIN
      EXECUTE 'SELECT string_agg(t::text, '';'') FROM (' || q || ') t' INTO r;
    EXCEPTION WHEN OTHERS THEN
      r := 'ERROR ' || SQLSTATE;
    END;
    INSERT INTO edge_outcomes VALUES (q, r);
  END LOOP;
END $$;
SELECT outcome, q FROM edge_outcomes;
RESET TIME ZONE;
SELECT ts, value FROM aegis.rolling('cpu{host="h3"}', 'max', '5 minutes', '2024-01-01 08:55', '2024-01-01 09:10');
-- rolling over every series of three metrics, windows reaching back before
-- since, across cpu's rolled-up range (no points there), req's blocks with
-- late samples inside them, and solo's recent rows without blocks (on Citus
-- computed on the shards).
SELECT fn, count(*) AS points,
       md5(string_agg(r.series_id::text || r.ts::text || coalesce(r.value::text, 'null'), ','
                      ORDER BY r.series_id, r.ts)) AS digest
  FROM unnest(ARRAY['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'median', 'quantile(0.9)', 'stddev',
                    'rate', 'increase', 'resets']) fn,
       aegis.rolling('{__name__=~"cpu|req|solo"}', fn, '7 minutes', '2024-01-01 00:50', '2024-01-01 06:00') r
 GROUP BY fn ORDER BY fn;
SELECT * FROM aegis.series_points(
         (SELECT series_id FROM aegis.series WHERE metric = 'req' AND tags ->> 'host' = 'h2'),
         '2024-01-01 07:00', '2024-01-01 07:02');
-- Open upper bound.
SELECT count(*) FROM aegis.read('req{host="h2"}', '2024-01-01 08:00');
