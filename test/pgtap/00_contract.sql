-- pgTAP: the SQL contract of API.md — objects, signatures, comments, settings.
LOAD 'aegis_timeseries';
BEGIN;
SELECT plan(49);

SELECT has_schema('aegis');
-- Section 2: catalog.
SELECT has_function('aegis', 'create_metric', ARRAY['text', 'text', 'text', 'text']);
SELECT has_function('aegis', 'describe_metric', ARRAY['text', 'text', 'text', 'text']);
SELECT function_returns('aegis', 'describe_metric', ARRAY['text', 'text', 'text', 'text'], 'void');
SELECT function_returns('aegis', 'create_metric', ARRAY['text', 'text', 'text', 'text'], 'void');
SELECT has_function('aegis', 'drop_metric', ARRAY['text']);
SELECT function_returns('aegis', 'drop_metric', ARRAY['text'], 'bigint');
SELECT has_view('aegis', 'metrics', 'aegis.metrics is a view');
SELECT columns_are('aegis', 'metrics', ARRAY['name', 'kind', 'unit', 'description', 'retention', 'series', 'created_at']);
SELECT has_table('aegis', 'series', 'aegis.series is a table');
SELECT col_type_is('aegis', 'series', 'series_id', 'bigint', 'series.series_id is bigint');
SELECT col_type_is('aegis', 'series', 'metric', 'text', 'series.metric is text');
SELECT col_type_is('aegis', 'series', 'tags', 'jsonb', 'series.tags is jsonb');
SELECT index_is_type('aegis', 'series', 'series_tags_idx', 'gin');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'aegis.series_tags_idx'::regclass), ARRAY['fastupdate=off'],
          'the tags index has no pending list: selector scans never read one');
SELECT has_function('aegis', 'find_series', ARRAY['text']);
SELECT has_function('aegis', 'metric_names', ARRAY[]::text[]);
SELECT has_function('aegis', 'tag_keys', ARRAY['text']);
SELECT has_function('aegis', 'tag_values', ARRAY['text', 'text']);
-- Section 4: writing.
SELECT has_function('aegis', 'write', ARRAY['text', 'jsonb', 'timestamp with time zone', 'double precision']);
SELECT has_function('aegis', 'write', ARRAY['text', 'jsonb', 'timestamp with time zone[]', 'double precision[]']);
SELECT function_returns('aegis', 'write', ARRAY['text', 'jsonb', 'timestamp with time zone[]', 'double precision[]'], 'bigint');
SELECT has_function('aegis', 'write_now', ARRAY['text', 'jsonb', 'double precision']);
SELECT has_foreign_table('aegis', 'points', 'aegis.points is a foreign table');
SELECT columns_are('aegis', 'points', ARRAY['metric', 'tags', 'ts', 'value']);
SELECT is((SELECT w.fdwname::text FROM pg_foreign_table t JOIN pg_foreign_server s ON s.oid = t.ftserver
            JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw WHERE t.ftrelid = 'aegis.points'::regclass),
          'aegis_points', 'aegis.points is served by the extension''s wrapper');
-- Section 5: reading.
SELECT has_function('aegis', 'read', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('aegis', 'latest', ARRAY['text']);
SELECT has_function('aegis', 'time_bucket', ARRAY['interval', 'timestamp with time zone']);
SELECT has_function('aegis', 'time_bucket', ARRAY['interval', 'timestamp with time zone', 'timestamp with time zone']);
SELECT has_function('aegis', 'time_bucket', ARRAY['interval', 'timestamp with time zone', 'interval']);
SELECT has_function('aegis', 'time_bucket', ARRAY['interval', 'timestamp with time zone', 'text', 'timestamp with time zone', 'interval']);
SELECT volatility_is('aegis', 'time_bucket', ARRAY['interval', 'timestamp with time zone'], 'immutable');
SELECT is_strict('aegis', 'time_bucket', ARRAY['interval', 'timestamp with time zone']);
SELECT has_function('aegis', 'aggregate', ARRAY['text', 'text', 'timestamp with time zone', 'timestamp with time zone', 'interval', 'text[]', 'text']);
SELECT is_aggregate('aegis', 'first', ARRAY['double precision', 'timestamp with time zone']);
SELECT is_aggregate('aegis', 'last', ARRAY['double precision', 'timestamp with time zone']);
-- Section 6: lifecycle.
SELECT has_function('aegis', 'compress', ARRAY['interval']);
SELECT function_returns('aegis', 'compress', ARRAY['interval'], 'bigint');
SELECT has_function('aegis', 'delete_series', ARRAY['bigint']);
SELECT function_returns('aegis', 'delete_series', ARRAY['bigint'], 'boolean');
SELECT has_view('aegis', 'stats', 'aegis.stats is a view');
SELECT columns_are('aegis', 'stats', ARRAY['metric', 'series', 'points', 'compressed_points', 'blocks',
                                          'compressed_bytes', 'bytes_per_point', 'oldest', 'newest']);
-- Settings and their defaults.
SELECT is(current_setting('aegis.max_series_per_metric'), '100000', 'aegis.max_series_per_metric defaults to 100000');
SELECT is(current_setting('aegis.compress_after'), '10 minutes', 'aegis.compress_after defaults to 10 minutes');
-- API.md says 1000; blocks are cut by size too since issue 10's storage target (docs/block-format.md section 12).
SELECT is(current_setting('aegis.block_max_points'), '10000', 'aegis.block_max_points defaults to 10000');
SELECT is(current_setting('aegis.block_max_bytes'), '4080B', 'aegis.block_max_bytes defaults to 4080 bytes');

-- Every function, aggregate and view carries a COMMENT.
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p
   WHERE p.pronamespace = 'aegis'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL $$,
  'every function in schema aegis has a comment');
-- Every catalog table is kept by pg_dump.
SELECT set_eq($$ SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) t(oid) JOIN pg_class c ON c.oid = t.oid
                  WHERE e.extname = 'aegis_timeseries' AND c.relkind = 'r' $$,
              ARRAY['metric_catalog', 'series', 'recent_points', 'block_partitions', 'block_spans', 'rollups', 'last_points',
                    'packed_points'],
              'every table is marked with pg_extension_config_dump');

SELECT * FROM finish();
ROLLBACK;
