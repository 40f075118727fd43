-------------------------------------------------------------------------------
-- Time partitions of aegis.blocks (docs/architecture.md, "Partitions"). New in
-- 0.2.0 (the upgrade from 0.1.0 runs this file).
-------------------------------------------------------------------------------

-- Every partition of aegis.blocks with its range. Written by the engine when
-- it creates or drops one (as the tables' owner); dumped, so a restored
-- database knows its partitions.
CREATE TABLE aegis.block_partitions (
    partition regclass PRIMARY KEY,
    lo        timestamptz NOT NULL,
    hi        timestamptz NOT NULL,
    CHECK (lo < hi)
);
COMMENT ON TABLE aegis.block_partitions IS
  'The partitions of aegis.blocks and the range of block start times each holds (lo inclusive, hi exclusive).';
SELECT pg_catalog.pg_extension_config_dump('aegis.block_partitions', '');

-- How long the blocks of each partition are: the largest max_span of a
-- partition's rows bounds (in microseconds) every block's ts_max - ts_min,
-- so reads look back no further than that before a range's start for the
-- blocks that reach into it. Written by the engine with every block that is
-- longer than what a partition's rows say (as the tables' owner); only ever
-- inserted into, so writers never wait for each other nor fail each other's
-- REPEATABLE READ; a partition with no row is read back to its start.
CREATE TABLE aegis.block_spans (
    partition regclass NOT NULL,
    max_span  bigint NOT NULL CHECK (max_span >= 0)
);
CREATE INDEX block_spans_partition_idx ON aegis.block_spans (partition, max_span);
COMMENT ON TABLE aegis.block_spans IS
  'The longest block (ts_max - ts_min, microseconds) written into each partition of aegis.blocks: the largest '
  'max_span of a partition''s rows.';
SELECT pg_catalog.pg_extension_config_dump('aegis.block_spans', '');

CREATE VIEW aegis.partitions WITH (security_invoker = true) AS
    SELECT p.partition, p.lo AS range_start, p.hi AS range_end,
           pg_catalog.pg_total_relation_size(p.partition) AS bytes
      FROM aegis.block_partitions p
     ORDER BY p.lo;
COMMENT ON VIEW aegis.partitions IS
  'Partitions of aegis.blocks in time order: the range of block start times each holds and its size on disk '
  '(aegis.partition_interval sets the span of new ones).';
