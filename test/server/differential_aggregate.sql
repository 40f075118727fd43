-- Part of differential.sql: aegis.aggregate against plain SQL over truth.
-- Expected values are computed once per step (all functions in one pass).
-- The default range cuts buckets; over rolled-up data the range is aligned to
-- the stored steps (a step counts where it starts).

-- Prometheus 2.42's extrapolatedRate (promql/functions.go), written in SQL
-- from the same description: change (last - first, plus for counters the
-- value before each drop) over the window [ws, we), extrapolated to the
-- window's edges when the first/last point lies within 1.1 average intervals
-- of them, else by half an interval; a counter is not taken below zero.
-- test/server/prometheus_oracle.sh checks the engine against Prometheus
-- itself; this checks it on the differential data set.
CREATE FUNCTION prom_extrapolated(change float8, n bigint, first_ts timestamptz, last_ts timestamptz,
                                  first_value float8, ws timestamptz, we timestamptz, is_counter boolean,
                                  is_rate boolean) RETURNS float8
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  to_start float8 := extract(epoch FROM first_ts - ws);
  to_end float8 := extract(epoch FROM we - last_ts);
  sampled float8 := extract(epoch FROM last_ts - first_ts);
  average float8;
  to_zero float8;
  extrapolated float8;
BEGIN
  IF n < 2 THEN RETURN NULL; END IF;
  average := sampled / (n - 1);
  IF is_counter AND change > 0 AND first_value >= 0 THEN
    to_zero := sampled * (first_value / change);
    IF to_zero < to_start THEN to_start := to_zero; END IF;
  END IF;
  extrapolated := sampled + CASE WHEN to_start < average * 1.1 THEN to_start ELSE average / 2 END
                          + CASE WHEN to_end < average * 1.1 THEN to_end ELSE average / 2 END;
  IF is_rate THEN
    RETURN change * extrapolated / sampled / extract(epoch FROM we - ws);
  END IF;
  RETURN change * extrapolated / sampled;
END $$;

