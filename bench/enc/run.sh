#!/usr/bin/env bash
# ENC benchmark: requests/s and p50/p90/p99 at 50 concurrent clients (wrk, closed loop) and at
# fixed request rates (bench/enc/openloop.py, open loop), GET and POST with a real-size fact set,
# against an enc process started alone (python -m config.enc_server, as the Procfile does): no
# web process, no Celery worker and a broker URL pointing at a closed port. Also prints CPU ms per
# request (enc + PostgreSQL) and the share of answers served from the per-node answer cache.
#
#   export DATABASE_URL=postgresql://...   # seeded with bench/enc/seed.py
#   bench/enc/run.sh [seconds]
#
# Environment: ENC_SERVER (granian|gunicorn), ENC_WORKERS, ENC_THREADS, CONNECTIONS,
# OPEN_LOOP_RATES ("" for none), ENC_BENCH_CACHE (warm: the answer cache on; cold: off, every
# request reads the node's facts and evaluates the rules, as right after a classification change),
# GENERATOR_PROCESSES (openloop.py processes), NODES (ask only bench-00000 .. NODES-1: a working
# set small enough for the warm-up to put every node in every worker's cache), WARMUP (seconds of
# wrk before each measured method), CLOSED_LOOP_METHODS ("GET POST"; "" skips wrk), MIXED_RATES
# (total rates for GET and POST open-loop clients running at the same time, half each).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-20}"
PORT="${ENC_BENCH_PORT:-18082}"
CONNECTIONS="${CONNECTIONS:-50}"
RATES="${OPEN_LOOP_RATES-500 1000}"
CACHE="${ENC_BENCH_CACHE:-warm}"
export NODES="${NODES:-50000}"
WARMUP="${WARMUP:-5}"
export ENC_SERVER="${ENC_SERVER:-granian}" ENC_WORKERS="${ENC_WORKERS:-2}" ENC_THREADS="${ENC_THREADS:-4}"
export ENC_PORT="$PORT" BIND_HOST=127.0.0.1 ENC_REQUEST_LOG_LEVEL="${ENC_REQUEST_LOG_LEVEL:-WARNING}"
if [ "$CACHE" = cold ]; then export ENC_ANSWER_CACHE_NODES=0; fi
export ENC_TOKEN="$(cat "${TOKEN_FILE:-/tmp/stagehand-enc-bench.token}")"
export BODY_FILE="${BODY_FILE:-/tmp/stagehand-enc-bench-body.json}"
DB_NAME="${DATABASE_URL##*/}"
LOG="${ENC_BENCH_LOG:-/tmp/stagehand-enc-bench-server.log}"

# The enc process alone; the broker URL points at a closed port (nothing listens on 9).
export CELERY_BROKER_URL=redis://127.0.0.1:9/0 CELERY_RESULT_BACKEND=redis://127.0.0.1:9/0
export DATABASE_CONN_MAX_AGE=600 DJANGO_SETTINGS_MODULE=config.settings.enc
setsid .venv/bin/python -m config.enc_server >"$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $ENC_SERVER workers=$ENC_WORKERS threads=$ENC_THREADS cache=$CACHE nodes asked=$NODES ENC_REQUEST_LOG_LEVEL=$ENC_REQUEST_LOG_LEVEL; wrk -t2 -c$CONNECTIONS -d${DURATION}s (after ${WARMUP}s warm-up)"
echo "# nodes: $(psql "$DATABASE_URL" -Atc "select count(*) from inventory_node"), groups: $(psql "$DATABASE_URL" -Atc "select count(*) from enc_nodegroup"), POST body $(stat -c %s "$BODY_FILE") bytes"
echo "# web process: $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${WEB_PORT:-8080}/healthz || true) (000 = not running); enc /readyz:"
curl -s "http://127.0.0.1:$PORT/readyz"; echo

for METHOD in ${CLOSED_LOOP_METHODS-GET POST}; do
  ENC_METHOD=$METHOD wrk -t2 -c"$CONNECTIONS" -d"${WARMUP}s" -s bench/enc/enc.lua "http://127.0.0.1:$PORT" >/dev/null
  .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-before.json
  OUT="$(ENC_METHOD=$METHOD wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/enc/enc.lua "http://127.0.0.1:$PORT" | grep '^RESULT')"
  .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-after.json
  echo "$OUT"
  .venv/bin/python bench/enc/cpu.py diff /tmp/enc-cpu-before.json /tmp/enc-cpu-after.json \
    "$(echo "$OUT" | sed 's/.*requests=\([0-9]*\).*/\1/')"
done
for METHOD in GET POST; do
  for RATE in $RATES; do
    .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-before.json
    OUT="$(.venv/bin/python bench/enc/openloop.py --url "http://127.0.0.1:$PORT" --rate "$RATE" --duration "$DURATION" \
      --connections "$CONNECTIONS" --processes "${GENERATOR_PROCESSES:-2}" --method "$METHOD" --nodes "$NODES" \
      --token-file "${TOKEN_FILE:-/tmp/stagehand-enc-bench.token}" --body-file "$BODY_FILE")"
    .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-after.json
    echo "$OUT"
    .venv/bin/python bench/enc/cpu.py diff /tmp/enc-cpu-before.json /tmp/enc-cpu-after.json \
      "$(echo "$OUT" | sed 's/.* requests=\([0-9]*\).*/\1/')"
  done
done
for RATE in ${MIXED_RATES:-}; do
  .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-before.json
  PIDS=()
  for METHOD in GET POST; do
    .venv/bin/python bench/enc/openloop.py --url "http://127.0.0.1:$PORT" --rate "$((RATE / 2))" --duration "$DURATION" \
      --connections "$((CONNECTIONS / 2))" --processes 1 --method "$METHOD" --nodes "$NODES" \
      --token-file "${TOKEN_FILE:-/tmp/stagehand-enc-bench.token}" --body-file "$BODY_FILE" >"/tmp/enc-mixed-$METHOD.out" &
    PIDS+=($!)
  done
  wait "${PIDS[@]}"
  .venv/bin/python bench/enc/cpu.py snapshot "$SERVER" "$DB_NAME" >/tmp/enc-cpu-after.json
  echo "# mixed: GET and POST at $((RATE / 2)) req/s each, at the same time"
  cat /tmp/enc-mixed-GET.out /tmp/enc-mixed-POST.out
  .venv/bin/python bench/enc/cpu.py diff /tmp/enc-cpu-before.json /tmp/enc-cpu-after.json \
    "$(cat /tmp/enc-mixed-GET.out /tmp/enc-mixed-POST.out | sed 's/.* requests=\([0-9]*\).*/\1/' | paste -sd+ | bc)"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
