#!/usr/bin/env python3
"""make bench: storage, write and query benchmarks of aegis_timeseries against a plain table.

Run it through scripts/bench.sh (make bench), which sets PGHOST/PGPORT/PGUSER
for the project's private cluster. Settings (environment):

  SCALE=full|small     generated set of 10,000,000 points (default) or 100,000
  BENCH_RUNS=5         timed runs of the generated set's write paths (median shown)
  BENCH_QUERY_RUNS=5   timed runs of every query form, after one warm-up (median shown)
  BENCH_DOC=path       where to write the report; default docs/benchmarks.md for
                       SCALE=full, none for SCALE=small (a smoke run must not
                       overwrite the full-scale figures); "-" for none
  BENCH_KEEP=1         keep the CSV folder under /tmp
  BENCH_MICRO_ARGS     arguments of the micro-benchmark programs; default
                       --benchmark_min_time=0.2

What it does, in a database of its own (aegis_bench, dropped and created):
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
     against the plain table's count and sum;
  4. checks that aegis.read returns what the plain table holds (count and sum
     of all points and of every series, and every point bit for bit through a
     per-series digest), and exits non-zero when it does not;
  5. runs TSBS cpu-only queries on the generated set (bench/queries.py)
     through the extension, as plain SQL on the plain table (joined to
     bench.series_map for hosts and metrics) and, where it makes sense, as SQL
     over aegis.read; times them (median of BENCH_QUERY_RUNS runs after a
     warm-up) and checks that every form returns the plain table's rows,
     exiting non-zero when one does not;
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
SMALL_BATCH_POINTS = 100  # points per aegis.write call on the small-batch path (below aegis.block_max_points)
SMALL_PATH_POINTS = 1_000  # the small-batch path writes the first this many points of every series
INGEST_COPY_POINTS = 5_000  # COPY ingest path: the first this many points of every series (None: every point;
# all 10,000,000 took about 80 s a run, 5,000,000 keep it near 40 s)
INGEST_INSERT_POINTS = 1_000  # multi-row INSERT ingest path: the first this many points of every series
INSERT_ROWS = 1_000  # rows per INSERT INTO aegis.points VALUES statement
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
    <ds>.ingest.csv (metric,tags JSON,ts,value: the first limit_copy points of every series, all when None) and
    <ds>.ingest.sql (INSERT INTO aegis.points VALUES statements of INSERT_ROWS rows: the first limit_insert points
    of every series). Rows stay in series then time order, as a collector flushing per series sends them.
    Returns (copy points, insert points, insert statements)."""
    import csv
    series = {}
    with open(os.path.join(tmp, ds_name + ".series.csv"), newline="") as f:
        for sid, metric, tags, _first, _n in csv.reader(f):
            series[sid] = (metric, tags)
    copy_path = os.path.join(tmp, ds_name + ".ingest.csv")
    sql_path = os.path.join(tmp, ds_name + ".ingest.sql")
    n_copy = n_ins = n_stmt = 0
    pending = []
    cur, k = None, 0
    with open(os.path.join(tmp, ds_name + ".points.csv")) as pf, open(copy_path, "w") as cf, \
            open(sql_path, "w") as sf:
        def flush():
            sf.write("INSERT INTO aegis.points VALUES\n" + ",\n".join(pending) + ";\n")
            pending.clear()
        for line in pf:
            sid, ts, value = line.rstrip("\n").split(",")
            if sid != cur:
                cur, k = sid, 0
                metric, tags = series[sid]
                csv_prefix = '%s,"%s",' % (metric, tags.replace('"', '""'))
                sql_prefix = "('%s', '%s', '" % (metric.replace("'", "''"), tags.replace("'", "''"))
            if limit_copy is None or k < limit_copy:
                cf.write(csv_prefix + ts + "," + value + "\n")
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
    os.chmod(copy_path, 0o644)
    os.chmod(sql_path, 0o644)
    return n_copy, n_ins, n_stmt


