-- make bench: one run of an ingest path into the aegis.points view, one client.
--   mode    copy:   \copy aegis.points (metric, tags, ts, value) FROM :'file' (CSV)
--           text:   the same in COPY's text format
--           insert: \i :'file', multi-row INSERT INTO aegis.points VALUES ... statements
--   file    the CSV or SQL file (bench.py writes it, rows in series then time order)
-- Empties the extension's tables as aegis_write.sql does, times the load, then
-- prints count and sum over aegis.read (bench.py compares them with the plain
-- table's for the same points) and what is left in aegis.recent_points.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
TRUNCATE aegis.recent_points;
-- last_points too: the TRUNCATE of aegis.series empties it with a DELETE, and
-- the dead rows of the previous run would be measured as its size.
TRUNCATE aegis.last_points;
TRUNCATE aegis.blocks, aegis.series, aegis.metric_catalog RESTART IDENTITY;
-- The emptied partitions of earlier sets go (only partitions of the past).
SELECT aegis.apply_retention() AS emptied_partitions \gset
CHECKPOINT;
SELECT :'mode' IN ('copy', 'text') AS is_copy, CASE :'mode' WHEN 'copy' THEN 'csv' ELSE 'text' END AS copy_format \gset
SELECT clock_timestamp() AS t0 \gset
\if :is_copy
\set cmd '\\copy aegis.points (metric, tags, ts, value) FROM ' :'file' ' WITH (FORMAT ' :copy_format ')'
:cmd
\else
\i :file
\endif
SELECT clock_timestamp() AS t1 \gset
SELECT '@@', 'load_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'aegis_read', count(*), sum(value) FROM aegis.read('{__name__=~".+"}');
SELECT '@@', 'recent_rows', count(*) FROM aegis.recent_points;
SELECT '@@', 'blocks', count(*), coalesce(sum(point_count), 0) FROM aegis.blocks;
