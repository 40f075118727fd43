
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
