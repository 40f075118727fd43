-------------------------------------------------------------------------------
-- Engine statistics: what the engine did since the last aegis.reset_stats(),
-- over every backend of the server (src/pg/engine_stats.cpp). New in 0.2.0.
-------------------------------------------------------------------------------

CREATE FUNCTION aegis._engine_stats(
    OUT points_written bigint, OUT queries bigint, OUT points_decoded bigint, OUT recent_rows_read bigint,
    OUT points_from_summaries bigint, OUT blocks_read bigint, OUT blocks_decoded bigint,
    OUT blocks_from_summaries bigint, OUT stats_reset timestamptz, OUT server_wide boolean)
    RETURNS record LANGUAGE c VOLATILE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'aegis_engine_stats';
COMMENT ON FUNCTION aegis._engine_stats() IS 'The counters behind aegis.engine_stats.';
REVOKE EXECUTE ON FUNCTION aegis._engine_stats() FROM PUBLIC;

CREATE VIEW aegis.engine_stats AS
    SELECT points_written, queries,
           points_decoded + recent_rows_read + points_from_summaries AS points_scanned,
           points_decoded, recent_rows_read, points_from_summaries,
           blocks_read, blocks_decoded, blocks_from_summaries, stats_reset, server_wide
      FROM aegis._engine_stats();
COMMENT ON VIEW aegis.engine_stats IS
  'What the engine did since aegis.reset_stats(): points written (committed), queries (aggregate, rolling, read, '
  'latest, scans of aegis.points), points scanned (decoded, recent rows, answered by summaries), blocks read, '
  'decoded and answered from summaries. A backend adds its counts when its transaction ends. server_wide is '
  'false when the library is not in shared_preload_libraries: the counts are then this session''s.';

CREATE FUNCTION aegis.reset_stats() RETURNS timestamptz
    LANGUAGE c VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'aegis_reset_stats';
COMMENT ON FUNCTION aegis.reset_stats() IS 'Zeroes aegis.engine_stats; returns the time of the reset.';
REVOKE EXECUTE ON FUNCTION aegis.reset_stats() FROM PUBLIC;
