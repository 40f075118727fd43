-- make bench: the late-data rewrite on the TimescaleDB peer: the points at or
-- after `cutoff` get value + 0.5, as on the plain tables (bench/late_data.sql).
-- UPDATE on compressed chunks decompresses the batches it touches into the
-- chunks' uncompressed heaps (no limit on how many for this statement);
-- nothing is compressed again afterwards.
--   ds       data set name
--   cutoff   first rewritten timestamp
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET timescaledb.max_tuples_decompressed_per_dml_transaction = 0;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
UPDATE bench.tsdb_:ds SET value = value + 0.5 WHERE ts >= :'cutoff';
SELECT clock_timestamp() AS t1 \gset
VACUUM ANALYZE bench.tsdb_:ds;
SELECT '@@', 'update_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
