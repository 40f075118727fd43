-- aegis.aggregate and the first/last aggregates (API.md section 5).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Two hosts in two regions, one point a minute for 3 hours; h1 compressed,
-- h2 recent, h3 half and half.
SELECT count(aegis.write('cpu', jsonb_build_object('host', 'h' || h, 'region', CASE WHEN h = 1 THEN 'eu' ELSE 'us' END),
                         '2024-01-01'::timestamptz + i * interval '1 minute', h * 100 + i % 60))
  FROM generate_series(1, 3) h, generate_series(0, 179) i
 WHERE h <> 2;
SELECT aegis.compress('0');
SELECT count(aegis.write('cpu', jsonb_build_object('host', 'h' || h, 'region', 'us'),
                         '2024-01-01'::timestamptz + i * interval '1 minute', h * 100 + i % 60))
  FROM generate_series(2, 3) h, generate_series(0, 179) i
 WHERE h = 2 OR i >= 90;

-- Each function, per series, hourly, on a window not aligned to buckets.
SELECT fn, bucket, tags ->> 'host' AS host, value
  FROM unnest(ARRAY['count', 'sum', 'min', 'max', 'avg', 'first', 'last', 'delta', 'median', 'quantile(0.25)',
                    'stddev', 'variance']) fn,
       aegis.aggregate('cpu{host=~"h[12]"}', fn, '2024-01-01 00:30', '2024-01-01 02:10', '1 hour')
 ORDER BY fn, host, bucket;
-- step NULL: one bucket spanning [since, until), stamped since.
SELECT bucket, tags, value FROM aegis.aggregate('cpu', 'count', '2024-01-01 00:30', '2024-01-01 02:10');
-- group_by: all series as one group, or by tag values.
SELECT bucket, tags, value FROM aegis.aggregate('cpu', 'max', '2024-01-01', '2024-01-02', '1 hour', '{}');
SELECT bucket, tags, value FROM aegis.aggregate('cpu', 'avg', '2024-01-01', '2024-01-02', '90 minutes', '{region}');
SELECT bucket, tags, value FROM aegis.aggregate('cpu', 'count', '2024-01-01', '2024-01-02', NULL, '{region,host,nope}');
-- A repeated key counts once: the same groups as '{region}'.
SELECT bucket, tags, value FROM aegis.aggregate('cpu', 'count', '2024-01-01', '2024-01-02', NULL, '{region,region}');
-- More keys than one jsonb_build_object takes (50 pairs): the same groups.
SELECT bucket, tags, value
  FROM aegis.aggregate('cpu', 'count', '2024-01-01', '2024-01-02', NULL,
                       ARRAY(SELECT 'k' || i FROM generate_series(1, 59) i) || '{region}'::text[]);
SELECT aegis.write('mem', jsonb_build_object('host', 'h' || h), '2024-01-01 00:10', h) FROM generate_series(1, 2) h;
SELECT bucket, tags, value FROM aegis.aggregate('{__name__=~"cpu|mem"}', 'count', '2024-01-01', '2024-01-02', NULL, '{__name__}');
SELECT bucket, tags, value FROM aegis.aggregate('{__name__=~"cpu|mem"}', 'max', '2024-01-01', '2024-01-02', NULL, '{__name__,region}');
-- Many series (fetched a few hundred at a time), grouped across the fetches.
SELECT count(aegis.write('many', jsonb_build_object('i', i::text, 'g', (i % 7)::text),
                         '2024-01-01'::timestamptz + (i % 13) * interval '1 min', i))
  FROM generate_series(1, 700) i;
WITH a AS (SELECT bucket, tags ->> 'g' AS g, value FROM aegis.aggregate('many', 'sum', '2024-01-01', '2024-01-02', '5 minutes', '{g}')),
     p AS (SELECT aegis.time_bucket('5 minutes', ts) AS bucket, tags ->> 'g' AS g, sum(value) AS value
             FROM aegis.read('many') GROUP BY 1, 2)
SELECT count(*) AS buckets, count(*) FILTER (WHERE a.value IS DISTINCT FROM p.value) AS differ
  FROM a FULL JOIN p USING (bucket, g);
