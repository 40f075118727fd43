"""make bench's scale-out section (issue 13): the benchmark's Q2 and Q5 (and their SQL forms over aegis.points) on one
node against a Citus cluster (a coordinator and two workers on this machine, scripts/citus-cluster.sh) holding the
same generated set after aegis.distribute(CITUS_BENCH_SHARDS); then the same data redistributed over each shard count
of CITUS_BENCH_SWEEP and CITUS_BENCH_SHARDS (last), beside Citus's own floor; then where the cluster's time goes at
CITUS_BENCH_SHARDS. Every answer is compared with one node's (same rows; sums within 1e-9 relative). Skipped, saying
why, when Citus is not installed.

  python3 bench/citus_bench.py [--doc FILE]     SCALE=full|small (bench/datasets.py), CITUS_BENCH_RUNS=9,
                                                CITUS_BENCH_SHARDS=8, CITUS_BENCH_SWEEP=2,32

Python 3 standard library only.
"""

import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import datasets  # noqa: E402
import queries  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = "aegis_bench_citus"
RUNS = int(os.environ.get("CITUS_BENCH_RUNS", "9"))
SHARDS = int(os.environ.get("CITUS_BENCH_SHARDS", "8"))
# Shard counts the same data is measured at too (aegis.undistribute() and aegis.distribute(n) before each): each
# engine statement runs one task per shard, so the count sets its fixed cost. 32 is Citus's default.
SWEEP = [int(n) for n in os.environ.get("CITUS_BENCH_SWEEP", "2,32").split(",") if n]
# Citus's own floor for a statement over every shard: a count of a small distributed table (a row per series), which
# one node runs too.
FLOOR = ("a count over every shard", "SELECT count(*) FROM aegis.last_points")
# Runs before the timed ones in the same session: Citus opens its connections
# to the workers over the first statements (its executor's slow start).
WARM = 6
QUERIES = ("Q2", "Q5")
ENGINE_CALLS = {"Q2": 1, "Q5": 2}  # aegis.aggregate calls in each query
# Calls over which the coordinator's CPU is read (/proc counts in clock ticks, 10 ms).
COORD_CALLS = 60


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


