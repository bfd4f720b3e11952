# Shared set-up of the benchmark scripts (sourced after lib.sh): release binaries, a
# benchmark database and Redis database of their own, an API key, and an api process.
# Nothing here touches the development database `location` or Redis database 0.

BENCH_PORT="${BENCH_PORT:-8765}"
BENCH_URL="http://127.0.0.1:$BENCH_PORT"
BENCH_KEY="bench"
BENCH_REDIS_DB="${BENCH_REDIS_DB:-13}"
BENCH_LOG_DIR="$VAR/bench"
API_PID=""

# Builds the release binaries and points the configuration at the benchmark stores.
bench_prepare() {  # $1 = database name
  ensure_rust
  ensure_mysql
  ensure_redis
  mkdir -p "$BENCH_LOG_DIR"
  export DB_READWRITE_URI="mysql://root@$MYSQL_HOST:$MYSQL_PORT/$1"
  export DB_READONLY_URI="$DB_READWRITE_URI"
  export REDIS_URI="redis://$REDIS_HOST:$REDIS_PORT/$BENCH_REDIS_DB"
  export LOCAL_DEV_ENV=false SECRET_KEY="bench-$$" LOGGING_LEVEL="${LOGGING_LEVEL:-warn}"
  unset STATSD_HOST SENTRY_DSN
  log "building release binaries"
  (cd "$ROOT" && cargo build --release --locked -p ichnaea-api -p ichnaea-worker -p ichnaea-admin -p ichnaea-bench)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
  log "resetting $1 and Redis database $BENCH_REDIS_DB"
  "$BIN/ichnaea-bench" reset --db "$DB_READWRITE_URI" --redis "$REDIS_URI"
  "$BIN/ichnaea-admin" migrate --create-database >/dev/null
  "$BIN/ichnaea-admin" api-key create "$BENCH_KEY" --maxreq 0 >/dev/null
}

# Starts the api on the benchmark port, logging to $BENCH_LOG_DIR/api.log.
bench_start_api() {
  ICHNAEA_API_BIND="127.0.0.1:$BENCH_PORT" "$BIN/ichnaea-api" >"$BENCH_LOG_DIR/api.log" 2>&1 &
  API_PID=$!
  wait_for_port 127.0.0.1 "$BENCH_PORT" "the api (log: $BENCH_LOG_DIR/api.log)" 60
}

bench_stop_api() {
  if [ -n "$API_PID" ] && kill -0 "$API_PID" 2>/dev/null; then
    kill -TERM "$API_PID" && wait "$API_PID" 2>/dev/null || true
  fi
  API_PID=""
}

# Machine facts for the record.
bench_machine() {
  printf '{"label":"machine","cpus":%s,"cpu":"%s","memory":"%s","date":"%s","commit":"%s"}\n' \
    "$(nproc)" "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')" "$(date -u +%FT%TZ)" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}
