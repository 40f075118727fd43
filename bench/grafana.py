#!/usr/bin/env python3
"""The queries a Grafana PostgreSQL panel sends, over aegis.points and over a plain table with the same points.

Builds database aegis_grafana (1,000 series of cpu_usage_user with TSBS's 10 tags, a point every 10 s for 1,000
points each; the plain table has one row per point with the hostname as a column and a btree on (metric,
hostname, ts)), then prints a Markdown table of medians of warm runs. Used by docs/grafana.md:
    source scripts/common.sh && python3 bench/grafana.py
"""
import statistics
import subprocess
import sys

DB = "aegis_grafana"
RUNS = 15


def psql(sql, db=DB, check=True):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db], input=sql, capture_output=True,
                       text=True)
    if check and r.returncode != 0:
        sys.exit("psql failed: " + r.stderr)
    return r.stdout


SETUP = r"""
CREATE EXTENSION aegis_timeseries;
SELECT setseed(0.5);
SELECT sum(written) FROM (
  SELECT aegis.write('cpu_usage_user',
         jsonb_build_object('hostname', 'host_' || s, 'region', 'eu-west-' || s % 3, 'datacenter', 'eu-west-1' || (s % 3),
                            'rack', (s % 100)::text, 'os', 'Ubuntu16.10', 'arch', 'x64', 'team', 'SF',
                            'service', (s % 20)::text, 'service_version', (s % 2)::text,
                            'service_environment', 'production'),
         array_agg('2024-01-01'::timestamptz + i * interval '10 s' ORDER BY i),
         array_agg(round((50 + 20 * sin(i / 50.0 + s) + random())::numeric, 2)::float8 ORDER BY i)) AS written
    FROM generate_series(0, 999) s, generate_series(0, 999) i GROUP BY s) w;
CREATE TABLE g_plain AS SELECT metric, tags ->> 'hostname' AS hostname, ts, value FROM aegis.points ORDER BY ts, hostname;
CREATE INDEX ON g_plain (metric, hostname, ts);
VACUUM ANALYZE g_plain;
"""

HOSTS8 = "'host_1','host_2','host_3','host_4','host_5','host_6','host_7','host_8'"
QUERIES = [
    ("time series, one host, 30 minutes, `$__timeGroupAlias(ts, 1m)`",
     "SELECT floor(extract(epoch from ts)/60)*60 AS \"time\", avg(value) AS value FROM aegis.points "
     "WHERE ts BETWEEN '2024-01-01T02:16:40Z' AND '2024-01-01T02:46:40Z' AND metric = 'cpu_usage_user' "
     "AND tags->>'hostname' = 'host_7' GROUP BY 1 ORDER BY 1",
     "SELECT floor(extract(epoch from ts)/60)*60 AS \"time\", avg(value) AS value FROM g_plain "
     "WHERE ts BETWEEN '2024-01-01T02:16:40Z' AND '2024-01-01T02:46:40Z' AND metric = 'cpu_usage_user' "
     "AND hostname = 'host_7' GROUP BY 1 ORDER BY 1"),
    ("time series, 8 hosts (a multi-value variable), 3 hours, 5m, a series per host",
     "SELECT floor(extract(epoch from ts)/300)*300 AS \"time\", tags->>'hostname' AS metric, max(value) "
     "FROM aegis.points WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T03:00:00Z' "
     "AND metric = 'cpu_usage_user' AND tags->>'hostname' IN (%s) GROUP BY 1, 2 ORDER BY 1" % HOSTS8,
     "SELECT floor(extract(epoch from ts)/300)*300 AS \"time\", hostname AS metric, max(value) FROM g_plain "
     "WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T03:00:00Z' AND metric = 'cpu_usage_user' "
     "AND hostname IN (%s) GROUP BY 1, 2 ORDER BY 1" % HOSTS8),
    ("time series, all 1,000 hosts averaged, 3 hours, `time_bucket('10m', ts)`",
     "SELECT aegis.time_bucket('10 minutes', ts) AS \"time\", avg(value) FROM aegis.points "
     "WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T03:00:00Z' AND metric = 'cpu_usage_user' "
     "GROUP BY 1 ORDER BY 1",
     "SELECT date_bin('10 minutes', ts, '2000-01-03') AS \"time\", avg(value) FROM g_plain "
     "WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T03:00:00Z' AND metric = 'cpu_usage_user' "
     "GROUP BY 1 ORDER BY 1"),
    ("table, newest value of every host (`DISTINCT ON`)",
     "SELECT DISTINCT ON (metric, tags) tags->>'hostname' AS host, ts, value FROM aegis.points "
     "WHERE metric = 'cpu_usage_user' ORDER BY metric, tags, ts DESC",
     "SELECT DISTINCT ON (hostname) hostname AS host, ts, value FROM g_plain WHERE metric = 'cpu_usage_user' "
     "ORDER BY hostname, ts DESC"),
    ("table, last 10 points of one host (`ORDER BY ts DESC LIMIT 10`)",
     "SELECT ts, value FROM aegis.points WHERE metric = 'cpu_usage_user' AND tags->>'hostname' = 'host_7' "
     "ORDER BY ts DESC LIMIT 10",
     "SELECT ts, value FROM g_plain WHERE metric = 'cpu_usage_user' AND hostname = 'host_7' "
     "ORDER BY ts DESC LIMIT 10"),
    ("variable, the hosts of a metric (from the series catalog)",
     "SELECT DISTINCT tags->>'hostname' FROM aegis.series WHERE metric = 'cpu_usage_user'",
     "SELECT DISTINCT hostname FROM g_plain WHERE metric = 'cpu_usage_user'"),
    ("selector with `${host:regex}`, `aegis.aggregate`, 3 hours, 5m",
     "SELECT bucket AS \"time\", tags->>'hostname' AS metric, value FROM aegis.aggregate("
     "'cpu_usage_user{hostname=~\"(host_1|host_2|host_3|host_4|host_5|host_6|host_7|host_8)\"}', 'max', "
     "'2024-01-01T00:00:00Z', '2024-01-01T03:00:00Z', '5 minutes', '{hostname}') ORDER BY 1",
     "SELECT floor(extract(epoch from ts)/300)*300 AS \"time\", hostname AS metric, max(value) FROM g_plain "
     "WHERE ts >= '2024-01-01T00:00:00Z' AND ts < '2024-01-01T03:00:00Z' AND metric = 'cpu_usage_user' "
     "AND hostname ~ '^(host_1|host_2|host_3|host_4|host_5|host_6|host_7|host_8)$' GROUP BY 1, 2 ORDER BY 1"),
]


def median_ms(sql):
    script = "\\timing on\n" + "".join(sql + ";\n" for _ in range(RUNS + 1))
    out = psql(script)
    times = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time:")][1:]
    return statistics.median(times)


def main():
    psql("SET client_min_messages = warning; DROP DATABASE IF EXISTS %s; CREATE DATABASE %s;" % (DB, DB), db="postgres")
    psql(SETUP)
    print("| panel query | aegis.points ms | plain table ms | plain / aegis |")
    print("|---|---:|---:|---:|")
    for name, ours, plain in QUERIES:
        a, p = median_ms(ours), median_ms(plain)
        print("| %s | %.2f | %.2f | %.1fx |" % (name, a, p, p / a))
    psql("DROP DATABASE %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