def ingest_runs(res, mode, path, limit, points, runs):
    """ingest.sql `runs` times; each run must leave exactly the plain table's count and sum of the same points."""
    e = psql("ingest_expect.sql", ds=res.ds.name, limit=limit)
    e_n, e_sum = int(one(e, "plain_read", 0)), float(one(e, "plain_read", 1))
    res.check("ingest %s: the plain table holds %d points for it" % (mode, points), e_n == points,
              "%d vs %d" % (e_n, points))
    for i in range(runs):
        r = psql("ingest.sql", mode=mode, file=path)
        a_n, a_sum = int(one(r, "aegis_read", 0)), float(one(r, "aegis_read", 1) or 0)
        ok = a_n == e_n and rel_close(a_sum, e_sum)
        res.check("ingest %s run %d: count, sum over aegis.read = plain table's" % (mode, i + 1), ok,
                  "%d, %r vs %d, %r" % (a_n, a_sum, e_n, e_sum))
        if not ok:
            raise BenchError("ingest %s run %d: aegis.read holds %d points summing to %r, the plain table %d, %r"
                             % (mode, i + 1, a_n, a_sum, e_n, e_sum))
        res.timing.setdefault("ingest:" + mode, []).append(float(one(r, "load_s")))
        res.timing.setdefault("ingest:%s:recent" % mode, []).append(int(one(r, "recent_rows")))
        log("  ingest %s run %d: %.2f s, %s in recent_points" % (mode, i + 1, float(one(r, "load_s")),
                                                                 one(r, "recent_rows")))


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
        ingest_runs(res, "insert", os.path.join(tmp, ds.name + ".ingest.sql"), INGEST_INSERT_POINTS,
                    res.ingest[1], runs)
        for ext in ("csv", "sql"):
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
# Queries (bench/queries.py) on the generated set
# ---------------------------------------------------------------------------

FORM_NAMES = {"aegis": "extension", "plain": "plain table", "plain2": "plain table, other form",
              "read": "SQL over aegis.read"}


class QueryResult:
    def __init__(self, q):
        self.q = q
        self.rows = None       # rows of the plain form
        self.runs = {}         # form -> [ms per timed run]
        self.warmup = {}       # form -> ms of the warm-up (checked) run

    def median(self, form):
        return statistics.median(self.runs[form]) if form in self.runs else None


def _parse_output(path, q):
    """Rows of one form's warm-up run: {key tuple: [value texts]}, and the number of rows."""
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


