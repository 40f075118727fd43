#!/usr/bin/env bash
# docs/block-format.md is precise enough to read blocks without the C++ code:
# test/format/decode_block.py, written from the document alone, decodes every
# block the server writes for varied series to exactly the points the server
# returns, rejects a corrupted block, and agrees with the server on hand-made
# blocks (edge cases of section 6 that the encoder never writes, a codec 1
# block, and one block breaking each rule of sections 4 and 6.9).
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
decoder_dir=$(cd "$here/../format" && pwd)
db=aegis_format
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$(date +%s)

python3 "$decoder_dir/decode_block.py" --selftest >/dev/null \
  || { echo "not ok - decode_block.py --selftest"; exit 1; }
echo "ok - decoder self-test (CRC-32C check value, worked examples 5.6, 6.4.1 and 6.7, decimal-rice codes and rules, binary32/binary64 rounding, fma)"

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"

# Values with unusual NaN payloads (signalling, negative, with payload) cannot
# be typed in SQL: they come in through a binary COPY file.
python3 - "$tmp/nan.copy" "$tmp/nan.expected" <<'PY'
import struct, sys
patterns = [0x7FF0000000000001, 0xFFF8000000000000, 0x7FF8DEADBEEF0001, 0xFFF7FFFFFFFFFFFF,
            0x8000000000000000, 0x0000000000000001, 0x7FF0000000000000, 0xFFFFFFFFFFFFFFFF]
