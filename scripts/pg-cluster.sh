#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL 15 cluster for the test suites, on loopback and a free port.
#   scripts/pg-cluster.sh start DIR   -> prints the server URL (postgres://...) on stdout
#   scripts/pg-cluster.sh stop DIR
# Runs the server as the `postgres` system user when invoked as root (initdb refuses root).
# Durability is relaxed (fsync off) because the cluster is disposable, unless PG_CLUSTER_DURABLE=1
# (the benchmarks set it: their figures must be with durable commits).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?data directory}
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/initdb" ] || bin=$(dirname "$(command -v initdb)")

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  durability="-c fsync=off -c full_page_writes=off"
  if [ "${PG_CLUSTER_DURABLE:-0}" = 1 ]; then durability=""; fi
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $durability -c max_connections=400" \
    start >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
