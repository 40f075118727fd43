-- time_bucket for date, timestamp (without time zone) and integer time, with
-- TimescaleDB's signatures and rules (docs/queries.md, "time_bucket").
CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamp) RETURNS timestamp
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_timestamp';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamp) IS
  'Start of the bucket of the given width holding ts, on the timestamp''s own clock (TimescaleDB''s rules; default origin Monday 2000-01-03, 2000-01-01 for month widths).';
CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamp, origin timestamp) RETURNS timestamp
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_timestamp';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamp, timestamp) IS
  'Start of the bucket of the given width holding ts, buckets aligned to origin.';
CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts timestamp, "offset" interval) RETURNS timestamp
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_timestamp_offset';
COMMENT ON FUNCTION aegis.time_bucket(interval, timestamp, interval) IS
  'Start of the bucket of the given width holding ts, buckets moved by offset.';
CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts date) RETURNS date
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_date';
COMMENT ON FUNCTION aegis.time_bucket(interval, date) IS
  'First day of the bucket of the given width (whole days, or months) holding the date.';
CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts date, origin date) RETURNS date
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_date';
COMMENT ON FUNCTION aegis.time_bucket(interval, date, date) IS
  'First day of the bucket of the given width holding the date, buckets aligned to origin.';
CREATE FUNCTION aegis.time_bucket(bucket_width interval, ts date, "offset" interval) RETURNS date
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_date_offset';
COMMENT ON FUNCTION aegis.time_bucket(interval, date, interval) IS
  'First day of the bucket of the given width holding the date, buckets moved by offset.';
CREATE FUNCTION aegis.time_bucket(bucket_width smallint, ts smallint) RETURNS smallint
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_int2';
COMMENT ON FUNCTION aegis.time_bucket(smallint, smallint) IS
  'ts floored to a multiple of bucket_width (integer time).';
CREATE FUNCTION aegis.time_bucket(bucket_width smallint, ts smallint, "offset" smallint) RETURNS smallint
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_int2';
COMMENT ON FUNCTION aegis.time_bucket(smallint, smallint, smallint) IS
  'ts - offset floored to a multiple of bucket_width, plus offset (integer time).';
CREATE FUNCTION aegis.time_bucket(bucket_width integer, ts integer) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_int4';
COMMENT ON FUNCTION aegis.time_bucket(integer, integer) IS
  'ts floored to a multiple of bucket_width (integer time).';
CREATE FUNCTION aegis.time_bucket(bucket_width integer, ts integer, "offset" integer) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_int4';
COMMENT ON FUNCTION aegis.time_bucket(integer, integer, integer) IS
  'ts - offset floored to a multiple of bucket_width, plus offset (integer time).';
CREATE FUNCTION aegis.time_bucket(bucket_width bigint, ts bigint) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_int8';
COMMENT ON FUNCTION aegis.time_bucket(bigint, bigint) IS
  'ts floored to a multiple of bucket_width (integer time).';
CREATE FUNCTION aegis.time_bucket(bucket_width bigint, ts bigint, "offset" bigint) RETURNS bigint
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_time_bucket_int8';
COMMENT ON FUNCTION aegis.time_bucket(bigint, bigint, bigint) IS
  'ts - offset floored to a multiple of bucket_width, plus offset (integer time).';
