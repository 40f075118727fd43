-- Maintenance (API.md section 6): aegis.run_maintenance() runs one round of
-- the background work and records each job in aegis.jobs.
SET TIME ZONE 'UTC';
SELECT aegis.write('maint', '{"k": "a"}', ARRAY(SELECT now() - i * interval '1 minute' FROM generate_series(1, 100) i),
                   ARRAY(SELECT i::float8 FROM generate_series(1, 100) i));
SELECT aegis.write('maint', '{"k": "b"}', now(), 1);   -- newer than aegis.compress_after: stays recent
SELECT job, points, duration >= '0' AS timed FROM aegis.run_maintenance();
SELECT job, database = current_database() AS this_database, points, last_duration >= '0' AS timed,
       last_start <= now() AS started, last_error FROM aegis.jobs;
SELECT count(*) AS recent_left FROM aegis.recent_points;
-- Nothing to do: 0 points, recorded again.
SELECT job, points FROM aegis.run_maintenance();
SELECT job, points FROM aegis.jobs;

-- A job that fails is recorded with its error, raised as a WARNING, and the
-- round goes on (here a trigger makes compress fail).
SELECT aegis.write('maint', '{"k": "c"}', now() - interval '1 hour', 3);
CREATE FUNCTION maint_fail() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'disk on fire' USING ERRCODE = 'XX123'; END $$;
CREATE TRIGGER maint_fail BEFORE DELETE ON aegis.recent_points FOR EACH ROW EXECUTE FUNCTION maint_fail();
SELECT job, points, duration >= '0' AS timed FROM aegis.run_maintenance();
SELECT job, points, last_error, last_error_at IS NOT NULL AS error_time FROM aegis.jobs;
SELECT count(*) AS recent_kept FROM aegis.recent_points;   -- nothing half done
DROP TRIGGER maint_fail ON aegis.recent_points;
DROP FUNCTION maint_fail();
-- The next successful round keeps the last error for the record.
SELECT job, points FROM aegis.run_maintenance();
SELECT job, points, last_error FROM aegis.jobs;

-- Only privileged roles run maintenance.
CREATE ROLE maint_nobody;
GRANT USAGE ON SCHEMA aegis TO maint_nobody;
SET ROLE maint_nobody;
SELECT * FROM aegis.run_maintenance();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA aegis FROM maint_nobody;
DROP ROLE maint_nobody;
SELECT aegis.drop_metric('maint');

