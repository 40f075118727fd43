-- Differential test: the same random points written through the extension
-- and into a plain table; aegis.read and aegis.aggregate must equal plain SQL
-- over the plain table, before and after compression.
\set ON_ERROR_STOP 1
\timing off
SET client_min_messages = warning;

-- 1.2 million writes over 120 series: timestamps out of order, many
-- (series, ts) written more than once (last write wins).
SELECT setseed(0.4242);
CREATE TABLE writes AS
SELECT w AS seq,
       1 + (w % 120) AS s,
       '2024-01-01'::timestamptz + (floor(random() * 30 * 86400))::int * interval '1 second' AS ts,
       CASE WHEN random() < 0.01 THEN -0.0 ELSE round((random() * 2000 - 1000)::numeric, 3)::float8 END AS value
  FROM generate_series(1, 1200000) w;
-- Rewrites of earlier points with new values.
INSERT INTO writes
SELECT 1200000 + row_number() OVER (), s, ts, value + 0.5 FROM writes WHERE seq % 20 = 7;
CREATE INDEX ON writes (seq);
ANALYZE writes;

-- The plain table: the last write of every (series, ts).
CREATE TABLE truth AS
SELECT DISTINCT ON (s, ts) s, ts, value FROM writes ORDER BY s, ts, seq DESC;
CREATE INDEX ON truth (s, ts);
ANALYZE truth;

-- Through the extension, in write order: most points in batches (large
-- batches go straight into blocks), some through INSERT into aegis.points.
SET aegis.block_max_points = 1000;
CREATE FUNCTION write_range(lo bigint, hi bigint) RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(aegis.write('m' || (s % 3), jsonb_build_object('s', s::text), tss, vals))::bigint
    FROM (SELECT s, array_agg(ts ORDER BY seq) AS tss, array_agg(value ORDER BY seq) AS vals
            FROM writes WHERE seq > lo AND seq <= hi GROUP BY s) b
$$;
-- Before any compress(): blocks from the large batches, recent rows from
-- INSERT and small batches, many of them overlaying block time ranges.
SELECT write_range(0, 600000);           -- ~5,000 per series: straight into blocks
INSERT INTO aegis.points SELECT 'm' || (s % 3), jsonb_build_object('s', s::text), ts, value
  FROM writes WHERE seq > 600000 AND seq <= 660000 ORDER BY seq;
SELECT write_range(660000 + k * 12000, 672000 + k * 12000) FROM generate_series(0, 44) k;  -- 100 per series
SELECT write_range(1200000, 1260000);     -- rewrites: ~500 per series, into recent rows over blocks

CREATE VIEW ours AS
SELECT (tags ->> 's')::int AS s, ts, value FROM aegis.read('{__name__=~"m[0-9]"}');

-- Compares ours with truth exactly (bit patterns of the values).
CREATE FUNCTION check_points(stage text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  missing bigint; extra bigint; n_ours bigint; n_truth bigint;
BEGIN
  SELECT count(*) INTO n_ours FROM ours;
  SELECT count(*) INTO n_truth FROM truth;
  SELECT count(*) INTO missing FROM (SELECT s, ts, float8send(value) FROM truth
                                     EXCEPT SELECT s, ts, float8send(value) FROM ours) d;
  SELECT count(*) INTO extra FROM (SELECT s, ts, float8send(value) FROM ours
                                   EXCEPT SELECT s, ts, float8send(value) FROM truth) d;
  IF missing <> 0 OR extra <> 0 OR n_ours <> n_truth THEN
    RAISE EXCEPTION '%: read differs from the plain table: % points vs %, % missing, % extra',
      stage, n_ours, n_truth, missing, extra;
  END IF;
  RAISE NOTICE 'ok - %: aegis.read equals the plain table (% points)', stage, n_ours;
END $$;

SET client_min_messages = notice;
SELECT check_points('before compress (blocks from batches, recent rows)');
\i test/server/differential_aggregate.sql
SELECT aegis.compress('0');
SELECT check_points('after compress');
SELECT check_aggregates('after compress');
