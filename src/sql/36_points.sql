-------------------------------------------------------------------------------
-- aegis.points: every point of every series as one relation, a foreign table
-- of the extension's own wrapper (src/pg/points_fdw.cpp), so that plain SQL
-- over it reaches the engine: conditions on metric and tags choose series
-- through the catalog's indexes, conditions on ts become the read's time
-- range (blocks outside it are never read), and EXPLAIN shows both. INSERT
-- and COPY FROM write points; DELETE deletes the points its scan finds.
-- New in 0.2.0 as a foreign table (0.1.0 had a view with triggers).
-------------------------------------------------------------------------------

CREATE FUNCTION aegis._points_handler() RETURNS fdw_handler
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'aegis_points_fdw_handler';
COMMENT ON FUNCTION aegis._points_handler() IS
  'The foreign-data wrapper behind aegis.points: scan with conditions pushed into the engine, INSERT, COPY, DELETE.';

CREATE FOREIGN DATA WRAPPER aegis_points HANDLER aegis._points_handler;
COMMENT ON FOREIGN DATA WRAPPER aegis_points IS 'Reads and writes the points of aegis_timeseries (aegis.points).';

CREATE SERVER aegis_points FOREIGN DATA WRAPPER aegis_points;
COMMENT ON SERVER aegis_points IS 'This database''s aegis_timeseries store, behind aegis.points.';

CREATE FOREIGN TABLE aegis.points (
    metric text,
    tags   jsonb,
    ts     timestamptz,
    value  double precision
) SERVER aegis_points;
COMMENT ON FOREIGN TABLE aegis.points IS
  'Every point of every series. Conditions on metric and tags choose series (through the catalog''s indexes), '
  'conditions on ts the time range, before any point is read; EXPLAIN shows them. '
  'INSERT and COPY into it write points (last write wins); DELETE from it deletes the points it finds.';
COMMENT ON COLUMN aegis.points.metric IS 'The series'' metric name.';
COMMENT ON COLUMN aegis.points.tags IS 'The series'' tags (a flat JSON object of strings).';
COMMENT ON COLUMN aegis.points.ts IS 'The point''s time.';
COMMENT ON COLUMN aegis.points.value IS 'The point''s value.';
