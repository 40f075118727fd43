-- Compression, blocks, stats, and corrupt blocks (API.md section 6).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never
-- Blocks of at most 1,000 points, which this test's blocks were laid out
-- for (several blocks a series); blocks cut by size: the end of this file.
SET aegis.block_max_points = 1000;

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

-- Blocks cut by size (aegis.block_max_bytes, docs/block-format.md section
-- 12): with the default settings a block row (summary, segment summaries and
-- data) is at most 4,080 bytes, two to an 8 kB heap page, whatever the
-- data's bits per point; every block but the last of a run is nearly full.
RESET aegis.block_max_points;
SHOW aegis.block_max_bytes;
CREATE TABLE walk AS
SELECT '2024-03-01'::timestamptz + i * interval '10 s' AS ts,
       round((sum(((hashint4(i) & 255) - 127.5) / 8) OVER (ORDER BY i))::numeric, 2)::float8 AS value
  FROM generate_series(0, 19999) i;
SELECT aegis.write('walk', '{"cut": "bytes"}', array_agg(ts ORDER BY ts), array_agg(value ORDER BY ts)) FROM walk;
CREATE VIEW walk_blocks AS
SELECT b.*, pg_column_size(b.*) AS row_bytes, (b.ctid::text::point)[0] AS page, b.tableoid
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "bytes"}';
SELECT count(*) AS blocks, sum(point_count) AS points, max(row_bytes) <= 4080 AS rows_fit,
       min(row_bytes) FILTER (WHERE ts_min < (SELECT max(ts_min) FROM walk_blocks)) > 4080 * 31 / 32 AS full_but_last,
       max(point_count) > 1000 AS more_than_1000_points
  FROM walk_blocks;
-- Two rows on every page but the last.
SELECT count(*) AS pages, count(*) FILTER (WHERE n <> 2) AS pages_not_two
  FROM (SELECT page, count(*) AS n FROM walk_blocks GROUP BY tableoid, page) p;
-- No row went to TOAST, and every partition keeps rows of a page in line.
SELECT count(*) FILTER (WHERE pg_column_size(data) < octet_length(data)) AS compressed,
       count(*) FILTER (WHERE row_bytes < octet_length(data)) AS out_of_line
  FROM walk_blocks;
SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
 WHERE i.inhparent = 'aegis.blocks'::regclass ORDER BY 1;
-- The points come back as written.
SELECT count(*) AS points, count(*) FILTER (WHERE r.value IS DISTINCT FROM w.value) AS differ
  FROM aegis.read('walk{cut="bytes"}') r FULL JOIN walk w USING (ts);
-- A block that both ends of a range cut is decoded at its two ends only, each
-- from the segment that holds it: hourly buckets from half an hour into a
-- block to half an hour before its end give what SQL over the points gives,
-- decoding fewer points than the range holds.
SELECT ts_min + interval '30 minutes' AS cut_since, ts_max - interval '30 minutes' AS cut_until
  FROM walk_blocks ORDER BY ts_min OFFSET 1 LIMIT 1 \gset
SELECT count(*) AS points_in_range FROM walk WHERE ts >= :'cut_since' AND ts < :'cut_until' \gset
SELECT aegis.reset_stats() IS NOT NULL AS reset;
CREATE TABLE cut_engine AS
SELECT bucket, value FROM aegis.aggregate('walk{cut="bytes"}', 'max', :'cut_since', :'cut_until', '1 hour');
SELECT points_decoded < :points_in_range / 2 AS decoded_the_ends_only FROM aegis.engine_stats;
SELECT count(*) AS buckets, count(*) FILTER (WHERE e.value IS DISTINCT FROM p.value) AS differ
  FROM cut_engine e FULL JOIN (SELECT aegis.time_bucket('1 hour', ts) AS bucket, max(value) AS value FROM walk
                                WHERE ts >= :'cut_since' AND ts < :'cut_until' GROUP BY 1) p USING (bucket);
DROP TABLE cut_engine;
-- Appended in steps of 2,000 points in time order (each straight into
-- blocks, at least 1,000), the blocks still fill: the last block, not full,
-- is merged with the next step, and maintenance finds nothing to merge.
SELECT sum(aegis.write('walk', '{"cut": "steps"}',
                       ARRAY(SELECT ts FROM walk WHERE ts >= '2024-03-01'::timestamptz + k * interval '20000 s'
                                AND ts < '2024-03-01'::timestamptz + (k + 1) * interval '20000 s' ORDER BY ts),
                       ARRAY(SELECT value FROM walk WHERE ts >= '2024-03-01'::timestamptz + k * interval '20000 s'
                                AND ts < '2024-03-01'::timestamptz + (k + 1) * interval '20000 s' ORDER BY ts)))
  FROM generate_series(0, 9) k;
