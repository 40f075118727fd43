"""make bench, gateway part (issue 12): ingest through aegis-gateway next to the peers that speak the same
protocols, and the bytes per sample each keeps, on the same machine in the same run.

  1. Remote write: build/gateway/remote_write_bench sends snappy-compressed WriteRequests as Prometheus does
     (SERIES series, one sample of each per round, requests of 2,000 samples, 4 connections) to the gateway,
     and the same requests to Prometheus 2.42 started with --web.enable-remote-write-receiver.
  2. Line protocol: the same TSBS-shaped file (HOSTS hosts, 10 cpu fields, ROUNDS rounds 10 s apart) is
     POSTed in requests of 5,000 lines by 2 client threads to the gateway's /write and to InfluxDB 1.6, and
     loaded with `aegis-gateway load`.
  3. Bytes per sample of those points: the extension's tables after aegis.compress('0') (everything counted,
     as in the Storage section), InfluxDB's TSM files after its full compaction, and Prometheus's blocks
     built from the same samples by `promtool tsdb create-blocks-from openmetrics`.

Each rate is the median of RUNS runs into an emptied store. Prints the tables; with --doc FILE appends them
to FILE as a section. Environment: GATEWAY_BENCH_SCALE=small divides the sets by 10.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = os.environ.get("GATEWAY_BENCH_SCALE", "full") == "small"
RUNS = 3
SERIES = 1000 if SMALL else 10000
RW_ROUNDS = 10 if SMALL else 20
HOSTS = 100 if SMALL else 1000
LP_ROUNDS = 36 if SMALL else 360
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq",
          "usage_steal", "usage_guest", "usage_guest_nice"]
DB = "aegis_bench_gateway"
T0 = 1699999200  # 2023-11-14 22:00:00 UTC: whole minutes and hours


def log(msg):
    print("-- " + msg, file=sys.stderr, flush=True)


def sh(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw).stdout


def psql(db, sql):
    return sh("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql).strip()


def bindir():
    return sh("pg_config", "--bindir").strip()


def free_port(offset):
    return 20000 + (int(os.environ.get("PGPORT", "54000")) % 1000) * 5 + offset


def wait_http(url, what, proc, seconds=30):
    for _ in range(seconds * 10):
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    raise RuntimeError("%s did not start (%s)" % (what, url))


def fresh_db():
    psql("postgres", "DROP DATABASE IF EXISTS %s" % DB)
    psql("postgres", "CREATE DATABASE %s" % DB)
    psql("postgres", "ALTER DATABASE %s SET aegis.maintenance_worker = off" % DB)
    psql(DB, "CREATE EXTENSION aegis_timeseries")


class Proc:
    def __init__(self, args, log_path):
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def gateway(tmp):
    port = free_port(7)
    g = Proc([os.path.join(bindir(), "aegis-gateway"), "--listen", "127.0.0.1:%d" % port, "--dsn", "dbname=" + DB],
             os.path.join(tmp, "gateway.log"))
    wait_http("http://127.0.0.1:%d/-/healthy" % port, "aegis-gateway", g.p)
    return g, "http://127.0.0.1:%d" % port


def remote_write(url, rounds, first_round):
    out = sh(os.path.join(ROOT, "build/gateway/remote_write_bench"), url, str(SERIES), "2000", str(rounds), "4",
             str(first_round))
    m = re.search(r"samples (\d+) seconds ([\d.]+) rate (\d+) failed (\d+)", out)
    if not m or m.group(4) != "0":
        raise RuntimeError("remote_write_bench: " + out)
    return int(m.group(1)), float(m.group(2))


def remote_write_runs(tmp):
    """Samples/s of remote write into the gateway and into Prometheus's receiver."""
    res = {}
    samples = SERIES * RW_ROUNDS
    # The gateway: each run into an emptied database, after a round that creates the series.
    rates = []
    for _ in range(RUNS):
        fresh_db()
        g, url = gateway(tmp)
        try:
            remote_write(url + "/api/v1/write", 1, 0)
            n, s = remote_write(url + "/api/v1/write", RW_ROUNDS, 1)
            rates.append(n / s)
            stored = int(psql(DB, "SELECT count(*) FROM aegis.points"))
            if stored != samples + SERIES:
                raise RuntimeError("the gateway stored %d samples of %d" % (stored, samples + SERIES))
        finally:
            g.stop()
    res["gateway"] = rates
    # Prometheus 2.42's own remote-write receiver, same requests.
    rates = []
    for i in range(RUNS):
        d = os.path.join(tmp, "prom-rw-%d" % i)
        port = free_port(8)
        with open(os.path.join(tmp, "prom-rw.yml"), "w") as f:
            f.write("global: {}\n")
        p = Proc(["prometheus", "--config.file=" + os.path.join(tmp, "prom-rw.yml"), "--storage.tsdb.path=" + d,
                  "--web.listen-address=127.0.0.1:%d" % port, "--web.enable-remote-write-receiver"],
                 os.path.join(tmp, "prom-rw.log"))
        try:
            wait_http("http://127.0.0.1:%d/-/ready" % port, "prometheus", p.p)
            url = "http://127.0.0.1:%d/api/v1/write" % port
            remote_write(url, 1, 0)
            n, s = remote_write(url, RW_ROUNDS, 1)
            rates.append(n / s)
        finally:
            p.stop()
            shutil.rmtree(d, ignore_errors=True)
    res["prometheus"] = rates
    return res


