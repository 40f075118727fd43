#!/usr/bin/env bash
# COPY aegis.points FROM STDIN (FORMAT csv) is read by the extension's own CSV
# reader (src/pg/points_copy.cpp). Differential test against PostgreSQL's
# reader: for 200 generated CSV documents (valid rows and mutations: stray and
# doubled quotes, delimiters, CR and CRLF line ends, missing and extra fields,
# empty fields, bytes that are not UTF-8, \. lines, rows the extension
# refuses), each is loaded
#   1. by PostgreSQL's COPY into a table of four text columns;
#   2. when that worked, by INSERT INTO aegis.points SELECT the casts of those
#      columns (the wrapper's row path, which does not use the CSV reader);
#   3. by COPY aegis.points.
# COPY must fail where 1 or 2 failed, succeed where both worked, and then
# hold exactly the rows 2 wrote. The backend must survive every document.
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
db=aegis_copy_csv
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE EXTENSION aegis_timeseries;
CREATE TABLE csv_text (metric text, tags text, ts text, value text);
CREATE TABLE expected (metric text, tags jsonb, ts timestamptz, value double precision);
SQL

python3 - "$tmp" "$db" 200 <<'PY'
import os, random, subprocess, sys
tmp, db, cases = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(20261203)
metrics = ['fz_a', 'fz_b', '"fz_c"', '"fz,d"', 'fz e', '', '"fz""f"']
tags = ['"{""h"": ""1""}"', '{}', '"{""h"": ""a,b""}"', '"{""h"": 1}"', '"{"', '"{""h"": ""x""""y""}"', '""',
        '"{""a"": ""1"", ""b"": ""2""}"']
stamps = ['2024-01-01 00:00:0%d+00', '"2024-01-01T00:00:0%dZ"', '2024-01-01 00:00:0%d', 'infinity', 'junk', '',
          '2024-01-01 00:00:0%d.5+05:30']
values = ['1', '2.5', ' 3', 'NaN', '"4"', '', 'x', '1e999', '-0', '1e-320', '0x10', 'Infinity']


def psql(*commands):
    """Runs the commands in one psql; True when all worked (psql's \\copy sets no ERROR variable, so a
    failed \\copy is seen through ON_ERROR_STOP's exit status)."""
    args = ['psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db]
    for c in commands:
        args += ['-c', c]
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode == 0, r.stdout.strip()


bad = []
counts = {'copied': 0, 'refused': 0, 'rows': 0}
for case in range(cases):
    # Half the documents are made of valid rows, with one mutation or none;
    # the others draw every field from the full lists.
    clean = case % 2 == 0
    p_valid = 0.97 if clean else 0.75
    eol = rng.choice(['\n', '\n', '\n', '\r\n', '\r'])
    rows = []
    for i in range(rng.randint(1, 6)):
        ts = rng.choice(stamps[:3] + stamps[6:]) if rng.random() < p_valid else rng.choice(stamps)
        if '%d' in ts:
            ts = ts % (i % 10)
        fields = [rng.choice(metrics[:3]) if rng.random() < p_valid else rng.choice(metrics),
                  rng.choice(tags[:3] + tags[7:]) if rng.random() < p_valid else rng.choice(tags),
                  ts,
                  rng.choice(values[:5] + values[8:10] + values[11:]) if rng.random() < p_valid else rng.choice(values)]
        if rng.random() < (0.01 if clean else 0.1):
            fields.append('extra')
        if rng.random() < (0.01 if clean else 0.1):
            fields.pop()
        rows.append(','.join(fields))
    doc = bytearray((eol.join(rows) + (eol if rng.random() < 0.9 else '')).encode())
    for _ in range(rng.choice([0, 1] if clean else [0, 1, 2])):
        at = rng.randrange(len(doc) + 1)
        doc[at:at] = rng.choice([b'"', b'""', b',', b'\r', b'\n', b'\xff', b'\xc3', b'\\.\n', b'\xc3\xa9', b';'])
    if rng.random() < 0.05 and len(doc) > 3:
        del doc[rng.randrange(len(doc))]
    path = os.path.join(tmp, 'case%d.csv' % case)
    with open(path, 'wb') as f:
        f.write(bytes(doc))
    os.chmod(path, 0o644)
    text_ok, _ = psql('TRUNCATE csv_text, expected', "\\copy csv_text FROM '%s' WITH (FORMAT csv)" % path)
    insert_ok = text_ok and psql(
        'INSERT INTO aegis.points SELECT metric, tags::jsonb, ts::timestamptz, value::float8 FROM csv_text',
        "INSERT INTO expected SELECT * FROM aegis.points WHERE metric LIKE 'fz%'",
        "DELETE FROM aegis.points WHERE metric LIKE 'fz%'")[0]
    copy_ok, compared = psql(
        "\\copy aegis.points FROM '%s' WITH (FORMAT csv)" % path,
        "SELECT (SELECT count(*) FROM (SELECT * FROM aegis.points WHERE metric LIKE 'fz%' EXCEPT "
        "SELECT * FROM expected) a) || ' ' || (SELECT count(*) FROM (SELECT * FROM expected EXCEPT "
        "SELECT * FROM aegis.points WHERE metric LIKE 'fz%') b) || ' ' || (SELECT count(*) FROM expected)",
        "DELETE FROM aegis.points WHERE metric LIKE 'fz%'")
    if not copy_ok:
        compared = '0 0 0'
    extra, missing, n = compared.split('\n')[0].split()
    should_work = text_ok and insert_ok
    if should_work != copy_ok:
        bad.append('case %d: PostgreSQL %s, COPY aegis.points %s' % (
            case, 'read it' if should_work else 'refused it', 'worked' if copy_ok else 'failed'))
    elif copy_ok and (extra != '0' or missing != '0'):
        bad.append('case %d: %s rows the row path did not write, %s missing' % (case, extra, missing))
    counts['copied' if should_work else 'refused'] += 1
    counts['rows'] += int(n)
if not psql('SELECT 1')[0]:
    print('not ok - the server does not answer after the documents')
    sys.exit(1)
for b in bad:
    print('#', b)
print('%s - %d CSV documents: COPY aegis.points agrees with PostgreSQL\'s reader and the row path '
      '(%d loaded, %d rows; %d refused)' % ('not ok' if bad else 'ok', cases, counts['copied'], counts['rows'],
                                           counts['refused']))
sys.exit(1 if bad else 0)
PY
psql -X -q -d postgres -c "DROP DATABASE $db"