def bench_queries(res, scale, tmp, runs):
    """Runs every query of bench/queries.py: per query, one warm-up run of each form (its rows are saved and
    compared), then `runs` timed rounds, each running every form once. One psql session; times are psql's
    \\timing (client round trip: planning, execution, rows to the client)."""
    t0 = time.monotonic()
    r = psql("query_setup.sql", ds=res.ds.name)
    res.check("series map: one row per series", int(one(r, "series_map")) == res.ds.series, one(r, "series_map"))
    q6_host = one(psql(command=queries.q6_host_sql(scale)), "q6_host")
    qs = queries.build(scale, q6_host)
    lines = ["\\set ON_ERROR_STOP 1", "SET client_min_messages = warning;", "SET TimeZone = 'UTC';",
             "\\o /dev/null", "\\timing on"]
    outputs = {}
    for q in qs:
        for form, sql in q.forms:
            outputs[(q.qid, form)] = os.path.join(tmp, "%s.%s.out" % (q.qid, form))
            lines += ["\\echo @@ %s %s 0" % (q.qid, form), "\\o %s" % outputs[(q.qid, form)], sql + ";",
                      "\\o /dev/null"]
        for i in range(1, runs + 1):
            for form, sql in q.forms:
                lines += ["\\echo @@ %s %s %d" % (q.qid, form, i), sql + ";"]
    script = os.path.join(tmp, "queries.sql")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    log("queries: %d queries, 1 warm-up + %d timed runs of each form" % (len(qs), runs))
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-d", DB, "-f", script]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        hint = ""
        if "connection to server was lost" in p.stderr or "terminating connection" in p.stderr:
            hint = "\nThe server went away during the run; the figures are incomplete: run make bench again."
        raise BenchError("the query benchmark failed (exit %d):\n%s%s" % (p.returncode, p.stderr[-4000:], hint))
    results = {q.qid: QueryResult(q) for q in qs}
    mark = None
    for line in p.stdout.splitlines():
        if line.startswith("@@ "):
            mark = line.split()[1:]
        elif line.startswith("Time: ") and mark is not None:
            ms = float(line.split()[1])
            qr = results[mark[0]]
            if mark[2] == "0":
                qr.warmup[mark[1]] = ms
            else:
                qr.runs.setdefault(mark[1], []).append(ms)
            mark = None
    for q in qs:
        qr = results[q.qid]
        forms = [f for f, _ in q.forms]
        res.check("%s: %d timed runs of every form" % (q.qid, runs),
                  all(len(qr.runs.get(f, [])) == runs for f in forms), repr(qr.runs))
        parsed = {f: _parse_output(outputs[(q.qid, f)], q) for f in forms}
        qr.rows = parsed["plain"][1]
        for f in forms:
            if f == "plain":
                continue
            ok, detail = compare_forms(q, parsed["plain"], parsed[f])
            res.check("%s: the %s returns the plain table's rows" % (q.qid, FORM_NAMES[f]), ok, detail)
        log("  %s: %d rows; %s" % (query_label(q), qr.rows, ", ".join(
            "%s %.1f ms" % (f, qr.median(f)) for f in forms if qr.runs.get(f))))
    log("queries: %.0f s" % (time.monotonic() - t0))
    return [results[q.qid] for q in qs], queries.describe(scale, q6_host)


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


def query_table(qresults, markdown):
    headers = ["query", "rows", "aegis ms", "plain ms", "plain/aegis", "aegis.read+SQL ms",
               "issue: plain ms", "issue: TimescaleDB ms"]
    rows = []
    for qr in qresults:
        q = qr.q
        ref = queries.ISSUE_REFERENCE.get(q.qid, (None, None))
        a, p = qr.median("aegis"), qr.median("plain")
        rows.append([query_label(q), fmt_int(qr.rows), fmt_ms(a), fmt_ms(p), fmt_ratio(p, a),
                     fmt_ms(qr.median("read")), fmt_ms(ref[0]), fmt_ms(ref[1])])
        if "plain2" in qr.runs:
            p2 = qr.median("plain2")
            rows.append(["  %s, plain as LATERAL ... LIMIT 1" % q.qid, fmt_int(qr.rows), fmt_ms(a), fmt_ms(p2),
                         fmt_ratio(p2, a), "-", "", ""])
    return render(headers, rows, "lrrrrrrr", markdown)


def query_runs_table(qresults, markdown):
    headers = ["query", "form", "warm-up ms", "median ms", "runs (ms)"]
    rows = []
    for qr in qresults:
        for form, _ in qr.q.forms:
            rows.append([qr.q.qid, FORM_NAMES[form], fmt_ms(qr.warmup.get(form)), fmt_ms(qr.median(form)),
                         " ".join(fmt_ms(x) for x in qr.runs[form])])
    return render(headers, rows, "llrrl", markdown)


def query_legend(qresults):
    return ["%s: %s" % (query_label(qr.q), qr.q.title) for qr in qresults]


def slower_queries(qresults):
    """[(label, plain ms, aegis ms)] of the queries where the extension's form is slower than a plain form."""
    out = []
    for qr in qresults:
        a = qr.median("aegis")
        for form, what in (("plain", ""), ("plain2", ", plain as LATERAL ... LIMIT 1")):
            p = qr.median(form)
            if p is not None and a is not None and a > p:
                out.append((query_label(qr.q) + what, p, a))
    return out


