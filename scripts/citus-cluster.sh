#!/usr/bin/env bash
# A private Citus cluster for the scale-out tier and benchmark: a coordinator
# and two workers, each its own data directory, on loopback ports next to the
# project's own cluster (scripts/cluster.sh).
#
#   scripts/citus-cluster.sh start|stop|destroy|status|available|env
#   scripts/citus-cluster.sh kill coord|w1|w2    SIGKILL one node and all its processes (crash tests);
#                                                start brings it back up with crash recovery
#
# `available` exits 0 when Citus is installed into this PostgreSQL, else 1
# with the reason (the tier is then skipped, never counted as a pass).
# Citus is not in Debian's archive: ../shared/tools/build-citus.sh builds it
# from its source (docs/scale-out.md).
set -euo pipefail
source "$(dirname "$0")/common.sh"

CITUS_DIR="${AEGIS_CITUS_DIR:-/tmp/aegis-citus-$AEGIS_TAG}"
COORD_PORT=$((AEGIS_PORT + 1000))
NODES="coord:$COORD_PORT w1:$((COORD_PORT + 1)) w2:$((COORD_PORT + 2))"

available() {
  local lib
  lib="$("$PG_CONFIG" --pkglibdir)/citus.so"
  if [ ! -f "$lib" ]; then
    echo "Citus is not installed into $("$PG_CONFIG" --version) ($lib is missing; it is not in Debian's archive:" \
      "build it with ../shared/tools/build-citus.sh, docs/scale-out.md)"
    return 1
  fi
  if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]; then
    echo "Citus's library is installed but its extension files are not"
    return 1
  fi
}

start_node() {  # name port
  local dir="$CITUS_DIR/$1"
  init_data_dir "$dir" || exit 1
  cat >"$dir/data/aegis.conf" <<CONF
# aegis_timeseries private Citus node $1 (written by scripts/citus-cluster.sh)
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus,aegis_timeseries'
shared_buffers = 256MB
work_mem = 32MB
max_wal_size = 2GB
fsync = off
full_page_writes = off
timezone = 'UTC'
log_min_messages = warning
max_connections = 100
max_worker_processes = 16
# The tests run their own maintenance rounds.
aegis.maintenance_worker = off
citus.log_remote_commands = off
# The nodes talk over loopback: no TLS between them (Citus's default,
# sslmode=require, encrypts every task's rows; across hosts keep it).
citus.node_conninfo = 'sslmode=disable'
CONF
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/data/aegis.conf"
  local restart=''
  [ "$AEGIS_LIBRARY" -nt "$dir/data/postmaster.pid" ] && restart=restart
  start_data_dir "$dir" "$restart" || exit 1
}

start() {
  available >&2 || exit 1
  local node
  for node in $NODES; do start_node "${node%%:*}" "${node##*:}"; done
  # The cluster's metadata lives in the coordinator's "postgres" database
  # only; each test database registers the workers itself (citus_db).
}

stop() {
  local node
  for node in $NODES; do
    local dir="$CITUS_DIR/${node%%:*}"
    [ -f "$dir/data/PG_VERSION" ] && as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  done
}

case "${1:-}" in
  available) available ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  destroy) stop; rm -rf "$CITUS_DIR" ;;
  kill) # NODE (coord, w1 or w2): SIGKILL it and all its processes; start brings it back
    case "${2:-}" in coord|w1|w2) kill_data_dir "$CITUS_DIR/$2" all >/dev/null ;; *) echo "usage: $0 kill coord|w1|w2" >&2; exit 2 ;; esac ;;
  status) for node in $NODES; do as_owner "$PGBIN/pg_ctl" -D "$CITUS_DIR/${node%%:*}/data" status; done ;;
  env) echo "export PGHOST=127.0.0.1 PGPORT=$COORD_PORT PGUSER=postgres CITUS_WORKER_PORTS='$((COORD_PORT + 1)) $((COORD_PORT + 2))'" ;;
  *) echo "usage: $0 start|stop|restart|destroy|status|available|env|kill NODE" >&2; exit 2 ;;
esac
