-------------------------------------------------------------------------------
-- Scale-out on Citus (docs/scale-out.md). New in 0.2.0.
--
-- The catalog tables become reference tables (a copy on every node), the
-- tables keyed by series_id are distributed by it, co-located, so a series
-- lives wholly on one node. No extension object is dropped or recreated:
-- Citus keeps each table's OID and turns it into the shell of its shards.
-------------------------------------------------------------------------------

-- Whether this database's tables are distributed by Citus.
CREATE FUNCTION aegis.is_distributed() RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid = 'aegis.recent_points'::regclass);
END $$;
COMMENT ON FUNCTION aegis.is_distributed() IS
  'Whether aegis.distribute() has made this database''s tables Citus tables (docs/scale-out.md).';

-- Whether maintenance rounds (aegis.run_maintenance(), the background
-- worker) run here: everywhere but on a Citus worker of a distributed
-- database. The catalog row locks are per node (docs/scale-out.md,
-- "Limits"), so a round on a worker would not exclude the writes and deletes
-- that go through the coordinator, whose rounds cover every shard.
CREATE FUNCTION aegis._maintained_here() RETURNS boolean
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coordinator boolean;
BEGIN
    IF NOT aegis.is_distributed() THEN
        RETURN true;
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO STRICT coordinator;
    RETURN coordinator;
END $$;
COMMENT ON FUNCTION aegis._maintained_here() IS
  'Whether maintenance rounds run on this node: not on a Citus worker of a distributed database.';

-- Refuses (55000) unless this node is the Citus coordinator.
CREATE FUNCTION aegis._require_coordinator(caller text) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coordinator boolean;
BEGIN
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO STRICT coordinator;
    IF NOT coordinator THEN
        RAISE EXCEPTION '% runs on the Citus coordinator', caller
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._require_coordinator(text) FROM PUBLIC;
COMMENT ON FUNCTION aegis._require_coordinator(text) IS
  'Raises 55000 unless this node is the Citus coordinator (for aegis.distribute() and aegis.undistribute()).';

CREATE FUNCTION aegis.distribute(shard_count integer DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'aegis.distribute() needs the citus extension in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Preload citus before aegis_timeseries, CREATE EXTENSION citus, add the workers '
                         '(citus_add_node), then call aegis.distribute() on the coordinator (docs/scale-out.md).';
    END IF;
    IF aegis.is_distributed() THEN
        RAISE EXCEPTION 'the tables of aegis_timeseries are distributed already'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000, not %', shard_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM aegis._require_coordinator('aegis.distribute()');
    -- The catalog's triggers go (Citus refuses to distribute a table with
    -- triggers): the functions that delete series invalidate the caches
    -- themselves, and the ProcessUtility hook of the preloaded library
    -- extends a TRUNCATE of aegis.series to the data tables.
    IF pg_catalog.current_setting('shared_preload_libraries') !~ '(^|[ ,])aegis_timeseries($|[ ,])' THEN
        RAISE EXCEPTION 'aegis.distribute() needs aegis_timeseries in shared_preload_libraries'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'shared_preload_libraries = ''citus,aegis_timeseries'' on every node (docs/scale-out.md).';
    END IF;
    -- Packed batches go into blocks first: batches hold points of many
    -- series, which no shard could hold, and are not written under Citus.
    PERFORM aegis.drain_packed();
    DROP TRIGGER series_truncated ON aegis.series;
    DROP TRIGGER series_invalidate ON aegis.series;
    -- Citus refuses a policy with a subquery on a distributed table: the
    -- data tables' series_visible policies go (docs/scale-out.md, "Limits":
    -- row-level security then holds on every API path, which starts from the
    -- catalog, but not for direct SELECT on the data tables).
    FOREACH t IN ARRAY ARRAY['recent_points', 'blocks', 'last_points', 'rollups'] LOOP
        EXECUTE format('DROP POLICY series_visible ON aegis.%I', t);
        EXECUTE format('ALTER TABLE aegis.%I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
    -- The catalogs: a copy on every node, changed through the coordinator.
    FOREACH t IN ARRAY ARRAY['metric_catalog', 'series', 'block_partitions', 'block_spans'] LOOP
        EXECUTE 'SELECT pg_catalog.create_reference_table($1)' USING format('aegis.%I', t)::regclass;
    END LOOP;
    -- The data, by series, co-located.
    EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''series_id'', colocate_with => ''none'', '
            'shard_count => $2)' USING 'aegis.recent_points'::regclass, shard_count;
    FOREACH t IN ARRAY ARRAY['blocks', 'last_points', 'rollups'] LOOP
        EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''series_id'', colocate_with => ''aegis.recent_points'')'
            USING format('aegis.%I', t)::regclass;
    END LOOP;
    -- Citus copied the rows into the shards and left them, unseen, in the
    -- coordinator's tables: they go.
    FOR t IN EXECUTE 'SELECT p.logicalrelid::pg_catalog.regclass::text FROM pg_catalog.pg_dist_partition p'
                     ' JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid'
                     ' WHERE c.relnamespace = ''aegis''::pg_catalog.regnamespace AND c.relkind = ''r''' LOOP
        EXECUTE 'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)' USING t::regclass;
    END LOOP;
    -- Compression, merging, deletes and the raw part of roll-ups run where
    -- the series is: the coordinator's calls of these functions run on the
    -- node that holds the series' shards, in the coordinator's transaction
    -- (src/pg/compress.cpp, lifecycle.cpp, store.cpp, rollup.cpp).
    FOREACH t IN ARRAY ARRAY['aegis._compress_on_shard(bigint, timestamptz, timestamptz, timestamptz, timestamptz[],'
                             ' timestamptz[], integer, integer, bigint)',
                             'aegis._repack_on_shard(bigint, timestamptz, timestamptz, timestamptz[], integer, integer)',
                             'aegis._delete_on_shard(bigint, timestamptz, timestamptz, timestamptz, timestamptz[],'
                             ' integer, integer)',
                             'aegis._rollup_raw_on_shard(bigint, timestamptz, timestamptz[], integer, integer,'
                             ' timestamptz[], timestamptz[], bigint[])']
    LOOP
        EXECUTE 'SELECT pg_catalog.create_distributed_function($1, ''series_id'','
                ' colocate_with => ''aegis.recent_points'', force_delegation => true)'
            USING t::pg_catalog.regprocedure;
    END LOOP;
    PERFORM aegis.distribute_series_ids();
