#!/usr/bin/env bash
# Benchmarks ichnaea-tiles on a synthetic datamap: CELLS grid cells (default 1 000 000) in
# 2 000 dense blocks of 20 × 25 cells spread over the world, modified 0–399 days ago. It
# fills a scratch database (BENCH_DB, default ichnaea_bench_tiles, dropped at the end
# unless KEEP_DB=1), then renders into a fresh local directory twice under
# /usr/bin/time -v: the first run writes every tile, the second finds nothing changed.
# Prints wall time, tiles, tiles/s and peak RSS of each run.
#
#   scripts/bench-tiles.sh                 # release build
#   PROFILE=dev CELLS=200000 scripts/bench-tiles.sh
#   CONCURRENCY=2 scripts/bench-tiles.sh
source "$(dirname "$0")/lib.sh"

CELLS="${CELLS:-1000000}"
DB="${BENCH_DB:-ichnaea_bench_tiles}"
PROFILE="${PROFILE:-release}"
CONCURRENCY="${CONCURRENCY:-}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

ensure_mysql
command -v /usr/bin/time >/dev/null || apt_install time
mysql_q() { mysql -uroot -h"$MYSQL_HOST" -P"$MYSQL_PORT" "$@"; }

log "building ichnaea-tiles ($PROFILE)"
(cd "$ROOT" && nice -n 19 cargo build --locked --profile "$PROFILE" -p ichnaea-tiles)
case "$PROFILE" in dev) BIN="$TARGET/debug/ichnaea-tiles" ;; *) BIN="$TARGET/$PROFILE/ichnaea-tiles" ;; esac

log "filling $DB with $CELLS grid cells"
mysql_q -e "DROP DATABASE IF EXISTS \`$DB\`; CREATE DATABASE \`$DB\` CHARACTER SET utf8"
for shard in ne nw se sw; do
  case "$shard" in
    ne) cond="lat >= 36000 AND lon >= 5000" ;;
    nw) cond="lat >= 36000 AND lon < 5000" ;;
    se) cond="lat < 36000 AND lon >= 5000" ;;
    sw) cond="lat < 36000 AND lon < 5000" ;;
  esac
  # Same layout as the migrations' datamap tables.
  mysql_q "$DB" -e "
    CREATE TABLE datamap_$shard (
      grid binary(8) NOT NULL, created date DEFAULT NULL, modified date DEFAULT NULL,
      PRIMARY KEY (grid), KEY datamap_${shard}_created_idx (created),
      KEY datamap_${shard}_modified_idx (modified)) ENGINE=InnoDB;
    INSERT IGNORE INTO datamap_$shard (grid, created, modified)
    SELECT CONCAT(UNHEX(LPAD(HEX(lat + 90000), 8, '0')), UNHEX(LPAD(HEX(lon + 180000), 8, '0'))), d, d
    FROM (
      SELECT -55000 + (s % 2000) * 7907 % 125000 + (s DIV 2000) DIV 25 AS lat,
             -170000 + (s % 2000) * 104729 % 340000 + (s DIV 2000) % 25 AS lon,
             CURDATE() - INTERVAL (s % 400) DAY AS d
      FROM (SELECT CAST(seq AS SIGNED) AS s FROM seq_0_to_$((CELLS - 1))) q
    ) p WHERE $cond"
done
rows=$(mysql_q -N "$DB" -e "SELECT (SELECT COUNT(*) FROM datamap_ne) + (SELECT COUNT(*) FROM datamap_nw) + (SELECT COUNT(*) FROM datamap_se) + (SELECT COUNT(*) FROM datamap_sw)")
log "$rows rows"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"; [ "${KEEP_DB:-0}" = 1 ] || mysql_q -e "DROP DATABASE IF EXISTS \`$DB\`"' EXIT
args=(--output "$OUT" --no-progress)
[ -n "$CONCURRENCY" ] && args+=(--concurrency "$CONCURRENCY")

for run in first second; do
  log "$run run"
  DB_READONLY_URI="mysql://root@$MYSQL_HOST:$MYSQL_PORT/$DB" LOGGING_LEVEL=INFO \
    /usr/bin/time -v -o "$OUT/time.txt" nice -n 19 "$BIN" "${args[@]}" > "$OUT/log.json"
  wall=$(grep 'Elapsed (wall clock)' "$OUT/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$OUT/time.txt" | awk '{print $NF}')
  cpu=$(grep 'Percent of CPU' "$OUT/time.txt" | awk '{print $NF}')
  line=$(grep canonical-log-line "$OUT/log.json" | tail -n 1)
  python3 - "$line" "$wall" "$rss" "$cpu" "$run" <<'PY'
import json, sys
line, wall, rss, cpu, run = sys.argv[1:]
f = json.loads(line)["Fields"]
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
tiles = f["tile_count"]
print(f"{run}: rows {f['row_count']}, points {f['point_count']}, tiles {tiles} "
      f"(new {f['tile_new']}, changed {f['tile_changed']}, unchanged {f['tile_unchanged']}, "
      f"deleted {f['tile_deleted']}); wall {secs:.1f} s, {tiles / secs:.0f} tiles/s, "
      f"{f['row_count'] / secs:.0f} cells/s, CPU {cpu}, peak RSS {int(rss) / 1024:.0f} MiB")
PY
done
du -sh "$OUT/tiles" | awk '{print "tiles on disk: " $1}'
