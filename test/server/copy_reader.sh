#!/usr/bin/env bash
# COPY aegis.points FROM STDIN, FORMAT csv and FORMAT text, is read by the
# extension's own reader (CopyDataReader, src/pg/points_copy.cpp).
# Differential test against PostgreSQL's reader, over 300 generated documents
# in turn CSV and text:
#   CSV: valid rows and mutations: stray and doubled quotes, delimiters, CR and
#     CRLF line ends, missing and extra fields, empty fields, bytes that are
#     not UTF-8, \. lines, rows the extension refuses;
#   text: backslash escapes of every kind (\t, \\, \N, octal and hex bytes,
#     some not UTF-8 or NUL, a backslash before any other character or a line
#     end), \. at a line's start, inside it and at the end of the data, stray
#     backslashes, tabs and line ends, the same bad rows;
#   and long documents of valid rows in both formats (psql sends them in
#   messages of about 8 kB, so the reader resumes records cut anywhere).
# Each document is loaded
#   1. by PostgreSQL's COPY into a table of four text columns;
#   2. when that worked, by INSERT INTO aegis.points SELECT the casts of those
#      columns (the wrapper's row path, which does not use the reader);
#   3. by COPY aegis.points.
# COPY must fail where 1 or 2 failed, succeed where both worked, and then
# hold exactly the rows 2 wrote. The backend must survive every document.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
db=aegis_copy_reader
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

# Where the server log stands now: a backend that crashes on a document is
# found there afterwards (a crash could hide behind a document both sides
# refuse, and the server is back by the end).
log="$AEGIS_CLUSTER_DIR/server.log"
log_start=$(stat -c %s "$log" 2>/dev/null || echo 0)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION aegis_timeseries;
CREATE TABLE raw_fields (metric text, tags text, ts text, value text, line bigserial);
CREATE TABLE expected (metric text, tags jsonb, ts timestamptz, value double precision);
SQL

python3 - "$tmp" "$db" 300 <<'PY'
import os, random, subprocess, sys
tmp, db, cases = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(20261203)

# Per format: (valid choices, all choices) of each field as written, the
# delimiter, and the bytes a mutation inserts. Metrics start with fz so that
# the checks find them.
FORMATS = {
    'csv': dict(
        metrics=(['fz_a', 'fz_b', '"fz_c"'], ['fz,d', 'fz e', '', '"fz""f"']),
        tags=(['"{""h"": ""1""}"', '{}', '"{""h"": ""a,b""}"', '"{""a"": ""1"", ""b"": ""2""}"'],
              ['"{""h"": 1}"', '"{"', '"{""h"": ""x""""y""}"', '""']),
        stamps=(['2024-01-01 00:00:0%d+00', '"2024-01-01T00:00:0%dZ"', '2024-01-01 00:00:0%d',
                 '2024-01-01 00:00:0%d.5+05:30'], ['infinity', 'junk', '']),
        values=(['1', '2.5', ' 3', 'NaN', '"4"', '-0', '1e-320', 'Infinity'], ['', 'x', '1e999', '0x10']),
        loadable=['fz_a', 'fz_b', '"fz_c"'],
        delim=',',
        mutations=[b'"', b'""', b',', b'\r', b'\n', b'\xff', b'\xc3', b'\\.\n', b'\xc3\xa9', b';']),
    'text': dict(
        metrics=(['fz_a', 'fz_b', r'fz\tc', r'fz\\d', r'fz\x41', r'fz\101e', r'fz\q', r'fz\x'],
                 ['', r'\N', r'fz\3779', r'fz\0', r'fz\.x']),
        tags=(['{"h": "1"}', '{}', r'{"h": "\\u00e9"}', r'{"h": "\xc3\xa9"}', '{"a": "1", "b": "2"}'],
              ['{"h": 1}', '{', r'\N', r'{"h": "\377"}', r'{"h": "a\tb"}', r'{"h": "\0"}']),
        stamps=(['2024-01-01 00:00:0%d+00', '2024-01-01T00:00:0%dZ', '2024-01-01 00:00:0%d',
                 '2024-01-01 00:00:0%d.5+05:30', r'2024-01-01\040\060\060:00:0%d'],
                ['infinity', 'junk', '', r'\N', r'2024-01-01\t00:00:0%d']),
        values=(['1', '2.5', ' 3', 'NaN', r'\x31', '-0', '1e-320', 'Infinity', r'\0614'],
                ['', 'x', '1e999', '0x10', r'\N', '\\']),
        loadable=['fz_a', r'fz\x41', r'fz\101e', r'fz\q', r'fz\x'],
        delim='\t',
        mutations=[b'\t', b'\\', b'\\.\n', b'\\.', b'\r', b'\n', b'\xff', b'\xc3', b'\\\n', b'\\\r\n', b'\\N',
                   b'\\.\r\n', b'\\\\']),
}


