-- make bench: loads one data set's CSV files (bench/datasets.py) with \copy.
--   ds            data set name (suffix of its tables)
--   series_file   <ds>.series.csv: series_id, metric, tags, first_row, points
--   points_file   <ds>.points.csv: series_id, ts, value (rn = line number)
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
TRUNCATE bench.staging RESTART IDENTITY;
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
SELECT clock_timestamp() AS t0 \gset
\set cmd '\\copy bench.staging (series_id, ts, value) FROM ' :'points_file' ' WITH (FORMAT csv)'
:cmd
SELECT '@@', 'staging_copy_s', extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
-- Fresh statistics, so that batches.sql never plans against a just-truncated
-- table (a nested loop over 10,000,000 rows when autovacuum has not come by).
ANALYZE bench.staging;
ANALYZE bench.series_:ds;
SELECT '@@', 'staged', count(*) FROM bench.staging;
