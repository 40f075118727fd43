-- pgTAP: every documented error of API.md sections 2-6 with its SQLSTATE, and
-- that a failed statement leaves nothing behind.
BEGIN;
SELECT plan(24);

SELECT lives_ok($$ SELECT aegis.create_metric('tap_metric', 'counter') $$, 'create_metric');
SELECT throws_ok($$ SELECT aegis.create_metric('tap_metric') $$, '42710', NULL, 'existing metric name');
SELECT throws_ok($$ SELECT aegis.create_metric('1bad') $$, '22023', NULL, 'bad metric name');
SELECT throws_ok($$ SELECT aegis.create_metric('tap2', 'meter') $$, '22023', NULL, 'bad metric kind');
SELECT throws_ok($$ SELECT aegis.drop_metric('no_such_metric') $$, '42704', NULL, 'drop of an unknown metric');
SELECT throws_ok($$ SELECT aegis.write('tap_metric', NULL, now(), 1) $$, '22004', NULL, 'NULL tags');
SELECT throws_ok($$ SELECT aegis.write('tap_metric', '[1]', now(), 1) $$, '22023', NULL, 'non-object tags');
SELECT throws_ok($$ SELECT aegis.write('tap_metric', '{"a": true}', now(), 1) $$, '22023', NULL, 'non-string tag');
SELECT throws_ok($$ SELECT aegis.write('tap_metric', '{}', ARRAY[now()], ARRAY[1.0, 2.0]) $$, '2202E', NULL,
                 'unequal arrays');
SELECT throws_ok($$ SELECT aegis.write('tap_metric', '{}', 'infinity', 1) $$, '22008', NULL, 'infinite ts');
SELECT throws_ok($$ SELECT aegis.write('x y', '{}', now(), 1) $$, '22023', NULL, 'bad name on write');
SELECT throws_ok($$ SELECT * FROM aegis.find_series('cpu{host=}') $$, '42601', NULL, 'malformed selector');
SELECT throws_ok($$ SELECT * FROM aegis.find_series('cpu{host=~"("}') $$, '2201B', NULL, 'malformed regex');
SELECT throws_ok($$ SELECT * FROM aegis.read('cpu', NULL) $$, '22004', NULL, 'NULL since');

-- The cardinality limit registers nothing.
SET LOCAL aegis.max_series_per_metric = 1;
SELECT lives_ok($$ SELECT aegis.write('tap_limit', '{"i": "1"}', now(), 1) $$, 'first series within the limit');
SELECT throws_ok($$ SELECT aegis.write('tap_limit', '{"i": "2"}', now(), 1) $$, '54000', NULL, 'series over the limit');
SELECT is((SELECT count(*) FROM aegis.series WHERE metric = 'tap_limit'), 1::bigint, 'the failed write registered no series');
SELECT throws_ok($$ SELECT aegis.write('tap_new_metric', '{"i": "1"}', now(), 1), aegis.write('tap_new_metric', '{"i": "2"}', now(), 1) $$,
                 '54000', NULL, 'limit hit in the statement that creates the metric');
SELECT is((SELECT count(*) FROM aegis.metric_catalog WHERE name = 'tap_new_metric'), 0::bigint,
          'the failed statement did not create the metric');
RESET aegis.max_series_per_metric;

-- A failed batch leaves none of its points.
SELECT throws_ok($$ SELECT aegis.write('tap_batch', '{}', ARRAY['2024-01-01', '2024-01-02', NULL]::timestamptz[], ARRAY[1, 2, 3]) $$,
                 '22004', NULL, 'NULL inside a batch');
SELECT is((SELECT count(*) FROM aegis.read('tap_batch')), 0::bigint, 'no point of the failed batch is kept');
SELECT throws_ok($$ INSERT INTO aegis.points VALUES ('tap_copy', '{}', '2024-01-01', 1), ('tap_copy', '{"a": 1}', '2024-01-01', 2) $$,
                 '22023', NULL, 'bad row in a multi-row INSERT');
SELECT is((SELECT count(*) FROM aegis.series WHERE metric = 'tap_copy'), 0::bigint, 'no series of the failed INSERT is kept');
SELECT throws_ok($$ SELECT aegis.delete_series(NULL) $$, '22004', NULL, 'NULL series id');

SELECT * FROM finish();
ROLLBACK;