def psql(*commands):
    """Runs the commands in one psql; True when all worked (psql's \\copy sets no ERROR variable, so a
    failed \\copy is seen through ON_ERROR_STOP's exit status)."""
    args = ['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db]
    for c in commands:
        args += ['-c', c]
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode == 0, r.stdout.strip()


def draw(choices, p_valid):
    valid, other = choices
    return rng.choice(valid) if rng.random() < p_valid else rng.choice(valid + other)


bad = []
counts = {'copied': 0, 'refused': 0, 'rows': 0, 'csv': 0, 'text': 0}
for case in range(cases):
    # CSV and text in turn; half the documents of each are made of valid rows,
    # with one mutation or none; the others draw every field from the full
    # lists.
    fmt = 'csv' if case % 2 == 0 else 'text'
    f = FORMATS[fmt]
    clean = case % 4 < 2
    p_valid = 0.99 if clean else 0.75
    eol = rng.choice(['\n', '\n', '\n', '\r\n', '\r'])
    rows = []
    # Every tenth document of each format is long (psql sends a file in
    # messages of about 8 kB, so records, escapes and line ends are cut
    # between messages at many places), with valid rows only.
    big = case % 20 in (4, 5)
    if big:
        p_valid = 1.0
    for i in range(rng.randint(1500, 3000) if big else rng.randint(1, 6)):
        ts = draw(f['stamps'], p_valid)
        if '%d' in ts:
            ts = ts % (i % 10)
        metric = rng.choice(f['loadable']) if big else draw(f['metrics'], p_valid)
        fields = [metric, draw(f['tags'], p_valid), ts, draw(f['values'], p_valid)]
        if not big and rng.random() < (0.01 if clean else 0.1):
            fields.append('extra')
        if not big and rng.random() < (0.01 if clean else 0.1):
            fields.pop()
        rows.append(f['delim'].join(fields))
    doc = bytearray((eol.join(rows) + (eol if big or rng.random() < 0.9 else '')).encode())
    for _ in range(0 if big else rng.choice([0, 0, 1] if clean else [0, 1, 2])):
        at = rng.randrange(len(doc) + 1)
        doc[at:at] = rng.choice(f['mutations'])
    if big and fmt == 'text' and rng.random() < 0.5:
        doc[-len(eol.encode()):] = b'\\.' + eol.encode() + b'\xff not read' + eol.encode()
    if not big and rng.random() < 0.05 and len(doc) > 3:
        del doc[rng.randrange(len(doc))]
    path = os.path.join(tmp, 'case%d.%s' % (case, fmt))
    with open(path, 'wb') as out:
        out.write(bytes(doc))
    os.chmod(path, 0o644)
    read_ok, _ = psql('TRUNCATE raw_fields, expected',
                      "\\copy raw_fields (metric, tags, ts, value) FROM '%s' WITH (FORMAT %s)" % (path, fmt))
    insert_ok = read_ok and psql(
        # In the file's order (the heap need not keep it), so that of points
        # written twice the last one wins as in COPY.
        'INSERT INTO aegis.points SELECT metric, tags::jsonb, ts::timestamptz, value::float8 FROM raw_fields '
        'ORDER BY line',
        "INSERT INTO expected SELECT * FROM aegis.points WHERE metric LIKE 'fz%'",
        "DELETE FROM aegis.points WHERE metric LIKE 'fz%'")[0]
    copy_ok, compared = psql(
        "\\copy aegis.points FROM '%s' WITH (FORMAT %s)" % (path, fmt),
        "SELECT (SELECT count(*) FROM (SELECT * FROM aegis.points WHERE metric LIKE 'fz%' EXCEPT "
        "SELECT * FROM expected) a) || ' ' || (SELECT count(*) FROM (SELECT * FROM expected EXCEPT "
        "SELECT * FROM aegis.points WHERE metric LIKE 'fz%') b) || ' ' || (SELECT count(*) FROM expected)",
        "DELETE FROM aegis.points WHERE metric LIKE 'fz%'")
    if not copy_ok:
        compared = '0 0 0'
    extra, missing, n = compared.split('\n')[0].split()
    should_work = read_ok and insert_ok
    if should_work != copy_ok:
        bad.append('case %d (%s): PostgreSQL %s, COPY aegis.points %s' % (
            case, fmt, 'read it' if should_work else 'refused it', 'worked' if copy_ok else 'failed'))
    elif copy_ok and (extra != '0' or missing != '0'):
        bad.append('case %d (%s): %s rows the row path did not write, %s missing' % (case, fmt, extra, missing))
    counts['copied' if should_work else 'refused'] += 1
    counts[fmt] += 1 if should_work else 0
    counts['rows'] += int(n)
if not psql('SELECT 1')[0]:
    print('not ok - the server does not answer after the documents')
    sys.exit(1)
for b in bad:
    print('#', b)
print('%s - %d CSV and text documents: COPY aegis.points agrees with PostgreSQL\'s reader and the row path '
      '(%d loaded: %d CSV, %d text; %d rows; %d refused)' % (
          'not ok' if bad else 'ok', cases, counts['copied'], counts['csv'], counts['text'], counts['rows'],
          counts['refused']))
sys.exit(1 if bad else 0)
PY
crashes=$(tail -c +$((log_start + 1)) "$log" 2>/dev/null |
          grep -E "PANIC|TRAP:|terminated by signal|server process .* was terminated" | head -n 3 || true)
if [ -n "$crashes" ]; then
  echo "$crashes"
  echo "not ok - the server log shows a crashed backend while the documents were loaded"
  exit 1
fi
echo "ok - no backend crashed while the documents were loaded (server log)"
psql -X -q -d postgres -c "DROP DATABASE $db"
