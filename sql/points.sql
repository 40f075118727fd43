-- SQL over aegis.points (a foreign table of the extension's wrapper):
-- conditions on metric and tags are evaluated once per series (and narrow
-- the catalog query), conditions on ts become the read's time range, and
-- every other condition stays with PostgreSQL. Every answer must be the one
-- the same question gets from aegis.read.
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
SET timezone = 'UTC';
-- Blocks of at most 1,000 points, which this test's blocks were laid out
-- for (several blocks a series); blocks cut by size: lifecycle.sql.
SET aegis.block_max_points = 1000;

-- Three hosts of one metric, one of another; each host's points partly in
-- blocks, partly recent (late writes over the blocks, and newer points).
SELECT aegis.write('pt_cpu', jsonb_build_object('host', h, 'dc', CASE WHEN h = 'c' THEN 'east' ELSE 'west' END),
                   array_agg('2024-01-01'::timestamptz + i * interval '1 minute' ORDER BY i),
                   array_agg((i * 1.5 + ascii(h))::float8 ORDER BY i))
  FROM generate_series(0, 2999) i, unnest(ARRAY['a', 'b', 'c']) h GROUP BY h;
SELECT aegis.write('pt_mem', '{"host": "a"}', array_agg('2024-01-01'::timestamptz + i * interval '1 minute'),
                   array_agg(i::float8)) FROM generate_series(0, 2999) i;
SELECT aegis.write('pt_cpu', '{"host": "a", "dc": "west"}', '2024-01-01'::timestamptz + i * interval '1 minute', -i::float8)
  FROM generate_series(100, 104) i;
SELECT aegis.write('pt_cpu', '{"host": "b", "dc": "west"}', '2024-01-03'::timestamptz + i * interval '1 minute', i::float8)
  FROM generate_series(0, 9) i;
SELECT count(*) AS blocks FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric LIKE 'pt_%';
SELECT count(*) AS recent FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric LIKE 'pt_%';

SELECT aegis.write('pt_special', '{"host": "s"}', ARRAY['2024-01-01 00:00', '2024-01-01 00:01', '2024-01-01 00:02',
                   '2024-01-01 00:03', '2024-01-01 00:04', '2024-01-01 00:05']::timestamptz[],
                   ARRAY['NaN', 'Infinity', '-Infinity', '-0', '0', '4500']::float8[]);

SELECT aegis.write('pt_num', jsonb_build_object('v', v), '2024-01-01', 1) FROM unnest(ARRAY['1.0', '1.00']) v;

-- The reference: every point through aegis.read.
CREATE TEMP TABLE ref AS SELECT metric, tags, ts, value FROM aegis.read('{__name__=~"pt_.*"}');

-- Each query of this table is asked of aegis.points and of ref; both must
-- give the same rows (count and a digest).
CREATE TEMP TABLE cases (name text, cond text);
INSERT INTO cases VALUES
  ('metric =', $$metric = 'pt_cpu'$$),
  ('metric = and tag ->> =', $$metric = 'pt_cpu' AND tags ->> 'host' = 'b'$$),
  ('tag ->> = (reversed)', $$'a' = tags ->> 'host'$$),
  ('tags @>', $$tags @> '{"dc": "west"}'$$),
  ('tags @> and tag ->> =', $$tags @> '{"dc": "west"}' AND tags ->> 'host' = 'a'$$),
  ('two tags ->> =', $$tags ->> 'host' = 'c' AND tags ->> 'dc' = 'east'$$),
  ('clashing tags ->> =', $$tags ->> 'host' = 'a' AND tags ->> 'host' = 'b'$$),
  ('metric IN', $$metric IN ('pt_mem', 'pt_nothing')$$),
  ('metric = ANY (NULL)', $$metric = ANY (NULL::text[])$$),
  ('metric LIKE', $$metric LIKE 'pt\_m%'$$),
  ('metric pattern (decided once per run of one metric)', $$metric ~ '^pt_(cpu|num)$'$$),
  ('metric pattern and a tag', $$metric ~ '^pt_' AND tags ->> 'host' = 'a'$$),
  ('metric = NULL', $$metric = NULL$$),
  ('tag <> (a missing tag is not <>)', $$tags ->> 'dc' <> 'east'$$),
  ('tag IS NULL', $$tags ->> 'rack' IS NULL AND metric = 'pt_mem'$$),
  ('tag IN', $$tags ->> 'host' IN ('a', 'c')$$),
  ('OR of series conditions', $$(metric = 'pt_mem' OR tags ->> 'host' = 'b')$$),
  ('ts >= and <', $$ts >= '2024-01-01 01:00' AND ts < '2024-01-01 02:00'$$),
  ('ts > and <=', $$ts > '2024-01-01 01:00' AND ts <= '2024-01-01 02:00'$$),
  ('ts BETWEEN', $$ts BETWEEN '2024-01-01 01:40' AND '2024-01-01 01:45' AND tags ->> 'host' = 'a'$$),
  ('ts =', $$ts = '2024-01-01 01:41'$$),
  ('reversed ts bound', $$'2024-01-02 23:00' < ts$$),
  ('ts over infinity', $$ts <= 'infinity' AND ts > '-infinity'$$),
  ('ts > infinity', $$ts > 'infinity'$$),
  ('ts < -infinity', $$ts < '-infinity'$$),
  ('empty range', $$ts >= '2024-01-02' AND ts < '2024-01-01'$$),
  ('ts = NULL', $$ts = NULL$$),
  ('ts against a stable expression', $$ts >= '2024-01-03'::timestamptz - interval '1 day' + interval '23 hours'$$),
  ('value >', $$value > 4000 AND metric = 'pt_cpu'$$),
  ('value conditions, NaN above everything', $$value >= 4500$$),
  ('value = NaN', $$value = 'NaN'$$),
  ('value <> NaN', $$value <> 'NaN' AND metric = 'pt_special'$$),
  ('value = -0 is 0', $$value = 0 AND metric = 'pt_special'$$),
  ('value > NaN', $$value > 'NaN'$$),
  ('value >= NaN', $$value >= 'NaN'$$),
  ('value < NaN', $$value < 'NaN' AND metric = 'pt_special'$$),
  ('value <= NaN', $$value <= 'NaN' AND metric = 'pt_special'$$),
  ('three value conditions', $$value > 10 AND value <= 4000 AND value <> 100 AND metric <> 'pt_special'$$),
  ('value conditions with no overlap', $$value > 4000 AND value < 10$$),
  ('always true, then a condition', $$value <= 'NaN' AND value > 4490$$),
  ('a NaN operand after another condition', $$value > 4000 AND value >= 'NaN'$$),
  ('value > Infinity', $$value > 'Infinity'$$),
  ('value < -Infinity', $$value < '-Infinity'$$),
  ('value <= -Infinity', $$value <= '-Infinity'$$),
  ('reversed value condition', $$4490 < value$$),
  ('value = NULL', $$value = NULL$$),
  ('value against a parameter-like expression', $$value > (SELECT 4400)::float8 AND tags ->> 'host' = 'a'$$),
  ('OR of value conditions (PostgreSQL''s)', $$(value < 100 OR value > 4000) AND metric = 'pt_cpu'$$),
  ('mixed columns (PostgreSQL''s)', $$value > extract(epoch FROM ts - '2024-01-01') / 60 AND tags ->> 'host' = 'a'$$),
  ('date bound (PostgreSQL''s)', $$ts >= '2024-01-03'::date$$),
  ('everything', $$true$$);

-- Each is also asked newest first (ORDER BY ts DESC, read a time window at a
-- time from the newest back): the same rows, in non-increasing ts.
DO $$
DECLARE
    c record;
    got text;
    want text;
    newest text;
    plan text;
    ordered int := 0;
BEGIN
    FOR c IN SELECT * FROM cases LOOP
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(metric || tags::text || ts || '':'' || value, '','' '
                       'ORDER BY metric, tags::text, ts)), ''-'') FROM aegis.points WHERE %s', c.cond) INTO got;
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(metric || tags::text || ts || '':'' || value, '','' '
                       'ORDER BY metric, tags::text, ts)), ''-'') FROM ref WHERE %s', c.cond) INTO want;
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(metric || tags::text || ts || '':'' || value, '','' '
                       'ORDER BY metric, tags::text, ts)), ''-'') || '' '' || coalesce(bool_and(ok), true) '
                       'FROM (SELECT *, ts <= lag(ts, 1, ''infinity'') OVER (ORDER BY n) AS ok FROM '
                       '(SELECT *, row_number() OVER () AS n FROM (SELECT * FROM aegis.points WHERE %s '
                       'ORDER BY ts DESC LIMIT 1000000) a) b) c', c.cond) INTO newest;
        FOR plan IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT * FROM aegis.points WHERE %s ORDER BY ts DESC LIMIT 5', c.cond) LOOP
            IF plan LIKE '%Order: ts DESC%' THEN
                ordered := ordered + 1;
            END IF;
        END LOOP;
        RAISE NOTICE '%: % rows%', c.name, split_part(got, ' ', 1),
            CASE WHEN got = want THEN '' ELSE ', DIFFERS from aegis.read: ' || want END
            || CASE WHEN newest = want || ' true' THEN '' ELSE ', newest first DIFFERS: ' || newest END;
    END LOOP;
    RAISE NOTICE 'newest first by the engine for % of % conditions', ordered, (SELECT count(*) FROM cases);
END $$;
-- ... and oldest first (ORDER BY ts): one series' points as read, several
-- series' sorted inside the scan; no Sort node either way. The same rows, in
-- non-decreasing ts, also when the sort spills past a tiny work_mem.
DO $$
DECLARE
    c record;
    want text;
    oldest text;
    spilled text;
    query text;
    plan text;
    plans text;
    ordered int := 0;
    sorted int := 0;
BEGIN
    FOR c IN SELECT * FROM cases LOOP
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(metric || tags::text || ts || '':'' || value, '','' '
                       'ORDER BY metric, tags::text, ts)), ''-'') FROM ref WHERE %s', c.cond) INTO want;
        -- The rows' digest and whether each ts is at least the one before.
        query := format('SELECT count(*) || '' '' || coalesce(md5(string_agg(metric || tags::text || ts || '':'' || value, '','' '
                        'ORDER BY metric, tags::text, ts)), ''-'') || '' '' || coalesce(bool_and(ok), true) '
                        'FROM (SELECT *, ts >= lag(ts, 1, ''-infinity'') OVER (ORDER BY n) AS ok FROM '
                        '(SELECT *, row_number() OVER () AS n FROM (SELECT * FROM aegis.points WHERE %s '
                        'ORDER BY ts) a) b) c', c.cond);
        EXECUTE query INTO oldest;
        SET LOCAL work_mem = '64kB';
        EXECUTE query INTO spilled;
        RESET work_mem;
        plans := '';
        FOR plan IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT * FROM aegis.points WHERE %s ORDER BY ts', c.cond) LOOP
            plans := plans || plan || E'\n';
        END LOOP;
        IF plans LIKE '%Order: ts (one series%' THEN
            ordered := ordered + 1;
        END IF;
        IF plans LIKE '%Sort Key%' THEN
            sorted := sorted + 1;
            RAISE NOTICE '%: a Sort node', c.name;
        END IF;
        IF oldest <> want || ' true' OR spilled <> want || ' true' THEN
            RAISE NOTICE '%: oldest first DIFFERS: % / % (want %)', c.name, oldest, spilled, want;
        END IF;
    END LOOP;
    RAISE NOTICE 'oldest first by the engine for % of % conditions, % with a Sort node', ordered,
        (SELECT count(*) FROM cases), sorted;
END $$;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT ts, value FROM aegis.points
 WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' AND value > 4490 ORDER BY ts;
SELECT * FROM (SELECT tags ->> 'host' AS host, ts, value FROM aegis.points WHERE metric = 'pt_cpu' AND value > 4490
                ORDER BY ts LIMIT 4) f ORDER BY ts, host;
-- Rescanned with a parameter from the outer query: each scan sorts anew.
EXPLAIN (COSTS OFF) SELECT h, (SELECT count(*) FROM
             (SELECT ts, value FROM aegis.points p WHERE p.metric = 'pt_cpu' AND p.tags ->> 'host' <> h
               AND p.value > 4488 ORDER BY ts) f) AS in_order
  FROM unnest(ARRAY['a', 'b', 'c']) h;
SELECT h, (SELECT count(*) || ' points, in order: ' || bool_and(ok) || ', sum ' || sum(value) FROM
             (SELECT value, ts >= lag(ts, 1, '-infinity') OVER () AS ok FROM
               (SELECT ts, value FROM aegis.points p WHERE p.metric = 'pt_cpu' AND p.tags ->> 'host' <> h
                 AND p.value > 4488 ORDER BY ts) f) g) AS in_order
  FROM unnest(ARRAY['a', 'b', 'c']) h;
-- With a small LIMIT, a Sort node's bounded (top-N) sort is cheaper than
-- the scan's full one.
EXPLAIN (COSTS OFF) SELECT ts, value FROM aegis.points WHERE metric = 'pt_cpu' ORDER BY ts LIMIT 3;
SET aegis.aggregate_pushdown = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT ts, value FROM aegis.points
 WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' ORDER BY ts DESC LIMIT 3;
SELECT ts, value FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' ORDER BY ts DESC LIMIT 3;
SELECT ts, value FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' AND ts < '2024-01-01 01:45'
 ORDER BY ts DESC LIMIT 3;
RESET aegis.aggregate_pushdown;

-- EXPLAIN shows which conditions the engine took and which PostgreSQL keeps.
EXPLAIN (COSTS OFF) SELECT ts, value FROM aegis.points
 WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 02:00' AND value > 100;
EXPLAIN (COSTS OFF) SELECT * FROM aegis.points;
-- EXPLAIN ANALYZE: what the scan read (the aggregate computed by
-- PostgreSQL here). One series, one hour: one block of 1,000 points (none
-- of the hour's points is recent).
SET aegis.aggregate_pushdown = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM aegis.points
 WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'c' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 02:00';
-- The whole of host a: its three blocks and the recent rows over them.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM aegis.points
 WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a';
RESET aegis.aggregate_pushdown;

-- Parameters: a prepared statement with a generic plan evaluates its
-- bounds and series conditions each time it runs.
SET plan_cache_mode = force_generic_plan;
PREPARE q(text, timestamptz, timestamptz) AS
  SELECT count(*), sum(value) FROM aegis.points WHERE tags ->> 'host' = $1 AND ts >= $2 AND ts < $3;
EXECUTE q('a', '2024-01-01 01:00', '2024-01-01 02:00');
EXECUTE q('b', '2024-01-03', 'infinity');
EXECUTE q(NULL, '2024-01-01', '2024-01-02');
SELECT count(*), sum(value) FROM ref WHERE tags ->> 'host' = 'a' AND ts >= '2024-01-01 01:00' AND ts < '2024-01-01 02:00';
DEALLOCATE q;
RESET plan_cache_mode;

-- A scan run again with new parameters (the inner side of a nested loop).
SELECT h, (SELECT count(*) FROM aegis.points WHERE tags ->> 'host' = h AND ts < '2024-01-01 00:10') AS n
  FROM unnest(ARRAY['a', 'b', 'c', 'z']) h ORDER BY h;

-- Grafana-style panel query.
SELECT aegis.time_bucket('10 minutes', ts) AS time, tags ->> 'host' AS host, max(value)
  FROM aegis.points
 WHERE metric = 'pt_cpu' AND tags ->> 'host' IN ('a', 'b') AND ts >= '2024-01-01 01:35' AND ts < '2024-01-01 02:00'
 GROUP BY 1, 2 ORDER BY 1, 2;

-- DELETE with only series and time conditions is done by the engine, as
-- aegis.delete does it (every block rewritten once); with a value condition
-- or RETURNING it deletes the points its scan returns, one by one. Either
-- way the count is the points deleted.
EXPLAIN (COSTS OFF) DELETE FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'b' AND ts < '2024-01-01 00:05';
EXPLAIN (COSTS OFF) DELETE FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'b' AND value > 0;
DO $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'b' AND ts < '2024-01-01 00:05';
    GET DIAGNOSTICS n = ROW_COUNT;
    RAISE NOTICE 'direct DELETE: % points', n;
    WITH d AS (DELETE FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'b' AND ts < '2024-01-01 00:10')
    SELECT 1 INTO n;
    GET DIAGNOSTICS n = ROW_COUNT;
    RAISE NOTICE 'direct DELETE in a CTE: the statement counts % row (its SELECT''s)', n;
END $$;
SELECT count(*) AS left_before_0010 FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'b' AND ts < '2024-01-01 00:10';
-- The same conditions for one host's five minutes:
DELETE FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' AND ts >= '2024-01-01 01:40' AND ts < '2024-01-01 01:45';
SELECT count(*) FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'a' AND ts >= '2024-01-01 01:38' AND ts < '2024-01-01 01:47';
DELETE FROM aegis.points WHERE metric = 'pt_mem' AND value >= 2990 RETURNING ts, value;

-- Aggregates pushed down: GROUP BY one expression of ts (aegis.time_bucket,
-- date_trunc, date_bin, or any other, then evaluated per point) and any
-- expressions of metric and tags, with count, sum, min, max, avg, stddev and
-- variance (pop and samp), aegis.first and aegis.last, and where each group
-- is one series (GROUP BY metric, tags) aegis.rate, increase and delta, are
-- computed by the engine (from block and segment summaries where they answer). Each query
-- gives the rows PostgreSQL computes with aegis.aggregate_pushdown off (the
-- values are multiples of 0.5, so even sums are exact in any order).
CREATE COLLATION pt_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TEMP TABLE agg_cases (name text, q text);
INSERT INTO agg_cases VALUES
  ('10-minute buckets per host, every function', $$SELECT aegis.time_bucket('10 minutes', ts), tags ->> 'host',
     count(*), sum(value), min(value), max(value), avg(value), stddev_pop(value), var_pop(value),
     aegis.first(value, ts), aegis.last(value, ts) FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1, 2$$),
  ('hours cut by the range', $$SELECT aegis.time_bucket('1 hour', ts) AS h, metric, count(*), sum(value), max(value)
     FROM aegis.points WHERE ts >= '2024-01-01 00:37' AND ts < '2024-01-02 05:11' GROUP BY h, metric$$),
  ('per series, no bucket', $$SELECT metric, tags, count(*), sum(value), aegis.last(value, ts) FROM aegis.points GROUP BY 1, 2$$),
  ('no GROUP BY', $$SELECT count(*), sum(value), min(value), max(value), avg(value) FROM aegis.points$$),
  ('no GROUP BY, no point', $$SELECT count(*), sum(value), min(value), aegis.first(value, ts) FROM aegis.points WHERE metric = 'pt_none'$$),
  ('GROUP BY, no point', $$SELECT metric, count(*) FROM aegis.points WHERE ts > 'infinity' GROUP BY metric$$),
  ('count of columns', $$SELECT tags ->> 'dc', count(value), count(ts), count(metric), count(tags) FROM aegis.points GROUP BY 1$$),
  ('expressions over aggregates and keys', $$SELECT upper(tags ->> 'host') || '!', max(value) - min(value), count(*) * 2
     FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY tags ->> 'host'$$),
  ('a day bucket, recent rows inside', $$SELECT aegis.time_bucket('1 day', ts), tags, count(*), sum(value), min(value)
     FROM aegis.points WHERE tags ->> 'host' = 'a' GROUP BY 1, 2$$),
  ('a NULL width', $$SELECT aegis.time_bucket(NULL::interval, ts), count(*) FROM aegis.points GROUP BY 1$$),
  ('HAVING (PostgreSQL''s)', $$SELECT metric, count(*) FROM aegis.points GROUP BY metric HAVING count(*) > 3000$$),
  ('value condition', $$SELECT metric, count(*), max(value), sum(value) FROM aegis.points WHERE value > 100 GROUP BY metric$$),
  ('value conditions with NaN', $$SELECT tags, count(*), min(value), max(value) FROM aegis.points WHERE value >= 0 GROUP BY tags$$),
  ('counter aggregate (PostgreSQL''s)', $$SELECT tags ->> 'host', aegis.increase(value, ts) FROM aegis.points WHERE metric = 'pt_mem' GROUP BY 1$$),
  ('counter aggregates, one series per group', $$SELECT metric, tags, aegis.time_bucket('1 hour', ts), aegis.rate(value, ts),
     aegis.increase(value, ts), aegis.delta(value, ts), count(*) FROM aegis.points WHERE metric IN ('pt_cpu', 'pt_mem')
     GROUP BY 1, 2, 3$$),
  ('counter aggregates, one series per group, per-point buckets', $$SELECT tags, metric, date_trunc('hour', ts) + interval '1 minute',
     aegis.increase(value, ts), aegis.rate(value, ts) FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1, 2, 3$$),
  ('counter aggregates, one series per group, no bucket', $$SELECT metric, tags, aegis.increase(value, ts), aegis.delta(value, ts)
     FROM aegis.points GROUP BY metric, tags$$),
  ('counter aggregate with a window (PostgreSQL''s)', $$SELECT metric, tags, aegis.increase(value, ts, '2024-01-01', '2024-01-02')
     FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1, 2$$),
  ('numeric group key, equal values of other scales (PostgreSQL''s)', $$SELECT (tags ->> 'v')::numeric, count(*)
     FROM aegis.points WHERE metric = 'pt_num' GROUP BY 1$$),
  ('a collation that is not deterministic (PostgreSQL''s)', $$SELECT lower(metric), count(*) FROM aegis.points
     WHERE metric = 'PT_NUM' COLLATE pt_nocase GROUP BY 1$$),
  ('GROUP BY alone', $$SELECT aegis.time_bucket('1 hour', ts), metric FROM aegis.points GROUP BY 1, 2$$),
  ('grouped rows counted (the groups by the engine)', $$SELECT count(*) FROM (SELECT tags ->> 'host',
     aegis.time_bucket('1 hour', ts), avg(value) FROM aegis.points GROUP BY 1, 2) g$$),
  ('DISTINCT aggregate (PostgreSQL''s)', $$SELECT metric, count(DISTINCT tags) FROM aegis.points GROUP BY metric$$),
  ('sample stddev and variance (single-point groups give NULL)', $$SELECT tags, count(*), stddev(value),
     stddev_samp(value), variance(value), var_samp(value) FROM aegis.points GROUP BY tags$$),
  ('date_trunc per host, cut by the range', $$SELECT date_trunc('hour', ts), tags ->> 'host', count(*), sum(value),
     stddev_samp(value) FROM aegis.points WHERE metric = 'pt_cpu' AND ts >= '2024-01-01 07:31' GROUP BY 1, 2$$),
  ('date_bin with an origin before every point', $$SELECT date_bin('25 minutes', ts, '2023-12-31 23:53'), count(*),
     min(value), aegis.last(value, ts) FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1$$),
  ('date_bin with an origin among the points', $$SELECT date_bin('25 minutes', ts, '2024-01-02 00:10'), count(*),
     max(value) FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1$$),
  ('time_bucket with an origin', $$SELECT aegis.time_bucket('45 minutes', ts, '2024-01-01 00:20'::timestamptz),
     count(*), sum(value) FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1$$),
  ('time_bucket with an offset (per point)', $$SELECT aegis.time_bucket('1 day', ts, '6 hours'::interval), count(*),
     sum(value) FROM aegis.points GROUP BY 1$$),
  ('any expression of ts (per point)', $$SELECT date_trunc('hour', ts) + interval '30 minutes', metric, count(*)
     FROM aegis.points GROUP BY 1, 2$$),
  ('a timestamp without time zone key (per point)', $$SELECT date_trunc('day', ts AT TIME ZONE 'Asia/Tokyo'), count(*)
     FROM aegis.points GROUP BY 1$$),
  ('Grafana''s $__timeGroupAlias(ts, 10m)', $$SELECT floor(extract(epoch from ts)/600)*600 AS "time", tags ->> 'host', avg(value)
     FROM aegis.points WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-02T06:00:00Z' AND metric = 'pt_cpu' GROUP BY 1, 2$$),
  ('Grafana''s $__timeGroup(ts, 1.5s)', $$SELECT floor(extract(epoch from ts)/1.5)*1.5, count(*), max(value)
     FROM aegis.points WHERE metric = 'pt_special' GROUP BY 1$$),
  ('floor of epoch over n times another m (PostgreSQL''s)', $$SELECT floor(extract(epoch from ts)/60)*30, count(*)
     FROM aegis.points WHERE metric = 'pt_mem' GROUP BY 1$$),
  ('GROUP BY ts itself (PostgreSQL''s)', $$SELECT ts, count(*), max(value) FROM aegis.points WHERE metric = 'pt_mem' GROUP BY ts$$),
  ('GROUP BY ts cast (PostgreSQL''s)', $$SELECT ts::timestamp, count(*) FROM aegis.points WHERE metric = 'pt_mem' GROUP BY 1$$),
  ('a key that is NULL for some points (per point)', $$SELECT CASE WHEN ts < '2024-01-02' THEN date_trunc('day', ts) END,
     count(*), sum(value) FROM aegis.points WHERE metric = 'pt_mem' GROUP BY 1$$);

DO $$
DECLARE
    c record;
    pushed text;
    plain text;
    plan text;
BEGIN
    FOR c IN SELECT * FROM agg_cases LOOP
        EXECUTE format('EXPLAIN (COSTS OFF) %s', c.q) INTO plan;
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') FROM (%s) t', c.q) INTO pushed;
        SET LOCAL aegis.aggregate_pushdown = off;
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') FROM (%s) t', c.q) INTO plain;
        RESET aegis.aggregate_pushdown;
        RAISE NOTICE '%: % rows, %', c.name, split_part(pushed, ' ', 1),
            CASE WHEN plan LIKE 'Foreign Scan%' THEN 'by the engine' ELSE 'by PostgreSQL' END
            || CASE WHEN pushed = plain THEN '' ELSE ', DIFFERS from PostgreSQL''s: ' || plain END;
    END LOOP;
END $$;

-- DISTINCT ON (metric, tags) ... ORDER BY metric, tags, ts DESC: each
-- series' newest point, from aegis.last_points where it answers (no value
-- condition, the newest point inside the time range), else read newest first
-- until found. The same rows as PostgreSQL's DISTINCT ON over the scan.
CREATE TEMP TABLE distinct_cases (name text, q text);
INSERT INTO distinct_cases VALUES
  ('every series', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points ORDER BY metric, tags, ts DESC$$),
  ('tags first, expressions', $$SELECT DISTINCT ON (tags, metric) tags ->> 'host', ts, value * 2 FROM aegis.points
     ORDER BY tags, metric, ts DESC$$),
  ('an upper time bound inside the series', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points
     WHERE ts < '2024-01-02 12:00' ORDER BY metric, tags, ts DESC$$),
  ('a time range with no point of some series', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points
     WHERE ts >= '2024-01-02 23:00' ORDER BY metric, tags, ts DESC$$),
  ('value conditions', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points WHERE value < 1000 AND metric = 'pt_cpu'
     ORDER BY metric, tags, ts DESC$$),
  ('value conditions no point meets', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points WHERE value > 1e9
     ORDER BY metric, tags, ts DESC$$),
  ('tags that only look alike ("1.0", "1.00")', $$SELECT DISTINCT ON (metric, tags) metric, ts, value FROM aegis.points
     WHERE metric = 'pt_num' ORDER BY metric, tags, ts DESC$$),
  ('then more sort keys', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points ORDER BY metric, tags DESC, ts DESC, value$$),
  ('more sort keys, tags ascending', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points ORDER BY metric, tags, ts DESC, value$$),
  ('metrics descending', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points ORDER BY metric DESC, tags, ts DESC$$),
  ('tags of one host (metric key first)', $$SELECT DISTINCT ON (metric, tags) metric, ts FROM aegis.points
     WHERE tags @> '{"host": "a"}' ORDER BY metric, tags, ts DESC$$),
  ('one metric (its key dropped)', $$SELECT DISTINCT ON (metric, tags) tags, ts, value FROM aegis.points
     WHERE metric = 'pt_cpu' ORDER BY metric, tags, ts DESC$$),
  ('metrics of a list', $$SELECT DISTINCT ON (metric, tags) metric, tags, ts FROM aegis.points
     WHERE metric IN ('pt_cpu', 'pt_mem', 'pt_num') ORDER BY metric, tags, ts DESC$$),
  ('metrics of a pattern', $$SELECT DISTINCT ON (metric, tags) metric, tags, ts FROM aegis.points
     WHERE metric ~ '^pt_(cpu|num)$' ORDER BY metric, tags, ts DESC$$),
  ('oldest first (PostgreSQL''s)', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points ORDER BY metric, tags, ts$$),
  ('metrics equal under a collation (PostgreSQL''s)', $$SELECT DISTINCT ON (metric COLLATE pt_nocase, tags) lower(metric), ts, value
     FROM aegis.points WHERE lower(metric) = 'pt_case' ORDER BY metric COLLATE pt_nocase, tags, ts DESC$$),
  ('a system column (PostgreSQL''s)', $$SELECT DISTINCT ON (metric, tags) tableoid::regclass, metric, ts FROM aegis.points
     ORDER BY metric, tags, ts DESC$$),
  ('a condition PostgreSQL keeps (PostgreSQL''s)', $$SELECT DISTINCT ON (metric, tags) * FROM aegis.points
     WHERE value > extract(minute FROM ts) ORDER BY metric, tags, ts DESC$$);
