-- The scale-out tier's workload (test/citus/run.sh): run once on a single
-- node and once on a Citus cluster after aegis.distribute(); the results of
-- test/citus/results.sql must be the same. Deterministic: no random().
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET aegis.block_max_points = 500;
SELECT aegis.create_metric('cpu', 'gauge', 'percent', 'CPU use');
SELECT aegis.create_metric('req', 'counter');
SELECT aegis.create_metric('cnt', 'counter');
-- 40 series, 3,000 points each, written out of time order in large batches
-- (straight into blocks).
SELECT sum(aegis.write('cpu', jsonb_build_object('host', 'h' || h, 'dc', 'dc' || (h % 3)),
                       ARRAY(SELECT '2024-01-01'::timestamptz + ((i * 7919) % 3000) * interval '10 s'
                               FROM generate_series(0, 2999) i),
                       ARRAY(SELECT round((h * 10 + sin(i / 50.0) * 5)::numeric, 2)::float8
                               FROM generate_series(0, 2999) i)))
  FROM generate_series(1, 40) h;
-- Counters with resets, every 15 s.
SELECT sum(aegis.write('req', jsonb_build_object('host', 'h' || h),
                       ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '15 s' FROM generate_series(0, 1999) i),
                       ARRAY(SELECT ((i % 700) * h)::float8 FROM generate_series(0, 1999) i)))
  FROM generate_series(1, 20) h;
-- Counters rolled up below (whole numbers, a reset every 50 minutes).
SELECT sum(aegis.write('cnt', jsonb_build_object('host', 'h' || h),
                       ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '30 s' FROM generate_series(0, 239) i),
                       ARRAY(SELECT ((i % 100) * h)::float8 FROM generate_series(0, 239) i)))
  FROM generate_series(1, 3) h;
-- Rows through the points relation, newer than the blocks (recent rows).
INSERT INTO aegis.points
SELECT 'cpu', jsonb_build_object('host', 'h' || h, 'dc', 'dc' || (h % 3)),
       '2024-01-01 09:00'::timestamptz + i * interval '10 s', h + i / 4.0
  FROM generate_series(1, 40) h, generate_series(0, 99) i;
SELECT aegis.compress('0') >= 0 AS compressed;
-- Late writes into compressed ranges: overwrites and new timestamps.
SELECT count(aegis.write('cpu', jsonb_build_object('host', 'h' || h, 'dc', 'dc' || (h % 3)),
                         '2024-01-01 02:00'::timestamptz + h * interval '10 s', -1.5))
  FROM generate_series(1, 40) h;
SELECT count(aegis.write('cpu', jsonb_build_object('host', 'h' || h, 'dc', 'dc' || (h % 3)),
                         '2024-01-01 02:00:05'::timestamptz + h * interval '10 s', 0.25))
  FROM generate_series(1, 40) h;
