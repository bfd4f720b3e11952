#!/usr/bin/env bash
# Benchmark of `ichnaea-admin load-cells` (docs/benchmarks.md, "Cell import").
#
# Generates a gzip MLS-format file of ROWS cells (default 1 000 000: GSM, UMTS and LTE
# in Germany, unique ids, deterministic), loads it into a fresh database with a release
# build, then loads it a second time (every row unchanged: the idempotent path), and
# prints both timings. Needs MariaDB/MySQL at BENCH_MYSQL_URL (default
# mysql://root@127.0.0.1:3306) and the `mariadb` or `mysql` client; drops and recreates
# the database `ichnaea_bench_cells`.
#
# Usage: scripts/bench-load-cells.sh [ROWS]
set -euo pipefail

ROWS="${1:-1000000}"
SERVER="${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
DB=ichnaea_bench_cells
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
nice -n 19 cargo build --release -p ichnaea-admin
ADMIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/ichnaea-admin"
"$ADMIN" migrate > /dev/null

echo "== first load (all new)"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$ADMIN" load-cells "$FILE"
echo "== second load (all unchanged)"
/usr/bin/time -f "wall %e s, max RSS %M KiB" "$ADMIN" load-cells "$FILE"
