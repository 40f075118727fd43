"""test/server/gateway_influx.sh: the points InfluxDB keeps (SHOW FIELD KEYS and
SELECT * FROM /.*/ as JSON) against the database's (metric, tags, microseconds,
float8send hex) rows for one db/bucket tag. Prints ok / not ok; exit 1 on a
difference."""
import json
import struct
import sys

fields_json, influx_json, db_tsv, bucket = sys.argv[1:5]


def load(path):
    # "-0" is how InfluxDB writes -0.0: keep its sign.
    return json.load(open(path), parse_int=lambda t: -0.0 if t == "-0" else int(t))


def metric_name(name):
    out = "" if (name[:1].isascii() and (name[:1].isalpha() or name[:1] == "_")) else "_"
    for ch in name.encode():
        c = chr(ch)
        out += c if (c.isascii() and (c.isalnum() or c in "_.:-")) else "_"
    return out


types = {}
for s in load(fields_json)["results"][0].get("series", []):
    types[s["name"]] = {k: t for k, t in s["values"]}

want = {}
for s in load(influx_json)["results"][0].get("series", []):
    cols, ft = s["columns"], types[s["name"]]
    for row in s["values"]:
        r = dict(zip(cols, row))
        tags = {c: v for c, v in r.items() if c != "time" and c not in ft and v is not None}
        tags["db"] = bucket
        for f, kind in ft.items():
            v = r.get(f)
            if v is None or kind == "string":
                continue
            value = (1.0 if v else 0.0) if isinstance(v, bool) else float(v)
            key = (metric_name(s["name"] + "_" + f), tuple(sorted(tags.items())), r["time"] // 1000)
            want[key] = struct.unpack(">Q", struct.pack(">d", value))[0]

got = {}
for line in open(db_tsv):
    metric, tags, us, bits = line.rstrip("\n").split("\t")
    got[(metric, tuple(sorted(json.loads(tags).items())), int(us))] = int(bits, 16)

missing = [k for k in want if k not in got]
extra = [k for k in got if k not in want]
differ = [k for k in want if k in got and got[k] != want[k]]
for k in missing[:5]:
    print("# missing:", k)
for k in extra[:5]:
    print("# extra:", k)
for k in differ[:5]:
    print("# differs:", k, hex(want[k]), hex(got[k]))
ok = len(want) > 1000 and not missing and not extra and not differ
print("%s - %s: the %d points InfluxDB keeps are the database's %d%s" % (
    "ok" if ok else "not ok", bucket, len(want), len(got),
    "" if ok else " (%d missing, %d extra, %d different)" % (len(missing), len(extra), len(differ))))
sys.exit(0 if ok else 1)
