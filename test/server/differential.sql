-- Differential test: the same random points written through the extension
-- and into a plain table; aegis.read and aegis.aggregate must equal plain SQL
-- over the plain table, before and after compression.
\set ON_ERROR_STOP 1
\timing off
SET client_min_messages = warning;
-- Daily partitions, so that retention can drop some of the month's.
SET aegis.partition_interval = 'day';

-- 1.2 million writes over 120 series: timestamps out of order, many
-- (series, ts) written more than once (last write wins). The Citus tier runs
-- the test with fewer (psql -v writes=N: a multiple of 100, at least 210,000
-- so that the dense series below go in with the first half, and at most
-- 1,800,000, below the late writes' numbers); the shares of the write paths
-- stay the same.
\if :{?writes}
\else
\set writes 1200000
\endif
SELECT setseed(0.4242);
CREATE TABLE writes AS
SELECT w AS seq,
       1 + (w % 120) AS s,
       '2024-01-01'::timestamptz + (floor(random() * 30 * 86400))::int * interval '1 second' AS ts,
       CASE WHEN random() < 0.01 THEN -0.0 ELSE round((random() * 2000 - 1000)::numeric, 3)::float8 END AS value
  FROM generate_series(1, :writes) w;
-- Rewrites of earlier points with new values.
-- Six dense series (every 10 s for two days, two decimals): their blocks span
-- several hours and carry segment summaries (docs/block-format.md section 11),
-- which hourly and daily buckets read instead of decoding.
INSERT INTO writes
SELECT k + 1 AS seq, 121 + k % 6 AS s, '2024-01-03'::timestamptz + (k / 6) * interval '10 s' AS ts,
       round((50 + 30 * sin(k / 1800.0) + random())::numeric, 2)::float8 AS value
  FROM generate_series(0, 6 * 17280 - 1) k;
INSERT INTO writes
SELECT :writes + row_number() OVER (), s, ts, value + 0.5 FROM writes WHERE seq % 20 = 7;
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
SELECT write_range(0, :writes / 2);      -- ~5,000 per series: straight into blocks
INSERT INTO aegis.points SELECT 'm' || (s % 3), jsonb_build_object('s', s::text), ts, value
  FROM writes WHERE seq > :writes / 2 AND seq <= :writes / 20 * 11 ORDER BY seq;
SELECT write_range(:writes / 20 * 11 + k * (:writes / 100), :writes / 20 * 11 + (k + 1) * (:writes / 100))
  FROM generate_series(0, 44) k;  -- 100 per series
SELECT write_range(:writes, 2 * :writes);  -- rewrites: ~500 per series, into recent rows over blocks

CREATE VIEW ours AS
SELECT (tags ->> 's')::int AS s, ts, value FROM aegis.read('{__name__=~"m[0-9]"}');

-- aegis.latest (aegis.last_points, kept by every write and recomputed by
-- every removal) against the newest row of every series of truth.
CREATE FUNCTION check_latest(stage text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  bad bigint; n bigint;
BEGIN
  SELECT count(*), count(*) FILTER (WHERE l.s IS NULL OR t.s IS NULL OR l.ts <> t.ts
                                       OR float8send(l.value) <> float8send(t.value))
    INTO n, bad
    FROM (SELECT DISTINCT ON (s) s, ts, value FROM truth ORDER BY s, ts DESC) t
    FULL JOIN (SELECT (tags ->> 's')::int AS s, ts, value FROM aegis.latest('{__name__=~"m[0-9]"}')) l USING (s);
  IF bad <> 0 OR n = 0 THEN
    RAISE EXCEPTION '%: latest differs from the newest rows of the plain table for % of % series', stage, bad, n;
  END IF;
  RAISE NOTICE 'ok - %: aegis.latest equals the newest row of every series (% series)', stage, n;
END $$;

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
  PERFORM check_latest(stage);
  -- Reads look back at most a partition's longest span (aegis.block_spans)
  -- for blocks reaching into a range: no block may be longer. (A block lies
  -- in the partition whose range holds its ts_min. Written without tableoid,
  -- correlated subqueries or a regclass that crosses nodes, so that it runs
  -- on Citus too: partitions are told apart by their lower bound.)
  SELECT count(*) INTO missing
    FROM (SELECT p.lo, max((extract(epoch FROM b.ts_max - b.ts_min) * 1000000)::bigint) AS longest
            FROM aegis.blocks b JOIN aegis.block_partitions p ON b.ts_min >= p.lo AND b.ts_min < p.hi
           GROUP BY p.lo) t
    LEFT JOIN (SELECT p.lo, max(s.max_span) AS max_span
                 FROM aegis.block_spans s JOIN aegis.block_partitions p USING (partition) GROUP BY p.lo) s
      USING (lo)
   WHERE t.longest > coalesce(s.max_span, -1);
  IF missing <> 0 THEN
    RAISE EXCEPTION '%: % partitions hold a block longer than aegis.block_spans says', stage, missing;
  END IF;
  RAISE NOTICE 'ok - %: aegis.block_spans covers every partition''s longest block', stage;
END $$;

SET client_min_messages = notice;
SELECT check_points('before compress (blocks from batches, recent rows)');
\i test/server/differential_aggregate.sql
\i test/server/differential_points.sql
SELECT check_points_sql('before compress (blocks from batches, recent rows)');
SELECT aegis.compress('0');
SELECT check_points('after compress');
DO $$
DECLARE
  n bigint;
BEGIN
  SELECT count(*) INTO n FROM aegis.blocks b JOIN aegis.series s USING (series_id)
   WHERE s.tags ->> 's' IN ('121', '122', '123', '124', '125', '126') AND b.segments IS NOT NULL;
  IF n < 6 * 17 THEN
    RAISE EXCEPTION 'the dense series have % blocks with segment summaries; expected at least %', n, 6 * 17;
  END IF;
  RAISE NOTICE 'ok - the dense series'' blocks carry segment summaries (% blocks)', n;
END $$;
SELECT check_aggregates('after compress');
SELECT check_points_sql('after compress');

-------------------------------------------------------------------------------
-- Lifecycle (issue 9): deletes at point granularity, late writes into
-- compressed ranges, merging, retention by trimming and by dropping whole
-- partitions, and a maintenance round; the plain table gets the same change
-- each time, and read and aggregate must still equal it.
-------------------------------------------------------------------------------
-- Deletes: a range of a few series (inside blocks), a whole day of one
-- metric; aegis.delete's count must equal the plain table's.
CREATE FUNCTION check_delete(selector text, series_filter text, since timestamptz, until timestamptz)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  got bigint; want bigint;
BEGIN
  got := aegis.delete(selector, since, until);
  EXECUTE format('DELETE FROM truth WHERE %s AND ts >= $1 AND ts < $2', series_filter) USING since, until;
  GET DIAGNOSTICS want = ROW_COUNT;
  IF got <> want THEN
    RAISE EXCEPTION 'aegis.delete(%, %, %) removed % points, the plain table %', selector, since, until, got, want;
  END IF;
  RAISE NOTICE 'ok - aegis.delete(%) removed % points, as the plain table', selector, got;
END $$;
SELECT check_delete('m1{s=~"1|4|7|10"}', 's IN (1, 4, 7, 10)', '2024-01-04 03:00+00', '2024-01-06 17:30+00');
SELECT check_delete('m2', 's % 3 = 2', '2024-01-20 00:00+00', '2024-01-21 00:00+00');
SELECT check_points('after deletes');

-- Late writes into compressed ranges: new values for existing points and
-- new timestamps, small batches (recent rows) and large ones (into blocks).
CREATE TABLE late AS
SELECT 2000000 + w AS seq, 1 + (w % 120) AS s,
       '2024-01-01'::timestamptz + (floor(random() * 30 * 86400))::int * interval '1 second' AS ts,
       round((random() * 10)::numeric, 2)::float8 AS value
  FROM generate_series(1, 130000) w;
INSERT INTO writes SELECT * FROM late;
SELECT write_range(2000000, 2010000);   -- ~80 per series: recent rows inside compressed ranges
SELECT write_range(2010000, 2130000);   -- ~1,000 per series: merged straight into blocks
DELETE FROM truth t USING late l WHERE t.s = l.s AND t.ts = l.ts;
INSERT INTO truth SELECT DISTINCT ON (s, ts) s, ts, value FROM late ORDER BY s, ts, seq DESC;
SELECT check_points('after late writes into compressed ranges');
SELECT aegis.merge_blocks() >= 0 AS merged;
SELECT aegis.compress('0') >= 0 AS compressed;
SELECT check_points('after merge and compress');
SELECT check_aggregates('after deletes, late writes, merge and compress');

-- Retention: metric m0 keeps points from 2024-01-10 (its blocks are
-- trimmed; other metrics keep everything, so no partition may go), then
-- every metric keeps points from 2024-01-05 (the partitions before it go
-- whole).
BEGIN;
SELECT aegis.set_retention('m0', now() - timestamptz '2024-01-10 00:00+00');
SELECT aegis.apply_retention() AS removed_m0;
COMMIT;
DELETE FROM truth WHERE s % 3 = 0 AND ts < '2024-01-10 00:00+00';
SELECT check_points('after retention of one metric (rows trimmed)');
BEGIN;
SELECT aegis.set_retention('m' || m, now() - timestamptz '2024-01-05 00:00+00') FROM generate_series(0, 2) m;
SELECT aegis.apply_retention() AS removed_all;
COMMIT;
DELETE FROM truth WHERE ts < '2024-01-05 00:00+00';
SELECT check_points('after retention of every metric (partitions dropped)');
DO $$
BEGIN
  IF EXISTS (SELECT FROM aegis.block_partitions WHERE hi <= '2024-01-05 00:00+00') THEN
    RAISE EXCEPTION 'a partition wholly before the cutoff is left';
  END IF;
  RAISE NOTICE 'ok - no partition wholly before the cutoff is left';
END $$;
-- A retention cutoff moves with now(): a day's slack keeps a later round
-- (this one, or the background worker's) from trimming the points the
-- seconds since then have aged past 2024-01-05.
SELECT aegis.set_retention('m' || m, now() - timestamptz '2024-01-04 00:00+00') FROM generate_series(0, 2) m;
SELECT count(*) > 0 AS maintained FROM aegis.run_maintenance();
SELECT check_points('after a maintenance round');
SELECT check_aggregates('after retention and a maintenance round');
SELECT check_points_sql('after retention and a maintenance round');

-------------------------------------------------------------------------------
-- Roll-up (issue 9): m1 rolled into 10-minute steps before 2024-01-20 and
-- hourly ones before 2024-01-12, m2 into 30-minute steps before 2024-01-15
-- (the cutoffs are now() minus an `after`, in the transaction that applies
-- them); m0 stays raw. Aggregates over ranges aligned to the steps span raw
-- and rolled-up data and must still equal plain SQL over every point.
BEGIN;
SELECT aegis.set_downsampling('m1', jsonb_build_array(
         jsonb_build_object('after', (now() - timestamptz '2024-01-20 00:00+00')::text, 'step', '10 minutes'),
         jsonb_build_object('after', (now() - timestamptz '2024-01-12 00:00+00')::text, 'step', '1 hour')));
SELECT aegis.set_downsampling('m2', jsonb_build_array(
         jsonb_build_object('after', (now() - timestamptz '2024-01-15 00:00+00')::text, 'step', '30 minutes')));
SELECT aegis.apply_downsampling() > 0 AS rolled_up;
COMMIT;
DO $$
DECLARE
  raw_ours bigint; raw_truth bigint; steps_left bigint;
BEGIN
  SELECT count(*) INTO raw_ours FROM ours;
  SELECT count(*) INTO raw_truth FROM truth
   WHERE NOT ((s % 3 = 1 AND ts < '2024-01-20 00:00+00') OR (s % 3 = 2 AND ts < '2024-01-15 00:00+00'));
  -- Blocks that hold a cutoff keep their points until half their span is
  -- older: up to one block of raw points per series may remain.
  IF raw_ours < raw_truth OR raw_ours > raw_truth + 80 * 1000 THEN
    RAISE EXCEPTION 'after roll-up aegis.read returns % points; % newer than the cutoffs', raw_ours, raw_truth;
  END IF;
  SELECT count(*) INTO steps_left FROM aegis.rollups u JOIN aegis.series s USING (series_id)
   WHERE s.metric = 'm1' AND u.ts_min < '2024-01-12 00:00+00' AND u.step <> interval '1 hour';
  IF steps_left <> 0 THEN
    RAISE EXCEPTION '% rollup blocks of m1 older than its second tier are not hourly', steps_left;
  END IF;
  RAISE NOTICE 'ok - after roll-up: % raw points left (% newer than the cutoffs), every older m1 step hourly',
    raw_ours, raw_truth;
END $$;
SELECT check_latest('after roll-up');
-- irate, resets and changes refuse rolled-up data (a step keeps neither its
-- last two points nor its drops or changes; sql/rollup.sql checks the error).
SELECT check_aggregates('after roll-up (raw and rolled-up data)', '2024-01-06 00:00+00', '2024-01-27 00:00+00',
                        '{irate,resets,changes}');
-- Late writes into the rolled-up ranges count at once and are folded in by
-- the next round; the plain table gets the same (new timestamps only: a
-- rolled-up point cannot be overwritten). A step does not keep the order of
-- its points, so a counter step with a late point inside is approximate:
-- the functions that count drops (increase, rate and their sample_ forms)
-- are not compared here.
CREATE TABLE late_rolled AS
SELECT s, '2024-01-08 00:00+00'::timestamptz + (g * 7919 % 864000) * interval '1 second' + interval '0.5 seconds' AS ts,
       round((random() * 100)::numeric, 2)::float8 AS value
  FROM generate_series(1, 120) s, generate_series(1, 50) g;
SELECT sum(aegis.write('m' || (s % 3), jsonb_build_object('s', s::text), tss, vals)) >= 0 AS late_written
  FROM (SELECT s, array_agg(ts ORDER BY ts) AS tss, array_agg(value ORDER BY ts) AS vals FROM late_rolled GROUP BY s) b;
INSERT INTO truth SELECT s, ts, value FROM late_rolled;
SELECT check_aggregates('late writes into rolled-up ranges, before the next round', '2024-01-06 00:00+00',
                        '2024-01-27 00:00+00', '{increase,rate,sample_increase,sample_rate,irate,resets,changes}');
SELECT aegis.apply_downsampling() >= 0 AS folded;
SELECT check_aggregates('late writes folded into the steps', '2024-01-06 00:00+00', '2024-01-27 00:00+00',
                        '{increase,rate,sample_increase,sample_rate,irate,resets,changes}');
