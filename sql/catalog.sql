-- Metrics and series catalog (API.md section 2).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT aegis.create_metric('http_requests_total', 'counter', 'requests', 'HTTP requests served');
SELECT aegis.create_metric('cpu.usage');
SELECT name, kind, unit, description, retention, series FROM aegis.metrics ORDER BY name;

-- Errors: duplicate name, bad names, bad kind, NULLs.
SELECT aegis.create_metric('cpu.usage');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.create_metric('9lives');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.create_metric('cpu usage');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.create_metric('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.create_metric(repeat('m', 201));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.create_metric(repeat('m', 200)) IS NOT NULL AS created_200_bytes;
SELECT aegis.drop_metric(repeat('m', 200));
SELECT aegis.create_metric('disk', 'meter');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.create_metric(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A first write creates its metric as a gauge; series are counted.
SELECT aegis.write('mem', '{"host": "a"}', '2024-01-01 00:00:00+00', 1);
SELECT aegis.write('mem', '{"host": "b", "dc": "x"}', '2024-01-01 00:00:00+00', 2);
SELECT aegis.write('http_requests_total', '{}', '2024-01-01 00:00:00+00', 3);
SELECT name, kind, series FROM aegis.metrics ORDER BY name;
SELECT * FROM aegis.metric_names();

-- Key order and whitespace never create a new series.
SELECT aegis.write('mem', '{ "dc":"x",   "host" : "b" }', '2024-01-01 00:00:10+00', 4);
SELECT series_id, metric, tags FROM aegis.series ORDER BY series_id;

SELECT * FROM aegis.tag_keys();
SELECT * FROM aegis.tag_keys('mem{dc="x"}');
SELECT * FROM aegis.tag_values('host');
SELECT * FROM aegis.tag_values('host', 'mem{dc="x"}');
SELECT * FROM aegis.tag_values('nope');

-- drop_metric returns the points removed; discovery is never stale.
SELECT aegis.drop_metric('mem');
SELECT name, series FROM aegis.metrics ORDER BY name;
SELECT * FROM aegis.tag_keys();
SELECT aegis.drop_metric('mem');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- delete_series removes one series and its points.
SELECT aegis.delete_series(series_id) FROM aegis.series WHERE metric = 'http_requests_total';
SELECT aegis.delete_series(12345);
SELECT name, series FROM aegis.metrics ORDER BY name;
SELECT count(*) FROM aegis.points;

-- describe_metric: sets kind, unit and description (NULL keeps a field),
-- creating the metric when it is new; the same checks as create_metric.
SELECT aegis.describe_metric('http_requests_total', NULL, 'requests/s', NULL);
SELECT aegis.describe_metric('queue_depth', 'gauge', 'items', 'Jobs waiting');
SELECT aegis.write('temp', '{}', '2024-01-01 00:00:00+00', 21.5);
SELECT aegis.describe_metric('temp', NULL, 'celsius');
SELECT aegis.describe_metric('temp', 'gauge', NULL, 'Room temperature');
SELECT name, kind, unit, description, series FROM aegis.metrics ORDER BY name;
SELECT aegis.describe_metric('temp', 'meter');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.describe_metric('9lives', 'gauge');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.describe_metric(NULL, 'gauge');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT name FROM aegis.metrics WHERE name = '9lives';

-- Scale-out (docs/scale-out.md): a database without Citus is not
-- distributed, and aegis.distribute() says what it needs.
SELECT aegis.is_distributed();
SELECT aegis.distribute();
SELECT aegis.distribute(0);
SELECT aegis.distribute_series_ids();
SELECT aegis.undistribute();
-- The SQLSTATE: 55000 (object_not_in_prerequisite_state).
DO $$ BEGIN PERFORM aegis.distribute(); EXCEPTION WHEN object_not_in_prerequisite_state THEN RAISE NOTICE '55000'; END $$;

-- One row per metric and tag set (the series_key constraint: a hash index
-- of the series key, metric || ' ' || tags::text, instead of a B-tree of
-- every tag): the same tags in another order are the same series, tags that
-- differ in one character are two, and raw DML cannot add a second row.
SELECT aegis.write('keyed', '{"a": "1", "b": "2"}', '2024-01-01', 1);
SELECT aegis.write('keyed', '{"b":"2",  "a":"1"}', '2024-01-01 00:01', 2);
SELECT aegis.write('keyed', '{"a": "1", "b": "2 "}', '2024-01-01', 3);
SELECT aegis.write('keyed', '{"a": "1", "b ": "2"}', '2024-01-01', 4);
SELECT tags, (SELECT count(*) FROM aegis.read('keyed') r WHERE r.tags = s.tags) AS points
  FROM aegis.series s WHERE metric = 'keyed' ORDER BY series_id;
INSERT INTO aegis.series (metric, tags) VALUES ('keyed', '{"b": "2", "a": "1"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Nor rows whose key would not be exact: tags that are not all strings
-- ({"a": 1} and {"a": 1.0} are equal jsonb), a metric with a space.
INSERT INTO aegis.series (metric, tags) VALUES ('keyed', '{"a": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.series (metric, tags) VALUES ('keyed x', '{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO aegis.series (metric, tags) VALUES ('keyed', '[]');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT indexrelid::regclass AS index, amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_am a ON a.oid = c.relam WHERE indrelid = 'aegis.series'::regclass ORDER BY indexrelid::regclass::text;
-- The lookup of a series by its key (src/pg/catalog.cpp) can use that index.
SET enable_seqscan = off;
PREPARE lookup(text, jsonb) AS SELECT series_id FROM aegis.series
 WHERE (metric || ' ' || tags::text) = ($1 || ' ' || $2::text);
EXPLAIN (COSTS OFF) EXECUTE lookup('keyed', '{"a": "1", "b": "2"}');
DEALLOCATE lookup;
RESET enable_seqscan;
SELECT aegis.drop_metric('keyed');
