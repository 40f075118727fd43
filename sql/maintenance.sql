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
SELECT points_taken, cardinality(block_starts) AS blocks_written
  FROM aegis.series s,
       aegis._compress_on_shard(s.series_id, '-infinity', 'infinity',
                                (SELECT array_agg(lo ORDER BY lo) FROM aegis.block_partitions),
                                (SELECT array_agg(hi ORDER BY lo) FROM aegis.block_partitions),
                                300, 4080, (4080 - 115) - greatest((4080 - 115) / 16, 128))
 WHERE s.metric = 'cs_b';
SELECT aegis.compress('0') AS compressed;
SELECT * FROM pg_temp.blocks_differ('cs_a', 'cs_b');
SELECT count(*) AS recent_left FROM aegis.recent_points r JOIN aegis.series s USING (series_id)
 WHERE s.metric IN ('cs_a', 'cs_b');
-- Its merge, aegis._merge_into_blocks, refuses what it cannot use.
SELECT * FROM aegis._merge_into_blocks(1, ARRAY['\x00'::bytea], NULL, NULL, NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, ARRAY['2024-01-02', '2024-01-01']::timestamptz[], ARRAY[1, 2]::float8[],
                                       NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, ARRAY['2024-01-01']::timestamptz[], ARRAY[1, 2]::float8[], NULL, 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, 0, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, 300, 100);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, ARRAY['2024-02-01', '2024-01-01']::timestamptz[], 300, 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS no_points FROM aegis._merge_into_blocks(1, NULL, NULL, NULL, NULL, 300, 0);
RESET aegis.block_max_points;
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