def queries_report(qresults, qparams, qruns, tsbs):
    """The Markdown section of the query benchmark."""
    md = ["## Queries\n"]
    md.append("TSBS cpu-only queries on the generated set (%s points, %s series), each through the extension and "
              "as plain SQL on the plain table (`bench.plain_tsbs_cpu`, btree on `(series_id, ts)`), on the same "
              "server, warm. Median of %d runs after one warm-up, in milliseconds as the client sees them "
              "(planning, execution and the rows' transfer); **plain/aegis** above 1 means the extension is "
              "faster. **aegis.read+SQL** is the same question asked in plain SQL over `aegis.read(...)` with "
              "`aegis.time_bucket`. Every form returns the plain table's rows (checked, see Method).\n"
              % (fmt_int(tsbs.ds.points), fmt_int(tsbs.ds.series), qruns))
    md.append(query_table(qresults, True) + "\n")
    since = qparams["since"].strftime("%Y-%m-%d %H:%M:%S")
    md.append("- " + "\n- ".join(query_legend(qresults)))
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
    slow = slower_queries(qresults)
    if slow:
        md.append("Slower through the extension than on the plain table in this run: %s. See \"Reading the query "
                  "figures\" below.\n" % "; ".join("%s (%s ms vs %s ms)" % (l, fmt_ms(a), fmt_ms(p))
                                                   for l, p, a in slow))
    else:
        md.append("The extension is at least as fast as the plain table on every query in this run.\n")
    md.append(QUERY_NOTES)
    md.append("**issue:** figures quoted from issue 3 (TSBS on the same machine class: a plain table with a btree, "
              "and TimescaleDB with compression). They come from the issue's own TSBS data and schema, not "
              "from this run, so they give orders of magnitude, not ratios to the columns on their left; "
              "issue 3 gives none for Q6 and Q7.\n")
    md.append("### Query runs (ms)\n")
    md.append(query_runs_table(qresults, True) + "\n")
    md.append("### Query texts\n")
    md.append("As run (bench/queries.py); `bench.series_map(series_id, metric, hostname)` is the plain side's "
              "series mapping, 1 row per series, with a btree on `(metric, hostname)`.\n")
    md.append("```sql")
    for qr in qresults:
        md.append("-- %s: %s" % (query_label(qr.q), qr.q.title))
        for form, sql in qr.q.forms:
            md.append("-- %s" % FORM_NAMES[form])
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
    headers = ["data set", "blocks", "blocks heap+TOAST", "blocks index", "series+catalog", "recent_points",
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
        add("INSERT INTO aegis.points, %s rows per statement%s" % (fmt_int(INSERT_ROWS), "" if ip == p else " *"),
            "ingest:insert", ip)
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
                     "SELECT '@@', 'bmp', current_setting('aegis.block_max_points', true)")
    info["pg"] = one(r, "v")
    info["ext"] = one(r, "ext")
    info["settings"] = ", ".join("%s=%s" % (n, s) for n, s in r["set"])
    info["block_max_points"] = one(r, "bmp") or "1000 (default)"
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

- The plain side pays for what a narrow table makes it do: one row per metric and point (TSBS's own schema has
  one row per host and time with the 10 metrics as columns, so its Q4 reads a tenth of the rows), and a join to
  `bench.series_map` to find the series of a host or a metric. That join is how a user of such a table asks, so
  it counts; it costs little in itself (1,000 rows, a btree on `(metric, hostname)`), but it shapes the plan: for
  Q5 the planner hashes the 100 series ids of the metric and scans the whole table in parallel rather than
  probing the btree 100 times (as it does for Q2).
- Q3 and Q5 are where the layouts differ most. `aegis.latest` reads one block (or recent row) per series;
  `aegis.aggregate` answers a block that lies wholly inside one bucket from its stored summary (count, sum, min,
  max, first, last) without decoding it, and Q5's single bucket holds every block. The plain table sorts all its
  rows for `DISTINCT ON` (Q3) and reads every row of the metric (Q5). The `LATERAL ... ORDER BY ts DESC LIMIT 1`
  form, one backward btree probe per series, is the fast way to ask Q3 of a plain table.
