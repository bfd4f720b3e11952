#!/usr/bin/env bash
# Runs the whole test suite: lint (format, clippy, docs, layering), then every unit and
# integration test against real MariaDB and Redis, which it makes sure are up (starting or
# installing them if needed). A missing service fails the run; nothing is skipped.
source "$(dirname "$0")/lib.sh"

ensure_rust
ensure_mysql
ensure_redis

export TEST_MYSQL_URL="${TEST_MYSQL_URL:-mysql://root@$MYSQL_HOST:$MYSQL_PORT}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://$REDIS_HOST:$REDIS_PORT}"
export ICHNAEA_TEST_REQUIRE_SERVICES=1
# S3 tests run moto's server on loopback with fixed test credentials.
ensure_moto
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cd "$ROOT"

log "format"
cargo fmt --all -- --check
log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked --quiet
log "layering"
"$ROOT/scripts/check-layering.sh"
log "migrations"
"$ROOT/scripts/check-migrations.sh"
log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast --profile ci
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi
log "all checks passed"