-- aegis._compress_on_shard, what a Citus worker runs for aegis.compress
-- (test/citus/run.sh checks that it runs there), writes the block rows
-- aegis.compress writes: two metrics get the same points (blocks of 300
-- points, then recent rows: overwrites and new times inside the blocks,
-- points after them that fill the last block, and points in the next
-- month's partition); cs_b is compressed by the function, cs_a by
-- aegis.compress; their block rows must be the same, byte for byte.
-- The block rows of two metrics' series: how many, and how many differ.
CREATE FUNCTION pg_temp.blocks_differ(a_metric text, b_metric text, OUT blocks bigint, OUT differ bigint)
LANGUAGE sql AS $$
SELECT count(*),
       count(*) FILTER (WHERE (a.ts_max, a.point_count, a.min_value, a.max_value, a.sum_value, a.first_value,
                               a.last_value, a.data, a.segments)
                              IS DISTINCT FROM (b.ts_max, b.point_count, b.min_value, b.max_value, b.sum_value,
                                                b.first_value, b.last_value, b.data, b.segments))
  FROM (SELECT b.* FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = a_metric) a
  FULL JOIN (SELECT b.* FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = b_metric) b
    ON a.ts_min = b.ts_min
$$;
SET aegis.block_max_points = 300;
SELECT aegis.write('cs_c', '{}', ARRAY(SELECT '2024-06-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 299) i),
                   ARRAY(SELECT i::float8 FROM generate_series(0, 299) i)) AS next_partition;
SELECT sum(aegis.write(m, '{"k": "x"}', ARRAY(SELECT '2024-05-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 999) i),
                       ARRAY(SELECT (i % 37) * 0.5 FROM generate_series(0, 999) i))) AS written
  FROM unnest(ARRAY['cs_a', 'cs_b']) m;
SELECT count(aegis.write(m, '{"k": "x"}', ts, v)) AS written
  FROM unnest(ARRAY['cs_a', 'cs_b']) m,
       (VALUES ('2024-05-01 00:10:00'::timestamptz, -1.0::float8), ('2024-05-01 00:10:05', 2.25),
               ('2024-05-01 01:30:03', 7), ('2024-05-01 02:46:40', 8), ('2024-05-01 02:50:00', 9),
               ('2024-06-01 00:20:00', 10), ('2024-06-01 00:20:01', 11)) p(ts, v);
SELECT count(*) AS recent_rows FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric = 'cs_b';
-- cs_b's recent rows compressed by aegis._compress_on_shard (full_bytes as
-- core::FullBlockPayloadBytes computes it for rows of 4080 bytes).
CREATE FUNCTION pg_temp.compress_cs_b() RETURNS SETOF record LANGUAGE sql AS $$
SELECT c.* FROM aegis.series s,
       aegis._compress_on_shard(s.series_id, '-infinity', 'infinity', '-infinity',
                                (SELECT array_agg(lo ORDER BY lo) FROM aegis.block_partitions),
                                (SELECT array_agg(hi ORDER BY lo) FROM aegis.block_partitions),
                                300, 4080, (4080 - 115) - greatest((4080 - 115) / 16, 128)) c
 WHERE s.metric = 'cs_b'
$$;
SELECT points_taken, cardinality(block_starts) AS blocks_written, failure FROM pg_temp.compress_cs_b() c(points_taken bigint, block_starts timestamptz[], block_ends timestamptz[], failure text, failure_state text);
SELECT aegis.compress('0') AS compressed;
SELECT * FROM pg_temp.blocks_differ('cs_a', 'cs_b');
SELECT count(*) AS recent_left FROM aegis.recent_points r JOIN aegis.series s USING (series_id)
 WHERE s.metric IN ('cs_a', 'cs_b');
-- Its merge, aegis._merge_into_blocks, refuses what it cannot use.
SELECT * FROM aegis._merge_into_blocks(1, ARRAY['\x00'::bytea], ARRAY[1], NULL, NULL, NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, ARRAY['\x00'::bytea], NULL, NULL, NULL, NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, ARRAY['2024-01-02', '2024-01-01']::timestamptz[],
                                       ARRAY[1, 2]::float8[], NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, ARRAY['2024-01-01']::timestamptz[], ARRAY[1, 2]::float8[],
                                       NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, NULL, 0, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, NULL, 300, 100);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, ARRAY['2024-02-01', '2024-01-01']::timestamptz[],
                                       300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A block whose row says another point count.
SELECT count(*) FROM aegis.blocks b JOIN aegis.series s USING (series_id),
       aegis._merge_into_blocks(b.series_id, ARRAY[b.data], ARRAY[b.point_count + 1], NULL, NULL, NULL, 300, 0)
 WHERE s.metric = 'cs_a';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS no_points FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, NULL, 300, 0);
RESET aegis.block_max_points;
-- A series whose block does not decode is left as it was, the error
-- returned (aegis.compress raises it as a WARNING).
SELECT aegis.write('cs_b', '{"k": "x"}', '2024-05-01 00:20:05', 42) AS written;
UPDATE aegis.blocks b SET data = set_byte(data, 40, get_byte(data, 40) # 255)
  FROM aegis.series s WHERE s.series_id = b.series_id AND s.metric = 'cs_b' AND b.ts_min <= '2024-05-01 00:20:05'
   AND b.ts_max >= '2024-05-01 00:20:05';
SELECT points_taken, block_starts, failure, failure_state FROM pg_temp.compress_cs_b() c(points_taken bigint, block_starts timestamptz[], block_ends timestamptz[], failure text, failure_state text);
SELECT count(*) AS recent_kept FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric = 'cs_b';
SELECT aegis.drop_metric(m) FROM unnest(ARRAY['cs_a', 'cs_b', 'cs_c']) m;

-- aegis._repack_on_shard, what a Citus worker runs for aegis.merge_blocks,
-- writes the block rows aegis.merge_blocks writes: two metrics with the
-- same blocks of 300 points, thinned by a delete so that no block is full;
-- mb_b's run is rewritten by the function, mb_a's by aegis.merge_blocks.
SET aegis.block_max_points = 300;
SELECT sum(aegis.write(m, '{"k": "x"}', ARRAY(SELECT '2024-05-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 1199) i),
                       ARRAY(SELECT (i % 41) * 0.25 FROM generate_series(0, 1199) i))) AS written
  FROM unnest(ARRAY['mb_a', 'mb_b']) m;
SELECT sum(aegis.delete(m || '{k="x"}', '2024-05-01'::timestamptz + d.since, '2024-05-01'::timestamptz + d.until)) AS deleted
  FROM unnest(ARRAY['mb_a', 'mb_b']) m,
       (VALUES (interval '5 min', interval '45 min'), ('55 min', '95 min'), ('105 min', '145 min'),
               ('155 min', '195 min')) d(since, until);
SELECT s.metric, count(*) AS blocks, sum(point_count) AS points
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric IN ('mb_a', 'mb_b') GROUP BY 1 ORDER BY 1;
-- The run of all of mb_b's blocks, rewritten by aegis._repack_on_shard.
CREATE FUNCTION pg_temp.repack_mb_b(OUT points_rewritten bigint, OUT block_starts timestamptz[])
LANGUAGE sql AS $$
SELECT r.points_rewritten, r.block_starts
  FROM aegis.series s,
       LATERAL (SELECT min(ts_min) AS first_start, max(ts_min) AS last_start FROM aegis.blocks b
                 WHERE b.series_id = s.series_id) run,
       aegis._repack_on_shard(s.series_id, run.first_start, run.last_start,
                              (SELECT array_agg(hi ORDER BY lo) FROM aegis.block_partitions), 300, 4080) r
 WHERE s.metric = 'mb_b'
$$;
SELECT points_rewritten, cardinality(block_starts) AS blocks_written FROM pg_temp.repack_mb_b();
SELECT aegis.merge_blocks() AS merged;
SELECT * FROM pg_temp.blocks_differ('mb_a', 'mb_b');
-- A run that would not shrink stays as it is.
SELECT * FROM pg_temp.repack_mb_b();
RESET aegis.block_max_points;
SELECT aegis.drop_metric(m) FROM unnest(ARRAY['mb_a', 'mb_b']) m;

-- aegis._delete_on_shard, what a Citus worker runs for aegis.delete (and
-- retention's trim), removes what aegis.delete removes and writes the same
-- block rows: two metrics with the same blocks and recent rows (an
-- overwrite of a block point inside the range, one outside it); a range
-- that cuts two blocks, then one that holds no point of a block it overlaps
-- (that block stays as it is).
SET aegis.block_max_points = 300;
SELECT sum(aegis.write(m, '{"k": "x"}', ARRAY(SELECT '2024-05-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 899) i),
                       ARRAY(SELECT (i % 29) * 0.75 FROM generate_series(0, 899) i))) AS written
  FROM unnest(ARRAY['dl_a', 'dl_b']) m;
SELECT count(aegis.write(m, '{"k": "x"}', ts, v)) AS written
  FROM unnest(ARRAY['dl_a', 'dl_b']) m,
       (VALUES ('2024-05-01 00:45:00'::timestamptz, -1.0::float8), ('2024-05-01 00:45:05', 2.5),
               ('2024-05-01 02:00:00', 3)) p(ts, v);
-- The series' points in [since, until) removed by the function.
CREATE FUNCTION pg_temp.delete_dl_b(since timestamptz, until timestamptz,
                                    OUT points_removed bigint, OUT blocks_written integer)
LANGUAGE sql AS $$
SELECT r.points_removed, cardinality(r.block_starts)
  FROM aegis.series s,
       aegis._delete_on_shard(s.series_id, since, until, '-infinity',
                              (SELECT array_agg(hi ORDER BY lo) FROM aegis.block_partitions), 300, 4080) r
 WHERE s.metric = 'dl_b'
$$;
SELECT aegis.delete('dl_a', '2024-05-01 00:40', '2024-05-01 01:00') AS removed;
SELECT * FROM pg_temp.delete_dl_b('2024-05-01 00:40', '2024-05-01 01:00');
SELECT * FROM pg_temp.blocks_differ('dl_a', 'dl_b');
SELECT aegis.delete('dl_a', '2024-05-01 00:59:58', '2024-05-01 01:00:05') AS removed;
SELECT * FROM pg_temp.delete_dl_b('2024-05-01 00:59:58', '2024-05-01 01:00:05');
SELECT * FROM pg_temp.blocks_differ('dl_a', 'dl_b');
SELECT count(*) FILTER (WHERE s.metric = 'dl_a') AS recent_a, count(*) FILTER (WHERE s.metric = 'dl_b') AS recent_b
  FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric IN ('dl_a', 'dl_b');
-- Its count of a block's points, aegis._points_between.
SELECT (aegis._points_between(b.series_id, b.data, b.point_count, '2024-05-01 01:00', '2024-05-01 01:10',
                              ARRAY['2024-05-01 01:00:10', '2024-05-01 05:00']::timestamptz[])).*
  FROM aegis.blocks b JOIN aegis.series s USING (series_id)
 WHERE s.metric = 'dl_a' AND b.ts_min <= '2024-05-01 01:00' AND b.ts_max >= '2024-05-01 01:10';
SELECT (aegis._points_between(b.series_id, b.data, b.point_count - 1, '-infinity', 'infinity', NULL)).*
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'dl_a';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._points_between(1, '\x00', 1, '-infinity', 'infinity', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._points_between(1, NULL, 1, '-infinity', 'infinity', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET aegis.block_max_points;
SELECT aegis.drop_metric(m) FROM unnest(ARRAY['dl_a', 'dl_b']) m;

-- aegis._rollup_raw_on_shard, what a Citus worker runs for the raw part of
-- aegis.apply_downsampling, takes out and summarizes what the roll-up takes
-- on one node: two metrics with the same blocks (50 minutes each) and
-- recent rows, rolled up into 10-minute steps before 01:30. The block that
-- holds 01:30 (00:50 to 01:39:50) is more than half older, so it is split
-- there: rs_a through aegis.apply_downsampling, rs_b through the function;
-- their blocks and recent rows must be the same after, and the function's
-- steps the block of steps rs_a stored.
SET aegis.block_max_points = 300;
SELECT sum(aegis.write(m, '{"k": "x"}', ARRAY(SELECT '2024-05-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 899) i),
                       ARRAY(SELECT (i % 23) * 1.5 FROM generate_series(0, 899) i))) AS written
  FROM unnest(ARRAY['rs_a', 'rs_b']) m;
SELECT count(aegis.write(m, '{"k": "x"}', ts, v)) AS written
  FROM unnest(ARRAY['rs_a', 'rs_b']) m,
       (VALUES ('2024-05-01 00:20:00'::timestamptz, -4.0::float8), ('2024-05-01 00:20:05', 8),
               ('2024-05-01 00:55:00', 9), ('2024-05-01 02:40:00', 10)) p(ts, v);
BEGIN;
SELECT aegis.set_downsampling('rs_a', jsonb_build_array(jsonb_build_object(
         'after', (now() - timestamptz '2024-05-01 01:30+00')::text, 'step', '10 minutes')));
SELECT aegis.apply_downsampling() AS rolled_up;
COMMIT;
CREATE TEMP TABLE rs_b_raw AS
SELECT r.* FROM aegis.series s,
       aegis._rollup_raw_on_shard(s.series_id, '2024-05-01 01:30', (SELECT array_agg(hi ORDER BY lo) FROM aegis.block_partitions),
                                  300, 4080, ARRAY['-infinity']::timestamptz[], ARRAY['2024-05-01 01:30']::timestamptz[],
                                  ARRAY[600000000]::bigint[]) r
 WHERE s.metric = 'rs_b';
SELECT points_taken, cardinality(block_starts) AS blocks_written, cardinality(steps) AS tiers FROM rs_b_raw;
SELECT * FROM pg_temp.blocks_differ('rs_a', 'rs_b');
SELECT count(*) FILTER (WHERE s.metric = 'rs_a') AS recent_a, count(*) FILTER (WHERE s.metric = 'rs_b') AS recent_b
  FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric IN ('rs_a', 'rs_b');
SELECT count(*) AS rollup_rows, bool_and(u.data = (SELECT steps[1] FROM rs_b_raw)) AS same_steps
  FROM aegis.rollups u JOIN aegis.series s USING (series_id) WHERE s.metric = 'rs_a';
-- Its summary, aegis._rollup_steps, sends a tier's steps in blocks of at
-- most 256 (here the second tier's 600 one-second steps; the 40 points
-- before the first tier are past the drop) and refuses what it cannot use.
SELECT points, cardinality(steps) AS blocks, step_tiers
  FROM aegis._rollup_steps(1, NULL, NULL,
                           ARRAY(SELECT '2024-05-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 699) i),
                           ARRAY(SELECT i::float8 FROM generate_series(0, 699) i), 'infinity',
                           ARRAY['2024-05-01 00:00:40', '2024-05-01 00:01:40']::timestamptz[],
                           ARRAY['2024-05-01 00:01:40', 'infinity']::timestamptz[], ARRAY[60000000, 1000000]::bigint[]);
SELECT * FROM aegis._rollup_steps(1, NULL, NULL, NULL, NULL, 'infinity', ARRAY['-infinity']::timestamptz[],
                                  ARRAY['infinity']::timestamptz[], ARRAY[0]::bigint[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rollup_steps(1, NULL, NULL, NULL, NULL, 'infinity', ARRAY['-infinity']::timestamptz[], NULL,
                                  ARRAY[60000000]::bigint[]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._rollup_steps(1, NULL, NULL, NULL, NULL, 'infinity', NULL, NULL, NULL);
RESET aegis.block_max_points;
DROP TABLE rs_b_raw;
SELECT aegis.drop_metric(m) FROM unnest(ARRAY['rs_a', 'rs_b']) m;
