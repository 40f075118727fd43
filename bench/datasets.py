"""Benchmark data sets, turned into CSV files that psql's \\copy loads.

Every data set becomes two files in an output folder:

  <name>.points.csv   series_id,ts,value        one row per point, series after
                                                series, each in time order
  <name>.series.csv   series_id,metric,tags,first_row,points
                                                one row per series; first_row is
                                                the 1-based line of its first point
                                                in <name>.points.csv

A (series, ts) pair that occurs more than once keeps its last value (the
extension's last-write-wins rule), so both sides of the benchmark hold exactly
the same points. Values are written with Python's repr(), the shortest text
that reads back to the same float64, so nothing is lost on the way in.

Python 3 standard library only.
"""

import array
import csv
import datetime as dt
import itertools
import json
import os
import random
import statistics
import struct

DATA_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))

UTC = dt.timezone.utc
BIN_START = dt.datetime(2024, 1, 1, tzinfo=UTC)
BIN_STEP_S = 10

TSBS_METRICS = [
    "cpu_usage_user", "cpu_usage_system", "cpu_usage_idle", "cpu_usage_nice", "cpu_usage_iowait",
    "cpu_usage_irq", "cpu_usage_softirq", "cpu_usage_steal", "cpu_usage_guest", "cpu_usage_guest_nice",
]
TSBS_START = dt.datetime(2024, 1, 1, tzinfo=UTC)
TSBS_STEP_S = 10
TSBS_SEED = 20240101
SCALES = {  # name: (hosts, points per series)
    "full": (100, 10_000),
    "small": (10, 1_000),
}


class Dataset:
    """One data set: a name, where it comes from and how its series are named."""

    def __init__(self, name, source, description):
        self.name = name
        self.source = source
        self.description = description
        self.series = 0
        self.points = 0
        self.duplicates = 0  # (series, ts) repeats dropped, last value kept


def _ts_text(t):
    return t.strftime("%Y-%m-%d %H:%M:%S+00")


def _write(out_dir, ds, series_list):
    """series_list: [(metric, tags dict, [(ts_text, value_text), ...])] in series order."""
    row = 1
    with open(os.path.join(out_dir, ds.name + ".points.csv"), "w", newline="") as pf, \
            open(os.path.join(out_dir, ds.name + ".series.csv"), "w", newline="") as sf:
        sw = csv.writer(sf)
        for sid, (metric, tags, pts) in enumerate(series_list, start=1):
            sw.writerow([sid, metric, json.dumps(tags, sort_keys=True), row, len(pts)])
            prefix = "%d," % sid
            pf.write("".join(prefix + t + "," + v + "\n" for t, v in pts))
            row += len(pts)
            ds.points += len(pts)
        ds.series = len(series_list)


def _dedup_sorted(pairs, ds):
    """pairs: [(ts_text, value_text)] in file order -> time order, last value wins."""
    last = {}
    for t, v in pairs:
        if t in last:
            ds.duplicates += 1
        last[t] = v
    return sorted(last.items())  # ISO text sorts in time order (all +00)


def _nab(out_dir, name, file_name, description):
    ds = Dataset(name, file_name, description)
    pairs = []
    with open(os.path.join(DATA_DIR, file_name), newline="") as f:
        r = csv.reader(f)
        header = next(r)
        assert header == ["timestamp", "value"], header
        for t, v in r:
            pairs.append((t + "+00", repr(float(v))))
    _write(out_dir, ds, [(name, {}, _dedup_sorted(pairs, ds))])
    return ds


def _etth1(out_dir):
    ds = Dataset("etth1", "ETTh1.csv", "7 columns = 7 series, hourly")
    with open(os.path.join(DATA_DIR, "ETTh1.csv"), newline="") as f:
        r = csv.reader(f)
        header = next(r)
        cols = header[1:]
        per_col = [[] for _ in cols]
        for rec in r:
            t = rec[0] + "+00"
            for i, v in enumerate(rec[1:]):
                per_col[i].append((t, repr(float(v))))
    _write(out_dir, ds, [("etth1", {"column": c}, _dedup_sorted(p, ds)) for c, p in zip(cols, per_col)])
    return ds


