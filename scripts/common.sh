# Shared settings for the project's scripts: where PostgreSQL is, where the
# private cluster lives, and how to run commands as its owner.
# shellcheck shell=bash

AEGIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_CONFIG="${PG_CONFIG:-$(command -v pg_config || echo /usr/lib/postgresql/15/bin/pg_config)}"
PGBIN="$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
AEGIS_LIBRARY="$("$PG_CONFIG" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/aegis_timeseries.so"

# One private cluster per checkout: its folder and port derive from the
# checkout's path, so two clones never share one.
AEGIS_TAG="$(printf '%s' "$AEGIS_ROOT" | cksum | cut -d' ' -f1)"
AEGIS_CLUSTER_DIR="${AEGIS_CLUSTER_DIR:-/tmp/aegis-cluster-$AEGIS_TAG}"
AEGIS_PORT="${AEGIS_PORT:-$((54000 + AEGIS_TAG % 900))}"

export PGHOST="$AEGIS_CLUSTER_DIR"
export PGPORT="$AEGIS_PORT"
export PGUSER=postgres
export PATH="$PGBIN:$PATH"

# Runs a command as the cluster's owner (postgres when we are root: initdb
# refuses to run as root).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Runs a command with root rights (for apt and make install).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A server of the project's in DIR/data (log in DIR/server.log): created with
# initdb unless it exists, its postgresql.conf including aegis.conf, which
# the caller writes.
init_data_dir() {  # DIR
  local dir=$1
  [ -f "$dir/data/PG_VERSION" ] && return 0
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
  echo "include_if_exists = 'aegis.conf'" >>"$dir/data/postgresql.conf"
}

# Starts the server in DIR/data; one that is running is left so, unless the
# second argument is "restart" (a new library is only run after a restart).
start_data_dir() {  # DIR [restart]
  local dir=$1
  if as_owner "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    [ "${2:-}" = restart ] || return 0
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$dir/server.log"; return 1; }
}

# SIGKILLs the postmaster of the server in DIR/data (with "all": and its
# processes, like a machine losing power), waits up to 30 s for every one of
# them to exit and prints how many processes it had.
kill_data_dir() {  # DIR [all]
  local dir=$1 mode=${2:-} postmaster children datadir left p c
  postmaster=$(head -n 1 "$dir/data/postmaster.pid")
  # Its processes, by parent pid (processes come and go while we look).
  children=$( (grep -l "^PPid:[[:space:]]*$postmaster\$" /proc/[0-9]*/status 2>/dev/null || true) | cut -d/ -f3 | tr '\n' ' ')
  if [ "$mode" = all ]; then kill -9 "$postmaster" $children 2>/dev/null || true; else kill -9 "$postmaster"; fi
  # Backends left by a killed postmaster exit when they notice; the next
  # postmaster cannot start while they hold the old shared memory. A
  # process forked just as we listed the children is not in the list (and
  # is reparented once the postmaster is gone), so every process working in
  # the data directory counts: a server process's cwd is the data directory.
  datadir=$(cd "$dir/data" && pwd -P)
  for _ in $(seq 1 300); do
    left=""
    for p in $children; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    for c in /proc/[0-9]*/cwd; do
      p=${c#/proc/}; p=${p%/cwd}
      [ "$(readlink "$c" 2>/dev/null)" = "$datadir" ] || continue
      case " $left " in *" $p "*) ;; *) left="$left $p" ;; esac
      [ "$mode" = all ] && { kill -9 "$p" 2>/dev/null || true; }
    done
    [ -z "$left" ] && break
    sleep 0.1
  done
  [ -z "$left" ] || { echo "server processes$left still alive 30 s after the kill" >&2; return 1; }
  echo "$children" | wc -w
}
