-- Privileges and row-level security (docs/security.md).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['aegis_tenant_a', 'aegis_tenant_b', 'aegis_writer', 'aegis_reader'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('DROP OWNED BY %I', r);
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END $$;
-- Blocks of at most 1,000 points, which this test's blocks were laid out
-- for (several blocks a series); blocks cut by size: lifecycle.sql.
SET aegis.block_max_points = 1000;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Least privilege, exactly as docs/security.md grants it.
CREATE ROLE aegis_writer;
GRANT USAGE ON SCHEMA aegis TO aegis_writer;
GRANT EXECUTE ON FUNCTION aegis.write(text, jsonb, timestamptz, double precision),
                          aegis.write(text, jsonb, timestamptz[], double precision[]),
                          aegis.write_now(text, jsonb, double precision) TO aegis_writer;
GRANT INSERT ON aegis.points TO aegis_writer;
CREATE ROLE aegis_reader;
GRANT USAGE ON SCHEMA aegis TO aegis_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA aegis TO aegis_reader;

-- The writer writes through write, INSERT and COPY ...
SET ROLE aegis_writer;
SELECT aegis.write('cpu', '{"host": "a"}', '2024-01-01 00:00', 1);
SELECT aegis.write('cpu', '{"host": "a"}', ARRAY['2024-01-01 00:01', '2024-01-01 00:02']::timestamptz[], ARRAY[2, 3]);
INSERT INTO aegis.points VALUES ('cpu', '{"host": "b"}', '2024-01-01 00:00', 10);
COPY aegis.points FROM stdin;
cpu	{"host": "b"}	2024-01-01 00:01:00	11
\.
RESET ROLE;
-- aegis.last_points is brought up to date as a write commits, as the
-- tables' owner: nothing of the writer's session may run there. A writer
-- that shadows >= for timestamps in its own schema on its search_path is not
-- called (the commit would fail with "hijacked" otherwise).
CREATE SCHEMA aegis_writer_own AUTHORIZATION aegis_writer;
SET ROLE aegis_writer;
CREATE FUNCTION aegis_writer_own.ge(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'hijacked as %', current_user; END $$;
CREATE OPERATOR aegis_writer_own.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = aegis_writer_own.ge);
SET search_path = aegis_writer_own, pg_catalog;
SELECT aegis.write('lv', '{"host": "a"}', '2024-01-01 00:05', 5);
SELECT aegis.write('lv', '{"host": "a"}', '2024-01-01 00:06', 6);
RESET search_path;
RESET ROLE;
SELECT ts, value FROM aegis.latest('lv{host="a"}');
DROP SCHEMA aegis_writer_own CASCADE;
-- A role that writes and reads sees its own writes in latest before it
-- commits (read from storage with its own rights).
GRANT EXECUTE ON FUNCTION aegis.write(text, jsonb, timestamptz, double precision) TO aegis_reader;
BEGIN;
SET LOCAL ROLE aegis_reader;
SELECT aegis.write('lv', '{"host": "a"}', '2024-01-01 00:07', 7);
SELECT ts, value FROM aegis.latest('lv{host="a"}');
ROLLBACK;
REVOKE EXECUTE ON FUNCTION aegis.write(text, jsonb, timestamptz, double precision) FROM aegis_reader;
SELECT aegis.drop_metric('lv') > 0 AS dropped;
SET ROLE aegis_writer;

-- ... and holds no privilege on the stored data: it can neither read nor
-- change blocks, recent rows or the catalog, nor run maintenance.
SELECT count(*) FROM aegis.blocks;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE aegis.blocks SET data = '\x00';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM aegis.recent_points;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.series (metric, tags) VALUES ('cpu', '{"host": "x"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.compress('0');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.delete_series(1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.drop_metric('cpu');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.read('cpu');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT aegis.compress('0');

-- The reader reads through every path and writes through none. It needs no
-- privilege on the partition tables (the engine reads them as the tables'
-- owner to bound a range's blocks).
REVOKE SELECT ON aegis.block_partitions, aegis.block_spans FROM aegis_reader;
SET ROLE aegis_reader;
SELECT tags, ts, value FROM aegis.read('cpu') ORDER BY tags, ts;
SELECT tags, value FROM aegis.latest('cpu') ORDER BY tags;
SELECT tags, value FROM aegis.aggregate('cpu', 'sum', '2024-01-01', '2024-01-02') ORDER BY tags;
SELECT metric, series, points FROM aegis.stats;
SELECT count(*) FROM aegis.points;
SELECT count(*) FROM aegis.points WHERE ts >= '2024-01-01 00:01' AND ts < '2024-01-02';
SELECT aegis.write('cpu', '{"host": "a"}', '2024-01-01 00:03', 4);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.points VALUES ('cpu', '{"host": "a"}', '2024-01-01 00:03', 4);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE aegis.blocks SET data = '\x00';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A policy of the administrator's own on aegis.blocks holds on every read
-- path too (the engine reads a partition directly only where no policy
-- applies to the caller), and with row_security off a read the policies
-- would change fails as a statement over aegis.blocks does.
CREATE POLICY no_old_blocks ON aegis.blocks AS RESTRICTIVE TO aegis_reader USING (ts_min >= '2024-01-01 00:02');
SET ROLE aegis_reader;
SELECT tags, value FROM aegis.aggregate('cpu', 'count', '2024-01-01', '2024-01-02') ORDER BY tags;
SELECT count(*) FROM aegis.points WHERE ts >= '2024-01-01' AND ts < '2024-01-02';
SET row_security = off;
SELECT count(*) FROM aegis.aggregate('cpu', 'count', '2024-01-01', '2024-01-02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET row_security;
RESET ROLE;
DROP POLICY no_old_blocks ON aegis.blocks;

-- Row-level security: a policy on the series catalog decides which series,
-- and so which points, a role sees, on every path.
SELECT aegis.write('cpu', jsonb_build_object('host', 'h' || i, 'tenant', t),
                   ARRAY(SELECT '2024-01-02'::timestamptz + k * interval '1 min' FROM generate_series(0, 1499) k),
                   ARRAY(SELECT k::float8 FROM generate_series(0, 1499) k))
  FROM generate_series(1, 2) i, unnest(ARRAY['a', 'b']) t;
SELECT aegis.write('cpu', jsonb_build_object('host', 'h' || i, 'tenant', t), '2024-01-03', 7)
  FROM generate_series(1, 2) i, unnest(ARRAY['a', 'b']) t;
SELECT aegis.write('mem', '{"host": "h1", "tenant": "b"}', '2024-01-03', 8);
CREATE ROLE aegis_tenant_a IN ROLE aegis_reader, aegis_writer;
CREATE ROLE aegis_tenant_b IN ROLE aegis_reader, aegis_writer;
GRANT EXECUTE ON FUNCTION aegis.delete_series(bigint), aegis.drop_metric(text) TO aegis_tenant_a;
ALTER TABLE aegis.series ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_a ON aegis.series TO aegis_tenant_a USING (tags @> '{"tenant": "a"}');
CREATE POLICY tenant_b ON aegis.series TO aegis_tenant_b USING (tags @> '{"tenant": "b"}');

SET ROLE aegis_tenant_a;
SELECT metric, tags FROM aegis.find_series('{__name__=~".+"}') ORDER BY series_id;
SELECT tags, count(*), sum(value) FROM aegis.read('cpu') GROUP BY tags ORDER BY tags;
SELECT tags, ts, value FROM aegis.latest('{__name__=~".+"}') ORDER BY tags;
SELECT tags, value FROM aegis.aggregate('cpu', 'count', '2024-01-01', '2024-01-04', NULL, '{tenant}');
SELECT * FROM aegis.tag_keys();
SELECT * FROM aegis.tag_values('tenant');
SELECT metric, series, points, compressed_points, blocks FROM aegis.stats ORDER BY metric;
SELECT name, series FROM aegis.metrics ORDER BY name;
SELECT tags, count(*) FROM aegis.points GROUP BY tags ORDER BY tags;
-- Direct reads of the extension's tables show only tenant a's rows.
SELECT count(*) AS series FROM aegis.series;
SELECT count(DISTINCT series_id) AS series_with_blocks, sum(point_count) AS block_points FROM aegis.blocks;
SELECT count(DISTINCT series_id) AS series_with_recent, count(*) AS recent_points FROM aegis.recent_points;
-- Another tenant's series id gives nothing, and cannot be deleted.
RESET ROLE;
SELECT series_id AS b_series FROM aegis.series WHERE tags = '{"host": "h1", "tenant": "b"}' AND metric = 'cpu' \gset
SET ROLE aegis_tenant_a;
SELECT count(*) FROM aegis.series_points(:b_series);
SELECT aegis.delete_series(:b_series);
-- A writer may only write to series it can see.
SELECT aegis.write('cpu', '{"host": "h1", "tenant": "b"}', '2024-01-03', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.points VALUES ('cpu', '{"host": "h9", "tenant": "b"}', '2024-01-03', -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('cpu', '{"host": "h9", "tenant": "a"}', '2024-01-03', 9);
-- A metric with series the role cannot see cannot be dropped by it.
SELECT aegis.drop_metric('cpu');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- At the series limit, the error does not tell how many series (of other
-- tenants) the metric has.
RESET ROLE;
SET aegis.max_series_per_metric = 1;
SET ROLE aegis_tenant_a;
SELECT aegis.write('cpu', '{"host": "h10", "tenant": "a"}', '2024-01-03', 10);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
RESET aegis.max_series_per_metric;
SELECT tags, count(*), min(value), max(value) FROM aegis.read('cpu', '2024-01-03', '2024-01-04') GROUP BY tags ORDER BY tags;
SELECT count(*) AS series FROM aegis.series;

-- No read path runs with its owner's rights (the one SECURITY DEFINER
-- function is run_maintenance, which records job state as the owner and is
-- not executable by PUBLIC), and every function that runs
-- SQL pins its search_path (the SQL functions PostgreSQL inlines excepted:
-- a SET would stop the inlining; they name everything with its schema).
SELECT p.oid::regprocedure AS security_definer, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_run
  FROM pg_proc p
 WHERE p.pronamespace = 'aegis'::regnamespace AND p.prosecdef ORDER BY p.oid::regprocedure::text;
-- Listed here: the inlined SQL functions, and C functions that run no SQL
-- (or only as the tables' owner with search_path pinned: the row trigger).
SELECT p.oid::regprocedure AS without_pinned_search_path, l.lanname
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'aegis'::regnamespace AND p.prokind = 'f'
   AND NOT coalesce(array_to_string(p.proconfig, ',') LIKE '%search_path%', false)
 ORDER BY p.oid::regprocedure::text COLLATE "C";

-- Names, tag keys and values with quotes, backslashes and SQL fragments are
-- stored and matched literally.
SELECT aegis.write('odd', '{"k''ey": "v\"al\\ue; DROP TABLE aegis.blocks; --", "a b": "%_*"}', '2024-01-01', 1);
SELECT metric, tags FROM aegis.find_series('odd{"k''ey"="v\"al\\ue; DROP TABLE aegis.blocks; --"}');
SELECT count(*) FROM aegis.find_series('odd{"a b"="%_*"}');
SELECT count(*) FROM aegis.find_series('odd{"a b"="%_x"}');
SELECT count(*) FROM aegis.find_series('odd{"a b"=~"%_\\*"}');
SELECT count(*) AS blocks_table_still_there FROM aegis.blocks WHERE false;

ALTER TABLE aegis.series DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_a ON aegis.series;
DROP POLICY tenant_b ON aegis.series;
DROP EXTENSION aegis_timeseries;
DROP OWNED BY aegis_tenant_a, aegis_tenant_b, aegis_writer, aegis_reader;
DROP ROLE aegis_tenant_a;
DROP ROLE aegis_tenant_b;
DROP ROLE aegis_writer;
DROP ROLE aegis_reader;