SELECT aegis.write(m, '{"host": "a"}', '2024-01-01'::timestamptz + n * interval '1 minute', n)
  FROM (VALUES ('PT_CASE', 1), ('pt_case', 2)) v(m, n);
-- Besides the rows, their order: the rows as the query returns them
-- (numbered by row_number() OVER () in arrival order) must come in
-- PostgreSQL's order. Where the ORDER BY starts with metric, tags under the
-- default collation and operator classes, the engine returns the series in
-- that order (the catalog's (metric, tags) index) and PostgreSQL sorts
-- nothing ("in name order").
CREATE FUNCTION pt_check_distinct() RETURNS SETOF text LANGUAGE plpgsql AS $f$
DECLARE
    c record;
    pushed text;
    plain text;
    pushed_order text;
    plain_order text;
    plan text;
    engine boolean;
    sorted boolean;
    ordered text := 'SELECT coalesce(md5(string_agg(n || '':'' || r, '','' ORDER BY n)), ''-'') '
                    'FROM (SELECT row_number() OVER () AS n, t::text AS r FROM (%s) t) x';
BEGIN
    FOR c IN SELECT * FROM distinct_cases LOOP
        engine := false;
        sorted := false;
        FOR plan IN EXECUTE format('EXPLAIN (COSTS OFF) %s', c.q) LOOP
            engine := engine OR plan LIKE '%Engine Distinct%';
            sorted := sorted OR plan ~ '^ *(->  )?(Incremental )?Sort';
        END LOOP;
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') FROM (%s) t', c.q) INTO pushed;
        EXECUTE format(ordered, c.q) INTO pushed_order;
        SET LOCAL aegis.aggregate_pushdown = off;
        EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), ''-'') FROM (%s) t', c.q) INTO plain;
        EXECUTE format(ordered, c.q) INTO plain_order;
        SET LOCAL aegis.aggregate_pushdown = on;
        RETURN NEXT c.name || ': ' || split_part(pushed, ' ', 1) || ' rows, '
            || CASE WHEN engine THEN 'by the engine' ELSE 'by PostgreSQL' END
            || CASE WHEN engine AND NOT sorted THEN ' in name order' ELSE '' END
            || CASE WHEN pushed = plain THEN '' ELSE ', DIFFERS from PostgreSQL''s: ' || plain END
            || CASE WHEN pushed_order = plain_order THEN '' ELSE ', in ANOTHER ORDER than PostgreSQL''s' END;
    END LOOP;
