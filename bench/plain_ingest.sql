-- make bench: the multi-row INSERT ingest path's peer, one client: the same
-- INSERT ... VALUES statements as ingest.sql's insert mode (the same rows and
-- tag text) into a plain table with aegis.points' columns,
-- bench.plain_ingest (metric text, tags jsonb, ts timestamptz, value float8).
--   file    the SQL file (bench.py writes it from ingest.sql's, naming this table)
--   index   on:  with a btree on (metric, tags, ts), what finding a series' points needs
--           off: a bare heap (the cheapest a table with these columns can be written)
-- Recreates the table, times the load, prints count and sum (bench.py compares
-- them with the plain table's for the same points).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.plain_ingest;
CREATE TABLE bench.plain_ingest (metric text, tags jsonb, ts timestamptz, value float8);
\if :index
CREATE INDEX ON bench.plain_ingest (metric, tags, ts);
\endif
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
\i :file
SELECT clock_timestamp() AS t1 \gset
SELECT '@@', 'load_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'plain_read', count(*), sum(value) FROM bench.plain_ingest;
DROP TABLE bench.plain_ingest;
