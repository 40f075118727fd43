-- make bench: the plain side's series mapping for the query benchmark
-- (bench/queries.py). The plain table holds (series_id, ts, value) only, as a
-- narrow table does; the queries that name hosts or metrics join this small
-- table, as a user of such a table would, and that join is part of their cost.
--   ds   data set name (bench.series_<ds> is the loaded series list)
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.series_map;
CREATE TABLE bench.series_map (
    series_id int4 PRIMARY KEY,
    metric    text NOT NULL,
    hostname  text NOT NULL
);
INSERT INTO bench.series_map SELECT series_id, metric, tags->>'hostname' FROM bench.series_:ds ORDER BY series_id;
CREATE INDEX ON bench.series_map (metric, hostname);
VACUUM ANALYZE bench.series_map;
SELECT '@@', 'series_map', count(*), count(DISTINCT hostname), count(DISTINCT metric) FROM bench.series_map;
