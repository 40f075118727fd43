
-------------------------------------------------------------------------------
-- aegis_timeseries 0.1.0 -> 0.2.0, after the new pieces: register the 0.1.0
-- blocks table, now the first partition (see the start of this script).
-------------------------------------------------------------------------------
DO $$
BEGIN
    IF to_regclass('aegis.blocks_legacy') IS NOT NULL THEN
        INSERT INTO aegis.block_partitions (partition, lo, hi)
        SELECT 'aegis.blocks_legacy'::regclass, '-infinity', max(ts_max) + interval '1 microsecond'
          FROM aegis.blocks_legacy;
        INSERT INTO aegis.block_spans (partition, max_span)
        SELECT 'aegis.blocks_legacy'::regclass, coalesce(max((extract(epoch FROM ts_max - ts_min) * 1000000)::bigint), 0)
          FROM aegis.blocks_legacy;
    END IF;
END $$;

-- aegis.blocks, aegis.rollups and aegis.last_points are new tables: a role that could
-- read aegis.recent_points (a reader granted SELECT on every table of the
-- schema) gets SELECT on them too, so aegis.aggregate keeps working for it.
DO $$
DECLARE
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid = 'aegis.recent_points'::regclass AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT SELECT ON aegis.blocks, aegis.rollups, aegis.last_points TO %s',
                       CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE grantee::regrole::text END);
    END LOOP;
END $$;

-- The newest point of every series written under 0.1.0.
INSERT INTO aegis.last_points (series_id, ts, value)
SELECT s.series_id, n.ts, n.value
  FROM aegis.series s
 CROSS JOIN LATERAL (
       SELECT c.ts, c.value
         FROM ((SELECT r.ts, r.value, 1 AS newer FROM aegis.recent_points r
                 WHERE r.series_id = s.series_id ORDER BY r.ts DESC LIMIT 1)
               UNION ALL
               (SELECT b.ts_max, b.last_value, 0 FROM aegis.blocks b
                 WHERE b.series_id = s.series_id ORDER BY b.ts_min DESC LIMIT 1)) c
        ORDER BY c.ts DESC, c.newer DESC
        LIMIT 1) n;

-- The grants on the 0.1.0 aegis.points view go to the foreign table, then
-- the view and its trigger functions go.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee, a.privilege_type, a.is_grantable
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid = 'aegis.points_0_1_0'::regclass AND a.grantee <> c.relowner
           AND a.privilege_type IN ('SELECT', 'INSERT', 'DELETE')
    LOOP
        EXECUTE format('GRANT %s ON aegis.points TO %s%s', g.privilege_type,
                       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END $$;
DROP VIEW aegis.points_0_1_0;
DROP FUNCTION aegis._points_insert();
DROP FUNCTION aegis._points_flush();