values = [patterns[(i // 37) % len(patterns)] if i % 37 == 0
          else struct.unpack(">Q", struct.pack(">d", round(20 + (i % 500) * 0.01, 2)))[0] for i in range(3000)]
with open(sys.argv[1], "wb") as f:
    f.write(b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0))
    for i, v in enumerate(values):
        f.write(struct.pack(">hii", 2, 4, i) + struct.pack(">iQ", 8, v))
    f.write(struct.pack(">h", -1))
open(sys.argv[2], "w").write("\n".join("%016x" % v for v in values) + "\n")
PY

psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<SQL
CREATE EXTENSION aegis_timeseries;
-- One partition for all time: the probe's block may be given any time range.
CREATE TABLE aegis.blocks_all (LIKE aegis.blocks INCLUDING ALL, PRIMARY KEY (series_id, ts_min));
ALTER TABLE aegis.blocks ATTACH PARTITION aegis.blocks_all FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
INSERT INTO aegis.block_partitions VALUES ('aegis.blocks_all', '-infinity', 'infinity');
SELECT setseed(0.25);
CREATE TEMP TABLE nan_src (i int, v float8);
\copy nan_src FROM '$tmp/nan.copy' WITH (FORMAT binary)
-- w(name, ts[], value[]) writes one series of metric fmt as one batch.
CREATE FUNCTION pg_temp.w(name text, ts timestamptz[], v float8[]) RETURNS bigint LANGUAGE sql
  AS \$\$ SELECT aegis.write('fmt', jsonb_build_object('s', name), ts, v) \$\$;
CREATE FUNCTION pg_temp.reg(n int, step interval, t0 timestamptz DEFAULT '2024-01-01') RETURNS timestamptz[]
  LANGUAGE sql AS \$\$ SELECT ARRAY(SELECT t0 + i * step FROM generate_series(0, n - 1) i) \$\$;

-- the probe series: one block, replaced by hand-made blocks later
SELECT pg_temp.w('probe', pg_temp.reg(1000, '100 s'), ARRAY(SELECT i::float8 FROM generate_series(1, 1000) i));
-- 2-decimal random walk
SELECT pg_temp.w('walk2', pg_temp.reg(5000, '10 s'),
  ARRAY(SELECT round((100 + sum(random() - 0.5) OVER (ORDER BY i))::numeric, 2)::float8
          FROM generate_series(0, 4999) i ORDER BY i));
-- 2-decimal random walk whose steps (in cents) are mostly small with a geometric tail: the kind of
-- differences Rice codes suit (6.4.1), so the encoder should write decimal-rice (scheme 7)
SELECT pg_temp.w('walk_geometric', pg_temp.reg(5000, '10 s'),
  ARRAY(SELECT ((2000 + sum((CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * floor(ln(1 - random()) / ln(0.75)))
                 OVER (ORDER BY i))::numeric / 100)::float8
          FROM generate_series(0, 4999) i ORDER BY i));
-- integers, small and beyond 2^53
SELECT pg_temp.w('ints', pg_temp.reg(3000, '1 s'), ARRAY(SELECT floor(random() * 2000 - 1000) FROM generate_series(1, 3000)));
SELECT pg_temp.w('ints_huge', pg_temp.reg(2000, '1 s'), ARRAY(SELECT 1e17 + floor(random() * 1e6) * 64 FROM generate_series(1, 2000)));
-- float32 widened to double
SELECT pg_temp.w('float32', pg_temp.reg(3000, '1 min'), ARRAY(SELECT ((20 + random() * 10)::float4)::float8 FROM generate_series(1, 3000)));
SELECT pg_temp.w('float32_small', pg_temp.reg(2000, '1 min'), ARRAY(SELECT ((random() * 0.001)::float4)::float8 FROM generate_series(1, 2000)));
SELECT pg_temp.w('float32_dec', pg_temp.reg(2000, '1 min'), ARRAY(SELECT (round((random() * 100)::numeric, 1)::float4)::float8 FROM generate_series(1, 2000)));
-- few distinct full-precision doubles
SELECT pg_temp.w('few_distinct', pg_temp.reg(3000, '5 s'),
  ARRAY(SELECT (ARRAY[pi(), exp(1.0), sqrt(2.0), 1 / 3.0, ln(10.0)])[1 + floor(random() * 5)::int] FROM generate_series(1, 3000)));
-- long runs of a constant
SELECT pg_temp.w('runs', pg_temp.reg(3000, '5 s'), ARRAY(SELECT (ARRAY[pi(), -sqrt(2.0), 1e300])[1 + (i / 250) % 3] FROM generate_series(0, 2999) i));
SELECT pg_temp.w('runs_short', pg_temp.reg(3000, '5 s'), ARRAY(SELECT random() FROM generate_series(0, 2999) i, LATERAL (SELECT i / (1 + i % 7)) x));
-- constants
SELECT pg_temp.w('const', pg_temp.reg(2500, '10 s'), array_fill(42.5::float8, ARRAY[2500]));
SELECT pg_temp.w('const_nan', pg_temp.reg(1000, '10 s'), array_fill('NaN'::float8, ARRAY[1000]));
SELECT pg_temp.w('const_negzero', pg_temp.reg(1000, '10 s'), array_fill('-0'::float8, ARRAY[1000]));
-- full precision
SELECT pg_temp.w('random', pg_temp.reg(3000, '1 s'), ARRAY(SELECT random() FROM generate_series(1, 3000)));
SELECT pg_temp.w('random_wide', pg_temp.reg(2000, '1 s'),
  ARRAY(SELECT (random() - 0.5) * 10 ^ (floor(random() * 40) - 20) FROM generate_series(1, 2000)));
SELECT pg_temp.w('random_int_mantissa', pg_temp.reg(2000, '1 s'), ARRAY(SELECT floor(random() * 1e6) * 2 ^ 30 FROM generate_series(1, 2000)));
-- special values mixed into decimals
SELECT pg_temp.w('special', pg_temp.reg(4000, '1 s'),
  ARRAY(SELECT CASE WHEN i % 53 = 0
                    THEN (ARRAY['NaN', 'Infinity', '-Infinity', '-0', '5e-324', '1.7976931348623157e308']::float8[])[1 + (i / 53) % 6]
                    ELSE round((random() * 1000)::numeric, 2)::float8 END
          FROM generate_series(0, 3999) i));
SELECT pg_temp.w('nan_payloads', pg_temp.reg(3000, '1 s'), ARRAY(SELECT v FROM nan_src ORDER BY i));
-- decimals with printing noise, more digits, tiny values
SELECT pg_temp.w('noisy', pg_temp.reg(3000, '1 s'), ARRAY(SELECT i * 0.1::float8 FROM generate_series(0, 2999) i));
SELECT pg_temp.w('dec6', pg_temp.reg(3000, '1 s'), ARRAY(SELECT round(random()::numeric, 6)::float8 FROM generate_series(1, 3000)));
SELECT pg_temp.w('dec18', pg_temp.reg(2000, '1 s'), ARRAY(SELECT ((i * 7919 % 100000)::numeric / 1e18)::float8 FROM generate_series(1, 2000) i));
SELECT pg_temp.w('negative_dec', pg_temp.reg(2000, '1 s'), ARRAY(SELECT round((-5000 + random() * 10)::numeric, 3)::float8 FROM generate_series(1, 2000)));
-- irregular, gappy timestamps (duplicate-free), jitter of microseconds to days
SELECT pg_temp.w('gappy',
  ARRAY(SELECT '2024-01-01'::timestamptz + make_interval(secs => sum(g) OVER (ORDER BY i) / 1e6)
          FROM (SELECT i, CASE WHEN random() < 0.01 THEN 1 + floor(random() * 1e12)
                               WHEN random() < 0.1 THEN 1 + floor(random() * 1e6)
                               ELSE 1000000 + floor(random() * 2000 - 1000) END AS g
                  FROM generate_series(0, 2999) i) s ORDER BY i),
  ARRAY(SELECT round((random() * 50)::numeric, 2)::float8 FROM generate_series(1, 3000)));
-- negative timestamps (before 2000), microsecond steps, and extreme spans (4000 BC .. 285000 AD)
SELECT pg_temp.w('old', pg_temp.reg(1500, '1 microsecond', '1900-01-01'), ARRAY(SELECT i::float8 FROM generate_series(1, 1500) i));
SELECT pg_temp.w('extreme_span', pg_temp.reg(1000, '289 years', '4000-01-01 BC'), ARRAY(SELECT i::float8 FROM generate_series(1, 1000) i));
-- a batch in random order (the server sorts it)
SELECT pg_temp.w('shuffled', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(0, 1999) i ORDER BY random()),
                             ARRAY(SELECT round(random()::numeric * 100, 1)::float8 FROM generate_series(0, 1999)));
-- big blocks: 70,000 points in one block (u32 exception positions), 65,537 points
-- (65,536 deltas: the last size with u16 positions), and the largest block of 1,000,000 points.
-- Blocks cut by point count alone (aegis.block_max_bytes = 0; by size they would be
-- rows of 4 kB), and aegis.block_max_points is each batch's size.
SET aegis.block_max_bytes = 0;
SET aegis.block_max_points = 70000;
SELECT pg_temp.w('big70k',
  ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' + (i / 5000) * interval '1 hour' FROM generate_series(0, 69999) i),
  ARRAY(SELECT CASE WHEN i % 9999 = 0 THEN 'NaN'::float8
                    ELSE round((20 + sum(random() - 0.5) OVER (ORDER BY i))::numeric, 2)::float8 END
          FROM generate_series(0, 69999) i ORDER BY i));
SET aegis.block_max_points = 65537;
SELECT pg_temp.w('big65537',
  ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' + (i / 5000) * interval '1 hour' FROM generate_series(0, 65536) i),
  ARRAY(SELECT CASE WHEN i % 7001 = 0 THEN 'Infinity'::float8 ELSE (i % 1000)::float8 / 4 END FROM generate_series(0, 65536) i));
SET aegis.block_max_points = 1000000;
SELECT pg_temp.w('big1m',
  ARRAY(SELECT '2000-01-01'::timestamptz + i * interval '1 s' + (i / 100000) * interval '1 ms' FROM generate_series(0, 999999) i),
  array_fill(1.25::float8, ARRAY[1000000]));
RESET aegis.block_max_points;
RESET aegis.block_max_bytes;
-- the compress path: single points go to recent_points, aegis.compress('0') packs them,
-- including blocks of 1, 2 and 3 points and late points merged into existing blocks
SELECT aegis.write('fmt', '{"s": "single1"}', '2023-06-01', 1.5);
SELECT aegis.write('fmt', jsonb_build_object('s', 'single2'), '2023-06-01'::timestamptz + i * interval '1 s', 2.25 * i) FROM generate_series(0, 1) i;
SELECT aegis.write('fmt', jsonb_build_object('s', 'single3'), '2023-06-01'::timestamptz + i * interval '7 s', random()) FROM generate_series(0, 2) i;
SELECT aegis.write('fmt', jsonb_build_object('s', 'single1500'), '2023-06-01'::timestamptz + i * interval '1 min', round(random()::numeric, 2)) FROM generate_series(0, 1499) i;
SELECT aegis.write('fmt', '{"s": "walk2"}', '2024-01-01'::timestamptz + i * interval '10 s' + interval '5 s', -1.0 * i) FROM generate_series(100, 2600, 250) i;
SELECT aegis.write('fmt', '{"s": "special"}', '2024-01-01'::timestamptz + i * interval '1 s', 'NaN') FROM generate_series(10, 20) i;
SELECT aegis.compress('0');
SQL
echo "ok - wrote $(psql -X -At -d "$db" -c "SELECT count(*) FROM aegis.series") series, $(psql -X -At -d "$db" -c "SELECT sum(point_count) FROM aegis.blocks") points"

# The GUC's bounds are the format's: 1 <= n <= 1,000,000 (the library is loaded
# first, or SET would create a placeholder that takes any value).
load="SELECT count(*) FROM aegis.series_points(-1)"
if psql -X -q -d "$db" -c "$load" -c "SET aegis.block_max_points = 1000001" >/dev/null 2>&1 \
   || psql -X -q -d "$db" -c "$load" -c "SET aegis.block_max_points = 0" >/dev/null 2>&1 \
   || ! psql -X -q -d "$db" -c "$load" -c "SET aegis.block_max_points = 1000000" >/dev/null 2>&1; then
  echo "not ok - aegis.block_max_points accepts a value outside 1 .. 1,000,000"; exit 1
fi
echo "ok - aegis.block_max_points is bounded by 1 .. 1,000,000 like the block's point count"
[ "$(psql -X -At -d "$db" -c "SELECT count(*) FROM aegis.recent_points")" = 0 ] \
  || { echo "not ok - recent points left after aegis.compress('0')"; exit 1; }

# Every block, and the points the server returns for its time range.
psql -X -At -F'|' -d "$db" -c "
  SELECT b.series_id, s.tags->>'s', encode(timestamptz_send(b.ts_min), 'hex'), encode(timestamptz_send(b.ts_max), 'hex'),
         b.point_count, encode(float8send(b.min_value), 'hex'), encode(float8send(b.max_value), 'hex'),
         encode(float8send(b.sum_value), 'hex'), encode(float8send(b.first_value), 'hex'),
         encode(float8send(b.last_value), 'hex'), encode(b.data, 'hex')
    FROM aegis.blocks b JOIN aegis.series s USING (series_id) ORDER BY b.series_id, b.ts_min" >"$tmp/blocks"
psql -X -At -F'|' -d "$db" -c "
  SELECT b.series_id, encode(timestamptz_send(b.ts_min), 'hex'), encode(timestamptz_send(p.ts), 'hex'), encode(float8send(p.value), 'hex')
    FROM aegis.blocks b
   CROSS JOIN LATERAL aegis.series_points(b.series_id, b.ts_min, b.ts_max + interval '1 microsecond') WITH ORDINALITY AS p(ts, value, ord)
   ORDER BY b.series_id, b.ts_min, p.ord" >"$tmp/points"
psql -X -At -F'|' -d "$db" -c "SELECT series_id FROM aegis.series WHERE tags->>'s' = 'probe'" >"$tmp/probe_series"

set +e
PYTHONPATH="$decoder_dir" python3 - "$tmp" "$db" <<'PY'
import collections, struct, subprocess, sys
from decode_block import (BlockError, MASK64, bits64, crc32c, decode_block, f64, lsb_bytes, make_block, rice,
                          signed64, zigzag)

tmp, db = sys.argv[1], sys.argv[2]
failures = 0


def ok(cond, text):
    global failures
    print(("ok - " if cond else "not ok - ") + text)
    if not cond:
        failures += 1
    return cond


def hex_i64(h):
    return signed64(int(h, 16))


# --- every block the server wrote, against the server's own reading ----------------------------------------
SCHEMES = ["raw", "constant", "decimal", "dictionary", "run-length", "split", "xor", "decimal-rice"]
points = collections.defaultdict(list)
for line in open(tmp + "/points"):
    sid, tsmin, ts, val = line.rstrip("\n").split("|")
    points[(sid, tsmin)].append((hex_i64(ts), int(val, 16)))

checked = bad = bad_summary = 0
top = collections.Counter()
nested = collections.Counter()
decimals = collections.Counter()           # (scheme, flags, e) of decimal (2) and decimal-rice (7) columns
rice_ks = collections.Counter()            # k of every RICE sequence
rice_exceptions = [0, 0]                   # RICE sequences with exceptions, and their exceptions in all
exceptions = collections.Counter()         # PACKED sequences with exceptions, by position size
largest_m_u16 = 0
per_series = collections.defaultdict(collections.Counter)
first_block = None
sizes = []
series_ids = {}


def float8_lt(a, b):            # PostgreSQL's float8 order: NaN above everything, -0 == 0
    fa, fb = f64(a), f64(b)
    if fa != fa:
        return False
    return fb != fb or fa < fb


def summary(ts, vals):
    """Section 7 over the decoded points, to compare with the stored summary columns."""
    mn = mx = vals[0]
    total = f64(vals[0])
    for v in vals[1:]:
        mn = mn if float8_lt(mn, v) else v
        mx = mx if float8_lt(v, mx) else v
        total += f64(v)
    lo, hi = min(ts), max(ts)
    first = vals[ts.index(lo)]
    last = vals[len(ts) - 1 - ts[::-1].index(hi)]
    return [lo, hi, len(ts), mn, mx, bits64(total), first, last]


for line in open(tmp + "/blocks"):
    sid, name, tsmin, tsmax, count, mn, mx, sm, fv, lv, data = line.rstrip("\n").split("|")
    series_ids[name] = sid
    block = bytes.fromhex(data)
    first_block = first_block or block
    trace = []
    try:
        ts, vals = decode_block(block, trace)
    except BlockError as e:
        bad += 1
        print("# %s block at %s: decoder rejects it: %s" % (name, tsmin, e))
        continue
    checked += 1
    sizes.append((len(block), len(ts)))
    columns = [t[1:] for t in trace if t[0] == "column"]
    top[columns[0][1]] += 1
    per_series[name][("/".join(SCHEMES[c[1]] for c in columns))] += 1
    for c in columns[1:]:
        nested[c[1]] += 1
    for c in columns:
        if c[1] in (2, 7):
            decimals[(c[1], c[2], c[3])] += 1
    for t in trace:
        if t[0] == "rice":
            rice_ks[t[2]] += 1                      # ("rice", m, k, x, L)
            rice_exceptions[0] += t[3] > 0
            rice_exceptions[1] += t[3]
        if t[0] == "packed" and t[3]:
            exceptions["u16" if t[1] <= 65536 else "u32"] += 1
            largest_m_u16 = max(largest_m_u16, t[1]) if t[1] <= 65536 else largest_m_u16
    server = points[(sid, tsmin)]
    if list(zip(ts, vals)) != server:
        bad += 1
        mism = next((i for i, (a, b) in enumerate(zip(zip(ts, vals), server)) if a != b), min(len(ts), len(server)))
        print("# %s block at %s: %d decoded points, %d from the server, first difference at %d: %s vs %s" % (
            name, tsmin, len(ts), len(server), mism, list(zip(ts, vals))[mism:mism + 1], server[mism:mism + 1]))
    stored = [hex_i64(tsmin), hex_i64(tsmax), int(count)] + [int(x, 16) for x in (mn, mx, sm, fv, lv)]
    mine = summary(ts, vals)
    same = mine == stored
    if not same:
        bad_summary += 1
        print("# %s block at %s: summary %s, stored %s" % (name, tsmin, [hex(x) for x in mine], [hex(x) for x in stored]))

ok(checked > 0 and bad == 0, "%d blocks (%d points, %d bytes) decoded by decode_block.py equal aegis.series_points bit for bit"
   % (checked, sum(n for _, n in sizes), sum(b for b, _ in sizes)))
# The scheme 6.4.1 added must be among them, or the comparison above says nothing about the server's Rice codes.
ok(top[7] + nested[7] > 0, "the server wrote decimal-rice (scheme 7) columns, decoded above: %d top-level, %d inner (%s)"
   % (top[7], nested[7], ", ".join("%s x%d" % kv for kv in sorted(per_series["walk_geometric"].items()))))
print("# top-level value schemes: " + ", ".join("%s %d" % (SCHEMES[s], c) for s, c in sorted(top.items())))
print("# inner value schemes:     " + ", ".join("%s %d" % (SCHEMES[s], c) for s, c in sorted(nested.items())))
print("# decimal columns (flags: 1 deltas, 2 float32, 4 corrections): " +
      ", ".join("%s flags %d e %d: %d" % (SCHEMES[sc], fl, e, c) for (sc, fl, e), c in sorted(decimals.items())))
print("# RICE sequences by k: " + ", ".join("k %d: %d" % kv for kv in sorted(rice_ks.items()))
      + "; %d of them with exceptions, %d exceptions in all" % tuple(rice_exceptions))
print("# PACKED sequences with exceptions: %d with u16 positions (largest m %d), %d with u32 positions"
      % (exceptions["u16"], largest_m_u16, exceptions["u32"]))
for name in sorted(per_series):
    print("#   %-20s %s" % (name, ", ".join("%s x%d" % kv for kv in sorted(per_series[name].items()))))
nan_points = [v for (sid, _), pts in sorted(points.items(), key=lambda kv: (kv[0][0], hex_i64(kv[0][1])))
              if sid == series_ids["nan_payloads"] for _, v in pts]
ok(nan_points == [int(l, 16) for l in open(tmp + "/nan.expected")],
   "NaN payloads (signalling, negative, 0xFFFFFFFFFFFFFFFF), -0.0, 5e-324 and infinity round-trip bit for bit (section 1)")
ok(bad_summary == 0, "the stored summaries (count, ts_min/max, min, max, sum, first, last) match section 7 over the decoded points")

# --- a flipped payload byte: the CRC catches it (check 10) -----------------------------------------------------
flipped = bytearray(first_block)
flipped[len(flipped) // 2 + 8] ^= 0x10
try:
    decode_block(bytes(flipped))
    ok(False, "decode_block.py rejects a block with one flipped payload byte")
except BlockError as e:
    ok(e.message == "time-series block checksum mismatch", "decode_block.py rejects a block with one flipped payload byte (%s)" % e)

# --- hand-made blocks, read by the server and by decode_block.py ----------------------------------------------
# The probe series has one block, starting at T0; it is replaced inside a transaction that is rolled back.
probe_sid = open(tmp + "/probe_series").read().strip()
T0 = 757382400000000                                   # 2024-01-01 00:00:00 UTC in microseconds since 2000


def server_read(block, n, ts_range):
    """Puts `block` in place of the probe series' only block (in a transaction rolled back) and reads the
    series back. ts_range is (ts_min, ts_max) for the block's row. Returns (points, None) or (None, the
    server's error line)."""
    sql = """\\set VERBOSITY verbose
BEGIN;
UPDATE aegis.blocks SET data = decode('%s', 'hex'), point_count = %d,
       ts_min = timestamptz '2000-01-01 00:00:00+00' + %d * interval '1 microsecond',
       ts_max = timestamptz '2000-01-01 00:00:00+00' + %d * interval '1 microsecond'
 WHERE series_id = %s;
SELECT encode(timestamptz_send(ts), 'hex') || '|' || encode(float8send(value), 'hex')
  FROM aegis.series_points(%s);
ROLLBACK;
""" % (block.hex(), n, ts_range[0], ts_range[1], probe_sid, probe_sid)
    res = subprocess.run(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-d", db], input=sql,
                         capture_output=True, text=True)
    if res.returncode != 0:
        # The server reports "corrupt block in series ..." with the reader's message and detail as DETAIL.
        err = [l for l in res.stderr.splitlines() if l.startswith("DETAIL:")] or res.stderr.strip().splitlines()
        return None, err[0].replace("DETAIL:", "").strip()
    rows = [l.split("|") for l in res.stdout.splitlines() if "|" in l]
    return [(hex_i64(a), int(b, 16)) for a, b in rows], None


def ts_range(points):
    return (min(t for t, _ in points), max(t for t, _ in points)) if points else (T0, T0)


def mine(block):
    try:
        ts, vals = decode_block(block)
        return list(zip(ts, vals)), None
    except BlockError as e:
        return None, e


# Payload builders (section 6).
def u8(x): return struct.pack("<B", x)
def u16(x): return struct.pack("<H", x)
def u32(x): return struct.pack("<I", x)
def u64(x): return struct.pack("<Q", x & MASK64)


def packed(ints, w=None, base=None, exc=(), slot_junk=0, high_junk=False, pos_size=None):
    """6.1 PACKED(m) of the given integers; `exc` are positions stored as exceptions."""
    m = len(ints)
    exc = sorted(exc)
    rest = [x for i, x in enumerate(ints) if i not in exc]
    base = min(rest) if base is None and rest else (base or 0)
    offs = [0 if i in exc else (x - base) & MASK64 for i, x in enumerate(ints)]
    if w is None:
        w = max([o.bit_length() for o in offs] + [0])
    number = 0
    for i, o in enumerate(offs):
        if i in exc:
            o = slot_junk & ((1 << w) - 1)
        number |= o << (i * w)
    nbytes = (m * w + 7) // 8
    if high_junk and (m * w) % 8:
        number |= 1 << (nbytes * 8 - 1)
    pos_size = pos_size or (2 if m <= 65536 else 4)
    out = u8(w) + u64(base) + u32(len(exc)) + number.to_bytes(nbytes, "little")
    out += b"".join(struct.pack("<H" if pos_size == 2 else "<I", p) for p in exc)
    out += b"".join(u64(ints[p]) for p in exc)
    return out


def ts_section(n, step=10 ** 6, first=T0):
    return u8(0) + u64(first) + (packed([step] * (n - 1)) if n > 1 else b"")


def block2(n, column, ts=None):
    return make_block(2, n, (ts if ts is not None else ts_section(n)) + column)


def raw(vals): return u8(0) + b"".join(u64(v) for v in vals)
def const(v): return u8(1) + u64(v)
def decimal(flags, e, body): return u8(2) + u8(flags) + u8(e) + body
def dictionary(d, inner, idx): return u8(3) + u32(d) + inner + idx
def runlength(r, inner, lens): return u8(4) + u32(r) + inner + lens
def split(s, inner, low): return u8(5) + u8(s) + inner + low
def xor_column(stream, length=None): return u8(6) + u32(len(stream) if length is None else length) + stream
def decimal_rice(flags, e, first, rice_seq, z=b""): return u8(7) + u8(flags) + u8(e) + u64(first) + rice_seq + z


def long_quotients(us, k):
    """The reference encoder's exceptions (6.4.1, non-normative): the u whose q = u >> k would be 32 or more."""
    return [i for i, u in enumerate(us) if u >> k >= 32]


def zz_diffs(digits):
    """6.4.1: u[i] = zigzag(digits[i] - digits[i-1]), modulo 2^64."""
    return [zigzag((b - a) & MASK64) for a, b in zip(digits, digits[1:])]


class BitWriter:
    def __init__(self):
        self.bits = []

    def put(self, value, width):
        self.bits.extend((value >> (width - 1 - i)) & 1 for i in range(width))

    def data(self, pad_bits=None):
        bits = self.bits + [0] * (-len(self.bits) % 8)
        if pad_bits is not None:
            bits = self.bits + pad_bits
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def xor_section(w, vals):
    """5.3 with the non-normative encoder rule."""
    w.put(vals[0], 64)
    leading, length = 0, 64
    for prev, v in zip(vals, vals[1:]):
        x = prev ^ v
        if x == 0:
            w.put(0, 1)
            continue
        lz = min(64 - x.bit_length(), 31)
        tz = (x & -x).bit_length() - 1
        ln = 64 - lz - tz
        trailing = 64 - leading - length
        if lz >= leading and tz >= trailing and length <= ln + 11:
            w.put(2, 2)
            w.put(x >> trailing, length)
        else:
            leading, length = lz, ln
            w.put(3, 2); w.put(lz, 5); w.put(ln - 1, 6); w.put(x >> tz, ln)


def xor_stream(vals):
    """6.5: a codec 1 value section, padded to a byte."""
    w = BitWriter()
    xor_section(w, vals)
    return w.data()


def codec1_payload(ts, vals):
    """Section 5, timestamps with the smallest bucket."""
    w = BitWriter()
    w.put(ts[0] & MASK64, 64)
    delta = 0
    for a, b in zip(ts, ts[1:]):
        d = (b - a) & MASK64
        z = zigzag((d - delta) & MASK64)
        delta = d
        for k, (width, lo) in enumerate(zip((0, 8, 16, 24, 40), (0, 1, 257, 65793, 16843009))):
            if lo <= z < lo + (1 << width) if k else z == 0:
                w.put(((1 << (k + 1)) - 2) if k else 0, k + 1)
                w.put(z - lo, width)
                break
        else:
            w.put(31, 5); w.put(z, 64)
    xor_section(w, vals)
    return w.data()


def f(x): return bits64(x)


probes = []   # (name, block, n, expect_reject_message or None)
add = lambda name, block, n, reject=None: probes.append((name, block, n, reject))
n = 12
V = [f(x) for x in (1.5, -2.25, 1e300, 0.1, float("inf"), float("nan"), -0.0, 5e-324, 3.0, 3.0, 3.0, 7.0)]

# Codec 1 (section 5): still readable; a 1000-point block and the 5.6 example's style of data.
c1_values = [f(round(20 + ((i * 7919) % 1000) / 100.0, 2)) for i in range(1000)]
c1_ts = [T0 + i * 10 ** 6 + (i % 7) * 13 for i in range(1000)]
add("codec 1, 1000 points", make_block(1, 1000, codec1_payload(c1_ts, c1_values)), 1000)
add("codec 1, specials and 64-bit XOR (0.1 then -0.3)", make_block(1, n, codec1_payload([T0 + i * 10 ** 6 for i in range(n)],
    V[:3] + [f(0.1), f(-0.3)] + V[5:])), n)
add("codec 1, escape bucket (dod beyond 40 bits)", make_block(1, 4, codec1_payload([T0, T0 + 10 ** 6, T0 + 10 ** 13, T0 + 10 ** 13 + 1], V[:4])), 4,)

# Schemes the encoder may not pick, and nesting up to depth 2.
add("raw column", block2(n, raw(V)), n)
add("constant column", block2(n, const(f(-7.5))), n)
add("dictionary D = m", block2(n, dictionary(n, raw(V), packed(list(range(n))))), n)
add("dictionary of a run-length of raw (depth 2)", block2(n, dictionary(3, runlength(2, raw([f(1.0), f(2.0)]), packed([2, 1])),
                                                                     packed([i % 3 for i in range(n)]))), n)
add("run-length of split of raw, split s = 63", block2(n, runlength(2, split(63, raw([1, 0]), packed([5, 1 << 62])), packed([5, 7]))), n)
add("split s = 1 of xor", block2(n, split(1, xor_column(xor_stream([v >> 1 for v in V])),
                                          packed([v & 1 for v in V]))), n)
add("split: low parts wider than s (masked), high parts shifted out (mod 2^64)",
    block2(4, split(4, raw([2 ** 63 + 1, 2 ** 60 + 3, 0, MASK64]), packed([0xFF, 0x1234, 2 ** 64 - 1, 0], w=64, base=0))), 4)
add("xor column", block2(n, xor_column(xor_stream(V))), n)
add("PACKED: w = 64, base wraps modulo 2^64", block2(n, raw(V), ts_section(n)[:9] + packed([10 ** 6] * (n - 1), w=64, base=2 ** 63)), n)
add("PACKED: exception slot offset not 0, unused high bits set (both ignored)",
    block2(n, u8(2) + u8(0) + u8(2) + packed([2345 + i for i in range(n)], w=5, exc=[3, 7], slot_junk=31, high_junk=True)), n)
add("PACKED: all m integers exceptions (k = m)", block2(n, raw(V), u8(0) + u64(T0) + packed([10 ** 6] * (n - 1), exc=range(n - 1))), n)
big = 65537
add("PACKED(65536) with u16 exception positions", block2(big, const(f(1.0)),
    u8(0) + u64(T0) + packed([10 ** 6] * (big - 1), exc=[0, 65535])), big)
big = 65538
add("PACKED(65537) with u32 exception positions", block2(big, const(f(1.0)),
    u8(0) + u64(T0) + packed([10 ** 6] * (big - 1), exc=[0, 65536])), big)
add("one point (n = 1: no timestamp PACKED), decimal without deltas", block2(1, decimal(0, 2, packed([2345]))), 1)
add("decimal float32 with deltas and corrections, e = 3",
    block2(n, decimal(7, 3, u64(12345) + packed([(-7) & MASK64, 3] * 5 + [1]) + packed([zigzag(-1 & MASK64), 5] * 6))), n)
add("decimal with deltas, corrections, e = 0", block2(n, decimal(5, 0, u64(5) + packed([3] * (n - 1)) + packed([0, 1, 2, 3] * 3))), n)

# Decimal-rice (6.4.1): the worked example, every k, exceptions (first, last, all, with junk in their slots,
# u16 and u32 positions), long quotients, k = 63 wrapping, float32 and corrections, m = 2, and as an inner
# column at depths 1 and 2.
D4 = [2345, 2347, 2344, 2350]
add("decimal-rice: 6.4.1's example (6.7's points, k = 2, low parts 04, quotient stream 8A)",
    block2(4, decimal_rice(1, 2, 2345, bytes.fromhex("02 00000000 04 01000000 8A"))), 4)
add("decimal-rice: m = 2, k = 0", block2(2, decimal_rice(1, 2, 2345, rice(zz_diffs(D4[:2]), 0))), 2)
add("decimal-rice: unused high bits of the low parts' last byte set (ignored, as in 6.1)",
    block2(4, decimal_rice(1, 2, 2345, rice(zz_diffs(D4), 2, low_junk=True))), 4)
add("decimal-rice: the last one bit is bit 0 of the last byte (7 zero bits after it)",
    block2(4, decimal_rice(1, 0, 0, rice([1, 0, 5], 0))), 4)
walk = [100000]
for i in range(299):
    walk.append(walk[-1] + (((i * 7919) % 13) - 6) * (1 + (i % 17 == 0) * 997))
wu = zz_diffs(walk)
for k in (0, 1, 3, 5, 10, 31, 32, 62, 63):
    add("decimal-rice: a 300-point walk with jumps, k = %d, the encoder's exceptions (%d)" % (k, len(long_quotients(wu, k))),
        block2(300, decimal_rice(1, 3, walk[0], rice(wu, k, exc=long_quotients(wu, k)))), 300)
add("decimal-rice: every integer an exception (x = m), slots 0",
    block2(300, decimal_rice(1, 3, walk[0], rice(wu, 4, exc=range(299)))), 300)
add("decimal-rice: every integer an exception, junk in every slot (q = 5, low = 9: ignored)",
    block2(300, decimal_rice(1, 3, walk[0], rice(wu, 4, exc=range(299), slot=(5, 9)))), 300)
add("decimal-rice: exceptions at the first and last positions and of small u, junk in their slots",
    block2(300, decimal_rice(1, 3, walk[0], rice(wu, 2, exc=sorted(set(long_quotients(wu, 2)) | {0, 1, 150, 298}),
                                                 slot=(40, 3)))), 300)
add("decimal-rice: long quotients (walk with k = 0 and no exceptions: q up to %d)" % max(wu),
    block2(300, decimal_rice(1, 3, walk[0], rice(wu, 0))), 300)
add("decimal-rice: quotients of 0, 31, 32, 40 and 70000 zero bits",
    block2(6, decimal_rice(1, 0, 0, rice([2, 31 * 4 + 3, 32 * 4, 40 * 4 + 1, 70000 * 4 + 2], 2))), 6)
add("decimal-rice: exceptions of differences 2^51 - 1, -(2^52 - 1), 2^51 (digits 0 -> 2^51 - 1 -> -2^51 -> 0)",
    block2(4, decimal_rice(1, 0, 0, rice(zz_diffs([0, 2 ** 51 - 1, -(2 ** 51), 0]), 0, exc=[0, 1, 2]))), 4)
# k = 63: q * 2^63 wraps modulo 2^64; q = 2 and 4 give 0, so u is the low part alone (6.4.1: "modulo 2^64").
add("decimal-rice: k = 63, q = 2 and q = 4 (q * 2^k wraps modulo 2^64)",
    block2(3, decimal_rice(1, 1, 1000, rice([(2, 5), (4, 6)], 63))), 3)
add("decimal-rice: k = 63, q = 1000 and q = 1002 (wrapping to 0 too; an odd q would leave the digits' range)",
    block2(3, decimal_rice(1, 1, 1000, rice([(1000, 7), (1002, 0)], 63))), 3)
add("decimal-rice: float32 with corrections, e = 3",
    block2(n, decimal_rice(7, 3, 12345, rice([zigzag(-7 & MASK64), 6] * 5 + [2], 2), packed([zigzag(-1 & MASK64), 5] * 6))), n)
add("decimal-rice: corrections making NaN, -0.0 and infinity", block2(4, decimal_rice(5, 2, 2345, rice(zz_diffs(D4), 2),
    packed([zigzag((f(float("nan")) - f(23.45)) & MASK64), zigzag((f(-0.0) - f(23.47)) & MASK64),
            zigzag((f(float("inf")) - f(23.44)) & MASK64), 0]))), 4)
add("decimal-rice: digits at -2^51 and 2^51 - 1", block2(3, decimal_rice(1, 18, (-(2 ** 51)) & MASK64,
    rice([zigzag(2 ** 52 - 1), zigzag((-(2 ** 52) + 1) & MASK64)], 40))), 3)
for big in (65537, 65538):              # RICE(65536): u16 positions; RICE(65537): u32 positions
    bu = [zigzag((-3, 1, 5, -3)[i % 4] & MASK64) for i in range(big - 1)]
    bu[0], bu[-1] = zigzag(2 ** 50), zigzag(-(2 ** 45) & MASK64)
    add("decimal-rice: RICE(%d), %s exception positions" % (big - 1, "u16" if big - 1 <= 65536 else "u32"),
        block2(big, decimal_rice(1, 0, 0, rice(bu, 1, exc=[0, 7, big - 2], slot=(1, 1)))), big)
add("decimal-rice inside a dictionary (depth 1)", block2(n, dictionary(4, decimal_rice(1, 2, 2345, rice(zz_diffs(D4), 2)),
                                                                     packed([i % 4 for i in range(n)]))), n)
add("decimal-rice inside a run-length inside a dictionary (depth 2)",
    block2(n, dictionary(3, runlength(2, decimal_rice(1, 1, 15, rice([zigzag(-5 & MASK64)], 1, exc=[0])), packed([2, 1])),
                         packed([i % 3 for i in range(n)]))), n)
add("decimal-rice as split's high parts", block2(4, split(8, decimal_rice(1, 0, 1, rice([2, 2, 2], 1)), packed([1, 2, 3, 4]))), 4)

P_ = "corrupt time-series block payload"
H_ = "corrupt time-series block header"
# Decimal digits outside -2^51 <= G < 2^51 (x would be infinite, NaN, huge or fractional): a 6.9 rule.
MAGIC = 0x4338000000000000
odd_x = [(p - MAGIC) & MASK64 for p in (0x7FF0000000000000, 0xFFF0000000000000, 0x7FF4000000000001,
                                        0xFFF8000000000123, 0x7FEFFFFFFFFFFFFF, 0x0000000000000000,
                                        0x8000000000000001, 0x47EFFFFFE0000000, 0x47EFFFFFF0000000,
                                        0x3FF0000000000001)] + [2 ** 51 + 1, (-(2 ** 52) - 1) & MASK64]
for e in (0, 1, 2, 7, 18):
    add("decimal digits not below 2^51 (inf, NaN, huge, tiny x), e = %d" % e,
        block2(len(odd_x), decimal(0, e, packed(odd_x, w=64, base=0))), len(odd_x), P_)
for e in (0, 3, 10):
    add("decimal float32 digits not below 2^51 (overflow, NaN, tiny x), e = %d" % e,
        block2(len(odd_x), decimal(2, e, packed(odd_x, w=64, base=0))), len(odd_x), P_)
# float32: x rounding to binary32 at ties, the division's rounding.
f32_digits = [16777217, 16777219, 33554435, 123456789, 2 ** 50 + 2 ** 26, 1, 7, 999999999]
for e in (0, 1, 7, 10):
    add("decimal float32 rounding, e = %d" % e, block2(len(f32_digits), decimal(2, e, packed(f32_digits))), len(f32_digits))

# One block breaking each rule (sections 4 and 6.9); the server and the decoder must both reject it.
good = block2(n, raw(V))
def with_payload(codec, n, payload): return make_block(codec, n, payload)
def reheader(blk, **kw):
    b = bytearray(blk)
    for off, val in kw.get("bytes", []):
        b[off] = val
    return bytes(b)
def recrc(b):
    b = bytearray(b)
    b[12:16] = u32(crc32c(bytes(b[16:]), crc32c(bytes(b[:12]))))
    return bytes(b)
add("empty block (check 1)", b"", n, "truncated time-series block")
add("1 byte, version 1 (check 4: no codec byte to check)", b"\x01", n, "truncated time-series block")
add("2 bytes, codec 3 (check 3 before the length check 4)", b"\x01\x03", n, "unknown time-series block codec 3")
add("format version 2 (check 2)", recrc(reheader(good, bytes=[(0, 2)])), n, "unsupported time-series block format version 2")
add("codec 3 (check 3)", recrc(reheader(good, bytes=[(1, 3)])), n, "unknown time-series block codec 3")
add("15 bytes (check 4)", good[:15], n, "truncated time-series block")
add("reserved byte set (check 5)", recrc(reheader(good, bytes=[(3, 1)])), n, H_)
add("n = 0 (check 6)", recrc(good[:4] + u32(0) + good[8:]), n, H_)
add("n = 1,000,001 (check 6)", recrc(good[:4] + u32(1000001) + good[8:]), n, H_)
add("one byte short (check 7)", good[:-1], n, "truncated time-series block")
add("one byte extra (check 8)", good + b"\0", n, "trailing bytes after time-series block")
add("codec 2, P = 9 (check 9)", make_block(2, 1, u8(0) + u64(T0)), 1, H_)
add("codec 1, P too small for n (check 9)", make_block(1, 1000, bytes(30)), 1000, H_)
add("checksum mismatch (check 10)", good[:-3] + bytes([good[-3] ^ 1]) + good[-2:], n, "time-series block checksum mismatch")
c1 = codec1_payload([T0 + i * 10 ** 6 for i in range(n)], V)
w_ = BitWriter(); w_.put(T0, 64); w_.put(0, 1); w_.put(f(1.0), 64); w_.put(3, 2); w_.put(0, 5)   # 136 bits, L cut
add("codec 1: stream ends early (check 11)", make_block(1, 2, w_.data()), 2, P_)
w_ = BitWriter(); w_.put(T0, 64); w_.put(0b110, 3); w_.put(1000000 * 2 - 257, 16); w_.put(1, 64); w_.put(3, 2); w_.put(20, 5); w_.put(50, 6); w_.put(1, 51)
add("codec 1: window leading + length > 64 (check 12)", make_block(1, 2, w_.data()), 2, P_)
add("codec 1: 8 bits after the last value (check 13)", make_block(1, n, c1 + b"\0"), n, P_)
w_ = BitWriter(); w_.put(T0, 64); w_.put(0, 1); w_.put(f(1.0), 64); w_.put(0, 1)     # 130 bits, 6 padding bits
add("codec 1: padding bit 1 (check 14)", make_block(1, 2, w_.data(pad_bits=[0, 0, 0, 0, 0, 1])), 2, P_)
add("bytes after the value column", block2(n, raw(V) + b"\0"), n, P_)
add("truncated payload field", block2(n, raw(V)[:-1]), n, P_)
add("timestamp scheme 1", block2(n, raw(V), u8(1) + ts_section(n)[1:]), n, P_)
add("value scheme 8", block2(n, u8(8) + bytes(16)), n, P_)
add("value scheme 255", block2(n, u8(255) + bytes(16)), n, P_)
add("nesting scheme at depth 2", block2(n, runlength(1, runlength(1, runlength(1, const(1), packed([1])), packed([1])), packed([n]))), n, P_)
add("w = 65", block2(n, raw(V), u8(0) + u64(T0) + u8(65) + u64(0) + u32(0) + bytes((65 * (n - 1) + 7) // 8)), n, P_)
add("k > m", block2(n, raw(V), u8(0) + u64(T0) + u8(0) + u64(10 ** 6) + u32(n) + bytes(2 * n + 8 * n)), n, P_)
add("exception positions not rising", block2(n, raw(V), u8(0) + u64(T0) + u8(0) + u64(10 ** 6) + u32(2) + u16(3) + u16(3) + u64(10 ** 6) * 2), n, P_)
add("exception position >= m", block2(n, raw(V), u8(0) + u64(T0) + u8(0) + u64(10 ** 6) + u32(1) + u16(n - 1) + u64(10 ** 6)), n, P_)
add("decimal flag bit 3", block2(n, decimal(8, 2, packed([1] * n))), n, P_)
add("decimal e = 19", block2(n, decimal(0, 19, packed([1] * n))), n, P_)
add("decimal float32 e = 11", block2(n, decimal(2, 11, packed([1] * n))), n, P_)
add("decimal deltas with m = 1", block2(1, decimal(1, 2, u64(1) + packed([]))), 1, P_)
# Decimal-rice (6.4.1), each rule of 6.9 for it, around 6.7's points (u = 4, 5, 12, k = 2: low parts 04,
# quotient stream 8A).
ex = rice([4, 5, 12], 2)
assert ex == bytes.fromhex("02 00000000 04 01000000 8A")
add("decimal-rice with m = 1", block2(1, decimal_rice(1, 2, 2345, rice([], 2))), 1, P_)
add("decimal-rice with m = 1, no deltas", block2(1, decimal_rice(0, 2, 2345, rice([], 2))), 1, P_)
for flags in (0, 2, 4, 6):
    add("decimal-rice without the deltas flag, flags %d" % flags, block2(4, decimal_rice(flags, 2, 2345, ex)), 4, P_)
for flags in (1 | 8, 1 | 16, 1 | 128, 255):
    add("decimal-rice flag bits 3-7 set, flags 0x%02x" % flags, block2(4, decimal_rice(flags, 2, 2345, ex)), 4, P_)
add("decimal-rice e = 19", block2(4, decimal_rice(1, 19, 2345, ex)), 4, P_)
add("decimal-rice float32 e = 11", block2(4, decimal_rice(3, 11, 2345, ex)), 4, P_)
add("decimal-rice digits[0] = 2^51", block2(4, decimal_rice(1, 2, 2 ** 51, rice([0, 0, 0], 0))), 4, P_)
add("decimal-rice digits[0] = -2^51 - 1", block2(4, decimal_rice(1, 2, -(2 ** 51) - 1, rice([0, 0, 0], 0))), 4, P_)
add("decimal-rice digits leaving the range by a difference", block2(4, decimal_rice(1, 2, 2 ** 51 - 2, rice([2, 2, 0], 0))), 4, P_)
add("decimal-rice digits leaving the range by a wrapping exception value",
    block2(4, decimal_rice(1, 2, 0, rice([MASK64, 0, 0], 0, exc=[0]))), 4, P_)
add("decimal-rice digits leaving the range by a k = 63 code", block2(3, decimal_rice(1, 2, 0, rice([(1, 0), (1, 0)], 63))), 3, P_)
for k in (64, 65, 255):
    add("decimal-rice Rice k = %d" % k, block2(4, decimal_rice(1, 2, 2345, u8(k) + ex[1:])), 4, P_)
add("decimal-rice x = m + 1 exceptions (bytes for 4 positions and values present)",
    block2(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, exc=[0, 1, 2], x=4) + u16(2) + u64(0))), 4, P_)
add("decimal-rice x = 2^32 - 1", block2(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, x=2 ** 32 - 1))), 4, P_)
add("decimal-rice: the payload ends inside the low parts", block2(4, decimal_rice(1, 2, 2345, u8(8) + u32(0) + b"\x04\x01")), 4, P_)
add("decimal-rice: the payload ends before L", block2(4, decimal_rice(1, 2, 2345, ex[:7])), 4, P_)
add("decimal-rice L one byte past the payload", block2(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, length=2))), 4, P_)
add("decimal-rice L = 2^32 - 1", block2(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, length=2 ** 32 - 1))), 4, P_)
add("decimal-rice L past the payload, corrections after it", block2(4, decimal_rice(5, 2, 2345, rice([4, 5, 12], 2, length=40),
                                                                                    packed([0, 0, 0, 0]))), 4, P_)