CREATE FUNCTION check_aggregates(stage text, since timestamptz DEFAULT '2024-01-03 05:17:00+00',
                                 until timestamptz DEFAULT '2024-01-27 19:03:00+00',
                                 skip text[] DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  fn text; step interval; bad bigint; n bigint; grouped boolean;
  fns text[] := ARRAY['count', 'sum', 'min', 'max', 'avg', 'stddev', 'variance', 'first', 'last', 'delta',
                      'increase', 'rate', 'sample_delta', 'sample_increase', 'sample_rate', 'irate', 'resets',
                      'changes'];
BEGIN
  FOREACH step IN ARRAY ARRAY['1 hour', '1 day', NULL]::interval[] LOOP
    DROP TABLE IF EXISTS expected;
    -- s = 0 holds the group of all series. The per-series functions are
    -- computed per series within the bucket (and summed for the group, see
    -- below): change = last - first, increase adds the value before each drop
    -- (a counter reset); the sample_ forms without extrapolation, sample_rate
    -- over the seconds between the bucket's first and last point.
    CREATE TEMP TABLE expected AS
    WITH t AS (
      SELECT coalesce(aegis.time_bucket(step, ts), since) AS bucket, s, ts, value,
             lag(value) OVER (PARTITION BY s, coalesce(aegis.time_bucket(step, ts), since) ORDER BY ts) AS previous
        FROM truth WHERE ts >= since AND ts < until),
    per_series AS (
      SELECT bucket, s, count(*) AS points, min(ts) AS first_ts, max(ts) AS last_ts,
             (array_agg(value ORDER BY ts))[1] AS first_value,
             (array_agg(value ORDER BY ts DESC))[1] - (array_agg(value ORDER BY ts))[1] AS change,
             coalesce(sum(previous) FILTER (WHERE value < previous), 0) AS reset_sum,
             count(*) FILTER (WHERE value < previous) AS resets,
             count(*) FILTER (WHERE value IS DISTINCT FROM previous AND previous IS NOT NULL
                                    AND NOT (value = 'NaN' AND previous = 'NaN')) AS changes,
             (array_agg(value ORDER BY ts DESC))[1:2] AS last_two,
             (array_agg(ts ORDER BY ts DESC))[1:2] AS last_two_ts,
             greatest(bucket, since) AS ws,
             CASE WHEN step IS NULL THEN until ELSE least(bucket + step, until) END AS we
        FROM t GROUP BY bucket, s),
    counters AS (
      SELECT bucket, s, points, change, first_value, first_ts, last_ts,
             prom_extrapolated(change, points, first_ts, last_ts, first_value, ws, we, false, false) AS delta,
             prom_extrapolated(change + reset_sum, points, first_ts, last_ts, first_value, ws, we, true, false) AS increase,
             prom_extrapolated(change + reset_sum, points, first_ts, last_ts, first_value, ws, we, true, true) AS rate,
             CASE WHEN points > 1 THEN change END AS sample_delta,
             CASE WHEN points > 1 THEN change + reset_sum END AS sample_increase,
             CASE WHEN points > 1 THEN (change + reset_sum) / extract(epoch FROM last_ts - first_ts) END AS sample_rate,
             CASE WHEN points > 1 THEN (CASE WHEN last_two[1] < last_two[2] THEN last_two[1]
                                        ELSE last_two[1] - last_two[2] END)
                                  / extract(epoch FROM last_two_ts[1] - last_two_ts[2]) END AS irate,
             resets::float8 AS resets, changes::float8 AS changes
        FROM per_series),
    plain AS (
      SELECT bucket, coalesce(s, 0) AS s,
             count(*)::float8 AS count, sum(value) AS sum, min(value) AS min, max(value) AS max, avg(value) AS avg,
             stddev_pop(value) AS stddev, var_pop(value) AS variance,
             CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts))[1] END AS first,
             CASE WHEN s IS NOT NULL THEN (array_agg(value ORDER BY ts DESC))[1] END AS last
        FROM t GROUP BY GROUPING SETS ((1, t.s), (1))),
    summed AS (
      -- A group's value is the sum over its series that give one.
      SELECT bucket, coalesce(s, 0) AS s, sum(delta) AS delta, sum(increase) AS increase, sum(rate) AS rate,
             sum(sample_delta) AS sample_delta, sum(sample_increase) AS sample_increase,
             sum(sample_rate) AS sample_rate, sum(irate) AS irate, sum(resets) AS resets, sum(changes) AS changes
        FROM counters GROUP BY GROUPING SETS ((1, counters.s), (1)))
    SELECT * FROM plain JOIN summed USING (bucket, s);
    FOREACH fn IN ARRAY fns LOOP
      FOREACH grouped IN ARRAY ARRAY[false, true] LOOP
        -- first/last: ties across series have no single answer.
        CONTINUE WHEN grouped AND fn IN ('first', 'last');
        CONTINUE WHEN fn = ANY (skip);
        EXECUTE format($q$
          WITH got AS (
            SELECT bucket, CASE WHEN $5 THEN 0 ELSE (tags ->> 's')::int END AS s, value
              FROM aegis.aggregate('{__name__=~"m[0-9]"}', $1, $2, $3, $4, CASE WHEN $5 THEN '{}'::text[] END)),
          want AS (SELECT bucket, s, %I AS value FROM expected WHERE (s = 0) = $5)
          SELECT count(*), count(*) FILTER (WHERE g.s IS NULL OR w.s IS NULL OR (g.value IS NULL) <> (w.value IS NULL) OR NOT (
                   CASE WHEN $1 IN ('count', 'min', 'max', 'first', 'last', 'resets', 'changes')
                        THEN float8send(g.value) = float8send(w.value)
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
    stage, cardinality(fns) - cardinality(skip);
END $$;
SELECT check_aggregates('before compress (blocks from batches, recent rows)');