END $f$;
SELECT * FROM pt_check_distinct();
-- A point this transaction wrote is the newest before aegis.last_points has
-- it (it is brought up to date at commit).
BEGIN;
SELECT aegis.write('pt_mem', '{"host": "a"}', '2024-01-05', 42);
SELECT * FROM pt_check_distinct() LIMIT 1;
SELECT DISTINCT ON (metric, tags) ts, value FROM aegis.points WHERE metric = 'pt_mem' ORDER BY metric, tags, ts DESC;
ROLLBACK;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT DISTINCT ON (metric, tags) metric, tags ->> 'host', ts, value
  FROM aegis.points WHERE metric = 'pt_cpu' AND ts < '2024-01-03 01:00' ORDER BY metric, tags, ts DESC;

-- Gap filling in plain SQL: GROUP BY aegis.time_bucket_gapfill(...) adds the
-- missing buckets of [start, finish) (NULL: the query's ts range) to every
-- group that has points; aegis.locf and aegis.interpolate fill them. The
-- same as aegis.aggregate's fill modes.
SELECT aegis.write('pt_gap', jsonb_build_object('host', h), array_agg('2024-01-01'::timestamptz + s * interval '10 minutes' ORDER BY s),
                   array_agg((s * 3 % 17)::float8 ORDER BY s))
  FROM (VALUES ('a', 0), ('a', 1), ('a', 20), ('a', 21), ('a', 40), ('b', 7), ('b', 30)) v(h, s) GROUP BY h;
SELECT aegis.time_bucket_gapfill('1 hour', ts) AS hour, tags ->> 'host' AS host, count(*), avg(value),
       aegis.locf(avg(value)) AS locf, aegis.interpolate(avg(value)) AS interpolate, aegis.locf(count(*)) AS locf_count
  FROM aegis.points WHERE metric = 'pt_gap' AND ts >= '2024-01-01' AND ts < '2024-01-01 08:00'
 GROUP BY 1, 2 ORDER BY 2, 1;
SELECT f.fill, (SELECT md5(string_agg(hour || host || coalesce(v::text, '-'), ',' ORDER BY host, hour)) FROM (
         SELECT aegis.time_bucket_gapfill('30 minutes', ts) AS hour, tags ->> 'host' AS host,
                CASE f.fill WHEN 'null' THEN max(value) WHEN 'previous' THEN aegis.locf(max(value))
                            ELSE aegis.interpolate(max(value)) END AS v
           FROM aegis.points WHERE metric = 'pt_gap' AND ts >= '2024-01-01 00:30' AND ts < '2024-01-01 07:30'
          GROUP BY 1, 2) q)
     = (SELECT md5(string_agg(bucket || (tags ->> 'host') || coalesce(value::text, '-'), ',' ORDER BY tags ->> 'host', bucket))
          FROM aegis.aggregate('pt_gap', 'max', '2024-01-01 00:30', '2024-01-01 07:30', '30 minutes', '{host}', f.fill))
       AS same_as_aggregate
  FROM (VALUES ('null'), ('previous'), ('linear')) f(fill);
-- start and finish given: points outside them keep their buckets.
SELECT aegis.time_bucket_gapfill('1 hour', ts, '2024-01-01 02:00', '2024-01-01 05:00') AS hour, max(value)
  FROM aegis.points WHERE metric = 'pt_gap' AND tags ->> 'host' = 'b' GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT aegis.time_bucket_gapfill('1 hour', ts) AS hour, aegis.locf(avg(value))
  FROM aegis.points WHERE metric = 'pt_gap' AND ts >= '2024-01-01' AND ts < '2024-01-02' GROUP BY 1;
-- Where the engine does not take the query, or the range is unknown, an error says why.
SELECT aegis.time_bucket_gapfill('1 hour', ts) AS hour, max(value) FROM aegis.points WHERE metric = 'pt_gap' GROUP BY 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.locf(max(value)) FROM aegis.points WHERE metric = 'pt_gap';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket_gapfill('1 hour', ts) AS hour, max(value) FROM aegis.points
 WHERE metric = 'pt_gap' AND ts >= '2024-01-01' AND ts < '2024-01-02' AND value > extract(hour FROM ts) GROUP BY 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.drop_metric('pt_gap');

-- date_trunc and date_bin in other time zones. date_trunc follows the
-- session's time zone: with a fixed offset from UTC the engine buckets by its
-- own arithmetic (and summaries); across daylight saving changes it asks
-- PostgreSQL per point (EXPLAIN ANALYZE counts the calls). A series every 30
-- minutes over the spring changes of America/New_York and Europe/Berlin.
SELECT aegis.write('pt_dst', '{"host": "d"}', array_agg('2024-03-08'::timestamptz + i * interval '30 minutes' ORDER BY i),
                   array_agg(i::float8 / 2 ORDER BY i)) FROM generate_series(0, 1199) i;
CREATE TEMP TABLE tz_cases (q text);
INSERT INTO tz_cases VALUES
  ($$SELECT date_trunc('day', ts), count(*), sum(value), max(value) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT date_trunc('hour', ts), count(*), min(value) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT date_trunc('week', ts), count(*), sum(value) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT date_trunc('month', ts), count(*), sum(value) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT date_trunc('Quarter', ts), count(*) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT date_trunc('day', ts, 'Europe/Berlin'), count(*), sum(value) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT date_bin('1 day', ts, '2024-03-09 05:00'), count(*), sum(value) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1$$),
  ($$SELECT aegis.time_bucket('1 day', ts, 'America/New_York'), count(*), sum(value) FROM aegis.points
     WHERE metric = 'pt_dst' GROUP BY 1$$);
DO $$
DECLARE
    zone text;
    c record;
    pushed text;
    plain text;
    plan text;
BEGIN
    FOREACH zone IN ARRAY ARRAY['UTC', '+05:30', 'Asia/Kolkata', 'America/New_York', 'Europe/Berlin'] LOOP
        PERFORM set_config('timezone', zone, true);
        FOR c IN SELECT * FROM tz_cases LOOP
            EXECUTE format('EXPLAIN (COSTS OFF) %s', c.q) INTO plan;
            EXECUTE format('SELECT count(*) || '' '' || md5(string_agg(t::text, '','' ORDER BY t::text)) FROM (%s) t', c.q) INTO pushed;
            SET LOCAL aegis.aggregate_pushdown = off;
            EXECUTE format('SELECT count(*) || '' '' || md5(string_agg(t::text, '','' ORDER BY t::text)) FROM (%s) t', c.q) INTO plain;
            SET LOCAL aegis.aggregate_pushdown = on;
            IF plan NOT LIKE 'Foreign Scan%' OR pushed <> plain THEN
                RAISE NOTICE '% in %: % rows, %, %', c.q, zone, split_part(pushed, ' ', 1),
                    CASE WHEN plan LIKE 'Foreign Scan%' THEN 'by the engine' ELSE 'by PostgreSQL' END,
                    CASE WHEN pushed = plain THEN 'same' ELSE 'DIFFERS from PostgreSQL''s: ' || plain END;
            END IF;
        END LOOP;
        RAISE NOTICE '%: % queries checked', zone, (SELECT count(*) FROM tz_cases);
    END LOOP;
END $$;
SET timezone = 'America/New_York';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT date_trunc('day', ts), count(*) FROM aegis.points
  WHERE metric = 'pt_dst' AND ts < '2024-03-12' GROUP BY 1;
SET timezone = '+05:30';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT date_trunc('day', ts), count(*) FROM aegis.points
  WHERE metric = 'pt_dst' AND ts < '2024-03-12' GROUP BY 1;
SET timezone = 'UTC';
-- What date_trunc and date_bin refuse, they refuse as PostgreSQL does.
SELECT date_trunc('fortnight', ts), count(*) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT date_bin('1 month', ts, '2024-01-01'), count(*) FROM aegis.points WHERE metric = 'pt_dst' GROUP BY 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.drop_metric('pt_dst');

-- EXPLAIN names the groups and aggregates the engine computes; ANALYZE
-- what it read: a one-minute series' blocks have a segment summary per day,
-- so its day buckets come from them, except where the range cuts.
EXPLAIN (COSTS OFF) SELECT aegis.time_bucket('1 hour', ts) AS h, tags ->> 'host' AS host, max(value)
  FROM aegis.points WHERE metric = 'pt_cpu' GROUP BY 1, 2 ORDER BY 1, 2;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT aegis.time_bucket('1 day', ts), count(*), max(value)
  FROM aegis.points WHERE metric = 'pt_cpu' AND tags ->> 'host' = 'c' AND ts < '2024-01-03'
 GROUP BY 1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*), sum(value) FROM aegis.points WHERE metric = 'pt_mem';