for stream, why in ((b"", "L = 0"), (b"\x0a", "2 one bits"), (b"\x00\x0a", "2 one bits in 2 bytes"),
                    (b"\x8b", "4 one bits"), (b"\x8a\x01", "4 one bits in 2 bytes"), (b"\xff", "8 one bits"),
                    (b"\x00", "no one bit"), (b"\x00\x00\x00", "three zero bytes"),
                    (b"\x8a\x00", "3 one bits, the last byte 0"), (b"\x8a\x00\x00", "3 one bits, two zero bytes after them")):
    add("decimal-rice: quotient stream %s (%s)" % (stream.hex() or "empty", why),
        block2(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, stream=stream))), 4, P_)
add("decimal-rice: the quotient stream without an exception's one bit (m - 1 one bits)",
    block2(4, decimal_rice(1, 0, 5, rice([2, 3, 2 ** 40], 0, exc=[2], stream=b"\x0c"))), 4, P_)
add("decimal-rice: a zero byte after a 40-zero-bit quotient", block2(3, decimal_rice(1, 0, 5, rice([40, 1], 0, tail=b"\0"))), 3, P_)
for positions, why in (([1, 1], "equal"), ([2, 1], "falling"), ([0, 3], "= m"), ([0, 65535], "65,535 >= m")):
    add("decimal-rice: exception positions %s (%s)" % (positions, why),
        block2(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, exc=[0, 2], positions=positions))), 4, P_)
