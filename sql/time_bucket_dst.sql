-- time_bucket in a time zone through daylight-saving changes (API.md section
-- 5): the results must equal TimescaleDB's.
--
-- 69,440 cases: 7 zones (both hemispheres, a 30-minute shift at Lord Howe, a
-- half-hour zone at St. John's, Kolkata without DST), the 2026 transitions of
-- each, timestamps every 10 minutes for 2.5 hours on both sides, 10 widths,
-- 2 origins, 4 offsets, and two session time zones (days in offsets follow
-- the session's). The digests below are TimescaleDB 2.28.0's results for
-- exactly these cases (time_bucket(width, ts, zone, origin, "offset"), md5
-- of the epochs in case order per group, test/data/time_bucket_timescaledb.sql),
-- taken from TimescaleDB built from its 2.28.0 source against this
-- PostgreSQL 15 with the same time zone data.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Instants where each zone's UTC offset changes in 2026 (Asia/Kolkata has
-- none: two ordinary instants stand in), and timestamps every 10 minutes
-- (plus 7 s) for 2.5 hours on both sides of each.
CREATE TEMP TABLE tz_zones (zone text PRIMARY KEY);
INSERT INTO tz_zones VALUES ('Europe/Berlin'), ('Europe/London'), ('America/New_York'), ('Australia/Sydney'),
  ('Australia/Lord_Howe'), ('America/St_Johns'), ('Asia/Kolkata');
CREATE TEMP TABLE tz_transitions AS
SELECT zone, t AS at
  FROM (SELECT z.zone, g.t,
               (g.t AT TIME ZONE z.zone) - (g.t AT TIME ZONE 'UTC') AS utc_offset,
               lag((g.t AT TIME ZONE z.zone) - (g.t AT TIME ZONE 'UTC')) OVER (PARTITION BY z.zone ORDER BY g.t) AS before
          FROM tz_zones z, generate_series('2026-01-01 00:00+00'::timestamptz, '2027-01-01 00:00+00', '15 minutes') g(t)) s
 WHERE utc_offset <> before
UNION ALL
SELECT 'Asia/Kolkata', t FROM (VALUES ('2026-03-29 01:00+00'::timestamptz), ('2026-10-25 01:00+00')) v(t);
CREATE TEMP TABLE tz_cases AS
SELECT row_number() OVER (ORDER BY s.tz, tr.zone, tr.at, k.k, w.i, o.i, f.i) AS id, s.tz AS session_tz, tr.zone,
       tr.at + k.k * interval '10 minutes' + CASE WHEN k.k % 3 = 0 THEN interval '7 s' ELSE interval '0' END AS ts,
       w.width, o.origin, f."offset"
  FROM tz_transitions tr,
       generate_series(-15, 15) k(k),
       (VALUES (1, '00:00:07'::interval), (2, '1 minute'), (3, '15 minutes'), (4, '1 hour'), (5, '90 minutes'),
               (6, '1 day'), (7, '1 day 3 hours'), (8, '7 days'), (9, '1 month'), (10, '3 months')) w(i, width),
       (VALUES (1, NULL::timestamptz), (2, '2026-01-01 00:45:00+00')) o(i, origin),
       (VALUES (1, NULL::interval), (2, '17 minutes'), (3, '-1 hour'), (4, '1 day 2 hours')) f(i, "offset"),
       (VALUES ('UTC'), ('America/New_York')) s(tz);

-- TimescaleDB's digests (not echoed: 1,120 rows).
SET timezone = 'UTC';
\getenv abs_srcdir PG_ABS_SRCDIR
\set digests :abs_srcdir '/test/data/time_bucket_timescaledb.sql'
\set ECHO none
\i :digests
\set ECHO all

CREATE TEMP TABLE results (id bigint, result timestamptz);
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT * FROM tz_cases ORDER BY id LOOP
    PERFORM set_config('timezone', c.session_tz, true);
    INSERT INTO results VALUES (c.id, aegis.time_bucket(c.width, c.ts, c.zone, c.origin, c."offset"));
  END LOOP;
END $$;
SET timezone = 'UTC';
CREATE TEMP TABLE digests AS
SELECT c.session_tz, c.zone, c.width, c.origin, c."offset", count(*) AS cases,
       md5(string_agg(extract(epoch FROM r.result)::text, ',' ORDER BY c.id)) AS digest
  FROM tz_cases c JOIN results r USING (id) GROUP BY 1, 2, 3, 4, 5;
SELECT count(*) AS groups, sum(t.cases) AS cases, count(*) FILTER (WHERE a.digest = t.digest) AS equal_to_timescaledb
  FROM timescaledb_digests t
  LEFT JOIN digests a ON a.session_tz = t.session_tz AND a.zone = t.zone AND a.width = t.width
       AND a.origin IS NOT DISTINCT FROM t.origin AND a."offset" IS NOT DISTINCT FROM t."offset";
-- Any group that differs (none).
SELECT t.session_tz, t.zone, t.width, t.origin, t."offset"
  FROM timescaledb_digests t
  LEFT JOIN digests a ON a.session_tz = t.session_tz AND a.zone = t.zone AND a.width = t.width
       AND a.origin IS NOT DISTINCT FROM t.origin AND a."offset" IS NOT DISTINCT FROM t."offset"
 WHERE a.digest IS DISTINCT FROM t.digest ORDER BY 1, 2, 3, 4, 5;

-- A bucket never starts after its timestamp, and (without an offset) holds
-- it: ts < the bucket's local start + width, back in the zone. The one
-- exception is TimescaleDB's too: an offset with a day part is taken off and
-- put back in the session time zone, and when a DST change of the session's
-- zone lies between the two, the start moves by that hour (186 cases here,
-- all with session time zone America/New_York and offset '1 day 2 hours').
SELECT c.session_tz <> 'UTC' AND coalesce(extract(day FROM c."offset"), 0) <> 0 AS day_offset_in_dst_session,
       count(*) FILTER (WHERE r.result > c.ts) AS starts_after_ts,
       count(*) FILTER (WHERE c."offset" IS NULL
                          AND NOT c.ts < ((r.result AT TIME ZONE c.zone) + c.width) AT TIME ZONE c.zone) AS not_holding_ts
  FROM tz_cases c JOIN results r USING (id) GROUP BY 1 ORDER BY 1;

-- The cases from the defect report, in the repeated hour of 2026-10-25 in
-- Berlin (00:30 UTC is 02:30 summer time).
SELECT w AS width, aegis.time_bucket(w, '2026-10-25 00:30:00+00', 'Europe/Berlin') AS bucket
  FROM unnest(ARRAY['1 minute', '1 hour', '00:00:07']::interval[]) w;
