-- aegis_timeseries: packed batches (docs/architecture.md, "Packed batches").
--
-- A write statement of many series, each with few points (a Prometheus
-- remote-write request: one sample of each of thousands of series), is kept
-- as one row here instead of a row per point (aegis.packed_write_series).
-- Reads lay the batches over recent rows and blocks, a later batch winning;
-- aegis.compress() and every maintenance that rewrites points merge them
-- into blocks first and delete them. The engine alone reads and writes the
-- table, as its owner: row-level security with no policy keeps every other
-- role out of it, since a batch holds points of many series.
CREATE SEQUENCE aegis.packed_batch_seq;
CREATE TABLE aegis.packed_points (
    batch_id  bigint PRIMARY KEY DEFAULT nextval('aegis.packed_batch_seq'),
    series_lo bigint NOT NULL,
    series_hi bigint NOT NULL,
    ts_lo     timestamptz NOT NULL,
    ts_hi     timestamptz NOT NULL,
    points    integer NOT NULL,
    data      bytea NOT NULL
);
ALTER SEQUENCE aegis.packed_batch_seq OWNED BY aegis.packed_points.batch_id;
-- The batch is read whole and is not worth pglz's time.
ALTER TABLE aegis.packed_points ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE aegis.packed_points ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE aegis.packed_points IS
  'Packed batches: points of many series written by one statement, in one row (docs/block-format.md), '
  'until maintenance merges them into aegis.blocks; read them through aegis.points or aegis.read.';
SELECT pg_catalog.pg_extension_config_dump('aegis.packed_points', '');
SELECT pg_catalog.pg_extension_config_dump('aegis.packed_batch_seq', '');

CREATE FUNCTION aegis._packed_points(series_ids bigint[])
    RETURNS TABLE (series_id bigint, ts timestamptz, value double precision)
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'aegis_packed_points';
COMMENT ON FUNCTION aegis._packed_points(bigint[]) IS
  'The points of packed batches of those of the series the caller sees (a later batch wins); '
  'for aegis.stats and aegis.series_storage.';

CREATE FUNCTION aegis.drain_packed() RETURNS void
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'aegis_drain_packed';
COMMENT ON FUNCTION aegis.drain_packed() IS
  'Merges every packed batch (aegis.packed_points) into compressed blocks now; aegis.compress() does it too.';
REVOKE EXECUTE ON FUNCTION aegis.drain_packed() FROM PUBLIC;

-- The gateway's writes (src/core/write_request.h): one call per request.
-- The caller needs INSERT on aegis.points, as for COPY into it.
CREATE FUNCTION aegis._write_request(request bytea) RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'aegis_write_request';
COMMENT ON FUNCTION aegis._write_request(bytea) IS
  'Writes the samples of one aegis-gateway request (each series'' metric and tags once, then the samples; '
  'docs/gateway.md); returns the samples written. Needs INSERT on aegis.points.';