SELECT (SELECT count(*) FROM aegis.recent_points r JOIN aegis.series s USING (series_id)
         WHERE s.tags = '{"cut": "steps"}') AS recent,
       count(*) AS blocks, sum(point_count) AS points,
       min(pg_column_size(b.*)) FILTER (WHERE b.ts_min < (SELECT max(ts_min) FROM aegis.blocks x WHERE x.series_id = b.series_id)) > 4080 * 31 / 32
         AS full_but_last
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "steps"}' GROUP BY b.series_id;
SELECT aegis.merge_blocks() AS merged_points;
-- Deletes inside every block leave neighbours that are not full: maintenance
-- repacks each run of them into fewer, full blocks, once (a second round has
-- nothing to do), and the points stay as they were.
SELECT sum(aegis.delete('walk{cut="steps"}', b.ts_min + interval '10 s', b.ts_min + (b.ts_max - b.ts_min) * 0.6))
       AS deleted
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "steps"}';
SELECT count(*) AS blocks_before FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "steps"}';
CREATE TABLE steps_before AS SELECT ts, value FROM aegis.read('walk{cut="steps"}');
SELECT aegis.merge_blocks() > 0 AS merged;
SELECT count(*) AS blocks_after, sum(point_count) AS points,
       min(pg_column_size(b.*)) FILTER (WHERE b.ts_min < (SELECT max(ts_min) FROM aegis.blocks x WHERE x.series_id = b.series_id)) > 4080 * 31 / 32
         AS full_but_last
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "steps"}' GROUP BY b.series_id;
SELECT count(*) AS differ FROM aegis.read('walk{cut="steps"}') r FULL JOIN steps_before p USING (ts)
 WHERE r.value IS DISTINCT FROM p.value;
SELECT aegis.merge_blocks() AS merged_again;
DROP TABLE steps_before;
-- Two neighbours each left at about 70% by two deletes would not fit one
-- block together: maintenance leaves them (and does not pick them again).
SELECT aegis.write('walk', '{"cut": "pair"}', array_agg(ts ORDER BY ts), array_agg(value ORDER BY ts)) FROM walk;
SELECT b.ts_min AS second_min, b.ts_max AS second_max FROM aegis.blocks b JOIN aegis.series s USING (series_id)
 WHERE s.tags = '{"cut": "pair"}' ORDER BY b.ts_min OFFSET 1 LIMIT 1 \gset
SELECT aegis.delete('walk{cut="pair"}', :'second_max'::timestamptz - (:'second_max'::timestamptz - :'second_min'::timestamptz) * 0.3,
                    :'second_max'::timestamptz + interval '1 microsecond') > 0 AS end_deleted;
SELECT b.ts_min AS third_min, b.ts_max AS third_max FROM aegis.blocks b JOIN aegis.series s USING (series_id)
 WHERE s.tags = '{"cut": "pair"}' ORDER BY b.ts_min OFFSET 2 LIMIT 1 \gset
SELECT aegis.delete('walk{cut="pair"}', :'third_min',
                    :'third_min'::timestamptz + (:'third_max'::timestamptz - :'third_min'::timestamptz) * 0.3) > 0 AS start_deleted;
CREATE TABLE pair_rows AS SELECT b.ctid AS row_ctid, b.ts_min FROM aegis.blocks b JOIN aegis.series s USING (series_id)
 WHERE s.tags = '{"cut": "pair"}';
SELECT aegis.reset_stats() IS NOT NULL AS reset;
SELECT aegis.merge_blocks() AS merged_pair;
SELECT blocks_decoded AS decoded_by_merge FROM aegis.engine_stats;
SELECT count(*) AS blocks, count(*) FILTER (WHERE (b.ctid, b.ts_min) NOT IN (SELECT row_ctid, ts_min FROM pair_rows))
       AS rewritten
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "pair"}';
DROP TABLE pair_rows;
-- Smaller rows (more blocks), and 0: cut by point count alone.
SET aegis.block_max_bytes = '1kB';
SELECT aegis.write('walk', '{"cut": "1kB"}', array_agg(ts ORDER BY ts), array_agg(value ORDER BY ts)) FROM walk;
SELECT count(*) > 20 AS many_blocks, max(pg_column_size(b.*)) <= 1024 AS rows_fit, sum(point_count) AS points
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "1kB"}';
SET aegis.block_max_bytes = 0;
SET aegis.block_max_points = 3000;
SELECT aegis.write('walk', '{"cut": "points"}', array_agg(ts ORDER BY ts), array_agg(value ORDER BY ts)) FROM walk;
SELECT array_agg(point_count ORDER BY ts_min) AS point_counts
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"cut": "points"}';
RESET aegis.block_max_points;
-- Out of range: below 512 bytes (a row must hold a point) or above a page.
SET aegis.block_max_bytes = 100;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET aegis.block_max_bytes = 8161;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET aegis.block_max_bytes;
SELECT aegis.drop_metric('walk') AS dropped_points;
DROP VIEW walk_blocks;
DROP TABLE walk;
