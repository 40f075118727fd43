-------------------------------------------------------------------------------
-- Retention and merging (API.md section 6). New in 0.2.0 (the upgrade from
-- 0.1.0 runs this file).
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.set_retention(metric text, keep interval)
    RETURNS void
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_set_retention';
COMMENT ON FUNCTION aegis.set_retention(text, interval) IS
  'Keeps the metric''s points newer than now() - keep (applied by aegis.apply_retention() and maintenance); '
  'NULL falls back to aegis.default_retention, which keeps points forever when empty.';
REVOKE EXECUTE ON FUNCTION aegis.set_retention(text, interval) FROM PUBLIC;

CREATE FUNCTION aegis.apply_retention()
    RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_apply_retention';
COMMENT ON FUNCTION aegis.apply_retention() IS
  'Rolls up what the downsampling tiers say (as aegis.apply_downsampling), then removes every point older than '
  'its metric''s retention (aegis.set_retention, else aegis.default_retention): blocks past the cutoff by index, '
  'the block holding it rewritten, rolled-up steps holding older points, and partitions of aegis.blocks past '
  'every metric''s cutoff (or empty) dropped whole. Returns the points rolled up and removed.';
REVOKE EXECUTE ON FUNCTION aegis.apply_retention() FROM PUBLIC;

CREATE FUNCTION aegis.merge_blocks()
    RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_merge_blocks';
COMMENT ON FUNCTION aegis.merge_blocks() IS
  'Rewrites runs of neighbouring blocks of a series that are not full (below aegis.block_max_points points '
  'and aegis.block_max_bytes; left by late writes, deletes and small appends) as fewer, full blocks; returns the '
  'points rewritten. A series another session is rewriting is left to the next call.';
REVOKE EXECUTE ON FUNCTION aegis.merge_blocks() FROM PUBLIC;
