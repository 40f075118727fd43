-- make bench: the extension must return what the plain table holds.
--   totals      count(*) and sum(value) over aegis.read of every series, and the
--               same over the plain table (compared by bench.py, 1e-9 relative)
--   per series  count and sum per series; rows printed are mismatches
--   exact       (:exact = 1) every point, compared bit for bit (float8send)
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT clock_timestamp() AS t0 \gset
SELECT '@@', 'aegis_read', count(*), sum(value) FROM aegis.read('{__name__=~".+"}');
SELECT clock_timestamp() AS t1 \gset
SELECT '@@', 'plain_read', count(*), sum(value) FROM bench.plain_:ds;
SELECT clock_timestamp() AS t2 \gset
SELECT '@@', 'aegis_read_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'plain_read_s', extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz);

-- Per series, matched on (metric, tags): the extension's series ids differ
-- from the plain table's.
WITH a AS (SELECT r.metric, r.tags, count(*) AS n, sum(r.value) AS s
             FROM aegis.read('{__name__=~".+"}') r GROUP BY 1, 2),
     p AS (SELECT m.metric, m.tags, count(*) AS n, sum(p.value) AS s
             FROM bench.plain_:ds p JOIN bench.series_:ds m USING (series_id) GROUP BY 1, 2)
SELECT '@@', 'series_mismatch', coalesce(a.metric, p.metric), coalesce(a.tags, p.tags), a.n, p.n, a.s, p.s
  FROM a FULL JOIN p ON a.metric = p.metric AND a.tags = p.tags
 WHERE a.n IS DISTINCT FROM p.n
    OR NOT (abs(a.s - p.s) <= 1e-9 * greatest(abs(a.s), abs(p.s)));
SELECT '@@', 'series_compared', count(*) FROM bench.series_:ds;

\if :exact
WITH ids AS (SELECT s.series_id AS aegis_id, m.series_id AS plain_id
               FROM aegis.series s JOIN bench.series_:ds m ON m.metric = s.metric AND m.tags = s.tags),
     a AS (SELECT ids.plain_id, r.ts, float8send(r.value) AS v
             FROM aegis.read('{__name__=~".+"}') r JOIN ids ON ids.aegis_id = r.series_id),
     p AS (SELECT series_id AS plain_id, ts, float8send(value) AS v FROM bench.plain_:ds)
SELECT '@@', 'exact_mismatches', count(*)
  FROM a FULL JOIN p ON a.plain_id = p.plain_id AND a.ts = p.ts
 WHERE a.v IS DISTINCT FROM p.v;
\endif
