#!/usr/bin/env bash
# Builds and installs the extension into the system PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$AEGIS_ROOT"
make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
as_root make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