-- A width as a parameter of a generic plan.
SET plan_cache_mode = force_generic_plan;
PREPARE b(interval) AS SELECT aegis.time_bucket($1, ts) AS b, count(*) FROM aegis.points
  WHERE metric = 'pt_mem' AND ts < '2024-01-01 03:00' GROUP BY 1 ORDER BY 1;
EXECUTE b('1 hour');
EXECUTE b('90 minutes');
DEALLOCATE b;
RESET plan_cache_mode;
-- A width the engine refuses, as time_bucket does.
SELECT aegis.time_bucket('1 month 1 day', ts), count(*) FROM aegis.points GROUP BY 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- aegis.engine_stats sums what every backend's engine did since
-- aegis.reset_stats(); a backend adds its counts when its transaction ends
-- (the maintenance worker's reads count too, so only lower bounds of the
-- read counters are shown).
SELECT aegis.reset_stats() BETWEEN now() - interval '1 hour' AND clock_timestamp() AS reset;
SELECT points_written, queries FROM aegis.engine_stats;
SELECT aegis.write('pt_stats', '{}', array_agg('2024-01-01'::timestamptz + i * interval '1 s'), array_agg(i::float8))
  FROM generate_series(1, 100) i;
SELECT count(*) FROM aegis.points WHERE metric = 'pt_stats';
SELECT count(*) FROM aegis.aggregate('pt_stats', 'max', '-infinity', 'infinity', '10 s');
BEGIN;
SELECT aegis.write('pt_stats', '{}', '2024-01-02', 1);
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT aegis.write('pt_stats', '{}', '2024-01-03', 1);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT points_written, queries, points_scanned >= 200 AS scanned, recent_rows_read >= 200 AS recent, server_wide
  FROM aegis.engine_stats;
