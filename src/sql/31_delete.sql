-------------------------------------------------------------------------------
-- Deleting points (API.md section 6), at point granularity inside compressed
-- blocks, with no cap. New in 0.2.0 (the upgrade from 0.1.0 runs this file).
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.delete(selector text, since timestamptz DEFAULT '-infinity',
                             until timestamptz DEFAULT 'infinity')
    RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_delete_points';
COMMENT ON FUNCTION aegis.delete(text, timestamptz, timestamptz) IS
  'Deletes the points of the series the selector matches with since <= ts < until, compressed or not '
  '(blocks holding some are rewritten); returns the points deleted, as aegis.read returned them. '
  'Only series the caller can see are touched.';
REVOKE EXECUTE ON FUNCTION aegis.delete(text, timestamptz, timestamptz) FROM PUBLIC;

-- DELETE FROM aegis.points WHERE ... deletes the points its scan finds, each
-- as aegis.delete would (its recent row and the block point under it).
-- Conditions on metric and tags choose series before points are read.
CREATE FUNCTION aegis._points_delete() RETURNS trigger
    LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'aegis_points_delete';
COMMENT ON FUNCTION aegis._points_delete() IS 'Trigger: deletes the point a row deleted from aegis.points shows.';
REVOKE EXECUTE ON FUNCTION aegis._points_delete() FROM PUBLIC;
CREATE TRIGGER points_delete INSTEAD OF DELETE ON aegis.points
    FOR EACH ROW EXECUTE FUNCTION aegis._points_delete();
