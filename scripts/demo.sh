#!/usr/bin/env bash
# make demo: install what is missing, build, install, start the private
# cluster, load sample data and show example queries with their results.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"

echo "== packages";  scripts/deps.sh
echo "== build and install"; scripts/build.sh
echo "== private PostgreSQL cluster in $AEGIS_CLUSTER_DIR (port $AEGIS_PORT)"; scripts/cluster.sh start

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS aegis_demo" -c "CREATE DATABASE aegis_demo"
echo "== loading sample data"
psql -X -q -v ON_ERROR_STOP=1 -d aegis_demo >/dev/null <<SQL
CREATE EXTENSION aegis_timeseries;
SELECT aegis.create_metric('cpu_usage', 'gauge', 'percent', 'CPU busy time');
-- Two days of CPU usage for four hosts, one point every 10 seconds.
SELECT setseed(0.42);
SELECT sum(aegis.write('cpu_usage', jsonb_build_object('host', 'web-' || h, 'region', CASE WHEN h <= 2 THEN 'eu' ELSE 'us' END),
                       ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '10 s' FROM generate_series(0, 17279) i),
                       ARRAY(SELECT round((50 + 30 * sin(i / 500.0 + h) + random() * 5)::numeric, 2)::float8
                               FROM generate_series(0, 17279) i)))
  FROM generate_series(1, 4) h;
-- A request counter per host and status code, scraped every 15 seconds for
-- two days through COPY-style inserts; web-2's process restarts at noon on
-- the first day (a counter reset).
SELECT aegis.create_metric('http_requests_total', 'counter', 'requests', 'HTTP requests served');
INSERT INTO aegis.points
SELECT 'http_requests_total', jsonb_build_object('host', 'web-' || h, 'code', c::text),
       '2024-01-01'::timestamptz + i * interval '15 s',
       CASE WHEN h = 2 AND i >= 2880 THEN (i - 2880) * (c / 40)::int ELSE i * (c / 40)::int + h * 1000 END
  FROM generate_series(1, 2) h, unnest(ARRAY[200, 500]) c, generate_series(0, 11519) i;
SQL
psql -X -q -d aegis_demo -c "SELECT aegis.compress('0') AS points_compressed" >/dev/null

show() {  # title, SQL
  printf '\n-- %s\n%s\n' "$1" "$2"
  psql -X -d aegis_demo -c "$2"
}
echo
echo "== example queries"
show "Metrics, series and storage" "SELECT metric, series, points, blocks, bytes_per_point, oldest, newest FROM aegis.stats;"
show "Series matching a Prometheus selector" "SELECT * FROM aegis.find_series('cpu_usage{region=\"eu\", host=~\"web-[12]\"}');"
show "The newest point of each series" "SELECT tags->>'host' AS host, ts, value FROM aegis.latest('cpu_usage');"
show "Hourly average per region, computed in the engine" \
  "SELECT bucket, tags->>'region' AS region, round(value::numeric, 2) AS avg FROM aegis.aggregate('cpu_usage', 'avg', '2024-01-01 00:00', '2024-01-01 04:00', '1 hour', '{region}');"
show "The same in plain SQL over aegis.points (conditions, GROUP BY and avg go to the engine, as EXPLAIN shows)" \
  "SELECT aegis.time_bucket('1 hour', ts) AS bucket, tags->>'region' AS region, round(avg(value)::numeric, 2) AS avg FROM aegis.points WHERE metric = 'cpu_usage' AND ts >= '2024-01-01 00:00' AND ts < '2024-01-01 04:00' GROUP BY 1, 2 ORDER BY 2, 1; EXPLAIN (COSTS OFF) SELECT aegis.time_bucket('1 hour', ts) AS bucket, tags->>'region' AS region, avg(value) FROM aegis.points WHERE metric = 'cpu_usage' AND ts >= '2024-01-01 00:00' AND ts < '2024-01-01 04:00' GROUP BY 1, 2;"
show "What the engine did since the last reset" \
  "SELECT points_written, queries, points_scanned, blocks_decoded, blocks_from_summaries FROM aegis.engine_stats;"
show "Raw points" "SELECT ts, value FROM aegis.read('cpu_usage{host=\"web-1\"}', '2024-01-01 00:00', '2024-01-01 00:01');"
show "Write a point (last write wins)" "SELECT aegis.write('cpu_usage', '{\"host\": \"web-1\", \"region\": \"eu\"}', '2024-01-01 00:00:10+00', 99.5); SELECT ts, value FROM aegis.read('cpu_usage{host=\"web-1\"}', '2024-01-01 00:00', '2024-01-01 00:00:30');"
show "Requests per second per host (counter resets handled), computed in the engine" \
  "SELECT bucket, tags->>'host' AS host, round(value::numeric, 2) AS per_second FROM aegis.aggregate('http_requests_total', 'rate', '2024-01-01 10:00', '2024-01-01 14:00', '1 hour', '{host}');"
show "Prometheus's increase per 15 minutes next to the counted increase (sample_increase adds up exactly), one series" \
  "SELECT a.bucket, round(a.value::numeric, 1) AS increase, round(s.value::numeric, 1) AS sample_increase FROM aegis.aggregate('http_requests_total{host=\"web-1\", code=\"200\"}', 'increase', '2024-01-01 10:00', '2024-01-01 11:00', '15 minutes', '{}') a JOIN aegis.aggregate('http_requests_total{host=\"web-1\", code=\"200\"}', 'sample_increase', '2024-01-01 10:00', '2024-01-01 11:00', '15 minutes', '{}') s USING (bucket);"
show "A 5-minute rolling rate at every point (here, around a counter reset of web-2)" \
  "SELECT tags->>'host' AS host, ts, round(value::numeric, 3) AS rate_5m FROM aegis.rolling('http_requests_total{host=\"web-2\", code=\"200\"}', 'rate', '5 minutes', '2024-01-01 11:58:30', '2024-01-01 12:01:00');"
show "The SQL aggregates compose with GROUP BY: requests per series and hour" \
  "SELECT tags->>'host' AS host, tags->>'code' AS code, aegis.time_bucket('1 hour', ts) AS hour, aegis.increase(value, ts) AS requests FROM aegis.points WHERE metric = 'http_requests_total' AND ts >= '2024-01-01 10:00' AND ts < '2024-01-01 12:00' GROUP BY tags, 3 ORDER BY 1, 2, 3;"
show "One round of maintenance (the background worker runs one every minute), and what each job did" \
  "SELECT * FROM aegis.run_maintenance(); SELECT job, last_start, last_duration, points, last_error FROM aegis.jobs;"
show "Roll the counter up into 5-minute summaries (points older than a day); the engine reads them the same way" \
  "SELECT aegis.set_downsampling('http_requests_total', '[{\"after\": \"1 day\", \"step\": \"5 minutes\"}]'); SELECT aegis.apply_downsampling() AS points_rolled_up; SELECT metric, step, series, points, steps, bytes FROM aegis.rollup_stats; SELECT bucket, tags->>'host' AS host, round(value::numeric, 2) AS per_second FROM aegis.aggregate('http_requests_total', 'rate', '2024-01-01 10:00', '2024-01-01 14:00', '1 hour', '{host}');"

cat <<EOF2

== connect
  psql -h $AEGIS_CLUSTER_DIR -p $AEGIS_PORT -U postgres aegis_demo
  (or: eval "\$(scripts/cluster.sh env)"; psql aegis_demo)
  stop the cluster with: scripts/cluster.sh stop
EOF2
