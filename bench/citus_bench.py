"""make bench's scale-out section (issue 13): the benchmark's Q2 and Q5 on one node against a Citus cluster (a
coordinator and two workers on this machine, scripts/citus-cluster.sh) holding the same generated set after
aegis.distribute(). Both answers are compared (same rows; sums within 1e-9 relative). Skipped, saying why, when
Citus is not installed.

  python3 bench/citus_bench.py [--doc FILE]     SCALE=full|small (bench/datasets.py), CITUS_BENCH_RUNS=9

Python 3 standard library only.
"""

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets  # noqa: E402
import queries  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = "aegis_bench_citus"
RUNS = int(os.environ.get("CITUS_BENCH_RUNS", "9"))
SHARDS = int(os.environ.get("CITUS_BENCH_SHARDS", "8"))
# Runs before the timed ones in the same session: Citus opens its connections
# to the workers over the first statements (its executor's slow start).
WARM = 6
QUERIES = ("Q2", "Q5")


def log(msg):
    print("-- " + msg, file=sys.stderr, flush=True)


def sh(*args, env=None, input=None):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          input=input).stdout


def cluster_env(script):
    """The environment scripts/<script> env prints (PGHOST, PGPORT, ...)."""
    env = dict(os.environ)
    for part in shlex.split(sh("bash", os.path.join(ROOT, "scripts", script), "env").replace("export ", "")):
        if "=" in part:
            k, v = part.split("=", 1)
            env[k] = v
    return env


def psql(env, db, sql, port=None):
    args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]
    if port:
        args += ["-p", str(port)]
    return sh(*args, env=env, input=sql).strip()


def load(env, tmp, distributed):
    """Creates DB (on every node when distributed) and writes the generated set through aegis.write, one call per
    series, then compresses it."""
    ports = [env["PGPORT"]] + (env["CITUS_WORKER_PORTS"].split() if distributed else [])
    for port in ports:
        psql(env, "postgres", "SET client_min_messages = warning; DROP DATABASE IF EXISTS %s WITH (FORCE);" % DB,
             port)
        psql(env, "postgres", "CREATE DATABASE %s" % DB, port)
        if distributed:
            psql(env, DB, "CREATE EXTENSION citus", port)
    setup = ""
    if distributed:
        setup = "SELECT citus_set_coordinator_host('127.0.0.1', %s);\n" % env["PGPORT"]
        setup += "".join("SELECT citus_add_node('127.0.0.1', %s);\n" % p for p in ports[1:])
    setup += "CREATE EXTENSION aegis_timeseries;\n"
    if distributed:
        setup += "SELECT aegis.distribute(%d);\n" % SHARDS
    psql(env, DB, setup)
    t0 = time.monotonic()
    psql(env, DB, """
SET client_min_messages = warning;
CREATE TEMP TABLE s (series_id int, metric text, tags jsonb, first_row bigint, points int);
CREATE TEMP TABLE p (series_id int, ts timestamptz, value float8);
\\copy s FROM '%s/tsbs_cpu.series.csv' WITH (FORMAT csv)
\\copy p FROM '%s/tsbs_cpu.points.csv' WITH (FORMAT csv)
SELECT count(aegis.write(s.metric, s.tags, w.ts, w.v))
  FROM s JOIN (SELECT p.series_id, array_agg(p.ts ORDER BY p.ts) AS ts, array_agg(p.value ORDER BY p.ts) AS v
                 FROM p GROUP BY p.series_id) w USING (series_id);
SELECT aegis.compress('0');
""" % (tmp, tmp))
    psql(env, DB, "VACUUM ANALYZE")
    return time.monotonic() - t0


def timed_runs(env, sql, warm, runs):
    """Milliseconds of each of `runs` runs (psql's \\timing) after `warm` runs, all in one session, and the rows
    of the last one."""
    out = sh("psql", "-X", "-A", "-t", "-d", DB, env=env, input="\\timing on\n" + (sql + ";\n") * (warm + runs))
    times, rows, current = [], [], []
    for line in out.splitlines():
        if line.startswith("Time: "):
            times.append(float(line.split()[1]))
            rows, current = current, []
        elif line:
            current.append(line)
    return times[warm:], rows