with_exc = rice([4, 5, 12], 2, exc=[1])
for cut, why in ((1, "a value byte"), (8, "the value"), (9, "the value and a position byte"), (10, "position and value")):
    add("decimal-rice: exception fields cut (%s)" % why, block2(4, decimal_rice(1, 2, 2345, with_exc[:-cut])), 4, P_)
bu = [zigzag((-3, 1, 5, -3)[i % 4] & MASK64) for i in range(65536)] + [4]
add("decimal-rice: RICE(65537) with u16 positions (u32 required)",
    block2(65538, decimal_rice(1, 0, 0, rice(bu, 1, exc=[3], pos_size=2))), 65538, P_)
add("decimal-rice: RICE(65536) with u32 positions (u16 required)",
    block2(65537, decimal_rice(1, 0, 0, rice(bu[:65536], 1, exc=[3], pos_size=4))), 65537, P_)
add("decimal-rice: corrections missing", block2(4, decimal_rice(5, 2, 2345, ex)), 4, P_)
add("decimal-rice: a byte after the column", block2(4, decimal_rice(1, 2, 2345, ex) + b"\0"), 4, P_)
add("decimal-rice: digits[0] cut", block2(4, u8(7) + u8(1) + u8(2) + u64(2345)[:5]), 4, P_)
add("decimal-rice: x cut", block2(4, u8(7) + u8(1) + u8(2) + u64(2345) + u8(2) + b"\x00\x00"), 4, P_)
add("decimal-rice inside a dictionary, k = 64", block2(n, dictionary(4, decimal_rice(1, 2, 2345, u8(64) + ex[1:]),
                                                                   packed([i % 4 for i in range(n)]))), n, P_)
