-- make bench: what the TimescaleDB peer holds (bench/tsdb_load.sql), for
-- bench.py's checks: count and sum of its points, and how many of them sit
-- in the chunks' own heaps, uncompressed (a scan of ONLY the chunk reads just
-- those; a scan of the hypertable decompresses the compressed batches too).
--   ds   data set name
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT '@@', 'totals', count(*), sum(value) FROM bench.tsdb_:ds;
SELECT format('SELECT ''@@'', ''chunk_rows'', %L, count(*) FROM ONLY %s', c, c)
  FROM show_chunks(('bench.tsdb_' || :'ds')::regclass) c \gexec
SELECT '@@', 'size', hypertable_size(('bench.tsdb_' || :'ds')::regclass);
