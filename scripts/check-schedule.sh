#!/usr/bin/env bash
# Fails when a pg_regress test in sql/ is missing from test/schedule or has
# no expected output, so that no test is silently left out.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for f in sql/*.sql; do
  name=$(basename "$f" .sql)
  grep -qx "$name" test/schedule || { echo "sql/$name.sql is not in test/schedule"; status=1; }
  [ -f "expected/$name.out" ] || { echo "sql/$name.sql has no expected/$name.out"; status=1; }
done
while read -r name; do
  [ -f "sql/$name.sql" ] || { echo "test/schedule lists $name but sql/$name.sql is missing"; status=1; }
done <test/schedule
exit $status