def same(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(sorted(a), sorted(b)):
        for u, v in zip(x.split("|"), y.split("|")):
            if u == v:
                continue
            try:
                fu, fv = float(u), float(v)
            except ValueError:
                return False
            if abs(fu - fv) > 1e-9 * max(abs(fu), abs(fv)):
                return False
    return True


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main():
    doc = sys.argv[sys.argv.index("--doc") + 1] if "--doc" in sys.argv else None
    try:
        sh("bash", os.path.join(ROOT, "scripts", "citus-cluster.sh"), "available")
    except subprocess.CalledProcessError as e:
        print("Scale-out benchmark skipped: " + e.stdout.strip())
        return 0
    scale = os.environ.get("SCALE", "full")
    ds = datasets.tsbs_dataset(scale)
    qs = {q.qid: dict(q.forms)["aegis"] for q in queries.build(scale, "host_0") if q.qid in QUERIES}
    sh("bash", os.path.join(ROOT, "scripts", "citus-cluster.sh"), "start")
    single, cluster = cluster_env("cluster.sh"), cluster_env("citus-cluster.sh")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        log("writing the generated set (%s points)" % "{:,}".format(ds.points))
        datasets.write_tsbs(tmp, scale)
        for f in os.listdir(tmp):
            os.chmod(os.path.join(tmp, f), 0o644)
        for name, env, distributed in (("one node", single, False), ("coordinator + 2 workers", cluster, True)):
            log("loading into %s" % name)
            load_s = load(env, tmp, distributed)
            times, rows = {}, {}
            for qid, sql in qs.items():
                runs, rows[qid] = timed_runs(env, sql, WARM, RUNS)
                times[qid] = statistics.median(runs)
            results[name] = (load_s, times, rows)
            log("%s: load %.1f s, %s" % (name, load_s, ", ".join("%s %.2f ms" % kv for kv in times.items())))
    sh("bash", os.path.join(ROOT, "scripts", "citus-cluster.sh"), "stop")
    one, dist = results["one node"], results["coordinator + 2 workers"]
    for qid in QUERIES:
        if not one[2][qid] or not same(one[2][qid], dist[2][qid]):
            print("the cluster's %s answer differs from one node's" % qid, file=sys.stderr)
            return 1
    rows = [[qid, "%.2f" % one[1][qid], "%.2f" % dist[1][qid], "%.2fx" % (one[1][qid] / dist[1][qid])]
            for qid in QUERIES]
    rows.append(["load: aegis.write per series, then compress (s)", "%.1f" % one[0], "%.1f" % dist[0],
                 "%.2fx" % (one[0] / dist[0])])
    text = table(["query (ms, median of %d warm runs)" % RUNS, "one node", "coordinator + 2 workers",
                  "one node / cluster"], rows)
    print(text)
    if doc:
        rev = sh("git", "-C", ROOT, "rev-parse", "--short", "HEAD").strip()
        with open(doc, "a") as f:
            f.write("\n## Scale-out: one node against a Citus cluster\n\n"
                    "Written by `bench/citus_bench.py` (run by `make bench` when Citus is installed; this run at "
                    "%s). The generated "
                    "set (%s points, %d series) written through `aegis.write` (one call per series) and compressed, "
                    "once into the project's server and once into a Citus 13.2 cluster on the same machine (a "
                    "coordinator and two workers, `scripts/citus-cluster.sh`, `aegis.distribute(%d)`); both "
                    "answers of each query compared. Q2 is the hourly mean of one metric per host over the whole "
                    "set, Q5 the count and sum of all its points (the `aegis.aggregate` forms of the main "
                    "benchmark).\n\n%s\n\n"
                    "The shards summarise their blocks (`aegis._bucket_summaries`, docs/scale-out.md, \"What runs "
                    "where\") and the coordinator folds one summary per series and bucket; on this 2-core machine "
                    "the two workers and the coordinator share the cores, and Citus's planning and dispatch of the "
                    "tasks is part of every call.\n" % (rev, "{:,}".format(ds.points), ds.series, SHARDS, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