def write_lp(path):
    """TSBS-shaped cpu lines, time-major (every host each round), values a 2-decimal random walk."""
    import random
    rng = random.Random(20261205)
    vals = [[round(rng.uniform(0, 100), 2) for _ in FIELDS] for _ in range(HOSTS)]
    regions = ["eu-west-1", "us-east-1", "ap-south-1"]
    with open(path, "w") as f:
        for r in range(LP_ROUNDS):
            ts = T0 + r * 10
            for h in range(HOSTS):
                v = vals[h]
                for i in range(len(v)):
                    v[i] = round(min(100.0, max(0.0, v[i] + rng.uniform(-1, 1))), 2)
                fields = ",".join("%s=%r" % (k, x) for k, x in zip(FIELDS, v))
                f.write("cpu,hostname=host_%d,region=%s,rack=%d %s %d\n" % (h, regions[h % 3], h % 50, fields, ts))
    return HOSTS * LP_ROUNDS * len(FIELDS)


def post_lp(path, url):
    """POSTs the file in requests of 5,000 lines from 2 threads; seconds taken."""
    with open(path) as f:
        lines = f.readlines()
    chunks = ["".join(lines[i:i + 5000]).encode() for i in range(0, len(lines), 5000)]
    nxt = [0]
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(chunks):
                return
            req = urllib.request.Request(url, data=chunks[i], method="POST")
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    if r.status != 204:
                        errors.append(r.status)
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))

    t = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    s = time.monotonic() - t
    if errors:
        raise RuntimeError("line protocol to %s: %s" % (url, errors[:3]))
    return s


def aegis_bytes():
    # Everything packed into blocks, then the space the recent rows, the
    # packed batches and the last-point updates left behind given back (a
    # running system reuses it for the next minutes' writes; PostgreSQL keeps
    # a table's file at its largest, so without this the figure would be the
    # staging area's peak).
    psql(DB, "SELECT aegis.compress('0')")
    psql(DB, "VACUUM FULL aegis.recent_points")
    psql(DB, "VACUUM FULL aegis.packed_points")
    psql(DB, "VACUUM FULL aegis.last_points")
    psql(DB, "VACUUM ANALYZE aegis.blocks")
    return int(psql(DB, "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                        "WHERE c.relnamespace = 'aegis'::regnamespace AND c.relkind = 'r'"))


def dir_bytes(path, skip=()):
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in skip]
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def influx(tmp, i):
    d = os.path.join(tmp, "influx-%d" % i)
    http, rpc = free_port(9), free_port(10) + 5000
    conf = os.path.join(tmp, "influx.conf")
    with open(conf, "w") as f:
        f.write('reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n[meta]\n  dir = "%s/meta"\n'
                '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n  query-log-enabled = false\n'
                '  cache-snapshot-write-cold-duration = "1s"\n  compact-full-write-cold-duration = "2s"\n'
                '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n'
                % (rpc, d, d, d, http))
    p = Proc(["influxd", "-config", conf], os.path.join(tmp, "influxd.log"))
    wait_http("http://127.0.0.1:%d/ping" % http, "influxd", p.p)
    urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/query" % http,
                                                  data=b"q=CREATE+DATABASE+lp", method="POST")).read()
    return p, d, "http://127.0.0.1:%d" % http


