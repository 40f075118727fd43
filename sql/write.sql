-- Writing points (API.md section 4).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- One point, a batch, write_now, INSERT and COPY into aegis.points.
SELECT aegis.write('temp', '{"room": "a"}', '2024-03-01 12:00:00+00', 21.5);
SELECT aegis.write('temp', '{"room": "a"}',
                   ARRAY['2024-03-01 12:00:10+00', '2024-03-01 12:00:20+00']::timestamptz[],
                   ARRAY[21.6, 21.7]);
BEGIN;
SELECT aegis.write_now('temp', '{"room": "now"}', 1);
SELECT ts = now() AS stamped_now FROM aegis.read('temp{room="now"}');
ROLLBACK;
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('temp', '{"room": "b"}', '2024-03-01 12:00:00+00', 19.0),
  ('temp', '{"room": "b"}', '2024-03-01 12:00:10+00', 19.25);
COPY aegis.points (metric, tags, ts, value) FROM stdin;
temp	{"room": "b"}	2024-03-01 12:00:20+00	19.5
humidity	{"room": "b"}	2024-03-01 12:00:20+00	40
\.
SELECT metric, tags, ts, value FROM aegis.points ORDER BY metric, tags, ts;
SELECT name, kind, series FROM aegis.metrics ORDER BY name;

-- Last write wins on (series, ts): in a single write, inside a batch, and
-- when the earlier point is already compressed.
SELECT aegis.write('temp', '{"room": "a"}', '2024-03-01 12:00:00+00', 99);
-- (A batch returns the points it wrote after duplicates collapsed: 1 here.)
SELECT aegis.write('temp', '{"room": "a"}',
                   ARRAY['2024-03-01 12:00:10+00', '2024-03-01 12:00:10+00']::timestamptz[],
                   ARRAY[1, 2]);
SELECT ts, value FROM aegis.read('temp{room="a"}');
SELECT aegis.compress('0');
SELECT aegis.write('temp', '{"room": "a"}', '2024-03-01 12:00:20+00', -1);
SELECT ts, value FROM aegis.read('temp{room="a"}');
SELECT aegis.compress('0');
SELECT ts, value FROM aegis.read('temp{room="a"}');
SELECT point_count FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.tags = '{"room": "a"}';

-- A batch of at least aegis.block_max_points points goes straight into blocks.
SET aegis.block_max_points = 100;
SELECT aegis.write('load', '{"host": "h1"}',
                   ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(0, 249) i),
                   ARRAY(SELECT i / 4.0 FROM generate_series(0, 249) i));
SELECT count(*) AS recent_rows FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric = 'load';
SELECT point_count, ts_min, ts_max, min_value, max_value, sum_value, first_value, last_value
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'load' ORDER BY ts_min;
-- ... and replaces older recent and compressed points it overlaps.
SELECT aegis.write('load', '{"host": "h1"}', '2024-01-01 00:10:00+00', 1000);
SELECT aegis.write('load', '{"host": "h1"}',
                   ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 minute' FROM generate_series(5, 154) i),
                   ARRAY(SELECT -i FROM generate_series(5, 154) i));
SELECT count(*), sum(value), min(value), max(value) FROM aegis.read('load');
SELECT count(*) AS recent_rows FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric = 'load';
RESET aegis.block_max_points;

-- INSERT and COPY into aegis.points are buffered per series for the
-- statement: a statement with at least aegis.block_max_points points of a
-- series writes them straight into blocks, duplicates keep the last row,
-- and a rolled-back savepoint drops what it buffered.
SET aegis.block_max_points = 100;
INSERT INTO aegis.points SELECT 'bulk', '{"host": "h1"}', '2024-02-01'::timestamptz + (i % 150) * interval '1 s', i
  FROM generate_series(0, 299) i;
SELECT count(*), min(value), max(value) FROM aegis.read('bulk');
SELECT (SELECT count(*) FROM aegis.recent_points r JOIN aegis.series s USING (series_id) WHERE s.metric = 'bulk') AS recent,
       (SELECT sum(point_count) FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'bulk') AS in_blocks;
RESET aegis.block_max_points;
BEGIN;
INSERT INTO aegis.points VALUES ('sp', '{}', '2024-01-01', 1);
SAVEPOINT s;
INSERT INTO aegis.points VALUES ('sp', '{}', '2024-01-02', 2), ('sp', '{}', '2024-01-03', 'NaN'), ('sp', '{"x": 1}', '2024-01-04', 3);
ROLLBACK TO SAVEPOINT s;
INSERT INTO aegis.points VALUES ('sp', '{}', '2024-01-05', 5);
COMMIT;
SELECT ts, value FROM aegis.read('sp');