- Q1, Q2 and Q4 bucket by minute or hour, and no block (1,000 points: 2 h 47 min at 10 s) lies inside one such
  bucket, so the extension decodes every point of the window (Q2: all 1,000,000 points of the metric); it wins by
  decoding and aggregating in C over compressed blocks (8.6 B/pt, see Storage) instead of passing the plain
  table's rows (84 B/pt) through the executor. On these three, **aegis.read+SQL**, the same buckets computed by
  PostgreSQL over the decoded points, costs about as much as the plain table or more: the gain is in the
  engine's aggregation, not in reading fewer points.
- Q6 and Q7 touch few points per series: Q6 reads 12 h of one series (4,320 points) and filters them in SQL,
  Q7 five minutes (30 points) of each of 100 series. The work is then about the same on both sides and the
  extension's fixed costs show: for every series it looks up the series' recent rows and its blocks (two index
  queries through SPI), and it fetches (TOAST, about 7 kB) and decodes a whole block to use Q7's 30 points of
  it, where the plain side probes its btree once per series. An aggregate of the same 100 series over a window
  that needs only block summaries took about half of Q7's time when we looked, so the two costs are roughly
  even. Fetching the blocks of all series in one query, and cutting blocks at time boundaries (DESIGN-NOTES 7),
  are where to win them back.
- Q4 asks `aegis.aggregate` once per metric (`LATERAL` over the 10 names, `group_by '{}'`): it groups by tags
  only, and a series' tags do not hold its metric name (`group_by '{__name__}'` puts every series in one group).
"""

QUERY_METHOD = """\
- **Queries** (generated set; `bench/queries.py`): after the write runs the extension's tables hold the
  generated set (all in blocks; `aegis.recent_points` is empty) and the plain table the same points, both after
  `VACUUM ANALYZE`. The plain side gets `bench.series_map(series_id, metric, hostname)` (one row per series, btree
  on `(metric, hostname)`), built from the series list, and buckets with `date_bin(step, ts, '2000-01-03
  00:00:00+00')`, the origin of `aegis.time_bucket`, so both sides cut the same buckets. All queries run in one
  psql session with the server's defaults (so the plain side gets parallel workers, up to
  `max_parallel_workers_per_gather`, and JIT; the extension's functions are PARALLEL UNSAFE and run in the
  backend alone): per query one warm-up run of every form, whose rows are kept for the check, then %(qruns)d
  rounds that run every form once in turn, so that other load on the shared machine falls on all forms alike; the
  median of those %(qruns)d is shown. The time is psql's `\\timing`, the round trip a client sees: planning,
  execution and the rows' transfer over the Unix socket (psql writes them to /dev/null). Both sides are in memory
  (plain table and index %(plain_mb)s MB, the extension's tables %(aegis_mb)s MB; shared_buffers and the OS
  cache): warm figures, not reads from disk.
- **Query checks** (the run fails, exit status 1, and this file is not written when one fails): every form of a
  query returns what its plain form returns: the same number of rows, the same keys (bucket, host, metric or ts,
  as the query has them), each once; counts, min, max, timestamps and raw values equal exactly, sums and averages
  within 1e-9 relative; and the plain form returns at least one row.
"""


METHOD = """\
## Method

