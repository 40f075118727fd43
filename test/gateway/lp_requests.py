"""Line-protocol requests for test/server/gateway_influx.sh, written to DIR as
NN-<precision>.lp (InfluxDB 1.x precision names) and NN-<precision>.v2 (the
same points in a precision that /api/v2/write takes: minutes and hours as
seconds). Fixed seed: the same requests every run."""
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(20261205)

MEASUREMENTS = ["cpu", r"cpu\,load", r"disk\ io", "x=y", "temp\u00e9rature"]
TAG_KEYS = ["host", r"rack\ id", r"zone\,x", r"p\=q"]
TAG_VALUES = ["web-1", r"web\ 2", r"a\,b", r"k\=v", "\u00e9t\u00e9", "db-9"]
# Each field key keeps one type everywhere (InfluxDB refuses a type change).
FIELDS = [("usage", "float"), ("count", "int"), ("up", "bool"), ("msg", "string"),
          (r"a\ b", "float"), (r"c\,d", "int"), (r"e\=f", "float")]
TRUE = ["t", "T", "true", "True", "TRUE"]
FALSE = ["f", "F", "false", "False", "FALSE"]


def field_value(kind):
    if kind == "float":
        return rng.choice([repr(rng.uniform(-1e6, 1e6)), repr(rng.random()), str(rng.randint(-50, 50)),
                           "%.3e" % rng.uniform(-1e20, 1e20), "-0.0", "1e-300"])
    if kind == "int":
        return "%di" % rng.choice([rng.randint(-1000, 1000), rng.randint(-2**62, 2**62), 2**63 - 1, -2**63])
    if kind == "bool":
        return rng.choice(TRUE + FALSE)
    return '"%s"' % rng.choice([r"hello, \"world\" x=1", "plain", r"back\\slash", "sp ace"])


def line(ts):
    m = rng.choice(MEASUREMENTS)
    keys = rng.sample(TAG_KEYS, rng.randint(0, 3))
    tags = "".join(",%s=%s" % (k, rng.choice(TAG_VALUES)) for k in sorted(keys))
    fields = rng.sample(FIELDS, rng.randint(1, 4))
    body = ",".join("%s=%s" % (k, field_value(kind)) for k, kind in fields)
    return "%s%s %s %d" % (m, tags, body, ts)


UNIT_NS = {"n": 1, "u": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
V2 = {"n": ("ns", 1), "u": ("us", 1), "ms": ("ms", 1), "s": ("s", 1), "m": ("s", 60), "h": ("s", 3600)}


def write(n, precision, lines):
    name = "%02d-%s" % (n, precision)
    with open(os.path.join(out, name + ".lp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    p2, mult = V2[precision]
    with open(os.path.join(out, name + ".v2"), "w") as f:
        for text in lines:
            head, _, ts = text.rpartition(" ")
            f.write("%s %d\n" % (head, int(ts) * mult) if ts.lstrip("-").isdigit() and head else text + "\n")


n = 0
base_s = 1700000000
for precision in ["n", "u", "ms", "s", "m", "h"]:
    unit = UNIT_NS[precision]
    start = base_s * 10**9 // unit + n * 100000
    lines = []
    for i in range(300):
        t = start + rng.randint(0, 5000)
        if precision == "n":
            t -= t % 1000  # whole microseconds: the database keeps microseconds
        lines.append(line(t))
    # Duplicates: a point again later in the same request, other values.
    for i in range(20):
        head, _, ts = rng.choice(lines).rpartition(" ")
        m_tags = head.split(" ")[0] if "\\ " not in head else None
        lines.append(line(int(ts)) if m_tags is None else "%s %s %s" % (
            m_tags, ",".join("%s=%s" % (k, field_value(kind)) for k, kind in rng.sample(FIELDS[:3], 2)), ts))
    write(n, precision, lines)
    n += 1

# Bad lines among good ones: both sides keep the good ones and answer 400.
bad = [
    "cpu",
    "cpu,host=a",
    "cpu usage=abc 1700000100",
    "cpu usage=1 notatime",
    "cpu,host=a,host=b usage=1 1700000101",
    'cpu usage="unterminated 1700000102',
    "cpu usage=1i2 1700000103",
    "cpu usage=NaN 1700000104",
    "cpu usage= 1700000105",
    ",host=a usage=1 1700000106",
]
lines = []
for i, b in enumerate(bad):
    lines.append(b)
    lines.append("cpu,host=good%d usage=%d 1700000%03d" % (i, i, 200 + i))
write(n, "s", lines)
n += 1
# Earlier points rewritten by a later request (last write wins on both sides).
lines = ["cpu,host=good%d usage=%d.5 1700000%03d" % (i, 100 + i, 200 + i) for i in range(5)]
lines += ["# a comment", "", "   ", "cpu,host=good9 count=3i,up=F 1700000209"]
write(n, "s", lines)
