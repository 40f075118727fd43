-- make bench: the late-data state of the query benchmark. After the clean
-- figures, the points of every series at or after `cutoff` (the last quarter
-- of the generated set, by time) are written again, same timestamps, value
-- + 0.5:
--   extension     aegis.write batches of `chunk` points, below
--                 aegis.block_max_points, so they land in aegis.recent_points
--                 over the compressed blocks (which keep the old values);
--                 no aegis.compress or run_maintenance afterwards (the
--                 maintenance worker stays out of this database)
--   plain tables  UPDATE ... SET value = value + 0.5 on both, then VACUUM
--                 ANALYZE (and VACUUM ANALYZE aegis.recent_points and
--                 aegis.last_points: what autovacuum would do to all of them
--                 within a minute)
-- The batches are built from the clustered plain table before it is updated,
-- so both sides compute value + 0.5 from the same float8.
--   ds        data set name (bench.plain_<ds>: the clustered table)
--   arrival   the arrival-order table
--   cutoff    first rewritten timestamp
--   chunk     points per aegis.write batch
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.late_batches;
CREATE TABLE bench.late_batches AS
SELECT b.series_id, b.chunk, s.metric, s.tags, b.ts, b.vals
  FROM (SELECT l.series_id, l.chunk, array_agg(l.ts ORDER BY l.ts) AS ts, array_agg(l.value + 0.5 ORDER BY l.ts) AS vals
          FROM (SELECT series_id, ts, value,
                       (row_number() OVER (PARTITION BY series_id ORDER BY ts) - 1) / :chunk AS chunk
                  FROM bench.plain_:ds WHERE ts >= :'cutoff') l
         GROUP BY 1, 2) b
  JOIN bench.series_:ds s USING (series_id);
SELECT '@@', 'batches', count(*), sum(cardinality(ts)), max(cardinality(ts)) FROM bench.late_batches;
SELECT '@@', 'blocks_before', count(*), sum(point_count) FROM aegis.blocks;
SELECT '@@', 'recent_before', count(*) FROM aegis.recent_points;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
SELECT '@@', 'written', sum(aegis.write(b.metric, b.tags, b.ts, b.vals))
  FROM (SELECT * FROM bench.late_batches ORDER BY series_id, chunk) b;
SELECT clock_timestamp() AS t1 \gset
UPDATE bench.plain_:ds SET value = value + 0.5 WHERE ts >= :'cutoff';
SELECT clock_timestamp() AS t2 \gset
UPDATE :arrival SET value = value + 0.5 WHERE ts >= :'cutoff';
SELECT clock_timestamp() AS t3 \gset
VACUUM ANALYZE bench.plain_:ds;
VACUUM ANALYZE :arrival;
VACUUM ANALYZE aegis.recent_points;
VACUUM ANALYZE aegis.last_points;
SELECT '@@', 'write_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'update_plain_s', extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz);
SELECT '@@', 'update_arrival_s', extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz);
SELECT '@@', 'recent_after', count(*), count(DISTINCT series_id), min(ts), max(ts) FROM aegis.recent_points;
SELECT '@@', 'blocks_after', count(*), sum(point_count) FROM aegis.blocks;
SELECT '@@', 'late_rows', count(*) FROM bench.plain_:ds WHERE ts >= :'cutoff';
SELECT '@@', 'totals', (SELECT count(*) FROM bench.plain_:ds), (SELECT sum(value) FROM bench.plain_:ds),
       (SELECT count(*) FROM :arrival), (SELECT sum(value) FROM :arrival);
-- Heap order as the planner sees it (plain_peers.sql prints the same before).
SELECT '@@', 'correlation', tablename, attname, round(correlation::numeric, 3) FROM pg_stats
 WHERE schemaname = 'bench' AND tablename IN ('plain_' || :'ds', split_part(:'arrival', '.', 2))
   AND attname IN ('series_id', 'ts') ORDER BY tablename, attname;
SELECT '@@', 'sizes', pg_total_relation_size('bench.plain_' || :'ds'), pg_total_relation_size(:'arrival'),
       pg_total_relation_size('aegis.recent_points');
DROP TABLE bench.late_batches;