- **Database.** `aegis_bench`, dropped and created by each run on the project's private cluster
  (`scripts/cluster.sh`); the benchmark's own tables live in schema `bench`, apart from the extension's.
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
  `aegis.recent_points` (a batch of at least `aegis.block_max_points` points goes straight into blocks).
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
  points of every series in {small}-point batches, below `aegis.block_max_points`, so they land in `aegis.recent_points` as a collector's frequent
  flushes would; `aegis.compress('0')` then packs them, and its time is the compress throughput. Both paths must
  end with the same points in the blocks (checked when the small-batch path covers every point). The "for
  scale" rows (one run) are the preparation steps: what the batch path costs on top when the arrays are built in
  SQL from a staged copy rather than sent by a client. The ingest rows write through the `aegis.points` view
  from one client, on emptied extension tables (the same `TRUNCATE`s): `\\copy aegis.points (metric, tags, ts,
  value) FROM` a CSV with one row per point (metric name, the series' tags as JSON text, ts, value; client-side, so
  both COPY rows parse CSV), and multi-row `INSERT INTO aegis.points VALUES (...), ...` statements of
  {insert_rows} rows from a SQL file run with `psql -f` (one transaction per statement); the time is from before
  the load to its end. Both files hold their rows **ordered by series, then time**, as a collector flushing per
  series would send them: INSERT and COPY into `aegis.points` buffer the rows per series for the statement and
  write each series as one batch when the statement ends (straight into blocks when it holds at least
  `aegis.block_max_points` points of that series, else into `aegis.recent_points`), so with this order every
  series of a run goes into blocks (1,000-row INSERTs: one series per statement), where rows interleaved across
  series in small statements would land in `aegis.recent_points`. After each ingest run `SELECT count(*),
  sum(value)` over `aegis.read` must equal the plain table's for the same points (the first N of every series, by
  time; 1e-9 relative), or the run fails. They run before the batch path, whose result is measured and queried. The "read all" rows are the sanity check's
  `SELECT count(*), sum(value)` (one run; the plain side may use a parallel sequential scan). The machine is shared: other work on its {nproc} cores shows
  up in the timings (load average at the start: {load}).
- **Checks** (the run fails, exit status 1, and this file is not written when one fails): `aegis.write` returns
  every point, `aegis.recent_points` is empty after compress, every point is in `aegis.blocks`,
  `SELECT count(*), sum(value) FROM aegis.read('{{__name__=~".+"}}')` equals the plain table's count and sum
  (1e-9 relative), and per series the count, the sum and an MD5 digest of every `(ts, value)` in time order, the
  value as its float8 bits (`float8send`): equal digests mean every point came back bit for bit.