CREATE ROLE pt_nobody;
GRANT USAGE ON SCHEMA aegis TO pt_nobody;
SET ROLE pt_nobody;
SELECT points_written FROM aegis.engine_stats;  -- granted like the tables
SELECT aegis.reset_stats();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA aegis FROM pt_nobody;
DROP ROLE pt_nobody;

-- COPY FROM STDIN, text and CSV, is read by the engine: each distinct tag
-- text is parsed once, ISO timestamps by an exact parser of its own. Every
-- row must land as PostgreSQL's own COPY reads it into a table.
CREATE TEMP TABLE copy_ref (metric text, tags jsonb, ts timestamptz, value double precision);
-- The rows as written, loaded as text, then sent as a text file and as CSV.
CREATE TEMP TABLE copy_raw (metric text, tags text, ts text, value text);
COPY copy_raw FROM STDIN;
pt_copy	{"host": "a"}	2024-01-01 00:00:00+00	1
pt_copy	{"host":"a"}	2024-01-01T00:00:01Z	2
pt_copy	{"host": "a"}	2024-01-01 00:00:02.5+00	3.25
pt_copy	{"host": "a"}	2024-01-01 00:00:03.123456-05	-4
pt_copy	{"host": "a"}	2024-01-01 00:00:04+05:30	5e3
pt_copy	{"host": "a"}	2024-01-01 00:00:05+0530	NaN
pt_copy	{"host": "a"}	2024-02-29 12:00:00+00	Infinity
pt_copy	{"host": "a"}	2024-01-01 00:00:06	-Infinity
pt_copy	{"host": "a"}	Jan 1 2024 00:00:07 UTC	7
pt_copy	{"host": "a"}	2024-01-01 24:00:00+00	8
pt_copy	{"host": "a"}	2024-01-01 00:00:08.1234567+00	9
pt_copy	{"host": "a"}	1999-12-31 23:59:59.999999+00	10
pt_copy	{"host": "a"}	2024-01-01 00:00:09+15	11
pt_copy	{"host": "a"}	2024-01-01 00:00:10 +00	12
pt_copy	{"host": "a"}	1000-03-01 00:00:00+00	13
pt_copy	{"host": "a"}	2100-02-28 00:00:00-00:30	14
pt_copy	{"host": "b", "dc": "x\\ty"}	2024-01-01 00:00:00.000001+00	15
pt_copy	{"dc": "x\\ty", "host": "b"}	2024-01-01 00:00:00.000002+00	16
pt_copy	{"host": "a"}	0999-01-01 00:00:00+00	18
\.
\copy (SELECT * FROM copy_raw) TO '/tmp/aegis_regress_points.txt'
\copy (SELECT * FROM copy_raw) TO '/tmp/aegis_regress_points.csv' WITH (FORMAT csv)
SET timezone = 'America/New_York';
\copy copy_ref FROM '/tmp/aegis_regress_points.txt'
\copy aegis.points FROM '/tmp/aegis_regress_points.txt'
\copy aegis.points FROM '/tmp/aegis_regress_points.csv' WITH (FORMAT csv)
SELECT count(*) AS rows,
       (SELECT count(*) FROM (SELECT * FROM aegis.points WHERE metric = 'pt_copy' EXCEPT SELECT * FROM copy_ref) d) AS not_in_ref,
       (SELECT count(*) FROM (SELECT * FROM copy_ref EXCEPT SELECT * FROM aegis.points WHERE metric = 'pt_copy') d) AS missing
  FROM aegis.points WHERE metric = 'pt_copy';
