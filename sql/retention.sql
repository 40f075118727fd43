-- Time partitions, retention and merging (API.md section 6). Runs last: it
-- starts from an empty store, so partition drops depend only on its metrics.
SET client_min_messages = warning;
CREATE EXTENSION aegis_timeseries;
SET aegis.partition_interval = 'day';
SET aegis.block_max_points = 1000;

-- Blocks are cut at partition boundaries (UTC days here): 96 hourly points
-- over four days give four blocks, each inside its partition.
SELECT aegis.write('ret', '{"h": "a"}',
       ARRAY(SELECT t FROM generate_series('2024-03-01 00:00+00'::timestamptz, '2024-03-04 23:00+00', '1 hour') t),
       ARRAY(SELECT g::float8 FROM generate_series(1, 96) g));
SELECT aegis.compress('0');
SELECT partition, range_start AT TIME ZONE 'UTC' AS range_start, range_end AT TIME ZONE 'UTC' AS range_end
  FROM aegis.partitions WHERE range_end <= '2025-01-01';
SELECT count(*) AS blocks, min(point_count), max(point_count) FROM aegis.blocks;
SELECT count(*) AS blocks_crossing_a_boundary
  FROM aegis.blocks b JOIN aegis.block_partitions p ON p.partition = b.tableoid
 WHERE b.ts_min < p.lo OR b.ts_max >= p.hi;

-- set_retention checks its input.
SELECT aegis.set_retention('nope', '1 day');
SELECT aegis.set_retention('ret', '-1 day');
SELECT aegis.set_retention('ret', '0');
SELECT aegis.set_retention(NULL, '1 day');
SET aegis.default_retention = '-3 days';
SET aegis.default_retention = 'soon';

-- Retention up to 2024-03-02 12:00 UTC: the first day's partition is past
-- every metric's cutoff and is dropped whole; the second day's block is
-- trimmed at the cutoff; recent rows past the cutoff go too.
SELECT aegis.write('ret', '{"h": "a"}', '2024-03-02 06:30+00', -1);
BEGIN;
SELECT aegis.set_retention('ret', now() - '2024-03-02 12:00+00');
SELECT aegis.apply_retention() AS removed;
COMMIT;
SELECT count(*) AS points, min(ts) AT TIME ZONE 'UTC' AS oldest FROM aegis.read('ret{}');
SELECT count(*) AS points_before_cutoff FROM aegis.points WHERE metric = 'ret' AND ts < '2024-03-02 12:00+00';
SELECT sum(value) AS sum_after FROM aegis.aggregate('ret{}', 'count', '2024-01-01', '2025-01-01');
SELECT range_start AT TIME ZONE 'UTC' AS range_start FROM aegis.partitions WHERE range_end <= '2025-01-01';
SELECT retention IS NOT NULL AS has_retention FROM aegis.metrics WHERE name = 'ret';
-- Applying it again removes nothing more.
BEGIN;
SELECT aegis.set_retention('ret', now() - '2024-03-02 12:00+00');
SELECT aegis.apply_retention() AS removed_again;
COMMIT;

-- NULL falls back to aegis.default_retention; empty keeps forever.
SELECT aegis.set_retention('ret', NULL);
SET aegis.default_retention = '';
SELECT aegis.apply_retention() AS kept_forever;
BEGIN;
SELECT set_config('aegis.default_retention', (now() - '2024-03-04 00:00+00')::text, true) IS NOT NULL AS set;
SELECT aegis.apply_retention() AS removed_by_default;
COMMIT;
SELECT count(*) AS points, min(ts) AT TIME ZONE 'UTC' AS oldest FROM aegis.read('ret{}');
SELECT range_start AT TIME ZONE 'UTC' AS range_start FROM aegis.partitions WHERE range_end <= '2025-01-01';

-- A late write into a compressed range is visible at once; when it leaves
-- neighbouring small blocks in a partition, merge_blocks rewrites them as
-- fewer blocks (the full ones stay), and the newest write still wins.
SET aegis.block_max_points = 10;
SELECT aegis.write('frag', '{}',
       ARRAY(SELECT t FROM generate_series('2024-03-04 00:00+00'::timestamptz, '2024-03-04 19:00+00', '1 hour') t),
       ARRAY(SELECT g::float8 FROM generate_series(0, 19) g));
SELECT aegis.write('frag', '{}', ARRAY['2024-03-04 21:00+00', '2024-03-04 22:00+00']::timestamptz[], ARRAY[21, 22]);
SELECT aegis.compress('0');
SELECT aegis.write('frag', '{}', '2024-03-04 20:00+00', 20);
SELECT aegis.compress('0');
SELECT aegis.write('frag', '{}', '2024-03-04 05:00+00', 99);
SELECT array_agg(point_count ORDER BY ts_min) AS blocks_before FROM aegis.blocks
 WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'frag');
SELECT aegis.merge_blocks() AS rewritten;
SELECT array_agg(point_count ORDER BY ts_min) AS blocks_after FROM aegis.blocks
 WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'frag');
