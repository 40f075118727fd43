-- time_bucket: TimescaleDB's results for every overload (API.md section 5).
-- Expected values match TimescaleDB 2.x (its test/sql/timestamp.sql and the
-- documentation's examples).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';

-- Default origin: Monday 2000-01-03 for day/time widths.
SELECT ts, aegis.time_bucket('1 week', ts) AS week, aegis.time_bucket('1 day', ts) AS day,
       aegis.time_bucket('15 minutes', ts) AS quarter, aegis.time_bucket('7 seconds', ts) AS s7
  FROM unnest(ARRAY['2024-01-03 10:17:31.5+00', '2000-01-03 00:00:00+00', '2000-01-02 23:59:59.999999+00',
                    '1969-07-20 20:17:40+00', '1900-02-28 12:00:00+00']::timestamptz[]) ts;
-- Month and year widths: origin 2000-01-01, calendar months.
SELECT ts, aegis.time_bucket('1 month', ts) AS month, aegis.time_bucket('3 months', ts) AS quarter,
       aegis.time_bucket('1 year', ts) AS year, aegis.time_bucket('5 years', ts) AS lustrum
  FROM unnest(ARRAY['2024-02-29 23:59:59+00', '2000-01-01 00:00:00+00', '1999-12-31 23:59:59+00',
                    '1970-05-15 00:00:00+00']::timestamptz[]) ts;
-- Origin.
-- (An untyped literal in third place is read as a time zone, as in
-- TimescaleDB: say ::timestamptz for an origin.)
SELECT aegis.time_bucket('1 hour', '2024-01-01 10:17:00+00', '2000-01-01 00:30:00+00'::timestamptz) AS half_past,
       aegis.time_bucket('1 week', '2024-01-03 10:17:00+00', '2024-01-07 00:00:00+00'::timestamptz) AS sunday_weeks,
       aegis.time_bucket('1 day', '2024-01-03 10:17:00+00', '2030-01-01 06:00:00+00'::timestamptz) AS origin_after_ts,
       aegis.time_bucket('1 month', '2024-05-20 00:00:00+00', '2024-02-15 00:00:00+00'::timestamptz) AS month_origin;
-- Offset.
SELECT aegis.time_bucket('1 hour', '2024-01-01 10:17:00+00', '15 minutes'::interval) AS plus_15m,
       aegis.time_bucket('1 day', '2024-01-01 10:17:00+00', '-6 hours'::interval) AS minus_6h,
       aegis.time_bucket('1 month', '2024-01-01 10:17:00+00', '1 day'::interval) AS month_plus_day;
-- Time zones: buckets follow the zone's wall clock, across DST changes.
SELECT ts, aegis.time_bucket('1 day', ts, 'Europe/Berlin') AS berlin_day,
       aegis.time_bucket('1 hour', ts, 'Asia/Kolkata') AS kolkata_hour,
       aegis.time_bucket('1 month', ts, 'America/New_York') AS ny_month
  FROM unnest(ARRAY['2024-03-31 00:30:00+00', '2024-03-31 22:30:00+00', '2024-10-27 00:30:00+00',
                    '2024-01-01 03:00:00+00']::timestamptz[]) ts;
SELECT aegis.time_bucket('1 day', '2024-01-01 10:17:00+00', 'Europe/Berlin', '2000-01-01 06:00:00+00') AS tz_origin,
       aegis.time_bucket('1 day', '2024-01-01 10:17:00+00', 'Europe/Berlin', "offset" => '2 hours') AS tz_offset,
       aegis.time_bucket('1 day', '2024-01-01 10:17:00+00', 'Europe/Berlin', NULL, NULL) AS tz_nulls;
-- Infinities come back unchanged; NULLs give NULL.
SELECT aegis.time_bucket('1 hour', 'infinity'::timestamptz) AS inf,
       aegis.time_bucket('1 month', '-infinity'::timestamptz) AS minus_inf,
       aegis.time_bucket(NULL, now()) AS null_width,
       aegis.time_bucket('1 day', now(), NULL::text) AS null_zone;
-- Errors.
SELECT aegis.time_bucket('0 seconds', '2024-01-01'::timestamptz);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('-1 hour', '2024-01-01'::timestamptz);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('1 month 1 day', '2024-01-01'::timestamptz);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('1 day', '2024-01-01'::timestamptz, 'Mars/Olympus_Mons');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('1 year', '294276-12-31 00:00:00+00'::timestamptz, '-1 year'::interval);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The same as date_bin where both apply.
SELECT count(*) AS differs_from_date_bin
  FROM generate_series('2023-12-01'::timestamptz, '2024-02-01', '7 minutes 13 seconds') ts
 WHERE aegis.time_bucket('20 minutes', ts) <> date_bin('20 minutes', ts, '2000-01-03');

-- date, timestamp and integer time, with TimescaleDB's signatures and rules.
SELECT aegis.time_bucket('1 day', '2024-01-05 13:45:10'::timestamp) AS ts_day,
       aegis.time_bucket('15 minutes', '2024-01-05 13:45:10'::timestamp) AS ts_15m,
       aegis.time_bucket('1 month', '2024-01-05 13:45:10'::timestamp) AS ts_month,
       aegis.time_bucket('1 hour', '2024-01-05 13:45:10'::timestamp, '2024-01-01 00:20'::timestamp) AS ts_origin,
       aegis.time_bucket('1 day', '2024-01-05 13:45:10'::timestamp, '6 hours'::interval) AS ts_offset,
       aegis.time_bucket('1 hour', 'infinity'::timestamp) AS ts_infinite;
-- A plain timestamp buckets the same whatever the session's time zone.
SET timezone = 'America/New_York';
SELECT aegis.time_bucket('1 day', '2024-03-10 12:00'::timestamp) AS ny_day,
       aegis.time_bucket('1 day', '2024-03-10 12:00'::timestamp)
         = aegis.time_bucket('1 day', '2024-03-10 12:00'::timestamptz AT TIME ZONE 'UTC') AS utc_rules;
RESET timezone;
SELECT aegis.time_bucket('1 week', '2024-01-05'::date) AS week,     -- weeks from Monday 2000-01-03
       aegis.time_bucket('2 days', '2024-01-05'::date) AS two_days,
       aegis.time_bucket('3 months', '2024-05-20'::date) AS quarter,
       aegis.time_bucket('1 year', '2024-05-20'::date) AS year,
       aegis.time_bucket('10 days', '2024-01-05'::date, '2024-01-01'::date) AS from_origin,
       aegis.time_bucket('1 month', '2024-05-20'::date, '15 days'::interval) AS offset_month,
       aegis.time_bucket('1 day', 'infinity'::date) AS infinite;
SELECT aegis.time_bucket(10, 23) AS i4, aegis.time_bucket(10, -3) AS i4_negative, aegis.time_bucket(10, 23, 5) AS i4_offset,
       aegis.time_bucket(10::smallint, 32767::smallint) AS i2_max, aegis.time_bucket(1000::bigint, -1::bigint) AS i8,
       aegis.time_bucket(10::bigint, 23::bigint, -2::bigint) AS i8_offset;
-- What TimescaleDB refuses, refused the same way.
SELECT aegis.time_bucket('1 hour', '2024-01-05'::date);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('36 hours', '2024-01-05'::date);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('0 days', '2024-01-05'::date);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket(0, 5);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket(10::smallint, (-32768)::smallint);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.time_bucket('1 month 1 day', '2024-01-05'::timestamp);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
