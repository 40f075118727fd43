#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for one test script, separate from the
# project's shared cluster (scripts/cluster.sh):
#
#   scripts/test-cluster.sh start DIR PORT [SETTING...]   initdb when DIR has no cluster, (re)write the
#                                                         settings, start; each SETTING is one line of
#                                                         postgresql.conf, e.g. 'fsync = on'
#   scripts/test-cluster.sh stop DIR                      fast shutdown
#   scripts/test-cluster.sh destroy DIR                   immediate shutdown, then remove DIR
#   scripts/test-cluster.sh pid DIR                       the postmaster's pid (first line of postmaster.pid)
#   scripts/test-cluster.sh kill DIR [all]                SIGKILL the postmaster (with all: and its processes,
#                                                         like a machine losing power); waits up to 30 s for
#                                                         every one of them to exit and prints how many it had
#   scripts/test-cluster.sh dsn DIR PORT [DBNAME]         a libpq connection string for it
#
# DIR must be under /tmp (it is removed by destroy). The cluster is owned by
# postgres when we are root, listens only on the Unix socket in DIR, and
# preloads aegis_timeseries. Crash recovery happens on the next start after
# the postmaster was killed.
set -euo pipefail
source "$(dirname "$0")/common.sh"

usage() { echo "usage: $0 start DIR PORT [SETTING...] | stop DIR | destroy DIR | pid DIR | kill DIR [all] | dsn DIR PORT [DB]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
case "$dir" in /tmp/?*) ;; *) echo "$0: DIR must be under /tmp: $dir" >&2; exit 2 ;; esac

start() {
  local port=$1; shift
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
    echo "include_if_exists = 'test.conf'" >>"$dir/data/postgresql.conf"
  fi
  {
    echo "# written by scripts/test-cluster.sh"
    echo "port = $port"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    echo "shared_preload_libraries = 'aegis_timeseries'"
    echo "timezone = 'UTC'"
    echo "log_min_messages = warning"
    echo "log_line_prefix = '%m [%p] '"
    for setting in "$@"; do echo "$setting"; done
  } >"$dir/data/test.conf"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/data/test.conf"
  # After a crash pg_ctl says "another server might be running"; that is
  # expected, so its messages are shown only when the start fails.
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 start >"$dir/pg_ctl.out" 2>&1 ||
    { cat "$dir/pg_ctl.out"; tail -n 30 "$dir/server.log"; exit 1; }
}

case "$cmd" in
  start) [ $# -ge 3 ] || usage; shift 2; start "$@" ;;
  stop)
    [ -f "$dir/data/PG_VERSION" ] && as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
    true ;;
  destroy)
    if [ -f "$dir/data/PG_VERSION" ]; then
      as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir" ;;
  pid) head -n 1 "$dir/data/postmaster.pid" ;;
  kill) kill_data_dir "$dir" "${3:-}" || exit 1 ;;
  dsn) [ $# -ge 3 ] || usage; echo "host=$dir port=$3 user=postgres dbname=${4:-postgres}" ;;
  *) usage ;;
esac
