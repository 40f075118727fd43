"""Every sample a Prometheus holds (its HTTP API's answer to {__name__=~".+"}[window] at a time, JSON) must be
in the database (metric, tags JSON, milliseconds, float8send hex, tab-separated) with the same labels, the same
millisecond and the same float64 bits. NaN samples must be NaN (not staleness markers, which the API never
returns). Arguments: prom.json db.tsv start_ms end_ms min_samples. Prints ok / not ok; exit 1 on a difference."""
import json
import math
import struct
import sys

prom = json.load(open(sys.argv[1]))["data"]["result"]
start_ms, end_ms, minimum = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
db = {}
for line in open(sys.argv[2]):
    metric, tags, ms, bits = line.rstrip("\n").split("\t")
    key = (metric, tuple(sorted(json.loads(tags).items())))
    db[(key, int(ms))] = int(bits, 16)
stale = 0x7ff0000000000002  # Prometheus's staleness marker
checked, missing, differ = 0, [], []
for s in prom:
    labels = dict(s["metric"])
    key = (labels.pop("__name__"), tuple(sorted(labels.items())))
    for t, v in s["values"]:
        ms = round(float(t) * 1000)
        if not (start_ms <= ms <= end_ms):
            continue
        checked += 1
        got = db.get((key, ms))
        want = float(v)
        if got is None:
            missing.append((key, ms, v))
        elif math.isnan(want):
            if not math.isnan(struct.unpack(">d", struct.pack(">Q", got))[0]) or got == stale:
                differ.append((key, ms, v, hex(got)))
        elif struct.unpack(">Q", struct.pack(">d", want))[0] != got:
            differ.append((key, ms, v, hex(got)))
series = len({k for k, _ in db})
print("# %d samples of %d series in Prometheus's window, %d rows of %d series in the database"
      % (checked, len(prom), len(db), series))
ok = checked >= minimum and not missing and not differ
for m in missing[:10]:
    print("# missing:", m)
for d in differ[:10]:
    print("# differs:", d)
print(("ok" if ok else "not ok") + " - every sample Prometheus stored is in the database, bit for bit"
      + ("" if ok else " (%d missing, %d different, %d checked)" % (len(missing), len(differ), checked)))
sys.exit(0 if ok else 1)
