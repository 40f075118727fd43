-- make bench: one run of the plain side. (Re)creates
-- bench.plain_<ds>(series_id int4, ts timestamptz, value float8) with a btree
-- on (series_id, ts) and loads <ds>.points.csv into it with \copy.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.plain_:ds;
CREATE TABLE bench.plain_:ds (series_id int4, ts timestamptz, value float8);
CREATE INDEX ON bench.plain_:ds (series_id, ts);
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
\set cmd '\\copy bench.plain_' :ds ' FROM ' :'points_file' ' WITH (FORMAT csv)'
:cmd
SELECT clock_timestamp() AS t1 \gset
SELECT '@@', 'copy_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
