#!/usr/bin/env bash
# make bench: storage, write and query benchmarks of the extension against
# plain PostgreSQL tables, on the project's private cluster (bench/bench.py),
# then the lifecycle figures (bench/lifecycle.sh). The queries run against
# three peers: the plain table in arrival order, the same table clustered, and
# TimescaleDB's compressed hypertable when TimescaleDB is installed into this
# PostgreSQL (scripts/cluster.sh then preloads it; ../shared/tools/
# build-timescaledb.sh builds 2.28.3); without it that column says
# "not installed". Clean data, then late data (the last quarter rewritten).
#
#   SCALE=full|small   generated set of 10,000,000 points (default) or 100,000
#   BENCH_RUNS=5       timed runs of the generated set's write paths
#   BENCH_QUERY_RUNS=9 timed runs of every query, after one warm-up
#   BENCH_DOC=path     report file; default docs/benchmarks.md at SCALE=full,
#                      none at SCALE=small ("-" for none)
#   BENCH_KEEP=1       keep the generated CSV folder under /tmp
#   BENCH_TIMESCALEDB=off  leave the TimescaleDB peer out even when installed
#
# Then bench/gateway_bench.py: remote write and line protocol through
# aegis-gateway next to Prometheus's receiver and InfluxDB 1.6, and the bytes
# per sample each keeps (appended to the report).
#
# Prints the tables, writes the report, and exits non-zero when the extension
# or a peer does not return what the plain table holds.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"

# The same set-up as make demo: packages, build, install, cluster.
scripts/deps.sh
scripts/build.sh
scripts/cluster.sh start
# The core codec micro-benchmark (Google Benchmark), optimised build.
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/bench -j"$(nproc)" --target codec_bench >/dev/null
export BENCH_MICRO_ARGS="${BENCH_MICRO_ARGS:---benchmark_min_time=0.2}"
PYTHONDONTWRITEBYTECODE=1 python3 bench/bench.py "$@"
# Maintenance throughput, retention and the size across retention cycles.
[ "${SCALE:-full}" = small ] && export LIFECYCLE_SCALE=small
bench/lifecycle.sh
# The gateway against Prometheus and InfluxDB (ingest, bytes per sample);
# appended to the report when bench.py wrote one.
make -s build/gateway/remote_write_bench
[ "${SCALE:-full}" = small ] && export GATEWAY_BENCH_SCALE=small
doc="${BENCH_DOC:-}"
[ -z "$doc" ] && [ "${SCALE:-full}" = full ] && doc=docs/benchmarks.md
if [ -n "$doc" ] && [ "$doc" != - ]; then
  PYTHONDONTWRITEBYTECODE=1 python3 bench/gateway_bench.py --doc "$doc"
else
  PYTHONDONTWRITEBYTECODE=1 python3 bench/gateway_bench.py
fi
# One node against a Citus cluster (Q2, Q5), when Citus is installed.
if [ -n "$doc" ] && [ "$doc" != - ]; then
  PYTHONDONTWRITEBYTECODE=1 python3 bench/citus_bench.py --doc "$doc"
else
  PYTHONDONTWRITEBYTECODE=1 python3 bench/citus_bench.py
fi
