-- make bench: the TimescaleDB peer of the query benchmark, in a database of
-- its own (created by bench.py with the timescaledb extension), so that
-- TimescaleDB's hooks never run in the extension's or the plain tables'
-- sessions.
--   ds            data set name
--   series_file   <ds>.series.csv (series_id, metric, tags, first_row, points)
--   points_file   <ds>.points.csv (series_id, ts, value)
--   chunk         chunk_time_interval of the hypertable
-- bench.series_<ds> holds the series list as in aegis_bench (query_setup.sql
-- then builds the same bench.series_map from it); bench.tsdb_<ds> is a
-- hypertable (series_id int4, ts timestamptz, value float8) with the plain
-- tables' btree on (series_id, ts), loaded with \copy from the same CSV, then
-- every chunk compressed (compress_segmentby series_id, compress_orderby ts).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bench;
DROP TABLE IF EXISTS bench.series_:ds;
CREATE TABLE bench.series_:ds (
    series_id int4 PRIMARY KEY,
    metric    text NOT NULL,
    tags      jsonb NOT NULL,
    first_row bigint NOT NULL,
    points    int4 NOT NULL
);
\set cmd '\\copy bench.series_' :ds ' FROM ' :'series_file' ' WITH (FORMAT csv)'
:cmd
ANALYZE bench.series_:ds;
DROP TABLE IF EXISTS bench.tsdb_:ds;
CREATE TABLE bench.tsdb_:ds (series_id int4 NOT NULL, ts timestamptz NOT NULL, value float8);
SELECT '@@', 'hypertable', create_hypertable('bench.tsdb_' || :'ds', by_range('ts', :'chunk'::interval));
CREATE INDEX ON bench.tsdb_:ds (series_id, ts);
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
\set cmd '\\copy bench.tsdb_' :ds ' FROM ' :'points_file' ' WITH (FORMAT csv)'
:cmd
SELECT clock_timestamp() AS t1 \gset
ALTER TABLE bench.tsdb_:ds SET (timescaledb.compress, timescaledb.compress_segmentby = 'series_id',
                                timescaledb.compress_orderby = 'ts');
SELECT clock_timestamp() AS t2 \gset
SELECT '@@', 'compressed_chunks', count(compress_chunk(c)) FROM show_chunks('bench.tsdb_' || :'ds') c;
SELECT clock_timestamp() AS t3 \gset
VACUUM ANALYZE bench.tsdb_:ds;
SELECT '@@', 'copy_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'compress_s', extract(epoch FROM :'t3'::timestamptz - :'t2'::timestamptz);
SELECT '@@', 'version', extversion FROM pg_extension WHERE extname = 'timescaledb';
SELECT '@@', 'chunks', count(*), count(*) FILTER (WHERE is_compressed)
  FROM timescaledb_information.chunks WHERE hypertable_schema = 'bench' AND hypertable_name = 'tsdb_' || :'ds';
SELECT '@@', 'size', hypertable_size(('bench.tsdb_' || :'ds')::regclass);