END $$;
REVOKE EXECUTE ON FUNCTION aegis.distribute(integer) FROM PUBLIC;

-- The reverse of aegis.distribute(): every row comes back to the
-- coordinator's own tables (the shells Citus kept, with their OIDs), the
-- Citus metadata and shards go the way Citus's own DROP TABLE removes them
-- (Citus's undistribute_table refuses tables an extension owns), and the
-- catalog's triggers and the data tables' row-level security policies are
-- created again as CREATE EXTENSION made them.
CREATE FUNCTION aegis.undistribute() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    r record;
    tables constant text[] := ARRAY['metric_catalog', 'series', 'block_partitions', 'block_spans',
                                    'recent_points', 'blocks', 'last_points', 'rollups'];
BEGIN
    IF NOT aegis.is_distributed() THEN
        RAISE EXCEPTION 'the tables of aegis_timeseries are not distributed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM aegis._require_coordinator('aegis.undistribute()');
    -- Nothing may change while the rows travel: writers wait, then go on
    -- against the local tables (a writer that locked its series rows in
    -- this node's copy of aegis.series holds ROW SHARE on aegis.series
    -- itself, ExecuteCatalogLock, so this waits for it).
    FOREACH t IN ARRAY tables LOOP
        EXECUTE format('LOCK TABLE aegis.%I IN EXCLUSIVE MODE', t);
    END LOOP;
    FOREACH t IN ARRAY tables LOOP
        EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM aegis.%I', 'aegis_undistribute_' || t, t);
    END LOOP;
    -- Partitions before the partitioned table, as in aegis._drop_shards().
    FOR r IN EXECUTE 'SELECT p.logicalrelid::pg_catalog.regclass AS rel, c.relname::text AS relname'
                     '  FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid'
                     ' WHERE c.relnamespace = ''aegis''::pg_catalog.regnamespace'
                     ' ORDER BY c.relkind DESC, c.relname' LOOP
        EXECUTE 'SELECT pg_catalog.master_remove_distributed_table_metadata_from_workers($1, ''aegis'', $2)'
            USING r.rel, r.relname;
        EXECUTE 'SELECT pg_catalog.citus_drop_all_shards($1, ''aegis'', $2)' USING r.rel, r.relname;
        EXECUTE 'SELECT pg_catalog.master_remove_partition_metadata($1, ''aegis'', $2)' USING r.rel, r.relname;
        -- and the TRUNCATE trigger Citus put on the table.
        FOR t IN SELECT g.tgname FROM pg_catalog.pg_trigger g JOIN pg_catalog.pg_proc f ON f.oid = g.tgfoid
                  WHERE g.tgrelid = r.rel AND f.proname = 'citus_truncate_trigger' LOOP
            EXECUTE format('DROP TRIGGER %I ON %s', t, r.rel);
        END LOOP;
    END LOOP;
    -- The tables are the coordinator's own again; rows Citus may have left
    -- in them (aegis.distribute() removes them) would be stale.
    FOREACH t IN ARRAY tables LOOP
        EXECUTE format('TRUNCATE aegis.%I', t);
    END LOOP;
    FOREACH t IN ARRAY tables LOOP
        EXECUTE format('INSERT INTO aegis.%I SELECT * FROM pg_temp.%I', t, 'aegis_undistribute_' || t);
        EXECUTE format('DROP TABLE pg_temp.%I', 'aegis_undistribute_' || t);
    END LOOP;
    -- As src/sql/00_tables.sql, 20_privileges.sql and 34_rollup.sql create
    -- them (test/citus/run.sh compares them with a new database's).
    CREATE TRIGGER series_truncated AFTER TRUNCATE ON aegis.series
        FOR EACH STATEMENT EXECUTE FUNCTION aegis._series_truncated();
    CREATE TRIGGER series_invalidate AFTER DELETE OR UPDATE OR TRUNCATE ON aegis.series
        FOR EACH STATEMENT EXECUTE FUNCTION aegis._series_changed();
    FOREACH t IN ARRAY ARRAY['recent_points', 'blocks', 'last_points', 'rollups'] LOOP
        EXECUTE format('ALTER TABLE aegis.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY series_visible ON aegis.%I'
                       ' USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = %I.series_id))', t, t);
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION aegis.undistribute() FROM PUBLIC;
COMMENT ON FUNCTION aegis.undistribute() IS
  'On a Citus coordinator: the reverse of aegis.distribute(), every row back in the coordinator''s local tables '
  '(they pass through it), the catalog''s triggers and row-level security policies again; docs/scale-out.md.';

-- Series ids unique cluster-wide: each node gives out new ids from its own
-- sequence (the extension's, created on every node by CREATE EXTENSION), so
-- each worker's starts in a range of its own, as Citus does for the
-- sequences it creates: node group g from g * 2^48 + 1 (the coordinator,
-- group 0, goes on where it is). For workers added after aegis.distribute().
CREATE FUNCTION aegis.distribute_series_ids() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    IF NOT aegis.is_distributed() THEN
        RAISE EXCEPTION 'the tables of aegis_timeseries are not distributed'
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call aegis.distribute() first.';
    END IF;
    -- A sequence only ever moves forward here: a worker already in its
    -- range keeps its place.
    -- run_command_on_workers reports a worker's failure in its result.
    FOR r IN EXECUTE 'SELECT nodename, nodeport, success, result FROM pg_catalog.run_command_on_workers($1)'
               USING 'SELECT pg_catalog.setval(''aegis.series_id_seq'', '
                     'greatest((SELECT last_value FROM aegis.series_id_seq), '
                     '(SELECT groupid FROM pg_catalog.pg_dist_local_group)::bigint << 48))' LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'could not give the worker %:% its range of series ids: %', r.nodename, r.nodeport, r.result
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Is aegis_timeseries installed there? Call aegis.distribute_series_ids() again.';
        END IF;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION aegis.distribute_series_ids() FROM PUBLIC;
COMMENT ON FUNCTION aegis.distribute_series_ids() IS
  'Gives each Citus worker''s series id sequence a range of its own (group g: from g * 2^48 + 1); '
  'aegis.distribute() calls it, call it again after adding workers.';
COMMENT ON FUNCTION aegis.distribute(integer) IS
  'On a Citus coordinator: makes the catalogs reference tables and distributes the data tables by series_id, '
  'co-located (shard_count: Citus''s default when NULL); docs/scale-out.md.';

-- Called by the extension's ProcessUtility hook just before DROP EXTENSION
-- aegis_timeseries: the shards (on the workers, and the reference tables'
-- on the coordinator) are not members of the extension, and Citus's own
-- clean-up leaves them; they go first, in the same transaction.
CREATE FUNCTION aegis._drop_shards() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN;
    END IF;
    -- Partitions before the partitioned table.
    FOR r IN EXECUTE 'SELECT p.logicalrelid::pg_catalog.regclass AS rel, c.relname'
                     '  FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid'
                     ' WHERE c.relnamespace = ''aegis''::pg_catalog.regnamespace'
                     ' ORDER BY c.relkind DESC, c.relname' LOOP
        EXECUTE 'SELECT pg_catalog.citus_drop_all_shards($1, ''aegis'', $2)' USING r.rel, r.relname::text;
    END LOOP;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._drop_shards() FROM PUBLIC;
COMMENT ON FUNCTION aegis._drop_shards() IS
  'Drops the Citus shards of the extension''s tables (DROP EXTENSION aegis_timeseries calls it first).';

-- The per-block work of aegis.aggregate under Citus, which runs it on the
-- workers, where the rows are (src/pg/block_functions.cpp;
-- docs/scale-out.md): the summaries per bucket of a group's rows (a series'
-- blocks, or its recent rows), packed into one bytea
-- (src/core/bucket_parts.h). aegis.aggregate's statement groups it by
-- series, so a shard sends one row per series, not one per series and
-- bucket.
CREATE FUNCTION aegis._bucket_parts_transfn(internal, series_id bigint, data bytea, ts_min timestamptz,
                                            ts_max timestamptz, point_count integer, min_value double precision,
                                            max_value double precision, sum_value double precision,
                                            first_value double precision, last_value double precision,
                                            segments bytea, ts timestamptz[], vals double precision[],
                                            excluded timestamptz[], since timestamptz, until timestamptz,
                                            step interval, mode integer, origin timestamptz)
    RETURNS internal LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aegis_bucket_parts_transfn';
COMMENT ON FUNCTION aegis._bucket_parts_transfn(internal, bigint, bytea, timestamptz, timestamptz, integer,
                                                double precision, double precision, double precision,
                                                double precision, double precision, bytea, timestamptz[],
                                                double precision[], timestamptz[], timestamptz, timestamptz,
                                                interval, integer, timestamptz) IS
  'Transition of aegis._bucket_parts: adds a block''s (or the given points'') summaries per bucket.';
CREATE FUNCTION aegis._bucket_parts_finalfn(internal) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aegis_bucket_parts_finalfn';
COMMENT ON FUNCTION aegis._bucket_parts_finalfn(internal) IS
  'Final function of aegis._bucket_parts: the summaries combined per bucket (or the parts), packed.';
CREATE AGGREGATE aegis._bucket_parts(series_id bigint, data bytea, ts_min timestamptz, ts_max timestamptz,
                                     point_count integer, min_value double precision, max_value double precision,
                                     sum_value double precision, first_value double precision,
                                     last_value double precision, segments bytea, ts timestamptz[],
                                     vals double precision[], excluded timestamptz[], since timestamptz,
                                     until timestamptz, step interval, mode integer, origin timestamptz) (
    SFUNC = aegis._bucket_parts_transfn, STYPE = internal, FINALFUNC = aegis._bucket_parts_finalfn,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis._bucket_parts(bigint, bytea, timestamptz, timestamptz, integer, double precision,
                                         double precision, double precision, double precision, double precision,
                                         bytea, timestamptz[], double precision[], timestamptz[], timestamptz,
                                         timestamptz, interval, integer, timestamptz) IS
  'The summaries per bucket of [since, until) of its rows'' points (blocks, or given ts/vals), leaving out the '
  'excluded times, in the buckets of time_bucket(step, ts, origin) (origin NULL: its default; step NULL: one '
  'bucket), packed (count, first and last time, min, max, sum, first and last value): combined per bucket '
  '(mode 0, or 1 to add up the sums too, else left 0), or with mode bit 2 (Sxx, as float8_accum forms it) or 4 '
  '(counter state: the sum of the values just before each drop, drops, changes, the point before the last) each '
  'block''s part of a bucket kept apart. The per-series work of aegis.aggregate and of SQL aggregates over '
  'aegis.points under Citus.';

-- aegis.rolling's rows for one series from its block rows and recent rows:
-- the per-series work of aegis.rolling under Citus, which runs it on the
-- shard that holds the series (src/pg/rolling.cpp; docs/scale-out.md).
CREATE FUNCTION aegis._rolling_series(series_id bigint, blocks bytea[], ts timestamptz[], vals double precision[],
                                      fn text, width interval, since timestamptz, until timestamptz)
    RETURNS TABLE (ts timestamptz, value double precision)
    LANGUAGE c IMMUTABLE PARALLEL SAFE ROWS 1000
    AS 'MODULE_PATHNAME', 'aegis_rolling_series';
COMMENT ON FUNCTION aegis._rolling_series(bigint, bytea[], timestamptz[], double precision[], text, interval,
                                          timestamptz, timestamptz) IS
  'For every point of the series with since <= ts < until, fn over the trailing window (ts - width, ts], from the '
  'data of its block rows (blocks, in time order) and its recent rows (ts, vals ascending; a recent row replaces a '
  'block point at its time), all of [since - width, until): the rows of aegis.rolling for one series.';

-- The points of one series in a range, from its block rows and recent rows:
-- the per-series work of aegis.read (aegis.series_points) under Citus, which
-- runs it on the shard that holds the series (src/pg/read.cpp;
-- docs/scale-out.md).
CREATE FUNCTION aegis._points_of(series_id bigint, blocks bytea[], counts integer[], ts timestamptz[],
                                 vals double precision[], since timestamptz, until timestamptz)
    RETURNS TABLE (ts timestamptz, value double precision)
    LANGUAGE c IMMUTABLE PARALLEL SAFE ROWS 1000
    AS 'MODULE_PATHNAME', 'aegis_points_of';
COMMENT ON FUNCTION aegis._points_of(bigint, bytea[], integer[], timestamptz[], double precision[], timestamptz,
                                     timestamptz) IS
  'The points of the series with since <= ts < until, in time order, from the data and point counts of its block '
  'rows (blocks, counts, in time order) and its recent rows (ts, vals ascending; a recent row replaces a block point '
  'at its time): what aegis.series_points returns for one series.';

-- The block rows that replace a series' blocks once points are merged in:
-- the per-series work of aegis.compress under Citus, which runs it on the
-- shard that holds the series (src/pg/compress.cpp; docs/scale-out.md).
CREATE FUNCTION aegis._merge_into_blocks(series_id bigint, blocks bytea[], counts integer[], ts timestamptz[],
                                         vals double precision[], bounds timestamptz[], max_points integer,
                                         max_bytes integer, drop_since timestamptz DEFAULT NULL,
                                         drop_until timestamptz DEFAULT NULL)
    RETURNS TABLE (ts_min timestamptz, ts_max timestamptz, point_count integer, min_value double precision,
                   max_value double precision, sum_value double precision, first_value double precision,
                   last_value double precision, data bytea, segments bytea)
    LANGUAGE c IMMUTABLE PARALLEL SAFE ROWS 10
    AS 'MODULE_PATHNAME', 'aegis_merge_into_blocks';
COMMENT ON FUNCTION aegis._merge_into_blocks(bigint, bytea[], integer[], timestamptz[], double precision[],
                                             timestamptz[], integer, integer, timestamptz, timestamptz) IS
  'The block rows (summary columns, data and segments) of the points of blocks (the data of a series'' block rows, '
  'each holding the point count of its row in counts, else XX001) with the points (ts ascending, vals) merged in, '
  'a point replacing a block point at its time, and the points in '
  '[drop_since, drop_until) left out: cut at most max_points points and max_bytes bytes a row (0: by points '
  'alone) and at every bound (partition edges), as aegis.compress cuts them.';

CREATE FUNCTION aegis._points_between(series_id bigint, data bytea, point_count integer, since timestamptz,
                                      until timestamptz, excluded timestamptz[], OUT in_range integer,
                                      OUT not_excluded integer)
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aegis_points_between';
COMMENT ON FUNCTION aegis._points_between(bigint, bytea, integer, timestamptz, timestamptz, timestamptz[]) IS
  'How many of the block''s points (data, holding point_count points, else XX001) lie in [since, until), and how '
  'many of those are at none of the excluded times: what a delete of that range counts of the block (the recent '
  'rows it removes are excluded).';

-- The functions below are the per-series work of maintenance and deletes
-- under Citus: aegis.distribute() makes them distributed functions
-- (force_delegation), so that the coordinator's call runs on the node that
-- holds the series' shards, in the coordinator's transaction; the decoding,
-- merging and encoding happen there, and only counts, the new blocks' time
-- ranges and a roll-up's steps travel. Each runs a few simple statements,
-- every one filtered on the series (as Citus requires of a delegated
-- function, and so that Citus routes each straight to the local shard; the
-- insert of aegis._insert_blocks is routed by the series id its rows carry).
-- One statement with data-modifying CTEs was several times slower (Citus
-- plans it in rounds through intermediate results: compress 6x, measured
-- with bench/citus_maintenance.sh). The block rows they read are not
-- locked: the caller holds the series' rewrite lock, as the C paths do. On a
-- server without Citus the engine does the same work in C; where Citus is
-- loaded but the database is not distributed, it calls these functions,
-- which then run locally (pg_regress compares them with the C paths, byte
-- for byte).

-- Inserts block rows (as aegis._merge_into_blocks returns them, column by
-- column) for a series.
CREATE FUNCTION aegis._insert_blocks(series_id bigint, ts_mins timestamptz[], ts_maxs timestamptz[],
                                     point_counts integer[], min_values double precision[],
                                     max_values double precision[], sum_values double precision[],
                                     first_values double precision[], last_values double precision[],
                                     datas bytea[], segmentss bytea[])
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO aegis.blocks (series_id, ts_min, ts_max, point_count, min_value, max_value, sum_value, first_value,
                              last_value, data, segments)
    SELECT _insert_blocks.series_id, r.*
      FROM unnest(ts_mins, ts_maxs, point_counts, min_values, max_values, sum_values, first_values, last_values,
                  datas, segmentss) r;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._insert_blocks(bigint, timestamptz[], timestamptz[], integer[], double precision[],
                                               double precision[], double precision[], double precision[],
                                               double precision[], bytea[], bytea[]) FROM PUBLIC;
COMMENT ON FUNCTION aegis._insert_blocks(bigint, timestamptz[], timestamptz[], integer[], double precision[],
                                         double precision[], double precision[], double precision[],
                                         double precision[], bytea[], bytea[]) IS
  'Inserts a series'' block rows given column by column (the rewrites that run on a Citus worker).';

-- The block rows aegis._merge_into_blocks makes, column by column (as
-- aegis._insert_blocks takes them).
CREATE FUNCTION aegis._merged_blocks(series_id bigint, blocks bytea[], counts integer[], ts timestamptz[],
                                     vals double precision[], ends timestamptz[], max_points integer,
                                     max_bytes integer, drop_since timestamptz DEFAULT NULL,
                                     drop_until timestamptz DEFAULT NULL, OUT mins timestamptz[],
                                     OUT maxs timestamptz[], OUT counts_out integer[], OUT lows double precision[],
                                     OUT highs double precision[], OUT sums double precision[],
                                     OUT firsts double precision[], OUT lasts double precision[], OUT datas bytea[],
                                     OUT segmentss bytea[])
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SELECT array_agg(m.ts_min), array_agg(m.ts_max), array_agg(m.point_count), array_agg(m.min_value),
           array_agg(m.max_value), array_agg(m.sum_value), array_agg(m.first_value), array_agg(m.last_value),
           array_agg(m.data), array_agg(m.segments)
      INTO mins, maxs, counts_out, lows, highs, sums, firsts, lasts, datas, segmentss
      FROM aegis._merge_into_blocks(series_id, blocks, counts, ts, vals, ends, max_points, max_bytes, drop_since,
                                    drop_until) m;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._merged_blocks(bigint, bytea[], integer[], timestamptz[], double precision[],
                                               timestamptz[], integer, integer, timestamptz, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION aegis._merged_blocks(bigint, bytea[], integer[], timestamptz[], double precision[], timestamptz[],
                                         integer, integer, timestamptz, timestamptz) IS
  'The block rows aegis._merge_into_blocks makes, column by column, as aegis._insert_blocks takes them (the rewrites '
  'that run on a Citus worker).';

-- aegis.compress's work for one series (src/pg/compress.cpp): takes the
-- series' recent rows in [lo, hi] that lie in a partition (starts, ends: the
-- partitions' bounds) and that no one else holds, the series' blocks they
-- overlap (none starts before scan_start) and the block just before them
-- when that one is not full (fewer than max_points points and fewer than
-- full_bytes bytes of data and segments, as MergeIntoBlocks picks it), and
-- writes the block rows aegis._merge_into_blocks makes of them. A series
-- whose blocks do not decode (XX001) or whose values cannot be stored (class
-- 22) is left as it was, with the error in failure and its SQLSTATE in
-- failure_state.
CREATE FUNCTION aegis._compress_on_shard(series_id bigint, lo timestamptz, hi timestamptz, scan_start timestamptz,
                                         starts timestamptz[], ends timestamptz[], max_points integer,
                                         max_bytes integer, full_bytes bigint, OUT points_taken bigint,
                                         OUT block_starts timestamptz[], OUT block_ends timestamptz[],
                                         OUT failure text, OUT failure_state text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t_ts timestamptz[];
    t_values double precision[];
    previous timestamptz;
    o_mins timestamptz[];
    o_datas bytea[];
    o_counts integer[];
    n record;
    detail text;
BEGIN
    SELECT array_agg(x.ts ORDER BY x.ts), array_agg(x.value ORDER BY x.ts) INTO t_ts, t_values
      FROM (SELECT l.ts, l.value FROM aegis.recent_points l
             WHERE l.series_id = _compress_on_shard.series_id AND l.ts >= lo AND l.ts <= hi
               AND EXISTS (SELECT FROM unnest(starts, ends) p(p_lo, p_hi) WHERE l.ts >= p.p_lo AND l.ts < p.p_hi)
               FOR UPDATE SKIP LOCKED) x;
    points_taken := coalesce(cardinality(t_ts), 0);
    IF points_taken = 0 THEN
        RETURN;
    END IF;
    SELECT b.ts_min INTO previous FROM aegis.blocks b
     WHERE b.series_id = _compress_on_shard.series_id AND b.ts_max < t_ts[1]
     ORDER BY b.ts_min DESC LIMIT 1;
    SELECT array_agg(b.ts_min ORDER BY b.ts_min), array_agg(b.data ORDER BY b.ts_min),
           array_agg(b.point_count ORDER BY b.ts_min)
      INTO o_mins, o_datas, o_counts
      FROM aegis.blocks b
     WHERE b.series_id = _compress_on_shard.series_id
       AND ((b.ts_min >= scan_start AND b.ts_max >= t_ts[1] AND b.ts_min <= t_ts[points_taken])
            OR (b.ts_min = previous AND b.point_count < max_points
                AND octet_length(b.data) + coalesce(octet_length(b.segments), 0) < full_bytes));
    SELECT * INTO n FROM aegis._merged_blocks(_compress_on_shard.series_id, o_datas, o_counts, t_ts, t_values, ends,
                                              max_points, max_bytes);
    DELETE FROM aegis.recent_points r WHERE r.series_id = _compress_on_shard.series_id AND r.ts = ANY (t_ts);
    DELETE FROM aegis.blocks b WHERE b.series_id = _compress_on_shard.series_id AND b.ts_min = ANY (o_mins);
    PERFORM aegis._insert_blocks(_compress_on_shard.series_id, n.mins, n.maxs, n.counts_out, n.lows, n.highs, n.sums,
                                 n.firsts, n.lasts, n.datas, n.segmentss);
    block_starts := n.mins;
    block_ends := n.maxs;
EXCEPTION WHEN data_corrupted OR data_exception THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    points_taken := 0;
    block_starts := NULL;
    block_ends := NULL;
    failure := SQLERRM || CASE WHEN detail <> '' THEN ': ' || detail ELSE '' END;
    failure_state := SQLSTATE;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._compress_on_shard(bigint, timestamptz, timestamptz, timestamptz, timestamptz[],
                                                   timestamptz[], integer, integer, bigint) FROM PUBLIC;
COMMENT ON FUNCTION aegis._compress_on_shard(bigint, timestamptz, timestamptz, timestamptz, timestamptz[],
                                             timestamptz[], integer, integer, bigint) IS
  'aegis.compress''s work for one series under Citus, delegated to the node that holds its shards: packs its recent '
  'rows in [lo, hi] that lie in a partition (starts, ends) into its blocks (aegis._merge_into_blocks); returns the '
  'points taken and the new blocks'' time ranges, or the error that left the series as it was.';

-- aegis.merge_blocks's work for one run of a series' blocks
-- (src/pg/lifecycle.cpp): the blocks starting from first_start to
-- last_start (neighbours in one partition, none of them full) rewritten as
-- the block rows aegis._merge_into_blocks cuts of their points, when that
-- gives fewer blocks (else they stay as they are).
CREATE FUNCTION aegis._repack_on_shard(series_id bigint, first_start timestamptz, last_start timestamptz,
                                       ends timestamptz[], max_points integer, max_bytes integer,
                                       OUT points_rewritten bigint, OUT block_starts timestamptz[],
                                       OUT block_ends timestamptz[])
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o_mins timestamptz[];
    o_datas bytea[];
    o_counts integer[];
    n record;
BEGIN
    SELECT array_agg(b.ts_min ORDER BY b.ts_min), array_agg(b.data ORDER BY b.ts_min),
           array_agg(b.point_count ORDER BY b.ts_min)
      INTO o_mins, o_datas, o_counts
      FROM aegis.blocks b
     WHERE b.series_id = _repack_on_shard.series_id AND b.ts_min >= first_start AND b.ts_min <= last_start;
    SELECT * INTO n FROM aegis._merged_blocks(_repack_on_shard.series_id, o_datas, o_counts, NULL, NULL, ends,
                                              max_points, max_bytes);
    points_rewritten := 0;
    IF coalesce(cardinality(n.mins), 0) >= coalesce(cardinality(o_datas), 0) THEN
        RETURN;
    END IF;
    DELETE FROM aegis.blocks b WHERE b.series_id = _repack_on_shard.series_id AND b.ts_min = ANY (o_mins);
    PERFORM aegis._insert_blocks(_repack_on_shard.series_id, n.mins, n.maxs, n.counts_out, n.lows, n.highs, n.sums,
                                 n.firsts, n.lasts, n.datas, n.segmentss);
    SELECT sum(c) INTO points_rewritten FROM unnest(o_counts) c;
    block_starts := n.mins;
    block_ends := n.maxs;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._repack_on_shard(bigint, timestamptz, timestamptz, timestamptz[], integer, integer)
    FROM PUBLIC;
COMMENT ON FUNCTION aegis._repack_on_shard(bigint, timestamptz, timestamptz, timestamptz[], integer, integer) IS
  'aegis.merge_blocks''s work for one run of a series'' blocks under Citus, delegated to the node that holds its '
  'shards: the blocks starting in [first_start, last_start] cut anew (aegis._merge_into_blocks) when that makes '
  'fewer; returns the points rewritten (0: left as they were) and the new blocks'' time ranges.';

-- aegis.delete's work for one series (DeletePointsOfSeries in
-- src/pg/store.cpp; retention trims through it too): removes the series'
-- recent rows in [since, until) and rewrites the blocks that hold a point
-- there (none starts before scan_start) without those points
-- (aegis._merge_into_blocks). Returns the points removed (a recent row and
-- a block point at the same time count once) and the new blocks' time
-- ranges.
CREATE FUNCTION aegis._delete_on_shard(series_id bigint, since timestamptz, until timestamptz,
                                       scan_start timestamptz, ends timestamptz[], max_points integer,
                                       max_bytes integer, OUT points_removed bigint, OUT block_starts timestamptz[],
                                       OUT block_ends timestamptz[])
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    shadow timestamptz[];
    o_mins timestamptz[];
    o_datas bytea[];
    o_counts integer[];
    in_blocks bigint;
    n record;
BEGIN
    SELECT array_agg(x.ts) INTO shadow
      FROM (SELECT r.ts FROM aegis.recent_points r
             WHERE r.series_id = _delete_on_shard.series_id AND r.ts >= since AND r.ts < until FOR UPDATE) x;
    DELETE FROM aegis.recent_points r WHERE r.series_id = _delete_on_shard.series_id AND r.ts = ANY (shadow);
    SELECT array_agg(h.ts_min ORDER BY h.ts_min) FILTER (WHERE h.in_range > 0),
           array_agg(h.data ORDER BY h.ts_min) FILTER (WHERE h.in_range > 0),
           array_agg(h.point_count ORDER BY h.ts_min) FILTER (WHERE h.in_range > 0), sum(h.not_excluded)
      INTO o_mins, o_datas, o_counts, in_blocks
      FROM (SELECT b.ts_min, b.data, b.point_count, c.in_range, c.not_excluded
              FROM aegis.blocks b,
                   aegis._points_between(_delete_on_shard.series_id, b.data, b.point_count, since, until, shadow) c
             WHERE b.series_id = _delete_on_shard.series_id AND b.ts_min >= scan_start AND b.ts_max >= since
               AND b.ts_min < until) h;
    points_removed := coalesce(cardinality(shadow), 0) + coalesce(in_blocks, 0);
    IF o_mins IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO n FROM aegis._merged_blocks(_delete_on_shard.series_id, o_datas, o_counts, NULL, NULL, ends,
                                              max_points, max_bytes, since, until);
    DELETE FROM aegis.blocks b WHERE b.series_id = _delete_on_shard.series_id AND b.ts_min = ANY (o_mins);
    PERFORM aegis._insert_blocks(_delete_on_shard.series_id, n.mins, n.maxs, n.counts_out, n.lows, n.highs, n.sums,
                                 n.firsts, n.lasts, n.datas, n.segmentss);
    block_starts := n.mins;
    block_ends := n.maxs;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._delete_on_shard(bigint, timestamptz, timestamptz, timestamptz, timestamptz[], integer,
                                                 integer) FROM PUBLIC;
COMMENT ON FUNCTION aegis._delete_on_shard(bigint, timestamptz, timestamptz, timestamptz, timestamptz[], integer,
                                           integer) IS
  'aegis.delete''s work for one series under Citus, delegated to the node that holds its shards: removes its points '
  'in [since, until) from its recent rows and blocks; returns the points removed and the new blocks'' time ranges.';

CREATE FUNCTION aegis._rollup_steps(series_id bigint, blocks bytea[], counts integer[], ts timestamptz[],
                                    vals double precision[], until timestamptz, los timestamptz[],
                                    his timestamptz[], widths bigint[], OUT points bigint, OUT steps bytea[],
                                    OUT step_tiers integer[])
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'aegis_rollup_steps';
COMMENT ON FUNCTION aegis._rollup_steps(bigint, bytea[], integer[], timestamptz[], double precision[], timestamptz,
                                        timestamptz[], timestamptz[], bigint[]) IS
  'The raw part of a roll-up of one series: the points of blocks (each holding the point count in counts) before '
  'until, with the points (ts ascending, vals) replacing block points at their times, summarized for each tier k '
  'into steps of widths[k] microseconds over [los[k], his[k]); returns how many points that was and the steps as '
  'encoded rollup blocks of at most 256 steps, each with its tier (k, from 1) in step_tiers.';

-- aegis.apply_downsampling's raw part for one series (TakeRawPointsOnShard
-- in src/pg/rollup.cpp): takes the series' block and recent points before
-- until out (the blocks holding points on both sides are written again with
-- the later ones, aegis._merge_into_blocks) and summarizes them into each
-- tier's steps (aegis._rollup_steps); only the steps come back (blocks of at
-- most 256, each with its tier). The coordinator merges them into
-- aegis.rollups.
CREATE FUNCTION aegis._rollup_raw_on_shard(series_id bigint, until timestamptz, ends timestamptz[],
                                           max_points integer, max_bytes integer, los timestamptz[],
                                           his timestamptz[], widths bigint[], OUT points_taken bigint,
                                           OUT block_starts timestamptz[], OUT block_ends timestamptz[],
                                           OUT steps bytea[], OUT step_tiers integer[])
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t_ts timestamptz[];
    t_values double precision[];
    o_mins timestamptz[];
    o_datas bytea[];
    o_counts integer[];
    c_datas bytea[];
    c_counts integer[];
    n record;
BEGIN
    SELECT array_agg(x.ts ORDER BY x.ts), array_agg(x.value ORDER BY x.ts) INTO t_ts, t_values
      FROM (SELECT r.ts, r.value FROM aegis.recent_points r
             WHERE r.series_id = _rollup_raw_on_shard.series_id AND r.ts < until FOR UPDATE) x;
    SELECT array_agg(b.ts_min ORDER BY b.ts_min), array_agg(b.data ORDER BY b.ts_min),
           array_agg(b.point_count ORDER BY b.ts_min),
           array_agg(b.data ORDER BY b.ts_min) FILTER (WHERE b.ts_max >= until),
           array_agg(b.point_count ORDER BY b.ts_min) FILTER (WHERE b.ts_max >= until)
      INTO o_mins, o_datas, o_counts, c_datas, c_counts
      FROM aegis.blocks b
     WHERE b.series_id = _rollup_raw_on_shard.series_id AND b.ts_min < until;
    SELECT x.points, x.steps, x.step_tiers INTO points_taken, steps, step_tiers
      FROM aegis._rollup_steps(_rollup_raw_on_shard.series_id, o_datas, o_counts, t_ts, t_values, until, los, his,
                               widths) x;
    SELECT * INTO n FROM aegis._merged_blocks(_rollup_raw_on_shard.series_id, c_datas, c_counts, NULL, NULL, ends,
                                              max_points, max_bytes, '-infinity', until);
    DELETE FROM aegis.recent_points r WHERE r.series_id = _rollup_raw_on_shard.series_id AND r.ts = ANY (t_ts);
    DELETE FROM aegis.blocks b WHERE b.series_id = _rollup_raw_on_shard.series_id AND b.ts_min = ANY (o_mins);
    PERFORM aegis._insert_blocks(_rollup_raw_on_shard.series_id, n.mins, n.maxs, n.counts_out, n.lows, n.highs,
                                 n.sums, n.firsts, n.lasts, n.datas, n.segmentss);
    block_starts := n.mins;
    block_ends := n.maxs;
END $$;
REVOKE EXECUTE ON FUNCTION aegis._rollup_raw_on_shard(bigint, timestamptz, timestamptz[], integer, integer,
                                                     timestamptz[], timestamptz[], bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION aegis._rollup_raw_on_shard(bigint, timestamptz, timestamptz[], integer, integer, timestamptz[],
                                               timestamptz[], bigint[]) IS
  'aegis.apply_downsampling''s raw part for one series under Citus, delegated to the node that holds its shards: '
  'takes its points before until out of its blocks and recent rows and returns them summarized into each tier''s '
  'steps (aegis._rollup_steps), with the points taken and the time ranges of the blocks written again.';
