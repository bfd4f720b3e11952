#!/usr/bin/env bash
# The locate benchmark (docs/benchmarks.md): seeds a database with BENCH_WIFI WiFi access
# points and BENCH_CELLS LTE cells, starts the api with MaxMind's GeoIP test database, and
# for each scenario (IP only, 3 known WiFi, 1 known cell, a mixed client payload) measures
# the maximum rate (closed loop) and then the latency at half that rate (open loop, latency
# from each request's scheduled time). Every answer must be 200. Ends with the api's peak
# resident memory. Prints one JSON line per measurement.
#
# Environment: BENCH_WIFI (1000000), BENCH_CELLS (100000), BENCH_DURATION (15 seconds),
# BENCH_CONNECTIONS (32), BENCH_SCENARIOS ("ip wifi cell mixed"), BENCH_PORT (8765),
# BENCH_REDIS_DB (13). Uses its own database `ichnaea_bench_locate`, which it empties first.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/bench-lib.sh"

WIFI="${BENCH_WIFI:-1000000}"
CELLS="${BENCH_CELLS:-100000}"
DURATION="${BENCH_DURATION:-15}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
SCENARIOS="${BENCH_SCENARIOS:-ip wifi cell mixed}"

GEOIP_PATH="$(dev_geoip)"
[ -n "$GEOIP_PATH" ] || die "the IP scenario needs MaxMind's test database (see README)"
export GEOIP_PATH
bench_prepare ichnaea_bench_locate
trap bench_stop_api EXIT
bench_machine
log "seeding $WIFI WiFi access points and $CELLS cells"
"$BIN/ichnaea-bench" seed --db "$DB_READWRITE_URI" --wifi "$WIFI" --cells "$CELLS"
bench_start_api
for scenario in $SCENARIOS; do
  common=(--url "$BENCH_URL" --key "$BENCH_KEY" --scenario "$scenario" --wifi "$WIFI" --cells "$CELLS")
  log "$scenario: warm-up"
  "$BIN/ichnaea-bench" locate "${common[@]}" --duration 3 --connections "$CONNECTIONS" >/dev/null
  log "$scenario: maximum rate"
  max="$("$BIN/ichnaea-bench" locate "${common[@]}" --duration "$DURATION" --connections "$CONNECTIONS")"
  echo "$max"
  half="$(printf '%s' "$max" | sed -n 's/.*"req_per_s":\([0-9.]*\).*/\1/p' | awk '{printf "%d", $1 / 2}')"
  log "$scenario: latency at half that rate ($half/s)"
  "$BIN/ichnaea-bench" locate "${common[@]}" --duration "$DURATION" --connections "$CONNECTIONS" --rate "$half" \
    | sed 's/"label":"\([a-z]*\)"/"label":"\1 at half rate"/'
done
printf '{"label":"api memory","peak_rss_kib":%s,"rss_kib":%s}\n' \
  "$(awk '/^VmHWM/ {print $2}' "/proc/$API_PID/status")" "$(awk '/^VmRSS/ {print $2}' "/proc/$API_PID/status")"
