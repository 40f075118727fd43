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

