#!/usr/bin/env python3
"""make bench: storage, write and query benchmarks of aegis_timeseries against plain tables (and, for the
queries, TimescaleDB when it is installed).

Run it through scripts/bench.sh (make bench), which sets PGHOST/PGPORT/PGUSER
for the project's private cluster. Settings (environment):

  SCALE=full|small     generated set of 10,000,000 points (default) or 100,000
  BENCH_RUNS=5         timed runs of the generated set's write paths (median shown)
  BENCH_QUERY_RUNS=9   timed runs of every query form, after one warm-up (median shown)
  BENCH_DOC=path       where to write the report; default docs/benchmarks.md for
                       SCALE=full, none for SCALE=small (a smoke run must not
                       overwrite the full-scale figures); "-" for none
  BENCH_KEEP=1         keep the CSV folder under /tmp
  BENCH_TIMESCALEDB=off  leave the TimescaleDB peer out even when it is
                       installed (default: measured whenever it can be created)
  BENCH_MICRO_ARGS     arguments of the micro-benchmark programs; default
                       --benchmark_min_time=0.2

What it does, in a database of its own (aegis_bench, dropped and created; the
TimescaleDB peer in aegis_bench_tsdb, likewise):
  1. turns every file of ../shared/data and a generated TSBS cpu-only set into
     CSV (bench/datasets.py), loads each into a staging table with \\copy and
     builds aegis.write batches from it with array_agg ... GROUP BY series;
  2. writes every data set through aegis.write (10,000-point batches per
     series), then aegis.compress('0'); loads the same points with \\copy into
     bench.plain_<set>(series_id int4, ts timestamptz, value float8) with a
     btree on (series_id, ts); VACUUM ANALYZE; compares the sizes;
  3. times, for the generated set, aegis.write against COPY, and the
     small-batch path: 100-point batches into aegis.recent_points, then
     aegis.compress('0'); and one client's ingest through the aegis.points view:
     \\copy of a CSV (metric, tags JSON, ts, value) and multi-row INSERTs of
     1,000 rows (psql -f), rows in series then time order, each run checked
     against the plain table's count and sum; the same INSERTs into a plain
     table with aegis.points' columns, bare and with a btree (metric, tags, ts)
     (plain_ingest.sql), as that path's peers;
  4. checks that aegis.read returns what the plain table holds (count and sum
     of all points and of every series, and every point bit for bit through a
     per-series digest), and exits non-zero when it does not;
  5. runs TSBS cpu-only queries on the generated set (bench/queries.py)
     through the extension and against three peers on the same server:
     the plain table CLUSTERed on its btree (series_id, ts), the same points
     in a plain table loaded in arrival order (time, then series) with the
     same btree (plain_peers.sql), and, when the timescaledb extension is
     installed and preloaded, a compressed TimescaleDB hypertable in a
     database of its own, aegis_bench_tsdb (tsdb_load.sql; otherwise its
     column says why not, e.g. "not installed"); the plain forms join
     bench.series_map for hosts and metrics; where it makes sense also as SQL
     over aegis.read. Each database gets one psql session, fed statement by
     statement: per query a warm-up run of every form, then BENCH_QUERY_RUNS
     rounds of every form in turn, in a new (seeded) order each round
     (median shown); every form's rows are
     checked equal to the clustered plain table's, and the run exits non-zero
     when one is not. The report gives, per query, the fastest peer, its
     ratio to the extension and whether the target holds (at least 2x faster
     than the fastest peer, Q2, Q4 and Q5 at least 20x; never met without a
     TimescaleDB figure). Then Q1 as the first statement of a new session
     (psql -c, 5 new sessions per side) against its warm median; then the
     late-data variant (late_data.sql, tsdb_late.sql): the last quarter (by
     time) of every series written again with value + 0.5, through aegis.write
     batches below 1,000 points (the straight-into-blocks threshold) into aegis.recent_points over the
     compressed blocks (no aegis maintenance afterwards), and as UPDATEs on
     the peers; checked like step 4, then the queries again;
  6. runs the core codec micro-benchmarks when CMake has built any:
     build/bench/codec_bench with --benchmark_format=json (plus BENCH_MICRO_ARGS,
     default --benchmark_min_time=0.2) becomes a table per data set, both
     codecs' bits per value and speed next to xz -9 on the same values (from
     codec_bench --dump_values) and the reference figures of ../shared/data;
     any other build/bench/*_bench program's console output is shown as is.

  python3 bench/bench.py --codec-only [--markdown]
                       step 6's codec table alone (no PostgreSQL, nothing
                       written): needs build/bench/codec_bench, built by
                       cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release &&
                       cmake --build build/bench --target codec_bench;
                       --markdown prints the report's Markdown section instead.
Python 3 standard library only.
"""

import datetime as dt
import glob
import json
import lzma
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
import queries  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(ROOT, "bench")
DB = "aegis_bench"
BATCH_POINTS = 10_000  # points per aegis.write call on the batch path
STRAIGHT_POINTS = 1000  # a batch of at least this many points of a series goes straight into blocks
SMALL_BATCH_POINTS = 100  # points per aegis.write call on the small-batch path (below STRAIGHT_POINTS)
SMALL_PATH_POINTS = 1_000  # the small-batch path writes the first this many points of every series
INGEST_COPY_POINTS = 5_000  # COPY ingest path: the first this many points of every series (None: every point;
# all 10,000,000 took about 80 s a run, 5,000,000 keep it near 40 s)
INGEST_INSERT_POINTS = 1_000  # multi-row INSERT ingest path: the first this many points of every series
INSERT_ROWS = 1_000  # rows per INSERT INTO aegis.points VALUES statement
PLAIN_INSERT_RUNS = 3  # runs of each plain INSERT peer (the INSERT path's runs are the longest of the set)
REL_TOL = 1e-9


class BenchError(Exception):
    pass


def log(msg):
    print("-- " + msg, file=sys.stderr, flush=True)


def psql(sql_file=None, db=DB, command=None, **variables):
    """Runs a bench/*.sql file (or one command); returns {key: [row, ...]} of its '@@' result rows."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db]
    for k, v in variables.items():
        cmd += ["-v", "%s=%s" % (k, v)]
    if sql_file is not None:
        cmd += ["-f", os.path.join(BENCH_DIR, sql_file)]
    else:
        cmd += ["-c", command]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        hint = ""
        if "connection to server was lost" in r.stderr or "terminating connection" in r.stderr:
            hint = ("\nThe server went away during the run (scripts/cluster.sh restart, or a test that restarts "
                    "it); the figures are incomplete: run make bench again.")
        raise BenchError("psql %s failed (exit %d):\n%s%s%s" % (sql_file or repr(command), r.returncode,
                                                               r.stdout[-2000:], r.stderr[-4000:], hint))
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0] == "@@":
            out.setdefault(parts[1], []).append(parts[2:])
    return out


def one(res, key, col=0):
    return res[key][0][col]


def rel_close(a, b):
    return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))


# ---------------------------------------------------------------------------
# Ingest files: the generated set as a client would send it to aegis.points
# ---------------------------------------------------------------------------

def write_ingest_files(tmp, ds_name, limit_copy, limit_insert):
    """From <ds>.points.csv (series_id,ts,value, in series then time order) and <ds>.series.csv writes
    <ds>.ingest.csv (metric,tags JSON,ts,value: the first limit_copy points of every series, all when None), the
    same rows in COPY's text format in <ds>.ingest.txt, and
    <ds>.ingest.sql (INSERT INTO aegis.points VALUES statements of INSERT_ROWS rows: the first limit_insert points
    of every series). Rows stay in series then time order, as a collector flushing per series sends them.
    Returns (copy points, insert points, insert statements)."""
    import csv
    series = {}
    with open(os.path.join(tmp, ds_name + ".series.csv"), newline="") as f:
        for sid, metric, tags, _first, _n in csv.reader(f):
            series[sid] = (metric, tags)
    copy_path = os.path.join(tmp, ds_name + ".ingest.csv")
    text_path = os.path.join(tmp, ds_name + ".ingest.txt")
    sql_path = os.path.join(tmp, ds_name + ".ingest.sql")
    n_copy = n_ins = n_stmt = 0
    pending = []
    cur, k = None, 0
    def text_field(v):  # COPY's text format: backslash, tab and line ends escaped
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    with open(os.path.join(tmp, ds_name + ".points.csv")) as pf, open(copy_path, "w") as cf, \
            open(text_path, "w") as tf, open(sql_path, "w") as sf:
        def flush():
            sf.write("INSERT INTO aegis.points VALUES\n" + ",\n".join(pending) + ";\n")
            pending.clear()
        for line in pf:
            sid, ts, value = line.rstrip("\n").split(",")
            if sid != cur:
                cur, k = sid, 0
                metric, tags = series[sid]
                csv_prefix = '%s,"%s",' % (metric, tags.replace('"', '""'))
                text_prefix = "%s\t%s\t" % (text_field(metric), text_field(tags))
                sql_prefix = "('%s', '%s', '" % (metric.replace("'", "''"), tags.replace("'", "''"))
            if limit_copy is None or k < limit_copy:
                cf.write(csv_prefix + ts + "," + value + "\n")
                tf.write(text_prefix + ts + "\t" + value + "\n")
                n_copy += 1
            if k < limit_insert:
                pending.append(sql_prefix + ts + "', " + value + ")")
                n_ins += 1
                if len(pending) == INSERT_ROWS:
                    flush()
                    n_stmt += 1
            k += 1
        if pending:
            flush()
            n_stmt += 1
    for path in (copy_path, text_path, sql_path):
        os.chmod(path, 0o644)
    return n_copy, n_ins, n_stmt


def check_loaded(res, what, got, expected):
    """Records that a load run holds the expected (count, sum) of the plain table's points; stops the run with
    BenchError when it does not."""
    (n, total), (e_n, e_sum) = got, expected
    ok = n == e_n and rel_close(total, e_sum)
    res.check("%s count, sum = plain table's" % what, ok, "%d, %r vs %d, %r" % (n, total, e_n, e_sum))
    if not ok:
        raise BenchError("%s holds %d points summing to %r, the plain table %d, %r" % (what, n, total, e_n, e_sum))


def ingest_runs(res, mode, path, limit, points, runs):
    """ingest.sql `runs` times; each run must leave exactly the plain table's count and sum of the same points."""
    e = psql("ingest_expect.sql", ds=res.ds.name, limit=limit)
    e_n, e_sum = int(one(e, "plain_read", 0)), float(one(e, "plain_read", 1))
    res.check("ingest %s: the plain table holds %d points for it" % (mode, points), e_n == points,
              "%d vs %d" % (e_n, points))
    for i in range(runs):
        r = psql("ingest.sql", mode=mode, file=path)
        check_loaded(res, "ingest %s run %d, over aegis.read," % (mode, i + 1),
                     (int(one(r, "aegis_read", 0)), float(one(r, "aegis_read", 1) or 0)), (e_n, e_sum))
        res.timing.setdefault("ingest:" + mode, []).append(float(one(r, "load_s")))
        res.timing.setdefault("ingest:%s:recent" % mode, []).append(int(one(r, "recent_rows")))
        log("  ingest %s run %d: %.2f s, %s in recent_points" % (mode, i + 1, float(one(r, "load_s")),
                                                                 one(r, "recent_rows")))
    return e_n, e_sum


def plain_insert_runs(res, aegis_path, expected, runs):
    """The multi-row INSERT path's peers (plain_ingest.sql): the same statements into a plain table with
    aegis.points' columns, without and with a btree on (metric, tags, ts), `runs` times each in turn; each run
    must hold the expected count and sum."""
    path = aegis_path[:-len(".sql")] + ".plain.sql"
    with open(aegis_path) as src, open(path, "w") as dst:
        for line in src:
            dst.write("INSERT INTO bench.plain_ingest VALUES\n" if line == "INSERT INTO aegis.points VALUES\n"
                      else line)
    try:
        for i in range(runs):
            for index in ("off", "on"):
                r = psql("plain_ingest.sql", file=path, index=index)
                check_loaded(res, "plain INSERT peer (index %s) run %d" % (index, i + 1),
                             (int(one(r, "plain_read", 0)), float(one(r, "plain_read", 1) or 0)), expected)
                res.timing.setdefault("plain_insert:" + index, []).append(float(one(r, "load_s")))
                log("  plain INSERT peer, index %s, run %d: %.2f s" % (index, i + 1, float(one(r, "load_s"))))
    finally:
        os.remove(path)


# ---------------------------------------------------------------------------
# One data set
# ---------------------------------------------------------------------------

class Result:
    def __init__(self, ds):
        self.ds = ds
        self.sizes = {}
        self.timing = {}  # name -> [seconds per run]
        self.checks = []  # (what, ok, detail)
        self.read = {}

    def check(self, what, ok, detail=""):
        self.checks.append((what, ok, detail))
        if not ok:
            log("CHECK FAILED: %s: %s %s" % (self.ds.name, what, detail))


def write_runs(res, batch_table, points, runs, label):
    """aegis_write.sql `runs` times over bench.<batch_table> (holding `points` points); returns the last run's
    block summary (blocks, points, block bytes, sum of block sums)."""
    summary = None
    for i in range(runs):
        r = psql("aegis_write.sql", batch_table=batch_table)
        written = int(one(r, "written"))
        res.check("%s run %d: aegis.write returned every point" % (label, i + 1), written == points,
                  "%d written, %d in the batches" % (written, points))
        res.check("%s run %d: nothing left in recent_points after compress" % (label, i + 1),
                  int(one(r, "recent_after_compress")) == 0, one(r, "recent_after_compress"))
        res.timing.setdefault(label + ":write", []).append(float(one(r, "write_s")))
        res.timing.setdefault(label + ":compress", []).append(float(one(r, "compress_s")))
        res.timing.setdefault(label + ":compressed", []).append(int(one(r, "compressed")))
        res.timing.setdefault(label + ":recent_before", []).append(int(one(r, "recent_before_compress")))
        summary = r["block_summary"][0]
        log("  %s run %d: write %.2f s, compress %.2f s (%s points packed)" % (
            label, i + 1, float(one(r, "write_s")), float(one(r, "compress_s")), one(r, "compressed")))
    return summary


