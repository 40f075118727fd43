-- Part of differential.sql: aegis.aggregate against plain SQL over truth.
-- Expected values are computed once per step (all functions in one pass).
-- The default range cuts buckets; over rolled-up data the range is aligned to
-- the stored steps (a step counts where it starts).
CREATE FUNCTION check_aggregates(stage text, since timestamptz DEFAULT '2024-01-03 05:17:00+00',
                                 until timestamptz DEFAULT '2024-01-27 19:03:00+00',
                                 skip text[] DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  fn text; step interval; bad bigint; n bigint; grouped boolean;
BEGIN
  FOREACH step IN ARRAY ARRAY['1 hour', '1 day', NULL]::interval[] LOOP
    DROP TABLE IF EXISTS expected;
    -- s = 0 holds the group of all series.
    -- increase: last - first + the value before each drop (a counter reset),
    -- per series within the bucket; rate: that over the seconds between the
    -- bucket's first and last point.
    CREATE TEMP TABLE expected AS
    WITH t AS (
      SELECT coalesce(aegis.time_bucket(step, ts), since) AS bucket, s, ts, value,
             lag(value) OVER (PARTITION BY s, coalesce(aegis.time_bucket(step, ts), since) ORDER BY ts) AS previous
        FROM truth WHERE ts >= since AND ts < until)
    SELECT bucket, coalesce(s, 0) AS s,
           count(*)::float8 AS count, sum(value) AS sum, min(value) AS min, max(value) AS max, avg(value) AS avg,
           stddev_pop(value) AS stddev, var_pop(value) AS variance,
           CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts))[1] END AS first,
           CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts DESC))[1] END AS last,
           CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts DESC))[1] - (array_agg(value ORDER BY ts))[1]
           END AS delta,
           CASE WHEN s IS NOT NULL AND count(*) > 1
                THEN (array_agg(value ORDER BY ts DESC))[1] - (array_agg(value ORDER BY ts))[1]
                     + coalesce(sum(previous) FILTER (WHERE value < previous), 0) END AS increase,
           CASE WHEN s IS NOT NULL AND count(*) > 1
                THEN ((array_agg(value ORDER BY ts DESC))[1] - (array_agg(value ORDER BY ts))[1]
                      + coalesce(sum(previous) FILTER (WHERE value < previous), 0))
                     / extract(epoch FROM max(ts) - min(ts))::float8 END AS rate
      FROM t GROUP BY GROUPING SETS ((1, t.s), (1));
    FOREACH fn IN ARRAY ARRAY['count', 'sum', 'min', 'max', 'avg', 'stddev', 'variance', 'first', 'last', 'delta',
                              'increase', 'rate'] LOOP
      FOREACH grouped IN ARRAY ARRAY[false, true] LOOP
        -- first/last/delta: ties across series have no single answer;
        -- increase/rate of a group is the sum over its series, checked per
        -- series.
        CONTINUE WHEN grouped AND fn IN ('first', 'last', 'delta', 'increase', 'rate');
        CONTINUE WHEN fn = ANY (skip);
        EXECUTE format($q$
          WITH got AS (
            SELECT bucket, CASE WHEN $5 THEN 0 ELSE (tags ->> 's')::int END AS s, value
              FROM aegis.aggregate('{__name__=~"m[0-9]"}', $1, $2, $3, $4, CASE WHEN $5 THEN '{}'::text[] END)),
          want AS (SELECT bucket, s, %I AS value FROM expected WHERE (s = 0) = $5)
          SELECT count(*), count(*) FILTER (WHERE g.s IS NULL OR w.s IS NULL OR (g.value IS NULL) <> (w.value IS NULL) OR NOT (
                   CASE WHEN $1 IN ('count', 'min', 'max', 'first', 'last') THEN float8send(g.value) = float8send(w.value)
                        ELSE abs(g.value - w.value) <= 1e-9 * greatest(abs(w.value), 1e-300) END))
            FROM want w FULL JOIN got g USING (bucket, s) $q$, fn)
          INTO n, bad USING fn, since, until, step, grouped;
        IF bad <> 0 OR n = 0 THEN
          RAISE EXCEPTION '%: aggregate % step % (grouped: %): % of % buckets differ', stage, fn, step, grouped, bad, n;
        END IF;
      END LOOP;
    END LOOP;
  END LOOP;
  RAISE NOTICE 'ok - %: aegis.aggregate equals plain SQL for % functions x 3 steps, per series and grouped',
    stage, 12 - cardinality(skip);
END $$;
SELECT check_aggregates('before compress (blocks from batches, recent rows)');
