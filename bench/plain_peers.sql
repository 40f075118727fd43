-- make bench: the two plain peers of the query benchmark (bench/queries.py),
-- after the storage figures are measured.
--   ds        data set name (bench.plain_<ds> is loaded, in series then time
--             order, by plain_copy.sql)
--   arrival   the arrival-order table to (re)create, e.g. bench.plain_tsbs_cpu_arrival
-- 1. bench.plain_<ds> is CLUSTERed on its btree (series_id, ts): its COPY came
--    in series order already; CLUSTER makes that order explicit (and rebuilds
--    the btree), so each series' points lie together, in time order.
-- 2. The arrival table gets the same points in the order collectors write
--    them, time then series (every series' point of a timestamp, then the
--    next timestamp), into an empty table whose btree on (series_id, ts)
--    exists already and grows as the rows come in.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT c.relname AS plain_index FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = ('bench.plain_' || :'ds')::regclass \gset
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
CLUSTER bench.plain_:ds USING :"plain_index";
SELECT clock_timestamp() AS t1 \gset
ANALYZE bench.plain_:ds;
DROP TABLE IF EXISTS :arrival;
CREATE TABLE :arrival (series_id int4, ts timestamptz, value float8);
CREATE INDEX ON :arrival (series_id, ts);
CHECKPOINT;
SELECT clock_timestamp() AS t2 \gset
INSERT INTO :arrival SELECT series_id, ts, value FROM bench.plain_:ds ORDER BY ts, series_id;
SELECT clock_timestamp() AS t3 \gset
VACUUM ANALYZE :arrival;
SELECT '@@', 'cluster_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'arrival_s', extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz);
SELECT '@@', 'clustered', (SELECT indisclustered FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                            WHERE c.relname = :'plain_index' AND c.relnamespace = 'bench'::regnamespace);
-- pg_stats' correlation of ts: about 1 when the heap is in time order (arrival),
-- lower when it is in series order (clustered: ts restarts with every series).
SELECT '@@', 'correlation', tablename, attname, round(correlation::numeric, 3) FROM pg_stats
 WHERE schemaname = 'bench' AND tablename IN ('plain_' || :'ds', split_part(:'arrival', '.', 2))
   AND attname IN ('series_id', 'ts') ORDER BY tablename, attname;
SELECT '@@', 'sizes', pg_total_relation_size('bench.plain_' || :'ds'), pg_total_relation_size(:'arrival');
SELECT '@@', 'totals', (SELECT count(*) FROM bench.plain_:ds), (SELECT sum(value) FROM bench.plain_:ds),
       (SELECT count(*) FROM :arrival), (SELECT sum(value) FROM :arrival);
