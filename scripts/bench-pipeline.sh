#!/usr/bin/env bash
# The pipeline benchmark (docs/benchmarks.md): submits a deterministic workload of GPS-tagged
# reports through /v2/geosubmit (10 reports per request by default, every report once), then
# times worker processes draining every queue into the station tables and checks that the
# tables hold exactly the submitted stations and observations. Prints one JSON line per step.
#
# Environment: BENCH_STATIONS (100000), BENCH_OBSERVATIONS (1000000), BENCH_PER_REQUEST (10),
# BENCH_CONNECTIONS (32), BENCH_WORKERS (2), BENCH_PORT (8765), BENCH_REDIS_DB (13).
# Uses its own database `ichnaea_bench` and Redis database, which it empties first.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bench-lib.sh"

STATIONS="${BENCH_STATIONS:-100000}"
OBSERVATIONS="${BENCH_OBSERVATIONS:-1000000}"
PER_REQUEST="${BENCH_PER_REQUEST:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WORKERS="${BENCH_WORKERS:-2}"

bench_prepare ichnaea_bench
trap bench_stop_api EXIT
# Production batching: full batches, and a partial batch after one second at the end.
export EXPORT_MAX_AGE_SECS=1 WORKER_POLL_INTERVAL_MS=100
bench_machine
bench_start_api
log "submitting $OBSERVATIONS observations of $STATIONS stations"
"$BIN/ichnaea-bench" submit --url "$BENCH_URL" --key "$BENCH_KEY" --stations "$STATIONS" \
  --observations "$OBSERVATIONS" --per-request "$PER_REQUEST" --connections "$CONNECTIONS"
bench_stop_api
log "draining with $WORKERS worker processes"
"$BIN/ichnaea-bench" drain --worker-bin "$BIN/ichnaea-worker" --workers "$WORKERS" \
  --redis "$REDIS_URI" --db "$DB_READWRITE_URI" --stations "$STATIONS" \
  --observations "$OBSERVATIONS" --log "$BENCH_LOG_DIR/worker.log"
