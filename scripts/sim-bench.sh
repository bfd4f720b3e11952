#!/usr/bin/env bash
# The simulated-world benchmark of docs/benchmarks.md ("Simulated world"): generates a
# dataset, runs ichnaea-api and ichnaea-worker (release builds) on their own database,
# Redis database and port, submits the dataset, evaluates accuracy, and runs locate load.
#
#   scripts/sim-bench.sh [SIZE] [SEED]        (SIZE: tiny|small|medium|large, default medium)
#
# Results go to $OUT (default /tmp/sim-SIZE-SEED/results). BIN_DIR=DIR runs prebuilt
# release binaries from DIR instead of building them. GENERATE_ARGS adds options to
# `ichnaea-sim generate` (for example `--reports 170000`). Everything heavy runs under
# `nice -n 19`. Redis database 12 is reserved against the test suite's slot claims for
# the duration of the run.
source "$(dirname "$0")/lib.sh"

SIZE="${1:-medium}"
SEED="${2:-1}"
DATA="${DATA:-/tmp/sim-$SIZE-$SEED}"
OUT="${OUT:-$DATA/results}"
PORT="${SIM_PORT:-8790}"
REDIS_DB="${SIM_REDIS_DB:-12}"
KEY="sim-bench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${BIN_DIR:-$CARGO_TARGET_DIR/release}"

ensure_mysql
ensure_redis

if [ -z "${BIN_DIR:-}" ]; then
  log "building release binaries"
  (cd "$ROOT" && nice -n 19 cargo build --release -p ichnaea-api -p ichnaea-worker -p ichnaea-admin -p ichnaea-sim)
fi

if [ ! -f "$DATA/manifest.json" ]; then
  log "generating the $SIZE world (seed $SEED) into $DATA"
  /usr/bin/time -v nice -n 19 "$BIN/ichnaea-sim" generate --size "$SIZE" --seed "$SEED" --out "$DATA" ${GENERATE_ARGS:-} 2> "$DATA.generate.time" \
    || { cat "$DATA.generate.time" >&2; die "generation failed"; }
  grep -E "Elapsed|Maximum resident" "$DATA.generate.time" >&2
fi
mkdir -p "$OUT"

export LOCAL_DEV_ENV=true LOGGING_LEVEL=WARNING
export DB_READWRITE_URI="mysql://root@$MYSQL_HOST:$MYSQL_PORT/ichnaea_sim"
export DB_READONLY_URI="$DB_READWRITE_URI"
export REDIS_URI="redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB"
export EXPORT_MAX_AGE_SECS=1 WORKER_POLL_INTERVAL_MS=200
# The worker runs ~45 queue consumers; with the default pool (10 connections, 2 s checkout
# timeout) a flood of submissions makes batches fail on checkout and wait out their
# 60 s lease. A pool per consumer keeps the pipeline busy instead.
export DB_POOL_MAX_SIZE="${DB_POOL_MAX_SIZE:-48}" DB_POOL_TIMEOUT_MS="${DB_POOL_TIMEOUT_MS:-30000}"
export GEOIP_PATH="$DATA/geoip.mmdb"

redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n 0 SET "ichnaea_test_redis_slot_$REDIS_DB" sim-bench EX 14400 >/dev/null
redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$REDIS_DB" FLUSHDB >/dev/null
mysql -h "$MYSQL_HOST" -P "$MYSQL_PORT" -uroot -e "DROP DATABASE IF EXISTS ichnaea_sim"
"$BIN/ichnaea-admin" migrate --create-database
"$BIN/ichnaea-admin" api-key create "$KEY" --maxreq 0 --store-sample-locate 0 >/dev/null

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n 0 DEL "ichnaea_test_redis_slot_$REDIS_DB" >/dev/null || true
}
trap cleanup INT TERM EXIT
nice -n 19 "$BIN/ichnaea-api" --bind "127.0.0.1:$PORT" & PIDS+=($!)
nice -n 19 "$BIN/ichnaea-worker" & PIDS+=($!)
wait_for_port 127.0.0.1 "$PORT" "ichnaea-api" 60

URL="http://127.0.0.1:$PORT"
log "submitting"
nice -n 19 "$BIN/ichnaea-sim" submit --data "$DATA" --url "$URL" --key "$KEY" --json "$OUT/submit.json"
log "evaluating"
nice -n 19 "$BIN/ichnaea-sim" evaluate --data "$DATA" --url "$URL" --key "$KEY" --out "$OUT/eval"
for kind in wifi cell wifi_cell blue ip; do
  log "load: $kind at max rate"
  nice -n 19 "$BIN/ichnaea-sim" load --data "$DATA" --url "$URL" --key "$KEY" --mix "$kind=1" \
    --duration "${LOAD_SECS:-20}" --concurrency 16 --json "$OUT/load-max-$kind.json"
done
log "load: mixed, open loop at ${LOAD_RATE:-200}/s"
nice -n 19 "$BIN/ichnaea-sim" load --data "$DATA" --url "$URL" --key "$KEY" \
  --rate "${LOAD_RATE:-200}" --duration "${LOAD_SECS:-20}" --json "$OUT/load-open.json"
log "results in $OUT"
