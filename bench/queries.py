"""The query benchmark (issue 3, section 3): TSBS cpu-only queries on the generated set, each through the
extension and against its peers on the same server, all of them (series_id int4, ts timestamptz, value float8)
tables joined to bench.series_map (series_id -> metric, hostname) where the query needs hosts or metrics:

  bench.plain_tsbs_cpu           plain table CLUSTERed on its btree (series_id, ts): every series' points together
  bench.plain_tsbs_cpu_arrival   plain table loaded in arrival order (time, then series, as collectors write it),
                                 the same btree on (series_id, ts), built as the rows came in
  bench.tsdb_tsbs_cpu            TimescaleDB hypertable, compressed (segmentby series_id, orderby ts); it lives in a
                                 database of its own (bench.py's TSDB_DB) with its own copy of bench.series_map

Every query has forms (variants) that must return the same rows:
  aegis     the extension's own API (aegis.aggregate, aegis.latest; Q6, a filter on raw points, is SQL over
            aegis.points, whose value condition goes to the engine)
  plain     plain SQL on the clustered plain table, date_bin(step, ts, ORIGIN) buckets: the reference rows
  arrival   the same SQL on the arrival-order plain table
  tsdb      the same SQL on the hypertable, with TimescaleDB's time_bucket(step, ts) (same origin)
  tsdb2     another TimescaleDB form (Q3: DISTINCT ON, where tsdb is the LATERAL form)
  read      plain SQL over aegis.points (the foreign table), as Grafana or a BI tool would ask it
For Q3 (lastpoint) every plain form is the fast one for a btree, LATERAL ... ORDER BY ts DESC LIMIT 1 per series.
Each form's SQL returns its key columns first, then its value columns; bench.py compares every form with the
plain one: same keys, each key once, values equal ("exact") or within 1e-9 relative ("rel").

Windows start and end off the bucket edges (:07:13), as a dashboard's "last 12 hours" does. Python 3 standard
library only.
"""

import datetime as dt

import datasets

ORIGIN = "2000-01-03 00:00:00+00"  # aegis.time_bucket's default origin (TimescaleDB's), given to date_bin
PLAIN = "bench.plain_tsbs_cpu"  # clustered by (series_id, ts)
ARRIVAL = "bench.plain_tsbs_cpu_arrival"  # arrival order
TSDB = "bench.tsdb_tsbs_cpu"  # TimescaleDB compressed hypertable (in its own database)
MAP = "bench.series_map"
PEERS = [("plain", PLAIN), ("arrival", ARRIVAL), ("tsdb", TSDB)]

# Where the windows start: well inside the data at full scale (27.8 h of data), at the start at SCALE=small
# (2.8 h of data, so its 12-hour windows hold what there is).
BASE = {"full": dt.datetime(2024, 1, 1, 8, 7, 13, tzinfo=dt.timezone.utc),
        "small": dt.datetime(2024, 1, 1, 0, 7, 13, tzinfo=dt.timezone.utc)}


def ts_lit(t):
    return "'%s'" % t.strftime("%Y-%m-%d %H:%M:%S+00")


class Query:
    def __init__(self, qid, tsbs, title, keys, values, forms, window=None, labels=None):
        self.qid = qid
        self.tsbs = tsbs          # TSBS query name, or ""
        self.title = title
        self.keys = keys          # key column names (the first len(keys) columns of every form)
        self.values = values      # [(column name, "exact" | "rel")] after the keys
        self.forms = forms        # [(form, sql)], form in aegis, plain, arrival, tsdb, tsdb2, read
        self.window = window      # (since, until) of its points, or None: the whole data set
        self.labels = labels or {}  # form -> how it asks, where a query has two forms of one peer


def peer_forms(sql):
    """The plain, arrival and tsdb forms of one question: sql(table, bucket) with bucket(step) the bucketing
    expression over p.ts (date_bin on the plain tables, time_bucket on the hypertable; the same buckets)."""
    o = "'%s'" % ORIGIN
    return [(form, sql(table, (lambda step: "time_bucket('%s', p.ts)" % step) if form == "tsdb" else
                       (lambda step: "date_bin('%s', p.ts, %s)" % (step, o))))
            for form, table in PEERS]


def window(scale):
    base = BASE[scale]
    return base, base + dt.timedelta(hours=12), base + dt.timedelta(hours=8), base + dt.timedelta(hours=2, minutes=30)