def _bin(out_dir, name, file_name, description):
    ds = Dataset(name, file_name, description)
    with open(os.path.join(DATA_DIR, file_name), "rb") as f:
        raw = f.read()
    values = struct.unpack("<%dd" % (len(raw) // 8), raw)
    pts = [(_ts_text(BIN_START + dt.timedelta(seconds=BIN_STEP_S * i)), repr(v)) for i, v in enumerate(values)]
    _write(out_dir, ds, [(name, {}, pts)])
    return ds


def tsbs_tags(rng, host):
    """TSBS cpu-only ("devops") tag set of one host."""
    regions = {
        "us-east-1": ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"],
        "us-west-1": ["us-west-1a", "us-west-1b"],
        "us-west-2": ["us-west-2a", "us-west-2b", "us-west-2c"],
        "eu-west-1": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        "eu-central-1": ["eu-central-1a", "eu-central-1b"],
        "ap-southeast-1": ["ap-southeast-1a", "ap-southeast-1b"],
        "ap-southeast-2": ["ap-southeast-2a", "ap-southeast-2b"],
        "ap-northeast-1": ["ap-northeast-1a", "ap-northeast-1c"],
        "sa-east-1": ["sa-east-1a", "sa-east-1b", "sa-east-1c"],
    }
    region = rng.choice(sorted(regions))
    return {
        "hostname": "host_%d" % host,
        "region": region,
        "datacenter": rng.choice(regions[region]),
        "rack": str(rng.randrange(100)),
        "os": rng.choice(["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"]),
        "arch": rng.choice(["x64", "x86"]),
        "team": rng.choice(["SF", "NYC", "LON", "CHI"]),
        "service": str(rng.randrange(20)),
        "service_version": str(rng.randrange(2)),
        "service_environment": rng.choice(["production", "staging", "test"]),
    }


# Random-walk steps: N(0, 1) by inverse CDF over 65,536 equal-probability
# quantiles, in hundredths (the values are rounded to 2 decimals anyway). Two
# random bytes per step keep the generator fast in pure Python.
_STEPS = None
_VALUE_TEXT = ["%d.%02d" % divmod(c, 100) for c in range(10001)]  # hundredths -> text


def _step_table():
    global _STEPS
    if _STEPS is None:
        nd = statistics.NormalDist()
        _STEPS = [round(100.0 * nd.inv_cdf((i + 0.5) / 65536.0)) for i in range(65536)]
    return _STEPS


def _clamp_step(c, s):
    c += s
    return 0 if c < 0 else (10000 if c > 10000 else c)


def _tsbs_host(args):
    """One host's 10 series: (tags, text of its points) for series ids first_sid.. in metric order."""
    host, per_series, first_sid = args
    rng = random.Random(TSBS_SEED * 1000 + host)  # per host: same data whatever the worker split
    tags = tsbs_tags(rng, host)
    steps = _step_table()
    ts = [_ts_text(TSBS_START + dt.timedelta(seconds=TSBS_STEP_S * i)) for i in range(per_series)]
    parts = []
    for k in range(len(TSBS_METRICS)):
        idx = array.array("H")
        idx.frombytes(rng.randbytes(2 * per_series))
        start = rng.randrange(10001)
        walk = itertools.accumulate((steps[i] for i in idx), _clamp_step, initial=start)
        next(walk)  # the start value itself is not a point
        prefix = "%d," % (first_sid + k)
        parts.append("".join([prefix + t + "," + _VALUE_TEXT[c] + "\n" for t, c in zip(ts, walk)]))
    return tags, "".join(parts)


def tsbs_dataset(scale):
    """The generated data set's description (its files come from write_tsbs)."""
    hosts, per_series = SCALES[scale]
    nm = len(TSBS_METRICS)
    ds = Dataset("tsbs_cpu", "generated, TSBS cpu-only shape",
                 "%d hosts x %d metrics x %d points, every 10 s" % (hosts, nm, per_series))
    ds.series = hosts * nm
    ds.points = hosts * nm * per_series
    return ds


def write_tsbs(out_dir, scale):
    """Writes tsbs_cpu.points.csv and tsbs_cpu.series.csv (deterministic: same bytes on every run)."""
    hosts, per_series = SCALES[scale]
    nm = len(TSBS_METRICS)
    with open(os.path.join(out_dir, "tsbs_cpu.points.csv"), "w", newline="") as pf, \
            open(os.path.join(out_dir, "tsbs_cpu.series.csv"), "w", newline="") as sf:
        sw = csv.writer(sf)
        for host in range(hosts):
            first_sid = host * nm + 1
            tags, text = _tsbs_host((host, per_series, first_sid))
            for k, metric in enumerate(TSBS_METRICS):
                sid = first_sid + k
                sw.writerow([sid, metric, json.dumps(tags, sort_keys=True), (sid - 1) * per_series + 1, per_series])
            pf.write(text)


def real_datasets(out_dir):
    """Writes the six files of ../shared/data as CSV; returns their Dataset list, in benchmark order."""
    return [
        _nab(out_dir, "machine_temperature", "machine_temperature_system_failure.csv",
             "NAB, 5 min, ~8 decimals"),
        _nab(out_dir, "cpu_utilization_asg", "cpu_utilization_asg_misconfiguration.csv",
             "NAB, 5 min, float-printing noise"),
        _nab(out_dir, "nyc_taxi", "nyc_taxi.csv", "NAB, 30 min, integers"),
        _etth1(out_dir),
        _bin(out_dir, "city_temperature", "city_temperature_f_tw.bin", "ALP, 1 decimal, 10 s synthetic ts"),
        _bin(out_dir, "nyc29", "nyc29_tw.bin", "ALP, full-precision doubles, 10 s synthetic ts"),
    ]


if __name__ == "__main__":
    import sys
    import time
    t0 = time.monotonic()
    for d in real_datasets(sys.argv[1]) + [tsbs_dataset(sys.argv[2] if len(sys.argv) > 2 else "small")]:
        print(d.name, d.series, d.points, d.duplicates)
    write_tsbs(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "small")
    print("%.1f s" % (time.monotonic() - t0))
