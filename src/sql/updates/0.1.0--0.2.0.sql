-- aegis_timeseries 0.1.0 -> 0.2.0 (issue 9: lifecycle), the hand-written part.
--
-- The upgrade script is this file followed by the pieces of src/sql that are
-- new in 0.2.0 (Makefile: PIECES_NEW_IN_0.2.0). Changes to objects that 0.1.0
-- already had go here, as ALTER statements, and into their piece; the
-- upgraded database must equal a fresh 0.2.0 install (test/server/upgrade.sh
-- compares them object by object).
\echo Use "ALTER EXTENSION aegis_timeseries UPDATE TO '0.2.0'" to load this file. \quit

-- Selector entries go straight into the GIN tree, no pending list
-- (src/sql/00_tables.sql).
ALTER INDEX aegis.series_tags_idx SET (fastupdate = off);
-- ... and what the pending list holds is moved into the tree now.
SELECT pg_catalog.gin_clean_pending_list('aegis.series_tags_idx');

-- A metric's series in id order (src/sql/00_tables.sql).
CREATE INDEX series_metric_idx ON aegis.series (metric, series_id);

-- One row per series kept by a hash index of its key instead of a B-tree of
-- (metric, tags) (src/sql/00_tables.sql).
ALTER TABLE aegis.series DROP CONSTRAINT series_metric_tags_key,
    ADD CONSTRAINT series_key EXCLUDE USING hash ((metric || ' ' || tags::text) WITH =),
    ADD CONSTRAINT series_key_exact CHECK (strpos(metric, ' ') = 0 AND jsonb_typeof(tags) = 'object'
                                           AND NOT jsonb_path_exists(tags, 'strict $.* ? (@.type() != "string")'));

-- aegis.blocks becomes partitioned by time. The 0.1.0 table is kept, without
-- copying a block, as the first partition: it holds every block start up to
-- just past the newest point it has (0.1.0 blocks may cross any later
-- partition boundary); new partitions start there. With no blocks it goes.
ALTER INDEX aegis.blocks_pkey RENAME TO blocks_legacy_pkey;
ALTER TABLE aegis.blocks RENAME TO blocks_legacy;
ALTER EXTENSION aegis_timeseries DROP TABLE aegis.blocks_legacy;
DROP POLICY series_visible ON aegis.blocks_legacy;
ALTER TABLE aegis.blocks_legacy DISABLE ROW LEVEL SECURITY;

CREATE TABLE aegis.blocks (
    series_id   bigint NOT NULL,
    ts_min      timestamptz NOT NULL,
    ts_max      timestamptz NOT NULL,
    point_count integer NOT NULL CONSTRAINT blocks_point_count_check CHECK (point_count > 0),
    min_value   double precision NOT NULL,
    max_value   double precision NOT NULL,
    sum_value   double precision NOT NULL,
    first_value double precision NOT NULL,
    last_value  double precision NOT NULL,
    data        bytea NOT NULL,
    segments    bytea,
    CONSTRAINT blocks_check CHECK (ts_min <= ts_max)
) PARTITION BY RANGE (ts_min);
ALTER TABLE aegis.blocks ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE aegis.blocks IS
  'Compressed blocks of points (codec in the block header) with per-block summaries.';
COMMENT ON COLUMN aegis.blocks.segments IS
  'Summaries of the block''s points per aligned time slot (docs/block-format.md, section 11); NULL: none.';
ALTER TABLE aegis.blocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY series_visible ON aegis.blocks
    USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = blocks.series_id));

DO $$
DECLARE
    newest timestamptz;
BEGIN
    SELECT max(ts_max) INTO newest FROM aegis.blocks_legacy;
    IF newest IS NULL THEN
        DROP TABLE aegis.blocks_legacy;
    ELSE
        ALTER TABLE aegis.blocks_legacy ADD COLUMN segments bytea;
        -- Rows of up to a page stay in the heap, as in every new partition
        -- (src/pg/partitions.cpp).
        ALTER TABLE aegis.blocks_legacy SET (toast_tuple_target = 8160);
        EXECUTE format('ALTER TABLE aegis.blocks ATTACH PARTITION aegis.blocks_legacy FOR VALUES FROM (%L) TO (%L)',
                       '-infinity', newest + interval '1 microsecond');
    END IF;
END $$;

-- aegis.points becomes a foreign table (src/sql/36_points.sql). The 0.1.0
-- view steps aside here and goes after the new pieces, once its grants have
-- been copied to the table (0.1.0--0.2.0-after.sql). A view of the user's
-- over aegis.points stops the upgrade there: drop it first and create it
-- again afterwards.
ALTER VIEW aegis.points RENAME TO points_0_1_0;

