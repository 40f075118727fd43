-- Part of differential.sql: aegis.aggregate against plain SQL over truth.
-- Expected values are computed once per step (all functions in one pass).
CREATE FUNCTION check_aggregates(stage text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  fn text; step interval; bad bigint; n bigint; grouped boolean;
  since timestamptz := '2024-01-03 05:17:00+00';
  until timestamptz := '2024-01-27 19:03:00+00';
BEGIN
  FOREACH step IN ARRAY ARRAY['1 hour', '1 day', NULL]::interval[] LOOP
    DROP TABLE IF EXISTS expected;
    -- s = 0 holds the group of all series.
    CREATE TEMP TABLE expected AS
    SELECT coalesce(aegis.time_bucket(step, ts), since) AS bucket, coalesce(s, 0) AS s,
           count(*)::float8 AS count, sum(value) AS sum, min(value) AS min, max(value) AS max, avg(value) AS avg,
           CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts))[1] END AS first,
           CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts DESC))[1] END AS last
      FROM truth WHERE ts >= since AND ts < until
     GROUP BY GROUPING SETS ((1, truth.s), (1));
    FOREACH fn IN ARRAY ARRAY['count', 'sum', 'min', 'max', 'avg', 'first', 'last'] LOOP
      FOREACH grouped IN ARRAY ARRAY[false, true] LOOP
        CONTINUE WHEN grouped AND fn IN ('first', 'last');  -- ties across series have no single answer
        EXECUTE format($q$
          WITH got AS (
            SELECT bucket, CASE WHEN $5 THEN 0 ELSE (tags ->> 's')::int END AS s, value
              FROM aegis.aggregate('{__name__=~"m[0-9]"}', $1, $2, $3, $4, CASE WHEN $5 THEN '{}'::text[] END)),
          want AS (SELECT bucket, s, %I AS value FROM expected WHERE (s = 0) = $5)
          SELECT count(*), count(*) FILTER (WHERE g.value IS NULL OR w.value IS NULL OR NOT (
                   CASE WHEN $1 IN ('sum', 'avg') THEN abs(g.value - w.value) <= 1e-9 * greatest(abs(w.value), 1e-300)
                        ELSE float8send(g.value) = float8send(w.value) END))
            FROM want w FULL JOIN got g USING (bucket, s) $q$, fn)
          INTO n, bad USING fn, since, until, step, grouped;
        IF bad <> 0 OR n = 0 THEN
          RAISE EXCEPTION '%: aggregate % step % (grouped: %): % of % buckets differ', stage, fn, step, grouped, bad, n;
        END IF;
      END LOOP;
    END LOOP;
  END LOOP;
  RAISE NOTICE 'ok - %: aegis.aggregate equals plain SQL for 7 functions x 3 steps, per series and grouped', stage;
END $$;
SELECT check_aggregates('before compress (blocks from batches, recent rows)');