add("decimal-rice inside a dictionary, quotient stream with a zero last byte",
    block2(n, dictionary(4, decimal_rice(1, 2, 2345, rice([4, 5, 12], 2, tail=b"\0")), packed([i % 4 for i in range(n)]))), n, P_)
add("dictionary D = 0", block2(n, dictionary(0, raw([]), packed([0] * n))), n, P_)
add("dictionary D > m", block2(2, dictionary(3, raw(V[:3]), packed([0, 1]))), 2, P_)
add("dictionary index >= D", block2(n, dictionary(2, raw(V[:2]), packed([0] * (n - 1) + [2]))), n, P_)
add("dictionary index >= 2^32 (64-bit index)", block2(n, dictionary(2, raw(V[:2]), packed([0] * (n - 1) + [2 ** 32]))), n, P_)
add("run-length 0 runs", block2(n, runlength(0, raw([]), packed([]))), n, P_)
add("run-length r > m", block2(2, runlength(3, raw(V[:3]), packed([1, 1, 0]))), 2, P_)
add("run length 0", block2(n, runlength(2, raw(V[:2]), packed([n, 0]))), n, P_)
add("run length > m", block2(n, runlength(2, raw(V[:2]), packed([n + 1, 2 ** 64 - 1]))), n, P_)
add("run lengths not summing to m", block2(n, runlength(2, raw(V[:2]), packed([5, 5]))), n, P_)
add("split s = 0", block2(n, split(0, raw(V), packed([0] * n))), n, P_)
add("split s = 64", block2(n, split(64, raw(V), packed([0] * n))), n, P_)
xs = xor_stream(V)
add("xor stream ends early", block2(n + 20, xor_column(xs), ts_section(n + 20)), n + 20, P_)
add("xor 8 bits left", block2(n, xor_column(xs + b"\0")), n, P_)
add("xor L past the payload", block2(n, xor_column(xs, len(xs) + 1)), n, P_)
w_ = BitWriter(); w_.put(1, 64); w_.put(3, 2); w_.put(31, 5); w_.put(33, 6); w_.put(1, 34)
add("xor window leading + length > 64", block2(2, xor_column(w_.data())), 2, P_)
w_ = BitWriter(); w_.put(1, 64); w_.put(0, 1)
add("xor non-zero padding bit", block2(2, xor_column(w_.data(pad_bits=[0, 0, 0, 0, 0, 0, 1]))), 2, P_)