SELECT aegis.merge_blocks() AS rewritten_again;
SELECT count(*) AS points, sum(value) AS total, max(value) AS newest_wins FROM aegis.read('frag{}');

-- A write far from every partition gets one of its own, and retention can
-- drop it once it is empty of kept points.
SELECT aegis.write('frag', '{}', ARRAY(SELECT t FROM generate_series('1999-12-31 00:00+00'::timestamptz,
       '1999-12-31 00:11+00', '1 minute') t), ARRAY(SELECT 1.0::float8 FROM generate_series(1, 12)));
SELECT range_start AT TIME ZONE 'UTC' AS range_start FROM aegis.partitions WHERE range_end <= '2000-01-02';
SELECT aegis.delete('frag{}', '1999-01-01', '2000-01-01') AS deleted;
SELECT aegis.apply_retention() >= 0 AS ran;
SELECT count(*) AS partitions_of_1999 FROM aegis.partitions WHERE range_end <= '2000-01-02';

-- Week and month partitions at the very start of the timestamp range begin
-- there (named blocks_first); later ones are clipped against it.
SET aegis.partition_interval = 'month';
SELECT aegis.write('edge', '{}', ARRAY['4714-11-24 00:00:00+00 BC', '4714-11-25 00:00:00+00 BC']::timestamptz[], ARRAY[1, 2]);
SELECT aegis.compress('0');
SET aegis.partition_interval = 'week';
SELECT aegis.write('edge', '{}', '4714-12-02 00:00:00+00 BC', 3);
SELECT aegis.compress('0');
SELECT partition, range_start AT TIME ZONE 'UTC' AS range_start, range_end AT TIME ZONE 'UTC' AS range_end
  FROM aegis.partitions WHERE range_end < '4713-01-01 BC';
SELECT count(*) AS points FROM aegis.read('edge{}');
SET aegis.partition_interval = 'day';

-- Reads prune blocks by time at both ends: a block that reaches into a range
-- starts at most its partition's longest span (aegis.block_spans) before the
-- range (and inside the partition), so nothing older is read. Every block
-- write keeps the partition's rows covering its longest block, also when a
-- subtransaction that wrote such a row rolls back and the same transaction
-- writes the block again.
SET aegis.block_max_points = 10;
CREATE FUNCTION pg_temp.spans_too_short() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM (
    SELECT p.partition FROM aegis.block_partitions p JOIN aegis.blocks b ON b.tableoid = p.partition
     GROUP BY p.partition
    HAVING max((extract(epoch FROM b.ts_max - b.ts_min) * 1000000)::bigint)
         > coalesce((SELECT max(s.max_span) FROM aegis.block_spans s WHERE s.partition = p.partition), -1)) t $$;
CREATE FUNCTION pg_temp.span_minutes() RETURNS bigint LANGUAGE sql AS $$
  SELECT max(s.max_span) / 60000000 FROM aegis.block_spans s JOIN aegis.block_partitions p USING (partition)
   WHERE p.lo = '2024-04-01 00:00+00' $$;
-- 10-minute points over a day: blocks of 10 points, 90 minutes each.
SELECT aegis.write('span_fast', '{}',
       ARRAY(SELECT t FROM generate_series('2024-04-01 00:00+00'::timestamptz, '2024-04-01 23:50+00', '10 minutes') t),
       ARRAY(SELECT g::float8 FROM generate_series(1, 144) g));
SELECT pg_temp.span_minutes() AS max_span_minutes;
BEGIN;
SAVEPOINT s;
-- A batch of 10 points two hours apart goes straight into one block of 18 hours.
SELECT aegis.write('span_slow', '{}',
       ARRAY(SELECT t FROM generate_series('2024-04-01 00:30+00'::timestamptz, '2024-04-01 18:30+00', '2 hours') t),
       ARRAY(SELECT g::float8 FROM generate_series(1, 10) g));
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.span_minutes() AS max_span_minutes;
SELECT aegis.write('span_slow', '{}',
       ARRAY(SELECT t FROM generate_series('2024-04-01 00:30+00'::timestamptz, '2024-04-01 18:30+00', '2 hours') t),
       ARRAY(SELECT g::float8 FROM generate_series(1, 10) g));
COMMIT;
SELECT pg_temp.span_minutes() AS max_span_minutes;
SELECT pg_temp.spans_too_short() AS partitions_with_a_longer_block;
-- Windows that start inside the long block, inside a short one, and on the
-- partition's first instant: every point of the window, from both series.
SELECT metric, count(*), min(ts) AT TIME ZONE 'UTC' AS first, max(ts) AT TIME ZONE 'UTC' AS last
  FROM aegis.read('{__name__=~"span_.*"}', '2024-04-01 16:45+00', '2024-04-01 19:00+00') GROUP BY 1 ORDER BY 1;
SELECT tags, value FROM aegis.aggregate('{__name__=~"span_.*"}', 'count', '2024-04-01 17:55+00', '2024-04-01 18:45+00',
       NULL, '{__name__}') ORDER BY 1;
