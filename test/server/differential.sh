#!/usr/bin/env bash
# Differential test against plain SQL (see differential.sql).
set -euo pipefail
source "$(dirname "$0")/../../scripts/common.sh"
cd "$AEGIS_ROOT"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS aegis_differential" -c "CREATE DATABASE aegis_differential"
# The test runs its own maintenance rounds at chosen moments; the background
# worker's would race them (a partition it is reading cannot be dropped).
psql -X -q -d postgres -c "ALTER DATABASE aegis_differential SET aegis.maintenance_worker = off"
psql -X -q -d aegis_differential -c "CREATE EXTENSION aegis_timeseries"
# 600,000 of its 1,200,000 random writes (DIFFERENTIAL_WRITES; every write
# path keeps its share): make test runs the Citus tier beside this lane, and
# the machine's two cores are the limit of the whole run.
psql -X -q -d aegis_differential -v writes="${DIFFERENTIAL_WRITES:-600000}" -f test/server/differential.sql
psql -X -q -d postgres -c "DROP DATABASE aegis_differential"
