-- make bench: sizes of one data set on both sides, after VACUUM ANALYZE.
-- The extension's size is everything it stores: every table of the aegis
-- schema (the partitions of aegis.blocks, recent_points, the series
-- catalog, last_points and the bookkeeping tables) with its indexes, TOAST,
-- free-space and visibility maps (pg_total_relation_size).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
VACUUM ANALYZE aegis.blocks;
VACUUM ANALYZE aegis.recent_points;
VACUUM ANALYZE aegis.series;
VACUUM ANALYZE aegis.metric_catalog;
VACUUM ANALYZE bench.plain_:ds;
-- aegis.blocks is partitioned: its sizes are its partitions'.
CREATE TEMP VIEW block_partitions AS SELECT relid FROM pg_partition_tree('aegis.blocks') WHERE isleaf;
CREATE TEMP VIEW aegis_tables AS
  SELECT c.oid AS relid FROM pg_class c WHERE c.relnamespace = 'aegis'::regnamespace AND c.relkind = 'r';
SELECT '@@', 'aegis_total', (SELECT sum(pg_total_relation_size(relid)) FROM aegis_tables);
SELECT '@@', 'aegis_blocks_table', (SELECT coalesce(sum(pg_table_size(relid)), 0) FROM block_partitions);
SELECT '@@', 'aegis_blocks_indexes', (SELECT coalesce(sum(pg_indexes_size(relid)), 0) FROM block_partitions);
-- Everything but the blocks and the recent rows: the series catalog (with its
-- GIN and btree indexes), last_points, the metric catalog and bookkeeping.
SELECT '@@', 'aegis_catalog', (SELECT sum(pg_total_relation_size(relid)) FROM aegis_tables
                               WHERE relid NOT IN (SELECT relid FROM block_partitions)
                                 AND relid <> 'aegis.recent_points'::regclass);
SELECT '@@', 'aegis_recent', pg_total_relation_size('aegis.recent_points');
SELECT '@@', 'aegis_blocks', count(*), coalesce(sum(point_count), 0), coalesce(sum(pg_column_size(data)), 0)
  FROM aegis.blocks;
SELECT '@@', 'aegis_recent_rows', count(*) FROM aegis.recent_points;
SELECT '@@', 'aegis_series', count(*) FROM aegis.series;
SELECT '@@', 'plain_total', pg_total_relation_size('bench.plain_' || :'ds');
SELECT '@@', 'plain_table', pg_table_size('bench.plain_' || :'ds');
SELECT '@@', 'plain_indexes', pg_indexes_size('bench.plain_' || :'ds');
SELECT '@@', 'plain_rows', count(*) FROM bench.plain_:ds;