def influx_count(base):
    q = urllib.parse.urlencode({"db": "lp", "q": "SELECT count(usage_user) FROM cpu"})
    r = json.load(urllib.request.urlopen(base + "/query?" + q))
    return r["results"][0]["series"][0]["values"][0][1] * len(FIELDS)


QUERY_RUNS = 9
T1 = T0 + LP_ROUNDS * 10


def queries():
    """Q1, Q2 and Q5 of the main benchmark on the line-protocol set: (label, SQL, InfluxQL, rows expected)."""
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    pg = lambda t: "'" + time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(t)) + "'"
    return [
        ("Q1 per-minute max of 1 field of 1 host",
         "SELECT * FROM aegis.aggregate('cpu_usage_user{hostname=\"host_0\"}', 'max', %s, %s, '1 minute')"
         % (pg(T0), pg(T1)),
         "SELECT max(usage_user) FROM cpu WHERE hostname = 'host_0' AND time >= '%s' AND time < '%s' "
         "GROUP BY time(1m)" % (iso(T0), iso(T1)), (T1 - T0) // 60),
        ("Q2 hourly mean of 1 field per host",
         "SELECT * FROM aegis.aggregate('cpu_usage_user', 'avg', %s, %s, '1 hour', '{hostname}')" % (pg(T0), pg(T1)),
         "SELECT mean(usage_user) FROM cpu WHERE time >= '%s' AND time < '%s' GROUP BY time(1h), hostname"
         % (iso(T0), iso(T1)), HOSTS * ((T1 - T0 + 3599) // 3600)),
        ("Q5 count and sum of 1 field, every point",
         "SELECT count(*), sum(value) FROM aegis.points WHERE metric = 'cpu_usage_user'",
         "SELECT count(usage_user), sum(usage_user) FROM cpu", 1),
    ]


def aegis_query_times():
    """Median ms of each query over QUERY_RUNS runs after one warm-up, psql's \\timing (one session)."""
    script = "\\o /dev/null\n\\timing on\n"
    for _, sql, _, _ in queries():
        script += (sql + ";\n") * (QUERY_RUNS + 1)
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB], input=script, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    times = [float(x) for x in re.findall(r"Time: ([\d.]+) ms", out)]
    res = []
    for i, (_, sql, _, rows) in enumerate(queries()):
        runs = times[i * (QUERY_RUNS + 1) + 1:(i + 1) * (QUERY_RUNS + 1)]
        got = int(psql(DB, "SELECT count(*) FROM (%s) q" % sql))
        if got != rows:
            raise RuntimeError("%s: the extension returned %d rows, not %d" % (sql, got, rows))
        res.append(statistics.median(runs))
    return res


def influx_query_times(base):
    """Median ms of each InfluxQL query over HTTP (the answer read and parsed as JSON)."""
    res = []
    for _, _, q, rows in queries():
        url = base + "/query?" + urllib.parse.urlencode({"db": "lp", "q": q, "epoch": "s"})
        runs = []
        for i in range(QUERY_RUNS + 1):
            t = time.monotonic()
            answer = json.load(urllib.request.urlopen(url))
            if i > 0:
                runs.append((time.monotonic() - t) * 1000)
        got = sum(len(s["values"]) for s in answer["results"][0].get("series", []))
        if got != rows:
            raise RuntimeError("%s: InfluxDB returned %d rows, not %d" % (q, got, rows))
        res.append(statistics.median(runs))
    return res


def line_protocol_runs(tmp, lp):
    points = HOSTS * LP_ROUNDS * len(FIELDS)
    res = {"gateway_http": [], "gateway_load": [], "influxdb": []}
    sizes = {}
    for i in range(RUNS):
        fresh_db()
        g, url = gateway(tmp)
        try:
            res["gateway_http"].append(points / post_lp(lp, url + "/write?db=lp&precision=s"))
        finally:
            g.stop()
        got = int(psql(DB, "SELECT count(*) FROM aegis.points"))
        if got != points:
            raise RuntimeError("the gateway stored %d points of %d" % (got, points))
        if i == 0:
            sizes["aegis"] = aegis_bytes()
            sizes["aegis_queries"] = aegis_query_times()
        fresh_db()
        out = sh(os.path.join(bindir(), "aegis-gateway"), "load", "--dsn", "dbname=" + DB, "--precision", "s", lp)
        m = re.search(r"loaded (\d+) points from \d+ lines in ([\d.]+) s", out)
        if not m or int(m.group(1)) != points:
            raise RuntimeError("aegis-gateway load: " + out)
        res["gateway_load"].append(points / float(m.group(2)))
        p, d, base = influx(tmp, i)
        try:
            res["influxdb"].append(points / post_lp(lp, base + "/write?db=lp&precision=s"))
            if influx_count(base) != points:
                raise RuntimeError("InfluxDB stored %d points of %d" % (influx_count(base), points))
            if i == 0:
                # Its full compaction runs once the shard is cold (2 s here); wait for the TSM files to settle.
                last, stable = -1, 0
                for _ in range(120):
                    time.sleep(1)
                    now = dir_bytes(os.path.join(d, "data"))
                    stable = stable + 1 if now == last else 0
                    last = now
                    if stable >= 5 and not any(f.endswith(".tsm.tmp") for _, _, fs in os.walk(d) for f in fs):
                        break
                sizes["influxdb"] = dir_bytes(os.path.join(d, "data"))
                sizes["influx_queries"] = influx_query_times(base)
        finally:
            p.stop()
            shutil.rmtree(d, ignore_errors=True)
    # Prometheus: the same samples as OpenMetrics, blocks built by promtool.
    om = os.path.join(tmp, "points.om")
    with open(lp) as f, open(om, "w") as out:
        for name in FIELDS:
            out.write("# TYPE cpu_%s gauge\n" % name)
        rows = []
        for line in f:
            head, fields, ts = line.rsplit(" ", 2)
            labels = ",".join('%s="%s"' % tuple(kv.split("=", 1)) for kv in head.split(",")[1:])
            for kv in fields.split(","):
                k, v = kv.split("=", 1)
                rows.append(("cpu_" + k, labels, v, ts.strip()))
        rows.sort(key=lambda r: (r[0], r[1], int(r[3])))  # OpenMetrics: a family's samples together
        for name, labels, v, ts in rows:
            out.write("%s{%s} %s %s\n" % (name, labels, v, ts))
        out.write("# EOF\n")
    blocks = os.path.join(tmp, "prom-blocks")
    sh("promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks)
    sizes["prometheus"] = dir_bytes(blocks)
    os.remove(om)
    shutil.rmtree(blocks, ignore_errors=True)
    return res, sizes, points


def table(headers, rows):
    w = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w[i]) if i == 0 else str(x).rjust(w[i]) for i, x in enumerate(r)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (n + 2) if i == 0 else "-" * (n + 1) + ":" for i, n in enumerate(w)) + "|"]
                     + [line(r) for r in rows])