def remote_tasks(env, sql):
    """The statements Citus sends the workers for one call of `sql`, as [(call, port, statement)]
    (citus.log_remote_commands): `call` numbers the engine calls of `sql` (each reads the reference table's
    catalog on the coordinator itself first), whose tasks run one call after another."""
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", DB, "-o", "/dev/null"], env=env, check=True,
                       input="SET citus.log_remote_commands = on;\nSET client_min_messages = log;\n%s;\n" % sql,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tasks, pending, statement = [], None, 0
    for line in r.stderr.splitlines():
        if "executing the command locally" in line:
            statement += 1  # each aggregate call reads the catalog first, on the coordinator
            continue
        m = re.search(r"issuing (.*)$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.search(r"DETAIL:  on server \S+@[^:]+:(\d+) ", line)
        if m and pending is not None:
            if pending.startswith("SELECT"):
                tasks.append((statement, int(m.group(1)), pending))
            pending = None
    return tasks


def task_times(env, tasks):
    """Each task's statement run again on its own worker, alone: [(call, port, median ms of RUNS runs after
    one)]."""
    by_port = {}
    for call, port, stmt in tasks:
        by_port.setdefault(port, []).append((call, stmt))
    out = []
    for port, entries in sorted(by_port.items()):
        stmts = [stmt for _, stmt in entries]
        script = "\\timing on\n" + "".join((stmt + ";\n") * (RUNS + 1) for stmt in stmts)
        res = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-o", "/dev/null", "-p", str(port), "-d", DB], env=env,
                             input=script, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        times = [float(line.split()[1]) for line in res.stdout.splitlines() if line.startswith("Time: ")]
        if len(times) != len(stmts) * (RUNS + 1):
            raise RuntimeError("worker %d: %d timings for %d statements:\n%s" % (port, len(times), len(stmts),
                                                                               res.stderr[-2000:]))
        out += [(entries[i][0], port, statistics.median(times[i * (RUNS + 1) + 1:(i + 1) * (RUNS + 1)]))
                for i in range(len(stmts))]
    return out


def coordinator_cpu(env, tmp, sql, calls=COORD_CALLS):
    """Milliseconds of CPU the coordinator's backend spends per run of the query `sql` (its /proc/PID/stat,
    over `calls` runs after WARM): planning the distributed statements, receiving the tasks' rows and folding
    them."""
    def cpu_ms(pid):
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")

    session = bench.Session(DB, tmp, env)
    try:
        printed = session.run(["SELECT pg_backend_pid() AS pid \\gset", "\\echo :pid"])
        pid = int([line for line in printed if line.isdigit()][0])
        session.run([sql + ";"] * WARM)
        before = cpu_ms(pid)
        session.run([sql + ";"] * calls)
        return (cpu_ms(pid) - before) / calls
    finally:
        session.close()


def plan_excerpt(env, sql):
    """The engine's shard statement for one call of `sql` as EXPLAIN ANALYZE shows it (auto_explain of nested
    statements, timing off): the coordinator's nodes and one task's plan down to its first aggregate."""
    settings = ("LOAD 'auto_explain';\nSET auto_explain.log_min_duration = 0;\n"
                "SET auto_explain.log_nested_statements = on;\nSET auto_explain.log_analyze = on;\n"
                "SET auto_explain.log_timing = off;\nSET auto_explain.log_level = notice;\n"
                "SET client_min_messages = notice;\n")
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-d", DB, "-o", "/dev/null"], env=env, check=True,
                       input="%s;\n%s%s;\n" % (sql, settings, sql), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    for plan in re.split(r"(?m)^.*NOTICE:  duration: [\d.]+ ms  plan:\n", r.stderr)[1:]:
        if "_bucket_parts" not in plan:
            continue
        out = []
        for line in plan.splitlines():
            if line.startswith("Query Text:"):
                continue
            out.append(line if len(line) <= 110 else line[:107] + "...")
            if "Aggregate" in line and any("->  Task" in o for o in out):
                out.append(" " * (len(line) - len(line.lstrip()) + 6) + "...")
                break
        return "\n".join(out)
    return "(no plan of the shard statement was logged)"


def time_all(env, timed):
    """The timed queries and FLOOR (keyed None): ({query: median ms}, {query: rows of the last run})."""
    times, rows = {}, {}
    for qid, sql in list(timed.items()) + [(None, FLOOR[1])]:
        runs, rows[qid] = timed_runs(env, sql, WARM, RUNS)
        times[qid] = statistics.median(runs)
    return times, rows


def check_answers(expected, rows, where):
    """Raises unless every answer in `rows` is one node's (`expected`, non-empty)."""
    for qid, got in rows.items():
        if not expected[qid] or not same(expected[qid], got):
            raise RuntimeError("%s %s: the answer differs from one node's" % (qid or FLOOR[0], where))


def described(times):
    return ", ".join("%s %.2f ms" % (qid or FLOOR[0], ms) for qid, ms in times.items())


def shard_count_runs(env, n, timed, expected):
    """time_all on the same data redistributed over n shards, each answer compared with one node's (`expected`):
    {query: median ms}."""
    psql(env, DB, "SET client_min_messages = warning;\nSELECT aegis.undistribute();\nSELECT aegis.distribute(%d);\n"
         "VACUUM ANALYZE;" % n)
    times, rows = time_all(env, timed)
    check_answers(expected, rows, "over %d shards" % n)
    return times


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
    built = [q for q in queries.build(scale, "host_0") if q.qid in QUERIES]
    qs = {q.qid: dict(q.forms)["aegis"] for q in built}
    # Timed too: the same questions in plain SQL over aegis.points (the foreign scan's aggregates, summarised on
    # the shards as aegis.aggregate's are).
    timed = dict(qs)
    timed.update({"%s, SQL over aegis.points" % q.qid: dict(q.forms)["read"] for q in built})
    results, breakdown, sweep = {}, {}, {}
    try:
        sh("bash", os.path.join(ROOT, "scripts", "citus-cluster.sh"), "start")
        single, cluster = cluster_env("cluster.sh"), cluster_env("citus-cluster.sh")
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            log("writing the generated set (%s points)" % "{:,}".format(ds.points))
            datasets.write_tsbs(tmp, scale)
            for f in os.listdir(tmp):
                os.chmod(os.path.join(tmp, f), 0o644)
            for name, env, distributed in (("one node", single, False), ("coordinator + 2 workers", cluster, True)):
                log("loading into %s" % name)
                load_s = load(env, tmp, distributed)
                times, rows = time_all(env, timed)
                results[name] = (load_s, times, rows)
                log("%s: load %.1f s, %s" % (name, load_s, described(times)))
                if not distributed:
                    continue
                check_answers(results["one node"][2], rows, "on the cluster")
                # Every count measured on redistributed data, CITUS_BENCH_SHARDS last: the breakdown below runs there.
                for n in sorted(set(SWEEP) - {SHARDS}) + [SHARDS]:
                    sweep[n] = shard_count_runs(env, n, timed, results["one node"][2])
                    log("%d shards: %s" % (n, described(sweep[n])))
                for qid, sql in qs.items():
                    tasks = remote_tasks(env, sql)
                    calls = sorted({call for call, _, _ in tasks})
                    if not tasks or len(calls) != ENGINE_CALLS[qid]:
                        raise RuntimeError("%s: %d tasks in engine calls %s, want %d calls (citus.log_remote_commands "
                                           "changed?)" % (qid, len(tasks), calls, ENGINE_CALLS[qid]))
                    breakdown[qid] = (coordinator_cpu(env, tmp, sql), task_times(env, tasks), plan_excerpt(env, sql))
                    log("%s on the cluster: coordinator CPU %.2f ms a query, %d tasks" %
                        (qid, breakdown[qid][0], len(tasks)))
    finally:
        sh("bash", os.path.join(ROOT, "scripts", "citus-cluster.sh"), "stop")
    one, dist = results["one node"], results["coordinator + 2 workers"]
    rows = [[qid, "%.2f" % one[1][qid], "%.2f" % dist[1][qid], "%.2fx" % (one[1][qid] / dist[1][qid])]
            for qid in timed]
    rows.append(["load: aegis.write per series, then compress (s)", "%.1f" % one[0], "%.1f" % dist[0],
                 "%.2fx" % (one[0] / dist[0])])
    text = table(["query (ms, median of %d warm runs)" % RUNS, "one node", "coordinator + 2 workers",
                  "one node / cluster"], rows)
    print(text)
    # Where a cluster call's time goes, and what it would take on hosts of their own.
    brows = []
    for qid in QUERIES:
        cpu, task_ms, _ = breakdown[qid]
        ports = sorted({port for _, port, _ in task_ms})
        calls = sorted({call for call, _, _ in task_ms})

        def took(call, port):
            return sum(ms for c, p, ms in task_ms if c == call and p == port)

        # The calls run one after another; a call's tasks on the workers at the same time.
        per_worker = sum(max(took(call, port) for port in ports) for call in calls)
        per_task = sum(max(ms for c, _, ms in task_ms if c == call) for call in calls)
        # "cluster here": the same layout as the breakdown's, the last redistribution to SHARDS.
        brows.append([qid, "%.2f" % one[1][qid], "%.2f" % sweep[SHARDS][qid], "%.2f" % cpu,
                      " / ".join("%.2f (%d)" % (sum(ms for _, p, ms in task_ms if p == port),
                                                sum(1 for _, p, _ in task_ms if p == port)) for port in ports),
                      "%.2f" % (cpu + per_worker), "%.2f" % (cpu + per_task)])
    btext = table(["query (ms)", "one node", "cluster here", "coordinator CPU a query",
                   "each worker's tasks, alone (tasks)", "projected, a core a worker",
                   "projected, a core a task"], brows)
    print(btext)
    counts = sorted(sweep)
    srows = [[qid or (FLOOR[0] + ": `%s`" % FLOOR[1]), "%.2f" % one[1][qid]] + ["%.2f" % sweep[n][qid] for n in counts]
             for qid in list(timed) + [None]]
    stext = table(["query (ms, median of %d warm runs)" % RUNS, "one node"] +
                  ["%d shards" % n for n in counts], srows)
    print(stext)
    for qid in QUERIES:
        print("%s, the shard statement of one call (EXPLAIN ANALYZE through auto_explain):\n%s" %
              (qid, breakdown[qid][2]))
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
                    "benchmark, and their plain SQL forms over `aegis.points`, whose foreign scan hands the "
                    "aggregates to the same engine and, on the cluster, the same shard statement).\n\n%s\n\n"
                    "The shards summarise their blocks (`aegis._bucket_parts`, docs/scale-out.md, \"What runs "
                    "where\"), one row per series packing its summaries per bucket, and the coordinator unpacks and "
                    "folds them; on this 2-core machine "
                    "the two workers and the coordinator share the cores, and Citus's planning and dispatch of the "
                    "tasks is part of every call.\n" % (rev, "{:,}".format(ds.points), ds.series, SHARDS, text))
            f.write("\nWhere the cluster's time goes (same run). **Coordinator CPU** is the CPU its backend "
                    "spends per query (its `/proc/PID/stat` over %d runs): parsing and planning the "
                    "distributed statements (Citus deparses each once per task), receiving the tasks' rows and "
                    "folding them. **Each worker's tasks** are the statements Citus sent for one query "
                    "(`citus.log_remote_commands`), run again on their worker alone, median of %d runs each, "
                    "summed per worker. On hosts of their own the workers run an engine call's tasks at the same "
                    "time (Q5 makes two `aggregate` calls, one after the other), so a query would take about the "
                    "coordinator's CPU plus, per call, the busiest worker's tasks (one core a worker, its tasks "
                    "in turn: the pessimistic bound, as Citus runs a worker's tasks over several connections) "
                    "or the longest task (a core a task), and network round trips; that is a projection from "
                    "these figures, not a measurement.\n\n%s\n\n"
                    % (COORD_CALLS, RUNS, btext))
            f.write("The same data over several shard counts (same run; `aegis.undistribute()` and "
                    "`aegis.distribute(n)` before each, %d shards last, so its column is measured again after the "
                    "first table; every answer compared with one node's again). Each engine "
                    "statement runs one task per shard, and each task costs Citus a deparse on the coordinator and "
                    "the worker a parse and a plan, so the count sets a call's fixed cost; the last row is Citus's "
                    "own floor, a count of a small table (a row per series) over every shard:\n\n%s\n\n"
                    % (SHARDS, stext))
            for qid in QUERIES:
                f.write("%s's shard statement in one call, as `EXPLAIN ANALYZE` shows it (auto_explain, timing "
                        "off; one task shown; the aggregate under the task is the shard's own, per series, and the "
                        "coordinator only unpacks and folds its rows):\n\n```\n%s\n```\n\n"
                        % (qid, breakdown[qid][2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
