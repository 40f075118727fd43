-- make bench: count and sum of the first :limit points (in time order) of every
-- series of the plain table bench.plain_:ds, the points an ingest run wrote.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT '@@', 'plain_read', count(*), sum(p.value)
  FROM bench.series_:ds m
 CROSS JOIN LATERAL (SELECT value FROM bench.plain_:ds p WHERE p.series_id = m.series_id
                      ORDER BY p.ts LIMIT :limit) p;