SELECT count(*) AS rows, count(DISTINCT tags) AS series FROM aegis.aggregate('many', 'count', '2024-01-01', '2024-01-02');
-- Seven groups whose series interleave by series_id are aggregated side by
-- side (their blocks read in series_id order): every function equals SQL over
-- the points, and the rows come group by group, each group's buckets in order.
WITH a AS (SELECT fn, row_number() OVER () AS rn, bucket, tags ->> 'g' AS g, value
             FROM unnest(ARRAY['count', 'min', 'max', 'avg', 'first', 'last']) fn,
                  LATERAL aegis.aggregate('many', fn, '2024-01-01', '2024-01-02', '5 minutes', '{g}')),
     p AS (SELECT aegis.time_bucket('5 minutes', ts) AS bucket, tags ->> 'g' AS g, count(*)::float8 AS n,
                  min(value) AS lo, max(value) AS hi, avg(value) AS mean, aegis.first(value, ts) AS f,
                  aegis.last(value, ts) AS l
             FROM aegis.read('many') GROUP BY 1, 2),
     o AS (SELECT a.*, (g, bucket) > (lag(g) OVER w, lag(bucket) OVER w) AS after_previous
             FROM a WINDOW w AS (PARTITION BY fn ORDER BY rn))
SELECT o.fn, count(*) AS buckets,
       count(*) FILTER (WHERE o.value IS DISTINCT FROM CASE o.fn WHEN 'count' THEN p.n WHEN 'min' THEN p.lo
                                                      WHEN 'max' THEN p.hi WHEN 'avg' THEN p.mean
                                                      WHEN 'first' THEN p.f ELSE p.l END) AS differ,
       bool_and(o.after_previous IS NOT FALSE) AS in_order
  FROM o JOIN p USING (bucket, g)
 GROUP BY o.fn ORDER BY o.fn;
-- Block summaries answer blocks that lie inside one bucket: the same values.
SELECT a.bucket, a.value = b.value AS same
  FROM aegis.aggregate('cpu{host="h1"}', 'sum', '2024-01-01', '2024-01-02', '1 day') a,
       (SELECT sum(value) AS value FROM aegis.read('cpu{host="h1"}')) b;
-- fill: null, previous, linear, a number.
SELECT aegis.write('sparse', '{}', ts, v)
  FROM (VALUES ('2024-01-01 00:10+00'::timestamptz, 1.0), ('2024-01-01 03:20+00', 4.0)) p(ts, v);
SELECT f, bucket, value FROM unnest(ARRAY['none', 'null', 'previous', 'linear', '-1']) f,
       aegis.aggregate('sparse', 'max', '2024-01-01', '2024-01-01 05:00', '1 hour', NULL, f)
 ORDER BY f, bucket;
-- Months.
SELECT bucket, value FROM aegis.aggregate('cpu{host="h1"}', 'count', '2023-11-15', '2024-03-01', '1 month', NULL, '0');

-- Errors.
SELECT * FROM aegis.aggregate('cpu', 'mean', '2024-01-01', '2024-01-02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.aggregate('cpu', 'quantile(1.5)', '2024-01-01', '2024-01-02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.aggregate('cpu', 'avg', '2024-01-01', '2024-01-02', '1 hour', NULL, 'zero');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.aggregate('cpu', 'avg', '-infinity', '2024-01-02', '1 hour', NULL, 'null');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.aggregate('cpu', 'avg', '2024-01-01', '2024-01-02', '0 hours');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.aggregate('cpu', 'avg', NULL, '2024-01-02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.aggregate('cpu', 'avg', '2024-01-01', '2024-01-02', '1 hour', ARRAY['host', NULL]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- The first/last SQL aggregates, with any GROUP BY.
SELECT tags ->> 'host' AS host, aegis.first(value, ts), aegis.last(value, ts), min(ts), max(ts)
  FROM aegis.read('cpu') GROUP BY 1 ORDER BY 1;
SELECT aegis.time_bucket('1 hour', ts) AS hour, aegis.first(value, ts), aegis.last(value, ts)
  FROM aegis.read('cpu{host="h1"}') GROUP BY 1 ORDER BY 1;
SELECT aegis.first(v, t), aegis.last(v, t)
  FROM (VALUES (1.0::float8, NULL::timestamptz), (NULL, '2024-01-01'), (3, '2024-01-02')) x(v, t);
SELECT aegis.first(v, t) IS NULL AS empty_is_null FROM (SELECT 1.0::float8, now() WHERE false) x(v, t);
-- Parallel plans combine partial states.
CREATE TABLE par AS SELECT i % 7 AS g, '2024-01-01'::timestamptz + i * interval '1 s' AS t, i::float8 AS v
  FROM generate_series(1, 200000) i;
ANALYZE par;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT g, aegis.first(v, t), aegis.last(v, t) FROM par GROUP BY g;
SELECT g, aegis.first(v, t), aegis.last(v, t) FROM par GROUP BY g ORDER BY g;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
