#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, when any is missing.
set -euo pipefail
source "$(dirname "$0")/common.sh"

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libpq-dev
  libtap-parser-sourcehandler-pgtap-perl
  make g++ clang cmake googletest libgtest-dev libbenchmark-dev python3 curl
  prometheus prometheus-node-exporter influxdb pgbouncer
  libcpp-httplib-dev libprotobuf-dev protobuf-compiler libsnappy-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian creates a default cluster with the server package; ours is private.
exit 0