def q6_host_sql(scale):
    """The first host (by number) whose cpu_usage_user goes above 90 in Q6's window (so Q6 returns rows)."""
    since, until12, _, _ = window(scale)
    return ("SELECT '@@', 'q6_host', coalesce((SELECT m.hostname FROM %s p JOIN %s m USING (series_id) "
            "WHERE m.metric = 'cpu_usage_user' AND p.ts >= %s AND p.ts < %s AND p.value > 90 "
            "GROUP BY m.hostname ORDER BY substr(m.hostname, 6)::int LIMIT 1), 'host_0')"
            % (PLAIN, MAP, ts_lit(since), ts_lit(until12)))


def build(scale, q6_host):
    hosts, _ = datasets.SCALES[scale]
    since, until12, until8, q7_until = window(scale)
    q7_since = q7_until - dt.timedelta(minutes=5)
    s, u12, u8 = ts_lit(since), ts_lit(until12), ts_lit(until8)
    s7, u7 = ts_lit(q7_since), ts_lit(q7_until)
    q4_hosts = ["host_%d" % (i * hosts // 8 + 1) for i in range(8)]
    q4_regex = "|".join(q4_hosts)
    q4_in = ", ".join("'%s'" % h for h in q4_hosts)
    qs = []

    qs.append(Query(
        "Q1", "single-groupby-1-1-12", "max of 1 metric of 1 host per minute, 12 h",
        ["bucket"], [("max", "exact")],
        [("aegis", "SELECT bucket, value FROM aegis.aggregate('cpu_usage_user{hostname=\"host_0\"}', 'max', "
                   "%s, %s, '1 minute')" % (s, u12))]
        + peer_forms(lambda t, b: "SELECT %s AS bucket, max(p.value) FROM %s p JOIN %s m USING (series_id) "
                                  "WHERE m.metric = 'cpu_usage_user' AND m.hostname = 'host_0' AND p.ts >= %s "
                                  "AND p.ts < %s GROUP BY 1 ORDER BY 1" % (b("1 minute"), t, MAP, s, u12))
        + [("read", "SELECT aegis.time_bucket('1 minute', ts) AS bucket, max(value) FROM aegis.points "
                    "WHERE metric = 'cpu_usage_user' AND tags->>'hostname' = 'host_0' AND ts >= %s AND ts < %s "
                    "GROUP BY 1 ORDER BY 1" % (s, u12))],
        (since, until12)))

    qs.append(Query(
        "Q2", "double-groupby-1", "avg of 1 metric per host per hour, whole set",
        ["bucket", "hostname"], [("avg", "rel")],
        [("aegis", "SELECT bucket, tags->>'hostname' AS hostname, value FROM aegis.aggregate('cpu_usage_user', "
                   "'avg', '-infinity', 'infinity', '1 hour', '{hostname}')")]
        + peer_forms(lambda t, b: "SELECT %s AS bucket, m.hostname, avg(p.value) FROM %s p JOIN %s m "
                                  "USING (series_id) WHERE m.metric = 'cpu_usage_user' GROUP BY 1, 2 ORDER BY 2, 1"
                                  % (b("1 hour"), t, MAP))
        + [("read", "SELECT aegis.time_bucket('1 hour', ts) AS bucket, tags->>'hostname' AS hostname, avg(value) "
                    "FROM aegis.points WHERE metric = 'cpu_usage_user' GROUP BY 1, 2 ORDER BY 2, 1")]))

    qs.append(Query(
        "Q3", "lastpoint", "newest point of every series",
        ["metric", "hostname"], [("ts", "exact"), ("value", "exact")],
        [("aegis", "SELECT metric, tags->>'hostname' AS hostname, ts, value FROM "
                   "aegis.latest('{__name__=~\"cpu_.*\"}')")]
        + peer_forms(lambda t, b: "SELECT m.metric, m.hostname, l.ts, l.value FROM %s m CROSS JOIN LATERAL "
                                  "(SELECT p.ts, p.value FROM %s p WHERE p.series_id = m.series_id "
                                  "ORDER BY p.ts DESC LIMIT 1) l WHERE m.metric ~ '^cpu_'" % (MAP, t))
        + [("tsdb2", "SELECT m.metric, m.hostname, l.ts, l.value FROM (SELECT DISTINCT ON (series_id) series_id, "
                     "ts, value FROM %s ORDER BY series_id, ts DESC) l JOIN %s m USING (series_id) "
                     "WHERE m.metric ~ '^cpu_'" % (TSDB, MAP))]
        + [("read", "SELECT DISTINCT ON (metric, tags) metric, tags->>'hostname' AS hostname, ts, value "
                    "FROM aegis.points WHERE metric ~ '^cpu_' ORDER BY metric, tags, ts DESC")],
        labels={"tsdb": "LATERAL", "tsdb2": "DISTINCT ON"}))

    qs.append(Query(
        "Q4", "cpu-max-all-8", "max of all 10 metrics of 8 hosts per hour, 8 h",
        ["bucket", "metric"], [("max", "exact")],
        [("aegis", "SELECT a.bucket, a.tags ->> '__name__' AS metric, a.value FROM "
                   "aegis.aggregate('{hostname=~\"%s\"}', 'max', %s, %s, '1 hour', '{__name__}') a"
                   % (q4_regex, s, u8))]
        + peer_forms(lambda t, b: "SELECT %s AS bucket, m.metric, max(p.value) FROM %s p JOIN %s m "
                                  "USING (series_id) WHERE m.hostname IN (%s) AND p.ts >= %s AND p.ts < %s "
                                  "GROUP BY 1, 2 ORDER BY 1, 2" % (b("1 hour"), t, MAP, q4_in, s, u8))
        + [("read", "SELECT aegis.time_bucket('1 hour', ts) AS bucket, metric, max(value) FROM aegis.points "
                    "WHERE tags->>'hostname' IN (%s) AND ts >= %s AND ts < %s GROUP BY 1, 2 ORDER BY 1, 2"
                    % (q4_in, s, u8))],
        (since, until8)))

    qs.append(Query(
        "Q5", "", "count and sum of every point of 1 metric",
        [], [("count", "exact"), ("sum", "rel")],
        [("aegis", "SELECT c.value AS count, s.value AS sum FROM "
                   "aegis.aggregate('cpu_usage_user', 'count', '-infinity', 'infinity', NULL, '{}') c, "
                   "aegis.aggregate('cpu_usage_user', 'sum', '-infinity', 'infinity', NULL, '{}') s")]
        + peer_forms(lambda t, b: "SELECT count(*), sum(p.value) FROM %s p JOIN %s m USING (series_id) "
                                  "WHERE m.metric = 'cpu_usage_user'" % (t, MAP))
        + [("read", "SELECT count(*), sum(value) FROM aegis.points WHERE metric = 'cpu_usage_user'")]))

    qs.append(Query(
        "Q6", "high-cpu-1", "points of 1 metric of 1 host above 90, 12 h",
        ["ts"], [("value", "exact")],
        [("aegis", "SELECT ts, value FROM aegis.points WHERE metric = 'cpu_usage_user' AND tags->>'hostname' = '%s' "
                   "AND ts >= %s AND ts < %s AND value > 90 ORDER BY ts" % (q6_host, s, u12))]
        + peer_forms(lambda t, b: "SELECT p.ts, p.value FROM %s p JOIN %s m USING (series_id) "
                                  "WHERE m.metric = 'cpu_usage_user' AND m.hostname = '%s' AND p.ts >= %s "
                                  "AND p.ts < %s AND p.value > 90 ORDER BY p.ts" % (t, MAP, q6_host, s, u12)),
        (since, until12)))

    qs.append(Query(
        "Q7", "groupby-orderby-limit", "max over all hosts per minute, last 5 min",
        ["bucket"], [("max", "exact")],
        [("aegis", "SELECT bucket, value FROM aegis.aggregate('cpu_usage_user', 'max', %s, %s, '1 minute', '{}')"
                   % (s7, u7))]
        + peer_forms(lambda t, b: "SELECT %s AS bucket, max(p.value) FROM %s p JOIN %s m USING (series_id) "
                                  "WHERE m.metric = 'cpu_usage_user' AND p.ts >= %s AND p.ts < %s "
                                  "GROUP BY 1 ORDER BY 1 DESC" % (b("1 minute"), t, MAP, s7, u7))
        + [("read", "SELECT aegis.time_bucket('1 minute', ts) AS bucket, max(value) FROM aegis.points "
                    "WHERE metric = 'cpu_usage_user' AND ts >= %s AND ts < %s GROUP BY 1 ORDER BY 1 DESC" % (s7, u7))],
        (q7_since, q7_until)))
    return qs


def describe(scale, q6_host):
    """One line per parameter that the query texts do not make obvious."""
    hosts, _ = datasets.SCALES[scale]
    since, until12, until8, q7_until = window(scale)
    return {"q4_hosts": ", ".join("host_%d" % (i * hosts // 8 + 1) for i in range(8)), "q6_host": q6_host,
            "since": since, "until12": until12, "until8": until8, "q7_until": q7_until}
