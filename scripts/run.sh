#!/usr/bin/env bash
# Runs the whole system locally with the default configuration: makes sure MariaDB and
# Redis are up (starting or installing them if needed), builds, migrates, creates a
# development API key, and runs ichnaea-api, ichnaea-worker and ichnaea-scheduler in the
# foreground until Ctrl-C. Any variable of docs/CONFIG.md can be overridden from the
# environment.
source "$(dirname "$0")/lib.sh"

ensure_rust
ensure_mysql
ensure_redis

export LOCAL_DEV_ENV="${LOCAL_DEV_ENV:-true}"
export DB_READWRITE_URI="${DB_READWRITE_URI:-mysql://root@$MYSQL_HOST:$MYSQL_PORT/location}"
export DB_READONLY_URI="${DB_READONLY_URI:-$DB_READWRITE_URI}"
export REDIS_URI="${REDIS_URI:-redis://$REDIS_HOST:$REDIS_PORT/0}"
export ASSET_DIR="${ASSET_DIR:-$VAR/assets}"
# Local development: deliver even a single report to the station tables within seconds.
export EXPORT_MAX_AGE_SECS="${EXPORT_MAX_AGE_SECS:-1}"
export WORKER_STATION_MAX_AGE_MS="${WORKER_STATION_MAX_AGE_MS:-1000}"
export WORKER_POLL_INTERVAL_MS="${WORKER_POLL_INTERVAL_MS:-500}"
export ICHNAEA_VERSION_FILE="${ICHNAEA_VERSION_FILE:-$ROOT/version.json}"
if [ -z "${GEOIP_PATH:-}" ]; then
  GEOIP_PATH="$(dev_geoip)"
  if [ -n "$GEOIP_PATH" ]; then export GEOIP_PATH; else unset GEOIP_PATH; fi
fi
BIND="${ICHNAEA_API_BIND:-127.0.0.1:8000}"
DEV_KEY="${ICHNAEA_DEV_KEY:-dev-local-key}"
PROFILE="${ICHNAEA_PROFILE:-dev}"

log "building (profile $PROFILE)"
(cd "$ROOT" && cargo build --profile "$PROFILE" --bins)
case "$PROFILE" in dev) BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug" ;; *) BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE" ;; esac

log "migrating the database"
"$BIN/ichnaea-admin" migrate --create-database
if "$BIN/ichnaea-admin" api-key show "$DEV_KEY" >/dev/null 2>&1; then
  log "development API key: $DEV_KEY"
else
  "$BIN/ichnaea-admin" api-key create "$DEV_KEY" --maxreq 0 --allow-fallback false
fi

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  log "stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_started_services
}
trap cleanup INT TERM EXIT

"$BIN/ichnaea-api" --bind "$BIND" & PIDS+=($!)
"$BIN/ichnaea-worker" & PIDS+=($!)
"$BIN/ichnaea-scheduler" & PIDS+=($!)

wait_for_port "${BIND%:*}" "${BIND##*:}" "ichnaea-api" 120
cat >&2 <<MSG

  ichnaea-rs is running at http://$BIND  (Ctrl-C stops everything)

  Try:  curl -s http://$BIND/__heartbeat__
  API key for development: $DEV_KEY

MSG
wait -n "${PIDS[@]}" || true
log "a process exited; shutting down the rest"
