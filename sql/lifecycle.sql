-- Compression, blocks, stats, and corrupt blocks (API.md section 6).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- 2,500 points of one series at 10 s, written one statement per 500.
SELECT aegis.write('temp', '{"site": "x"}',
                   ARRAY(SELECT '2024-01-01'::timestamptz + (k * 500 + i) * interval '10 s' FROM generate_series(0, 499) i),
                   ARRAY(SELECT round((20 + sin((k * 500 + i) / 50.0))::numeric, 2)::float8 FROM generate_series(0, 499) i))
  FROM generate_series(0, 4) k;
SELECT count(*) AS recent FROM aegis.recent_points;
-- compress() leaves younger points alone, and packs the rest into blocks of
-- at most aegis.block_max_points, each with its summary.
SELECT aegis.compress('100 years');
SELECT aegis.compress();
SELECT count(*) AS recent FROM aegis.recent_points;
SELECT point_count, ts_min, ts_max, min_value, max_value, round(sum_value::numeric, 2) AS sum_value,
       first_value, last_value FROM aegis.blocks ORDER BY ts_min;
-- The summaries agree with the points.
SELECT b.ts_min, b.point_count = count(*) AS count_ok, b.min_value = min(p.value) AS min_ok,
       b.max_value = max(p.value) AS max_ok, abs(b.sum_value - sum(p.value)) < 1e-9 AS sum_ok
  FROM aegis.blocks b, aegis.read('temp') p
 WHERE p.ts BETWEEN b.ts_min AND b.ts_max
 GROUP BY b.ts_min, b.point_count, b.min_value, b.max_value, b.sum_value ORDER BY b.ts_min;
-- Appending in small steps still fills blocks: the last partial block is
-- merged with what comes after it.
SELECT aegis.write('temp', '{"site": "x"}', '2024-01-01'::timestamptz + i * interval '10 s', 1)
  FROM generate_series(2500, 2509) i;
SELECT aegis.compress('0');
SELECT point_count FROM aegis.blocks ORDER BY ts_min;
SELECT metric, series, points, compressed_points, blocks, compressed_bytes > 0 AS has_bytes,
       bytes_per_point < 8 AS under_8_bytes, oldest, newest FROM aegis.stats;

-- Bad settings and arguments.
SET aegis.compress_after = 'soon';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET aegis.compress_after = '-1 minute';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET aegis.block_max_points = 0;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET aegis.no_such_setting = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A corrupt block is an error naming the series and time range, never a
-- crash and never a short result; so are blocks of a format from the future.
CREATE TABLE saved_block AS SELECT * FROM aegis.blocks ORDER BY ts_min LIMIT 1;
UPDATE aegis.blocks SET data = set_byte(data, 40, get_byte(data, 40) # 16)
 WHERE ts_min = (SELECT ts_min FROM saved_block);
SELECT count(*) FROM aegis.read('temp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.latest('temp');  -- the newest block is intact
UPDATE aegis.blocks SET data = substring(data from 1 for 20) WHERE ts_min = (SELECT ts_min FROM saved_block);
SELECT count(*) FROM aegis.read('temp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE aegis.blocks SET data = set_byte((SELECT data FROM saved_block), 0, 99)
 WHERE ts_min = (SELECT ts_min FROM saved_block);
SELECT count(*) FROM aegis.read('temp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE aegis.blocks SET data = '\x'::bytea WHERE ts_min = (SELECT ts_min FROM saved_block);
SELECT count(*) FROM aegis.read('temp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A late write into the corrupt block's range refuses to merge with it.
SELECT aegis.write('temp', '{"site": "x"}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 999) i),
                   ARRAY(SELECT 0::float8 FROM generate_series(0, 999) i));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE aegis.blocks b SET data = s.data FROM saved_block s WHERE b.ts_min = s.ts_min;
SELECT count(*) FROM aegis.read('temp');

-- TRUNCATE of the catalog empties the points too, also when the same
-- statement names the point tables.
SELECT aegis.write('trunc', '{}', '2030-01-01', 1);
TRUNCATE aegis.series, aegis.recent_points, aegis.blocks;
SELECT (SELECT count(*) FROM aegis.recent_points) AS recent, (SELECT count(*) FROM aegis.blocks) AS blocks;
SELECT aegis.write('temp', '{"site": "x"}', '2024-01-01', 1);

-- delete_series removes blocks and recent rows.
SELECT aegis.write('temp', '{"site": "x"}', '2030-01-01', 1);
SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'temp';
SELECT (SELECT count(*) FROM aegis.blocks) AS blocks, (SELECT count(*) FROM aegis.recent_points) AS recent;
SELECT metric, series, points, blocks FROM aegis.stats;

-- Counts are what aegis.read returns: a recent point that replaced a
-- compressed point counts once, in stats and in drop_metric's result.
SELECT aegis.write('twice', '{}', ARRAY['2024-01-01 01:00', '2024-01-01 02:00']::timestamptz[], ARRAY[1, 2]);
SELECT aegis.compress('0');
SELECT aegis.write('twice', '{}', '2024-01-01 01:00', 10);   -- replaces a compressed point
SELECT aegis.write('twice', '{}', '2024-01-01 03:00', 3);    -- a new point
SELECT count(*) AS read_points FROM aegis.read('twice');
SELECT points, compressed_points, blocks FROM aegis.stats WHERE metric = 'twice';
SELECT aegis.drop_metric('twice') AS dropped_points;

-- Points left without their series by raw DML on the catalog are removed by
-- compress (with a warning), which goes on with the other series; a series
-- whose blocks are corrupt is skipped with a warning naming it.
SELECT aegis.write('orphan', '{}', '2024-01-01 01:00', 1), aegis.write('kept', '{}', '2024-01-01 01:00', 2);
DELETE FROM aegis.series WHERE metric = 'orphan';
SELECT aegis.write('kept', '{}', ARRAY['2024-01-01 02:00', '2024-01-01 03:00']::timestamptz[], ARRAY[3, 4]);
SELECT aegis.compress('0');
SELECT (SELECT count(*) FROM aegis.recent_points) AS recent, (SELECT sum(point_count) FROM aegis.blocks) AS compressed;
UPDATE aegis.blocks SET data = set_byte(data, 40, get_byte(data, 40) # 16)
 WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'kept');
SELECT aegis.write('kept', '{}', '2024-01-01 04:00', 5), aegis.write('other', '{}', '2024-01-01 04:00', 6);
SELECT aegis.compress('0');
SELECT s.metric, count(r.*) AS recent FROM aegis.series s LEFT JOIN aegis.recent_points r USING (series_id)
 WHERE s.metric IN ('kept', 'other') GROUP BY 1 ORDER BY 1;
-- A corrupt block does not break the counts: aegis.stats (over every metric)
-- and drop_metric warn and count the bad block from its summary, so the
-- corrupt series can be dropped.
SELECT aegis.write('kept', '{}', '2024-01-01 02:00', 30);   -- a recent row inside the corrupt block's range
SELECT metric, points FROM aegis.stats WHERE metric IN ('kept', 'other') ORDER BY metric;
SELECT aegis.drop_metric('kept') AS dropped_points;
SELECT count(*) AS kept_blocks_left FROM aegis.blocks b WHERE NOT EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = b.series_id);