SET timezone = 'UTC';
-- CSV with a header and the columns in another order.
COPY aegis.points (ts, value, metric, tags) FROM STDIN WITH (FORMAT csv, HEADER);
ts,value,metric,tags
2024-01-01 00:00:00+00,1.5,pt_csv,"{""host"": ""a""}"
2024-01-01 00:00:10+00,2.5,pt_csv,"{""host"": ""a""}"
2024-01-01 00:00:00+00,3.5,pt_csv,"{""host"": ""b""}"
\.
SELECT tags ->> 'host' AS host, ts, value FROM aegis.points WHERE metric = 'pt_csv' ORDER BY 1, 2;
-- CSV is read by the engine's own reader, with PostgreSQL's rules: quoted
-- fields holding delimiters and doubled quotes, a quoted empty
-- string (not NULL), CRLF line ends, other delimiters, quotes, escapes and
-- NULL strings. Each file is also loaded into a plain table by PostgreSQL's
-- COPY with the same options: the rows must be the same.
CREATE TEMP TABLE csv_ref (metric text, tags jsonb, ts timestamptz, value double precision);
\! printf 'pt_csv2,"{""host"": ""x,y""}",2024-01-01 00:00:00+00,1\n"pt_csv2","{""host"": ""line\\\\nbreak""}","2024-01-01 00:00:01+00","2.5"\npt_csv2,{},2024-01-01T00:00:02Z,-3e2\npt_csv2,"{""note"": """"}",2024-01-01 00:00:03+00,4\n' > /tmp/aegis_regress_csv1.csv
\! printf 'pt_csv3;%s{"host": "a;b"}%s;2024-01-01 00:00:00+00;1\r\npt_csv3;%s{"host": "it\\%ss"}%s;2024-01-01 00:00:01+00;NaN\r\n' "'" "'" "'" "'" "'" > /tmp/aegis_regress_csv2.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv1.csv' WITH (FORMAT csv)
\copy csv_ref FROM '/tmp/aegis_regress_csv1.csv' WITH (FORMAT csv)
\copy aegis.points FROM '/tmp/aegis_regress_csv2.csv' WITH (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\')
\copy csv_ref FROM '/tmp/aegis_regress_csv2.csv' WITH (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\')
SELECT metric, tags, ts, value FROM aegis.points WHERE metric IN ('pt_csv2', 'pt_csv3') ORDER BY metric, ts;
SELECT (SELECT count(*) FROM (SELECT * FROM aegis.points WHERE metric IN ('pt_csv2', 'pt_csv3') EXCEPT SELECT * FROM csv_ref) d) AS not_in_ref,
       (SELECT count(*) FROM (SELECT * FROM csv_ref EXCEPT SELECT * FROM aegis.points WHERE metric IN ('pt_csv2', 'pt_csv3')) d) AS missing;
-- Bad CSV fails the COPY, naming the line: an unquoted empty field is NULL,
-- a quote left open, a carriage return where lines end with a newline,
-- bytes that are not UTF-8.
COPY aegis.points FROM STDIN WITH (FORMAT csv);
pt_bad,{},2024-01-01 00:00:00+00,1
pt_bad,{},2024-01-01 00:00:01+00,
\.
COPY aegis.points FROM STDIN WITH (FORMAT csv, NULL 'NA');
pt_bad,{},2024-01-01 00:00:00+00,NA
\.
\! printf 'pt_bad,{},2024-01-01 00:00:00+00,1\npt_bad,"{}\n' > /tmp/aegis_regress_csv3.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv3.csv' WITH (FORMAT csv)
\! printf 'pt_bad,{},2024-01-01 00:00:00+00,1\npt_bad,{},2024-01-01 00:00:01+00,1\rpt_bad,{},2024-01-01 00:00:02+00,1\n' > /tmp/aegis_regress_csv4.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv4.csv' WITH (FORMAT csv)
\! printf 'pt_bad,{},2024-01-01 00:00:00+00,1\npt_bad,{},2024-01-01 00:00:01+00,1\npt_\377bad,{},2024-01-01 00:00:02+00,1\n' > /tmp/aegis_regress_csv5.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv5.csv' WITH (FORMAT csv)
SELECT count(*) AS pt_bad_points FROM aegis.points WHERE metric = 'pt_bad';
-- \. alone on a line ends the data; what follows is read and ignored, even
-- bytes that are not UTF-8. \. with another line end than the file's, or at
-- the end without one, is refused as PostgreSQL refuses it.
\! printf 'pt_end,{},2024-01-01 00:00:00+00,1\n\\.\n\377 ignored\n' > /tmp/aegis_regress_csv6.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv6.csv' WITH (FORMAT csv)
SELECT count(*) AS pt_end_points FROM aegis.points WHERE metric = 'pt_end';
\! printf 'pt_end,{},2024-01-01 00:00:01+00,1\n\\.\r\n' > /tmp/aegis_regress_csv7.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv7.csv' WITH (FORMAT csv)
\! printf 'pt_end,{},2024-01-01 00:00:01+00,1\n\\.' > /tmp/aegis_regress_csv8.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv8.csv' WITH (FORMAT csv)
\copy csv_ref FROM '/tmp/aegis_regress_csv7.csv' WITH (FORMAT csv)
\copy csv_ref FROM '/tmp/aegis_regress_csv8.csv' WITH (FORMAT csv)
SELECT count(*) AS pt_end_points FROM aegis.points WHERE metric = 'pt_end';
-- With carriage returns for line ends psql sends what follows \. too; a
-- byte that is not UTF-8 there is not read, as PostgreSQL reads only the
-- marker and its line end. A \. followed by another character is data.
\! printf 'pt_end2,{},2024-01-01 00:00:00+00,1\r\\.\r\377 not read\r' > /tmp/aegis_regress_csv9.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv9.csv' WITH (FORMAT csv)
\copy csv_ref FROM '/tmp/aegis_regress_csv9.csv' WITH (FORMAT csv)
\! printf 'pt_end2,{},2024-01-01 00:00:01+00,2\n\\.x,{},2024-01-01 00:00:02+00,3\n' > /tmp/aegis_regress_csv10.csv
\copy aegis.points FROM '/tmp/aegis_regress_csv10.csv' WITH (FORMAT csv)
\copy csv_ref FROM '/tmp/aegis_regress_csv10.csv' WITH (FORMAT csv)
SELECT metric, ts, value FROM aegis.points WHERE metric = 'pt_end2' ORDER BY ts;
SELECT metric, ts, value FROM csv_ref WHERE metric IN ('pt_end2', '\.x') ORDER BY ts;

-- Text format is read by the same reader with PostgreSQL 15's text rules:
-- backslash escapes (\t, \\, octal and hex bytes, any other character as it
-- is, an escaped line end as data), \N as NULL as written, HEADER, and \.
-- ending the data also inside a line (the line's data before it is the last
-- row). Each file also goes into a plain table by PostgreSQL's COPY.
CREATE TEMP TABLE text_ref (metric text, tags jsonb, ts timestamptz, value double precision);
\! printf 'pt_txt\t{"host": "a\\\\tb"}\t2024-01-01 00:00:00+00\t1\npt\\x5ftxt\t{"host": "\\303\\251"}\t2024-01-01\\04000:00:01+00\t\\x32.5\npt_t\\170t\t{"host": "back\\\\\\\\slash"}\t2024-01-01 00:00:02+00\t2\\e1\n' > /tmp/aegis_regress_text1.txt
\! printf 'metric\ttags\tts\tvalue\r\npt_txt2\t{}\t2024-01-01 00:00:00+00\t1\r\npt_txt2\t{}\t2024-01-01 00:00:01+00\t2\\.\r\nnot read\r\n' > /tmp/aegis_regress_text2.txt
\copy aegis.points FROM '/tmp/aegis_regress_text1.txt'
\copy text_ref FROM '/tmp/aegis_regress_text1.txt'
\copy aegis.points FROM '/tmp/aegis_regress_text2.txt' WITH (HEADER)
\copy text_ref FROM '/tmp/aegis_regress_text2.txt' WITH (HEADER)
-- What follows \. is not read, not even bytes that are not UTF-8 (psql sends
-- them: it stops only at a \. that starts a line).
\! printf 'pt_txt3\t{}\t2024-01-01 00:00:00+00\t1\\.\n\377 not read\n' > /tmp/aegis_regress_text8.txt
\copy aegis.points FROM '/tmp/aegis_regress_text8.txt'
\copy text_ref FROM '/tmp/aegis_regress_text8.txt'
SELECT metric, tags, ts, value FROM aegis.points WHERE metric LIKE 'pt_tx%' ORDER BY metric, ts;
SELECT (SELECT count(*) FROM (SELECT * FROM aegis.points WHERE metric LIKE 'pt_tx%' EXCEPT SELECT * FROM text_ref) d) AS not_in_ref,
       (SELECT count(*) FROM (SELECT * FROM text_ref EXCEPT SELECT * FROM aegis.points WHERE metric LIKE 'pt_tx%') d) AS missing;
-- Bad text fails the COPY as PostgreSQL's reader fails it: a literal
-- carriage return in newline-ended data, an end marker with something after
-- it or another line end, an escape making bytes that are not UTF-8, \N in a
-- column that takes no NULL.
\! printf 'pt_bad\t{}\t2024-01-01 00:00:00+00\t1\npt_bad\t{}\t2024-01-01 00:00:01+00\t1\rpt_bad\t{}\t2024-01-01 00:00:02+00\t1\n' > /tmp/aegis_regress_text3.txt
\copy aegis.points FROM '/tmp/aegis_regress_text3.txt'
\! printf 'pt_bad\t{}\t2024-01-01 00:00:00+00\t1\n\\.x\n' > /tmp/aegis_regress_text4.txt
\copy aegis.points FROM '/tmp/aegis_regress_text4.txt'
\! printf 'pt_bad\t{}\t2024-01-01 00:00:00+00\t1\r\n\\.\n' > /tmp/aegis_regress_text5.txt
\copy aegis.points FROM '/tmp/aegis_regress_text5.txt'
\! printf 'pt_bad\t{"host": "\\377"}\t2024-01-01 00:00:00+00\t1\n' > /tmp/aegis_regress_text6.txt
\copy aegis.points FROM '/tmp/aegis_regress_text6.txt'
\! printf 'pt_bad\t{}\t2024-01-01 00:00:00+00\t\\N\n' > /tmp/aegis_regress_text7.txt
\copy aegis.points FROM '/tmp/aegis_regress_text7.txt'
SELECT count(*) AS pt_bad_points FROM aegis.points WHERE metric = 'pt_bad';

-- A bad row fails the whole COPY, naming its line; nothing is written.
-- (psql keeps no SQLSTATE of a failed COPY: the messages show what was
-- wrong.)
COPY aegis.points FROM STDIN;
pt_bad	{"host": "a"}	2024-01-01 00:00:00+00	1
pt_bad	{"host": "a"}	2024-01-01 00:00:01+00	1	extra
\.
COPY aegis.points FROM STDIN;
pt_bad	{"host": "a"}	2024-01-01 00:00:00+00
\.
COPY aegis.points FROM STDIN;
pt_bad	\N	2024-01-01 00:00:00+00	1
\.
COPY aegis.points FROM STDIN;
pt_bad	{"host": "a"}	2023-02-29 00:00:00+00	1
\.
COPY aegis.points FROM STDIN;
pt_bad	{"host": "a"}	2024-01-01 00:00:00+00	one
\.
COPY aegis.points FROM STDIN;
pt_bad	{"host": 1}	2024-01-01 00:00:00+00	1
\.
COPY aegis.points FROM STDIN;
pt_bad	{"host": "a"	2024-01-01 00:00:00+00	1
\.
COPY aegis.points FROM STDIN;
pt bad	{"host": "a"}	2024-01-01 00:00:00+00	1
\.
COPY aegis.points FROM STDIN;
pt_bad	{"host": "a"}	infinity	1
\.
SELECT count(*) AS pt_bad_points FROM aegis.points WHERE metric = 'pt_bad';
-- COPY with WHERE takes PostgreSQL's path (the wrapper's row inserts).
COPY aegis.points FROM STDIN WHERE value > 1;
pt_where	{}	2024-01-01 00:00:00+00	1
pt_where	{}	2024-01-01 00:00:01+00	2
\.
SELECT ts, value FROM aegis.points WHERE metric = 'pt_where';

-- A condition with no column of aegis.points gates the aggregate too (a
-- generic plan of a parameter, false at run time).
SET plan_cache_mode = force_generic_plan;
PREPARE g(boolean) AS SELECT count(*) FROM aegis.points WHERE $1;
EXECUTE g(false);
EXECUTE g(true);
DEALLOCATE g;
RESET plan_cache_mode;
-- A time bound equal to a GROUP BY expression (which PostgreSQL's planner
-- would rewrite as a reference to the grouped column).
SELECT count(*) AS n FROM aegis.points WHERE ts >= date_trunc('day', now() - interval '100000 days')
 GROUP BY date_trunc('day', now() - interval '100000 days');
-- A role that may read aegis.points but not aegis.series gets an error.
CREATE ROLE pt_reader;
GRANT USAGE ON SCHEMA aegis TO pt_reader;
GRANT SELECT ON aegis.points TO pt_reader;
SET ROLE pt_reader;
SELECT count(*) FROM aegis.points WHERE metric = 'pt_cpu';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM (SELECT ts FROM aegis.points WHERE metric = 'pt_cpu' LIMIT 1) p;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE ALL ON aegis.points FROM pt_reader;
REVOKE USAGE ON SCHEMA aegis FROM pt_reader;
DROP ROLE pt_reader;
-- Another foreign table on the wrapper's server must have aegis.points'
-- columns.
CREATE FOREIGN TABLE pt_other (a int) SERVER aegis_points;
SELECT * FROM pt_other;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO pt_other VALUES (1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP FOREIGN TABLE pt_other;
-- COPY with FORCE_NULL takes PostgreSQL's path, which applies it.
COPY aegis.points FROM STDIN WITH (FORMAT csv, FORCE_NULL (value));
pt_force,{},2024-01-01 00:00:00+00,""
\.

-- What the wrapper does not do, it refuses clearly.
UPDATE aegis.points SET value = 0 WHERE metric = 'pt_cpu';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.points VALUES ('pt_cpu', NULL, '2024-01-01', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE


-- aegis.load: a wide table (a row per time, a column per metric) in one
-- statement; NULL metrics are no point, NULL tags are left out.
CREATE TABLE pt_wide (t timestamptz, host text, dc text, cpu float8, mem int, note text);
INSERT INTO pt_wide VALUES ('2024-01-01', 'a', 'x', 1.5, 10, 'n'), ('2024-01-01 00:01', 'a', NULL, NULL, 11, 'n'),
                           ('2024-01-01', 'b', 'y', 2.5, NULL, NULL);
SELECT aegis.load('pt_wide', 't', tag_columns => '{host,dc}', metric_prefix => 'pt_wide_') AS written;
SELECT metric, tags, ts, value FROM aegis.points WHERE metric LIKE 'pt\_wide\_%' ORDER BY metric, tags::text, ts;
SELECT aegis.load('pt_wide', 'nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.load('pt_wide', 'host');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.load('pt_wide', 't', '{note}', '{}', 'pt_wide_');  -- not a number: nothing is written
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS notes FROM aegis.points WHERE metric = 'pt_wide_note';
DROP TABLE pt_wide;

-- A series with more points in the range than the scan buffers (65,536) is
-- read a piece at a time, each piece ending after a block (blocks of 1,000
-- points here, the last at i = 999 of every thousand): every point once,
-- series after series, each in time order, the same as aegis.read. Late
-- rows in aegis.recent_points lie over points (newer wins), inside blocks,
-- between every two blocks and after the last one; series 4 ends with the
-- block that fills the buffer, then only recent rows are left.
-- pt_long_check gives the scan's rows out of order and the count and sum of
-- both over [since, until).
SELECT sum(w) AS written FROM (
  SELECT aegis.write('pt_long', jsonb_build_object('s', s::text),
                     array_agg('2024-01-01'::timestamptz + i * interval '1 s' ORDER BY i),
                     array_agg((i % 97)::float8 ORDER BY i)) AS w
    FROM generate_series(1, 4) s, generate_series(0, CASE s WHEN 4 THEN 65999 ELSE 69999 END) i GROUP BY s) x;
SELECT count(*) AS between_blocks FROM (
  SELECT aegis.write('pt_long', jsonb_build_object('s', s::text), '2024-01-01'::timestamptz + i * interval '1 s' + interval '0.5 s', -1)
    FROM generate_series(1, 3) s, generate_series(999, 69999, 1000) i) x;
SELECT aegis.write('pt_long', '{"s": "2"}', array_agg('2024-01-01'::timestamptz + i * interval '1 s' ORDER BY i),
                   array_agg(-2::float8 ORDER BY i)) AS over_points FROM generate_series(3, 69999, 1009) i;
SELECT aegis.write('pt_long', '{"s": "4"}', array_agg('2024-01-01'::timestamptz + i * interval '1 s' ORDER BY i),
                   array_agg(-3::float8 ORDER BY i)) AS after_the_last_block FROM generate_series(66000, 66009) i;
SELECT count(*) AS recent_rows FROM aegis.recent_points r JOIN aegis.series USING (series_id) WHERE metric = 'pt_long';
CREATE FUNCTION pt_long_check(since timestamptz, until timestamptz) RETURNS TABLE (out_of_order bigint, scan text, read text)
LANGUAGE sql AS $$
  SELECT count(*) FILTER (WHERE (prev_s, prev_ts) >= (tags ->> 's', ts)),
         count(*) || ' ' || sum(value), (SELECT count(*) || ' ' || sum(value) FROM aegis.read('pt_long', since, until))
    FROM (SELECT tags, ts, value, lag(tags ->> 's') OVER () AS prev_s, lag(ts) OVER () AS prev_ts
            FROM aegis.points WHERE metric = 'pt_long' AND ts >= since AND ts < until) p $$;
SELECT * FROM pt_long_check('-infinity', 'infinity');
SELECT * FROM pt_long_check('2024-01-01 03:00', 'infinity');
SELECT * FROM pt_long_check('-infinity', '2024-01-01 18:00');
-- The reads: each series in two pieces (series 4's second holds only its
-- recent rows after the block that filled the buffer), every block read
-- once, every recent row counted once.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT sum(value * 2) FROM aegis.points WHERE metric = 'pt_long';
-- Rescanned per series (a parameter from the outer query): the same sums.
SELECT s, (SELECT sum(value * 2) / 2 FROM aegis.points p WHERE p.metric = 'pt_long' AND p.tags ->> 's' = s::text) AS scan,
       (SELECT sum(value) FROM aegis.read('pt_long{s="' || s || '"}')) AS read
  FROM generate_series(1, 4) s;
DROP FUNCTION pt_long_check(timestamptz, timestamptz);

-- Hint values computed when the scan starts (jsonb_build_object is stable,
-- string_to_array immutable but over a setting) stay valid while the catalog
-- is read, however many series conditions run between the candidates.
SET aegis_test.metrics = 'pt_cpu,pt_none';
SELECT tags ->> 'host' AS host, count(*) FROM aegis.points
 WHERE tags @> jsonb_build_object('dc', 'west') AND tags ->> 'host' <> repeat('x', 40) GROUP BY 1 ORDER BY 1;
SELECT tags ->> 'host' AS host, count(*) FROM aegis.points
 WHERE metric = ANY (string_to_array(current_setting('aegis_test.metrics'), ','))
   AND tags ->> 'host' <> repeat('x', 40) GROUP BY 1 ORDER BY 1;
RESET aegis_test.metrics;

-- A value condition: blocks and segments whose summaries show that no value
-- meets it are not decoded. Three blocks of 1,000 points: values 10, then
-- 50, then 0 to 99 (one segment of them above 98 for each 100 points).
SET aegis.block_max_points = 1000;
SELECT aegis.write('pt_vals', '{}', ARRAY(SELECT '2024-03-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 2999) i),
                   ARRAY(SELECT CASE WHEN i < 1000 THEN 10 WHEN i < 2000 THEN 50 ELSE i % 100 END::float8
                           FROM generate_series(0, 2999) i));
SELECT count(*) AS blocks FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'pt_vals';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT ts, value FROM aegis.points WHERE metric = 'pt_vals' AND value > 98;
SELECT count(*), min(value), max(value), min(ts), max(ts) FROM aegis.points WHERE metric = 'pt_vals' AND value > 98;
SELECT count(*), sum(value) FROM aegis.points WHERE metric = 'pt_vals' AND value >= 50 AND value <= 50;
SELECT count(*) FROM aegis.points WHERE metric = 'pt_vals' AND value <> 10;
SELECT count(*) FROM aegis.points WHERE metric = 'pt_vals' AND value < 10;
SELECT count(*) FROM aegis.points WHERE metric = 'pt_vals' AND value = 'NaN';
-- NaN sorts above every number (float8's order): a block holding one is
-- not skipped for value > 98.
SELECT aegis.write('pt_vals', '{}', '2024-03-01 00:00:05'::timestamptz, 'NaN'::float8);
SELECT aegis.compress('0');
SELECT count(*), count(*) FILTER (WHERE value = 'NaN') AS nan FROM aegis.points WHERE metric = 'pt_vals' AND value > 98;
RESET aegis.block_max_points;

-- The planner integration knows the extension's functions by OID, looked up
-- once per session and again after pg_proc changes: with the extension made
-- again in this session, aegis.first and aegis.time_bucket are still taken
-- by the engine (with the old OIDs the aggregate would be PostgreSQL's).
EXPLAIN (COSTS OFF) SELECT aegis.time_bucket('1 hour', ts), aegis.first(value, ts) FROM aegis.points
 WHERE metric = 'pt_cpu' GROUP BY 1;
DROP EXTENSION aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
EXPLAIN (COSTS OFF) SELECT aegis.time_bucket('1 hour', ts), aegis.first(value, ts) FROM aegis.points
 WHERE metric = 'pt_cpu' GROUP BY 1;
