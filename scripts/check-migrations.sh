#!/usr/bin/env bash
# Migrations after the baseline hold exactly one SQL statement each (MySQL commits DDL
# implicitly, so a multi-statement migration can fail half applied), and every migration
# has an up.sql and a down.sql.
set -euo pipefail
cd "$(dirname "$0")/../migrations"
fail=0
for dir in */; do
  dir=${dir%/}
  for f in up.sql down.sql; do
    [ -f "$dir/$f" ] || { echo "$dir: missing $f" >&2; fail=1; }
  done
  case "$dir" in *_baseline) continue ;; esac
  n=$(grep -v '^\s*--' "$dir/up.sql" | tr -d '\n' | grep -o ';' | wc -l)
  if [ "$n" -ne 1 ]; then
    echo "$dir/up.sql: $n statements; migrations after the baseline must hold exactly one" >&2
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "migrations ok"
exit "$fail"
