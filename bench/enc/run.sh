#!/usr/bin/env bash
# ENC benchmark: requests/s and p50/p90/p99 at 50 concurrent clients (wrk), GET and POST with a
# real-size fact set, against an enc process started alone: no web process, no Celery worker and
# a broker URL pointing at a closed port. Also prints CPU ms per request (enc + PostgreSQL).
#
#   export DATABASE_URL=postgresql://...   # seeded with bench/enc/seed.py
#   bench/enc/run.sh [seconds]            # ENC_WORKERS, ENC_THREADS, ENC_WORKER_CLASS, CONNECTIONS
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-20}"
PORT="${ENC_BENCH_PORT:-18082}"
CONNECTIONS="${CONNECTIONS:-50}"
WORKERS="${ENC_WORKERS:-2}"
THREADS="${ENC_THREADS:-4}"
WORKER_CLASS="${ENC_WORKER_CLASS:-gthread}"
SERVER_KIND="${ENC_SERVER:-gunicorn}"   # gunicorn (the Procfile's) or granian (optional, faster)
RATES="${OPEN_LOOP_RATES:-250 500}"    # open-loop fixed rates (req/s) for the latency runs
export ENC_TOKEN="$(cat "${TOKEN_FILE:-/tmp/stagehand-enc-bench.token}")"
export BODY_FILE="${BODY_FILE:-/tmp/stagehand-enc-bench-body.json}"
DB_NAME="${DATABASE_URL##*/}"
LOG="${ENC_BENCH_LOG:-/tmp/stagehand-enc-bench-server.log}"

# The enc process alone; the broker URL points at a closed port (nothing listens on 9).
export CELERY_BROKER_URL=redis://127.0.0.1:9/0 CELERY_RESULT_BACKEND=redis://127.0.0.1:9/0
export DATABASE_CONN_MAX_AGE=600 DJANGO_SETTINGS_MODULE=config.settings.enc
if [ "$SERVER_KIND" = granian ]; then
  setsid .venv/bin/granian --interface wsgi config.wsgi:application --host 127.0.0.1 --port "$PORT" \
    --workers "$WORKERS" --blocking-threads "$THREADS" >"$LOG" 2>&1 &
else
  setsid .venv/bin/gunicorn config.wsgi -c config/gunicorn.py --bind "127.0.0.1:$PORT" \
    --workers "$WORKERS" --threads "$THREADS" --worker-class "$WORKER_CLASS" >"$LOG" 2>&1 &
fi
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $SERVER_KIND workers=$WORKERS threads=$THREADS ENC_REQUEST_LOG_LEVEL=${ENC_REQUEST_LOG_LEVEL:-INFO}; wrk -t2 -c$CONNECTIONS -d${DURATION}s"
echo "# nodes: $(psql "$DATABASE_URL" -Atc "select count(*) from inventory_node"), groups: $(psql "$DATABASE_URL" -Atc "select count(*) from enc_nodegroup"), POST body $(stat -c %s "$BODY_FILE") bytes"
echo "# web process: $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${WEB_PORT:-8080}/healthz || true) (000 = not running); enc /readyz:"
curl -s "http://127.0.0.1:$PORT/readyz"; echo

for METHOD in GET POST; do
  ENC_METHOD=$METHOD wrk -t2 -c"$CONNECTIONS" -d5s -s bench/enc/enc.lua "http://127.0.0.1:$PORT" >/dev/null  # warm-up
  .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-before.json
  OUT="$(ENC_METHOD=$METHOD wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/enc/enc.lua "http://127.0.0.1:$PORT" | grep '^RESULT')"
  .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-after.json
  echo "$OUT"
  .venv/bin/python bench/enc/cpu.py diff /tmp/enc-cpu-before.json /tmp/enc-cpu-after.json \
    "$(echo "$OUT" | sed 's/.*requests=\([0-9]*\).*/\1/')"
done
for METHOD in GET POST; do
  for RATE in $RATES; do
    .venv/bin/python bench/enc/openloop.py --url "http://127.0.0.1:$PORT" --rate "$RATE" --duration "$DURATION" \
      --connections "$CONNECTIONS" --method "$METHOD" --token-file "${TOKEN_FILE:-/tmp/stagehand-enc-bench.token}" \
      --body-file "$BODY_FILE"
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
