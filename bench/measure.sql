-- make bench: sizes of one data set on both sides, after VACUUM ANALYZE.
-- The extension's size is everything it stores: aegis.blocks, recent_points,
-- series and metric_catalog with their indexes, TOAST, free-space and
-- visibility maps (pg_total_relation_size).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
VACUUM ANALYZE aegis.blocks;
VACUUM ANALYZE aegis.recent_points;
VACUUM ANALYZE aegis.series;
VACUUM ANALYZE aegis.metric_catalog;
VACUUM ANALYZE bench.plain_:ds;
SELECT '@@', 'aegis_total', pg_total_relation_size('aegis.blocks') + pg_total_relation_size('aegis.recent_points')
                            + pg_total_relation_size('aegis.series') + pg_total_relation_size('aegis.metric_catalog');
SELECT '@@', 'aegis_blocks_table', pg_table_size('aegis.blocks');
SELECT '@@', 'aegis_blocks_indexes', pg_indexes_size('aegis.blocks');
SELECT '@@', 'aegis_catalog', pg_total_relation_size('aegis.series') + pg_total_relation_size('aegis.metric_catalog');
SELECT '@@', 'aegis_recent', pg_total_relation_size('aegis.recent_points');
SELECT '@@', 'aegis_blocks', count(*), coalesce(sum(point_count), 0), coalesce(sum(pg_column_size(data)), 0)
  FROM aegis.blocks;
SELECT '@@', 'aegis_recent_rows', count(*) FROM aegis.recent_points;
SELECT '@@', 'aegis_series', count(*) FROM aegis.series;
SELECT '@@', 'plain_total', pg_total_relation_size('bench.plain_' || :'ds');
SELECT '@@', 'plain_table', pg_table_size('bench.plain_' || :'ds');
SELECT '@@', 'plain_indexes', pg_indexes_size('bench.plain_' || :'ds');
SELECT '@@', 'plain_rows', count(*) FROM bench.plain_:ds;
