#!/usr/bin/env bash
# make bench: storage and write benchmarks of the extension against a plain
# PostgreSQL table, on the project's private cluster (bench/bench.py).
#
#   SCALE=full|small   generated set of 10,000,000 points (default) or 100,000
#   BENCH_RUNS=3       timed runs of the generated set's write paths
#   BENCH_DOC=path     report file; default docs/benchmarks.md at SCALE=full,
#                      none at SCALE=small ("-" for none)
#   BENCH_KEEP=1       keep the generated CSV folder under /tmp
#
# Prints the tables, writes the report, and exits non-zero when the extension
# does not return what the plain table holds.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"

scripts/cluster.sh start
if ! psql -X -Atq -d postgres -c "SELECT 1 FROM pg_available_extensions WHERE name = 'aegis_timeseries'" | grep -q 1; then
  echo "bench: aegis_timeseries is not installed on this server; run 'make demo' (or scripts/build.sh) first" >&2
  exit 1
fi
PYTHONDONTWRITEBYTECODE=1 exec python3 bench/bench.py "$@"