agree = disagree = 0
for name, block, n_, reject in probes:
    dec, dec_err = mine(block)
    srv, srv_err = server_read(block, n_, ts_range(dec))
    if reject is None:
        if srv is not None and dec == srv:
            agree += 1
            continue
        disagree += 1
        if srv is None:
            print("# %s: server error %s, decoder %s" % (name, srv_err, dec_err or "decodes it"))
        elif dec is None:
            print("# %s: decoder error %s, server returns %d points" % (name, dec_err, len(srv)))
        else:
            diffs = [(i, "%x" % a[1], "%x" % b[1]) for i, (a, b) in enumerate(zip(dec, srv)) if a != b]
            print("# %s: %d points differ (index, decoder, server): %s%s" % (
                name, len(diffs) + abs(len(dec) - len(srv)), diffs[:6], "" if len(dec) == len(srv) else " lengths %d/%d" % (len(dec), len(srv))))
    else:
        srv_msg = srv_err.split(": ")[0] if srv is None else None
        if srv is None and dec is None and dec_err.message == reject and srv_msg == reject:
            agree += 1
            continue
        disagree += 1
        print("# %s: expected '%s'; server: %s; decoder: %s" % (name, reject, srv_err or "accepts it (%d points)" % len(srv),
                                                              dec_err or "accepts it"))
