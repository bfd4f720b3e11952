#!/usr/bin/env bash
# The crates are layers (docs/ARCHITECTURE.md): the domain crate must stay free of IO
# crates, and the database crate must not depend on the web framework or the runtime crate.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
forbid() {
  local crate=$1 dep=$2
  if cargo tree -p "$crate" -e normal --prefix none --locked 2>/dev/null | grep -q "^$dep v"; then
    echo "layering violation: $crate depends on $dep" >&2
    fail=1
  fi
}
for dep in diesel diesel-async mysql_async redis deadpool deadpool-redis actix-web tokio object_store cadence sentry reqwest figment maxminddb; do
  forbid ichnaea-core "$dep"
done
for dep in diesel diesel-async mysql_async redis actix-web tokio object_store; do
  forbid ichnaea-geocode "$dep"
done
for dep in actix-web ichnaea-runtime sentry; do
  forbid ichnaea-db "$dep"
done
for dep in diesel diesel-async actix-web ichnaea-db; do
  forbid ichnaea-runtime "$dep"
done
[ "$fail" -eq 0 ] && echo "layering ok"
exit "$fail"
