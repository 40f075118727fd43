-- Roll-up and roll-off (API.md section 6): aegis.set_downsampling, the
-- presets, aegis.apply_downsampling, and aegis.aggregate over raw and
-- rolled-up data against the same aggregates in plain SQL over the points.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
SET TIME ZONE 'UTC';
\set SHOW_CONTEXT never

SELECT aegis.downsampling_preset('monitoring');
SELECT aegis.downsampling_preset('iot');
SELECT aegis.downsampling_preset('hourly');
SELECT aegis.downsampling_preset(NULL) IS NULL AS null_preset;

-- set_downsampling checks its input.
SELECT aegis.create_metric('gauge', 'gauge');
SELECT aegis.create_metric('ctr', 'counter');
SELECT aegis.set_downsampling('nope', aegis.downsampling_preset('iot'));
SELECT aegis.set_downsampling(NULL, aegis.downsampling_preset('iot'));
SELECT aegis.set_downsampling('gauge', '{"after": "1 day"}');
SELECT aegis.set_downsampling('gauge', '[]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "5 minutes", "every": "1 hour"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "one day", "step": "5 minutes"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "-1 day", "step": "5 minutes"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "1 month"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "0"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "2 days", "step": "5 minutes"}, {"after": "1 day", "step": "1 hour"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "5 minutes"}, {"after": "2 days", "step": "7 minutes"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "1 hour"}, {"after": "2 days", "step": "5 minutes"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "drop": true}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "1 hour"}, {"after": "2 days", "drop": true}, {"after": "3 days", "step": "1 day"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "1 hour"}, {"after": "2 days", "drop": false}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "1 hour"}, {"after": "100000000 days", "drop": true}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 mon", "step": "1 hour"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "3651 days"}]');
SELECT aegis.set_downsampling('gauge', '[{"after": "1 day", "step": "1 hour"}, {"after": "90000000 days", "step": "2 hours"}]');

-- Ten days of one-minute points ending at the start of today: a gauge with
-- two series and a counter with resets, copied to a plain table.
CREATE TABLE plain AS
SELECT m AS metric, jsonb_build_object('host', 'h' || h) AS tags, ts,
       CASE WHEN m = 'gauge' THEN round((50 + 20 * sin(i / 97.0) + h)::numeric, 2)::float8
            ELSE ((i * 7 + h) % 5000)::float8 END AS value
  FROM (VALUES ('gauge'), ('ctr')) AS metrics(m), generate_series(1, 2) h,
       LATERAL (SELECT i, date_trunc('day', now()) - interval '10 days' + i * interval '1 minute' AS ts
                  FROM generate_series(0, 10 * 1440 - 1) i) t;
INSERT INTO aegis.points (metric, tags, ts, value) SELECT metric, tags, ts, value FROM plain;
SELECT aegis.compress('0') AS compressed;

-- Raw for a day, five-minute steps to three days, hourly to eight days, then
-- dropped.
SELECT aegis.set_downsampling(m, '[{"after": "1 day", "step": "5 minutes"}, {"after": "3 days", "step": "1 hour"},
                                  {"after": "8 days", "drop": true}]')
  FROM (VALUES ('gauge'), ('ctr')) AS metrics(m);
SELECT name, downsampling FROM aegis.metric_catalog ORDER BY name;
SELECT aegis.apply_downsampling() > 0 AS rolled_up;
SELECT aegis.apply_downsampling() AS again;
SELECT step, count(DISTINCT series_id) AS series, sum(step_count) > 0 AS has_steps,
       bool_and(ts_min <= ts_max) AS ordered FROM aegis.rollups GROUP BY step ORDER BY step;
-- No raw point is left older than the first tier's cutoff but those of the
-- block that holds it.
SELECT count(*) AS raw_points_older_than_3_days FROM aegis.points WHERE ts < now() - interval '3 days';
-- Counted points: everything newer than the drop cutoff, raw or rolled up.
SELECT (SELECT sum(value) FROM aegis.aggregate('gauge{}', 'count', '-infinity', 'infinity', NULL, '{}'))
     = (SELECT count(*) FROM plain WHERE metric = 'gauge'
                                     AND ts >= aegis.time_bucket('1 hour', now() - interval '8 days'))
       AS counts_match;

