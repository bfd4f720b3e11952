# Shared helpers of the project's scripts. Source it; do not run it.
#
# Everything here is idempotent: it checks first and only acts when something is missing.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${ICHNAEA_VAR_DIR:-$ROOT/var}"

MYSQL_HOST="${ICHNAEA_MYSQL_HOST:-127.0.0.1}"
MYSQL_PORT="${ICHNAEA_MYSQL_PORT:-3306}"
REDIS_HOST="${ICHNAEA_REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${ICHNAEA_REDIS_PORT:-6379}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (install sudo or run as root)"
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $* automatically: no apt-get; install them and retry"
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# True when something accepts TCP connections on host:port.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for_port() {
  local host=$1 port=$2 what=$3 tries=${4:-60}
  for _ in $(seq "$tries"); do
    port_open "$host" "$port" && return 0
    sleep 0.5
  done
  die "$what did not come up on $host:$port"
}

ensure_build_tools() {
  if ! command -v cc >/dev/null 2>&1; then apt_install build-essential pkg-config; fi
  if ! command -v curl >/dev/null 2>&1; then apt_install curl ca-certificates; fi
}

# Makes sure cargo is available (installs rustup when missing; rust-toolchain.toml then
# selects the pinned toolchain).
ensure_rust() {
  ensure_build_tools
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  (cd "$ROOT" && cargo --version >/dev/null)
}

# MariaDB (or MySQL): use a running server; else start our own instance with its data
# under var/; install the server package first when it is missing.
STARTED_MYSQL=""
ensure_mysql() {
  if port_open "$MYSQL_HOST" "$MYSQL_PORT"; then
    return 0
  fi
  if [ "$MYSQL_HOST" != "127.0.0.1" ] && [ "$MYSQL_HOST" != "localhost" ]; then
    die "no MySQL server answers on $MYSQL_HOST:$MYSQL_PORT"
  fi
  local server
  server="$(command -v mariadbd || command -v mysqld || true)"
  if [ -z "$server" ] && [ -x /usr/sbin/mariadbd ]; then server=/usr/sbin/mariadbd; fi
  if [ -z "$server" ]; then
    apt_install mariadb-server
    # Package installs may start a system service on the default port.
    if port_open "$MYSQL_HOST" "$MYSQL_PORT"; then return 0; fi
    server="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
  fi
  local data="$VAR/mysql"
  mkdir -p "$data" "$VAR/log"
  if [ ! -d "$data/mysql" ]; then
    log "initialising a MariaDB data directory in $data"
    local install_db
    install_db="$(command -v mariadb-install-db || command -v mysql_install_db)"
    "$install_db" --no-defaults --datadir="$data" --user="$(id -un)" \
      --auth-root-authentication-method=normal --skip-test-db >"$VAR/log/mysql-install.log" 2>&1 \
      || die "mariadb-install-db failed; see $VAR/log/mysql-install.log"
  fi
  log "starting MariaDB on $MYSQL_HOST:$MYSQL_PORT (data in $data)"
  nohup "$server" --no-defaults --datadir="$data" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
    --socket="$data/mysqld.sock" --pid-file="$data/mysqld.pid" --user="$(id -un)" \
    --innodb-strict-mode=ON --sql-mode="NO_ENGINE_SUBSTITUTION,STRICT_TRANS_TABLES" \
    --character-set-server=utf8 --collation-server=utf8_general_ci \
    --log-error="$VAR/log/mysql.log" >/dev/null 2>&1 &
  wait_for_port "$MYSQL_HOST" "$MYSQL_PORT" "MariaDB"
  STARTED_MYSQL="$data/mysqld.pid"
}

# Redis: use a running server; else start our own with its data under var/.
STARTED_REDIS=""
ensure_redis() {
  if port_open "$REDIS_HOST" "$REDIS_PORT"; then
    return 0
  fi
  if [ "$REDIS_HOST" != "127.0.0.1" ] && [ "$REDIS_HOST" != "localhost" ]; then
    die "no Redis server answers on $REDIS_HOST:$REDIS_PORT"
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
    if port_open "$REDIS_HOST" "$REDIS_PORT"; then return 0; fi
  fi
  mkdir -p "$VAR/redis" "$VAR/log"
  log "starting Redis on $REDIS_HOST:$REDIS_PORT (data in $VAR/redis)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$VAR/redis" \
    --appendonly yes --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/log/redis.log"
  wait_for_port "$REDIS_HOST" "$REDIS_PORT" "Redis"
  STARTED_REDIS="$VAR/redis/redis.pid"
}

# moto's S3 server for the tests (PyPI).
ensure_moto() {
  if command -v moto_server >/dev/null 2>&1; then return 0; fi
  if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
  log "installing moto (S3 test server) with pip"
  python3 -m pip install --quiet --user moto flask flask-cors 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages --user moto flask flask-cors
  export PATH="$HOME/.local/bin:$PATH"
  command -v moto_server >/dev/null 2>&1 || die "moto_server is not on PATH after installing moto"
}

# A GeoIP database for local development: MaxMind's public GeoIP2-City test database,
# taken from the maxminddb source package on PyPI (MIT/Apache-2.0). Prints its path, or
# nothing when it cannot be fetched (the service then runs without GeoIP and says so).
dev_geoip() {
  local dir="$VAR/geoip" db="$VAR/geoip/GeoIP2-City-Test.mmdb"
  if [ ! -f "$db" ]; then
    mkdir -p "$dir"
    if ! python3 -m pip --version >/dev/null 2>&1; then
      apt_install python3-pip >/dev/null 2>&1 || true
    fi
    if python3 -m pip download --quiet --no-deps --no-binary :all: maxminddb==3.2.0 -d "$dir/dl" >/dev/null 2>&1; then
      tar -xzf "$dir"/dl/maxminddb-3.2.0.tar.gz -C "$dir/dl" \
        maxminddb-3.2.0/tests/data/test-data/GeoIP2-City-Test.mmdb 2>/dev/null \
        && mv "$dir/dl/maxminddb-3.2.0/tests/data/test-data/GeoIP2-City-Test.mmdb" "$db"
    fi
    rm -rf "$dir/dl"
  fi
  [ -f "$db" ] && echo "$db"
  return 0
}

# Stops the servers this script started (never ones that were already running).
stop_started_services() {
  for pidfile in $STARTED_MYSQL $STARTED_REDIS; do
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
}
