
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
SELECT aegis._refresh_last_points(ARRAY(SELECT series_id FROM aegis.series));
