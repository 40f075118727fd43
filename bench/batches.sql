-- make bench: turns the staged points into aegis.write batches: one row per
-- series and chunk of `chunk` consecutive points, arrays in time order.
--   ds            data set name
--   batch_table   table to (re)create in schema bench
--   chunk         points per batch
--   limit         points per series to keep (the first ones)
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.:batch_table;
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE bench.:batch_table AS
SELECT s.series_id, b.chunk, s.metric, s.tags, b.ts, b.vals
  FROM (SELECT st.series_id, (st.rn - m.first_row) / :chunk AS chunk,
               array_agg(st.ts ORDER BY st.rn) AS ts, array_agg(st.value ORDER BY st.rn) AS vals
          FROM bench.staging st JOIN bench.series_:ds m USING (series_id)
         WHERE st.rn - m.first_row < :limit
         GROUP BY 1, 2) b
  JOIN bench.series_:ds s USING (series_id)
 ORDER BY s.series_id, b.chunk;
SELECT '@@', 'build_s', extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SELECT '@@', 'batches', count(*), sum(cardinality(ts)) FROM bench.:batch_table;