"""


def write_report(path, scale, runs, info, results, tsbs, micro_md, micro_note, elapsed, started, n_checks,
                 qresults, qparams, qruns):
    md = []
    md.append("# Benchmarks\n")
    md.append("Written by `make bench` (`scripts/bench.sh` runs `bench/bench.py`); regenerate it rather than "
              "editing it. Storage, write and query speed of the extension against a plain PostgreSQL table "
              "holding the same points, on the same server.\n")
    md.append("- **Date:** %s" % started.strftime("%Y-%m-%d %H:%M UTC"))
    md.append("- **Command:** `%s`" % ("make bench" if scale == "full" else "SCALE=%s make bench" % scale)
              + (" (BENCH_RUNS=%d)" % runs if runs != 5 else "")
              + (" (BENCH_QUERY_RUNS=%d)" % qruns if qruns != 5 else "") + "; total run time %.0f s" % elapsed)
    md.append("- **Machine:** nproc %s, memory %s, %s, %s" % (info["nproc"], info.get("mem", "?"),
                                                               info.get("cpu", "unknown CPU"), info["kernel"]))
    md.append("- **PostgreSQL:** %s" % info["pg"])
    md.append("- **Server settings:** %s (the private cluster of `scripts/cluster.sh`)" % info["settings"])
    md.append("- **Extension:** aegis_timeseries %s, source %s; aegis.block_max_points = %s"
              % (info["ext"], info["git"], info["block_max_points"]))
    md.append("- **Checks:** %d passed (aegis.read returns every point of every set, and every query the plain "
              "table's rows; see Method)\n" % n_checks)
    md.append("## Storage: bytes per point after compression\n")
    md.append(storage_table(results, True) + "\n")
    md.append("aegis B/pt counts everything the extension stores (blocks with their summaries, indexes, TOAST, "
              "series catalog); on the small files the fixed cost of the catalog tables and their indexes "
              "(a few pages each) is a visible part of it, see the breakdown. block bits/pt includes the "
              "timestamps (about 0.2 bit per point when regular, codec 2) and the 16-byte block header (0.13 bit per point "
              "in full 1,000-point blocks). For comparison, data/README.md gives bits per *value* (values only) "
              "of a Gorilla-style XOR coder: machine_temperature 56.6, cpu_utilization 56.9, nyc_taxi 17.9, "
              "ETTh1 OT 58.9 (one column of seven), city_temperature 57.8, nyc29 34.2.\n")
    md.append("## Storage breakdown (bytes)\n")
    md.append(breakdown_table(results, True) + "\n")
    g = tsbs.sizes
    md.append("On the generated set the blocks' heap and TOAST take %s bytes for %s bytes of block data (+%.0f%%): "
              "each block of up to %s points is stored out of line in TOAST chunks of about 2 kB, next to its "
              "summary row and primary-key entry; the series catalog adds %s bytes (%.2f B/pt).\n"
              % (fmt_int(g["aegis_blocks_table"]), fmt_int(g["block_data"]),
                 100.0 * (g["aegis_blocks_table"] / g["block_data"] - 1), info["block_max_points"].split()[0],
                 fmt_int(g["aegis_catalog"]), g["aegis_catalog"] / tsbs.ds.points))
    md.append("## Write and compress timing (informational)\n")
    md.append(timing_table(tsbs, True) + "\n")
    md.append("Batch path: %s aegis.write calls of up to %s points. Small-batch path: %s calls of %d points, %s. "
              "Ingest rows (one client, through the `aegis.points` view): `\\copy` of a CSV with one row per point "
              "(metric, tags as JSON text, ts, value), and %s multi-row `INSERT ... VALUES` statements of %s rows "
              "fed with `psql -f`, both in series then time order%s. "
              "Median of %d runs; more precise timing is future work.\n"
              % (fmt_int(tsbs.batches), fmt_int(BATCH_POINTS), fmt_int(tsbs.small_batches), SMALL_BATCH_POINTS,
                 small_path_note(tsbs), fmt_int(tsbs.ingest[2]), fmt_int(INSERT_ROWS),
                 ("; " + ingest_note(tsbs)) if ingest_note(tsbs) else "", runs))
    md.append(queries_report(qresults, qparams, qruns, tsbs))
    md.append("## Core codec micro-benchmark\n")
    md.append(micro_md if micro_md else (micro_note[0].upper() + micro_note[1:] + ".\n"))
    md.append(METHOD.format(batch=fmt_int(BATCH_POINTS), small=SMALL_BATCH_POINTS, runs=runs, nproc=info["nproc"],
                            load=info["load"],
                            small_path=fmt_int(SMALL_PATH_POINTS), insert_rows=fmt_int(INSERT_ROWS)))
    g = tsbs.sizes
    md.append(QUERY_METHOD % dict(qruns=qruns, plain_mb=fmt_int(round(g["plain_total"] / 1e6)),
                                  aegis_mb=fmt_int(round(g["aegis_total"] / 1e6))))
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
    qruns = int(os.environ.get("BENCH_QUERY_RUNS", "5"))
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
        qresults, qparams = bench_queries(tsbs, scale, tmp, qruns)
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
    print()
    print("Queries on the generated set (%s points; median of %d runs after 1 warm-up, ms)"
          % (fmt_int(tsbs.ds.points), qruns))
    print(query_table(qresults, False))
    for line in query_legend(qresults):
        print("  " + line)
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
                     qresults, qparams, qruns)
        print("Wrote %s" % os.path.relpath(doc, ROOT) if doc.startswith(ROOT) else "Wrote %s" % doc)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        sys.exit(1)