def bench_dataset(ds, tmp, runs, timed):
    res = Result(ds)
    t0 = time.monotonic()
    files = dict(ds=ds.name, series_file=os.path.join(tmp, ds.name + ".series.csv"),
                 points_file=os.path.join(tmp, ds.name + ".points.csv"))
    r = psql("load.sql", **files)
    res.timing["staging:copy"] = [float(one(r, "staging_copy_s"))]
    if timed:
        log("  loaded the staging table (%.0f s)" % (time.monotonic() - t0))
    res.check("staged every point", int(one(r, "staged")) == ds.points, "%s of %d" % (one(r, "staged"), ds.points))

    batches = "batches_" + ds.name
    r = psql("batches.sql", ds=ds.name, batch_table=batches, chunk=BATCH_POINTS, limit=2**62)
    res.timing["batch:build"] = [float(one(r, "build_s"))]
    res.check("batches hold every point", int(one(r, "batches", 1)) == ds.points)
    if timed:
        log("  built the batches (%.0f s)" % (time.monotonic() - t0))

    small_summary = None
    if timed:
        # Small-batch path first; the batch path's result is the one measured.
        small = "small_batches_" + ds.name
        r = psql("batches.sql", ds=ds.name, batch_table=small, chunk=SMALL_BATCH_POINTS, limit=SMALL_PATH_POINTS)
        res.small_batches = int(one(r, "batches", 0))
        res.small_points = int(one(r, "batches", 1))
        res.check("small batches hold %d points of every series" % SMALL_PATH_POINTS,
                  res.small_points == ds.series * min(SMALL_PATH_POINTS, ds.points // ds.series))
        small_summary = write_runs(res, small, res.small_points, runs, "small")
        res.check("small-batch path: aegis.compress packed every point",
                  res.timing["small:compressed"][-1] == res.small_points)
        psql(command="DROP TABLE bench.%s" % small)

    for i in range(runs if timed else 1):
        r = psql("plain_copy.sql", **files)
        res.timing.setdefault("plain:copy", []).append(float(one(r, "copy_s")))
        if timed:
            log("  plain run %d: COPY %.2f s" % (i + 1, float(one(r, "copy_s"))))

    if timed:
        # Ingest through aegis.points (needs the plain table for its check); before the batch path, whose
        # result is the one measured and queried.
        t1 = time.monotonic()
        res.ingest = write_ingest_files(tmp, ds.name, INGEST_COPY_POINTS, INGEST_INSERT_POINTS)
        log("  wrote the ingest files: %d CSV rows, %d INSERT rows in %d statements (%.0f s)"
            % (res.ingest + (time.monotonic() - t1,)))
        per_series = ds.points // ds.series
        ingest_runs(res, "copy", os.path.join(tmp, ds.name + ".ingest.csv"),
                    per_series if INGEST_COPY_POINTS is None else INGEST_COPY_POINTS, res.ingest[0], runs)
        ingest_runs(res, "text", os.path.join(tmp, ds.name + ".ingest.txt"),
                    per_series if INGEST_COPY_POINTS is None else INGEST_COPY_POINTS, res.ingest[0], runs)
        insert_path = os.path.join(tmp, ds.name + ".ingest.sql")
        expected = ingest_runs(res, "insert", insert_path, INGEST_INSERT_POINTS, res.ingest[1], runs)
        plain_insert_runs(res, insert_path, expected, min(runs, PLAIN_INSERT_RUNS))
        for ext in ("csv", "txt", "sql"):
            os.remove(os.path.join(tmp, "%s.ingest.%s" % (ds.name, ext)))

    res.batches = int(psql(command="SELECT '@@', 'n', count(*) FROM bench.%s" % batches)["n"][0][0])
    batch_summary = write_runs(res, batches, ds.points, runs if timed else 1, "batch")
    if small_summary is not None and res.small_points == ds.points:
        # Both paths must end with the same points in the same blocks.
        res.check("small-batch path stored the same points", small_summary[1] == batch_summary[1],
                  "%s vs %s" % (small_summary[1], batch_summary[1]))
        res.check("small-batch path: same block sums", rel_close(float(small_summary[3]), float(batch_summary[3])),
                  "%s vs %s" % (small_summary[3], batch_summary[3]))
        res.same_blocks = small_summary[:3] == batch_summary[:3]


    t1 = time.monotonic()
    m = psql("measure.sql", ds=ds.name)
    if timed:
        log("  measured (%.0f s)" % (time.monotonic() - t1))
    s = res.sizes
    s["aegis_total"] = int(one(m, "aegis_total"))
    s["aegis_blocks_table"] = int(one(m, "aegis_blocks_table"))
    s["aegis_blocks_indexes"] = int(one(m, "aegis_blocks_indexes"))
    s["aegis_catalog"] = int(one(m, "aegis_catalog"))
    s["aegis_recent"] = int(one(m, "aegis_recent"))
    s["blocks"] = int(one(m, "aegis_blocks", 0))
    s["block_points"] = int(one(m, "aegis_blocks", 1))
    s["block_data"] = int(one(m, "aegis_blocks", 2))
    s["recent_rows"] = int(one(m, "aegis_recent_rows"))
    s["series"] = int(one(m, "aegis_series"))
    s["plain_total"] = int(one(m, "plain_total"))
    s["plain_table"] = int(one(m, "plain_table"))
    s["plain_indexes"] = int(one(m, "plain_indexes"))
    s["plain_rows"] = int(one(m, "plain_rows"))
    res.check("every point is in aegis.blocks", s["block_points"] == ds.points and s["recent_rows"] == 0,
              "%d in blocks, %d recent, %d expected" % (s["block_points"], s["recent_rows"], ds.points))
    res.check("one aegis series per series", s["series"] == ds.series, "%d vs %d" % (s["series"], ds.series))
    res.check("plain table holds every point", s["plain_rows"] == ds.points, "%d vs %d" % (s["plain_rows"], ds.points))

    t1 = time.monotonic()
    v = psql("verify.sql", ds=ds.name)
    if timed:
        log("  verified (%.0f s)" % (time.monotonic() - t1))
    a_n, a_sum = int(one(v, "aegis_read", 0)), float(one(v, "aegis_read", 1))
    p_n, p_sum = int(one(v, "plain_read", 0)), float(one(v, "plain_read", 1))
    res.read = dict(aegis_n=a_n, aegis_sum=a_sum, plain_n=p_n, plain_sum=p_sum,
                    aegis_s=float(one(v, "aegis_read_s")), plain_s=float(one(v, "plain_read_s")))
    res.check("aegis.read count = plain count", a_n == p_n == ds.points, "%d vs %d" % (a_n, p_n))
    res.check("aegis.read sum = plain sum (1e-9 relative)", rel_close(a_sum, p_sum), "%r vs %r" % (a_sum, p_sum))
    bad = v.get("series_mismatch", [])
    res.check("every series: same count, sum (1e-9 relative) and points (bit for bit)",
              not bad and int(one(v, "series_compared")) == ds.series,
              "%d series differ: %s" % (len(bad), "; ".join(" ".join(row) for row in bad[:5])))

    psql(command="DROP TABLE bench.%s; TRUNCATE bench.staging" % batches)
    res.elapsed = time.monotonic() - t0
    log("%s: %d points, %.1f s" % (ds.name, ds.points, res.elapsed))
    return res


# ---------------------------------------------------------------------------
# Queries (bench/queries.py) on the generated set, against three peers
# ---------------------------------------------------------------------------

TSDB_DB = "aegis_bench_tsdb"  # the TimescaleDB peer's own database
TSDB_VERSION = "2.28.3"  # the release the comparison is for (the last one supporting PostgreSQL 15)
TSDB_CHUNK = "12 hours"  # chunk_time_interval of the hypertable: TSBS's default for TimescaleDB
LATE_BATCH_POINTS = 500  # points per aegis.write call of the late-data rewrite: below STRAIGHT_POINTS
LATE_DELTA = 0.5  # what the late-data rewrite adds to every value it writes again
SESSION_RUNS = 5  # new sessions for the first-query-of-a-session figure
TARGET_DEFAULT = 2.0  # every query: at least this many times faster than the fastest peer
TARGETS = {"Q2": 20.0, "Q4": 20.0, "Q5": 20.0}  # and these at least this many
TARGET_LATE = 1.0  # late-data variant: at least as fast as the faster plain table
VARIANTS = {"clean": "clean data", "late": "late data"}

FORM_NAMES = {"aegis": "extension", "plain": "plain clustered", "arrival": "plain arrival",
              "tsdb": "TimescaleDB", "tsdb2": "TimescaleDB, other form", "read": "SQL over aegis.points",
              "rows": "plain rows read back from a table"}
PEERS = [("arrival", "plain arrival"), ("plain", "plain clustered"), ("tsdb", "TimescaleDB")]


def form_db(form):
    """The database a form runs in: the TimescaleDB forms in TSDB_DB, every other one in DB."""
    return TSDB_DB if form.startswith("tsdb") else DB


def form_name(q, form):
    return FORM_NAMES[form] if form not in q.labels else "%s (%s)" % (FORM_NAMES[form].split(",")[0],
                                                                      q.labels[form])


class Session:
    """One psql session kept open while a variant's queries run: bench.py writes commands to its standard input
    and reads what they print up to a marker line. Each database (the extension's and plain tables', and the
    TimescaleDB peer's) has a session of its own, and their queries run in turn. Times are psql's \\timing."""

    def __init__(self, db, tmp, env=None):
        self.db = db
        self.err = open(os.path.join(tmp, "session.%s.err" % db), "w+")
        self.p = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", db],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                  bufsize=1, env=env)
        self.marks = 0
        self.run(["SET client_min_messages = warning;", "SET TimeZone = 'UTC';", "\\o /dev/null", "\\timing on"])

    def run(self, lines):
        """Runs psql commands; returns the lines they printed (query results go to \\o's file)."""
        self.marks += 1
        mark = "@@ done %d" % self.marks
        try:
            self.p.stdin.write("\n".join(lines + ["\\echo " + mark]) + "\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        out = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == mark:
                return out
            out.append(line)
        self.p.wait()
        self.err.seek(0)
        err = self.err.read()
        hint = ""
        if "connection to server was lost" in err or "terminating connection" in err:
            hint = "\nThe server went away during the run; the figures are incomplete: run make bench again."
        raise BenchError("the query session on %s ended (exit %s) running:\n%s\n%s%s"
                         % (self.db, self.p.returncode, "\n".join(lines)[-2000:], err[-4000:], hint))

    def timed(self, sql, out=None):
        """Milliseconds of one statement; its rows go to the file `out` (else /dev/null)."""
        lines = ["\\o " + out, sql + ";", "\\o /dev/null"] if out else [sql + ";"]
        times = [float(line.split()[1]) for line in self.run(lines) if line.startswith("Time: ")]
        if len(times) != 1:
            raise BenchError("no single \\timing line for: %s" % sql)
        return times[0]

    def close(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=120)
        self.err.close()


class QueryResult:
    def __init__(self, q, variant):
        self.q = q
        self.variant = variant
        self.forms = []        # the forms run (the TimescaleDB ones only when it is installed)
        self.rows = None       # rows of the plain form
        self.ref = None        # the plain form's parsed rows (_parse_output)
        self.runs = {}         # form -> [ms per timed run]
        self.warmup = {}       # form -> ms of the warm-up (checked) run

    def median(self, form):
        return statistics.median(self.runs[form]) if self.runs.get(form) else None

    def peers(self):
        """{peer: (median ms, form)} of the peers measured; TimescaleDB's faster form where it has two."""
        out = {}
        for peer, _ in PEERS:
            meds = [(self.median(f), f) for f in (peer, peer + "2") if self.median(f) is not None]
            if meds:
                out[peer] = min(meds)
        return out

    def fastest(self):
        """(peer, ms) of the fastest peer measured, or (None, None)."""
        p = self.peers()
        if not p:
            return None, None
        peer = min(p, key=lambda k: p[k][0])
        return peer, p[peer][0]


def _parse_output(path, q):
    """Rows of one form's run: {key tuple: [value texts]}, and the number of rows."""
    ncols = len(q.keys) + len(q.values)
    out, n, dup, bad = {}, 0, 0, 0
    with open(path) as f:
        for line in f.read().splitlines():
            cells = line.split("\t")
            n += 1
            if len(cells) != ncols:
                bad += 1
                continue
            key = tuple(cells[:len(q.keys)])
            if key in out:
                dup += 1
            out[key] = cells[len(q.keys):]
    return out, n, dup, bad


def _same_value(a, b, kind):
    if a == b:
        return True
    try:
        fa, fb = float(a), float(b)
    except ValueError:
        return False
    return fa == fb if kind == "exact" else rel_close(fa, fb)


def compare_forms(q, ref, other):
    """Returns (ok, detail) for form `other` against the plain form `ref` (each a _parse_output result)."""
    (r_rows, r_n, r_dup, r_bad), (o_rows, o_n, o_dup, o_bad) = ref, other
    problems = []
    if r_n == 0:
        problems.append("the plain form returns no rows")
    if o_n != r_n:
        problems.append("%d rows vs %d" % (o_n, r_n))
    if r_dup or o_dup or r_bad or o_bad:
        problems.append("repeated keys %d/%d, malformed rows %d/%d" % (o_dup, r_dup, o_bad, r_bad))
    missing = [k for k in r_rows if k not in o_rows]
    extra = [k for k in o_rows if k not in r_rows]
    if missing:
        problems.append("%d keys missing, e.g. %s" % (len(missing), missing[0]))
    if extra:
        problems.append("%d keys not in the plain result, e.g. %s" % (len(extra), extra[0]))
    differ = []
    for k, rv in r_rows.items():
        ov = o_rows.get(k)
        if ov is None:
            continue
        for (name, kind), a, b in zip(q.values, ov, rv):
            if not _same_value(a, b, kind):
                differ.append("%s at %s: %s vs %s" % (name, ",".join(k) or "()", a, b))
    if differ:
        problems.append("%d values differ, e.g. %s" % (len(differ), "; ".join(differ[:3])))
    return not problems, "; ".join(problems)


def timescaledb_status():
    """(True, version) when TimescaleDB can be created on this server, else (False, why not)."""
    if os.environ.get("BENCH_TIMESCALEDB", "auto") in ("0", "off", "no"):
        return False, "skipped (BENCH_TIMESCALEDB=off)"
    r = psql(db="postgres", command="SELECT '@@', 'tsdb', coalesce((SELECT default_version FROM "
                                    "pg_available_extensions WHERE name = 'timescaledb'), ''), "
                                    "current_setting('shared_preload_libraries')")
    version, preload = r["tsdb"][0]
    if not version:
        return False, "not installed"
    if "timescaledb" not in [p.strip() for p in preload.split(",")]:
        return False, "not preloaded"
    return True, version


class Peers:
    """What setup_peers and late_data found: build times, sizes, TimescaleDB's status."""

    def __init__(self, tsdb_ok, tsdb_status):
        self.tsdb = tsdb_ok        # whether the TimescaleDB peer is measured
        self.tsdb_status = tsdb_status  # its version, or why it is not measured
        self.build = {}            # name -> seconds
        self.sizes = {}            # name -> bytes (clean data)
        self.late = {}             # late-data facts: cutoff, points, seconds, sizes
        self.plain_sum = None      # sum of the plain table's values (clean data)


def setup_peers(res, scale, tmp):
    """The query benchmark's peers, after the storage figures are measured: bench.series_map, the clustered plain
    table (CLUSTER) and the arrival-order one (plain_peers.sql), and, when TimescaleDB is installed and preloaded,
    its database with the compressed hypertable (tsdb_load.sql) and its own series map."""
    ds = res.ds
    tsdb_ok, status = timescaledb_status()
    peers = Peers(tsdb_ok, status)
    r = psql("query_setup.sql", ds=ds.name)
    res.check("series map: one row per series", int(one(r, "series_map")) == ds.series, one(r, "series_map"))
    t0 = time.monotonic()
    r = psql("plain_peers.sql", ds=ds.name, arrival=queries.ARRIVAL)
    peers.build["cluster"] = float(one(r, "cluster_s"))
    peers.build["arrival"] = float(one(r, "arrival_s"))
    peers.sizes["plain"], peers.sizes["arrival"] = (int(x) for x in r["sizes"][0])
    peers.correlation = correlations(r)
    res.check("plain table clustered on its (series_id, ts) btree", one(r, "clustered") == "t", one(r, "clustered"))
    p_n, p_sum, a_n, a_sum = r["totals"][0]
    peers.plain_sum = float(p_sum)
    res.check("plain clustered and arrival tables: every point, same count and sum",
              int(p_n) == int(a_n) == ds.points and rel_close(float(p_sum), float(a_sum)),
              "%s, %s vs %s, %s (%d points)" % (p_n, p_sum, a_n, a_sum, ds.points))
    log("  plain peers: CLUSTER %.1f s, arrival-order table %.1f s (%.0f s)"
        % (peers.build["cluster"], peers.build["arrival"], time.monotonic() - t0))
    if not tsdb_ok:
        log("  TimescaleDB: %s" % status)
        return peers
    t0 = time.monotonic()
    psql(db="postgres", command="DROP DATABASE IF EXISTS %s" % TSDB_DB)
    psql(db="postgres", command="CREATE DATABASE %s" % TSDB_DB)
    psql(db=TSDB_DB, command="SET client_min_messages = warning; CREATE EXTENSION timescaledb")
    r = psql("tsdb_load.sql", db=TSDB_DB, ds=ds.name, chunk="'%s'" % TSDB_CHUNK,
             series_file=os.path.join(tmp, ds.name + ".series.csv"),
             points_file=os.path.join(tmp, ds.name + ".points.csv"))
    peers.tsdb_status = one(r, "version")
    peers.build["tsdb_copy"] = float(one(r, "copy_s"))
    peers.build["tsdb_compress"] = float(one(r, "compress_s"))
    peers.tsdb_chunks = [int(x) for x in r["chunks"][0]]
    res.check("TimescaleDB: every chunk compressed", peers.tsdb_chunks[0] == peers.tsdb_chunks[1] > 0,
              "%d of %d" % (peers.tsdb_chunks[1], peers.tsdb_chunks[0]))
    m = psql("query_setup.sql", db=TSDB_DB, ds=ds.name)
    res.check("TimescaleDB database: series map, one row per series", int(one(m, "series_map")) == ds.series,
              one(m, "series_map"))
    st = psql("tsdb_state.sql", db=TSDB_DB, ds=ds.name)
    t_n, t_sum = int(one(st, "totals", 0)), float(one(st, "totals", 1))
    res.check("TimescaleDB: same count and sum as the plain table",
              t_n == ds.points and rel_close(t_sum, peers.plain_sum),
              "%d, %r vs %d, %r" % (t_n, t_sum, ds.points, peers.plain_sum))
    res.check("TimescaleDB: no point left uncompressed", tsdb_uncompressed(st) == 0, str(tsdb_uncompressed(st)))
    peers.sizes["tsdb"] = int(one(st, "size"))
    log("  TimescaleDB %s: %d chunks, \\copy %.1f s, compress_chunk %.1f s (%.0f s)"
        % (peers.tsdb_status, peers.tsdb_chunks[0], peers.build["tsdb_copy"], peers.build["tsdb_compress"],
           time.monotonic() - t0))
    if peers.tsdb_status != TSDB_VERSION:
        log("  note: TimescaleDB %s, not %s" % (peers.tsdb_status, TSDB_VERSION))
    return peers


def correlations(r):
    """{"plain" | "arrival": "series_id c / ts c"}: pg_stats' correlation of the two plain tables' key columns
    (1: the heap is in that column's order), from plain_peers.sql or late_data.sql."""
    out = {}
    for table, col, c in r.get("correlation", []):
        form = "arrival" if table == queries.ARRIVAL.split(".")[1] else "plain"
        out.setdefault(form, {})[col] = c
    return {f: "%s / %s" % (v.get("series_id", "?"), v.get("ts", "?")) for f, v in out.items()}


def tsdb_uncompressed(state):
    """Rows in the TimescaleDB chunks' own heaps (uncompressed), from tsdb_state.sql."""
    return sum(int(n) for _, n in state.get("chunk_rows", []))


def open_sessions(peers, tmp):
    sessions = {DB: Session(DB, tmp)}
    if peers.tsdb:
        sessions[TSDB_DB] = Session(TSDB_DB, tmp)
    return sessions


def close_sessions(sessions):
    for s in sessions.values():
        s.close()


def bench_queries(res, qs, sessions, tmp, runs, variant):
    """Runs every query of bench/queries.py on the current state: per query one warm-up run of each form (its
    rows are saved and compared with the clustered plain table's), then `runs` rounds that run every form once
    in turn, so that other load on the shared machine falls on all forms alike, in a new order each round
    (random.Random(round).shuffle: the same orders in every run). Each form runs in its database's
    session (Session), which stays open for the whole variant."""
    t0 = time.monotonic()
    log("queries, %s: %d queries, 1 warm-up + %d timed runs of each form" % (VARIANTS[variant], len(qs), runs))
    results = []
    for q in qs:
        qr = QueryResult(q, variant)
        forms = [(f, sql) for f, sql in q.forms if form_db(f) in sessions]
        # The rows alone: the same rows read from a table that holds them, the floor of any form (the
        # client's time to receive and print them, and the server's to send them).
        rows_table = "bench.rows_%s" % q.qid.lower()
        sessions[DB].run(["DROP TABLE IF EXISTS %s;" % rows_table,
                          "CREATE UNLOGGED TABLE %s AS %s;" % (rows_table, dict(forms)["plain"]),
                          "VACUUM ANALYZE %s;" % rows_table])
        forms.append(("rows", "SELECT * FROM %s" % rows_table))
        qr.forms = [f for f, _ in forms]
        outputs = {}
        for f, sql in forms:
            outputs[f] = os.path.join(tmp, "%s.%s.%s.out" % (variant, q.qid, f))
            qr.warmup[f] = sessions[form_db(f)].timed(sql, outputs[f])
        for r in range(runs):
            # A new order each round (the same shuffles in every run): a form run right after a peer's large
            # scan finds the CPU caches cold, and in a fixed order (or one only rotated, which keeps who
            # follows whom) the same form would always pay for it.
            order = list(forms)
            random.Random(r).shuffle(order)
            for f, sql in order:
                qr.runs.setdefault(f, []).append(sessions[form_db(f)].timed(sql))
        parsed = {f: _parse_output(outputs[f], q) for f in qr.forms}
        qr.ref = parsed["plain"]
        qr.rows = qr.ref[1]
        for f in qr.forms:
            if f != "plain":
                ok, detail = compare_forms(q, qr.ref, parsed[f])
                res.check("%s, %s: the %s returns the plain table's rows" % (VARIANTS[variant], q.qid,
                                                                          form_name(q, f)), ok, detail)
        log("  %s: %d rows; %s" % (query_label(q), qr.rows, ", ".join(
            "%s %.1f ms" % (f, qr.median(f)) for f in qr.forms)))
        results.append(qr)
    log("queries, %s: %.0f s" % (VARIANTS[variant], time.monotonic() - t0))
    return results


def first_query_of_session(res, qr, tmp, n, peers):
    """The first execution of a query in a brand-new connection (psql -c, the library preloaded), `n` new
    sessions per form, forms in turn: extension, plain clustered, plain arrival, TimescaleDB. Each run's rows
    must be the plain table's. Returns {form: [ms]}."""
    q = qr.q
    forms = [(f, sql) for f, sql in q.forms if f in ("aegis", "plain", "arrival", "tsdb")
             and (peers.tsdb or not f.startswith("tsdb"))]
    out = {}
    env = dict(os.environ, PGTZ="UTC")  # a connection option, not a statement: the query stays the first
    for i in range(n):
        for f, sql in forms:
            path = os.path.join(tmp, "session.%s.%s.%d.out" % (q.qid, f, i))
            cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", form_db(f),
                   "-c", "\\o " + path, "-c", "\\timing on", "-c", sql]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            times = [float(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("Time: ")]
            if r.returncode != 0 or len(times) != 1:
                raise BenchError("first query of a session (%s, %s) failed (exit %d):\n%s" % (
                    q.qid, f, r.returncode, r.stderr[-4000:]))
            ok, detail = compare_forms(q, qr.ref, _parse_output(path, q))
            res.check("%s, new session %d: the %s returns the plain table's rows" % (q.qid, i + 1, form_name(q, f)),
                      ok, detail)
            out.setdefault(f, []).append(times[0])
    log("  first query of a session, %s: %s" % (q.qid, ", ".join(
        "%s %.1f ms (warm %.1f)" % (f, statistics.median(v), qr.median(f)) for f, v in out.items())))
    return out


def late_data(res, scale, peers):
    """The late-data state: the last quarter (by time) of every series written again, value + LATE_DELTA,
    through aegis.write batches of LATE_BATCH_POINTS points into aegis.recent_points over the compressed blocks,
    and as UPDATEs on the plain tables (late_data.sql) and on TimescaleDB's compressed chunks (tsdb_late.sql);
    no aegis maintenance afterwards. Checks that the rewritten points sit in recent_points, the blocks are
    untouched, every peer holds the plain table's count and sum, and that aegis.read returns the clustered plain
    table's points bit for bit (verify.sql)."""
    ds = res.ds
    t0 = time.monotonic()
    _, per_series = datasets.SCALES[scale]
    late_per_series = per_series // 4
    cutoff = datasets.TSBS_START + dt.timedelta(seconds=datasets.TSBS_STEP_S * (per_series - late_per_series))
    late_points = late_per_series * ds.series
    lt = peers.late
    lt.update(cutoff=cutoff, points=late_points, per_series=late_per_series)
    r = psql("late_data.sql", ds=ds.name, arrival=queries.ARRIVAL, cutoff=cutoff.strftime("%Y-%m-%d %H:%M:%S+00"),
             chunk=LATE_BATCH_POINTS)
    n_batches, b_points, b_max = (int(x) for x in r["batches"][0])
    lt["batches"] = n_batches
    res.check("late data: batches hold the last %d points of every series" % late_per_series,
              b_points == late_points, "%d vs %d" % (b_points, late_points))
    bmp = int(one(psql(command="SELECT '@@', 'bmp', current_setting('aegis.block_max_points')"), "bmp"))
    straight = min(bmp, STRAIGHT_POINTS)
    res.check("late data: every batch below the straight-into-blocks threshold (%d)" % straight, b_max < straight,
              str(b_max))
    res.check("late data: recent_points empty before the rewrite", int(one(r, "recent_before")) == 0,
              one(r, "recent_before"))
    res.check("late data: aegis.write returned every point", int(one(r, "written")) == late_points,
              "%s vs %d" % (one(r, "written"), late_points))
    rec_n, rec_series = int(one(r, "recent_after", 0)), int(one(r, "recent_after", 1))
    res.check("late data: every rewritten point sits in aegis.recent_points",
              rec_n == late_points and rec_series == ds.series, "%d rows of %d series" % (rec_n, rec_series))
    res.check("late data: aegis.blocks untouched by the rewrite", r["blocks_before"][0] == r["blocks_after"][0],
              "%s vs %s" % (r["blocks_before"][0], r["blocks_after"][0]))
    res.check("late data: the UPDATE rewrote the same points of the plain table",
              int(one(r, "late_rows")) == late_points, one(r, "late_rows"))
    p_n, p_sum, a_n, a_sum = r["totals"][0]
    expect = peers.plain_sum + LATE_DELTA * late_points
    res.check("late data: plain tables' count and sum (clean sum + %g per rewritten point)" % LATE_DELTA,
              int(p_n) == int(a_n) == ds.points and rel_close(float(p_sum), expect)
              and rel_close(float(a_sum), expect), "%s, %s, %s, %s vs %r" % (p_n, p_sum, a_n, a_sum, expect))
    lt["write_s"] = float(one(r, "write_s"))
    lt["update_plain_s"] = float(one(r, "update_plain_s"))
    lt["update_arrival_s"] = float(one(r, "update_arrival_s"))
    lt["correlation"] = correlations(r)
    lt["sizes"] = {"plain": int(one(r, "sizes", 0)), "arrival": int(one(r, "sizes", 1)),
                   "recent": int(one(r, "sizes", 2))}
    if peers.tsdb:
        t = psql("tsdb_late.sql", db=TSDB_DB, ds=ds.name, cutoff=cutoff.strftime("%Y-%m-%d %H:%M:%S+00"))
        lt["update_tsdb_s"] = float(one(t, "update_s"))
        st = psql("tsdb_state.sql", db=TSDB_DB, ds=ds.name)
        t_n, t_sum = int(one(st, "totals", 0)), float(one(st, "totals", 1))
        res.check("late data: TimescaleDB's count and sum = the plain table's",
                  t_n == ds.points and rel_close(t_sum, expect), "%d, %r vs %r" % (t_n, t_sum, expect))
        lt["tsdb_uncompressed"] = tsdb_uncompressed(st)
        lt["sizes"]["tsdb"] = int(one(st, "size"))
    v = psql("verify.sql", ds=ds.name)
    a_n, a_s = int(one(v, "aegis_read", 0)), float(one(v, "aegis_read", 1))
    res.check("late data: aegis.read count, sum = the plain table's", a_n == ds.points and rel_close(a_s, expect),
              "%d, %r vs %r" % (a_n, a_s, expect))
    bad = v.get("series_mismatch", [])
    res.check("late data: every series: same count, sum and points (bit for bit) as the plain table",
              not bad and int(one(v, "series_compared")) == ds.series,
              "%d series differ: %s" % (len(bad), "; ".join(" ".join(row) for row in bad[:5])))
    log("late data: %s points rewritten from %s: aegis.write %.1f s, UPDATE clustered %.1f s, arrival %.1f s%s "
        "(%.0f s with the checks)" % (fmt_int(late_points), cutoff.strftime("%Y-%m-%d %H:%M:%S"), lt["write_s"],
                                      lt["update_plain_s"], lt["update_arrival_s"],
                                      ", TimescaleDB %.1f s" % lt["update_tsdb_s"] if peers.tsdb else "",
                                      time.monotonic() - t0))


def run_query_benchmark(tsbs, scale, tmp, qruns):
    """Step 5: the peers, the clean-data queries, the first query of a session, the late-data rewrite and its
    queries. Returns ({"peers", "clean", "late", "first"}, the query parameters)."""
    t0 = time.monotonic()
    peers = setup_peers(tsbs, scale, tmp)
    q6_host = one(psql(command=queries.q6_host_sql(scale)), "q6_host")
    qs = queries.build(scale, q6_host)
    sessions = open_sessions(peers, tmp)
    try:
        clean = bench_queries(tsbs, qs, sessions, tmp, qruns, "clean")
    finally:
        close_sessions(sessions)
    first = first_query_of_session(tsbs, clean[0], tmp, SESSION_RUNS, peers)
    late_data(tsbs, scale, peers)
    sessions = open_sessions(peers, tmp)
    try:
        late = bench_queries(tsbs, qs, sessions, tmp, qruns, "late")
    finally:
        close_sessions(sessions)
    log("query benchmark: %.0f s" % (time.monotonic() - t0))
    return dict(peers=peers, clean=clean, late=late, first=first), queries.describe(scale, q6_host)


def fmt_ms(ms):
    if ms is None:
        return "-"
    if ms < 10:
        return "%.2f" % ms
    if ms < 1000:
        return "%.1f" % ms
    return "{:,.0f}".format(ms)


def fmt_ratio(a, b):
    if a is None or b is None or b <= 0:
        return "-"
    r = a / b
    return ("%.2fx" % r) if r < 10 else ("%.1fx" % r) if r < 100 else ("%.0fx" % r)


def query_label(q):
    return q.qid + (" " + q.tsbs if q.tsbs else "")


def target_of(qr):
    """The speed-up a query must reach: on clean data against the fastest peer (TARGETS, else TARGET_DEFAULT); on
    the late-data variant against the faster plain table (TARGET_LATE: at least as fast, as issue 10 asks)."""
    return TARGET_LATE if qr.variant == "late" else TARGETS.get(qr.q.qid, TARGET_DEFAULT)


def target_peer(qr):
    """(peer, ms) the target is measured against: the fastest peer, on late data the faster plain table."""
    if qr.variant != "late":
        return qr.fastest()
    p = {k: v for k, v in qr.peers().items() if k in ("plain", "arrival")}
    if not p:
        return None, None
    peer = min(p, key=lambda k: p[k][0])
    return peer, p[peer][0]


def target_met(qr, peers):
    """"yes", "no", or, when the extension beats both plain tables by the target but TimescaleDB was not
    measured, "no TimescaleDB" (never a pass). The late-data target involves the plain tables only."""
    _, ms = target_peer(qr)
    a = qr.median("aegis")
    if ms is None or a is None or ms / a < target_of(qr):
        return "no"
    return "yes" if peers.tsdb or qr.variant == "late" else "no TimescaleDB"


def tsdb_cell(qr, peers):
    p = qr.peers().get("tsdb")
    if p is None:
        return peers.tsdb_status if not peers.tsdb else "-"
    return fmt_ms(p[0]) + (" (%s)" % qr.q.labels[p[1]] if p[1] in qr.q.labels else "")


def reads_late(q, peers):
    """Whether the query's points include rewritten ones (its window reaches the late-data cutoff)."""
    return q.window is None or q.window[1] > peers.late["cutoff"]


def query_table(qresults, peers, markdown, clean=None):
    """Per query: the extension, the three peers, the fastest peer and its ratio, the target. With `clean` (the
    clean-data results) the late-data table: whether the query reads rewritten points, the clean aegis ms, and the
    ratio to the faster plain table, which the late-data target is about."""
    headers = ["query", "rows"] + (["reads late points", "aegis ms (clean)"] if clean else []) + [
        "aegis ms", "plain arrival ms", "plain clustered ms", "TimescaleDB ms", "fastest peer",
        "fastest peer / aegis"] + (["faster plain / aegis"] if clean else []) + ["target", "met",
                                                                                  "aegis.points SQL ms",
                                                                                  "rows alone ms"]
    names = dict(PEERS)
    before = {c.q.qid: c for c in clean or []}
    rows = []
    for qr in qresults:
        q = qr.q
        a = qr.median("aegis")
        peer, ms = qr.fastest()
        row = [query_label(q), fmt_int(qr.rows)]
        if clean:
            row += ["yes" if reads_late(q, peers) else "no", fmt_ms(before[q.qid].median("aegis"))]
        row += [fmt_ms(a), fmt_ms(qr.median("arrival")), fmt_ms(qr.median("plain")), tsdb_cell(qr, peers),
                names.get(peer, "-"), fmt_ratio(ms, a)]
        if clean:
            row.append(fmt_ratio(target_peer(qr)[1], a))
        row += ["%gx" % target_of(qr), target_met(qr, peers), fmt_ms(qr.median("read")), fmt_ms(qr.median("rows"))]
        rows.append(row)
    return render(headers, rows, "lr" + ("lr" if clean else "") + "rrrrlr" + ("r" if clean else "") + "rlrr",
                  markdown)


def target_line(qresults, peers):
    """One sentence: for each query, whether the target holds."""
    held = [qr for qr in qresults if target_met(qr, peers) == "yes"]
    parts = []
    for qr in qresults:
        _, ms = target_peer(qr)
        a = qr.median("aegis")
        met = target_met(qr, peers)
        parts.append("%s %s (%s %s %gx)" % (qr.q.qid, {"yes": "holds", "no": "does not hold"}.get(
            met, "not established"), fmt_ratio(ms, a), ">=" if met != "no" else "<", target_of(qr)))
    late = bool(qresults) and qresults[0].variant == "late"
    if late:
        head = ("Target on late data (every query at least as fast as the faster plain table, %gx; the ratio is the "
                "faster plain table's time over the extension's)" % TARGET_LATE)
    else:
        head = ("Target (every query at least %gx faster than the fastest peer; %s at least %gx)"
                % (TARGET_DEFAULT, ", ".join(sorted(TARGETS)), max(TARGETS.values())))
    line = "%s: %s; holds on %d of %d." % (head, "; ".join(parts), len(held), len(qresults))
    if not peers.tsdb and not late:
        line += (" TimescaleDB %s: the fastest peer is the faster plain table, and no query counts as meeting the "
                 "target (\"not established\" where the extension beats both plain tables by it)."
                 % peers.tsdb_status)
    return line


def q3_note(qresults, peers):
    """Which TimescaleDB form of Q3 is the one shown (the faster)."""
    for qr in qresults:
        p = qr.peers().get("tsdb")
        if p is not None and len([f for f in qr.forms if f.startswith("tsdb")]) > 1:
            other = [f for f in qr.forms if f.startswith("tsdb") and f != p[1]][0]
            return ("%s on TimescaleDB: %s %s ms, %s %s ms; the faster (%s) is shown."
                    % (qr.q.qid, qr.q.labels[p[1]], fmt_ms(p[0]), qr.q.labels[other], fmt_ms(qr.median(other)),
                       qr.q.labels[p[1]]))
    return None


def session_table(first, qr, markdown):
    headers = ["%s through" % qr.q.qid, "first query of a new session ms", "sessions (ms)", "warm ms",
               "first / warm"]
    rows = []
    for f in first:
        med = statistics.median(first[f])
        rows.append([form_name(qr.q, f), fmt_ms(med), " ".join(fmt_ms(x) for x in first[f]), fmt_ms(qr.median(f)),
                     fmt_ratio(med, qr.median(f))])
    return render(headers, rows, "lrlrr", markdown)


def session_lines(first, qr):
    return ["%s, %s: first query of a session: %s ms vs warm %s ms" % (
        qr.q.qid, form_name(qr.q, f), fmt_ms(statistics.median(first[f])), fmt_ms(qr.median(f))) for f in first]


def peers_table(tsbs, peers, markdown):
    """How each side of the query benchmark was built and what it stores (clean data)."""
    p = tsbs.ds.points
    t = tsbs.timing
    headers = ["side", "built by", "s", "bytes", "B/pt", "correlation series_id / ts"]
    rows = [["extension", "aegis.write batches of %s points, then aegis.compress('0')" % fmt_int(BATCH_POINTS),
             "%.2f" % (statistics.median(t["batch:write"]) + statistics.median(t["batch:compress"])),
             fmt_int(tsbs.sizes["aegis_total"]), "%.2f" % (tsbs.sizes["aegis_total"] / p), "-"],
            ["plain clustered", "\\copy in series order (median), then CLUSTER on the btree (%.2f s)"
             % peers.build["cluster"], "%.2f" % (statistics.median(t["plain:copy"]) + peers.build["cluster"]),
             fmt_int(peers.sizes["plain"]), "%.2f" % (peers.sizes["plain"] / p), peers.correlation.get("plain", "-")],
            ["plain arrival", "INSERT ... SELECT ... ORDER BY ts, series_id into the indexed table",
             "%.2f" % peers.build["arrival"], fmt_int(peers.sizes["arrival"]), "%.2f" % (peers.sizes["arrival"] / p),
             peers.correlation.get("arrival", "-")]]
    if peers.tsdb:
        rows.append(["TimescaleDB %s" % peers.tsdb_status, "\\copy (%.2f s), then compress_chunk on its %d chunk%s "
                     "(%.2f s)" % (peers.build["tsdb_copy"], peers.tsdb_chunks[0],
                                   "" if peers.tsdb_chunks[0] == 1 else "s", peers.build["tsdb_compress"]),
                     "%.2f" % (peers.build["tsdb_copy"] + peers.build["tsdb_compress"]),
                     fmt_int(peers.sizes["tsdb"]), "%.2f" % (peers.sizes["tsdb"] / p), "-"])
    else:
        rows.append(["TimescaleDB", peers.tsdb_status, "-", "-", "-", "-"])
    return render(headers, rows, "llrrrr", markdown)


def late_table(tsbs, peers, markdown):
    """The late-data rewrite on each side (one run, informational)."""
    lt = peers.late
    n = lt["points"]
    headers = ["side", "rewrite of %s points" % fmt_int(n), "s", "points/s", "bytes after",
               "correlation series_id / ts after"]
    rows = [["extension", "aegis.write, %s calls of <= %d points (into aegis.recent_points)"
             % (fmt_int(lt["batches"]), LATE_BATCH_POINTS), "%.2f" % lt["write_s"], fmt_rate(n, lt["write_s"]),
             fmt_int(tsbs.sizes["aegis_total"] + lt["sizes"]["recent"] - tsbs.sizes["aegis_recent"]), "-"],
            ["plain clustered", "UPDATE ... SET value = value + %g" % LATE_DELTA, "%.2f" % lt["update_plain_s"],
             fmt_rate(n, lt["update_plain_s"]), fmt_int(lt["sizes"]["plain"]), lt["correlation"].get("plain", "-")],
            ["plain arrival", "UPDATE ... SET value = value + %g" % LATE_DELTA, "%.2f" % lt["update_arrival_s"],
             fmt_rate(n, lt["update_arrival_s"]), fmt_int(lt["sizes"]["arrival"]),
             lt["correlation"].get("arrival", "-")]]
    if peers.tsdb:
        rows.append(["TimescaleDB", "UPDATE on the compressed chunks (%s rows left uncompressed)"
                     % fmt_int(lt["tsdb_uncompressed"]), "%.2f" % lt["update_tsdb_s"],
                     fmt_rate(n, lt["update_tsdb_s"]), fmt_int(lt["sizes"]["tsdb"]), "-"])
    return render(headers, rows, "llrrrr", markdown)


def query_runs_table(qresults, markdown):
    headers = ["query", "form", "warm-up ms", "median ms", "runs (ms)"]
    rows = []
    for qr in qresults:
        for form in qr.forms:
            rows.append([qr.q.qid, form_name(qr.q, form), fmt_ms(qr.warmup.get(form)), fmt_ms(qr.median(form)),
                         " ".join(fmt_ms(x) for x in qr.runs[form])])
    return render(headers, rows, "llrrl", markdown)


def query_legend(qresults):
    return ["%s: %s" % (query_label(qr.q), qr.q.title) for qr in qresults]


def queries_report(qr_clean, qr_late, first, peers, qparams, qruns, tsbs):
    """The Markdown section of the query benchmark."""
    md = ["## Queries\n"]
    md.append("TSBS cpu-only queries on the generated set (%s points, %s series), each through the extension and "
              "against three peers on the same server, in the same run, warm: **plain arrival**, a plain table "
              "`(series_id int4, ts timestamptz, value float8)` loaded in arrival order (time, then series, as "
              "collectors write it) with a btree on `(series_id, ts)`; **plain clustered**, the same table "
              "CLUSTERed on that btree (each series' points together, in time order); **TimescaleDB**, a "
              "compressed hypertable (`compress_segmentby = 'series_id'`, `compress_orderby = 'ts'`)%s. Median of "
              "%d runs after one warm-up, in milliseconds as the client sees them (planning, execution and the "
              "rows' transfer). **fastest peer / aegis** above 1 means the extension is faster than every peer. "
              "**aegis.points SQL** is the same question asked in plain SQL over the `aegis.points` foreign "
              "table, as Grafana or a BI tool would ask it: conditions and `GROUP BY aegis.time_bucket(...)` "
              "with its aggregates go to the engine (informational). **rows alone** is the same rows read "
              "with `SELECT *` from an unlogged table that holds them, in the same rounds: the floor under "
              "every form, the time to send the rows and for psql to receive and print them, which no engine "
              "can remove (a form twice as fast as a peer must be so with this floor included). Every form "
              "returns the clustered plain table's rows (checked, see Method).\n"
              % (fmt_int(tsbs.ds.points), fmt_int(tsbs.ds.series),
                 " (TimescaleDB %s)" % peers.tsdb_status if peers.tsdb else
                 ": not measured in this run (**%s**), so its column says so and no query can meet the target"
                 % peers.tsdb_status, qruns))
    md.append("### Clean data\n")
    md.append("Every point in the extension's compressed blocks (nothing in `aegis.recent_points`)%s.\n"
              % (", and in the TimescaleDB peer's compressed chunks" if peers.tsdb else ""))
    md.append(query_table(qr_clean, peers, True) + "\n")
    md.append(target_line(qr_clean, peers) + "\n")
    note = q3_note(qr_clean, peers)
    md.append("Q3 on the plain tables is asked the fast way for a btree, `LATERAL (... ORDER BY ts DESC LIMIT 1)` "
              "per series." + (" " + note if note else "") + "\n")
    since = qparams["since"].strftime("%Y-%m-%d %H:%M:%S")
    md.append("- " + "\n- ".join(query_legend(qr_clean)))
    md.append("- Windows (UTC): Q1 and Q6 `[%s, %s)`, Q4 `[%s, %s)` (the 8 hosts %s), Q7 `[%s, %s)` (6 "
              "one-minute buckets, the first and last partial); Q6's host is %s, the first host whose "
              "`cpu_usage_user` goes above 90 in its window. Q2, Q3 and Q5 have no window: the whole data set, "
              "%s to %s.\n"
              % (since, qparams["until12"].strftime("%H:%M:%S"), since, qparams["until8"].strftime("%H:%M:%S"),
                 qparams["q4_hosts"],
                 (qparams["q7_until"] - dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S"),
                 qparams["q7_until"].strftime("%H:%M:%S"), qparams["q6_host"], "2024-01-01 00:00:00",
                 (datasets.TSBS_START + dt.timedelta(seconds=datasets.TSBS_STEP_S * (
                     tsbs.ds.points // tsbs.ds.series - 1))).strftime("%Y-%m-%d %H:%M:%S")))
    lt = peers.late
    md.append("### Late data\n")
    md.append("The same queries after the last quarter (by time) of every series (%s points from %s on, %s per "
              "series) was written again with the same timestamps and value + %g: through %s `aegis.write` "
              "batches of at most %d points, below the 1,000 that go straight into blocks, so the new values sit in "
              "`aegis.recent_points` over the compressed blocks that still hold the old ones, with no "
              "`aegis.compress` or maintenance round afterwards; as `UPDATE ... SET value = value + %g` on both "
              "plain tables%s, then `VACUUM ANALYZE` (also of `aegis.recent_points` and `aegis.last_points`). **reads late points**: "
              "whether the query's window reaches the rewritten quarter; **aegis ms (clean)** is the extension's "
              "figure from the table above.\n"
              % (fmt_int(lt["points"]), lt["cutoff"].strftime("%Y-%m-%d %H:%M:%S"), fmt_int(lt["per_series"]),
                 LATE_DELTA, fmt_int(lt["batches"]), LATE_BATCH_POINTS, LATE_DELTA,
                 " and on TimescaleDB's compressed chunks (which decompresses the batches it touches; %s rows "
                 "stay uncompressed)" % fmt_int(lt["tsdb_uncompressed"]) if peers.tsdb else ""))
    md.append(query_table(qr_late, peers, True, qr_clean) + "\n")
    md.append(target_line(qr_late, peers) + "\n")
    note = q3_note(qr_late, peers)
    if note:
        md.append(note + "\n")
    md.append(late_table(tsbs, peers, True) + "\n")
    md.append("Each rewrite ran once, timed for information. The clustered plain table's new row versions land "
              "wherever the heap has room (its pages were full), so after the UPDATE its last quarter is no longer "
              "in clustered order; **correlation** is pg_stats' correlation of `series_id` and `ts` with the heap "
              "order after the `ANALYZE` (1: in that column's order), which the planner goes by when it weighs a "
              "btree scan against a sequential one, so the plain tables' plans may change also for queries that "
              "read no rewritten point. After the rewrite `aegis.read` returns the clustered plain table's points "
              "bit for bit (per-series digests, as for the clean data), and every peer holds its count and sum.\n")
    md.append("### First query of a session\n")
    md.append("Q1 (clean data) as the first statement of a brand-new connection (`psql -c`; the library is "
              "preloaded, `shared_preload_libraries`), %d new sessions per side in turn, median, against the warm "
              "median above; every run's rows are checked.\n" % SESSION_RUNS)
    md.append(session_table(first, qr_clean[0], True) + "\n")
    md.append("- " + "\n- ".join(session_lines(first, qr_clean[0])) + "\n")
    md.append("### The peers\n")
    md.append(peers_table(tsbs, peers, True) + "\n")
    md.append("Sizes after `VACUUM ANALYZE` (`pg_total_relation_size`; TimescaleDB: `hypertable_size`, its "
              "compressed chunks and indexes); the extension's is the Storage section's. Build times are one run "
              "(the extension's and the clustered table's COPY: the medians of the write runs). **correlation**: "
              "pg_stats' correlation of `series_id` and `ts` with the heap order (1: in that column's order).\n")
    md.append(QUERY_NOTES)
    for variant, qrs in (("clean", qr_clean), ("late", qr_late)):
        md.append("### Query runs, %s (ms)\n" % VARIANTS[variant])
        md.append(query_runs_table(qrs, True) + "\n")
    md.append("### Query texts\n")
    md.append("As run (bench/queries.py); `bench.series_map(series_id, metric, hostname)` is the plain side's "
              "series mapping, 1 row per series, with a btree on `(metric, hostname)` (the TimescaleDB database "
              "holds the same table). `bench.plain_tsbs_cpu` is the clustered plain table, "
              "`bench.plain_tsbs_cpu_arrival` the arrival-order one, `bench.tsdb_tsbs_cpu` the hypertable%s.\n"
              % ("" if peers.tsdb else " (not run here: TimescaleDB %s)" % peers.tsdb_status))
    md.append("```sql")
    for qr in qr_clean:
        md.append("-- %s: %s" % (query_label(qr.q), qr.q.title))
        for form, sql in qr.q.forms:
            if form in qr.forms or form.startswith("tsdb"):
                md.append("-- %s" % form_name(qr.q, form))
                md.append(sql + ";")
        md.append("")
    md[-1] = "```\n"
    return "\n".join(md)


# ---------------------------------------------------------------------------
# Micro-benchmarks (Google Benchmark programs built by CMake)
# ---------------------------------------------------------------------------

DEFAULT_MICRO_ARGS = "--benchmark_min_time=0.2"  # scripts/bench.sh sets the same in BENCH_MICRO_ARGS
# Bits per value (values only) from ../shared/data/README.md: Gorilla-style XOR, ALP-style decimal estimate, xz
# on the raw doubles.
CODEC_REFERENCES = {
    "machine_temperature": (56.6, 36.1, 50.4),
    "cpu_utilization": (56.9, 32.5, 16.8),
    "nyc_taxi": (17.9, 15.2, 17.2),
    "etth1_ot": (58.9, 79.3, 9.1),
    "city_temperature": (57.8, 10.7, 7.6),
    "nyc29": (34.2, 39.9, 20.1),
}
TARGET_TSBS_BITS_PER_POINT = 12.0  # 1.5 bytes
TARGET_DECODE_M = 1000.0  # M values/s, v2 decode on decimal-scheme sets
TARGET_ENCODE_M = 100.0  # M values/s, v2 encode


def micro_programs():
    """Executable build/bench/*_bench and build/*_bench programs, sorted."""
    return sorted(set(p for pattern in ("build/bench/*_bench", "build/*_bench")
                      for p in glob.glob(os.path.join(ROOT, pattern))
                      if os.path.isfile(p) and os.access(p, os.X_OK)))


def micro_missing_note():
    """Why there is no micro-benchmark program to run."""
    sources = sorted(glob.glob(os.path.join(ROOT, "bench", "*_bench.cpp")))
    if sources:
        return ("skipped: %s exist(s) but no build/*_bench program; build with "
                "`cmake -S . -B build && cmake --build build` (needs Google Benchmark)"
                % ", ".join("bench/" + os.path.basename(s) for s in sources))
    return "skipped: no core codec micro-benchmark exists yet (no bench/*_bench.cpp, no build/*_bench)"


def micro_args():
    return os.environ.get("BENCH_MICRO_ARGS", DEFAULT_MICRO_ARGS).split()


def run_program(args, what):
    """stdout of a program; BenchError (with its stderr) when it exits non-zero."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BenchError("%s failed (exit %d):\n%s" % (what, r.returncode, (r.stderr or r.stdout)[-4000:]))
    return r.stdout


class CodecSet:
    """One data set of codec_bench: points, xz size, and its benchmarks by (op, codec)."""

    def __init__(self, name, points, xz_bits):
        self.name = name
        self.points = points
        self.xz_bits = xz_bits  # bits per value of lzma.compress(raw float64, preset=9)
        self.bench = {}  # ("encode"|"decode", "gorilla_v1"|"adaptive_v2") -> JSON record

    def get(self, op, codec, key):
        return self.bench[(op, codec)][key]

    def mvals(self, op, codec):
        return self.get(op, codec, "items_per_second") / 1e6

    def schemes(self):
        """The v2 blocks per value scheme, as codec_bench's label has it: "decimal:100,xor:3"."""
        return self.bench[("encode", "adaptive_v2")].get("label", "")

    def mostly(self, scheme):
        """Whether more than half of the v2 blocks use `scheme`."""
        counts = {}
        for part in self.schemes().split(","):
            if part:
                name, n = part.rsplit(":", 1)
                counts[name] = int(n)
        return 2 * counts.get(scheme, 0) > sum(counts.values())


def codec_results(prog):
    """Runs codec_bench once with --dump_values (raw values for xz) and once with the JSON reporter.
    Returns (command line, [CodecSet] in the program's order)."""
    rel = os.path.relpath(prog, ROOT)
    with tempfile.TemporaryDirectory(prefix="aegis-codec-") as d:
        run_program([prog, "--dump_values=" + d], rel + " --dump_values")
        raw = {}
        for f in os.listdir(d):
            if f.endswith(".f64"):
                with open(os.path.join(d, f), "rb") as fh:
                    raw[f[:-4]] = fh.read()
    args = micro_args() + ["--benchmark_format=json"]
    out = run_program([prog] + args, rel)
    sets = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("error_occurred"):
            raise BenchError("%s: %s: %s" % (rel, b["name"], b.get("error_message", "error")))
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue  # with --benchmark_repetitions the median (written last) replaces the runs
        op, codec, name = b.get("run_name", b["name"]).split("/", 2)
        if name not in sets:
            if name not in raw:
                raise BenchError("%s --dump_values wrote no %s.f64" % (rel, name))
            points = len(raw[name]) // 8
            sets[name] = CodecSet(name, points, 8.0 * len(lzma.compress(raw[name], preset=9)) / points)
        sets[name].bench[(op, codec)] = b
    for cs in sets.values():
        for key in (("encode", "gorilla_v1"), ("decode", "gorilla_v1"), ("encode", "adaptive_v2"),
                    ("decode", "adaptive_v2")):
            if key not in cs.bench:
                raise BenchError("%s: no %s/%s/%s benchmark in its output" % (rel, key[0], key[1], cs.name))
    return " ".join([rel] + args), list(sets.values())


def fmt_bits(x):
    return "%.2f" % x


def fmt_mvals(x):
    return "{:,.1f}".format(x)


def codec_table(sets, markdown):
    headers = ["data set", "points", "v1 bits/value", "v2 bits/value", "v2 bits/timestamp", "v2 bits/point (all)",
               "xz -9 bits/value", "reference Gorilla / ALP-style / xz", "v2 encode M values/s",
               "v2 decode M values/s", "v1 decode M values/s", "v2 schemes"]
    rows = []
    for cs in sets:
        ref = CODEC_REFERENCES.get(cs.name)
        rows.append([cs.name, fmt_int(cs.points), fmt_bits(cs.get("encode", "gorilla_v1", "bits_per_value")),
                     fmt_bits(cs.get("encode", "adaptive_v2", "bits_per_value")),
                     fmt_bits(cs.get("encode", "adaptive_v2", "bits_per_timestamp")),
                     fmt_bits(cs.get("encode", "adaptive_v2", "bits_per_point")), fmt_bits(cs.xz_bits),
                     " / ".join("%.1f" % r for r in ref) if ref else "-",
                     fmt_mvals(cs.mvals("encode", "adaptive_v2")), fmt_mvals(cs.mvals("decode", "adaptive_v2")),
                     fmt_mvals(cs.mvals("decode", "gorilla_v1")),
                     (cs.schemes() or "-").replace(",", ", ")])
    return render(headers, rows, "lrrrrrrrrrrl", markdown)


def codec_summary(sets):
    """The lines under the table: means over the files with references, then the targets, met or not."""
    lines = []
    ref_sets = [cs for cs in sets if cs.name in CODEC_REFERENCES]
    if ref_sets:
        lines.append("mean bits/value over the %d files with reference figures (%s): v2 %.2f, xz -9 %.2f"
                     % (len(ref_sets), ", ".join(cs.name for cs in ref_sets),
                        statistics.mean(cs.get("encode", "adaptive_v2", "bits_per_value") for cs in ref_sets),
                        statistics.mean(cs.xz_bits for cs in ref_sets)))

        def beat(cs):
            v2 = cs.get("encode", "adaptive_v2", "bits_per_value")
            best = min(CODEC_REFERENCES[cs.name][:2])
            return "%s %s (%.2f %s %.1f)" % (cs.name, "yes" if v2 < best else "no", v2, "<" if v2 < best else ">=",
                                             best)
        met = sum(cs.get("encode", "adaptive_v2", "bits_per_value") < min(CODEC_REFERENCES[cs.name][:2])
                  for cs in ref_sets)
        lines.append("target v2 bits/value < min(Gorilla, ALP-style reference), met on %d of %d: %s"
                     % (met, len(ref_sets), ", ".join(beat(cs) for cs in ref_sets)))
    tsbs = [cs for cs in sets if cs.name.startswith("tsbs")]
    for cs in tsbs:
        bpp = cs.get("encode", "adaptive_v2", "bits_per_point")
        lines.append("target %s v2 bits/point (all) <= %g (%g bytes): %s (%.2f)"
                     % (cs.name, TARGET_TSBS_BITS_PER_POINT, TARGET_TSBS_BITS_PER_POINT / 8,
                        "yes" if bpp <= TARGET_TSBS_BITS_PER_POINT else "no", bpp))
    decimal = [cs for cs in sets if cs.mostly("decimal")]
    if decimal:
        lines.append("target v2 decode >= {:,.0f} M values/s on decimal-scheme sets (most v2 blocks decimal): %s"
                     .format(TARGET_DECODE_M)
                     % ", ".join("%s %s (%s)" % (cs.name, "yes" if cs.mvals("decode", "adaptive_v2") >= TARGET_DECODE_M
                                                 else "no", fmt_mvals(cs.mvals("decode", "adaptive_v2")))
                                 for cs in decimal))
    else:
        lines.append("target v2 decode >= {:,.0f} M values/s on decimal-scheme sets: no set has most of its v2 blocks "
                     "in the decimal scheme".format(TARGET_DECODE_M))
    met = sum(cs.mvals("encode", "adaptive_v2") >= TARGET_ENCODE_M for cs in sets)
    lines.append("target v2 encode >= {:,.0f} M values/s, met on %d of %d: %s".format(TARGET_ENCODE_M)
                 % (met, len(sets), ", ".join("%s %s (%s)" % (cs.name, "yes" if cs.mvals("encode", "adaptive_v2")
                                                             >= TARGET_ENCODE_M else "no",
                                                             fmt_mvals(cs.mvals("encode", "adaptive_v2")))
                                              for cs in sets)))
    return lines


CODEC_NOTES = """\
One core, Google Benchmark (`bench/codec_bench.cpp`); v1 = codec 1 (Gorilla), v2 = codec 2 (adaptive). Points go \
into blocks of 1,000 (a series' last block shorter; etth1_all is ETTh1's 7 value columns, each its own run of \
blocks, and etth1_ot its last column); CSV files keep their own timestamps (read as UTC, file order), the `.bin` \
files and the generated random walk get one point every 10 s. Every block is decoded and compared with its input \
(timestamps, value bit patterns) before the timing. **bits/value** and **bits/timestamp** are the value and \
timestamp sections of the blocks (`MeasureBlock`) per point; **bits/point (all)** is the whole blocks, 16-byte \
headers and padding included. **xz -9** is Python's `lzma.compress(preset=9)` over the same values as raw \
little-endian float64 (the container's few dozen bytes included). **reference** is from `../shared/data/README.md` \
(values only). M values/s: points per second of `EncodeBlock` / `DecodeBlock` (checksum included) over every \
block of the set. **v2 schemes**: the value scheme of each v2 block, counted.
"""


def codec_section(prog):
    """(console text, Markdown text) of the codec table for build/bench/codec_bench."""
    cmd, sets = codec_results(prog)
    rel = os.path.relpath(prog, ROOT)
    rerun = ("`%s` (the xz figures use the values `%s --dump_values=DIR` writes); the table alone: "
             "`python3 bench/bench.py --codec-only`" % (cmd, rel))
    summary = codec_summary(sets)
    console = "\n".join(["$ " + cmd, codec_table(sets, False)] + summary)
    md = "\n".join(["Command: " + rerun + ".\n", codec_table(sets, True) + "\n"]
                   + ["- " + line for line in summary] + ["", CODEC_NOTES])
    return console, md


def micro_benchmarks():
    """Returns (console text, Markdown text, note): codec_bench as a table per data set (JSON reporter), any other
    program's console output as it is; or (None, None, why there is none)."""
    progs = micro_programs()
    if not progs:
        return None, None, micro_missing_note()
    console, md = [], []
    for p in progs:
        if os.path.basename(p) == "codec_bench":
            c, m = codec_section(p)
        else:
            args = [p] + micro_args()
            out = run_program(args, os.path.relpath(p, ROOT))
            c = "$ %s\n%s" % (" ".join([os.path.relpath(p, ROOT)] + args[1:]), out.rstrip())
            m = "```\n%s\n```\n" % c
        console.append(c)
        md.append(m)
    return "\n\n".join(console), "\n".join(md), None


def codec_only(markdown):
    """--codec-only: the codec table of build/bench/codec_bench alone, no PostgreSQL."""
    prog = os.path.join(ROOT, "build", "bench", "codec_bench")
    if not (os.path.isfile(prog) and os.access(prog, os.X_OK)):
        print("codec table skipped: no build/bench/codec_bench; build it with `cmake -S . -B build/bench "
              "-DCMAKE_BUILD_TYPE=Release && cmake --build build/bench --target codec_bench` (needs Google "
              "Benchmark)", file=sys.stderr)
        return 1
    console, md = codec_section(prog)
    print(md if markdown else console)
    return 0


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

def fmt_int(n):
    return "{:,}".format(int(n))


def fmt_rate(points, seconds):
    return fmt_int(round(points / seconds)) if seconds > 0 else "-"


def render(headers, rows, align, markdown):
    """Aligned plain-text table (or Markdown table); align: 'l'/'r' per column."""
    cells = [list(map(str, headers))] + [list(map(str, r)) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(cells[0])]
    if markdown:
        out.append("|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2))
                                  for w, a in zip(widths, align)) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def storage_table(results, markdown):
    headers = ["data set", "series", "points", "aegis B/pt", "block data B/pt", "block bits/pt",
               "plain B/pt", "plain/aegis"]
    rows = []
    for r in results:
        p = r.ds.points
        s = r.sizes
        rows.append([r.ds.name, fmt_int(r.ds.series), fmt_int(p), "%.2f" % (s["aegis_total"] / p),
                     "%.2f" % (s["block_data"] / p), "%.2f" % (8.0 * s["block_data"] / p),
                     "%.2f" % (s["plain_total"] / p), "%.2fx" % (s["plain_total"] / s["aegis_total"])])
    return render(headers, rows, "lrrrrrrr", markdown)


def breakdown_table(results, markdown):
    headers = ["data set", "blocks", "blocks heap+TOAST", "blocks index", "catalogs", "recent_points",
               "aegis total", "plain heap", "plain index", "plain total"]
    rows = []
    for r in results:
        s = r.sizes
        rows.append([r.ds.name, fmt_int(s["blocks"]), fmt_int(s["aegis_blocks_table"]),
                     fmt_int(s["aegis_blocks_indexes"]), fmt_int(s["aegis_catalog"]), fmt_int(s["aegis_recent"]),
                     fmt_int(s["aegis_total"]), fmt_int(s["plain_table"]), fmt_int(s["plain_indexes"]),
                     fmt_int(s["plain_total"])])
    return render(headers, rows, "lrrrrrrrrr", markdown)


def timing_table(r, markdown):
    p = r.ds.points
    t = r.timing
    headers = ["operation (generated set, %s points)" % fmt_int(p), "median s", "points/s", "runs (s)"]
    rows = []

    def add(name, key, points=p):
        runs = t[key]
        med = statistics.median(runs)
        rows.append([name, "%.2f" % med, fmt_rate(points, med),
                     " ".join("%.2f" % x for x in runs) if len(runs) > 1 else "1 run"])

    add("aegis.write, batches of <= %s points (into blocks)" % fmt_int(BATCH_POINTS), "batch:write")
    add("COPY into the plain table (btree on series_id, ts)", "plain:copy")
    add("  for scale: COPY into the unlogged staging table (no index)", "staging:copy")
    add("  for scale: building the batches from it (array_agg)", "batch:build")
    if "ingest:copy" in t:
        cp, ip = r.ingest[0], r.ingest[1]
        add("COPY into aegis.points, CSV with metric and tags%s" % ("" if cp == p else " †"), "ingest:copy", cp)
        if "ingest:text" in t:
            add("COPY into aegis.points, the same rows in text format%s" % ("" if cp == p else " †"), "ingest:text",
                cp)
        add("INSERT INTO aegis.points, %s rows per statement%s" % (fmt_int(INSERT_ROWS), "" if ip == p else " *"),
            "ingest:insert", ip)
        if "plain_insert:off" in t:
            add("  the same INSERTs into a plain table of its columns, no index ‡", "plain_insert:off", ip)
            add("  the same INSERTs into that table with a btree (metric, tags, ts) ‡", "plain_insert:on", ip)
    sp = r.small_points
    add("aegis.write, %d-point batches (into recent_points)%s" % (SMALL_BATCH_POINTS, "" if sp == p else " *"),
        "small:write", sp)
    add("aegis.compress('0') of those recent points%s" % ("" if sp == p else " *"), "small:compress", sp)
    rd = r.read
    rows.append(["read all: count, sum over aegis.read", "%.2f" % rd["aegis_s"], fmt_rate(p, rd["aegis_s"]),
                 "1 run"])
    rows.append(["read all: count, sum over the plain table", "%.2f" % rd["plain_s"], fmt_rate(p, rd["plain_s"]),
                 "1 run"])
    return render(headers, rows, "lrrl", markdown)


def ingest_note(r):
    cp, ip = r.ingest[0], r.ingest[1]
    parts = []
    if cp != r.ds.points:
        parts.append("† the first %s points of each series, %s points (all %s took about 80 s a run)"
                     % (fmt_int(INGEST_COPY_POINTS), fmt_int(cp), fmt_int(r.ds.points)))
    if ip != r.ds.points:
        parts.append("INSERT: the same %s points as the small-batch path" % fmt_int(ip)
                     if ip == r.small_points else "INSERT: %s points" % fmt_int(ip))
    return "; ".join(parts)


def write_targets_line(r):
    """Issue 11's write targets from the timing table, as rates (the paths write different numbers of points):
    COPY into aegis.points (CSV, text) at least as fast as COPY into the plain table, multi-row INSERT at least
    as fast as the same statements into a plain table with aegis.points' columns. '' without the ingest runs."""
    t = r.timing
    if "ingest:copy" not in t or "plain_insert:off" not in t:
        return ""
    cp, ip, p = r.ingest[0], r.ingest[1], r.ds.points
    rate = lambda key, n: n / statistics.median(t[key])
    plain_copy = rate("plain:copy", p)
    parts = []
    for key, name in (("ingest:copy", "COPY CSV"), ("ingest:text", "COPY text")):
        if key in t:
            x = rate(key, cp) / plain_copy
            parts.append("%s %.2fx the plain table's COPY (%s)" % (name, x, "holds" if x >= 1 else "does not hold"))
    for key, name in (("plain_insert:off", "no index"), ("plain_insert:on", "btree (metric, tags, ts)")):
        x = rate("ingest:insert", ip) / rate(key, ip)
        parts.append("INSERT %.2fx the same INSERTs into the plain table of its columns, %s (%s)"
                     % (x, name, "holds" if x >= 1 else "does not hold"))
    return ("Write targets (points/s over the peer's points/s, at least 1x): " + "; ".join(parts) + ". "
            "‡ The peer of the INSERT path is a plain table with aegis.points' columns (metric text, tags jsonb, "
            "ts timestamptz, value float8) fed the same statements: PostgreSQL's parser turns every row's tag text "
            "into jsonb before either table sees it, which is most of both sides' time; the series-keyed plain "
            "table of the COPY row has no tags to parse.")


def small_path_note(r):
    if r.small_points == r.ds.points:
        return "every point"
    return ("* the first %s points of each of the %s series, %s points (all %s through recent_points would add "
            "minutes to the run)" % (fmt_int(SMALL_PATH_POINTS), fmt_int(r.ds.series), fmt_int(r.small_points),
                                    fmt_int(r.ds.points)))


def checks_summary(results):
    n = sum(len(r.checks) for r in results)
    bad = [(r.ds.name, w, d) for r in results for (w, ok, d) in r.checks if not ok]
    return n, bad


# ---------------------------------------------------------------------------
# Environment and report
# ---------------------------------------------------------------------------

def machine_info():
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem"] = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["kernel"] = platform.system() + " " + platform.release()
    with open("/proc/loadavg") as f:
        info["load"] = " ".join(f.read().split()[:3])
    r = psql(command="SELECT '@@', 'v', version(); "
                     "SELECT '@@', 'ext', extversion FROM pg_extension WHERE extname = 'aegis_timeseries'; "
                     "SELECT '@@', 'set', name, current_setting(name) FROM pg_settings "
                     "WHERE name IN ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'fsync', "
                     "'synchronous_commit', 'full_page_writes', 'max_wal_size', 'jit', "
                     "'max_parallel_workers_per_gather') ORDER BY name; "
                     "SELECT '@@', 'bmp', current_setting('aegis.block_max_points', true); "
                     "SELECT '@@', 'bmb', current_setting('aegis.block_max_bytes', true)")
    info["pg"] = one(r, "v")
    info["ext"] = one(r, "ext")
    info["settings"] = ", ".join("%s=%s" % (n, s) for n, s in r["set"])
    info["block_max_points"] = one(r, "bmp") or "10000 (default)"
    info["block_max_bytes"] = one(r, "bmb") or "4080 (default)"
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        info["git"] = head + (" with uncommitted changes" if dirty else "")
    except OSError:
        info["git"] = "unknown"
    return info


QUERY_NOTES = """\
**Reading the query figures.**

- The peers pay for what a narrow table makes them do: one row per metric and point (TSBS's own schema has
  one row per host and time with the 10 metrics as columns, so its Q4 reads a tenth of the rows), and a join to
  `bench.series_map` to find the series of a host or a metric. That join is how a user of such a table asks, so
  it counts; it costs little in itself (one row per series, a btree on `(metric, hostname)`), but it shapes
  the plans (a hash of the metric's series ids and a scan of the table, or btree probes per series).
- The two plain tables hold the same rows under the same btree; only the heap order differs. A heap page holds
  about 157 rows (52 bytes each): in the clustered table a series' 12-hour window (Q1, Q6: 4,320 points) lies
  on a few dozen consecutive pages, in the arrival table on about one page per point, each shared with the
  other series' points of the same timestamps. Queries over a whole metric (Q2, Q5) read one row in ten either
  way, spread over every page of the arrival table, over a tenth of the clustered one's.
- `aegis.aggregate` answers a block that lies wholly inside one bucket, with no recent row in its time range,
  from its stored summary (count, sum, min, max, first, last) without decoding it: Q5's single bucket holds
  every block. No block (about 3,300 points: 9 h at 10 s) lies inside an hourly bucket, but its segment
  summaries (one per hour it touches, docs/block-format.md section 11) do: Q2 and Q4 decode only the blocks
  their `since` and `until` cut. Q1 buckets by minute, so it decodes every point of its window and aggregates
  them in C. **aegis.points SQL** asks the same in plain SQL: the foreign table hands the conditions, the
  `GROUP BY` and the aggregates to the same engine (docs/queries.md, SQL over aegis.points). `aegis.latest` (Q3) reads each series' row of `aegis.last_points`, the newest point a
  commit left; the plain tables answer Q3 with one backward btree probe per series (`LATERAL ... LIMIT 1`).
- Q6 and Q7 touch few points per series: Q6 12 h of one series (4,320 points), Q7 five minutes (30 points)
  of each of 100 series. The extension still reads (about 1.4 kB a block) and decodes whole blocks for them,
  where a plain table can read just the rows of the window through its btree. Q6 is asked as SQL over
  `aegis.points`: its series, time and value conditions go to the engine, which returns only the 596 points
  above 90 (through `aegis.read` the 4,320 points of the window went to PostgreSQL through a function's
  tuplestore before the `WHERE` ran).
- Late data: the rewritten points are recent rows over blocks that still hold the old values, so every read
  merges the two layers (the recent rows win), and a block with recent rows in its time range is decoded
  rather than folded in from its summary. The plain tables' UPDATE leaves new row versions wherever the heap
  had room (its pages were full) and dead ones that `VACUUM` marks free, and changes the heap order the
  planner sees (the correlation), so their plans may change; TimescaleDB's UPDATE decompresses the batches it
  touches into the chunks' uncompressed heaps, which its queries then read next to the compressed batches.
- First query of a session: a new backend starts with empty caches (catalog entries, relation descriptors,
  plans). The extension plans its internal queries (SPI) once per backend and keeps the plans; the first call
  of a session pays for that, which is part of what its first-query figure shows. TimescaleDB's preloaded
  library is its loader, which loads the versioned library in each backend that uses a database with the
  extension.
- Q4 is one `aegis.aggregate` call over the 8 hosts' series (`{hostname=~"host_1|host_13|..."}`, a set of
  literal names, which the selector asks as set membership), grouped by metric name (`group_by '{__name__}'`,
  PromQL's `max by (__name__)`), as the peers' SQL groups by `m.metric`.
"""

QUERY_METHOD = """\
- **Query peers** (generated set; `bench/queries.py`): after the write runs and the storage figures the
  extension's tables hold the generated set (all in blocks; `aegis.recent_points` is empty). The plain table of
  the storage figures, loaded in series then time order, is CLUSTERed on its btree `(series_id, ts)`:
  **plain clustered** (`bench.plain_tsbs_cpu`). **plain arrival** (`bench.plain_tsbs_cpu_arrival`) is created
  empty with the same btree and filled with `INSERT ... SELECT ... ORDER BY ts, series_id` from it, the order
  collectors write in, so its heap is in time order and its btree grew as the rows came. **TimescaleDB**
  (`bench.tsdb_tsbs_cpu`, when the extension is installed and preloaded; `scripts/cluster.sh` preloads it when
  `timescaledb.so` is installed, telemetry off) lives in a database of its own, `%(tsdb_db)s`, so that its
  hooks never run in the other forms' sessions: a hypertable with %(tsdb_chunk)s chunks (TSBS's default) and
  the plain tables' btree, loaded with `\\copy` from the same CSV, then `ALTER TABLE ... SET
  (timescaledb.compress, timescaledb.compress_segmentby = 'series_id', timescaledb.compress_orderby = 'ts')`
  and `compress_chunk` on every chunk (checked: every chunk compressed, no row left in a chunk's own heap).
  All of them get `VACUUM ANALYZE`, and `bench.series_map(series_id, metric, hostname)` (one row per series,
  btree on `(metric, hostname)`, built from the series list; the TimescaleDB database has its own copy). The
  plain tables bucket with `date_bin(step, ts, '2000-01-03 00:00:00+00')`, TimescaleDB with its
  `time_bucket(step, ts)`, both the buckets of `aegis.time_bucket`.
- **Query timing**: each database has one psql session per variant, kept open and fed statement by statement,
  with the server's defaults (so the peers get parallel workers, up to `max_parallel_workers_per_gather`, and
  JIT; the extension's functions are PARALLEL UNSAFE and run in the backend alone): per query one warm-up run
  of every form, whose rows are kept for the check, then %(qruns)d rounds that run every form once in turn, so
  that other load on the shared machine falls on all forms alike; the median of those %(qruns)d is shown. Each
  round runs the forms in a new order (shuffled with the round's number as seed, so every run uses the same
  orders): a query that runs right after a peer's large scan finds the CPU caches cold (measured on Q3:
  `aegis.latest` 1.1 ms and the `DISTINCT ON` form 1.4 ms after each other, 3.2 and 3.5 ms right after the
  plain table's Q2 scan), and in a fixed order, or one only rotated, the same form would always follow the
  same peer. The
  time is psql's `\\timing`, the round trip a client sees: planning, execution and the rows' transfer over the
  Unix socket (psql writes them to /dev/null). Everything is in memory (shared_buffers and the OS cache: the
  plain tables take %(plain_mb)s and %(arrival_mb)s MB, the extension's tables %(aegis_mb)s MB): warm
  figures, not reads from disk. The **fastest peer** is the one with the lowest median (TimescaleDB: its faster
  form where it has two); the target holds for a query when fastest peer / aegis reaches it, and is never
  counted as met without a TimescaleDB figure.
- **Late data**: after the clean-data queries (and the first-query-of-a-session runs) the same databases are
  rewritten as "Late data" describes, then the queries run again in new sessions.
- **First query of a session**: `psql -c` per run (a new connection: a new backend, with
  `shared_preload_libraries` already loaded), Q1 as its only statement; `\\timing` as above, so the
  connection itself is not in the figure.
- **Query checks** (the run fails, exit status 1, and this file is not written when one fails): every form of a
  query, in both variants and in every new session, returns what the clustered plain table's form returns: the
  same number of rows, the same keys (bucket, host, metric or ts, as the query has them), each once; counts,
  min, max, timestamps and raw values equal exactly, sums and averages within 1e-9 relative; and the plain
  form returns at least one row. The peers hold the same count and sum of values as the plain table, and after
  the late-data rewrite `aegis.read` returns the clustered plain table's points bit for bit (per-series
  digests, as in Checks above), the rewritten points sit in `aegis.recent_points` and the blocks are untouched.
"""


METHOD = """\
## Method

- **Database.** `aegis_bench`, dropped and created by each run on the project's private cluster
  (`scripts/cluster.sh`); the benchmark's own tables live in schema `bench`, apart from the extension's. The
  TimescaleDB peer of the queries has a database of its own, `aegis_bench_tsdb`, likewise.
- **Data.** `bench/datasets.py` turns each file of `../shared/data` into CSV (`series_id,ts,value`):
  the NAB files as one series each (`timestamp` read as UTC); ETTh1.csv as 7 series, one per column
  (metric `etth1`, tag `column`); each `.bin` file as one series of 131,072 float64 values stamped every 10 s from
  2024-01-01 00:00 UTC. A `(series, ts)` that occurs twice keeps its last value, the extension's
  last-write-wins rule (machine_temperature has 12 such repeats: 22,695 rows, 22,683 points), so both sides hold the
  same points. Values are written as the shortest text that reads back to the same float64.
  The generated set has the TSBS cpu-only shape: hosts x 10 metrics (`cpu_usage_user` ... `cpu_usage_guest_nice`),
  10 tags per host (`hostname, region, datacenter, rack, os, arch, team, service, service_version,
  service_environment`), one point every 10 s from 2024-01-01; each value a random walk with N(0,1) steps
  (inverse CDF over 65,536 quantiles) clamped to [0, 100] and rounded to 2 decimals, seeded per host
  (the same bytes on every run).
- **Loading.** Each CSV goes into an unlogged staging table with `\\copy`; `array_agg(... ORDER BY ...) GROUP BY
  series, chunk` builds the `aegis.write(metric, tags, ts[], value[])` batches ({batch} points per call; a series'
  last batch holds the rest).
- **Extension side.** The extension's tables are emptied (`TRUNCATE ... RESTART IDENTITY`), every batch is written
  in series and time order in one statement, then `SELECT aegis.compress('0')` packs whatever is left in
  `aegis.recent_points` (a batch of at least 1,000 points of a series goes straight into blocks).
  **aegis B/pt** = `pg_total_relation_size` of `aegis.blocks + aegis.recent_points + aegis.series +
  aegis.metric_catalog` (heap, indexes, TOAST, free-space and visibility maps) / points. **block data B/pt** =
  `sum(pg_column_size(data))` / points: the encoded blocks alone (16-byte block header, timestamps and values, as
  stored), and **block bits/pt** the same in bits; the core codec's own cost per point (timestamp and value).
- **Plain side.** `bench.plain_<set>(series_id int4, ts timestamptz, value float8)` with a btree on
  `(series_id, ts)`, created empty, loaded with `\\copy` from the same CSV. **plain B/pt** =
  `pg_total_relation_size / rows`. Both sides get `VACUUM ANALYZE` before they are measured.
  **plain/aegis** = plain bytes / aegis bytes.
- **Timing** (generated set only; medians of {runs} runs, each on emptied tables; wall clock between statements,
  `clock_timestamp()`): `aegis.write` of the prepared {batch}-point batches (arrays already built; the time covers
  detoasting them, the series lookup, encoding and inserting the blocks) against `\\copy` of the CSV into the
  plain table with its index (CSV parsing, heap and btree inserts). The small-batch path writes the first {small_path}
  points of every series in {small}-point batches, below the 1,000 that go straight into blocks, so they land in `aegis.recent_points` as a collector's frequent
  flushes would; `aegis.compress('0')` then packs them, and its time is the compress throughput. Both paths must
  end with the same points in the blocks (checked when the small-batch path covers every point). The "for
  scale" rows (one run) are the preparation steps: what the batch path costs on top when the arrays are built in
  SQL from a staged copy rather than sent by a client. The ingest rows write through the `aegis.points` view
  from one client, on emptied extension tables (the same `TRUNCATE`s): `\\copy aegis.points (metric, tags, ts,
  value) FROM` a CSV with one row per point (metric name, the series' tags as JSON text, ts, value; client-side, so
  both COPY rows parse CSV) and from the same rows in COPY's text format, and multi-row `INSERT INTO aegis.points VALUES (...), ...` statements of
  {insert_rows} rows from a SQL file run with `psql -f` (one transaction per statement); the time is from before
  the load to its end. Both files hold their rows **ordered by series, then time**, as a collector flushing per
  series would send them: INSERT and COPY into `aegis.points` buffer the rows per series for the statement and
  write each series as one batch when the statement ends (straight into blocks when it holds at least
  1,000 points of that series, else into `aegis.recent_points`), so with this order every
  series of a run goes into blocks (1,000-row INSERTs: one series per statement), where rows interleaved across
  series in small statements would land in `aegis.recent_points`. After each ingest run `SELECT count(*),
  sum(value)` over `aegis.read` must equal the plain table's for the same points (the first N of every series, by
  time; 1e-9 relative), or the run fails. The INSERT path's peers (`bench/plain_ingest.sql`, {plain_insert_runs}
  runs each, in turn) run the same statements into a new plain table with `aegis.points`' columns, `(metric
  text, tags jsonb, ts timestamptz, value float8)`, once as a bare heap and once with a btree on `(metric, tags,
  ts)`, each checked the same way: the same tag text reaches both sides, and PostgreSQL's parser makes jsonb of
  every row's text before either table's code runs. They run before the batch path, whose result is measured and queried. The "read all" rows are the sanity check's
  `SELECT count(*), sum(value)` (one run; the plain side may use a parallel sequential scan). The machine is shared: other work on its {nproc} cores shows
  up in the timings (load average at the start: {load}).
- **Checks** (the run fails, exit status 1, and this file is not written when one fails): `aegis.write` returns
  every point, `aegis.recent_points` is empty after compress, every point is in `aegis.blocks`,
  `SELECT count(*), sum(value) FROM aegis.read('{{__name__=~".+"}}')` equals the plain table's count and sum
  (1e-9 relative), and per series the count, the sum and an MD5 digest of every `(ts, value)` in time order, the
  value as its float8 bits (`float8send`): equal digests mean every point came back bit for bit.
"""


def write_report(path, scale, runs, info, results, tsbs, micro_md, micro_note, elapsed, started, n_checks,
                 qs, qparams, qruns):
    md = []
    md.append("# Benchmarks\n")
    md.append("Written by `make bench` (`scripts/bench.sh` runs `bench/bench.py`); regenerate it rather than "
              "editing it. Storage, write and query speed of the extension against plain PostgreSQL tables "
              "holding the same points, on the same server; the queries also against TimescaleDB's compressed "
              "hypertable when it is installed.\n")
    md.append("- **Date:** %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    md.append("- **Command:** `%s`" % ("make bench" if scale == "full" else "SCALE=%s make bench" % scale)
              + (" (BENCH_RUNS=%d)" % runs if runs != 5 else "")
              + (" (BENCH_QUERY_RUNS=%d)" % qruns if qruns != 9 else "") + "; total run time %.0f s" % elapsed)
    md.append("- **Machine:** nproc %s, memory %s, %s, %s" % (info["nproc"], info.get("mem", "?"),
                                                               info.get("cpu", "unknown CPU"), info["kernel"]))
    md.append("- **PostgreSQL:** %s" % info["pg"])
    md.append("- **Server settings:** %s (the private cluster of `scripts/cluster.sh`)" % info["settings"])
    md.append("- **Extension:** aegis_timeseries %s, source %s; aegis.block_max_points = %s, "
              "aegis.block_max_bytes = %s" % (info["ext"], info["git"], info["block_max_points"], info["block_max_bytes"]))
    md.append("- **Query peers:** plain table in arrival order, plain table clustered, TimescaleDB %s"
              % (qs["peers"].tsdb_status if qs["peers"].tsdb else "not measured: " + qs["peers"].tsdb_status))
    md.append("- **Checks:** %d passed (aegis.read returns every point of every set, also after the late-data "
              "rewrite, and every query of every peer the plain table's rows; see Method)\n" % n_checks)
    md.append("## Storage: bytes per point after compression\n")
    md.append(storage_table(results, True) + "\n")
    md.append("aegis B/pt counts everything the extension stores (every table of the `aegis` schema with its "
              "indexes, TOAST and free-space maps: blocks with their summaries, recent rows, the series catalog, "
              "`last_points`, the metric catalog and bookkeeping); on the small files the fixed cost of the catalog tables and their indexes "
              "(a few pages each) is a visible part of it, see the breakdown. block bits/pt includes the "
              "timestamps (about 0.2 bit per point when regular, codec 2) and the 16-byte block header (0.04 bit per point "
              "in the generated set's blocks of about 3,300 points). For comparison, data/README.md gives bits per *value* (values only) "
              "of a Gorilla-style XOR coder: machine_temperature 56.6, cpu_utilization 56.9, nyc_taxi 17.9, "
              "ETTh1 OT 58.9 (one column of seven), city_temperature 57.8, nyc29 34.2.\n")
    md.append("## Storage breakdown (bytes)\n")
    md.append(breakdown_table(results, True) + "\n")
    g = tsbs.sizes
    md.append("On the generated set the blocks' heap and TOAST take %s bytes for %s bytes of block data (+%.0f%%): "
              "a block row holds its summary columns, its segment summaries (docs/block-format.md section 11) and "
              "its block of up to %s points, cut before the row passes aegis.block_max_bytes (docs/block-format.md "
              "section 12; a block of this set averages %s bytes), so rows stay in the heap, whole, two to a page by "
              "default (every partition has toast_tuple_target = 8160). The catalogs (the series catalog with its GIN, hash and btree indexes, `last_points`, "
              "the metric catalog and bookkeeping tables) add %s bytes (%.2f B/pt).\n"
              % (fmt_int(g["aegis_blocks_table"]), fmt_int(g["block_data"]),
                 100.0 * (g["aegis_blocks_table"] / g["block_data"] - 1), info["block_max_points"].split()[0],
                 fmt_int(round(g["block_data"] / max(1, g["blocks"]))),
                 fmt_int(g["aegis_catalog"]), g["aegis_catalog"] / tsbs.ds.points))
    md.append("## Write and compress timing (informational)\n")
    md.append(timing_table(tsbs, True) + "\n")
    md.append("Batch path: %s aegis.write calls of up to %s points. Small-batch path: %s calls of %d points, %s. "
              "Ingest rows (one client, through the `aegis.points` view): `\\copy` of a CSV with one row per point "
              "(metric, tags as JSON text, ts, value), of the same rows in COPY's text format (tab-separated), and "
              "%s multi-row `INSERT ... VALUES` statements of %s rows "
              "fed with `psql -f`, both in series then time order%s. "
              "Median of %d runs; more precise timing is future work.\n"
              % (fmt_int(tsbs.batches), fmt_int(BATCH_POINTS), fmt_int(tsbs.small_batches), SMALL_BATCH_POINTS,
                 small_path_note(tsbs), fmt_int(tsbs.ingest[2]), fmt_int(INSERT_ROWS),
                 ("; " + ingest_note(tsbs)) if ingest_note(tsbs) else "", runs))
    if write_targets_line(tsbs):
        md.append(write_targets_line(tsbs) + "\n")
    md.append(queries_report(qs["clean"], qs["late"], qs["first"], qs["peers"], qparams, qruns, tsbs))
    md.append("## Core codec micro-benchmark\n")
    md.append(micro_md if micro_md else (micro_note[0].upper() + micro_note[1:] + ".\n"))
    md.append(METHOD.format(batch=fmt_int(BATCH_POINTS), small=SMALL_BATCH_POINTS, runs=runs, nproc=info["nproc"],
                            load=info["load"],
                            small_path=fmt_int(SMALL_PATH_POINTS), insert_rows=fmt_int(INSERT_ROWS),
                            plain_insert_runs=min(runs, PLAIN_INSERT_RUNS)))
    g = tsbs.sizes
    peers = qs["peers"]
    md.append(QUERY_METHOD % dict(qruns=qruns, plain_mb=fmt_int(round(peers.sizes["plain"] / 1e6)),
                                  arrival_mb=fmt_int(round(peers.sizes["arrival"] / 1e6)),
                                  aegis_mb=fmt_int(round(g["aegis_total"] / 1e6)), tsdb_db=TSDB_DB,
                                  tsdb_chunk=TSDB_CHUNK.replace("hours", "hour")))
    with open(path, "w") as f:
        f.write("\n".join(md))


def main():
    sys.stdout.reconfigure(line_buffering=True)
    if "--codec-only" in sys.argv[1:]:
        return codec_only("--markdown" in sys.argv[1:])
    if len(sys.argv) > 1:
        print("usage: bench.py [--codec-only [--markdown]]", file=sys.stderr)
        return 2
    scale = os.environ.get("SCALE", "full")
    if scale not in datasets.SCALES:
        print("SCALE must be one of %s" % ", ".join(datasets.SCALES), file=sys.stderr)
        return 2
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    qruns = int(os.environ.get("BENCH_QUERY_RUNS", "9"))
    if qruns < 1:
        print("BENCH_QUERY_RUNS must be at least 1", file=sys.stderr)
        return 2
    doc = os.environ.get("BENCH_DOC", os.path.join(ROOT, "docs", "benchmarks.md") if scale == "full" else "-")
    started = dt.datetime.now(dt.timezone.utc)
    t_start = time.monotonic()

    tmp = tempfile.mkdtemp(prefix="aegis-bench-", dir="/tmp")
    os.chmod(tmp, 0o755)
    gen = None
    try:
        log("scale %s, %d timed runs, CSV in %s" % (scale, runs, tmp))
        # The generated set is written in the background while the real files run.
        gen = multiprocessing.Process(target=datasets.write_tsbs, args=(tmp, scale))
        gen.start()
        real = datasets.real_datasets(tmp)
        for name in os.listdir(tmp):
            os.chmod(os.path.join(tmp, name), 0o644)

        psql(db="postgres", command="DROP DATABASE IF EXISTS %s" % DB)
        psql(db="postgres", command="CREATE DATABASE %s" % DB)
        # Timings and the "compress packs everything" checks are the
        # benchmark's own: the maintenance worker stays out of this database.
        psql(db="postgres", command="ALTER DATABASE %s SET aegis.maintenance_worker = off" % DB)
        psql("schema.sql")
        info = machine_info()

        results = [bench_dataset(ds, tmp, runs, timed=False) for ds in real]
        gen.join()
        if gen.exitcode != 0:
            raise BenchError("generating the TSBS-shaped set failed (exit %s)" % gen.exitcode)
        tsbs_ds = datasets.tsbs_dataset(scale)
        log("generated %s: %d points (%.0f s since start)" % (tsbs_ds.name, tsbs_ds.points,
                                                             time.monotonic() - t_start))
        tsbs = bench_dataset(tsbs_ds, tmp, runs, timed=True)
        results.append(tsbs)
        qs, qparams = run_query_benchmark(tsbs, scale, tmp, qruns)
        psql(command="DROP TABLE bench.staging")
        micro, micro_md, micro_note = micro_benchmarks()
    finally:
        if gen is not None and gen.is_alive():
            gen.terminate()
            gen.join()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.monotonic() - t_start
    n_checks, bad = checks_summary(results)
    print()
    print("Storage: bytes per point after compression (SCALE=%s)" % scale)
    print(storage_table(results, False))
    print()
    print("Storage breakdown (bytes)")
    print(breakdown_table(results, False))
    print()
    print("Write and compress timing (median of %d runs)" % runs)
    print(timing_table(tsbs, False))
    if tsbs.small_points != tsbs.ds.points:
        print(small_path_note(tsbs))
    if ingest_note(tsbs):
        print(ingest_note(tsbs))
    if write_targets_line(tsbs):
        print(write_targets_line(tsbs))
    print()
    peers = qs["peers"]
    print("Queries on the generated set (%s points; median of %d runs after 1 warm-up, ms), clean data; "
          "TimescaleDB: %s" % (fmt_int(tsbs.ds.points), qruns, peers.tsdb_status))
    print(query_table(qs["clean"], peers, False))
    print(target_line(qs["clean"], peers))
    note = q3_note(qs["clean"], peers)
    if note:
        print(note)
    for line in query_legend(qs["clean"]):
        print("  " + line)
    print()
    print("Late data: the last quarter of every series (%s points from %s) written again, in aegis.recent_points "
          "over the blocks, UPDATEd on the peers" % (fmt_int(peers.late["points"]),
                                                     peers.late["cutoff"].strftime("%Y-%m-%d %H:%M:%S")))
    print(query_table(qs["late"], peers, False, qs["clean"]))
    print(target_line(qs["late"], peers))
    note = q3_note(qs["late"], peers)
    if note:
        print(note)
    print(late_table(tsbs, peers, False))
    print()
    print("First query of a session (%d new sessions, median)" % SESSION_RUNS)
    print(session_table(qs["first"], qs["clean"][0], False))
    for line in session_lines(qs["first"], qs["clean"][0]):
        print("  " + line)
    print()
    print("The peers")
    print(peers_table(tsbs, peers, False))
    print()
    print("Core codec micro-benchmark")
    print(micro if micro else "  " + micro_note)
    print()
    print("Machine: nproc %s, memory %s, %s; %s" % (info["nproc"], info.get("mem", "?"), info.get("cpu", ""),
                                                   info["pg"].split(" on ")[0]))
    print("Run time: %.1f s" % elapsed)
    if bad:
        print()
        print("FAILED: %d of %d checks:" % (len(bad), n_checks))
        for name, what, detail in bad:
            print("  %s: %s (%s)" % (name, what, detail))
        print("docs not written.")
        return 1
    print("Checks: %d passed" % n_checks)
    if doc != "-":
        write_report(doc, scale, runs, info, results, tsbs, micro_md, micro_note, elapsed, started, n_checks,
                     qs, qparams, qruns)
        print("Wrote %s" % os.path.relpath(doc, ROOT) if doc.startswith(ROOT) else "Wrote %s" % doc)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
