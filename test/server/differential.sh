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
psql -X -q -d aegis_differential -f test/server/differential.sql
psql -X -q -d postgres -c "DROP DATABASE aegis_differential"