-- aegis._series_storage runs under Citus too (src/sql/10_functions.sql).
CREATE OR REPLACE FUNCTION aegis._series_storage(series_ids bigint[])
    RETURNS TABLE (points bigint, compressed_points bigint, recent_points bigint, block_points bigint,
                   blocks bigint, compressed_bytes bigint, oldest timestamptz, newest timestamptz)
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q text := $q$
    WITH b AS (SELECT coalesce(sum(bl.point_count), 0)::bigint AS points, count(*) AS blocks,
                      coalesce(sum(pg_catalog.pg_column_size(bl.data)), 0)::bigint AS bytes,
                      min(bl.ts_min) AS oldest, max(bl.ts_max) AS newest
                 FROM aegis.blocks bl WHERE bl.series_id = ANY ($1)),
         r AS (SELECT count(*) AS points, min(rp.ts) AS oldest, max(rp.ts) AS newest
                 FROM aegis.recent_points rp WHERE rp.series_id = ANY ($1)),
         -- One index probe per block finds the few with recent rows inside.
         replaced AS (
           SELECT coalesce(sum(aegis._block_point_matches(bl.series_id, bl.data,
                      ARRAY(SELECT rp.ts FROM aegis.recent_points rp
                             WHERE rp.series_id = bl.series_id AND rp.ts BETWEEN bl.ts_min AND bl.ts_max
                             ORDER BY rp.ts))), 0)::bigint AS points
             FROM aegis.blocks bl
            WHERE bl.series_id = ANY ($1)
              AND EXISTS (SELECT 1 FROM aegis.recent_points rp
                           WHERE rp.series_id = bl.series_id AND rp.ts BETWEEN bl.ts_min AND bl.ts_max))
    SELECT b.points - x.points + r.points, b.points - x.points, r.points, b.points, b.blocks, b.bytes,
           least(b.oldest, r.oldest), greatest(b.newest, r.newest)
      FROM b, r, replaced x
$q$;
BEGIN
    IF aegis.is_distributed() THEN
        -- Citus plans no distributed statement with parameters: the ids go
        -- in as a constant (docs/scale-out.md).
        RETURN QUERY EXECUTE replace(q, '$1', format('%L::pg_catalog.int8[]', series_ids));
    ELSIF EXISTS (SELECT FROM aegis._packed_points(series_ids)) THEN
        -- Points of packed batches count as recent ones (a batch's point
        -- replaces a recent row or a block's point at its time).
        q := replace(q, 'FROM aegis.recent_points rp', 'FROM all_recent rp');
        q := replace(q, 'WITH b AS',
                     'WITH all_recent AS MATERIALIZED (SELECT rp.series_id, rp.ts FROM aegis.recent_points rp'
                     ' WHERE rp.series_id = ANY ($1) UNION SELECT pp.series_id, pp.ts'
                     ' FROM aegis._packed_points($1) pp), b AS');
        RETURN QUERY EXECUTE q USING series_ids;
    ELSE
        RETURN QUERY EXECUTE q USING series_ids;
    END IF;
END $$;

-- TRUNCATE of aegis.series empties aegis.rollups too (src/sql/00_tables.sql).
CREATE OR REPLACE FUNCTION aegis._series_truncated() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- DELETE, not TRUNCATE: the same statement may be truncating them already.
    DELETE FROM aegis.recent_points;
    DELETE FROM aegis.blocks;
    DELETE FROM aegis.rollups;
    DELETE FROM aegis.last_points;
    DELETE FROM aegis.packed_points;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION aegis._series_truncated() IS
  'Trigger: TRUNCATE of aegis.series empties aegis.recent_points, aegis.blocks, aegis.rollups, aegis.last_points '
  'and aegis.packed_points too.';

-- aegis.aggregate's counter family changed meaning (docs/queries.md): rate,
-- increase and delta are Prometheus's, per series; the old rate and increase
-- are sample_rate and sample_increase.
COMMENT ON FUNCTION aegis.aggregate(text, text, timestamptz, timestamptz, interval, text[], text) IS
  'Bucketed aggregate (count, sum, min, max, avg, first, last, median, quantile(q), stddev, variance, and per '
  'series then summed: rate, increase, delta as Prometheus, sample_rate, sample_increase, sample_delta, irate, '
  'resets, changes) of the matching series, per series or grouped by tags, computed in the engine; '
  'rows ordered by tags, then bucket.';

-- The newest point of every series (src/sql/00_tables.sql), filled at the
-- end of this update (0.1.0--0.2.0-after.sql); aegis.latest reads it.
CREATE TABLE aegis.last_points (
    series_id bigint PRIMARY KEY,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL
) WITH (fillfactor = 50);
COMMENT ON TABLE aegis.last_points IS
  'The newest point of every series, kept current by every write; read it through aegis.latest().';
SELECT pg_catalog.pg_extension_config_dump('aegis.last_points', '');
ALTER TABLE aegis.last_points ENABLE ROW LEVEL SECURITY;
CREATE POLICY series_visible ON aegis.last_points
    USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = last_points.series_id));

CREATE OR REPLACE FUNCTION aegis.latest(selector text)
    RETURNS TABLE (series_id bigint, metric text, tags jsonb, ts timestamptz, value double precision)
    LANGUAGE c STABLE PARALLEL UNSAFE ROWS 100
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_latest';
COMMENT ON FUNCTION aegis.latest(text) IS
  'The newest point of every matching series (from aegis.last_points), ordered by series_id.';

-- A batch goes straight into blocks from 1,000 points (src/sql/10_functions.sql).
COMMENT ON FUNCTION aegis.write(text, jsonb, timestamptz[], double precision[]) IS
  'Writes a batch of points of one series (arrays of equal length); returns the points written (after duplicate timestamps collapsed to their last value). '
  'At least 1000 points (or aegis.block_max_points, when fewer) go straight into compressed blocks.';