def fmt_rate(rates):
    return "{:,.0f}".format(statistics.median(rates))


def main():
    doc = None
    if sys.argv[1:2] == ["--doc"]:
        doc = sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="aegis-gwbench-", dir="/tmp")
    os.chmod(tmp, 0o755)
    t0 = time.monotonic()
    try:
        log("gateway: remote write, %d series, %d rounds, %d runs" % (SERIES, RW_ROUNDS, RUNS))
        rw = remote_write_runs(tmp)
        lp = os.path.join(tmp, "cpu.lp")
        write_lp(lp)
        log("gateway: line protocol, %d hosts x %d fields x %d rounds" % (HOSTS, len(FIELDS), LP_ROUNDS))
        lpr, sizes, points = line_protocol_runs(tmp, lp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        psql("postgres", "DROP DATABASE IF EXISTS %s" % DB)
    g = statistics.median
    ingest = table(["path (same requests to each)", "samples/s", "gateway / peer", "runs (samples/s)"], [
        ["remote write -> aegis-gateway -> PostgreSQL", fmt_rate(rw["gateway"]),
         "%.2fx" % (g(rw["gateway"]) / g(rw["prometheus"])), " ".join(fmt_rate([r]) for r in rw["gateway"])],
        ["remote write -> Prometheus 2.42 receiver (its TSDB)", fmt_rate(rw["prometheus"]), "",
         " ".join(fmt_rate([r]) for r in rw["prometheus"])],
        ["line protocol POST /write -> aegis-gateway", fmt_rate(lpr["gateway_http"]),
         "%.2fx" % (g(lpr["gateway_http"]) / g(lpr["influxdb"])), " ".join(fmt_rate([r]) for r in lpr["gateway_http"])],
        ["line protocol POST /write -> InfluxDB 1.6", fmt_rate(lpr["influxdb"]), "",
         " ".join(fmt_rate([r]) for r in lpr["influxdb"])],
        ["aegis-gateway load FILE (line protocol)", fmt_rate(lpr["gateway_load"]), "",
         " ".join(fmt_rate([r]) for r in lpr["gateway_load"])],
    ])
    size = table(["store", "bytes", "bytes/sample", "vs aegis"], [
        ["aegis_timeseries (compressed, everything counted)", "{:,}".format(sizes["aegis"]),
         "%.2f" % (sizes["aegis"] / points), "1.00x"],
        ["InfluxDB 1.6 (TSM files after full compaction)", "{:,}".format(sizes["influxdb"]),
         "%.2f" % (sizes["influxdb"] / points), "%.2fx" % (sizes["influxdb"] / sizes["aegis"])],
        ["Prometheus 2.42 (blocks from promtool create-blocks-from)", "{:,}".format(sizes["prometheus"]),
         "%.2f" % (sizes["prometheus"] / points), "%.2fx" % (sizes["prometheus"] / sizes["aegis"])],
    ])
    qtable = table(["query (same points on both sides)", "aegis ms", "InfluxDB 1.6 ms", "InfluxDB / aegis"], [
        [label, "%.2f" % a, "%.2f" % b, "%.2fx" % (b / a)]
        for (label, _, _, _), a, b in zip(queries(), sizes["aegis_queries"], sizes["influx_queries"])])
    text = ("Gateway ingest (medians of %d runs, each into an emptied store; %.0f s in all)\n%s\n\n"
            "Bytes per sample of the line-protocol set (%s samples: %d hosts x %d fields x %d rounds 10 s apart)\n%s\n\n"
            "Queries on that set, compressed (median of %d runs after a warm-up; aegis: psql's \\timing, "
            "InfluxDB: its HTTP /query answer read and parsed)\n%s"
            % (RUNS, time.monotonic() - t0, ingest, "{:,}".format(points), HOSTS, len(FIELDS), LP_ROUNDS, size,
               QUERY_RUNS, qtable))
    print(text)
    if doc:
        with open(doc, "a") as f:
            f.write("\n## Gateway: ingest and the peers' storage\n\n"
                    "Written by `bench/gateway_bench.py` (run by `make bench` after the rest). Remote write: "
                    "`bench/gateway/remote_write_bench` sends snappy-compressed WriteRequests as Prometheus does "
                    "(%s series, one sample of each per round, requests of 2,000 samples, 4 connections, %d rounds "
                    "after one that creates the series) to the gateway and to Prometheus 2.42's own receiver "
                    "(`--web.enable-remote-write-receiver`). Line protocol: a TSBS-shaped file (%d hosts, 10 cpu "
                    "fields, %d rounds 10 s apart, values a 2-decimal random walk) POSTed in requests of 5,000 "
                    "lines by 2 client threads to the gateway's `/write` and to InfluxDB 1.6, and loaded with "
                    "`aegis-gateway load`. Each store's count is checked after each run. Medians of %d runs, each "
                    "into an emptied store.\n\n%s\n\n%s\n\nInfluxDB's size is its TSM files once its full "
                    "compaction settled (its in-memory index is not on disk); Prometheus's is the two-hour blocks "
                    "promtool builds (a long-running Prometheus compacts them further). The extension's counts "
                    "every table of the `aegis` schema after `aegis.compress('0')`, catalogs and indexes "
                    "included, once `VACUUM FULL` gave back the space of the recent rows and packed batches compress emptied "
                    "(a running system reuses it).\n\n"
                    "The main benchmark's Q1, Q2 and Q5 asked of both on that set (one hour of data: Q1 is "
                    "the per-minute max of `usage_user` of one host, Q2 its hourly mean per host, Q5 the count "
                    "and sum of all its points), every answer's row count checked; median of %d runs after a "
                    "warm-up, the extension through psql's `\\timing`, InfluxDB through its HTTP `/query` with "
                    "the JSON answer parsed.\n\n%s\n" % ("{:,}".format(SERIES), RW_ROUNDS, HOSTS, LP_ROUNDS, RUNS, ingest, size, QUERY_RUNS, qtable))
    return 0


if __name__ == "__main__":
    sys.exit(main())
