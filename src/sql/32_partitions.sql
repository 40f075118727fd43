-------------------------------------------------------------------------------
-- Time partitions of aegis.blocks (docs/architecture.md, "Partitions"). New in
-- 0.2.0 (the upgrade from 0.1.0 runs this file).
-------------------------------------------------------------------------------

-- Every partition of aegis.blocks with its range. Written by the engine when
-- it creates or drops one (as the tables' owner); dumped, so a restored
-- database knows its partitions.
-- max_span bounds how far before a time range a block reaching into it can
-- start, so that reads prune blocks by time at both ends.
CREATE TABLE aegis.block_partitions (
    partition regclass PRIMARY KEY,
    lo        timestamptz NOT NULL,
    hi        timestamptz NOT NULL,
    max_span  bigint CHECK (max_span >= 0),
    CHECK (lo < hi)
);
COMMENT ON TABLE aegis.block_partitions IS
  'The partitions of aegis.blocks and the range of block start times each holds (lo inclusive, hi exclusive).';
COMMENT ON COLUMN aegis.block_partitions.max_span IS
  'Microseconds: no block written into the partition spans longer from ts_min to ts_max (NULL: not known, '
  'a partition of the 0.1.0 upgrade). Reads look back this far before a range''s start for blocks that reach into it.';
SELECT pg_catalog.pg_extension_config_dump('aegis.block_partitions', '');

CREATE VIEW aegis.partitions WITH (security_invoker = true) AS
    SELECT p.partition, p.lo AS range_start, p.hi AS range_end,
           pg_catalog.pg_total_relation_size(p.partition) AS bytes
      FROM aegis.block_partitions p
     ORDER BY p.lo;
COMMENT ON VIEW aegis.partitions IS
  'Partitions of aegis.blocks in time order: the range of block start times each holds and its size on disk '
  '(aegis.partition_interval sets the span of new ones).';
