#!/usr/bin/env bash
# Benchmark of `ichnaea-admin load-cells` (docs/benchmarks.md, "Cell import").
#
# Generates a gzip MLS-format file of ROWS cells (default 1 000 000: GSM, UMTS and LTE
# in Germany, unique ids, deterministic), loads it into a fresh database with a release
# build, then loads it a second time (every row unchanged: the idempotent path), and
# prints both timings. Needs MariaDB/MySQL at BENCH_MYSQL_URL (default
# mysql://root@127.0.0.1:3306) and the `mariadb` or `mysql` client; drops and recreates
# the database `ichnaea_bench_cells` (or BENCH_DB).
#
# Prints wall time, the importer's and (when the server is local) the server's CPU
# seconds, and the load average of each load.
#
# Usage: scripts/bench-load-cells.sh [ROWS]   (ADMIN_BIN=path skips the build)
set -euo pipefail

ROWS="${1:-1000000}"
SERVER="${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
DB="${BENCH_DB:-ichnaea_bench_cells}"
WORK="${BENCH_DIR:-/tmp/ichnaea-bench-cells}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$WORK"
FILE="$WORK/cells-$ROWS.csv.gz"

if [ ! -s "$FILE" ]; then
  echo "generating $ROWS rows into $FILE"
  awk -v rows="$ROWS" 'BEGIN {
    srand(42);
    print "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\r";
    split("GSM UMTS LTE", radios, " ");
    for (i = 0; i < rows; i++) {
      radio = radios[i % 3 + 1];
      net = int(i / 3) % 4 + 1;
      area = int(i / 300) % 65000 + 1;
      cell = int(i / 3) + 1;
      lon = 6.5 + rand() * 8; lat = 47.5 + rand() * 7;
      printf "%s,262,%d,%d,%d,%d,%.7f,%.7f,%d,%d,1,%d,%d,\r\n", radio, net, area, cell, i % 500, lon, lat, int(rand() * 5000), int(rand() * 100), 1500000000 + i, 1600000000 + i;
    }
  }' | gzip -5 > "$FILE"
fi

CLIENT=$(command -v mariadb || command -v mysql)
HOSTPORT="${SERVER#mysql://}"; USERPART="${HOSTPORT%@*}"; HOSTPORT="${HOSTPORT#*@}"
"$CLIENT" -u "$USERPART" -h "${HOSTPORT%:*}" -P "${HOSTPORT#*:}" --protocol=tcp \
  -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8"

export DB_READWRITE_URI="$SERVER/$DB"
unset REDIS_URI
cd "$ROOT"
if [ -n "${ADMIN_BIN:-}" ]; then
  ADMIN="$ADMIN_BIN" # a prebuilt binary, e.g. of an older commit for a before/after
else
  nice -n 19 cargo build --release -p ichnaea-admin
  ADMIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/ichnaea-admin"
fi
"$ADMIN" migrate > /dev/null

# The server's CPU seconds (user + system) when it runs on this machine: with the
# machine shared, CPU per row is a steadier number than wall time.
SERVER_PID=$(pgrep -x mariadbd || pgrep -x mysqld || true)
server_cpu() {
  if [ -n "$SERVER_PID" ]; then
    awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$SERVER_PID/stat"
  else
    echo 0
  fi
}
load() {
  local before after
  before=$(server_cpu)
  /usr/bin/time -f "wall %e s, importer CPU %U s user + %S s system, max RSS %M KiB" \
    "$ADMIN" load-cells "$FILE"
  after=$(server_cpu)
  echo "server CPU $(echo "$after - $before" | bc) s; $(uptime)"
}

echo "== first load (all new)"
load
echo "== second load (all unchanged)"
load
