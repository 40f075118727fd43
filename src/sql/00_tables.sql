-- aegis_timeseries: catalog and storage tables.
--
-- Everything is keyed by series_id: the series catalog is small and stands
-- alone; recent points and compressed blocks carry the series id as their
-- leading key (docs/architecture.md).

\echo Use "CREATE EXTENSION aegis_timeseries" to load this file. \quit

CREATE TABLE aegis.metric_catalog (
    name         text PRIMARY KEY,
    kind         text NOT NULL DEFAULT 'gauge'
                 CHECK (kind IN ('gauge', 'counter', 'histogram', 'summary')),
    unit         text,
    description  text,
    retention    interval,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE aegis.metric_catalog IS
  'Registered metrics; read it through the aegis.metrics view.';

CREATE SEQUENCE aegis.series_id_seq;

CREATE TABLE aegis.series (
    series_id bigint PRIMARY KEY DEFAULT nextval('aegis.series_id_seq'),
    metric    text NOT NULL,
    tags      jsonb NOT NULL,
    -- One row per metric and tag set, kept by a hash index of the series
    -- key rather than a B-tree of (metric, tags), whose entries would hold
    -- every tag again (434 kB for 1,000 TSBS series, a third of the
    -- catalog; a hash entry is 4 bytes). The key is exact: tag values are
    -- strings (the functions refuse others), so equal tag sets print the
    -- same text, and metric names hold no space (series_key_exact keeps it
    -- so for rows written by hand too). Lookups ask for the key
    -- (src/pg/catalog.cpp); writers that race on a new series meet here.
    CONSTRAINT series_key EXCLUDE USING hash ((metric || ' ' || tags::text) WITH =),
    CONSTRAINT series_key_exact CHECK (strpos(metric, ' ') = 0 AND jsonb_typeof(tags) = 'object'
                                       AND NOT jsonb_path_exists(tags, 'strict $.* ? (@.type() != "string")'))
);
ALTER SEQUENCE aegis.series_id_seq OWNED BY aegis.series.series_id;
-- fastupdate off: series are created rarely and a selector is read on every
-- query, so entries go straight into the tree; with a pending list every scan
-- also reads the list until VACUUM merges it, and the merged list's pages stay
-- allocated (1,000 TSBS series: 49 kB instead of 254 kB; docs/benchmarks.md).
CREATE INDEX series_tags_idx ON aegis.series USING gin (tags jsonb_path_ops) WITH (fastupdate = off);
-- A metric's series in id order, read from the index alone: the selector of
-- a bare metric name (cpu, not cpu{...}) with its results in one group or
-- grouped by __name__ needs nothing else of the catalog rows (a sequential scan of a
-- catalog of 1,000 series took 0.5 ms of such a query; src/pg/series_query.cpp).
CREATE INDEX series_metric_idx ON aegis.series (metric, series_id);
COMMENT ON TABLE aegis.series IS
  'One row per series: a metric plus a tag set. Tags are GIN-indexed for selector equality matchers.';

-- No foreign keys between these tables: a parallel pg_restore loads their
-- data in any order (a key would be checked against a table not yet
-- restored), and Citus cannot distribute tables tied by them. Integrity is
-- kept by the functions instead, with one lock protocol
-- (docs/architecture.md, "Locks"): writers, compress and the deletes lock a
-- series' catalog row before touching its points (FOR SHARE or FOR NO KEY
-- UPDATE to write, FOR KEY SHARE to compress, FOR UPDATE to delete), so no
-- point outlives its series; a new series is only created under the lock on
-- its metric's row, which drop_metric takes first. Points left without a
-- series by raw DML on aegis.series are never read (reads start from the
-- catalog); aegis.compress() removes such a series' points when it still has
-- recent rows, blocks alone stay until maintenance scans for them (issue 9).

-- Recent points, not yet packed into blocks. A row here is always newer than a
-- block point with the same (series_id, ts): reads let it win.
CREATE TABLE aegis.recent_points (
    series_id bigint NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL,
    PRIMARY KEY (series_id, ts)
);
COMMENT ON TABLE aegis.recent_points IS
  'Uncompressed points of every series; aegis.compress() packs them into aegis.blocks.';

-- Compressed blocks: one row per block with its summary. Blocks of a series
-- never overlap in time. The block column is stored EXTERNAL: the block is
-- already compressed, so pglz would only spend CPU (docs/block-format.md).
-- Partitioned by time (aegis.partition_interval, listed in
-- aegis.block_partitions): a block never crosses a partition boundary, so
-- retention drops whole partitions. The partitions are created on demand and
-- are not members of the extension: pg_dump dumps them, with their data, as
-- ordinary tables. Each has its own primary key (series_id, ts_min); the
-- parent has none, because pg_dump would then restore each partition's key
-- twice (once from the dump, once by ATTACH PARTITION), the parent being the
-- extension's and not dumped. ts_min is the partition key, so the per-partition
-- keys make (series_id, ts_min) unique over the whole table.
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

-- The newest point of every series with points (aegis.latest), kept current
-- by every write (an upsert that keeps the newer point) and recomputed by
-- whatever removes points (deletes, retention, roll-up).
CREATE TABLE aegis.last_points (
    series_id bigint PRIMARY KEY,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL
) WITH (fillfactor = 50);
COMMENT ON TABLE aegis.last_points IS
  'The newest point of every series, kept current by every write; read it through aegis.latest().';

-- pg_dump keeps the data of extension tables only when they are marked.
SELECT pg_catalog.pg_extension_config_dump('aegis.metric_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('aegis.series', '');
SELECT pg_catalog.pg_extension_config_dump('aegis.series_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('aegis.recent_points', '');
SELECT pg_catalog.pg_extension_config_dump('aegis.last_points', '');

-- Tell every backend's series cache when series go away, however they are
-- removed. The functions that delete series send the invalidation
-- themselves, and the extension's ProcessUtility hook extends a TRUNCATE of
-- aegis.series to the tables keyed by its ids; these triggers also cover
-- raw DML and a session that has not loaded the library. aegis.distribute()
-- drops them: Citus refuses to distribute a table with triggers
-- (docs/scale-out.md).
CREATE FUNCTION aegis._series_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'aegis_series_changed';
COMMENT ON FUNCTION aegis._series_changed() IS
  'Trigger: invalidates the per-backend series cache after series are deleted.';
REVOKE EXECUTE ON FUNCTION aegis._series_changed() FROM PUBLIC;

CREATE FUNCTION aegis._series_truncated() RETURNS trigger
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
REVOKE EXECUTE ON FUNCTION aegis._series_truncated() FROM PUBLIC;
CREATE TRIGGER series_truncated AFTER TRUNCATE ON aegis.series
    FOR EACH STATEMENT EXECUTE FUNCTION aegis._series_truncated();

CREATE TRIGGER series_invalidate AFTER DELETE OR UPDATE OR TRUNCATE ON aegis.series
    FOR EACH STATEMENT EXECUTE FUNCTION aegis._series_changed();
