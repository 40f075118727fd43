-- make bench: one run of the extension's write path. Empties the extension's
-- tables, writes every batch of bench.<batch_table> through aegis.write (in
-- series and time order, one statement), then packs what is left in
-- aegis.recent_points with aegis.compress('0'). Prints the timings.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- recent_points on its own: a TRUNCATE of aegis.series empties it through a
-- trigger, which fails when the same statement truncates it too.
TRUNCATE aegis.recent_points;
-- last_points too: the TRUNCATE of aegis.series empties it with a DELETE, and
-- the dead rows of the previous run would be measured as its size.
TRUNCATE aegis.last_points;
TRUNCATE aegis.blocks, aegis.series, aegis.metric_catalog RESTART IDENTITY;
-- The emptied partitions of earlier sets go (only partitions of the past).
SELECT aegis.apply_retention() AS emptied_partitions \gset
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
SELECT '@@', 'written', sum(aegis.write(b.metric, b.tags, b.ts, b.vals))
  FROM (SELECT * FROM bench.:batch_table ORDER BY series_id, chunk) b;
SELECT clock_timestamp() AS t1 \gset
SELECT '@@', 'recent_before_compress', count(*) FROM aegis.recent_points;
SELECT clock_timestamp() AS t2 \gset
SELECT '@@', 'compressed', aegis.compress('0');
SELECT clock_timestamp() AS t3 \gset
SELECT '@@', 'write_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'compress_s', extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz);
SELECT '@@', 'recent_after_compress', count(*) FROM aegis.recent_points;
SELECT '@@', 'block_summary', count(*), coalesce(sum(point_count), 0), coalesce(sum(pg_column_size(data)), 0),
       coalesce(sum(sum_value), 0)
  FROM aegis.blocks;