-- Every function, over seven days that span raw and rolled-up data, at steps
-- that are whole multiples of the stored ones, against plain SQL.
CREATE TABLE expected AS
WITH range AS (SELECT date_trunc('day', now()) - interval '7 days' AS since, date_trunc('day', now()) AS until),
points AS (
    SELECT p.metric, p.tags, p.ts, p.value, st.step, coalesce(aegis.time_bucket(st.step, p.ts), r.since) AS bucket,
           lag(p.value) OVER (PARTITION BY p.metric, p.tags, st.step, coalesce(aegis.time_bucket(st.step, p.ts), r.since)
                              ORDER BY p.ts) AS previous
      FROM plain p, range r, (VALUES (interval '1 hour'), (interval '6 hours'), (interval '1 day'), (NULL)) st(step)
     WHERE p.ts >= r.since AND p.ts < r.until)
SELECT metric, tags, step, bucket, count(*)::float8 AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
       avg(value) AS avg, stddev_pop(value) AS stddev, var_pop(value) AS variance,
       aegis.first(value, ts) AS first, aegis.last(value, ts) AS last,
       CASE WHEN count(*) > 1 THEN aegis.last(value, ts) - aegis.first(value, ts) END AS sample_delta,
       CASE WHEN count(*) > 1 THEN aegis.last(value, ts) - aegis.first(value, ts)
                                   + coalesce(sum(previous) FILTER (WHERE value < previous), 0) END
           AS sample_increase,
       (aegis.last(value, ts) - aegis.first(value, ts) + coalesce(sum(previous) FILTER (WHERE value < previous), 0))
           / nullif(extract(epoch FROM max(ts) - min(ts)), 0) AS sample_rate
  FROM points GROUP BY metric, tags, step, bucket;

SELECT f.fn, count(*) AS buckets,
       count(*) FILTER (WHERE abs(a.value - (to_jsonb(e) ->> f.fn)::float8)
                              > 1e-9 * greatest(1, abs((to_jsonb(e) ->> f.fn)::float8))) AS different
  FROM (VALUES ('count'), ('sum'), ('min'), ('max'), ('avg'), ('stddev'), ('variance'), ('first'), ('last'),
               ('sample_delta'), ('sample_increase'), ('sample_rate')) f(fn)
  CROSS JOIN (VALUES ('gauge'), ('ctr')) m(metric)
  CROSS JOIN (VALUES (interval '1 hour'), (interval '6 hours'), (interval '1 day'), (NULL)) st(step)
  CROSS JOIN LATERAL aegis.aggregate(m.metric || '{}', f.fn, date_trunc('day', now()) - interval '7 days',
                                     date_trunc('day', now()), st.step) a
  FULL JOIN expected e ON e.metric = m.metric AND e.tags = a.tags AND e.step IS NOT DISTINCT FROM st.step
                      AND e.bucket = a.bucket
 GROUP BY f.fn ORDER BY f.fn;
-- Grouped over both series, and a finer step than stored gets the stored
-- steps' buckets (each step counts where it starts).
SELECT count(*) AS buckets, sum(value) AS points
  FROM aegis.aggregate('gauge{}', 'count', date_trunc('day', now()) - interval '7 days',
                       date_trunc('day', now()) - interval '4 days', '1 minute', '{}');

-- median and quantile refuse rolled-up data, and work on raw ranges.
SELECT * FROM aegis.aggregate('gauge{host="h1"}', 'median', now() - interval '5 days', now());
-- (The last two hours of data, less what the first tier already rolled up
-- late in the day: raw data reaches back one day from now.)
SELECT count(*) <= 2 AS answered
  FROM aegis.aggregate('gauge{host="h1"}', 'quantile(0.9)',
                       greatest(date_trunc('day', now()) - interval '2 hours', now() - interval '1 day' + interval '10 minutes'),
                       date_trunc('day', now()), '1 hour');

-- A late point in a rolled-up range counts at once and is folded in by the
-- next round.
SELECT aegis.write('gauge', '{"host": "h1"}', date_trunc('day', now()) - interval '5 days' + interval '30 seconds', 1000);
SELECT value AS count_with_late_point
  FROM aegis.aggregate('gauge{host="h1"}', 'count', date_trunc('day', now()) - interval '5 days',
                       date_trunc('day', now()) - interval '4 days');
SELECT value AS max_with_late_point
  FROM aegis.aggregate('gauge{host="h1"}', 'max', date_trunc('day', now()) - interval '5 days',
                       date_trunc('day', now()) - interval '4 days');