SELECT metric, count(*) FROM aegis.points WHERE metric LIKE 'span%' AND ts >= '2024-04-01 00:00+00'
   AND ts < '2024-04-01 00:40+00' GROUP BY 1 ORDER BY 1;
RESET aegis.block_max_points;

-- A read whose blocks all start in one partition reads that partition
-- alone (BlockCursor, src/pg/store.cpp): it locks aegis.blocks and that
-- partition rather than every partition, and a range that no partition
-- holds reads no table. A range over several partitions reads
-- aegis.blocks, whose plan locks them all.
CREATE FUNCTION pg_temp.partitions_locked() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_locks l JOIN aegis.block_partitions p ON p.partition = l.relation
   WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' $$;
SELECT count(*) > 2 AS several_partitions FROM aegis.block_partitions;
BEGIN;
SELECT tags, value FROM aegis.aggregate('{__name__=~"span_.*"}', 'count', '2024-04-01 17:55+00', '2024-04-01 18:45+00',
       NULL, '{__name__}') ORDER BY 1;
SELECT pg_temp.partitions_locked() AS one_day;
COMMIT;
BEGIN;
SELECT metric, count(*) FROM aegis.points WHERE metric LIKE 'span%' AND ts >= '2024-04-01 00:00+00'
   AND ts < '2024-04-01 00:40+00' GROUP BY 1 ORDER BY 1;
SELECT pg_temp.partitions_locked() AS one_day_in_sql;
COMMIT;
BEGIN;
SELECT count(*) FROM aegis.aggregate('{__name__=~"span_.*"}', 'count', '1990-01-01', '1990-01-02');
SELECT pg_temp.partitions_locked() AS no_partition_holds_1990;
COMMIT;
BEGIN;
SELECT tags, value FROM aegis.aggregate('{__name__=~"span_.*"}', 'count', '-infinity', 'infinity', NULL, '{__name__}')
 ORDER BY 1;
SELECT pg_temp.partitions_locked() = (SELECT count(*) FROM aegis.block_partitions) AS every_partition;
COMMIT;
-- That partition is read straight from its primary key, as the selector
-- reads aegis.series straight from its table (src/pg/series_scan.cpp): a
-- new session's first read prepares no statement over either.
\c
SELECT tags, value FROM aegis.aggregate('{__name__=~"span_.*"}', 'count', '2024-04-01 17:55+00', '2024-04-01 18:45+00',
       NULL, '{__name__}') ORDER BY 1;
SELECT metric, count(*) FROM aegis.points WHERE metric LIKE 'span%' AND ts >= '2024-04-01 00:00+00'
   AND ts < '2024-04-01 00:40+00' GROUP BY 1 ORDER BY 1;
SELECT count(*) AS statements_over_blocks_or_series FROM pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident ~ 'aegis\.(blocks|series)';
-- A partition detached by hand is no longer part of aegis.blocks: a read
-- that chose it before leaves it out afterwards, as the statement over
-- aegis.blocks does (also inside a savepoint), and once the detach is rolled
-- back it is read again.
BEGIN;
SELECT count(*) AS before_detach FROM aegis.points WHERE metric LIKE 'span%' AND ts >= '2024-04-01 00:00+00'
   AND ts < '2024-04-01 00:40+00';
SELECT format('ALTER TABLE aegis.blocks DETACH PARTITION %s', partition) FROM aegis.block_partitions
 WHERE lo <= '2024-04-01 00:00+00' AND hi > '2024-04-01 00:00+00' \gexec
SELECT count(*) AS after_detach FROM aegis.points WHERE metric LIKE 'span%' AND ts >= '2024-04-01 00:00+00'
   AND ts < '2024-04-01 00:40+00';
SELECT count(*) AS after_detach FROM aegis.aggregate('{__name__=~"span_.*"}', 'count', '2024-04-01 00:00+00',
       '2024-04-01 00:40+00');
SAVEPOINT next_read;
SELECT count(*) AS detached_in_a_savepoint FROM aegis.points WHERE metric LIKE 'span%'
   AND ts >= '2024-04-01 00:00+00' AND ts < '2024-04-01 00:40+00';
ROLLBACK;
SELECT count(*) AS attached_again FROM aegis.points WHERE metric LIKE 'span%' AND ts >= '2024-04-01 00:00+00'
   AND ts < '2024-04-01 00:40+00';

-- Only the administrator manages retention.
CREATE ROLE aegis_ret_user;
GRANT USAGE ON SCHEMA aegis TO aegis_ret_user;
SET ROLE aegis_ret_user;
SELECT aegis.set_retention('ret', '1 day');
SELECT aegis.apply_retention();
SELECT aegis.merge_blocks();
RESET ROLE;
REVOKE USAGE ON SCHEMA aegis FROM aegis_ret_user;
DROP ROLE aegis_ret_user;
RESET aegis.block_max_points;

-- DROP EXTENSION takes the partitions with it.
DROP EXTENSION aegis_timeseries;
SELECT count(*) AS blocks_tables_left FROM pg_class WHERE relname LIKE 'blocks%' AND relnamespace NOT IN
       (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'));
