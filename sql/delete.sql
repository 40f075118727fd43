-- aegis.delete(selector, since, until) (API.md section 6): points deleted at
-- point granularity, in recent rows and inside compressed blocks, counted as
-- aegis.read returned them.
SET TIME ZONE 'UTC';
SET aegis.block_max_points = 100;
-- 250 points at 1 s in three blocks (100, 100, 50), then recent points: one
-- replacing a compressed point, two after the blocks.
SELECT aegis.write('del', '{"h": "a"}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 249) i),
                   ARRAY(SELECT i::float8 FROM generate_series(0, 249) i));
SELECT aegis.write('del', '{"h": "a"}', '2024-01-01 00:00:50', -50);
SELECT aegis.write('del', '{"h": "a"}', ARRAY['2024-01-01 00:05:00', '2024-01-01 00:05:01']::timestamptz[], ARRAY[300, 301]);
SELECT aegis.write('del', '{"h": "b"}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 249) i),
                   ARRAY(SELECT i::float8 FROM generate_series(0, 249) i));
SELECT tags, count(*) FROM aegis.read('del') GROUP BY 1 ORDER BY 1::text;

-- Inside one block, across the replaced point: 40..59 is 20 points.
SELECT aegis.delete('del{h="a"}', '2024-01-01 00:00:40', '2024-01-01 00:01:00');
SELECT count(*), min(ts), max(ts) FROM aegis.read('del{h="a"}', '2024-01-01 00:00:30', '2024-01-01 00:01:10');
-- Across two blocks and into the recent points: 190..249 and 00:05:00 (61).
SELECT aegis.delete('del{h="a"}', '2024-01-01 00:03:10', '2024-01-01 00:05:01');
SELECT ts, value FROM aegis.read('del{h="a"}', '2024-01-01 00:03:05', 'infinity');
-- Nothing in range, an empty or inverted range, a selector matching nothing: 0.
SELECT aegis.delete('del{h="a"}', '2024-01-01 00:00:40', '2024-01-01 00:01:00') AS again,
       aegis.delete('del', '2024-01-02', '2024-01-02') AS empty,
       aegis.delete('del', '2024-01-02', '2024-01-01') AS inverted,
       aegis.delete('nosuchmetric') AS no_series;
-- The rewritten blocks are whole, disjoint and in order; the other series is untouched.
SELECT s.tags, count(*) AS blocks, sum(b.point_count) AS block_points,
       bool_and(b.ts_min <= b.ts_max) AS ordered
  FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'del' GROUP BY 1 ORDER BY 1::text;
SELECT tags, count(*) FROM aegis.read('del') GROUP BY 1 ORDER BY 1::text;
SELECT metric, series, points FROM aegis.stats WHERE metric = 'del';
-- Everything of a metric, with the defaults: the series stay, empty.
SELECT aegis.delete('del');
SELECT count(*) AS points, (SELECT count(*) FROM aegis.series WHERE metric = 'del') AS series,
       (SELECT count(*) FROM aegis.blocks b JOIN aegis.series s USING (series_id) WHERE s.metric = 'del') AS blocks
  FROM aegis.read('del');
-- A late write after a delete is there.
SELECT aegis.write('del', '{"h": "a"}', '2024-01-01 00:00:45', 45);
SELECT ts, value FROM aegis.read('del');

-- Errors: NULLs, a bad selector.
SELECT aegis.delete(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.delete('del', NULL, 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis.delete('del{h=~"("}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Only roles granted EXECUTE delete.
CREATE ROLE del_nobody;
GRANT USAGE ON SCHEMA aegis TO del_nobody;
SET ROLE del_nobody;
SELECT aegis.delete('del');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA aegis FROM del_nobody;
DROP ROLE del_nobody;
SELECT aegis.drop_metric('del');

-- DELETE FROM aegis.points: the points its WHERE finds, in blocks and in
-- recent rows, each once (a recent row over a block point goes with it);
-- RETURNING shows them; the count is what went.
SELECT aegis.write('delv', '{"h": "a"}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 249) i),
                   ARRAY(SELECT i::float8 FROM generate_series(0, 249) i));
SELECT aegis.write('delv', '{"h": "a"}', '2024-01-01 00:00:10', -10);   -- a recent row over a block point
SELECT aegis.write('delv', '{"h": "b"}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 9) i),
                   ARRAY(SELECT i::float8 FROM generate_series(0, 9) i));
DELETE FROM aegis.points
 WHERE metric = 'delv' AND tags ->> 'h' = 'a' AND ts >= '2024-01-01 00:00:05' AND ts < '2024-01-01 00:00:15'
RETURNING ts, value;
WITH d AS (DELETE FROM aegis.points WHERE metric = 'delv' AND value >= 200 RETURNING 1) SELECT count(*) AS deleted FROM d;
SELECT tags, count(*), min(ts), max(ts) FROM aegis.read('delv') GROUP BY 1 ORDER BY 1::text;
SELECT count(*) AS block_points_left FROM aegis.blocks b JOIN aegis.series s USING (series_id)
 WHERE s.metric = 'delv' AND b.ts_min <= '2024-01-01 00:00:14' AND b.ts_max >= '2024-01-01 00:00:05'
   AND aegis._block_point_matches(b.series_id, b.data, ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s'
                                                               FROM generate_series(5, 14) i)) > 0;
-- In a transaction rolled back, nothing is lost.
BEGIN;
DELETE FROM aegis.points WHERE metric = 'delv';
SELECT count(*) AS inside FROM aegis.read('delv');
ROLLBACK;
SELECT count(*) AS after_rollback FROM aegis.read('delv');
-- A role needs DELETE on aegis.points; row-level security limits what it sees
-- and so what it deletes.
CREATE ROLE del_viewer;
GRANT USAGE ON SCHEMA aegis TO del_viewer;
GRANT SELECT ON aegis.series, aegis.recent_points, aegis.blocks, aegis.points TO del_viewer;
SET ROLE del_viewer;
DELETE FROM aegis.points WHERE metric = 'delv';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT DELETE ON aegis.points TO del_viewer;
ALTER TABLE aegis.series ENABLE ROW LEVEL SECURITY;
CREATE POLICY del_only_b ON aegis.series TO del_viewer USING (tags ->> 'h' = 'b');
SET ROLE del_viewer;
DELETE FROM aegis.points WHERE metric = 'delv';
RESET ROLE;
SELECT tags, count(*) FROM aegis.read('delv') GROUP BY 1 ORDER BY 1::text;
DROP POLICY del_only_b ON aegis.series;
ALTER TABLE aegis.series DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON aegis.series, aegis.recent_points, aegis.blocks, aegis.points FROM del_viewer;
REVOKE USAGE ON SCHEMA aegis FROM del_viewer;
DROP ROLE del_viewer;
SELECT aegis.drop_metric('delv');
RESET aegis.block_max_points;