SELECT aegis.apply_downsampling() AS folded;
SELECT value AS count_after_fold
  FROM aegis.aggregate('gauge{host="h1"}', 'count', date_trunc('day', now()) - interval '5 days',
                       date_trunc('day', now()) - interval '4 days');
SELECT count(*) AS raw_points_left FROM aegis.points WHERE ts < now() - interval '3 days';

-- aegis.delete removes the steps that lie wholly inside its range.
SELECT aegis.delete('gauge{host="h2"}', date_trunc('day', now()) - interval '6 days',
                    date_trunc('day', now()) - interval '5 days') AS deleted;
SELECT count(*) AS buckets_left
  FROM aegis.aggregate('gauge{host="h2"}', 'count', date_trunc('day', now()) - interval '6 days',
                       date_trunc('day', now()) - interval '5 days', '1 hour');

-- Retention removes rolled-up steps older than the cutoff.
SELECT aegis.set_retention('gauge', '6 days');
SELECT aegis.apply_retention() > 0 AS removed;
SELECT count(*) AS steps_before_cutoff
  FROM aegis.aggregate('gauge{}', 'count', '-infinity', now() - interval '6 days', '1 hour');

-- A step appended after retention trimmed a tier's oldest block joins the
-- newest block, not the trimmed one: blocks never overlap, and counters over
-- them stay right. 1,024 one-minute steps fill four blocks of 256.
CREATE TABLE ovl_base AS SELECT date_trunc('minute', now()) AS t0;
CREATE TABLE ovl_plain AS
SELECT t0 - interval '1100 minutes' + i * interval '1 minute' AS ts, (i % 700)::float8 AS value
  FROM ovl_base, generate_series(0, 1023) i;
SELECT aegis.write('ovl', '{}', ARRAY(SELECT ts FROM ovl_plain ORDER BY ts), ARRAY(SELECT value FROM ovl_plain ORDER BY ts));
SELECT aegis.set_downsampling('ovl', '[{"after": "1 hour", "step": "1 minute"}]');
SELECT aegis.apply_downsampling() AS rolled_up;
SELECT count(*) AS blocks, min(step_count), max(step_count)
  FROM aegis.rollups JOIN aegis.series USING (series_id) WHERE metric = 'ovl';
BEGIN;
SELECT aegis.set_retention('ovl', now() - (t0 - interval '1089 minutes 30 seconds')) FROM ovl_base;
SELECT aegis.apply_retention() AS trimmed;
COMMIT;
DELETE FROM ovl_plain USING ovl_base WHERE ts < t0 - interval '1089 minutes 30 seconds';
INSERT INTO ovl_plain SELECT t0 - interval '70 minutes', 5 FROM ovl_base;
SELECT aegis.write('ovl', '{}', t0 - interval '70 minutes', 5) FROM ovl_base;
SELECT aegis.apply_downsampling() AS appended;
SELECT count(*) AS blocks, min(step_count), max(step_count)
  FROM aegis.rollups JOIN aegis.series USING (series_id) WHERE metric = 'ovl';
SELECT count(*) AS overlapping_blocks FROM aegis.rollups a JOIN aegis.rollups b
    ON a.series_id = b.series_id AND a.ts_min < b.ts_min AND a.ts_max >= b.ts_min;
SELECT (SELECT value FROM aegis.aggregate('ovl{}', 'sample_increase', '-infinity', 'infinity'))
     = (SELECT aegis.last(value, ts) - aegis.first(value, ts) + coalesce(sum(previous) FILTER (WHERE value < previous), 0)
          FROM (SELECT ts, value, lag(value) OVER (ORDER BY ts) AS previous FROM ovl_plain) p) AS increase_matches;
SELECT aegis.drop_metric('ovl') > 0 AS dropped;
DROP TABLE ovl_plain, ovl_base;

-- Tiers changed to a coarser step: a late point's hourly step merges the
-- 5-minute blocks it meets, and the blocks they reach, into hourly ones
-- (blocks of 256 five-minute steps do not start on the hour); none overlap.
CREATE TABLE chg_plain AS
SELECT date_trunc('hour', now()) - interval '50 hours' + i * interval '1 minute' AS ts, (i % 300)::float8 AS value
  FROM generate_series(0, 2699) i;
