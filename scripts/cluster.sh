#!/usr/bin/env bash
# The project's private PostgreSQL cluster: start | stop | status | env.
set -euo pipefail
source "$(dirname "$0")/common.sh"

start() {
  init_data_dir "$AEGIS_CLUSTER_DIR" || exit 1
  # TimescaleDB, when it is installed into this PostgreSQL, is preloaded too
  # (it must be, to be created): make bench compares the extension with its
  # compressed hypertables. Without it the list is aegis_timeseries alone.
  local preload='aegis_timeseries' timescaledb_conf=''
  if [ -f "$(dirname "$AEGIS_LIBRARY")/timescaledb.so" ]; then
    preload='aegis_timeseries,timescaledb'
    timescaledb_conf="# TimescaleDB is installed (make bench's peer): no telemetry, and room for its
# launcher and schedulers next to the parallel workers and aegis's worker.
timescaledb.telemetry_level = off
max_worker_processes = 16"
  fi
  # Rewritten at every start, so a changed setting reaches existing clusters.
  cat >"$AEGIS_CLUSTER_DIR/data/aegis.conf" <<CONF
# aegis_timeseries private development cluster (written by scripts/cluster.sh)
port = $AEGIS_PORT
listen_addresses = ''
unix_socket_directories = '$AEGIS_CLUSTER_DIR'
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
# A development cluster: no fsync (an OS crash may corrupt it, a server crash
# may not: commits stay synchronous, so no acknowledged write is ever lost).
fsync = off
full_page_writes = off
timezone = 'UTC'
log_min_messages = warning
# The supported set-up: with the library preloaded every aegis.* setting
# exists from a session's first statement.
shared_preload_libraries = '$preload'
$timescaledb_conf
CONF
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$AEGIS_CLUSTER_DIR/data/aegis.conf"
  # A preloaded library is mapped by the postmaster and inherited by every
  # backend: after an install, only a restart runs the new one. A changed
  # preload list (TimescaleDB installed or removed since) needs one too.
  local running restart=''
  running="$(psql -X -At -d postgres -c 'SHOW shared_preload_libraries' 2>/dev/null | tr -d ' ')" || running=''
  if [ "$AEGIS_LIBRARY" -nt "$AEGIS_CLUSTER_DIR/data/postmaster.pid" ] ||
    { [ -n "$running" ] && [ "$running" != "$preload" ]; }; then
    restart=restart
  fi
  start_data_dir "$AEGIS_CLUSTER_DIR" "$restart" || exit 1
}

stop() {
  if [ -f "$AEGIS_CLUSTER_DIR/data/PG_VERSION" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$AEGIS_CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  destroy) stop; rm -rf "$AEGIS_CLUSTER_DIR" ;;
  status) as_owner "$PGBIN/pg_ctl" -D "$AEGIS_CLUSTER_DIR/data" status ;;
  env) echo "export PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER" ;;
  *) echo "usage: $0 start|stop|restart|destroy|status|env" >&2; exit 2 ;;
esac
