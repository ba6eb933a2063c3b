#!/usr/bin/env bash
# A real PuppetDB (Debian package `puppetdb`) on loopback, for side-by-side benchmarks and for
# checking the query corpus against the real thing. It uses its own config and state directory
# (nothing under /etc/puppetdb is changed) and its own database on the local PostgreSQL server.
#
#   bench/puppetdb/pdb.sh start   # install if needed, create the database, start, wait until ready
#   bench/puppetdb/pdb.sh stop
#   bench/puppetdb/pdb.sh reset   # stop, drop and recreate the database, start
#   bench/puppetdb/pdb.sh url     # print the base URL
#
# Environment: PUPPETDB_PORT (8085), PUPPETDB_DB (puppetdb_bench), PUPPETDB_HOME
# (/var/tmp/stagehand-puppetdb-$PUPPETDB_PORT), PUPPETDB_HEAP (1g), PUPPETDB_THREADS (command-processing
# threads; PuppetDB's default is half the cores), PGHOST (127.0.0.1), PGPORT (5432),
# PGUSER (postgres; trust authentication is assumed, as on the development machines).
set -euo pipefail
PORT="${PUPPETDB_PORT:-8085}"
DB="${PUPPETDB_DB:-puppetdb_bench}"
HOME_DIR="${PUPPETDB_HOME:-/var/tmp/stagehand-puppetdb-$PORT}"
HEAP="${PUPPETDB_HEAP:-1g}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
URL="http://127.0.0.1:$PORT"

install() {
  if [[ ! -f /usr/share/puppetdb/puppetdb.jar ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends puppetdb >/dev/null
  fi
}

configure() {
  mkdir -p "$HOME_DIR/conf.d" "$HOME_DIR/var" "$HOME_DIR/log"
  cat > "$HOME_DIR/conf.d/config.ini" <<INI
[global]
vardir = $HOME_DIR/var
logging-config = $HOME_DIR/logback.xml
[command-processing]
INI
  # Optional: more command-processing threads than PuppetDB's default (half the cores) for bulk loads.
  if [[ -n "${PUPPETDB_THREADS:-}" ]]; then
    echo "threads = $PUPPETDB_THREADS" >> "$HOME_DIR/conf.d/config.ini"
  fi
  cat > "$HOME_DIR/conf.d/database.ini" <<INI
[database]
subname = //$PGHOST:$PGPORT/$DB
username = $PGUSER
password = unused-with-trust-auth
INI
  # Optional (query issue): smaller connection pools on a shared PostgreSQL, GC off for fixed fixtures.
  if [[ -n "${PUPPETDB_POOL_SIZE:-}" ]]; then
    echo "maximum-pool-size = $PUPPETDB_POOL_SIZE" >> "$HOME_DIR/conf.d/database.ini"
    printf '[read-database]\nsubname = //%s:%s/%s\nusername = %s\npassword = unused-with-trust-auth\nmaximum-pool-size = %s\n' \
      "$PGHOST" "$PGPORT" "$DB" "$PGUSER" "$PUPPETDB_POOL_SIZE" >> "$HOME_DIR/conf.d/database.ini"
  fi
  if [[ -n "${PUPPETDB_GC_INTERVAL:-}" ]]; then
    sed -i "/^\[database\]/a gc-interval = $PUPPETDB_GC_INTERVAL" "$HOME_DIR/conf.d/database.ini"
  fi
  cat > "$HOME_DIR/conf.d/jetty.ini" <<INI
[jetty]
host = 127.0.0.1
port = $PORT
INI
  cp /etc/puppetdb/conf.d/auth.conf "$HOME_DIR/conf.d/auth.conf"
  sed "s#/var/log/puppetdb#$HOME_DIR/log#g" /etc/puppetdb/logback.xml > "$HOME_DIR/logback.xml"
  cp /etc/puppetdb/bootstrap.cfg "$HOME_DIR/bootstrap.cfg"
}

create_db() {
  if ! psql -Atqc "SELECT 1 FROM pg_database WHERE datname = '$DB'" postgres | grep -q 1; then
    psql -qc "CREATE DATABASE $DB" postgres
  fi
  psql -qc "CREATE EXTENSION IF NOT EXISTS pg_trgm" "$DB"
}

running() { [[ -f "$HOME_DIR/pid" ]] && kill -0 "$(cat "$HOME_DIR/pid")" 2>/dev/null; }

start() {
  install; configure; create_db
  if ! running; then
    nohup java -Xmx"$HEAP" -Djava.security.egd=/dev/urandom -cp /usr/share/puppetdb/puppetdb.jar \
      clojure.main -m puppetlabs.puppetdb.core services --config "$HOME_DIR/conf.d" \
      --bootstrap-config "$HOME_DIR/bootstrap.cfg" > "$HOME_DIR/log/stdout.log" 2>&1 &
    echo $! > "$HOME_DIR/pid"
  fi
  for _ in $(seq 1 180); do
    if curl -fsS "$URL/status/v1/services/puppetdb-status" 2>/dev/null | grep -q '"state":"running"'; then
      echo "$URL"; return 0
    fi
    running || { echo "puppetdb exited; see $HOME_DIR/log" >&2; tail -20 "$HOME_DIR/log/stdout.log" >&2; return 1; }
    sleep 1
  done
  echo "puppetdb not ready after 180s; see $HOME_DIR/log" >&2; return 1
}

stop() {
  if running; then kill "$(cat "$HOME_DIR/pid")"; for _ in $(seq 1 30); do running || break; sleep 1; done; fi
  rm -f "$HOME_DIR/pid"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  reset) stop; psql -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres; start ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|reset|url" >&2; exit 2 ;;
esac
