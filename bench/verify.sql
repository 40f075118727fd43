-- make bench: the extension must return what the plain table holds.
--   totals      SELECT count(*), sum(value) over aegis.read of every series and
--               over the plain table (bench.py compares them, 1e-9 relative)
--   per series  count, sum and an MD5 digest of every (ts, value) in time order,
--               the value as its float8 bits (float8send): a digest that matches
--               means every point is identical, bit for bit. Rows printed are
--               mismatches; series are matched on (metric, tags), as the
--               extension's series ids differ from the plain table's.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT clock_timestamp() AS t0 \gset
SELECT '@@', 'aegis_read', count(*), sum(value) FROM aegis.read('{__name__=~".+"}');
SELECT clock_timestamp() AS t1 \gset
SELECT '@@', 'plain_read', count(*), sum(value) FROM bench.plain_:ds;
SELECT clock_timestamp() AS t2 \gset
SELECT '@@', 'aegis_read_s', extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz);
SELECT '@@', 'plain_read_s', extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz);

WITH ra AS (SELECT r.series_id, count(*) AS n, sum(r.value) AS s,
                   md5(string_agg(timestamptz_send(r.ts) || float8send(r.value), ''::bytea ORDER BY r.ts)) AS digest
              FROM aegis.read('{__name__=~".+"}') r GROUP BY 1),
     a AS (SELECT s.metric, s.tags, ra.n, ra.s, ra.digest FROM ra JOIN aegis.series s USING (series_id)),
     rp AS (SELECT p.series_id, count(*) AS n, sum(p.value) AS s,
                   md5(string_agg(timestamptz_send(p.ts) || float8send(p.value), ''::bytea ORDER BY p.ts)) AS digest
              FROM bench.plain_:ds p GROUP BY 1),
     p AS (SELECT m.metric, m.tags, rp.n, rp.s, rp.digest FROM rp JOIN bench.series_:ds m USING (series_id))
SELECT '@@', 'series_mismatch', coalesce(a.metric, p.metric), coalesce(a.tags, p.tags), a.n, p.n, a.s, p.s,
       a.digest = p.digest
  FROM a FULL JOIN p ON a.metric = p.metric AND a.tags = p.tags
 WHERE a.n IS DISTINCT FROM p.n
    OR NOT (abs(a.s - p.s) <= 1e-9 * greatest(abs(a.s), abs(p.s)))
    OR a.digest IS DISTINCT FROM p.digest;
SELECT '@@', 'series_compared', count(*) FROM bench.series_:ds;