-- Bad input: each fails with its SQLSTATE and leaves nothing behind.
SELECT aegis.write(NULL, '{}', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', NULL, now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', NULL::timestamptz, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', now(), NULL::float8);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '["a"]', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '"a"', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{"room": 1}', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{"room": {"floor": "1"}}', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{"": "x"}', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', 'infinity', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', '-infinity', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('bad name', '{}', now(), 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', ARRAY[now()], ARRAY[1.0, 2.0]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', ARRAY[now(), NULL], ARRAY[1.0, 2.0]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', ARRAY[now()], ARRAY[NULL::float8]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', ARRAY['2024-01-01', 'infinity']::timestamptz[], ARRAY[1.0, 2.0]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', ARRAY[[now()]], ARRAY[[1.0]]);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('temp', '{}', ARRAY[]::timestamptz[], ARRAY[]::float8[]);
INSERT INTO aegis.points VALUES ('temp', '{"room": "z"}', '2024-01-01', 1), ('temp', '{"room": "z"}', NULL, 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS series_of_failed_statements FROM aegis.series WHERE tags IN ('{}', '{"room": "z"}');

-- Every float8 bit pattern round-trips, compressed or not.
SELECT aegis.write('bits', '{}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(1, 6) i),
                   ARRAY['NaN', '-0', 'Infinity', '-Infinity', '4.9e-324', '1.7976931348623157e308']::float8[]);
SELECT ts, value, float8send(value) FROM aegis.read('bits');
SELECT aegis.compress('0') > 0 AS compressed;
SELECT ts, value, float8send(value) FROM aegis.read('bits');

-- The cardinality limit: series number max + 1 fails with 54000 and registers nothing.
SET aegis.max_series_per_metric = 2;
SELECT aegis.write('limited', '{"i": "1"}', '2024-01-01', 1);
SELECT aegis.write('limited', '{"i": "2"}', '2024-01-01', 1);
SELECT aegis.write('limited', '{"i": "3"}', '2024-01-01', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('limited', '{"i": "2"}', '2024-01-02', 2);
SELECT aegis.write('limited2', '{"i": "1"}', '2024-01-01', 1), aegis.write('limited2', '{"i": "2"}', '2024-01-01', 1),
       aegis.write('limited2', '{"i": "3"}', '2024-01-01', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET aegis.max_series_per_metric;
SELECT name, series FROM aegis.metrics WHERE name LIKE 'limited%' ORDER BY name;
SELECT tags FROM aegis.series WHERE metric LIKE 'limited%' ORDER BY series_id;

-- A series key (metric name and tags) is limited to what the catalog's unique
-- index can hold: beyond it a clear 54000, not the index's own error; an
-- existing series is still found by its tags.
SELECT aegis.write('bigtags', jsonb_build_object('k', repeat('v', 2560)), '2024-01-01', 1);
SELECT aegis.write('bigtags', jsonb_build_object('k', repeat('v', 2600)), '2024-01-01', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.points SELECT 'bigtags', jsonb_build_object('k', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i)), '2024-01-01', 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.write('bigtags', jsonb_build_object('k', repeat('v', 2560)), '2024-01-02', 2);
SELECT count(*) AS series, sum(octet_length(tags::text)) AS tag_bytes FROM aegis.series WHERE metric = 'bigtags';

-- A subtransaction that aborts while rows are buffered drops only the rows
-- it buffered itself: here every row's value runs a PL/pgSQL block whose
-- EXCEPTION clause rolls back a subtransaction.
CREATE FUNCTION pg_temp.v(i int) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN BEGIN PERFORM 1/0; EXCEPTION WHEN division_by_zero THEN NULL; END; RETURN i; END $$;
INSERT INTO aegis.points SELECT 'subx', '{}', '2024-01-01'::timestamptz + i * interval '1 s', pg_temp.v(i)
  FROM generate_series(1, 3) i;
SELECT count(*) AS all_three FROM aegis.read('subx');
-- A function that inserts inside its own exception block and fails for even
-- i: the outer statement keeps all its rows, the inner ones of even i go.
CREATE FUNCTION pg_temp.w(i int) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    INSERT INTO aegis.points VALUES ('subx_inner', '{}', '2024-01-01'::timestamptz + i * interval '1 s', i);
    IF i % 2 = 0 THEN RAISE division_by_zero; END IF;
  EXCEPTION WHEN division_by_zero THEN NULL;
  END;
  RETURN i;
END $$;
INSERT INTO aegis.points SELECT 'subx_outer', '{}', '2024-01-01'::timestamptz + i * interval '1 s', pg_temp.w(i)
  FROM generate_series(1, 4) i;
SELECT metric, string_agg(value::text, ',' ORDER BY ts) FROM aegis.read('{__name__=~"subx_.*"}') GROUP BY 1 ORDER BY 1;
-- A savepoint rolled back by the client behaves the same way.
BEGIN;
INSERT INTO aegis.points VALUES ('subx_sp', '{}', '2024-01-01', 1);
SAVEPOINT a;
INSERT INTO aegis.points SELECT 'subx_sp', '{}', '2024-01-01'::timestamptz + i * interval '1 s', pg_temp.v(i)
  FROM generate_series(2, 3) i;
ROLLBACK TO SAVEPOINT a;
INSERT INTO aegis.points SELECT 'subx_sp', '{}', '2024-01-01'::timestamptz + i * interval '1 s', pg_temp.v(i)
  FROM generate_series(4, 5) i;
COMMIT;
SELECT string_agg(value::text, ',' ORDER BY ts) AS kept FROM aegis.read('subx_sp');