-- Late counter samples: overwrites and new times inside compressed blocks
-- (recent rows the blocks' summaries must leave out).
SELECT count(aegis.write('req', jsonb_build_object('host', 'h' || h),
                         '2024-01-01 05:00'::timestamptz + h * interval '15 s', 99))
  FROM generate_series(1, 20) h;
SELECT count(aegis.write('req', jsonb_build_object('host', 'h' || h),
                         '2024-01-01 05:00:07'::timestamptz + h * interval '15 s', 5))
  FROM generate_series(1, 20) h;
-- Deletes: a range of some series, one whole series, a whole metric.
SELECT aegis.delete('cpu{dc="dc1"}', '2024-01-01 03:00', '2024-01-01 04:00');
SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'cpu' AND tags ->> 'host' = 'h7';
SELECT aegis.write('gone', '{"host": "x"}', '2024-01-01', 1);
SELECT aegis.drop_metric('gone');
SELECT aegis.merge_blocks() >= 0 AS merged;
SELECT aegis.compress('0') >= 0 AS compressed;
-- Retention of the counters before 02:00; cpu rolled up into 10-minute
-- steps before 01:00 (cutoffs are now() minus an interval, in one
-- transaction, so they are the same timestamps in every run).
BEGIN;
SELECT aegis.set_retention('req', now() - timestamptz '2024-01-01 02:00+00');
SELECT aegis.apply_retention() > 0 AS removed;
SELECT aegis.set_downsampling('cpu', jsonb_build_array(jsonb_build_object(
         'after', (now() - timestamptz '2024-01-01 01:00+00')::text, 'step', '10 minutes')));
SELECT aegis.set_downsampling('cnt', jsonb_build_array(jsonb_build_object(
         'after', (now() - timestamptz '2024-01-01 01:00+00')::text, 'step', '10 minutes')));
SELECT aegis.apply_downsampling() > 0 AS rolled_up;
COMMIT;
-- Late counter samples inside cnt's rolled-up range, compressed into a block
-- there, and a recent row that overwrites that block's last sample with a
-- drop: the raw points overlap a step.
SELECT count(aegis.write('cnt', jsonb_build_object('host', 'h' || h),
                         ARRAY['2024-01-01 00:03:10', '2024-01-01 00:03:20', '2024-01-01 00:03:40']::timestamptz[],
                         ARRAY[5, 9, 12]::float8[]))
  FROM generate_series(1, 3) h;
-- Values at float8's edge, read by results.sql's overflow checks: a block
-- holding Infinity, then (below, after the compression) recent rows whose
-- sum overflows; a block whose Sxx overflows.
SELECT aegis.write('big', '{"host": "a"}', '2024-01-01 00:00'::timestamptz, 'Infinity'::float8);
SELECT aegis.write('big', '{"host": "b"}', ARRAY['2024-01-01 00:00', '2024-01-01 00:01']::timestamptz[],
                   ARRAY[1e200, -1e200]::float8[]);
SELECT aegis.compress('0') >= 0 AS compressed;
SELECT aegis.write('big', '{"host": "a"}', ARRAY['2024-01-01 00:01', '2024-01-01 00:02']::timestamptz[],
                   ARRAY[1e308, 1e308]::float8[]);
-- Recent rows only: values whose float8_accum update overflows (avg's
-- error), and values whose sum overflows after host b's finite sum.
SELECT aegis.write('big', '{"host": "c"}', ARRAY['2024-01-01 00:00', '2024-01-01 00:01']::timestamptz[],
                   ARRAY[1, 1e200]::float8[]);
SELECT aegis.write('big', '{"host": "g"}', ARRAY['2024-01-01 00:00', '2024-01-01 00:01']::timestamptz[],
                   ARRAY[1e308, 1e308]::float8[]);
SELECT count(aegis.write('cnt', jsonb_build_object('host', 'h' || h), '2024-01-01 00:03:40', 1))
  FROM generate_series(1, 3) h;
-- Late counter samples after the last compression: recent rows inside
-- compressed blocks (overwrites and new times) at read time.
SELECT count(aegis.write('req', jsonb_build_object('host', 'h' || h),
                         '2024-01-01 04:00'::timestamptz + (h * 3) * interval '15 s', 1000 + h))
  FROM generate_series(1, 20) h;
SELECT count(aegis.write('req', jsonb_build_object('host', 'h' || h),
                         '2024-01-01 04:00:03'::timestamptz + (h * 5) * interval '15 s', 7))
  FROM generate_series(1, 20) h;
-- A metric written once, read by results.sql.
SELECT aegis.write('scratch', '{"k": "v"}', '2024-01-01', 1);
-- A series with recent rows only (no block), read by rolling in results.sql.
SELECT aegis.write('solo', '{"host": "s"}', ARRAY(SELECT '2024-01-01 01:00'::timestamptz + i * interval '1 minute'
                                                 FROM generate_series(0, 59) i),
                   ARRAY(SELECT (i % 7)::float8 FROM generate_series(0, 59) i)) AS written;