SELECT aegis.write('chg', '{}', ARRAY(SELECT ts FROM chg_plain ORDER BY ts), ARRAY(SELECT value FROM chg_plain ORDER BY ts));
SELECT aegis.set_downsampling('chg', '[{"after": "1 hour", "step": "5 minutes"}]');
SELECT aegis.apply_downsampling() AS rolled_up;
SELECT aegis.set_downsampling('chg', '[{"after": "1 hour", "step": "7 minutes"}]');
SELECT aegis.set_downsampling('chg', '[{"after": "1 hour", "step": "1 hour"}]');
INSERT INTO chg_plain SELECT min(ts) + interval '21 hours 25 minutes 30 seconds', 7 FROM chg_plain;
SELECT aegis.write('chg', '{}', (SELECT max(ts) FROM chg_plain WHERE value = 7 AND ts <> date_trunc('minute', ts)), 7);
SELECT aegis.apply_downsampling() AS late_point;
SELECT step, count(*) AS blocks FROM aegis.rollups JOIN aegis.series USING (series_id) WHERE metric = 'chg'
 GROUP BY step ORDER BY step;
SELECT count(*) AS overlapping_blocks FROM aegis.rollups a JOIN aegis.rollups b
    ON a.series_id = b.series_id AND a.ts_min < b.ts_min AND a.ts_max + a.step > b.ts_min;
SELECT (SELECT value FROM aegis.aggregate('chg{}', 'count', '-infinity', 'infinity')) = (SELECT count(*) FROM chg_plain)
       AS count_matches,
       (SELECT value FROM aegis.aggregate('chg{}', 'max', '-infinity', 'infinity')) = (SELECT max(value) FROM chg_plain)
       AS max_matches;
SELECT aegis.drop_metric('chg') >= 0 AS dropped;
DROP TABLE chg_plain;

-- A corrupt rollup block is an error naming the series when read, and a
-- series that cannot be rolled up is left as it was (a WARNING) while the
-- others are.
SELECT aegis.write('bad', jsonb_build_object('host', h), date_trunc('hour', now()) - interval '3 days', 1)
  FROM (VALUES ('h1'), ('h2')) hosts(h);
SELECT aegis.set_downsampling('bad', '[{"after": "1 day", "step": "1 hour"}]');
SELECT aegis.apply_downsampling() AS rolled_up;
UPDATE aegis.rollups SET data = overlay(data PLACING '\xff'::bytea FROM 40 FOR 1)
 WHERE series_id = (SELECT series_id FROM aegis.series WHERE metric = 'bad' AND tags = '{"host": "h1"}');
SELECT * FROM aegis.aggregate('bad{host="h1"}', 'count', '-infinity', 'infinity');
SELECT aegis.write('bad', jsonb_build_object('host', h), date_trunc('hour', now()) - interval '3 days' + interval '1 minute', 2)
  FROM (VALUES ('h1'), ('h2')) hosts(h);
SELECT aegis.apply_downsampling() AS rolled_up_but_one;
SELECT value AS h2_points FROM aegis.aggregate('bad{host="h2"}', 'count', '-infinity', 'infinity');
SELECT count(*) AS h1_raw_points_kept FROM aegis.read('bad{host="h1"}');
SELECT aegis.drop_metric('bad') >= 0 AS dropped;

-- Roll-ups off: nothing more is rolled up; steps already stored stay.
SELECT aegis.set_downsampling('ctr', NULL);
SELECT aegis.write('ctr', '{"host": "h1"}', now() - interval '2 days', 1);
SELECT aegis.apply_downsampling() AS rolled_up_after_off;
SELECT count(*) > 0 AS ctr_steps_kept FROM aegis.rollups r JOIN aegis.series s USING (series_id) WHERE s.metric = 'ctr';

-- Removing series removes their steps: delete_series, drop_metric, TRUNCATE.
SELECT aegis.delete_series((SELECT series_id FROM aegis.series WHERE metric = 'gauge' AND tags = '{"host": "h2"}'));
SELECT s.metric, count(DISTINCT r.series_id) AS series_with_steps
  FROM aegis.rollups r LEFT JOIN aegis.series s USING (series_id) GROUP BY 1 ORDER BY 1;
SELECT aegis.drop_metric('gauge') > 0 AS dropped;
TRUNCATE aegis.series;
SELECT count(*) AS rollup_blocks_left FROM aegis.rollups;

DROP TABLE plain, expected;
DROP EXTENSION aegis_timeseries;
