-- Part of differential.sql: plain SQL over aegis.points (as Grafana, BI tools
-- and people write it) against the same question over truth. Each query runs
-- with the engine taking its conditions and aggregates (aegis.aggregate_pushdown
-- on) and with PostgreSQL aggregating the scan (off); both must equal truth.
-- Queries return (k text, v float8[]): values equal within 1e-9 relative
-- (sums are added in another order), NaN equal to NaN, NULL to NULL.

CREATE FUNCTION close_values(a float8[], b float8[]) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT a IS NOT NULL AND b IS NOT NULL AND cardinality(a) = cardinality(b) AND bool_and(
           (x IS NULL AND y IS NULL) OR (x = 'NaN' AND y = 'NaN')
           OR (x IS NOT NULL AND y IS NOT NULL AND abs(x - y) <= 1e-9 * greatest(1, abs(y))))
    FROM unnest(a, b) AS u (x, y)
$$;

CREATE FUNCTION check_points_sql(stage text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  c record;
  n bigint;
  bad bigint;
  mode text;
BEGIN
  FOR c IN SELECT * FROM (VALUES
    ('hourly per series, every engine aggregate',
     $q$SELECT metric || '|' || (tags ->> 's') || '|' || aegis.time_bucket('1 hour', ts) AS k,
               ARRAY[count(*), sum(value), min(value), max(value), avg(value), stddev_pop(value), var_samp(value),
                     aegis.first(value, ts), aegis.last(value, ts)]::float8[] AS v
          FROM aegis.points WHERE ts >= '2024-01-04 05:17+00' AND ts < '2024-01-09 19:03+00'
         GROUP BY metric, tags, aegis.time_bucket('1 hour', ts)$q$,
     $q$SELECT 'm' || (s % 3) || '|' || s || '|' || aegis.time_bucket('1 hour', ts) AS k,
               ARRAY[count(*), sum(value), min(value), max(value), avg(value), stddev_pop(value), var_samp(value),
                     (array_agg(value ORDER BY ts))[1], (array_agg(value ORDER BY ts DESC))[1]]::float8[] AS v
          FROM truth WHERE ts >= '2024-01-04 05:17+00' AND ts < '2024-01-09 19:03+00'
         GROUP BY s, aegis.time_bucket('1 hour', ts)$q$),
    ('daily date_trunc per metric',
     $q$SELECT metric || '|' || date_trunc('day', ts) AS k, ARRAY[count(*), max(value), min(value)]::float8[] AS v
          FROM aegis.points WHERE metric IN ('m0', 'm2') GROUP BY metric, date_trunc('day', ts)$q$,
     $q$SELECT 'm' || (s % 3) || '|' || date_trunc('day', ts) AS k, ARRAY[count(*), max(value), min(value)]::float8[] AS v
          FROM truth WHERE s % 3 IN (0, 2) GROUP BY s % 3, date_trunc('day', ts)$q$),
    ('a tag, a value condition, no bucket',
     $q$SELECT tags ->> 's' AS k, ARRAY[count(*), sum(value), max(value)]::float8[] AS v FROM aegis.points
         WHERE tags ->> 's' IN ('3', '57', '122') AND value > 250 AND ts < '2024-01-20+00' GROUP BY tags ->> 's'$q$,
     $q$SELECT s::text AS k, ARRAY[count(*), sum(value), max(value)]::float8[] AS v FROM truth
         WHERE s IN (3, 57, 122) AND value > 250 AND ts < '2024-01-20+00' GROUP BY s$q$),
    ('counter change per series and 6 hours',
     $q$SELECT metric || '|' || (tags ->> 's') || '|' || aegis.time_bucket('6 hours', ts) AS k,
               ARRAY[aegis.increase(value, ts), aegis.delta(value, ts), aegis.rate(value, ts)]::float8[] AS v
          FROM aegis.points WHERE metric = 'm1' AND ts >= '2024-01-02+00' AND ts < '2024-01-12+00'
         GROUP BY metric, tags, aegis.time_bucket('6 hours', ts)$q$,
     $q$SELECT 'm1|' || s || '|' || aegis.time_bucket('6 hours', ts) AS k,
               ARRAY[aegis.increase(value, ts), aegis.delta(value, ts), aegis.rate(value, ts)]::float8[] AS v
          FROM truth WHERE s % 3 = 1 AND ts >= '2024-01-02+00' AND ts < '2024-01-12+00'
         GROUP BY s, aegis.time_bucket('6 hours', ts)$q$),
    ('newest point per series (DISTINCT ON)',
     $q$SELECT DISTINCT ON (metric, tags) metric || '|' || (tags ->> 's') AS k, ARRAY[extract(epoch FROM ts), value] AS v
          FROM aegis.points WHERE ts < '2024-01-25+00' ORDER BY metric, tags, ts DESC$q$,
     $q$SELECT DISTINCT ON (s) 'm' || (s % 3) || '|' || s AS k, ARRAY[extract(epoch FROM ts), value] AS v
          FROM truth WHERE ts < '2024-01-25+00' ORDER BY s, ts DESC$q$),
    ('newest 25 points of one series (ORDER BY ts DESC LIMIT)',
     $q$SELECT (row_number() OVER ())::text AS k, ARRAY[extract(epoch FROM ts), value] AS v FROM (
          SELECT ts, value FROM aegis.points WHERE metric = 'm2' AND tags ->> 's' = '5' ORDER BY ts DESC LIMIT 25) p$q$,
     $q$SELECT (row_number() OVER ())::text AS k, ARRAY[extract(epoch FROM ts), value] AS v FROM (
          SELECT ts, value FROM truth WHERE s = 5 ORDER BY ts DESC LIMIT 25) p$q$),
    ('points of a few series in a range',
     $q$SELECT (tags ->> 's') || '|' || ts AS k, ARRAY[value] AS v FROM aegis.points
         WHERE tags @> '{"s": "7"}' OR (metric = 'm0' AND tags ->> 's' = '9')$q$,
     $q$SELECT s || '|' || ts AS k, ARRAY[value] AS v FROM truth WHERE s IN (7, 9)$q$)
  ) AS q (name, ours, want) LOOP
    EXECUTE format('CREATE TEMP TABLE want_rows AS %s', c.want);
    FOREACH mode IN ARRAY ARRAY['on', 'off'] LOOP
      PERFORM set_config('aegis.aggregate_pushdown', mode, true);
      EXECUTE format('CREATE TEMP TABLE got_rows AS %s', c.ours);
      PERFORM set_config('aegis.aggregate_pushdown', 'on', true);
      SELECT count(*), count(*) FILTER (WHERE g.k IS NULL OR w.k IS NULL OR NOT close_values(g.v, w.v))
        INTO n, bad FROM got_rows g FULL JOIN want_rows w USING (k);
      IF bad > 0 OR n = 0 THEN
        RAISE EXCEPTION '%: SQL over aegis.points (pushdown %) differs from truth for "%": % of % rows',
          stage, mode, c.name, bad, n;
      END IF;
      DROP TABLE got_rows;
    END LOOP;
    DROP TABLE want_rows;
    RAISE NOTICE 'ok - %: SQL over aegis.points, %: % rows equal to truth with and without pushdown', stage, c.name, n;
  END LOOP;
END $$;
