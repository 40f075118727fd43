-- aegis_timeseries: privileges and row-level security (docs/security.md).
--
-- Reads run with the caller's rights: a reader needs USAGE on schema aegis
-- and SELECT on its tables and views, and row-level security policies on
-- aegis.series decide which series (and so which points) it sees, on every
-- path. Writes and maintenance change the tables as their owner, so a writer
-- needs no table privilege at all; EXECUTE on those functions is therefore
-- not granted to PUBLIC, and INSERT on aegis.points is granted by the
-- administrator like any table privilege.

REVOKE EXECUTE ON FUNCTION aegis.write(text, jsonb, timestamptz, double precision) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION aegis.write(text, jsonb, timestamptz[], double precision[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION aegis.write_now(text, jsonb, double precision) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION aegis.create_metric(text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION aegis.drop_metric(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION aegis.delete_series(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION aegis.compress(interval) FROM PUBLIC;

-- A point is visible exactly when its series is: these policies read
-- aegis.series with the caller's rights, so its policies apply through them.
-- The tables' owner (and so every write the engine makes) is not subject to
-- them.
ALTER TABLE aegis.recent_points ENABLE ROW LEVEL SECURITY;
CREATE POLICY series_visible ON aegis.recent_points
    USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = recent_points.series_id));
ALTER TABLE aegis.blocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY series_visible ON aegis.blocks
    USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = blocks.series_id));
ALTER TABLE aegis.last_points ENABLE ROW LEVEL SECURITY;
CREATE POLICY series_visible ON aegis.last_points
    USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = last_points.series_id));