ok(disagree == 0, "%d hand-made blocks (edge cases and one per rule of sections 4 and 6.9): server and decoder agree on %d"
   % (len(probes), agree))

# Random mutations of real blocks (payload bytes changed, inserted or deleted, then P and the CRC fixed up so
# that the payload rules are what is tested): server and decoder accept the same blocks with the same points,
# and reject the others with the same message.
import random
rnd = random.Random(20240101)
seeds = [bytes.fromhex(l.rstrip("\n").split("|")[-1]) for l in open(tmp + "/blocks")]
seeds = [b for b in seeds if struct.unpack_from("<I", b, 4)[0] <= 1000]
fuzz = collections.Counter()
for _ in range(200):
    b = bytearray(rnd.choice(seeds))
    for _ in range(rnd.choice([1, 1, 2, 3])):
        i, op = rnd.randrange(16, len(b)), rnd.random()
        if op < 0.6:
            b[i] = rnd.randrange(256)
        elif op < 0.8:
            b[i] ^= 1 << rnd.randrange(8)
        elif op < 0.9:
            del b[i:i + rnd.randrange(1, 4)]
        else:
            b[i:i] = bytes([rnd.randrange(256)])
    b[8:12] = u32(len(b) - 16)
    b = recrc(bytes(b))
    dec, dec_err = mine(b)
    if dec is not None and any(t2 <= t1 for (t1, _), (t2, _) in zip(dec, dec[1:])):
        fuzz["decoded, timestamps not increasing (not compared)"] += 1
        continue
    srv, srv_err = server_read(b, struct.unpack_from("<I", b, 4)[0], ts_range(dec))
    if dec is not None and srv == dec:
        fuzz["both decode, same points"] += 1
    elif dec is None and srv is None and srv_err.split(": ")[0] == dec_err.message:
        fuzz["both reject: " + dec_err.message] += 1
    else:
        fuzz["DISAGREE"] += 1
        print("# mutant %s: server %s, decoder %s" % (b.hex()[:64], srv_err or "%d points" % len(srv),
                                                   dec_err or "%d points" % len(dec)))
ok(fuzz["DISAGREE"] == 0, "200 mutated blocks: server and decoder agree (%s)"
   % ", ".join("%s %d" % kv for kv in sorted(fuzz.items())))

# The server rejects the CRC-flipped block too.
srv, srv_err = server_read(bytes(flipped), struct.unpack_from("<I", flipped, 4)[0], (T0, T0))
ok(srv is None and "checksum mismatch" in (srv_err or ""), "the server rejects the same flipped block: %s" % srv_err)
sys.exit(1 if failures else 0)
PY
rc=$?
set -e
psql -X -q -d postgres -c "DROP DATABASE $db"
echo "# run time $(( $(date +%s) - started )) s"
exit $rc
