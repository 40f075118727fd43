-- Reading points (API.md section 5): read and latest.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Two series; part of each compressed, part recent, written out of order.
SELECT aegis.write('cpu', '{"host": "a"}', ARRAY['2024-01-01 00:00:30+00', '2024-01-01 00:00:00+00',
                   '2024-01-01 00:00:20+00', '2024-01-01 00:00:10+00']::timestamptz[], ARRAY[3, 0, 2, 1]);
SELECT aegis.write('cpu', '{"host": "b"}', '2024-01-01 00:00:05+00', 10);
SELECT aegis.compress('0');
SELECT aegis.write('cpu', '{"host": "a"}', '2024-01-01 00:00:40+00', 4);
SELECT aegis.write('cpu', '{"host": "a"}', '2024-01-01 00:00:15+00', 1.5);  -- late, inside a block
SELECT aegis.write('cpu', '{"host": "b"}', '2024-01-01 00:00:01+00', 9);    -- late, before the block
SELECT series_id, metric, tags, ts, value FROM aegis.read('cpu');

-- Ranges are half-open: since <= ts < until.
SELECT ts, value FROM aegis.read('cpu{host="a"}', '2024-01-01 00:00:10+00', '2024-01-01 00:00:30+00');
SELECT ts, value FROM aegis.read('cpu{host="a"}', '2024-01-01 00:00:15+00', '2024-01-01 00:00:15.000001+00');
SELECT count(*) FROM aegis.read('cpu', '2024-01-01 00:00:30+00', '2024-01-01 00:00:30+00');
SELECT count(*) FROM aegis.read('cpu', '2024-01-02', '2024-01-01');
SELECT count(*) FROM aegis.read('cpu', '-infinity', '-infinity');
SELECT count(*) FROM aegis.read('cpu', '2023-01-01');

-- latest is the true newest point of each series, recent or compressed.
SELECT series_id, tags, ts, value FROM aegis.latest('cpu');
SELECT aegis.compress('0');
SELECT series_id, tags, ts, value FROM aegis.latest('cpu');
SELECT aegis.write('cpu', '{"host": "a"}', '2024-01-01 00:00:40+00', 44);   -- replaces the newest, now compressed
SELECT series_id, tags, ts, value FROM aegis.latest('cpu{host="a"}');
SELECT aegis.create_metric('empty');
SELECT * FROM aegis.latest('empty');

-- Bad arguments.
SELECT * FROM aegis.read(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.read('cpu', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.read('cpu{');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.latest(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- One series' points; read() is the catalog joined to them, as EXPLAIN shows.
SELECT * FROM aegis.series_points((SELECT series_id FROM aegis.series WHERE tags = '{"host": "a"}'),
                                  '2024-01-01 00:00:10+00', '2024-01-01 00:00:30+00');
EXPLAIN (COSTS OFF) SELECT * FROM aegis.read('cpu');
-- Conditions on aegis.points' metric and tags choose series through the
-- catalog's indexes before any point is read.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM aegis.points WHERE metric = 'cpu' AND tags @> '{"host": "a"}';
RESET enable_seqscan;
SELECT count(*), sum(value) FROM aegis.points WHERE metric = 'cpu' AND tags @> '{"host": "a"}';

-- aegis.points reads everything and composes with plain SQL.
SELECT metric, tags ->> 'host' AS host, count(*), min(ts), max(ts), sum(value)
  FROM aegis.points GROUP BY 1, 2 ORDER BY 1, 2;
